"""`LiveMonitor` + `HelixClient` against `FakeHelix`, with a real `StateStore`."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import trio

from actors import Actor, ActorStatistics
from actors.connection import ConnectionState
from actors.events import StreamEnded, StreamStarted
from actors.notify.rules import NotifyRule
from actors.store import Read, StateStore
from actors.twitch.app_helix import HelixClient
from actors.watch import (
    EventSubChannels,
    EventSubCoverage,
    LiveMonitor,
    LiveMonitorStatistics,
    PollNow,
    WatchAdd,
    WatchList,
    WatchRemove,
    WebhookStatistics,
    WebhookStats,
)
from state import outbox
from state import streams as sessions
from supervisors import Backoff, ChildSpec, Supervisor
from tests.fakes.helix import FakeHelix


class Recorder(Actor):
    """Keeps every message (stands in for the notification dispatcher)."""

    seen: list[Any] = []

    async def handle(self, message: Any) -> None:
        Recorder.seen.append(message)


async def until(predicate: Any) -> None:
    with trio.fail_after(10):
        while not predicate():  # noqa: ASYNC110 - actor state has no event to wait on
            await trio.sleep(0.01)


async def tree(
    nursery: trio.Nursery, tmp_path: Path, helix: HelixClient | None, **kwargs: Any
) -> tuple[Supervisor, LiveMonitor]:
    Recorder.seen = []
    made: list[LiveMonitor] = []

    def monitor() -> LiveMonitor:
        made.append(
            LiveMonitor(
                store=lambda: sup.ref("store"),
                helix=helix,
                notifier=lambda: sup.ref("notifier"),
                **({"poll_seconds": 3600, "autopoll": False} | kwargs),
            )
        )
        return made[-1]

    sup = Supervisor(
        "root",
        [
            ChildSpec("store", lambda: StateStore(tmp_path / "state.sqlite3")),
            ChildSpec("notifier", Recorder),
            ChildSpec("watch", monitor),
        ],
        backoff=Backoff(initial=0),
    )
    await nursery.start(sup.run)
    return sup, made[-1]


def client(fake: FakeHelix) -> HelixClient:
    return HelixClient(
        client_id="client-id",
        client_secret="client-secret",
        helix_base=fake.helix_base,
        oauth_base=fake.oauth_base,
    )


async def open_sessions(sup: Supervisor) -> list[sessions.StreamSession]:
    rows = await sup.ref("store").call(Read(fn=sessions.list_sessions))
    return [s for s in rows if s.ended_at is None]


async def test_polls_batches_pages_and_records_transitions(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    fake: FakeHelix = await nursery.start(FakeHelix().serve)
    streamers = [f"streamer{i:03d}" for i in range(250)]  # 3 requests of <= 100 logins
    for login in streamers[:5]:
        fake.go_live(login)
    for i in range(150):  # a watched game with 150 other live streams: 2 pages of 100
        fake.go_live(f"gamer{i:03d}", game_id="33214")
    helix = client(fake)
    sup, monitor = await tree(nursery, tmp_path, helix, streamers=streamers, games=["33214"])

    result = await sup.ref("watch").call(PollNow())
    assert result.live == 155 and len(result.started) == 155
    logins = [c for c in fake.calls() if any(k == "user_login" for k, _ in c.params)]
    assert len(logins) == 3 and all(
        sum(k == "user_login" for k, _ in c.params) <= 100 for c in logins
    )
    games = [c for c in fake.calls() if any(k == "game_id" for k, _ in c.params)]
    assert len(games) == 2 and ("after", "100") in games[1].params
    assert result.requests == 1 + 3 + 2  # the token, then the streams requests
    assert len(await open_sessions(sup)) == 155
    await until(lambda: len(Recorder.seen) == 155)
    started = [m for m in Recorder.seen if isinstance(m, StreamStarted)]
    assert {m.channel for m in started} == set(streamers[:5]) | {
        f"gamer{i:03d}" for i in range(150)
    }
    first = next(m for m in started if m.channel == "streamer000")
    assert first.title == "live now" and first.viewer_count == 10

    # The same answer again: no transition, no duplicate session.
    again = await sup.ref("watch").call(PollNow())
    assert again.started == () and again.ended == ()
    assert len(Recorder.seen) == 155

    # One goes offline: its session ends and StreamEnded goes out.
    fake.go_offline("streamer001")
    # An expired token is replaced on the 401 without failing the scan.
    fake.expire_tokens()
    ended = await sup.ref("watch").call(PollNow())
    assert ended.ended == ("streamer001",)
    assert fake.token_grants == 2
    await until(lambda: len(Recorder.seen) == 156)
    assert isinstance(Recorder.seen[-1], StreamEnded)
    rows = await sup.ref("store").call(
        Read(fn=lambda c: sessions.list_sessions(c, channel="streamer001"))
    )
    assert rows[0].ended_at is not None
    snap = monitor.snapshot()
    assert snap.polls == 3 and snap.started == 155 and snap.ended == 1
    assert "client-secret" not in repr(snap) and "app-token" not in repr(snap)
    await sup.stop()
    await helix.aclose()


async def test_waits_for_the_bucket_reset_instead_of_hitting_429(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    fake: FakeHelix = await nursery.start(FakeHelix().serve)
    streamers = [f"s{i}" for i in range(150)]  # two requests
    fake.go_live("s1")
    helix = client(fake)
    sup, _monitor = await tree(nursery, tmp_path, helix, streamers=streamers)
    fake.set_bucket(remaining=1, reset_in=0.3)  # the first answer says: 0 left until reset
    result = await sup.ref("watch").call(PollNow(), timeout=10)
    assert result.started == ("s1",)
    statuses = [c.status for c in fake.calls()]
    assert statuses == [200, 200]  # waited for the reset: no 429
    assert helix.rate_limit_waits >= 1

    # A 429 anyway (another client shares the bucket): wait for the reset and retry.
    fake.set_bucket(remaining=0, reset_in=0.3)
    await sup.ref("watch").call(PollNow(), timeout=10)
    later = [c.status for c in fake.calls()][2:]
    # Both requests were in flight on the old bucket figure; each 429 is retried once, after
    # the reset, never hammered.
    assert later[-2:] == [200, 200] and set(later[:-2]) == {429} and len(later) <= 4
    await sup.stop()
    await helix.aclose()


async def test_a_failed_scan_ends_nothing(nursery: trio.Nursery, tmp_path: Path) -> None:
    fake: FakeHelix = await nursery.start(FakeHelix().serve)
    fake.go_live("daniel")
    helix = client(fake)
    sup, _monitor = await tree(nursery, tmp_path, helix, streamers=["daniel"])
    await sup.ref("watch").call(PollNow())
    fake.go_offline("daniel")
    fake.client_secret = "rotated"  # the token grant now fails
    fake.expire_tokens()
    try:
        await sup.ref("watch").call(PollNow())
    except Exception:
        pass
    assert len(await open_sessions(sup)) == 1  # still live: a failure is not "offline"
    await sup.stop()
    await helix.aclose()


async def test_kick_and_webhook_events_and_watch_messages(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    rule = NotifyRule(id="kick-live", platform="kick", webhook_url="http://127.0.0.1:1/x")
    sup, monitor = await tree(nursery, tmp_path, None, kick_channels=["xqc"], rules=[rule])
    from datetime import UTC, datetime

    at = datetime(2026, 11, 21, 20, 0, tzinfo=UTC)
    live = StreamStarted(platform="kick", channel="xQc", message_id="k1", sent_at=at, raw_type="x")
    assert await sup.ref("watch").call(live) is True
    assert await sup.ref("watch").call(live) is False  # already live: nothing new
    other = StreamStarted(
        platform="kick", channel="nobody", message_id="k2", sent_at=at, raw_type="x"
    )
    assert await sup.ref("watch").call(other) is False  # not watched
    entries = await sup.ref("store").call(Read(fn=outbox.list_outbox))
    assert [e.dedupe_key for e in entries] == [f"kick:xqc:{int(at.timestamp() * 1000)}:kick-live"]
    assert entries[0].destination == "webhook:kick-live"  # never the URL
    assert "127.0.0.1" not in repr(entries[0])
    await sup.ref("watch").call(
        StreamEnded(platform="kick", channel="xqc", message_id=None, sent_at=at, raw_type="x")
    )
    await until(lambda: len(Recorder.seen) == 2)
    assert [type(m).__name__ for m in Recorder.seen] == ["StreamStarted", "StreamEnded"]

    assert await sup.ref("watch").call(WatchAdd(kind="twitch", value="Daniel")) is True
    assert await sup.ref("watch").call(WatchAdd(kind="twitch", value="daniel")) is False
    assert await sup.ref("watch").call(WatchAdd(kind="twitch", value="no spaces")) is None
    assert await sup.ref("watch").call(WatchAdd(kind="twitch_game", value="abc")) is None
    listed = await sup.ref("watch").call(WatchList())
    assert listed["twitch"] == ["daniel"] and listed["kick"] == ["xqc"]
    assert await sup.ref("watch").call(WatchRemove(kind="twitch", value="DANIEL")) is True
    assert await sup.ref("watch").call(WatchRemove(kind="twitch", value="daniel")) is False
    assert monitor.snapshot().ignored == 3
    await sup.stop()


async def test_a_reported_transition_applies_once_and_kicks_shared_stream_id_is_not_a_replay(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    sup, monitor = await tree(nursery, tmp_path, None, kick_channels=["xqc"])
    at = datetime(2026, 11, 21, 20, 0, tzinfo=UTC)
    # Kick names both transitions by the livestream's id.
    live = StreamStarted(platform="kick", channel="xqc", message_id="55", sent_at=at, raw_type="x")
    off = StreamEnded(platform="kick", channel="xqc", message_id="55", sent_at=at, raw_type="x")
    assert await sup.ref("watch").call(live) is True
    assert await sup.ref("watch").call(off) is True
    assert await sup.ref("watch").call(live) is False  # the same report again: applied once
    stored = await sup.ref("store").call(Read(fn=sessions.list_sessions))
    assert len(stored) == 1 and await open_sessions(sup) == []
    assert monitor.snapshot().duplicates == 1
    assert monitor.snapshot().live == ()
    await sup.stop()


def polled_logins(fake: FakeHelix) -> set[str]:
    return {v for c in fake.calls() for k, v in c.params if k == "user_login"}


async def test_a_channel_eventsub_reports_is_not_polled_until_eventsub_stops(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    fake: FakeHelix = await nursery.start(FakeHelix().serve)
    fake.go_live("daniel", user_id="1337")
    fake.go_live("other")
    helix = client(fake)
    sup, monitor = await tree(nursery, tmp_path, helix, streamers=["daniel", "other"])
    watch = sup.ref("watch")
    await watch.call(EventSubCoverage(channel="Daniel", user_id="1337", covered=True))
    at = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
    online = StreamStarted(
        platform="twitch", channel="daniel", message_id="es-1", sent_at=at, raw_type="x"
    )
    assert await watch.call(online) is True
    result = await watch.call(PollNow())
    assert result.started == ("other",)
    assert polled_logins(fake) == {"other"}  # daniel is EventSub's
    # Helix lags behind EventSub: its "not live" for daniel must not end his stream.
    fake.go_offline("daniel")
    assert (await watch.call(PollNow())).ended == ()
    await until(lambda: len(Recorder.seen) == 2)
    assert sorted(m.channel for m in Recorder.seen) == ["daniel", "other"]  # each once
    assert monitor.snapshot().eventsub.channels == ("daniel",)

    # The EventSub subscription is revoked: polling resumes, visibly, and is authoritative.
    reason = "Twitch revoked stream.online (authorization_revoked): log in again"
    await watch.call(EventSubCoverage(channel="daniel", covered=False, reason=reason))
    snap = monitor.snapshot().eventsub
    assert snap.channels == () and snap.resumed[0].reason == reason
    assert (await watch.call(PollNow())).ended == ("daniel",)
    assert "daniel" in polled_logins(fake)
    await sup.stop()
    await helix.aclose()


async def test_eventsub_coverage_that_is_not_renewed_lapses_and_polling_resumes(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    fake: FakeHelix = await nursery.start(FakeHelix().serve)
    helix = client(fake)
    sup, monitor = await tree(nursery, tmp_path, helix, streamers=["daniel"])
    watch = sup.ref("watch")
    await watch.call(EventSubCoverage(channel="daniel", covered=True, lease=0.05))
    with trio.fail_after(10):
        while "daniel" not in polled_logins(fake):
            await watch.call(PollNow())  # each poll checks the lease
    assert "stopped renewing" in monitor.snapshot().eventsub.resumed[0].reason
    await sup.stop()
    await helix.aclose()


HOSTILE_BODIES = [
    b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",  # nested 100,000 deep
    b'{"data": [{"viewer_count": ' + b"9" * 5000 + b"}]}",  # past the int-string limit
    b'{"data": [], "pagination": {"cursor": 1e400}}',  # beyond float range
    b'{"data": {"id": "1"}}',  # wrong type
]


async def test_hostile_helix_answers_are_counted_rejections_not_crashes(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    fake: FakeHelix = await nursery.start(FakeHelix().serve)
    fake.go_live("daniel")
    for body in HOSTILE_BODIES:
        fake.answer_raw(body)
    helix = client(fake)
    sup, monitor = await tree(
        nursery, tmp_path, helix, streamers=["daniel"], autopoll=True, poll_seconds=0.01
    )
    await until(lambda: monitor.poll_failures >= len(HOSTILE_BODIES))
    (child,) = [c for c in sup.which_children() if c.id == "watch"]
    assert child.restarts == 0 and monitor.poll_failures == len(HOSTILE_BODIES)
    await until(lambda: monitor.error is None)  # the next real answer is read again
    await sup.stop()
    await helix.aclose()


# --- health on the shared lifecycle: refused, DNS, HTTP 401/5xx, silent server ---------------


def helix_via(transport: httpx.AsyncBaseTransport, **kw: Any) -> HelixClient:
    return HelixClient(
        client_id="client-id",
        client_secret="client-secret",
        helix_base="https://api.twitch.tv/helix",
        oauth_base="https://id.twitch.tv/oauth2",
        transport=transport,
        **kw,
    )


def answering(streams_status: int) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        body = {"error": "x", "status": streams_status, "message": "fake answer"}
        return httpx.Response(streams_status, json=body)

    return httpx.MockTransport(answer)


async def polling(nursery: trio.Nursery, tmp_path: Path, helix: HelixClient) -> LiveMonitor:
    _sup, monitor = await tree(nursery, tmp_path, helix, streamers=["daniel"])
    monitor.autopoll = True
    monitor.poll_seconds = 0.05
    monitor.lifecycle.backoff = Backoff(initial=0.05, maximum=0.1, jitter=0)
    monitor.lifecycle.person_backoff = Backoff(initial=0.05, maximum=0.1, jitter=0)
    monitor.nursery.start_soon(monitor.run)
    return monitor


async def test_refused_helix_reads_reconnecting_then_recovers(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    fake: FakeHelix = await nursery.start(FakeHelix().serve)
    helix = HelixClient(
        client_id="client-id",
        client_secret="client-secret",
        helix_base="http://127.0.0.1:9/helix",
        oauth_base="http://127.0.0.1:9/oauth2",
    )
    monitor = await polling(nursery, tmp_path, helix)
    await until(lambda: monitor.health().connect_failures >= 2)
    health = monitor.health()
    assert health.state is ConnectionState.RECONNECTING and health.failing
    assert health.last_error == "connection refused by 127.0.0.1"
    assert monitor.snapshot().status == "error"
    # The API comes back: the next scan succeeds and the health says so.
    helix._helix_base, helix._oauth_base = fake.helix_base, fake.oauth_base
    await until(lambda: monitor.health().state is ConnectionState.CONNECTED)
    assert monitor.health().error is None and monitor.snapshot().error is None


async def test_dns_failure_names_the_helix_host(nursery: trio.Nursery, tmp_path: Path) -> None:
    def no_dns(request: httpx.Request) -> httpx.Response:
        try:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        except socket.gaierror as exc:
            raise httpx.ConnectError("name resolution", request=request) from exc

    monitor = await polling(nursery, tmp_path, helix_via(httpx.MockTransport(no_dns)))
    await until(lambda: monitor.health().connect_failures >= 1)
    assert monitor.health().last_error == "DNS lookup failed for id.twitch.tv"


async def test_helix_401_needs_a_person(nursery: trio.Nursery, tmp_path: Path) -> None:
    monitor = await polling(nursery, tmp_path, helix_via(answering(401)))
    await until(lambda: monitor.health().state is ConnectionState.FAILED)
    health = monitor.health()
    assert health.last_error == "HTTP 401 from api.twitch.tv: fake answer"
    assert monitor.snapshot().status == "error"


async def test_refused_app_credentials_need_a_person(nursery: trio.Nursery, tmp_path: Path) -> None:
    fake: FakeHelix = await nursery.start(FakeHelix(client_secret="other").serve)
    monitor = await polling(nursery, tmp_path, client(fake))
    await until(lambda: monitor.health().state is ConnectionState.FAILED)
    assert monitor.health().last_error == "HTTP 400 from 127.0.0.1: invalid client"


async def test_helix_5xx_is_retried_with_backoff(nursery: trio.Nursery, tmp_path: Path) -> None:
    monitor = await polling(nursery, tmp_path, helix_via(answering(503)))
    await until(lambda: monitor.health().connect_failures >= 3)
    health = monitor.health()
    assert health.state is ConnectionState.RECONNECTING
    assert health.last_error == "HTTP 503 from api.twitch.tv: fake answer"
    assert monitor.poll_failures >= 3


async def test_silent_helix_is_a_timeout(nursery: trio.Nursery, tmp_path: Path) -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    held: list[trio.SocketStream] = []

    async def hold() -> None:
        while True:  # accept and never answer
            held.append(await listeners[0].accept())

    nursery.start_soon(hold)
    helix = HelixClient(
        client_id="client-id",
        client_secret="client-secret",
        helix_base=f"http://127.0.0.1:{port}/helix",
        oauth_base=f"http://127.0.0.1:{port}/oauth2",
        timeout=0.2,
    )
    monitor = await polling(nursery, tmp_path, helix)
    await until(lambda: monitor.health().connect_failures >= 1)
    health = monitor.health()
    assert health.state is ConnectionState.RECONNECTING
    assert health.last_error == "no answer from 127.0.0.1 in time (read)"


async def test_the_snapshot_is_a_frozen_typed_value(nursery: trio.Nursery, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    webhook = WebhookStats()
    webhook.rejected["stale"] += 2
    sup, monitor = await tree(
        nursery, tmp_path, None, kick_channels=["xqc"], games=["33214"], webhook_stats=webhook
    )
    at = datetime(2026, 11, 21, 20, 0, tzinfo=UTC)
    live = StreamStarted(platform="kick", channel="xqc", message_id="55", sent_at=at, raw_type="x")
    assert await sup.ref("watch").call(live) is True
    await sup.ref("watch").call(EventSubCoverage(channel="Daniel", covered=True))

    snap = monitor.snapshot()
    assert isinstance(snap, LiveMonitorStatistics) and isinstance(snap, ActorStatistics)
    assert snap.platform == "watch" and snap.status == "running" and snap.enabled
    assert snap.watches == {"twitch": 0, "twitch_id": 0, "twitch_game": 1, "kick": 1}
    assert snap.live == ("kick:xqc",) and snap.started == 1
    assert isinstance(snap.last_event_at, datetime) and snap.last_poll_at is None
    assert snap.rate_limit_remaining is None  # no Helix client
    assert snap.eventsub == EventSubChannels(channels=("daniel",))
    assert isinstance(snap.webhook, WebhookStatistics)
    assert snap.webhook.rejected == {"stale": 2} and snap.webhook.rejected_total == 2
    # The row the tree shows is that value too.
    assert isinstance({r.path: r for r in sup.tree()}["root/watch"].detail, LiveMonitorStatistics)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        snap.started = 0  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        snap.eventsub.channels = ()  # type: ignore[misc]
    await sup.stop()
