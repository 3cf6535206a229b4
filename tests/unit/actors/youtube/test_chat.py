"""`YouTubeChat` against `FakeYouTubeApi`, under a supervisor with a real `StateStore` and
`QuotaRegistry`, on trio's MockClock (autojump).

The store's writer-thread calls are made inline here (`inline_threads`): a thread in flight
would let the autojump clock leap to the next deadline, making timing inexact. Most tests reach
the fake in-process (`httpx.ASGITransport`); the shape tests go over a real socket (hypercorn).
"""

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
from actors.chat import Moderate, SendChat
from actors.events import ChatEvent, PlatformEvent
from actors.publisher import rate_limit_rows
from actors.quotas.registry import QuotaRegistry, QuotaRegistryStatistics
from actors.ratelimit import bucket_view
from actors.store import StateStore, WriterThread
from actors.youtube import livechat
from actors.youtube.chat import YouTubeChat, YouTubeChatStatistics
from actors.youtube.livechat import next_quota_reset
from config.models import CreatorConfig, YouTubeConfig
from config.secrets import Secret, SecretRef
from supervisors import ChildSpec, Supervisor
from tests.fakes.youtube_api import FakeYouTubeApi

T0 = datetime(2026, 11, 21, 20, 0, tzinfo=UTC)  # noon in Los Angeles: 12 h to the reset
API_KEY = "test-api-key"
TOKEN = "ya29.test-oauth-token"
LIST = "GET /liveChat/messages"


def wall() -> datetime:
    """Wall time derived from trio's (mock) clock."""
    return T0 + timedelta(seconds=trio.current_time())


@pytest.fixture
def inline_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run `trio.to_thread.run_sync` work inline (see the module docs)."""

    async def run_sync(fn: Callable[..., Any], *args: Any, **_kwargs: Any) -> Any:
        return fn(*args)

    monkeypatch.setattr(trio.to_thread, "run_sync", run_sync)

    async def run_inline(_thread: WriterThread, fn: Callable[[], Any]) -> Any:
        return fn()

    # The store's own writer thread too.
    monkeypatch.setattr(WriterThread, "run", run_inline)


class Recorder(Actor):
    """Stands in for the trigger engine: keeps every event it is sent."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness

    async def handle(self, message: Any) -> Any:
        self.harness.events.append(message)
        self.harness.changed.set()
        self.harness.changed = trio.Event()


class Harness:
    """root: store, quotas, triggers (Recorder), youtube (YouTubeChat)."""

    def __init__(self, fake: FakeYouTubeApi, tmp_path: Path) -> None:
        self.fake = fake
        self.tmp_path = tmp_path
        self.events: list[PlatformEvent] = []
        self.changed = trio.Event()
        self.instances: list[YouTubeChat] = []
        self.root: Supervisor | None = None

    @property
    def chat(self) -> YouTubeChat:
        return self.instances[-1]

    async def start(
        self,
        nursery: trio.Nursery,
        *,
        api_base: str | None = None,
        video_id: str | None = "vid1",
        channel_id: str | None = None,
        oauth: bool = False,
        daily_quota: int = 1_000_000_000,
        **kwargs: Any,
    ) -> Harness:
        youtube = YouTubeConfig(
            video_id=video_id,
            channel_id=channel_id,
            api_key=Secret(SecretRef(env="YT_KEY"), value=API_KEY),
            oauth_token=Secret(SecretRef(env="YT_TOKEN"), value=TOKEN) if oauth else None,
            daily_quota=daily_quota,
        )
        creator = CreatorConfig(id="daniel", youtube=youtube)
        transport = None if api_base else self.fake.transport()

        def make_chat() -> YouTubeChat:
            chat = YouTubeChat(
                creator_id="daniel",
                config=youtube,
                triggers=lambda: root.lookup("triggers"),
                quotas=lambda: root.lookup("quotas"),
                store=lambda: root.lookup("store"),
                api_base=api_base or "http://youtube.test/youtube/v3",
                transport=transport,
                clock=wall,
                rng=random.Random(3),
                **kwargs,
            )
            self.instances.append(chat)
            return chat

        root = self.root = Supervisor(
            "root",
            [
                ChildSpec("store", lambda: StateStore(self.tmp_path / "db.sqlite3")),
                ChildSpec(
                    "quotas",
                    lambda: QuotaRegistry(
                        [creator],
                        costs={"youtube": livechat.QUOTA_COSTS},
                        store=lambda: root.lookup("store"),
                        clock=wall,
                    ),
                ),
                ChildSpec("triggers", lambda: Recorder(self)),
                ChildSpec("youtube", make_chat),
            ],
        )
        await nursery.start(root.run)
        return self

    async def wait_events(self, count: int) -> None:
        with trio.fail_after(3600):
            while len(self.events) < count:
                await self.changed.wait()


