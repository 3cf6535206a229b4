"""`RumbleChat` against `FakeRumbleApi`, under a supervisor with a real `StateStore`, on
trio's MockClock (autojump). Store calls run inline (see the YouTube chat tests for why)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
import trio

from actors import Actor
from actors.chat import SendChat
from actors.events import ChatEvent, PaidMessageEvent, PlatformEvent
from actors.publisher import rate_limit_rows
from actors.ratelimit import BucketStatistics, bucket_view
from actors.rumble.chat import RumbleChat, RumbleChatStatistics
from actors.store import StateStore, WriterThread
from config.models import RumbleConfig
from config.secrets import Secret, SecretRef
from supervisors import ChildSpec, Supervisor
from tests.fakes.rumble_api import FakeRumbleApi

T0 = datetime(2026, 11, 21, 20, 0, tzinfo=UTC)


def wall() -> datetime:
    return T0 + timedelta(seconds=trio.current_time())


@pytest.fixture
def inline_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    async def run_sync(fn: Callable[..., Any], *args: Any, **_kwargs: Any) -> Any:
        return fn(*args)

    monkeypatch.setattr(trio.to_thread, "run_sync", run_sync)

    async def run_inline(_thread: WriterThread, fn: Callable[[], Any]) -> Any:
        return fn()

    # The store's own writer thread too.
    monkeypatch.setattr(WriterThread, "run", run_inline)


class Recorder(Actor):
    def __init__(self, harness: Harness) -> None:
        self.harness = harness

    async def handle(self, message: Any) -> Any:
        self.harness.events.append(message)
        self.harness.changed.set()
        self.harness.changed = trio.Event()


class Harness:
    def __init__(self, fake: FakeRumbleApi, tmp_path: Path) -> None:
        self.fake = fake
        self.tmp_path = tmp_path
        self.events: list[PlatformEvent] = []
        self.changed = trio.Event()
        self.instances: list[RumbleChat] = []
        self.root: Supervisor | None = None

    @property
    def chat(self) -> RumbleChat:
        return self.instances[-1]

    async def start(
        self,
        nursery: trio.Nursery,
        *,
        url: str | None = None,
        key: str | None = None,
        paused: bool = False,
        paused_reason: str | None = None,
        poll_seconds: float = 5.0,
        **kwargs: Any,
    ) -> Harness:
        api_url = url or self.fake.url()
        if key is not None:
            api_url = api_url.replace(self.fake.key, key)
        config = RumbleConfig(
            api_url=Secret(SecretRef(env="RUMBLE_URL"), value=api_url),
            poll_seconds=poll_seconds,
            paused=paused,
            paused_reason=paused_reason,
        )
        transport = None if url else self.fake.transport()

        def make_chat() -> RumbleChat:
            chat = RumbleChat(
                creator_id="daniel",
                config=config,
                triggers=lambda: root.lookup("triggers"),
                store=lambda: root.lookup("store"),
                transport=transport,
                clock=wall,
                rng=random.Random(5),
                **kwargs,
            )
            self.instances.append(chat)
            return chat

        root = self.root = Supervisor(
            "root",
            [
                ChildSpec("store", lambda: StateStore(self.tmp_path / "db.sqlite3")),
                ChildSpec("triggers", lambda: Recorder(self)),
                ChildSpec("rumble", make_chat),
            ],
        )
        await nursery.start(root.run)
        return self

    async def wait_events(self, count: int) -> None:
        with trio.fail_after(3600):
            while len(self.events) < count:
                await self.changed.wait()

    async def stop(self) -> None:
        assert self.root is not None
        await self.root.stop()


async def eventually(predicate: Callable[[], bool], limit: float = 3600) -> None:
    with trio.fail_after(limit):
        while True:
            if predicate():
                return
            await trio.sleep(0.5)


@pytest.fixture
async def fake() -> FakeRumbleApi:
    api = FakeRumbleApi(clock=wall)
    api.go_live("6xk2a", "Saturday stream")
    return api


@pytest.fixture
def harness(fake: FakeRumbleApi, tmp_path: Path) -> Harness:
    return Harness(fake, tmp_path)


def gaps(fake: FakeRumbleApi) -> list[float]:
    return [round(b.at - a.at, 6) for a, b in itertools.pairwise(fake.requests)]


async def test_messages_and_rants_arrive_once_also_across_a_restart(
    autojump_clock, inline_threads, nursery, fake, harness
):
    url = await fake.serve(nursery)
    fake.say("6xk2a", "ann", "hello", badges=("moderator",))
    fake.rant("6xk2a", "bob", "take my money", 500)
    with structlog.testing.capture_logs() as logs:
        await harness.start(nursery, url=url)
        await harness.wait_events(2)
        hello, rant = harness.events
        assert isinstance(hello, ChatEvent) and isinstance(rant, PaidMessageEvent)
        assert (hello.platform, hello.channel, hello.login, hello.roles) == (
            "rumble",
            "6xk2a",
            "ann",
            {"moderator"},
        )
        assert rant.amount_micros == 5_000_000 and rant.currency == "USD"
        snap = harness.chat.snapshot()
        assert isinstance(snap, RumbleChatStatistics)
        assert snap.status == "running" and snap.stream_title == "Saturday stream"
        # Re-polls see the same window: nothing twice.
        await fake.wait_requests(4)
        assert len(harness.events) == 2 and harness.chat.duplicates >= 4
        assert harness.root is not None
        await harness.root.restart_child("rumble")
        before = len(fake.requests)
        await fake.wait_requests(before + 2)
        assert len(harness.events) == 2
        fake.say("6xk2a", "cat", "new one")
        await harness.wait_events(3)
        assert harness.events[-1].text == "new one"
        await harness.stop()
    # The API URL carries the key: it never reaches a log line or the snapshot.
    assert fake.key not in repr(logs) and fake.key not in repr(harness.chat.snapshot())


async def test_polls_every_poll_seconds(autojump_clock, inline_threads, nursery, fake, harness):
    await harness.start(nursery, poll_seconds=7.0)
    await fake.wait_requests(5)
    assert gaps(fake)[:4] == [7.0] * 4
    (bucket,) = harness.chat.snapshot().rate_limits
    assert isinstance(bucket, BucketStatistics)
    assert bucket.scope == "creator:daniel/rumble/poll" and bucket.limit == 1
    assert bucket.window_seconds == 7.0 and bucket.taken == len(fake.requests)
    # The publisher's rate_limits.json rows read it from the tree.
    assert harness.root is not None
    assert rate_limit_rows(harness.root.tree()) == (bucket_view(bucket),)
    await harness.stop()


async def test_paused_shows_the_reason_and_makes_no_request(
    autojump_clock, inline_threads, nursery, fake, harness
):
    await harness.start(nursery, paused=True, paused_reason="waiting for a new API key")
    await trio.sleep(600)
    assert fake.requests == []
    snap = harness.chat.snapshot()
    assert (snap.status, snap.paused_reason) == ("paused", "waiting for a new API key")
    await harness.stop()


async def test_nothing_live_is_inactive_then_found(
    autojump_clock, inline_threads, nursery, fake, harness
):
    fake.end_stream("6xk2a")
    await harness.start(nursery)
    await fake.wait_requests(2)
    assert harness.chat.status == "inactive" and harness.chat.stream_id is None
    fake.go_live("7yy", "Again")
    fake.say("7yy", "dan", "back")
    await harness.wait_events(1)
    assert harness.chat.status == "running" and harness.chat.stream_id == "7yy"
    await harness.stop()


async def test_server_errors_back_off_without_a_tight_loop(
    autojump_clock, inline_threads, nursery, fake, harness
):
    fake.fail(503, times=1000)
    await harness.start(nursery)
    await trio.sleep(3600)
    # 5, 10, 20, ... 300 s (+-20%): a couple of dozen attempts an hour at most.
    assert 8 <= len(fake.requests) <= 25
    assert harness.chat.status == "error" and harness.chat.error == "HTTP 503 from rumble.test"
    fake._failures.clear()
    await eventually(lambda: harness.chat.status == "running", limit=600)
    await harness.stop()


async def test_a_revoked_key_is_an_error_with_a_slow_retry(
    autojump_clock, inline_threads, nursery, fake, harness
):
    await harness.start(nursery, key="revoked-key")
    await trio.sleep(3600)
    assert 3 <= len(fake.requests) <= 7  # 60, 120, 240, ... s
    snap = harness.chat.snapshot()
    assert snap.status == "error" and snap.http_errors == {"http401": len(fake.requests)}
    await harness.stop()


async def test_stalls_time_out_and_bad_bodies_are_counted(
    autojump_clock, inline_threads, nursery, fake, harness
):
    fake.stall(1)
    fake.fail_raw(200, "<html>maintenance</html>")
    fake.say("6xk2a", "ann", "hi")
    await harness.start(nursery, request_timeout=10.0)
    await harness.wait_events(1)
    assert harness.chat.timeouts == 1 and harness.chat.parse_errors == 1
    await harness.stop()


async def test_replies_are_dropped_because_the_api_is_read_only(
    autojump_clock, inline_threads, nursery, fake, harness
):
    await harness.start(nursery)
    assert harness.root is not None
    await harness.root.lookup("rumble").send(SendChat(text="hi"))
    await eventually(lambda: harness.chat.dropped == 1)
    assert harness.chat.snapshot().dropped_reasons == {"read_only": 1}
    await harness.stop()


# ------------------------------------------------------------------- health as others see it


def rumble_entry(root: Supervisor) -> Any:
    from exports.health import platform_rows

    return next(
        r for r in platform_rows(root.tree(), configured={"rumble": True}) if r.platform == "rumble"
    )


async def test_health_says_why_rumble_fails_and_clears_on_recovery(
    autojump_clock, inline_threads, nursery, fake, harness
):
    from exports.health import status_report, telemetry_errors

    await harness.start(nursery)
    await fake.wait_requests(1)
    await eventually(lambda: status_report(harness.root.tree()).ok)
    fake.fail(503, times=2)
    await eventually(lambda: rumble_entry(harness.root).error is not None)
    report = status_report(harness.root.tree())
    assert [(c.path, c.reason) for c in report.degraded] == [
        ("root/rumble", "HTTP 503 from rumble.test")
    ]
    assert rumble_entry(harness.root).state == "reconnecting"
    await eventually(lambda: status_report(harness.root.tree()).ok)
    [error] = telemetry_errors(harness.root.tree(), root_name="root", now=T0)
    assert (error.message, error.active) == ("HTTP 503 from rumble.test", False)
    fake.stall()
    await eventually(lambda: rumble_entry(harness.root).error is not None)
    assert rumble_entry(harness.root).error == "no answer from rumble.test in time"
    await harness.stop()


async def test_a_revoked_key_needs_a_person(autojump_clock, inline_threads, nursery, fake, harness):
    from exports.health import status_report

    fake.fail(401, times=100)
    await harness.start(nursery)
    await eventually(lambda: rumble_entry(harness.root).error is not None)
    entry = rumble_entry(harness.root)
    assert (entry.status, entry.state, entry.error) == (
        "error",
        "failed",
        "HTTP 401 from rumble.test",
    )
    assert status_report(harness.root.tree()).status == "degraded"


HOSTILE_BODIES = [
    '{"livestreams": ' + "[" * 100_000 + "]" * 100_000 + "}",  # nested 100,000 deep
    '{"now": ' + "9" * 5000 + ', "livestreams": []}',  # past Python's int-string limit
    '{"now": 1e400, "livestreams": []}',  # beyond float range
    '{"livestreams": {"id": "6xk2a"}}',  # wrong type
]


async def test_hostile_bodies_are_counted_rejections_not_crashes(
    autojump_clock, inline_threads, nursery, fake, harness
):
    for body in HOSTILE_BODIES:
        fake.fail_raw(200, body)
    fake.say("6xk2a", "ann", "after the storm")
    with structlog.testing.capture_logs() as logs:
        await harness.start(nursery, poll_seconds=1.0)
        await harness.wait_events(1)
    assert len(harness.instances) == 1  # never restarted
    assert harness.chat.parse_errors == len(HOSTILE_BODIES)
    # Each is one failed poll of the lifecycle, logged with the reason (then polled again).
    failed = [e for e in logs if str(e.get("reason", "")).startswith("unreadable response from")]
    assert len(failed) == len(HOSTILE_BODIES)
    await harness.stop()


async def test_a_20_digit_clock_and_a_huge_rant_do_not_crash_the_poll(
    autojump_clock, inline_threads, nursery, fake, harness
):
    fake.fail_raw(200, '{"now": 99999999999999999999, "livestreams": []}')
    fake.rant("6xk2a", "bob", "too much", 10**19)
    fake.say("6xk2a", "ann", "fine")
    await harness.start(nursery, poll_seconds=1.0)
    await harness.wait_events(1)
    assert len(harness.instances) == 1
    assert [e.text for e in harness.events] == ["fine"]
    await harness.stop()
