"""Deduplicating platform events: `RecentKeys` (bounded, in memory) and `SeenMessages` (the
same, backed by the store's `seen_messages` table so a restart remembers).

Reconnects replay recent messages (Twitch, Kick and YouTube all may), and so does a restart;
remembering the last N ids keeps each message processed once without memory growing with
uptime.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from datetime import datetime
from typing import Any

from actors._errors import ActorFailed, CallTimeout
from actors._ref import ActorRef
from actors.store import Read, write
from state.commands import MarkSeen, RecentSeen, SeenAmong
from state.seen import ID_KEY_BYTES, id_key
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


class RecentIds:
    """The last `size` distinct message ids added (the oldest is forgotten first), held
    compactly: each id as its key (`state.seen.id_key`, its 64-bit `hash`), packed into a ring
    of `size` eight-byte slots (the oldest overwritten first) instead of a set and a queue of
    string objects. An id then costs 8 bytes whatever its length, and membership is one C
    search of the ring's bytes for the packed hash (at a slot's start). The search still
    grows with the window, but over 8 bytes an id in one call instead of each id's text in a
    Python loop over chunks: a full window of 256 ids took 2.4 us an id against 4.1.

    Two different ids are taken for one with a probability of 2**-64 per pair: a string's
    hash is SipHash under a key drawn at each start of the process, so no chat line can aim
    at a collision."""

    __slots__ = ("_next", "_ring", "_size")

    #: Bytes per id in the ring.
    SLOT = ID_KEY_BYTES

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        self._ring = bytearray()  # grows to `size` slots, then they are overwritten in turn
        self._next = 0  # the offset of the oldest slot once the ring is full
        self._size = size

    def _holds(self, key: bytes) -> bool:
        ring, slot = self._ring, self.SLOT
        at = ring.find(key)
        while at != -1 and at % slot:
            at = ring.find(key, at + 1)  # found across two slots: not an id of the ring
        return at != -1

    def __contains__(self, message_id: object) -> bool:
        if not isinstance(message_id, str):
            return False
        return self._holds(id_key(message_id))

    def __len__(self) -> int:
        return len(self._ring) // self.SLOT

    def add(self, message_id: str) -> bool:
        """Remember `message_id`, forgetting the oldest beyond the size; False when it is
        remembered already (nothing changes then)."""
        return self._add_key(id_key(message_id))

    def add_keys(self, keys: bytes) -> None:
        """Remember the ids whose keys `keys` packs (`state.seen.recent_seen_keys`), oldest
        first, as `add` would each."""
        slot = self.SLOT
        if len(keys) % slot:
            raise ValueError(f"{len(keys)} bytes are no whole number of {slot}-byte keys")
        for at in range(0, len(keys), slot):
            self._add_key(keys[at : at + slot])

    def _add_key(self, key: bytes) -> bool:
        if self._holds(key):
            return False
        ring = self._ring
        full = self._size * self.SLOT
        if len(ring) < full:
            ring += key
        else:
            at = self._next
            ring[at : at + self.SLOT] = key
            self._next = (at + self.SLOT) % full
        return True


class SeenMessages:
    """Which messages of one creator were already processed: the last `size` ids in memory,
    backed by the store's `seen_messages` table (scope: the creator) so a restart remembers.

    Two ways to use it:

    * On a hot path (the trigger engine): `first_time` is an in-memory check that also queues
      the id; `persist_op` hands the queued ids over as one store operation, to ride in a
      write the caller makes anyway (group commit); `restore_op` and `load` refill the memory
      at start.
    * From an actor that asks the store itself (YouTube, Rumble): `unseen` and `mark`, for
      the `platform` given at construction.

    Retention is bounded: in memory, the newest `size` per platform; in the store, ids older
    than `keep_seconds` and beyond the creator's newest `size` are pruned now and then. Store
    failures are logged and tolerated (counted in `store_errors`): the memory set still
    dedupes.
    """

    # In slots: one of these per creator (a thousand), each dict of its own ~300 bytes.
    __slots__ = (
        "_ids",
        "_persists",
        "_preloaded",
        "_queued",
        "_store",
        "creator_id",
        "keep_seconds",
        "log",
        "platform",
        "size",
        "store_errors",
    )

    #: One persist in this many also prunes (a few deletes, through an index).
    PRUNE_EVERY = 100

    def __init__(
        self,
        *,
        creator_id: str,
        store: Callable[[], ActorRef] | None,
        platform: str | None = None,
        size: int = 4096,
        keep_seconds: float = 2 * 86_400,
        log: Any = None,
    ) -> None:
        self.platform = platform
        self.creator_id = creator_id
        self.size = size
        self._store = store
        # One window per platform, keyed by the id itself: no key object per message.
        self._ids: dict[str, RecentIds] = {}
        self._queued: list[tuple[str, str]] = []
        self.keep_seconds = keep_seconds
        self.log = log
        self.store_errors = 0
        self._persists = 0
        self._preloaded = False

    async def preload(self, now: datetime) -> int:
        """Load the scope's newest remembered ids of this platform (at most `size`).

        Afterwards, as long as memory holds fewer ids than `size` (nothing was evicted),
        `unseen` answers from memory alone: this object is the only writer of its scope, so
        the store holds nothing memory lacks. Returns how many ids were loaded (0 without a
        store, or when the store does not answer: `unseen` then keeps asking it).
        """
        if self._store is None:
            return 0
        platform = self._platform()
        query = RecentSeen(scope=self.creator_id, limit=self.size, platform=platform)
        try:
            keys = await self._store().call(Read(fn=query), timeout=30)
        except (ActorFailed, CallTimeout) as exc:
            self._store_failed("read", exc)
            return 0
        loaded = self.load(keys)
        self._preloaded = True
        return loaded

    @property
    def _memory_complete(self) -> bool:
        return self._preloaded and len(self._window(self._platform())) < self.size

    def __len__(self) -> int:
        return sum(len(ids) for ids in self._ids.values())

    def _window(self, platform: str) -> RecentIds:
        window = self._ids.get(platform)
        if window is None:
            window = self._ids[platform] = RecentIds(self.size)
        return window

    # ------------------------------------------------------------ in memory, synchronous

    def first_time(self, platform: str, message_id: str) -> bool:
        """True the first time `(platform, message_id)` is seen (then queued to be persisted);
        False for a duplicate. An empty id names nothing: always new, never stored."""
        if not message_id:
            return True
        window = self._ids.get(platform) or self._window(platform)
        if not window.add(message_id):
            return False
        self._queued.append((platform, message_id))
        return True

    @property
    def queued(self) -> int:
        """Ids seen but not yet handed over by `persist_op`."""
        return len(self._queued)

    def persist_op(self, now_ms: int) -> MarkSeen | None:
        """The queued ids as one store command (None when nothing is queued); now and then
        it also prunes. The caller puts it in a `Write` it makes anyway."""
        if not self._queued:
            return None
        keys, self._queued = self._queued, []
        return self._command(keys, now_ms)

    def _command(self, keys: list[tuple[str, str]], now_ms: int) -> MarkSeen:
        self._persists += 1
        prune = self._persists % self.PRUNE_EVERY == 1
        return MarkSeen(
            scope=self.creator_id,
            keys=tuple(keys),
            now=now_ms,
            prune_before=max(0, now_ms - int(self.keep_seconds * 1000)) if prune else None,
            keep_last=self.size if prune else None,
        )

    def restore_op(self) -> RecentSeen:
        """A read of the creator's newest remembered ids, for `load`."""
        return RecentSeen(scope=self.creator_id, limit=self.size)

    def load(self, keys: Mapping[str, bytes]) -> int:
        """Remember the ids read by `restore_op` (already persisted): their keys packed per
        platform. Returns how many ids were read."""
        for platform, packed in keys.items():
            self._window(platform).add_keys(packed)
        return sum(len(packed) for packed in keys.values()) // ID_KEY_BYTES

    # ------------------------------------------------------- with the store, asynchronous

    def _platform(self) -> str:
        if self.platform is None:
            raise TypeError("unseen/mark need the platform given at construction")
        return self.platform

    async def unseen(self, message_ids: Iterable[str]) -> set[str]:
        """The ids among `message_ids` that were never delivered (memory, then the store)."""
        platform = self._platform()
        window = self._window(platform)
        fresh = {m for m in message_ids if m not in window}
        if not fresh or self._store is None or self._memory_complete:
            return fresh
        scope = self.creator_id
        try:
            query = SeenAmong(scope=scope, platform=platform, message_ids=frozenset(fresh))
            seen = await self._store().call(Read(fn=query), timeout=30)
        except (ActorFailed, CallTimeout) as exc:
            self._store_failed("read", exc)
            return fresh
        for message_id in seen:
            window.add(message_id)
        return fresh - seen

    async def mark(self, message_ids: Iterable[str], now: datetime) -> None:
        """Remember delivered ids (in memory, then in the store in one transaction)."""
        platform = self._platform()
        keys = [(platform, m) for m in message_ids]
        window = self._window(platform)
        for _platform, message_id in keys:
            window.add(message_id)
        if not keys or self._store is None:
            return
        try:
            await write(self._store(), self._command(keys, from_datetime(now)), topic="chat_seen")
        except Exception as exc:  # never fatal: memory still dedupes
            self._store_failed("write", exc)

    def _store_failed(self, what: str, exc: BaseException) -> None:
        self.store_errors += 1
        if self.log is not None:
            self.log.warning("chat dedupe store unavailable", op=what, error=type(exc).__name__)