async def eventually(predicate: Callable[[], bool], limit: float = 3600, step: float = 0.5) -> None:
    """Poll `predicate` every `step` (virtual) seconds until it holds."""
    with trio.fail_after(limit):
        while True:
            if predicate():
                return
            await trio.sleep(step)


@pytest.fixture
def fake() -> FakeYouTubeApi:
    api = FakeYouTubeApi(api_keys={API_KEY}, oauth_tokens={TOKEN}, clock=wall)
    api.go_live("vid1", "chat1")
    return api


@pytest.fixture
def harness(fake: FakeYouTubeApi, tmp_path: Path) -> Harness:
    return Harness(fake, tmp_path)


def gaps(calls: list[Any]) -> list[float]:
    return [round(b.at - a.at, 6) for a, b in itertools.pairwise(calls)]


# --------------------------------------------------------------------- over a real socket


async def test_messages_arrive_once_also_across_a_restart(
    autojump_clock, inline_threads, nursery, fake, harness
):
    base = await fake.serve(nursery)
    fake.add_message("chat1", "hello", name="Ann", moderator=True)
    fake.add_message("chat1", "!ping", sponsor=True)
    with structlog.testing.capture_logs() as logs:
        await _restart_scenario(fake, harness, nursery, base)
    assert API_KEY not in repr(logs) and API_KEY not in repr(harness.chat.snapshot())


async def _restart_scenario(
    fake: FakeYouTubeApi, harness: Harness, nursery: trio.Nursery, base: str
) -> None:
    await harness.start(nursery, api_base=base)
    await harness.wait_events(2)
    first = harness.events[0]
    assert isinstance(first, ChatEvent)
    assert (first.platform, first.channel, first.text, first.display_name) == (
        "youtube",
        "chat1",
        "hello",
        "Ann",
    )
    second = harness.events[1]
    assert isinstance(second, ChatEvent)
    assert first.roles == {"moderator"} and second.roles == {"member"}
    assert harness.chat.status == "running" and harness.chat.live_chat_id == "chat1"

    # The API key travels in a header, never in the URL.
    video_call = fake.calls("GET /videos")[0]
    assert video_call.headers["x-goog-api-key"] == API_KEY
    assert "key" not in video_call.query and video_call.query["id"] == "vid1"
    assert fake.calls(LIST)[0].query["part"] == "snippet,authorDetails"

    # A restarted actor polls from the start of the chat again: nothing is delivered twice.
    lists_before = len(fake.calls(LIST))
    assert harness.root is not None
    await harness.root.restart_child("youtube")
    await fake.wait_for(LIST, lists_before + 2)
    assert len(harness.events) == 2
    assert harness.chat.duplicates == 2 and "pageToken" not in fake.calls(LIST)[lists_before].query
    fake.add_message("chat1", "third")
    await harness.wait_events(3)
    await trio.sleep(60)
    texts = [e.text if isinstance(e, ChatEvent) else None for e in harness.events]
    assert texts == ["hello", "!ping", "third"]
    assert len({e.message_id for e in harness.events}) == 3
    await harness.root.stop()


