"""`serve` while a big tree is still starting: `/status` answers and says so, and a signal stops
the start in order (a thousand creators take seconds to start; ten thousand took minutes, with
no `/status` and no clean stop meanwhile)."""

from __future__ import annotations

import http.client
import json
import signal
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
import structlog
import trio

import runtime.app as app
import runtime.tree as tree
from actors import Actor
from runtime.app import Booted
from runtime.exit_codes import ExitCode
from supervisors import ChildSpec
from tests.unit.runtime.booting import booted_for


class SlowStart(Actor):
    """A creator whose start waits for `release` (a slow store read, a huge tree)."""

    def __init__(self, entered: trio.Event, release: trio.Event, journal: list[str]) -> None:
        self.entered = entered
        self.release = release
        self.journal = journal

    async def on_start(self) -> None:
        self.journal.append("starting")
        self.entered.set()
        try:
            await self.release.wait()
        except trio.Cancelled:
            self.journal.append("start cancelled")
            raise
        self.journal.append("started")


@pytest.fixture
def booted(tmp_path: Path) -> Iterator[Booted]:
    booted = booted_for(
        f"[runtime]\ndata_dir = '{tmp_path}'\n"
        "[http]\nenabled = true\nhost = '127.0.0.1'\nport = 0\n"
        '[[creators]]\nid = "a"\n'
    )
    yield booted
    booted.collector.reset()


@pytest.fixture
def slow_creator(monkeypatch: pytest.MonkeyPatch) -> tuple[trio.Event, list[str]]:
    """Every creator is a `SlowStart` (its event is made in the test's trio run)."""
    holder: dict[str, Any] = {}
    journal: list[str] = []

    def creator_spec(_lookup: Any, creator: Any, **_kwargs: Any) -> ChildSpec:
        # A start still in progress is cut at the end of the grace period (the stop's order).
        return ChildSpec(
            f"creator:{creator.id}",
            lambda: SlowStart(holder["entered"], holder["release"], journal),
            shutdown=0.5,
        )

    monkeypatch.setattr(tree, "creator_spec", creator_spec)
    return holder, journal  # type: ignore[return-value]


def get_status(http_file: Path) -> tuple[int, Any]:
    found = json.loads(http_file.read_text("utf-8"))
    conn = http.client.HTTPConnection(found["host"], found["port"], timeout=10)
    try:
        conn.request("GET", "/status")
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


async def test_status_answers_while_the_creators_start_and_names_what_is_starting(
    booted: Booted, slow_creator: Any
) -> None:
    holder, journal = slow_creator
    holder["entered"], holder["release"] = entered, release = trio.Event(), trio.Event()
    ready = trio.Event()
    result: list[ExitCode] = []

    async def run_serve() -> None:
        result.append(await app.serve(booted, on_ready=lambda _root: ready.set()))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_serve)
        with trio.fail_after(10):
            await entered.wait()  # the HTTP server announced itself before the creators
        status, body = await trio.to_thread.run_sync(get_status, booted.paths.http_file)
        assert status == 200
        assert body["status"] == "degraded"
        starting = {d["path"]: d["reason"] for d in body["degraded"]}
        assert starting["root/creators/creator:a"] == "starting"
        assert starting["root/creators"] == "starting: its children are still starting"
        release.set()
        with trio.fail_after(10):
            await ready.wait()
        status, body = await trio.to_thread.run_sync(get_status, booted.paths.http_file)
        assert (status, body["status"], body["degraded"]) == (200, "ok", [])
        signal.raise_signal(signal.SIGINT)
    assert result == [ExitCode.OK]
    assert journal == ["starting", "started"]
    assert not booted.paths.http_file.exists()


async def test_a_signal_during_the_start_stops_it_in_order_and_exits_cleanly(
    booted: Booted, slow_creator: Any
) -> None:
    holder, journal = slow_creator
    # Never released: the creator would start forever.
    holder["entered"], holder["release"] = entered, _ = trio.Event(), trio.Event()
    result: list[ExitCode] = []

    async def run_serve() -> None:
        result.append(await app.serve(booted))

    with structlog.testing.capture_logs() as logs, trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_serve)
            with trio.fail_after(10):
                await entered.wait()
            signal.raise_signal(signal.SIGTERM)
    assert result == [ExitCode.OK]
    assert journal == ["starting", "start cancelled"]
    events = [entry["event"] for entry in logs]
    assert "shutting down" in events and "stopped cleanly" in events
    assert "runtime started" not in events  # it never was
    assert not booted.paths.http_file.exists()


class StuckStop(Actor):
    """A creator whose `on_stop` never ends (a flush to a store that never answers)."""

    async def on_stop(self) -> None:
        await trio.sleep_forever()


class StuckOnce(Actor):
    """A creator whose first `on_stop` never ends; later ones end at once."""

    stops = 0

    async def on_stop(self) -> None:
        StuckOnce.stops += 1
        if StuckOnce.stops == 1:
            await trio.sleep_forever()


async def serve_until_stopped(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    creator: type[Actor],
    *,
    grace: float,
    before_stop: Callable[[Any], Awaitable[None]] | None = None,
) -> list[MutableMapping[str, Any]]:
    """`serve` with one creator of kind `creator` (its stop's grace period `grace`) and a
    4 s shutdown deadline, stopped by SIGTERM once ready (after `before_stop(root)`);
    returns the log. The creator's on_stop is cut 2.5 s into the stop at the latest; the
    store and publisher then have 1 s."""
    booted = booted_for(
        f"[runtime]\ndata_dir = '{tmp_path}'\nshutdown_deadline = 4.0\n"
        "[http]\nenabled = false\n"
        '[[creators]]\nid = "a"\n'
    )

    def creator_spec(_lookup: Any, config: Any, **_kwargs: Any) -> ChildSpec:
        return ChildSpec(f"creator:{config.id}", creator, shutdown=grace)

    monkeypatch.setattr(tree, "creator_spec", creator_spec)
    result: list[ExitCode] = []

    async def stop(root: Any) -> None:
        if before_stop is not None:
            await before_stop(root)
        signal.raise_signal(signal.SIGTERM)

    try:
        with structlog.testing.capture_logs() as logs, trio.fail_after(20):
            async with trio.open_nursery() as nursery:

                async def run_serve() -> None:
                    ready = lambda root: nursery.start_soon(stop, root)  # noqa: E731
                    result.append(await app.serve(booted, on_ready=ready))

                nursery.start_soon(run_serve)
    finally:
        booted.collector.reset()
    assert result == [ExitCode.OK]
    return logs


async def test_a_stop_whose_on_stop_was_cut_off_at_the_deadline_is_not_called_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs = await serve_until_stopped(tmp_path, monkeypatch, StuckStop, grace=30.0)
    events = {entry["event"]: entry for entry in logs}
    assert "stopped cleanly" not in events
    last = events["stopped, but not cleanly"]
    assert last["on_stop_cut_off"] == 1 and last["forced_by"] is None
    assert last["log_level"] == "warning"


async def test_an_on_stop_cut_off_at_a_restart_long_before_leaves_a_clean_stop_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def restart(root: Any) -> None:
        # Its on_stop is cut at the end of the grace period: counted then.
        await root.find_supervisor("creators").restart_child("creator:a")

    StuckOnce.stops = 0
    logs = await serve_until_stopped(
        tmp_path, monkeypatch, StuckOnce, grace=0.2, before_stop=restart
    )
    assert StuckOnce.stops == 2
    events = [entry["event"] for entry in logs]
    assert "on_stop cut off at the end of the grace period" in events
    assert events[-1] == "stopped cleanly"  # the shutdown itself cut nothing
