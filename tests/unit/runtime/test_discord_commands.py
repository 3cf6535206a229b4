"""The Discord `/status` answer: the same typed health values as `GET /status`."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs

from actors import TreeRow
from actors.connection import ConnectionHealth, ConnectionState
from config import loads_config
from runtime.discord_commands import RuntimeControl

AT = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


class Tree:
    """Stands in for the root supervisor: `tree()` rows as `Supervisor.tree()` gives them."""

    name = "root"

    def __init__(self, rows: list[TreeRow]) -> None:
        self.rows = rows

    def tree(self) -> list[TreeRow]:
        return self.rows


def row(path: str, health: ConnectionHealth | None = None) -> TreeRow:
    return TreeRow(path=path, kind="actor", state="running", health=health)


async def test_status_names_degraded_components_and_why() -> None:
    discord = ConnectionHealth(
        component="discord",
        state=ConnectionState.FAILED,
        since=AT,
        last_error="Discord refused the bot: authentication failed (bad token) (close code 4004)",
    )
    paused = ConnectionHealth(
        component="youtube", state=ConnectionState.PAUSED, since=AT, paused_reason="quota"
    )
    rows = [row("root/store"), row("root/discord", discord), row("root/creators/c/youtube", paused)]
    control = RuntimeControl(Tree(rows), loads_config(""))  # type: ignore[arg-type]
    answer = await control.status()
    assert answer.splitlines() == [
        "degraded: 1 component(s) not working",
        "- root/discord: failed: Discord refused the bot: authentication failed (bad token) "
        "(close code 4004)",
    ]
    rows[1] = attrs.evolve(
        rows[1],
        health=ConnectionHealth(component="discord", state=ConnectionState.CONNECTED, since=AT),
    )
    assert await control.status() == "ok: every component is connected or running"