async def test_send_chat_inserts_with_the_token_and_charges_twenty_units(
    autojump_clock, inline_threads, nursery, fake, harness
):
    base = await fake.serve(nursery)
    await harness.start(nursery, api_base=base, oauth=True)
    await fake.wait_for(LIST, 1)
    before = _used(harness)
    await harness.root.lookup("youtube").send(SendChat(text="x" * 250))
    (insert,) = await fake.wait_for("POST /liveChat/messages", 1)
    assert insert.headers["authorization"] == f"Bearer {TOKEN}"
    assert insert.query == {"part": "snippet"}
    snippet = insert.json["snippet"]
    assert snippet["liveChatId"] == "chat1" and snippet["type"] == "textMessageEvent"
    assert snippet["textMessageDetails"]["messageText"] == "x" * 200  # cut at 200
    await eventually(lambda: harness.chat.sent == 1)
    lists = len(fake.calls(LIST)) - 1  # polls charged since `before` was read (5 units each)
    assert _used(harness) - before == 20 + 5 * lists
    assert harness.chat.truncated == 1
    snap = harness.chat.snapshot()
    assert isinstance(snap, YouTubeChatStatistics)
    assert snap.actions == 1 and snap.sent == 1 and snap.truncated == 1
    (bucket,) = snap.rate_limits
    assert bucket.scope == "creator:daniel/youtube/chat" and bucket.taken == 1
    # The publisher's rate_limits.json rows read it from the tree (same trio time, same figures).
    assert rate_limit_rows(harness.root.tree()) == (bucket_view(bucket),)
    await harness.root.stop()


def _used(harness: Harness) -> int:
    assert harness.root is not None
    row = next(r for r in harness.root.tree() if r.path == "root/quotas")
    assert isinstance(row.detail, QuotaRegistryStatistics)
    (quota,) = row.detail.quotas
    return quota.used


# --------------------------------------------------------------------- in-process transport


async def test_polling_follows_polling_interval_millis(
    autojump_clock, inline_threads, nursery, fake, harness
):
    fake.polling_interval_ms = 7000
    await harness.start(nursery)
    calls = await fake.wait_for(LIST, 5)
    assert gaps(calls[:5]) == [7.0] * 4
    tokens = [c.query.get("pageToken") for c in calls[:3]]
    assert tokens == [None, "tok0", "tok0"]
    fake.add_message("chat1", "hi")
    calls = await fake.wait_for(LIST, len(fake.calls(LIST)) + 2)
    assert calls[-1].query["pageToken"] == "tok1"
    assert harness.chat.snapshot().polling_interval == 7.0
    await harness.root.stop()


async def test_polling_stretches_so_the_budget_lasts_until_the_reset(
    autojump_clock, inline_threads, nursery, fake, harness
):
    fake.polling_interval_ms = 2000
    # 2,000 units, 200 held in reserve: after videos.list (1) and the first poll (5), 1,794
    # units = 358 polls for the 43,200 s until midnight in Los Angeles.
    await harness.start(nursery, daily_quota=2000)
    calls = await fake.wait_for(LIST, 3)
    first, second = gaps(calls[:3])
    assert first == pytest.approx(43_200 / 358, abs=1e-3)
    assert second == pytest.approx((43_200 - first) / 357, abs=1e-3)
    snap = harness.chat.snapshot()
    assert snap.polling_interval is not None and snap.polling_interval > 2.0
    assert snap.quota_status == "ok"
    await harness.root.stop()


async def test_an_exhausted_budget_pauses_until_the_reset(
    autojump_clock, inline_threads, nursery, fake, harness
):
    fake.polling_interval_ms = 1000
    # 50 units, 5 in reserve: videos.list (1) + polls; once only the reserve is left the
    # registry paces to an hour, then refuses; the actor pauses until midnight in LA.
    await harness.start(nursery, daily_quota=50)
    reset = next_quota_reset(T0)
    await eventually(lambda: harness.chat.status == "paused", limit=12 * 3600, step=60)
    snap = harness.chat.snapshot()
    assert snap.paused_reason == "quota exhausted until 2026-11-22T08:00:00Z"
    assert snap.quota_status == "exhausted" and snap.quota_reset_at == reset
    polls = len(fake.calls(LIST))
    assert 1 + 5 * polls <= 50
    await trio.sleep((reset - wall()).total_seconds() - 1)
    assert len(fake.calls(LIST)) == polls  # nothing while paused
    calls = await fake.wait_for(LIST, polls + 1)
    assert calls[-1].at >= (reset - T0).total_seconds()
    await eventually(lambda: harness.chat.status == "running")
    await harness.root.stop()


