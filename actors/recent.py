"""Deduplicating platform events: `RecentKeys` (bounded, in memory) and `SeenMessages` (the
same, backed by the store's `chat_seen` table so a restarted actor remembers).

Reconnects replay recent messages (Twitch, Kick and YouTube all may); remembering the last N
ids delivered keeps each message processed once without memory growing with uptime.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable
from datetime import datetime
from typing import Any

import apsw

from actors._errors import ActorFailed, CallTimeout
from actors._ref import ActorRef
from actors.store import Read, write
from state.streams import mark_chat_seen, prune_chat_seen
from state.timeutil import from_datetime


class RecentKeys:
    """The last `size` keys added (the oldest is forgotten first)."""

    __slots__ = ("_keys", "_order", "_size")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        self._order: deque[Hashable] = deque()
        self._keys: set[Hashable] = set()
        self._size = size

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: Hashable) -> None:
        """Remember `key`, forgetting the oldest beyond the size."""
        if key in self._keys:
            return
        self._keys.add(key)
        self._order.append(key)
        if len(self._order) > self._size:
            self._keys.discard(self._order.popleft())


class SeenMessages:
    """Which chat messages were already delivered: a bounded in-memory set, backed by the
    store's `chat_seen` table when a store is given (so a restarted actor remembers).

    Keys are `<creator_id>:<message_id>` under the platform, so two creators reading the same
    chat (a collab) each get every message. Store failures are logged and tolerated: the
    memory set still dedupes re-polls.
    """

    def __init__(
        self,
        *,
        platform: str,
        creator_id: str,
        store: Callable[[], ActorRef] | None,
        size: int = 4096,
        keep_seconds: float = 2 * 86_400,
        log: Any = None,
    ) -> None:
        self.platform = platform
        self.creator_id = creator_id
        self._store = store
        self._ids = RecentKeys(size)
        self.keep_seconds = keep_seconds
        self.log = log
        self.store_errors = 0
        self._writes = 0
        self._size = size
        self._preloaded = False

    async def preload(self, now: datetime) -> int:
        """Load the ids this instance's keys marked within `keep_seconds` from the store.

        Afterwards, as long as nothing was evicted from memory (fewer ids than `size`),
        `unseen` answers from memory alone: this object is the only writer of its keys, so
        the store holds nothing memory lacks. Returns how many ids were loaded (0 without a
        store, or when the store does not answer: `unseen` then keeps asking it).
        """
        if self._store is None:
            return 0
        prefix = self._key("")
        platform = self.platform
        since = from_datetime(now) - int(self.keep_seconds * 1000)

        def recent(conn: apsw.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT message_id FROM chat_seen WHERE platform = ? AND message_id >= ? "
                "AND message_id < ? AND seen_at >= ? ORDER BY seen_at",
                (platform, prefix, prefix + "\uffff", since),
            ).fetchall()
            return [row[0][len(prefix) :] for row in rows]

        try:
            ids = await self._store().call(Read(fn=recent), timeout=30)
        except (ActorFailed, CallTimeout) as exc:
            self._store_failed("read", exc)
            return 0
        for message_id in ids:
            self._remember(message_id)
        self._preloaded = True
        return len(ids)

    @property
    def _memory_complete(self) -> bool:
        return self._preloaded and len(self._ids) < self._size

    def _key(self, message_id: str) -> str:
        return f"{self.creator_id}:{message_id}"

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._ids

    def _remember(self, message_id: str) -> None:
        self._ids.add(message_id)

    async def unseen(self, message_ids: Iterable[str]) -> set[str]:
        """The ids among `message_ids` that were never delivered."""
        fresh = {m for m in message_ids if m not in self._ids}
        if not fresh or self._store is None or self._memory_complete:
            return fresh
        keys = {self._key(m): m for m in fresh}
        platform = self.platform

        def known(conn: apsw.Connection) -> set[str]:
            found = set()
            for key in keys:
                row = conn.execute(
                    "SELECT 1 FROM chat_seen WHERE platform = ? AND message_id = ?",
                    (platform, key),
                ).fetchone()
                if row is not None:
                    found.add(key)
            return found

        try:
            seen = await self._store().call(Read(fn=known), timeout=30)
        except (ActorFailed, CallTimeout) as exc:
            self._store_failed("read", exc)
            return fresh
        for key in seen:
            self._remember(keys[key])
        return {m for k, m in keys.items() if k not in seen}

    async def mark(self, message_ids: Iterable[str], now: datetime) -> None:
        """Remember delivered ids (in memory, then in the store in one transaction)."""
        ids = [m for m in message_ids]
        for message_id in ids:
            self._remember(message_id)
        if not ids or self._store is None:
            return
        at = from_datetime(now)
        keys = [self._key(m) for m in ids]
        platform = self.platform
        self._writes += 1
        prune = self._writes % 100 == 1  # now and then, forget ids older than keep_seconds
        older_than = max(0, at - int(self.keep_seconds * 1000))

        def persist(conn: apsw.Connection) -> None:
            for key in keys:
                mark_chat_seen(conn, platform=platform, message_id=key, now=at)
            if prune:
                prune_chat_seen(conn, older_than=older_than)

        try:
            await write(self._store(), persist, topic="chat_seen")
        except (ActorFailed, CallTimeout, Exception) as exc:  # never fatal: memory still dedupes
            self._store_failed("write", exc)

    def _store_failed(self, what: str, exc: BaseException) -> None:
        self.store_errors += 1
        if self.log is not None:
            self.log.warning("chat dedupe store unavailable", op=what, error=type(exc).__name__)
