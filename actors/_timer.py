"""Call deadlines for a whole tree, kept in one place and watched by one task.

A cancel scope per call costs about a third of a call round trip; a queued entry costs a
fraction of that. Calls made with the same timeout expire in the order they were made (the
clock only moves forward), so each timeout in use has a plain FIFO queue: adding a call is an
append, not a heap insertion, and the watcher looks at the head of each queue. The rare
timeouts beyond the first `_QUEUED_TIMEOUTS` distinct values share one heap. Replies that
arrive first leave their entry behind, dropped lazily when it reaches the head or when the
entries are compacted, so memory stays bounded.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque

import outcome
import trio

from actors._errors import ActorFailed, CallTimeout
from actors._mailbox import Call

_COMPACT_FLOOR = 4096
#: Distinct timeouts that get a queue of their own (the rest share the heap).
_QUEUED_TIMEOUTS = 32

#: (deadline, call, path, timeout)
_Entry = tuple[float, Call, str, float]


class CallTimer:
    """Fails calls whose deadline passed with `CallTimeout`."""

    def __init__(self) -> None:
        self._queues: dict[float, deque[_Entry]] = {}
        # Timeouts without a queue: (deadline, order, call, path, timeout).
        self._heap: list[tuple[float, int, Call, str, float]] = []
        self._order = itertools.count()
        self._held = 0
        self._scope: trio.CancelScope | None = None
        self._wake_at = math.inf
        self._compact_at = _COMPACT_FLOOR
        self.closed = False
        self.expired = 0

    def __len__(self) -> int:
        """Entries held (calls watched, and resolved ones not yet dropped)."""
        return self._held

    def add(self, call: Call, path: str, timeout: float) -> None:
        """Watch `call`: unless resolved within `timeout` s, its caller gets CallTimeout."""
        deadline = trio.current_time() + timeout
        queue = self._queues.get(timeout)
        if queue is not None:
            # Replies mostly come in the order of the calls: the entries answered since the
            # last call are dropped now rather than held (with their messages and replies)
            # until the watcher next wakes, up to `timeout` later.
            while queue and queue[0][1].resolved:
                queue.popleft()
                self._held -= 1
            queue.append((deadline, call, path, timeout))
        elif len(self._queues) < _QUEUED_TIMEOUTS:
            self._queues[timeout] = deque([(deadline, call, path, timeout)])
        else:
            heapq.heappush(self._heap, (deadline, next(self._order), call, path, timeout))
        self._held += 1
        if deadline < self._wake_at and self._scope is not None:
            self._wake_at = deadline
            self._scope.deadline = deadline
        if self._held >= self._compact_at:
            self._compact()

    def _compact(self) -> None:
        for timeout, queue in list(self._queues.items()):
            kept = deque(entry for entry in queue if not entry[1].resolved)
            if kept:
                self._queues[timeout] = kept
            else:
                del self._queues[timeout]
        self._heap = [entry for entry in self._heap if not entry[2].resolved]
        heapq.heapify(self._heap)
        self._held = len(self._heap) + sum(len(queue) for queue in self._queues.values())
        self._compact_at = max(_COMPACT_FLOOR, 2 * self._held)

    def _expire(self, now: float) -> float:
        """Fail the calls due by `now`, drop resolved entries at the heads; returns when the
        next one is due."""
        wake_at = math.inf
        for timeout, queue in list(self._queues.items()):
            while queue and (queue[0][1].resolved or queue[0][0] <= now):
                _, call, path, _ = queue.popleft()
                self._held -= 1
                if not call.resolved:
                    self.expired += 1
                    call.resolve(outcome.Error(CallTimeout(path, timeout)))
            if queue:
                wake_at = min(wake_at, queue[0][0])
            else:
                del self._queues[timeout]
        heap = self._heap
        while heap and (heap[0][2].resolved or heap[0][0] <= now):
            _, _, call, path, timeout = heapq.heappop(heap)
            self._held -= 1
            if not call.resolved:
                self.expired += 1
                call.resolve(outcome.Error(CallTimeout(path, timeout)))
        if heap:
            wake_at = min(wake_at, heap[0][0])
        return wake_at

    async def run(self) -> None:
        """The watching task; runs until cancelled, then fails whatever is still waiting."""
        try:
            while True:
                self._wake_at = self._expire(trio.current_time())
                with trio.CancelScope(deadline=self._wake_at) as self._scope:
                    await trio.sleep_forever()
                self._scope = None
        finally:
            self.closed = True
            entries = [entry[1:3] for queue in self._queues.values() for entry in queue]
            entries += [entry[2:4] for entry in self._heap]
            for call, path in entries:
                call.resolve(outcome.Error(ActorFailed(path, "actor stopped for good")))
            self._queues.clear()
            self._heap.clear()
            self._held = 0