async def test_quota_exceeded_from_the_api_pauses_until_the_reset(
    autojump_clock, inline_threads, nursery, fake, harness
):
    fake.fail(403, "quotaExceeded", path="/liveChat/messages")
    await harness.start(nursery)
    await eventually(lambda: harness.chat.status == "paused")
    assert harness.chat.paused_reason == "quota exhausted until 2026-11-22T08:00:00Z"
    await trio.sleep(11 * 3600)
    assert len(fake.calls(LIST)) == 1
    calls = await fake.wait_for(LIST, 2)
    assert calls[1].at >= 12 * 3600
    await eventually(lambda: harness.chat.status == "running")
    assert harness.chat.snapshot().api_errors == {"quotaExceeded": 1}
    await harness.root.stop()


async def test_an_ended_chat_is_rediscovered_on_a_slow_schedule(
    autojump_clock, inline_threads, nursery, fake, harness
):
    fake.add_message("chat1", "before")
    await harness.start(nursery, rediscover_seconds=120.0)
    await harness.wait_events(1)
    fake.end_stream("vid1")
    await eventually(lambda: harness.chat.status == "inactive")
    assert harness.chat.live_chat_id is None and harness.chat.chats_ended == 1
    videos_before = len(fake.calls("GET /videos"))
    await trio.sleep(1200)
    videos = fake.calls("GET /videos")[videos_before - 1 :]
    assert len(videos) - 1 <= 10  # at most one look per 120 s
    assert all(g >= 120 for g in gaps(videos))
    # The creator goes live again with a new chat: found and read.
    fake.go_live("vid1", "chat2")
    fake.add_message("chat2", "after")
    await harness.wait_events(2)
    assert harness.events[-1].channel == "chat2" and harness.chat.live_chat_id == "chat2"
    await harness.root.stop()


async def test_offline_at_ends_the_chat(autojump_clock, inline_threads, nursery, harness):
    harness.fake.offline_at_on_end = True
    await harness.start(nursery)
    await harness.fake.wait_for(LIST, 1)
    harness.fake.end_stream("vid1")
    await eventually(lambda: harness.chat.chats_ended == 1)
    await harness.root.stop()


async def test_server_errors_back_off_without_a_tight_loop(
    autojump_clock, inline_threads, nursery, fake, harness
):
    await harness.start(nursery)
    await fake.wait_for(LIST, 1)
    fake.fail(503, "backendError", times=1000, path="/liveChat/messages")
    start = len(fake.calls(LIST))
    await trio.sleep(3600)
    failed = len(fake.calls(LIST)) - start
    # 1, 2, 4, ... 300 s (+-20%): about 20 attempts in an hour, never hundreds.
    assert 8 <= failed <= 25
    assert harness.chat.status == "error"
    assert harness.chat.snapshot().api_errors["backendError"] == failed
    fake._failures.clear()
    await eventually(lambda: harness.chat.status == "running")
    await harness.root.stop()


async def test_rate_limit_exceeded_and_unreadable_bodies_back_off(
    autojump_clock, inline_threads, nursery, fake, harness
):
    fake.fail(403, "rateLimitExceeded", path="/liveChat/messages")
    fake.fail_raw(502, "<html>bad gateway</html>", path="/liveChat/messages")
    fake.add_message("chat1", "still here")
    await harness.start(nursery)
    await harness.wait_events(1)
    calls = fake.calls(LIST)
    assert len(calls) == 3 and all(g >= 0.8 for g in gaps(calls))
    assert harness.chat.snapshot().api_errors == {"http502": 1, "rateLimitExceeded": 1}
    await harness.root.stop()


async def test_a_stalled_response_times_out_and_is_retried(
    autojump_clock, inline_threads, nursery, fake, harness
):
    fake.add_message("chat1", "hi")
    fake.stall(2)
    await harness.start(nursery, request_timeout=10.0)
    await harness.wait_events(1)
    assert harness.chat.timeouts == 2
    assert harness.chat.snapshot().timeouts == 2
    await harness.root.stop()


async def test_forbidden_is_an_error_state_with_a_slow_retry(
    autojump_clock, inline_threads, nursery, fake, harness
):
    fake.fail(403, "forbidden", times=100, path="/videos")
    await harness.start(nursery, error_retry_initial=60.0, error_retry_maximum=3600.0)
    await eventually(lambda: harness.chat.status == "error")
    assert "forbidden" in (harness.chat.error or "")
    await trio.sleep(4 * 3600)
    # 60, 120, 240, ... 3600 s: a handful of attempts in four hours.
    assert 5 <= len(fake.calls("GET /videos")) <= 12
    await harness.root.stop()


