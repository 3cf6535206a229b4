"""`RecentKeys`: a bounded set of recently seen keys, for deduplicating platform events.

Reconnects replay recent messages (Twitch, Kick and YouTube all may); remembering the last N
ids delivered keeps each message processed once without memory growing with uptime.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable


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
