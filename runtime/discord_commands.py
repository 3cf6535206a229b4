"""The runtime's answers to Discord slash commands (`actors.discord.commands.ControlPlane`).

Every command acts through the same refs and messages as the rest of the runtime: the tree
for status and restarts, the store for polls and clip requests, the live monitor for
watches. Replies are short plain text for a chat message.
"""

from __future__ import annotations

import time
from typing import Any

import apsw

from actors import TreeRow
from actors.publisher import quota_rows
from actors.store import Read, write
from actors.watch import WatchAdd, WatchList, WatchRemove
from config.models import Config
from exports.health import status_report
from state import clips, creators, polls
from supervisors import Supervisor

MAX_LINES = 25


def _lines(rows: list[str]) -> str:
    extra = len(rows) - MAX_LINES
    shown = rows[:MAX_LINES] + ([f"... and {extra} more"] if extra > 0 else [])
    return "\n".join(shown) if shown else "(none)"


class RuntimeControl:
    """`ControlPlane` over a running tree."""

    def __init__(self, root: Supervisor, config: Config) -> None:
        self._root = root
        self._config = config

    def _tree(self) -> list[TreeRow]:
        return self._root.tree()

    async def status(self) -> str:
        # The same report as GET /status: connection health, not just "the actor runs".
        return status_report(self._tree()).summary()

    async def actors(self) -> str:
        return _lines([f"{r.state:<10} {r.path} (restarts {r.restarts})" for r in self._tree()])

    async def restart(self, path: str) -> str:
        path = path.strip("/")
        if path.startswith(self._root.name + "/"):
            path = path[len(self._root.name) + 1 :]
        parent, _, child = path.rpartition("/")
        try:
            await self._root.find_supervisor(parent).restart_child(child)
        except KeyError:
            return f"No child at {path!r}."
        except RuntimeError as exc:
            return f"Cannot restart {path}: {exc}"
        return f"Restarted {path}."

    async def creators(self) -> str:
        return _lines(
            [
                f"{c.id} ({c.display_name}): {'enabled' if c.enabled else 'disabled'}; "
                + ", ".join(sorted(c.sources()))
                for c in self._config.creators
            ]
        )

    async def quotas(self) -> str:
        views = quota_rows(self._tree())
        return _lines([f"{q.creator_id}/{q.platform}: {q.used}/{q.max} used" for q in views])

    def _creator(self, creator_id: str) -> Any:
        try:
            creator = self._config.creator(creator_id)
        except KeyError:
            return None
        return creator if creator.enabled else None

    async def clip(self, creator: str, seconds: int | None) -> str:
        found = self._creator(creator)
        if found is None:
            return f"No enabled creator {creator!r}."
        duration = float(seconds or 30)
        if not 5 <= duration <= 180:
            return "A clip lasts 5 to 180 seconds."

        def request(conn: apsw.Connection) -> clips.Clip:
            return clips.create_clip(
                conn,
                creator_id=found.id,
                title=f"{found.display_name} clip",
                platform="discord",
                duration_seconds=duration,
                requested_by="discord",
                source="discord",
            )

        (clip,) = await write(self._root.lookup("store"), request, topic="clips")
        return f"Clip {clip.clip_id} requested ({int(duration)} s)."

    async def poll(
        self, creator: str, action: str, question: str | None, options: tuple[str, ...]
    ) -> str:
        found = self._creator(creator)
        if found is None:
            return f"No enabled creator {creator!r}."
        store = self._root.lookup("store")
        now = int(time.time() * 1000)
        if action == "open":
            if not question or not 2 <= len(options) <= 10:
                return "A poll needs a question and 2 to 10 options."

            def open_(conn: apsw.Connection) -> None:
                for current in polls.list_polls(conn, creator_id=found.id, state="open"):
                    polls.close_poll(conn, poll_id=current.poll.poll_id, now=now)
                polls.open_poll(
                    conn,
                    creator_id=found.id,
                    question=question,
                    options=options,
                    now=now,
                )

            await write(store, open_, topic="polls")
            return f"Poll opened for {found.display_name}: {question}"

        def close(conn: apsw.Connection) -> polls.PollResults | None:
            current = polls.list_polls(conn, creator_id=found.id, state="open")
            if not current:
                return None
            return polls.close_poll(conn, poll_id=current[0].poll.poll_id, now=now)

        (closed,) = await write(store, close, topic="polls")
        if closed is None:
            return "There is no open poll."
        results = ", ".join(f"{o.label}: {o.votes}" for o in closed.options)
        return f"Poll closed ({closed.total_votes} votes): {results}"

    async def watch_add(self, kind: str, value: str) -> str:
        added = await self._watch(WatchAdd(kind=kind, value=value))
        if added is None:
            return f"{value!r} is not a valid {kind} value."
        return f"Now watching {kind} {value}." if added else f"Already watching {kind} {value}."

    async def watch_remove(self, kind: str, value: str) -> str:
        removed = await self._watch(WatchRemove(kind=kind, value=value))
        return f"Stopped watching {kind} {value}." if removed else f"{kind} {value} is not watched."

    async def watch_list(self) -> str:
        watches = await self._watch(WatchList())
        if not isinstance(watches, dict):
            return "Watching is not configured."
        return _lines([f"{kind}: {', '.join(v)}" for kind, v in watches.items() if v])

    async def _watch(self, message: object) -> Any:
        try:
            monitor = self._root.lookup("watch")
        except KeyError:
            return "Watching is not configured."
        return await monitor.call(message, timeout=10)

    async def set_notify_channel(self, guild_id: str, channel_id: str) -> str:
        def remember(conn: apsw.Connection) -> None:
            creators.set_meta(conn, f"discord.notify_channel.{guild_id}", channel_id)

        await write(self._root.lookup("store"), remember, topic="discord")
        return f"Go-live notifications for this server will be posted in <#{channel_id}>."

    async def notify_channel(self, guild_id: str) -> str | None:
        """The channel `/notify channel` chose for a guild, if any."""
        key = f"discord.notify_channel.{guild_id}"
        return await self._root.lookup("store").call(
            Read(fn=lambda conn: creators.get_meta(conn, key)), timeout=10
        )
