"""The garbage collector around the tree's start and stop (`runtime.collector`, `serve`)."""

from __future__ import annotations

import gc
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import runtime.app as app
from runtime.collector import YOUNG_SHARE, Collector
from runtime.exit_codes import ExitCode
from supervisors import Supervisor
from tests.unit.runtime.booting import booted_for


@pytest.fixture
def collector_restored() -> Iterator[None]:
    """Whatever a test does to the collector, the next test finds it as it was."""
    enabled, thresholds = gc.isenabled(), gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)
    gc.unfreeze()
    if enabled:
        gc.enable()
    else:
        gc.disable()


def test_pause_disables_and_resume_enables(collector_restored: None) -> None:
    gc.enable()
    collector = Collector()
    collector.pause()
    collector.pause()  # twice is once
    assert not gc.isenabled() and collector.paused
    collector.resume()
    assert gc.isenabled() and not collector.paused
    collector.resume()  # not paused: nothing to put back
    assert gc.isenabled()


def test_a_collector_disabled_before_stays_disabled(collector_restored: None) -> None:
    gc.disable()
    collector = Collector()
    collector.pause()
    collector.resume()
    assert not gc.isenabled()


def test_settle_exempts_the_objects_alive_and_scales_the_young_generation(
    collector_restored: None,
) -> None:
    gc.unfreeze()
    before = gc.get_threshold()
    collector = Collector()
    collector.settle()
    frozen = gc.get_freeze_count()
    assert frozen > 0
    young, middle, old = gc.get_threshold()
    assert young == max(before[0], int(frozen * YOUNG_SHARE)) and young > before[0]
    assert (middle, old) == before[1:]
    collector.reset()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


async def test_serve_collects_while_running_not_while_starting_or_stopping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, collector_restored: None
) -> None:
    gc.enable()
    gc.unfreeze()
    booted = booted_for(
        f"[runtime]\ndata_dir = '{tmp_path}'\n[http]\nenabled = false\n"
        '[[creators]]\nid = "a"\n[[creators]]\nid = "b"\n'
    )
    seen: dict[str, Any] = {}
    real_build, real_stop = app.build_tree, app.stop_tree

    def build_tree(*args: Any, **kwargs: Any) -> Supervisor:
        root = real_build(*args, **kwargs)
        real_run = root.run

        async def run(task_status: Any) -> None:
            seen["starting"] = gc.isenabled()
            await real_run(task_status=task_status)

        monkeypatch.setattr(root, "run", run)
        return root

    async def stop_tree(*args: Any, **kwargs: Any) -> bool:
        seen["stopping"] = gc.isenabled()
        return await real_stop(*args, **kwargs)

    def on_ready(_root: Supervisor) -> None:
        seen["running"] = gc.isenabled()
        seen["frozen"] = gc.get_freeze_count()
        signal.raise_signal(signal.SIGINT)  # handled by `serve` from here on

    monkeypatch.setattr(app, "build_tree", build_tree)
    monkeypatch.setattr(app, "stop_tree", stop_tree)
    assert await app.serve(booted, on_ready=on_ready) == ExitCode.OK
    assert seen["starting"] is False
    assert seen["running"] is True and seen["frozen"] > 0
    assert seen["stopping"] is False
    assert not gc.isenabled()  # left paused for the exit
    booted.collector.reset()
    assert gc.isenabled()
