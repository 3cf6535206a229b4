"""Test actors that record what happens to them in a shared journal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import trio

from actors import Actor


class Journal(list):
    """(event, name, instance number) tuples in the order they happened."""

    def events(self, kind: str) -> list[str]:
        return [name for event, name, *_ in self if event == kind]


class Recorder(Actor):
    """Records start/stop; replies to messages; crashes on 'crash', exits on 'exit'."""

    def __init__(self, name: str, journal: Journal, instance: int) -> None:
        self.name = name
        self.journal = journal
        self.instance = instance

    async def on_start(self) -> None:
        self.journal.append(("start", self.name, self.instance, trio.current_time()))

    async def on_stop(self) -> None:
        self.journal.append(("stop", self.name, self.instance, trio.current_time()))

    async def handle(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError(f"{self.name} asked to crash")
        if message == "slow":
            await trio.sleep(100)
        self.journal.append(("handled", self.name, self.instance, message))
        return (self.name, self.instance, message)


def recorder_factory(
    name: str, journal: Journal, cls: type[Recorder] = Recorder
) -> Callable[[], Recorder]:
    count = 0

    def start() -> Recorder:
        nonlocal count
        count += 1
        return cls(name, journal, count)

    return start


@pytest.fixture
def journal() -> Journal:
    return Journal()


@pytest.fixture
def recorder(journal: Journal) -> Callable[..., Callable[[], Recorder]]:
    """`recorder(name, cls=Recorder)` gives a ChildSpec factory writing to `journal`."""

    def make(name: str, cls: type[Recorder] = Recorder) -> Callable[[], Recorder]:
        return recorder_factory(name, journal, cls)

    return make


def guarded(sup: Any, outcome: list[BaseException]) -> Callable[..., Any]:
    """`sup.run` for `nursery.start`, keeping a `SupervisorGaveUp` in `outcome`."""
    from supervisors import SupervisorGaveUp

    async def run(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        try:
            await sup.run(task_status=task_status)
        except SupervisorGaveUp as exc:
            outcome.append(exc)

    return run


@pytest.fixture
def run_guarded() -> Callable[..., Any]:
    return guarded
