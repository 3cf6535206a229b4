"""The process's stop: the whole tree within the shutdown deadline, in two phases.

The deadline is what an operator (or a service manager about to send SIGKILL) relies on, so it
bounds everything, `on_stop` hooks included, and leaves the interpreter time to exit. Within
it, the children that produce state (creators, watch, discord, clips, http, ...) must be
stopped first, early enough that the state children (store, quotas, publisher) still have a
share of the time: the store commits what is queued and the publisher writes the exports once
more, so the files match the database after a stop.
"""

from __future__ import annotations

from collections.abc import Collection

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

    @classmethod
    def within(cls, deadline: float, *, now: float) -> StopPlan:
        """The plan for a stop that starts at `now` and must end `deadline` seconds later."""
        tree_by = now + deadline - min(EXIT_MAX, EXIT_SHARE * deadline)
        return cls(producers_by=tree_by - min(TAIL_MAX, TAIL_SHARE * deadline), tree_by=tree_by)


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
