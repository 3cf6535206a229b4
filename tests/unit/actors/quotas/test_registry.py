"""QuotaRegistry: usage committed before the answer, restored after a restart."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import trio

from actors.publisher import quota_rows
from actors.quotas.registry import Charge, PollingInterval, QuotaRegistry
from actors.store import StateStore
from actors.youtube.livechat import QUOTA_COSTS
from config.loading import loads_config
from supervisors import ChildSpec, Supervisor

CONFIG = """
[[creators]]
id = "daniel"
[creators.youtube]
video_id = "abc123"
api_key = { env = "YT_KEY" }
daily_quota = 50
"""

NOON = datetime(2026, 11, 21, 20, 0, tzinfo=UTC)  # noon in Los Angeles


def tree(tmp_path: Path) -> Supervisor:
    config = loads_config(CONFIG, environ={"YT_KEY": "k" * 39})
    children = [
        ChildSpec("store", lambda: StateStore(tmp_path / "db.sqlite3")),
        ChildSpec(
            "quotas",
            lambda: QuotaRegistry(
                config.creators,
                costs={"youtube": QUOTA_COSTS},
                store=lambda: root.lookup("store"),
                clock=lambda: NOON,
            ),
        ),
    ]
    root = Supervisor("root", children)
    return root


async def test_charges_are_refused_past_the_cap_and_survive_a_restart(tmp_path: Path) -> None:
    root = tree(tmp_path)
    async with trio.open_nursery() as nursery:
        await nursery.start(root.run)
        quotas = root.ref("quotas")
        charge = Charge(creator_id="daniel", platform="youtube", method="liveChatMessages.list")
        decisions = [await quotas.call(charge) for _ in range(11)]
        assert [d.allowed for d in decisions] == [True] * 10 + [False]
        assert decisions[9].status == "exhausted" and decisions[-1].remaining == 0
        # Restart the registry: the day's usage comes back from the store.
        await root.restart_child("quotas")
        assert not (await quotas.call(charge)).allowed
        rows = {r.path: r for r in root.tree()}
        (view,) = quota_rows([rows["root/quotas"]])
        assert (view.used, view.max, view.creator_id) == (50, 50, "daniel")
        assert view.reset_at == datetime(2026, 11, 21, 8, 0, tzinfo=UTC)  # window start
        interval = await quotas.call(
            PollingInterval(
                creator_id="daniel",
                platform="youtube",
                method="liveChatMessages.list",
                minimum=5.0,
            )
        )
        assert interval == 3600.0  # nothing left to poll with until the reset
        await root.stop()


async def test_an_untracked_budget_is_refused_without_crashing_the_registry(
    tmp_path: Path,
) -> None:
    root = tree(tmp_path)
    async with trio.open_nursery() as nursery:
        await nursery.start(root.run)
        quotas = root.ref("quotas")
        decision = await quotas.call(Charge(creator_id="nobody", platform="youtube", method="x"))
        assert not decision.allowed
        assert root.which_children()[1].restarts == 0
        await root.stop()
