"""The process's stop: the whole tree within the shutdown deadline, in two phases.

The deadline is what an operator (or a service manager about to send SIGKILL) relies on, so it
bounds everything, `on_stop` hooks included, and leaves the interpreter time to exit. Within
it, the children that produce state (creators, watch, discord, clips, http, ...) must be
stopped first, early enough that the state children (store, quotas, publisher) still have a
share of the time: the store commits what is queued and the publisher writes the exports once
more, so the files match the database after a stop.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable, Collection
from typing import NoReturn

import attrs
import trio

from supervisors import Supervisor

#: Of the deadline, kept for the interpreter to exit after the tree stopped (at most 0.5 s).
EXIT_SHARE, EXIT_MAX = 0.2, 0.5
#: Of the deadline, kept after the producers stopped for the final commit and publish.
TAIL_SHARE, TAIL_MAX = 0.25, 2.0


@attrs.frozen(kw_only=True)
class StopPlan:
    """When (trio time) each phase of a stop must be over."""

    producers_by: float
    tree_by: float
    #: A process still stopping then ends at once (`Backstop`): half the exit's share is
    #: left for the logs' flush and the kernel's release of the process's memory.
    exit_by: float

    @classmethod
    def within(cls, deadline: float, *, now: float) -> StopPlan:
        """The plan for a stop that starts at `now` and must end `deadline` seconds later."""
        exit_share = min(EXIT_MAX, EXIT_SHARE * deadline)
        tree_by = now + deadline - exit_share
        return cls(
            producers_by=tree_by - min(TAIL_MAX, TAIL_SHARE * deadline),
            tree_by=tree_by,
            exit_by=now + deadline - exit_share / 2,
        )


async def stop_tree(
    root: Supervisor,
    deadline: float,
    *,
    state_children: Collection[str],
    began: float | None = None,
) -> bool:
    """Stop `root` (running) in reverse order so that it is stopped `deadline` seconds after
    `began` (trio time; default now: when the signal was received, for a process) minus the
    exit's share; children not in `state_children` are cut off earlier (see `StopPlan`).
    Returns False when the tree was not stopped in time (the caller then forces it); every
    grace period and `on_stop` was cut at its bound either way."""
    plan = StopPlan.within(deadline, now=trio.current_time() if began is None else began)
    registry = root.registry
    if registry is not None:
        registry.bound_stops(plan.tree_by, under=root.path)
        for child in root.which_children():
            if child.id not in state_children:
                registry.bound_stops(plan.producers_by, under=f"{root.path}/{child.id}")
    with trio.move_on_at(plan.tree_by) as scope:
        await root.stop()
    return not scope.cancelled_caught


def not_stopped(root: Supervisor) -> list[str]:
    """What of `root` is not stopped (what a stop cut off at its deadline leaves to cancel):
    each such child's path, a supervisor's with how many of its own children are not."""
    left: list[str] = []
    for child in root.which_children():
        if child.state == "stopped":
            continue
        path = f"{root.path}/{child.id}"
        try:
            below = root.child_supervisor(child.id).which_children()
        except KeyError:
            left.append(path)
            continue
        running = sum(1 for c in below if c.state != "stopped")
        left.append(f"{path} ({running} of {len(below)} children)")
    return left


def exit_now(code: int) -> NoReturn:
    """End the process with `code` once the logs and the standard streams are flushed,
    without the interpreter's teardown: after a run of 10,000 creators, freeing a heap of a
    gigabyte object by object took most of a second past the shutdown deadline, for nothing
    (the database is closed, the PID file released, the tree's threads done). Works alike
    on Windows."""
    logging.shutdown()  # what `atexit` would do: flush and close every handler (log file)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe cannot change the exit code
            stream.flush()
    os._exit(code)


class Backstop:
    """Runs `action` (which ends the process: `exit_now`) `seconds` after `start`, unless
    `cancel`led first: a thread, so it acts on time while the event loop is still busy
    unwinding a big tree cancelled at its deadline (seconds at 10,000 creators)."""

    def __init__(self, action: Callable[[], None]) -> None:
        self._action = action
        self._timer: threading.Timer | None = None

    def start(self, seconds: float) -> None:
        """Arm it (once; starting again keeps the first time)."""
        if self._timer is None:
            self._timer = threading.Timer(max(0.0, seconds), self._action)
            self._timer.daemon = True
            self._timer.start()

    def cancel(self) -> None:
        """Disarm it (the process exits on its own)."""
        if self._timer is not None:
            self._timer.cancel()
