"""Call deadlines for a whole tree, kept in one heap and watched by one task.

A cancel scope per call costs about a third of a call round trip; a heap entry costs a
fraction of that. Replies that arrive first leave their entry behind, dropped lazily when
it reaches the top or when the heap is compacted, so memory stays bounded.
"""

from __future__ import annotations

import heapq
import itertools
import math

import outcome
import trio

from actors._errors import ActorFailed, CallTimeout
from actors._mailbox import Call

_COMPACT_FLOOR = 4096


class CallTimer:
    """Fails calls whose deadline passed with `CallTimeout`."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Call, str, float]] = []
        self._order = itertools.count()
        self._scope: trio.CancelScope | None = None
        self._wake_at = math.inf
        self._compact_at = _COMPACT_FLOOR
        self.closed = False
        self.expired = 0

    def add(self, call: Call, path: str, timeout: float) -> None:
        """Watch `call`: unless resolved within `timeout` s, its caller gets CallTimeout."""
        deadline = trio.current_time() + timeout
        heap = self._heap
        heapq.heappush(heap, (deadline, next(self._order), call, path, timeout))
        if deadline < self._wake_at and self._scope is not None:
            self._wake_at = deadline
            self._scope.deadline = deadline
        if len(heap) >= self._compact_at:
            self._compact()

    def _compact(self) -> None:
        self._heap = [entry for entry in self._heap if not entry[2].resolved]
        heapq.heapify(self._heap)
        self._compact_at = max(_COMPACT_FLOOR, 2 * len(self._heap))

    async def run(self) -> None:
        """The watching task; runs until cancelled, then fails whatever is still waiting."""
        try:
            while True:
                heap = self._heap
                now = trio.current_time()
                while heap and (heap[0][2].resolved or heap[0][0] <= now):
                    _, _, call, path, timeout = heapq.heappop(heap)
                    if not call.resolved:
                        self.expired += 1
                        call.resolve(outcome.Error(CallTimeout(path, timeout)))
                self._wake_at = heap[0][0] if heap else math.inf
                with trio.CancelScope(deadline=self._wake_at) as self._scope:
                    await trio.sleep_forever()
                self._scope = None
        finally:
            self.closed = True
            for _, _, call, path, _ in self._heap:
                call.resolve(outcome.Error(ActorFailed(path, "actor stopped for good")))
            self._heap.clear()
