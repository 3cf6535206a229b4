"""`Lifecycle` under trio's MockClock (autojump): states, backoff, liveness, events, logs."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import trio

from actors.connection import (
    ConnectionState,
    Lifecycle,
    LifecycleEvent,
    LifecycleEventKind,
    SessionEnded,
)
from supervisors import Backoff

START = datetime(2026, 1, 1, tzinfo=UTC)


def wall() -> datetime:
    """Wall time derived from trio's (mock) clock, so next_retry_at is exact."""
    return START + timedelta(seconds=trio.current_time())


class LogRecorder:
    """Stands in for a structlog logger: keeps (level, event, fields)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def _add(self, level: str, event: str, **fields: Any) -> None:
        self.lines.append((level, event, fields))

    def info(self, event: str, **fields: Any) -> None:
        self._add("info", event, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._add("warning", event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self._add("error", event, **fields)

    def events(self) -> list[str]:
        return [event for _, event, _ in self.lines]


def lifecycle(**kwargs: Any) -> Lifecycle:
    kwargs.setdefault("backoff", Backoff(initial=1.0, maximum=8.0, jitter=0.0))
    kwargs.setdefault("target", "127.0.0.1:9")
    return Lifecycle("twitch", clock=wall, rng=random.Random(1), **kwargs)


def refused() -> OSError:
    err = OSError("all attempts to connect to 127.0.0.1:9 failed")
    err.__cause__ = ConnectionRefusedError(111, "Connection refused")
    return err


async def test_a_connection_that_never_opens_is_reconnecting_with_the_reason(autojump_clock):
    life = lifecycle()
    log = LogRecorder()
    assert life.health().state is ConnectionState.CONNECTING

    async def session() -> None:
        raise refused()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: life.run(session, log=log))
        await trio.sleep(0.5)
        health = life.health()
        assert health.state is ConnectionState.RECONNECTING
        assert health.failing
        assert health.last_error == "connection refused by 127.0.0.1:9"
        assert health.error == "connection refused by 127.0.0.1:9"
        assert health.attempts == 1
        assert health.connect_failures == 1 and health.disconnects == 0
        assert health.next_retry_at == START + timedelta(seconds=1)
        assert [e.kind for e in health.recent] == [LifecycleEventKind.CONNECT_FAILED]
        nursery.cancel_scope.cancel()
    level, event, fields = log.lines[0]
    assert (level, event) == ("warning", "twitch connect failed")
    assert fields["reason"] == "connection refused by 127.0.0.1:9"
    assert fields["retry_in"] == 1.0


async def test_backoff_doubles_up_to_its_maximum(autojump_clock):
    life = lifecycle()
    starts: list[float] = []

    async def session() -> None:
        starts.append(trio.current_time())
        raise refused()

    with trio.move_on_after(40):
        await life.run(session, log=LogRecorder())
    assert starts[:7] == [0, 1, 3, 7, 15, 23, 31]


async def test_backoff_starts_over_after_a_stable_connection(autojump_clock):
    life = lifecycle(stable_after=60.0)
    starts: list[float] = []

    async def session() -> None:
        starts.append(trio.current_time())
        if len(starts) in (1, 2, 3):
            raise refused()  # waits 1, 2, 4
        life.mark_connected()
        await trio.sleep(100)  # stable
        raise SessionEnded("server went away")

    with trio.move_on_after(112):
        await life.run(session, log=LogRecorder())
    # attempts at 0, 1, 3, 7 (connected 7..107), then 1 s (not 8 s) later.
    assert starts == [0, 1, 3, 7, 108]
    assert life.connects == 2 and life.disconnects == 1


async def test_a_lost_connection_logs_connection_lost_not_connect_failed(autojump_clock):
    life = lifecycle()
    log = LogRecorder()

    async def session() -> None:
        life.mark_connected()
        await trio.sleep(5)
        raise ConnectionResetError(104, "Connection reset by peer")

    with trio.move_on_after(5.5):
        await life.run(session, log=log)
    assert log.events()[:2] == ["twitch connected", "twitch connection lost"]
    assert log.lines[1][2]["reason"] == "connection reset by 127.0.0.1:9 (RST)"
    health = life.health()
    assert health.state is ConnectionState.RECONNECTING
    assert health.disconnects == 1 and health.connect_failures == 0
    assert [e.kind for e in health.recent] == [
        LifecycleEventKind.CONNECTED,
        LifecycleEventKind.DISCONNECTED,
    ]


async def test_silence_pings_then_declares_the_link_dead(autojump_clock):
    life = lifecycle(keepalive_seconds=60.0, keepalive_timeout_seconds=10.0)
    pings: list[float] = []
    ended: list[float] = []

    async def ping() -> None:
        pings.append(trio.current_time())

    async def session() -> None:
        if ended:
            await trio.sleep_forever()
        life.mark_connected()
        try:
            await trio.sleep_forever()
        finally:
            ended.append(trio.current_time())

    with trio.move_on_after(75):
        await life.run(session, ping=ping, log=LogRecorder())
    assert pings[0] == 60.0
    assert ended[0] == 70.0
    health = life.health()
    assert health.last_error == "no traffic for 70 s"
    assert health.disconnects == 1


async def test_traffic_keeps_the_link_alive_and_a_pong_answers_the_ping(autojump_clock):
    life = lifecycle(keepalive_seconds=60.0, keepalive_timeout_seconds=10.0)
    pings: list[float] = []

    async def ping() -> None:
        pings.append(trio.current_time())
        life.saw_traffic()  # the PONG

    async def session() -> None:
        life.mark_connected()
        for _ in range(10):
            await trio.sleep(30)
            life.saw_traffic()
        await trio.sleep_forever()

    with trio.move_on_after(400):
        await life.run(session, ping=ping, log=LogRecorder())
    # Traffic every 30 s until 300 s: no ping before 360 s; the pong keeps it up after.
    assert pings == [360.0]
    assert life.state is ConnectionState.CONNECTED
    assert life.disconnects == 0
    assert life.health().last_traffic_at is not None


async def test_refused_credentials_fail_retry_slowly_then_give_up(autojump_clock):
    life = lifecycle(
        person_backoff=Backoff(initial=30.0, maximum=300.0, jitter=0.0), max_person_failures=3
    )
    log = LogRecorder()
    starts: list[float] = []

    async def session() -> None:
        starts.append(trio.current_time())
        raise SessionEnded("Login authentication failed", needs_person=True)

    with trio.move_on_after(1000):
        await life.run(session, log=log)
    assert starts == [0, 30, 90]
    health = life.health()
    assert health.state is ConnectionState.FAILED
    assert health.failing
    assert health.give_ups == 1
    assert health.next_retry_at is None
    assert health.error == (
        "Login authentication failed (giving up until restarted after 3 attempts)"
    )
    assert health.recent[-1].kind is LifecycleEventKind.GAVE_UP
    assert log.lines[-1][0] == "error"
    assert "giving up" in log.lines[-1][1]


async def test_a_login_after_refusals_counts_them_from_zero_again(autojump_clock):
    life = lifecycle(
        person_backoff=Backoff(initial=30.0, maximum=300.0, jitter=0.0), max_person_failures=2
    )
    calls = 0

    async def session() -> None:
        nonlocal calls
        calls += 1
        if calls in (1, 3):
            raise SessionEnded("Login authentication failed", needs_person=True)
        if calls == 2:
            life.mark_connected()
            raise SessionEnded("dropped")
        await trio.sleep_forever()

    with trio.move_on_after(500):
        await life.run(session, log=LogRecorder())
    assert calls == 4  # never gave up: the login in between reset the count
    assert life.give_ups == 0


async def test_an_immediate_reconnect_happens_once_per_stable_period(autojump_clock):
    life = lifecycle(stable_after=60.0)
    starts: list[float] = []

    async def session() -> None:
        starts.append(trio.current_time())
        life.mark_connected()
        await trio.sleep(1)
        raise SessionEnded("server asked to reconnect (RECONNECT)", immediate=True)

    with trio.move_on_after(4.5):
        await life.run(session, log=LogRecorder())
    # At once after the first; the second within 60 s backs off (1 s) like any failure.
    assert starts == [0, 1, 3]


async def test_a_minimum_delay_is_honoured(autojump_clock):
    life = lifecycle(backoff=Backoff(initial=0.1, maximum=8.0, jitter=0.0))
    starts: list[float] = []

    async def session() -> None:
        starts.append(trio.current_time())
        raise SessionEnded("over capacity", min_delay=1.0)

    with trio.move_on_after(2.5):
        await life.run(session, log=LogRecorder())
    assert starts == [0, 1, 2]


async def test_a_bug_in_the_session_propagates(autojump_clock):
    life = lifecycle()

    async def session() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        await life.run(session, log=LogRecorder())


async def test_a_disabled_lifecycle_never_connects(autojump_clock):
    life = lifecycle(enabled=False)
    called = False

    async def session() -> None:
        nonlocal called
        called = True

    with trio.move_on_after(100):
        await life.run(session, log=LogRecorder())
    assert not called
    health = life.health()
    assert health.state is ConnectionState.DISABLED
    assert not health.failing


async def test_pause_and_resume_are_transitions_with_events(autojump_clock):
    seen: list[LifecycleEvent] = []
    life = lifecycle(on_event=seen.append)
    life.pause("quota exhausted until 2026-01-02T00:00:00Z")
    health = life.health()
    assert health.state is ConnectionState.PAUSED
    assert not health.failing
    assert health.paused_reason.startswith("quota exhausted")
    life.mark_connected()
    assert life.health().paused_reason is None
    assert [e.kind for e in seen] == [LifecycleEventKind.PAUSED, LifecycleEventKind.CONNECTED]


async def test_give_up_fails_for_good_with_the_reason(autojump_clock):
    life = lifecycle()
    with trio.move_on_after(10):
        await life.give_up("no chatroom_id or channel_id configured")
    health = life.health()
    assert health.state is ConnectionState.FAILED
    assert health.error == "no chatroom_id or channel_id configured"
    assert health.give_ups == 1


async def test_a_session_that_returns_counts_as_closed_by_the_server(autojump_clock):
    life = lifecycle()

    async def session() -> None:
        life.mark_connected()

    with trio.move_on_after(0.5):
        await life.run(session, log=LogRecorder())
    assert life.last_error == "connection closed by 127.0.0.1:9"
    assert life.state is ConnectionState.RECONNECTING


async def test_a_failure_recorded_without_the_loop_reads_like_one_from_it(autojump_clock):
    seen: list[LifecycleEvent] = []
    life = lifecycle(on_event=seen.append)
    life.mark_connected("delivering")
    life.note_failure("connection refused by discord.com")
    health = life.health()
    assert (health.state, health.error, health.disconnects) == (
        ConnectionState.RECONNECTING,
        "connection refused by discord.com",
        1,
    )
    life.note_failure("HTTP 404 from discord.com", needs_person=True)
    assert life.health().state is ConnectionState.FAILED
    assert [e.kind for e in seen][-2:] == [
        LifecycleEventKind.CONNECT_FAILED,
        LifecycleEventKind.NEEDS_PERSON,
    ]
    life.mark_connected("delivering")
    assert life.health().error is None
