"""A trio instrument for tests that pin how often an actor's background task wakes up."""

from __future__ import annotations

import trio


class RunSteps(trio.abc.Instrument):
    """Counts the steps of the task running `actor`'s `run` (its background task)."""

    def __init__(self, actor: object) -> None:
        self.actor = actor
        self.steps = 0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        frame = getattr(task.coro, "cr_frame", None)
        if frame is not None and frame.f_locals.get("actor") is self.actor:
            self.steps += 1