async def test_send_without_oauth_is_dropped_with_a_reason(
    autojump_clock, inline_threads, nursery, fake, harness
):
    await harness.start(nursery)
    await fake.wait_for(LIST, 1)
    await harness.root.lookup("youtube").send(SendChat(text="hi"))
    await eventually(lambda: harness.chat.dropped == 1)
    assert harness.chat.snapshot().dropped_reasons == {"no_oauth": 1}
    assert fake.calls("POST /liveChat/messages") == []
    await harness.root.stop()


async def test_broadcasts_of_the_token_owner_are_found(
    autojump_clock, inline_threads, nursery, fake, harness
):
    fake.add_message("chat1", "hi")
    await harness.start(nursery, video_id=None, channel_id="UCfakechannel", oauth=True)
    await harness.wait_events(1)
    (call,) = fake.calls("GET /liveBroadcasts")
    assert call.query["broadcastStatus"] == "active"
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert fake.calls("GET /search") == []
    await harness.root.stop()


async def test_a_channel_is_found_by_a_budgeted_search(
    autojump_clock, inline_threads, nursery, fake, harness
):
    fake.chats.clear()
    fake.videos.clear()
    await harness.start(
        nursery,
        video_id=None,
        channel_id="UCfakechannel",
        rediscover_seconds=120.0,
        search_interval=1800.0,
    )
    await trio.sleep(3600)
    # Not live: one search per 30 minutes at most (100 units each), not one per look.
    assert 1 <= len(fake.calls("GET /search")) <= 2
    fake.go_live("live9", "chat9", channel_id="UCfakechannel")
    fake.add_message("chat9", "found me")
    await harness.wait_events(1)
    assert harness.chat.video_id == "live9"
    await harness.root.stop()


# ------------------------------------------------------------------- health as others see it


def youtube_entry(root: Supervisor) -> Any:
    from exports.health import platform_rows

    rows = platform_rows(root.tree(), configured={"youtube": True})
    return next(r for r in rows if r.platform == "youtube")


async def test_health_names_server_errors_and_refusals(
    autojump_clock, inline_threads, nursery, fake, harness
):
    from exports.health import status_report

    await harness.start(nursery)
    await fake.wait_for(LIST, 1)
    await eventually(lambda: status_report(harness.root.tree()).ok)
    fake.fail(503, "backendError", times=2, path="/liveChat/messages")
    await eventually(lambda: youtube_entry(harness.root).error is not None)
    entry = youtube_entry(harness.root)
    assert (entry.status, entry.state) == ("error", "reconnecting")
    assert entry.error == "HTTP 503 from youtube.test: liveChatMessages.list: 503 backendError"
    [bad] = status_report(harness.root.tree()).degraded
    assert bad.path == "root/youtube" and bad.reason == entry.error
    await eventually(lambda: status_report(harness.root.tree()).ok)
    await harness.root.stop()


async def test_an_exhausted_quota_is_paused_not_degraded(
    autojump_clock, inline_threads, nursery, fake, harness
):
    from exports.health import status_report

    fake.fail(403, "quotaExceeded", path="/liveChat/messages")
    await harness.start(nursery)
    await eventually(lambda: harness.chat.status == "paused")
    entry = youtube_entry(harness.root)
    assert (entry.status, entry.state) == ("paused", "paused")
    assert entry.paused_reason == "quota exhausted until 2026-11-22T08:00:00Z"
    assert status_report(harness.root.tree()).ok  # deliberate: not a failure
    await harness.root.stop()


async def test_health_names_a_refused_port_and_a_refused_key(
    autojump_clock, inline_threads, nursery, fake, harness, tmp_path
):
    from exports.health import status_report

    with trio.socket.socket() as sock:
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    await harness.start(nursery, api_base=f"http://127.0.0.1:{port}/youtube/v3")
    await eventually(lambda: youtube_entry(harness.root).error is not None)
    assert youtube_entry(harness.root).error == "connection refused by 127.0.0.1"
    assert status_report(harness.root.tree()).status == "degraded"
    await harness.root.stop()


