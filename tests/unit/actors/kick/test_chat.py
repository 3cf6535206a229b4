"""`KickChat` against local fakes, under a supervisor, on trio's MockClock (autojump).

`FakePusher` (a Pusher websocket server on loopback) stands in for Kick's chat and
`FakeKickApi` (an httpx transport) for the public chat API; only time is mocked, so every
deadline (ping after `activity_timeout`, pong timeout, backoff, Retry-After) is exact. The
same actor against a real soketi is in `tests/integration/test_kick_soketi.py`.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
import structlog
import trio

from actors import Actor
from actors.chat import Moderate, SendChat
from actors.events import ChatEvent, PlatformEvent, StreamEnded, StreamStarted
from actors.kick.chat import KickChat, KickChatStatistics
from actors.moderation import ModerationStatistics
from config.models import KickConfig
from supervisors import ChildSpec, Supervisor
from tests.fakes.kick_api import FakeKickApi
from tests.fakes.kick_pusher import FakePusher

CORPUS = Path(__file__).resolve().parents[3] / "conformance" / "data" / "kick_pusher.jsonl"
CHATROOM = 2507974
CHANNEL_ID = 2515504


def corpus_chat_payload() -> dict[str, Any]:
    """The decoded `data` of the real ChatMessageEvent capture in the conformance corpus."""
    for text in CORPUS.read_text(encoding="utf-8").splitlines():
        item = json.loads(text)
        if item["kind"] == "pusher_frame" and "ChatMessageEvent" in item["raw"]:
            return json.loads(json.loads(item["raw"])["data"])
    raise AssertionError("no ChatMessageEvent in the corpus")


async def eventually(predicate: Callable[[], bool]) -> None:
    """Poll `predicate` (actor state changes have no event to wait on)."""
    with trio.fail_after(600):
        while True:
            if predicate():
                return
            await trio.sleep(0.01)


class Recorder(Actor):
    """Stands in for the trigger engine: keeps every event it is sent."""

    def __init__(self, events: list[PlatformEvent]) -> None:
        self.events = events

    async def handle(self, message: Any) -> Any:
        self.events.append(message)


class Harness:
    """A root supervisor running a `Recorder` ("triggers") and a `KickChat` ("kick")."""

    def __init__(self, pusher: FakePusher, api: FakeKickApi) -> None:
        self.pusher = pusher
        self.api = api
        self.events: list[PlatformEvent] = []
        self.instances: list[KickChat] = []
        self.root: Supervisor | None = None

    @property
    def chat(self) -> KickChat:
        return self.instances[-1]

    async def start(
        self,
        nursery: trio.Nursery,
        *,
        url: str | None = None,
        chatroom_id: int | None = CHATROOM,
        channel_id: int | None = CHANNEL_ID,
        enabled: bool = True,
        **kwargs: Any,
    ) -> Harness:
        config = KickConfig(
            channel="bossmanjack",
            chatroom_id=chatroom_id,
            channel_id=channel_id,
            ws_url=url or self.pusher.url,
            enabled=enabled,
        )
        kwargs.setdefault("transport", self.api.transport)
        kwargs.setdefault("send_api", FakeKickApi.BASE)

        def make_chat() -> KickChat:
            chat = KickChat(
                creator_id="daniel",
                config=config,
                triggers=lambda: root.lookup("triggers"),
                rng=random.Random(7),
                **kwargs,
            )
            self.instances.append(chat)
            return chat

        root = self.root = Supervisor(
            "root",
            [
                ChildSpec("triggers", lambda: Recorder(self.events)),
                ChildSpec("kick", make_chat),
            ],
        )
        await nursery.start(root.run)
        return self

    async def send(self, text: str, **kwargs: Any) -> None:
        assert self.root is not None
        await self.root.lookup("kick").send(SendChat(text=text, **kwargs))

    async def running(self) -> None:
        await eventually(lambda: self.chat.snapshot().status == "running")

    async def stop(self) -> None:
        assert self.root is not None
        await self.root.stop()


@pytest.fixture
async def pusher(nursery) -> FakePusher:
    return await nursery.start(FakePusher(app_key="app-key", activity_timeout=30).serve)


@pytest.fixture
def api() -> FakeKickApi:
    return FakeKickApi()


@pytest.fixture
def harness(pusher, api) -> Harness:
    return Harness(pusher, api)


def test_the_snapshot_is_a_frozen_typed_value() -> None:
    chat = KickChat(
        creator_id="daniel",
        config=KickConfig(
            channel="bossmanjack", chatroom_id=CHATROOM, ws_url="ws://127.0.0.1:1/app/k"
        ),
        triggers=lambda: None,  # type: ignore[arg-type,return-value]
        clock=lambda: 1_700_000_000.0,
    )
    snap = chat.snapshot()
    assert isinstance(snap, KickChatStatistics)
    assert (snap.platform, snap.creator_id, snap.channel) == ("kick", "daniel", "bossmanjack")
    assert (snap.chatroom_id, snap.channel_id, snap.server) == (
        CHATROOM,
        None,
        "ws://127.0.0.1:1",
    )
    assert (snap.state, snap.connected, snap.can_send) == ("connecting", False, False)
    assert snap.subscriptions == {f"chatrooms.{CHATROOM}.v2": "pending"}
    assert snap.moderation == ModerationStatistics(
        queued=0, done=0, refused=0, failed=0, dropped=0, unsupported=0, last_error=None
    )
    assert snap.dropped_reasons == {} and snap.last_sent_at is None
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        snap.messages = 1  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        snap.moderation.done = 1  # type: ignore[misc]


# ---------------------------------------------------------------------- reading


async def test_subscribes_chatroom_and_channel_and_delivers_events(
    autojump_clock, nursery, pusher, harness
):
    await harness.start(nursery)
    await harness.running()
    await pusher.wait_subscribed(f"chatrooms.{CHATROOM}.v2")
    await pusher.wait_subscribed(f"channel.{CHANNEL_ID}")
    payload = corpus_chat_payload()
    await pusher.trigger(f"chatrooms.{CHATROOM}.v2", "App\\Events\\ChatMessageEvent", payload)
    live = {"livestream": {"id": 77, "channel_id": CHANNEL_ID, "session_title": "hi"}}
    await pusher.trigger(f"channel.{CHANNEL_ID}", "App\\Events\\StreamerIsLive", live)
    await eventually(lambda: len(harness.events) == 2)
    chat, started = harness.events
    assert isinstance(chat, ChatEvent)
    assert (chat.platform, chat.channel, chat.message_id) == ("kick", str(CHATROOM), payload["id"])
    assert (chat.login, chat.text) == ("tayloredbydrew", "more in premiere")
    assert isinstance(started, StreamStarted)
    assert (started.channel, started.title) == (str(CHANNEL_ID), "hi")
    snap = harness.chat.snapshot()
    assert snap.subscriptions == {
        f"chatrooms.{CHATROOM}.v2": "subscribed",
        f"channel.{CHANNEL_ID}": "subscribed",
    }
    assert (snap.messages, snap.connected, snap.platform) == (2, True, "kick")
    await harness.stop()


async def test_malformed_and_unknown_frames_are_counted_not_fatal(
    autojump_clock, nursery, pusher, harness
):
    await harness.start(nursery)
    await harness.running()
    await pusher.send_raw("this isn't JSON")
    await pusher.trigger(f"chatrooms.{CHATROOM}.v2", "App\\Events\\ChatMessageEvent", [])
    await pusher.trigger(f"channel.{CHANNEL_ID}", "App\\Events\\FollowersUpdated", {"x": 1})
    await pusher.trigger(f"chatrooms.{CHATROOM}.v2", "ChatMessageEvent", corpus_chat_payload())
    await eventually(lambda: len(harness.events) == 1)
    snap = harness.chat.snapshot()
    assert (snap.parse_errors, snap.ignored, snap.errors) == (2, 1, 2)
    assert (snap.status, snap.connections) == ("running", 1)
    await harness.stop()


async def test_a_duplicate_message_id_is_delivered_once(autojump_clock, nursery, pusher, harness):
    await harness.start(nursery)
    await harness.running()
    payload = corpus_chat_payload()
    ended = {"livestream": {"id": 77, "channel": {"id": CHANNEL_ID}}}
    for _ in range(2):
        await pusher.trigger(f"chatrooms.{CHATROOM}.v2", "App\\Events\\ChatMessageEvent", payload)
    live = {"livestream": {"id": 77, "channel_id": CHANNEL_ID}}
    await pusher.trigger(f"channel.{CHANNEL_ID}", "App\\Events\\StreamerIsLive", live)
    # Same livestream id, another kind of event: not a duplicate.
    await pusher.trigger(f"channel.{CHANNEL_ID}", "App\\Events\\StopStreamBroadcast", ended)
    await eventually(lambda: len(harness.events) == 3)
    await trio.sleep(1)
    assert [type(e) for e in harness.events] == [ChatEvent, StreamStarted, StreamEnded]
    assert harness.chat.snapshot().duplicates == 1
    await harness.stop()


async def test_a_silent_link_is_pinged_after_activity_timeout(
    autojump_clock, nursery, pusher, harness
):
    await harness.start(nursery)
    await harness.running()
    connected_at = trio.current_time()
    [ping] = await pusher.wait_for("pusher:ping")
    assert ping.at - connected_at == pytest.approx(30, abs=0.1)
    await trio.sleep(100)  # pongs keep the link: a ping every 30 s, no reconnect
    assert len(pusher.frames("pusher:ping")) == 4
    assert harness.chat.snapshot().connections == 1
    await harness.stop()


async def test_a_ping_without_pong_reconnects_and_resubscribes(
    autojump_clock, nursery, pusher, harness
):
    pusher.answer_pings = False
    await harness.start(nursery, pong_timeout=10)
    await harness.running()
    start = trio.current_time()
    await eventually(lambda: pusher.connections == 2)
    # 30 s of silence, a ping, 10 s without an answer: reconnect at once (4201-like).
    assert trio.current_time() - start == pytest.approx(40, abs=0.5)
    await pusher.wait_subscribed(f"chatrooms.{CHATROOM}.v2")
    subscribes = pusher.frames("pusher:subscribe")
    assert [f.connection for f in subscribes] == [1, 1, 2, 2]
    assert harness.chat.snapshot().reconnects == 1
    await harness.stop()


async def test_a_server_ping_is_answered(autojump_clock, nursery, pusher, harness):
    await harness.start(nursery)
    await harness.running()
    await pusher.send_raw('{"event":"pusher:ping","data":{}}')
    await pusher.wait_for("pusher:pong")
    await harness.stop()


async def test_a_missing_handshake_backs_off(autojump_clock, nursery, pusher, harness):
    pusher.handshake = False
    await harness.start(nursery, handshake_timeout=5, backoff_initial=2, backoff_jitter=0)
    await eventually(lambda: pusher.connections == 3)
    # 5 s handshake timeout, 2 s backoff, 5 s, 4 s backoff.
    assert trio.current_time() == pytest.approx(16, abs=0.5)
    # A link that never comes up is a failure the dashboard shows (issue #11), not "inactive".
    snap = harness.chat.snapshot()
    assert (snap.status, snap.state) == ("error", "reconnecting")
    assert snap.error == "handshake timeout"
    await harness.stop()


async def test_code_4200_reconnects_at_once_4100_after_backoff(
    autojump_clock, nursery, pusher, harness
):
    await harness.start(nursery, backoff_initial=3, backoff_jitter=0)
    await harness.running()
    t0 = trio.current_time()
    await pusher.error_and_close(4200, "Server closed. Please reconnect shortly.")
    await eventually(lambda: pusher.connections == 2)
    assert trio.current_time() - t0 < 0.5
    await harness.running()
    t1 = trio.current_time()
    await pusher.close_all(4100, "over capacity")
    await eventually(lambda: pusher.connections == 3)
    assert trio.current_time() - t1 == pytest.approx(3, abs=0.2)
    await harness.running()
    # A second 4200 soon after the first backs off instead of reconnecting flat out.
    t2 = trio.current_time()
    await pusher.error_and_close(4200)
    await eventually(lambda: pusher.connections == 4)
    assert trio.current_time() - t2 >= 3
    assert harness.chat.snapshot().reconnects == 3
    await harness.stop()


async def test_an_unknown_app_key_is_an_error_without_reconnects(
    autojump_clock, nursery, pusher, harness
):
    await harness.start(nursery, url=pusher.url_for("wrong-key"), backoff_initial=0.1)
    await eventually(lambda: harness.chat.snapshot().status == "error")
    await trio.sleep(3600)
    snap = harness.chat.snapshot()
    assert (pusher.connections, snap.connections, snap.reconnects) == (1, 1, 0)
    assert snap.last_close_code == 4001
    assert "4001" in snap.error
    assert snap.connected is False
    await harness.stop()


async def test_a_lost_server_is_retried_with_growing_backoff(autojump_clock, nursery, harness):
    # A port nobody listens on: every attempt is refused at once.
    with trio.socket.socket() as sock:
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"ws://127.0.0.1:{port}/app/app-key?protocol=7"
    await harness.start(nursery, url=url, backoff_initial=1, backoff_maximum=8, backoff_jitter=0)
    await eventually(lambda: harness.chat.connections == 6)
    # 1 + 2 + 4 + 8 + 8 seconds of backoff between six attempts.
    assert trio.current_time() == pytest.approx(23, abs=0.5)
    # A server that cannot be reached reads as a failure with its reason (issue #11).
    snap = harness.chat.snapshot()
    assert (snap.status, snap.state) == ("error", "reconnecting")
    assert snap.error == f"connection refused by 127.0.0.1:{port}"
    await harness.stop()


async def test_no_ids_is_an_error_state(autojump_clock, nursery, pusher, harness):
    await harness.start(nursery, chatroom_id=None, channel_id=None)
    await eventually(lambda: harness.chat.snapshot().status == "error")
    assert pusher.connections == 0
    await harness.stop()


async def test_a_disabled_config_never_connects(autojump_clock, nursery, pusher, harness):
    await harness.start(nursery, enabled=False, token="tok")
    await harness.send("hello")
    await trio.sleep(60)
    snap = harness.chat.snapshot()
    assert (snap.status, snap.enabled, pusher.connections) == ("disabled", False, 0)
    assert snap.dropped_reasons == {"disabled": 1}
    await harness.stop()


# ---------------------------------------------------------------------- sending


async def test_sendchat_posts_with_the_bearer_token(autojump_clock, nursery, api, harness):
    await harness.start(nursery, token="tok", broadcaster_user_id=2570626)
    await harness.send("hello chat", reply_to="b2af4980-9dfa-4822-960d-0e64704e2ced")
    [request] = await api.wait_requests(1)
    assert (request.method, request.path) == ("POST", "/public/v1/chat")
    assert request.headers["authorization"] == "Bearer tok"
    assert request.body == {
        "content": "hello chat",
        "type": "user",
        "broadcaster_user_id": 2570626,
        "reply_to_message_id": "b2af4980-9dfa-4822-960d-0e64704e2ced",
    }
    await eventually(lambda: harness.chat.sent == 1)
    snap = harness.chat.snapshot()
    assert (snap.actions, snap.dropped, snap.can_send) == (1, 0, True)
    assert "tok" not in json.dumps(attrs.asdict(snap), default=str)
    await harness.stop()


async def test_an_account_token_sends_replies_without_a_static_token(
    autojump_clock, nursery, api, harness
):
    from actors.accounts import StaticTokenSource

    await harness.start(
        nursery, token_source=StaticTokenSource("tok", warn=False), broadcaster_user_id=2570626
    )
    await harness.send("hello from the account")
    [request] = await api.wait_requests(1)
    assert request.headers["authorization"] == "Bearer tok"  # the account's, asked per send
    await eventually(lambda: harness.chat.sent == 1)
    await harness.stop()


async def test_without_broadcaster_id_it_sends_as_bot_and_cuts_long_text(
    autojump_clock, nursery, api, harness
):
    await harness.start(nursery, token="tok")
    await harness.send("x" * 600)
    [request] = await api.wait_requests(1)
    assert request.body == {"content": "x" * 500, "type": "bot"}
    await eventually(lambda: harness.chat.sent == 1)
    assert harness.chat.snapshot().truncated == 1
    await harness.stop()


async def test_429_is_retried_after_retry_after(autojump_clock, nursery, api, harness):
    api.respond(429, headers={"Retry-After": "7"}, json={"message": "Too Many Requests"})
    await harness.start(nursery, token="tok")
    await harness.send("hello")
    first, second = await api.wait_requests(2)
    assert second.at - first.at == pytest.approx(7)
    assert second.body == first.body
    await eventually(lambda: harness.chat.sent == 1)
    snap = harness.chat.snapshot()
    assert (snap.send_retried, snap.dropped, snap.status) == (1, 0, "running")
    await harness.stop()


async def test_5xx_is_retried_with_backoff_then_dropped(autojump_clock, nursery, api, harness):
    for _ in range(3):
        api.respond(503)
    await harness.start(
        nursery, token="tok", send_retries=2, send_retry_initial=2, backoff_jitter=0
    )
    await harness.send("hello")
    await harness.send("again")
    requests = await api.wait_requests(4)
    assert [r.body["content"] for r in requests] == ["hello"] * 3 + ["again"]
    gaps = [b.at - a.at for a, b in itertools.pairwise(requests)]
    assert gaps[:2] == [pytest.approx(2), pytest.approx(4)]
    await eventually(lambda: harness.chat.sent == 1)
    snap = harness.chat.snapshot()
    assert snap.dropped_reasons == {"send_failed": 1}
    assert snap.send_failures == 1
    await harness.stop()


async def test_401_is_an_error_state_and_stops_sending(autojump_clock, nursery, api, harness):
    await harness.start(nursery, token="expired")
    await harness.running()
    await harness.send("one")
    await api.wait_requests(1)
    await eventually(lambda: harness.chat.snapshot().status == "error")
    await harness.send("two")
    await trio.sleep(60)
    assert len(api.requests) == 1  # no retry of a refused token
    snap = harness.chat.snapshot()
    assert snap.dropped_reasons == {"unauthorized": 2}
    assert "401" in snap.error
    assert snap.can_send is False
    assert snap.connected is True  # reading goes on
    assert "expired" not in json.dumps(attrs.asdict(snap), default=str)
    await harness.stop()


async def test_other_4xx_drops_the_message_only(autojump_clock, nursery, api, harness):
    api.respond(422, json={"message": "content too long"})
    await harness.start(nursery, token="tok")
    await harness.send("one")
    await harness.send("two")
    await api.wait_requests(2)
    await eventually(lambda: harness.chat.sent == 1)
    assert harness.chat.snapshot().dropped_reasons == {"rejected": 1}
    await harness.stop()


async def test_without_a_token_replies_are_dropped(autojump_clock, nursery, api, harness):
    await harness.start(nursery)
    await harness.send("hello")
    await harness.send("hello again")
    await eventually(lambda: harness.chat.dropped == 2)
    snap = harness.chat.snapshot()
    assert snap.dropped_reasons == {"no_token": 2}
    assert (snap.can_send, api.requests) == (False, [])
    await harness.stop()


async def test_a_full_send_queue_drops_with_a_reason(autojump_clock, nursery, api, harness):
    api.respond(429, headers={"Retry-After": "30"})
    await harness.start(nursery, token="tok", send_queue_size=2)
    for n in range(5):
        await harness.send(f"m{n}")
    await api.wait_requests(1)
    # The first is in flight (and still queued), one more fits, three are dropped.
    await eventually(lambda: harness.chat.dropped == 3)
    assert harness.chat.snapshot().dropped_reasons == {"queue_full": 3}
    await eventually(lambda: harness.chat.sent == 2)
    assert [r.body["content"] for r in api.requests] == ["m0", "m0", "m1"]
    await harness.stop()


async def test_empty_replies_are_dropped_as_invalid(autojump_clock, nursery, api, harness):
    await harness.start(nursery, token="tok")
    await harness.send("   ")
    await eventually(lambda: harness.chat.dropped == 1)
    assert harness.chat.snapshot().dropped_reasons == {"invalid": 1}
    assert api.requests == []
    await harness.stop()


async def test_an_unusable_url_is_an_error_state(autojump_clock, nursery, pusher, harness):
    await harness.start(nursery, url="ws://:1/app/app-key")
    await eventually(lambda: harness.chat.snapshot().status == "error")
    assert harness.chat.connections == 0
    await harness.stop()


def test_without_ws_url_it_connects_to_kicks_pusher_app() -> None:
    chat = KickChat(
        creator_id="daniel",
        config=KickConfig(channel="bossmanjack", chatroom_id=CHATROOM),
        triggers=lambda: None,  # type: ignore[arg-type,return-value]
    )
    assert chat.url == (
        "wss://ws-us2.pusher.com/app/32cbd69e4b950bf97679"
        "?protocol=7&client=js&version=8.4.0-rc2&flash=false"
    )
    assert chat.channels == (f"chatrooms.{CHATROOM}.v2",)
    assert chat.snapshot().server == "wss://ws-us2.pusher.com"


# ------------------------------------------------------------------- health as others see it


async def test_health_of_a_refused_app_key_and_of_a_drop(autojump_clock, nursery, pusher, harness):
    from exports.health import platform_rows, status_report

    def entry() -> Any:
        rows = platform_rows(harness.root.tree(), configured={"kick": True})
        return next(r for r in rows if r.platform == "kick")

    await harness.start(nursery, url=pusher.url_for("wrong-key"), backoff_initial=0.1)
    await eventually(lambda: entry().error is not None)
    e = entry()
    assert (e.status, e.state) == ("error", "failed")
    assert e.error.startswith("connection refused by the server (code 4001)")
    assert "giving up until restarted" in e.error
    [bad] = status_report(harness.root.tree()).degraded
    assert bad.path == "root/kick"
    await harness.stop()


async def test_health_after_a_server_close_is_ok_again(autojump_clock, nursery, pusher, harness):
    from exports.health import platform_rows, status_report

    await harness.start(nursery, backoff_initial=3, backoff_jitter=0)
    await harness.running()
    assert status_report(harness.root.tree()).ok
    await pusher.close_all(4100, "over capacity")
    await eventually(lambda: not status_report(harness.root.tree()).ok)
    [bad] = status_report(harness.root.tree()).degraded
    assert bad.reason == "over capacity (code 4100)"
    await harness.running()
    assert status_report(harness.root.tree()).ok
    rows = platform_rows(harness.root.tree(), configured={"kick": True})
    kick = next(r for r in rows if r.platform == "kick")
    assert (kick.connects, kick.disconnects) == (2, 1)
    await harness.stop()


async def test_health_of_a_dns_failure_names_the_host(autojump_clock, nursery, pusher, harness):
    import socket as socket_module

    from actors.connection import WebSocketTarget
    from exports.health import status_report

    async def no_dns(_target: WebSocketTarget) -> trio.abc.Stream:
        raise socket_module.gaierror(socket_module.EAI_NONAME, "Name or service not known")

    await harness.start(nursery, url="wss://ws-us2.pusher.com/app/key?protocol=7", connector=no_dns)
    await eventually(lambda: harness.chat.snapshot().error is not None)
    assert harness.chat.snapshot().error == "DNS lookup failed for ws-us2.pusher.com"
    [bad] = status_report(harness.root.tree()).degraded
    assert bad.reason == "DNS lookup failed for ws-us2.pusher.com"


@pytest.mark.parametrize(
    "content",
    [
        b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"data": {"is_sent": true, "message_id": ' + b"9" * 5000 + b"}}",
        b'{"data": "sent"}',
    ],
    ids=["nested-100000", "int-5000-digits", "wrong-type"],
)
async def test_a_hostile_send_answer_is_no_crash(autojump_clock, nursery, api, harness, content):
    api.respond(200, content=content)
    await harness.start(nursery, token="tok")
    await harness.running()
    await harness.send("hello")
    await harness.send("again")
    await api.wait_requests(2)
    await eventually(lambda: harness.chat.sent == 2)
    assert len(harness.instances) == 1 and harness.chat.last_sent_message_id == "msg-2"
    await harness.stop()


# ---------------------------------------------------------------------- filter moderation


def moderate(action: str, *, seconds: int | None = None) -> Moderate:
    return Moderate(
        action=action,
        message_id="57eee8aa-0000-4000-8000-000000000001",
        user_id="117108965",
        login="goofywilson96",
        seconds=seconds,
        reason="links: a link",
        filter_id="links",
    )


async def test_a_filter_deletes_and_times_out_through_kicks_moderation_api(
    autojump_clock, nursery, api, harness
):
    await harness.start(nursery, token="tok", broadcaster_user_id=2570626)
    assert harness.root is not None
    kick = harness.root.lookup("kick")
    await kick.send(moderate("delete"))
    await kick.send(moderate("timeout", seconds=90))
    await eventually(lambda: harness.chat.moderation.counts["done"] == 2)
    deleted, banned = api.requests
    assert (deleted.method, deleted.path) == (
        "DELETE",
        "/public/v1/chat/57eee8aa-0000-4000-8000-000000000001",
    )
    assert deleted.headers["authorization"] == "Bearer tok"
    assert (banned.method, banned.path) == ("POST", "/public/v1/moderation/bans")
    # 90 s is two of Kick's whole minutes (rounded up, never shorter than asked).
    assert banned.body == {
        "broadcaster_user_id": 2570626,
        "user_id": 117108965,
        "duration": 2,
        "reason": "links: a link",
    }
    await harness.stop()


async def test_a_kick_403_is_refused_with_the_scope_and_a_429_is_waited_out(
    autojump_clock, nursery, api, harness
):
    await harness.start(nursery, token="tok", broadcaster_user_id=2570626)
    assert harness.root is not None
    api.respond(403, json={"message": "Forbidden"})
    api.respond(429, headers={"Retry-After": "7"}, json={"message": "Too Many Requests"})
    kick = harness.root.lookup("kick")
    with structlog.testing.capture_logs() as logs:
        await kick.send(moderate("timeout", seconds=60))
        await kick.send(moderate("delete"))
        await eventually(lambda: harness.chat.moderation.counts["done"] == 1)
    assert harness.chat.moderation.counts["refused"] == 1
    (refused,) = [e for e in logs if e.get("outcome") == "refused"]
    assert "moderation:ban" in refused["event"]
    limited, retried = api.requests[1:]
    assert retried.at - limited.at == pytest.approx(7.0)
    assert api.moderation == [{"delete": "57eee8aa-0000-4000-8000-000000000001"}]
    await harness.stop()


async def test_a_kick_timeout_without_the_broadcaster_id_is_counted_unsupported(
    autojump_clock, nursery, api, harness
):
    await harness.start(nursery, token="tok")
    assert harness.root is not None
    await harness.root.lookup("kick").call(moderate("timeout", seconds=60))
    assert harness.chat.moderation.counts["unsupported"] == 1
    assert api.requests == []
    await harness.stop()