async def test_health_of_a_refused_key_needs_a_person(
    autojump_clock, inline_threads, nursery, fake, harness
):
    fake.fail(401, "authError", times=100, path="/videos")
    await harness.start(nursery)
    await eventually(lambda: youtube_entry(harness.root).error is not None)
    entry = youtube_entry(harness.root)
    assert (entry.status, entry.state) == ("error", "failed")
    assert entry.error.startswith("HTTP 401 from youtube.test")


HOSTILE_BODIES = [
    '{"items": ' + "[" * 100_000 + "]" * 100_000 + "}",  # nested 100,000 deep
    '{"pollingIntervalMillis": ' + "9" * 5000 + ', "items": []}',  # past the int-string limit
    '{"pollingIntervalMillis": 1e400, "items": []}',  # beyond float range
    '{"items": {"id": "x"}}',  # wrong type
]


async def test_hostile_bodies_are_counted_rejections_not_crashes(
    autojump_clock, inline_threads, nursery, fake, harness
):
    for body in HOSTILE_BODIES:
        fake.fail_raw(200, body, path="/liveChat/messages")
    fake.add_message("chat1", "after the storm")
    await harness.start(nursery)
    await harness.wait_events(1)
    assert len(harness.instances) == 1  # never restarted
    assert harness.chat.parse_errors >= len(HOSTILE_BODIES)
    await harness.root.stop()


# --------------------------------------------------------------------- filter moderation


def _moderate(action: str, message_id: str | None, seconds: int | None = None) -> Moderate:
    return Moderate(
        action=action,
        message_id=message_id,
        user_id="UCviewer0000000000000001",
        login="Viewer One",
        seconds=seconds,
        reason="links: a link",
        filter_id="links",
    )


async def test_a_filter_deletes_and_times_out_with_the_token_and_charges_the_quota(
    autojump_clock, inline_threads, nursery, fake, harness
):
    spam = fake.add_message("chat1", "buy followers at spam.example")
    await harness.start(nursery, oauth=True)
    await harness.wait_events(1)
    assert harness.root is not None
    youtube = harness.root.lookup("youtube")
    before = _used(harness)
    lists_before = len(fake.calls(LIST))
    await youtube.send(_moderate("delete", spam))
    await youtube.send(_moderate("timeout", spam, seconds=300))
    await eventually(lambda: harness.chat.moderation.counts["done"] == 2, step=0.01)
    (deleted,) = fake.calls("DELETE /liveChat/messages")
    assert deleted.query == {"id": spam}
    assert deleted.headers["authorization"] == f"Bearer {TOKEN}"
    (ban,) = fake.calls("POST /liveChat/bans")
    assert ban.query == {"part": "snippet"}
    assert ban.json["snippet"] == {
        "liveChatId": "chat1",
        "type": "temporary",
        "banDurationSeconds": "300",
        "bannedUserDetails": {"channelId": "UCviewer0000000000000001"},
    }
    polls = len(fake.calls(LIST)) - lists_before  # 5 units each, charged meanwhile
    assert _used(harness) - before == 50 + 200 + 5 * polls
    assert harness.chat.snapshot().moderation.done == 2
    await harness.root.stop()


async def test_a_youtube_403_is_a_counted_refusal_naming_the_scope(
    autojump_clock, inline_threads, nursery, fake, harness
):
    spam = fake.add_message("chat1", "spam")
    await harness.start(nursery, oauth=True)
    await harness.wait_events(1)
    fake.fail(403, "forbidden", path="/liveChat/messages")
    assert harness.root is not None
    with structlog.testing.capture_logs() as logs:
        await harness.root.lookup("youtube").send(_moderate("delete", spam))
        await eventually(lambda: harness.chat.moderation.counts["refused"] == 1, step=0.01)
    (refused,) = [e for e in logs if e.get("outcome") == "refused"]
    assert "https://www.googleapis.com/auth/youtube" in refused["event"]
    assert TOKEN not in repr(logs)
    assert harness.chat.status == "running"  # polling goes on
    await harness.root.stop()


async def test_without_a_token_youtube_moderation_is_counted_unsupported(
    autojump_clock, inline_threads, nursery, fake, harness
):
    await harness.start(nursery)
    assert harness.root is not None
    await harness.root.lookup("youtube").call(_moderate("delete", "m1"))
    assert harness.chat.moderation.counts["unsupported"] == 1
    assert fake.calls("DELETE /liveChat/messages") == []
    await harness.root.stop()
