"""`TwitchChat` against `FakeTwitchIrc`, under a supervisor, on trio's MockClock (autojump).

The fake and the actor talk over real loopback sockets; only time is mocked, so every
deadline (rate limit window, PING after silence, PONG timeout, backoff) is exact.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

from actors import Actor
from actors.chat import SendChat
from actors.events import ChatEvent, PlatformEvent
from actors.moderation import ModerationStatistics
from actors.twitch.chat import DUPLICATE_SUFFIX, SlidingWindow, TwitchChat
from actors.twitch.statistics import TwitchChatStatistics
from config.models import TwitchConfig
from config.secrets import Secret, SecretRef
from supervisors import ChildSpec, Supervisor
from tests.fakes.twitch_irc import FakeTwitchIrc

CORPUS = Path(__file__).resolve().parents[3] / "conformance" / "data" / "twitch_irc.jsonl"
CHANNEL = "pajlada"


def corpus_privmsgs(channel: str = CHANNEL) -> list[str]:
    """Real captured PRIVMSG lines to `channel` from the conformance corpus."""
    lines = []
    for text in CORPUS.read_text(encoding="utf-8").splitlines():
        raw = json.loads(text)["raw"]
        if f" PRIVMSG #{channel} :" in raw and ";id=" in raw:
            lines.append(raw)
    return lines


def with_id(line: str, message_id: str) -> str:
    """The same line with another message id (to make distinct messages from one capture)."""
    return re.sub(r";id=[^;]*;", f";id={message_id};", line, count=1)


async def eventually(predicate: Callable[[], bool]) -> None:
    """Poll `predicate` (actor state changes have no event to wait on) for up to a minute."""
    with trio.fail_after(60):
        while True:
            if predicate():
                return
            await trio.sleep(0.01)


class Recorder(Actor):
    """Stands in for the trigger engine: keeps every event it is sent."""

    def __init__(self, events: list[PlatformEvent], changed: list[trio.Event]) -> None:
        self.events = events
        self.changed = changed

    async def handle(self, message: Any) -> Any:
        self.events.append(message)
        self.changed[0].set()
        self.changed[0] = trio.Event()


class Harness:
    """A root supervisor running a `Recorder` ("triggers") and a `TwitchChat` ("twitch")."""

    def __init__(self, fake: FakeTwitchIrc) -> None:
        self.fake = fake
        self.events: list[PlatformEvent] = []
        self._changed = [trio.Event()]
        self.instances: list[TwitchChat] = []
        self.root: Supervisor | None = None

    @property
    def chat(self) -> TwitchChat:
        return self.instances[-1]

    async def start(
        self, nursery: trio.Nursery, *, token: str | None = None, **kwargs: Any
    ) -> Harness:
        secret = Secret(SecretRef(env="TWITCH_TOKEN"), value=token) if token else None
        config = TwitchConfig(channel=CHANNEL, nick="streambot" if token else None, token=secret)

        def make_chat() -> TwitchChat:
            chat = TwitchChat(
                creator_id="daniel",
                config=config,
                triggers=lambda: root.lookup("triggers"),
                url=self.fake.url,
                rng=random.Random(7),
                **kwargs,
            )
            self.instances.append(chat)
            return chat

        root = self.root = Supervisor(
            "root",
            [
                ChildSpec("triggers", lambda: Recorder(self.events, self._changed)),
                ChildSpec("twitch", make_chat),
            ],
        )
        await nursery.start(root.run)
        return self

    async def send(self, text: str, **kwargs: Any) -> None:
        assert self.root is not None
        await self.root.lookup("twitch").send(SendChat(text=text, **kwargs))

    async def wait_events(self, count: int) -> None:
        with trio.fail_after(600):
            while len(self.events) < count:
                await self._changed[0].wait()

    async def wait_joined(self, joins: int = 1) -> None:
        await self.fake.wait_lines("JOIN", joins)
        await eventually(lambda: self.chat.status == "running")


@pytest.fixture
async def fake(nursery: trio.Nursery) -> FakeTwitchIrc:
    return await nursery.start(FakeTwitchIrc().serve)


@pytest.fixture
def harness(fake: FakeTwitchIrc) -> Harness:
    return Harness(fake)


# ------------------------------------------------------------------------------ login


async def test_anonymous_login_joins_the_channel(autojump_clock, nursery, fake, harness):
    await harness.start(nursery)
    await harness.wait_joined()
    commands = [r.command for r in fake.received]
    assert commands[:3] == ["CAP", "NICK", "JOIN"]  # no PASS when anonymous
    assert fake.received[0].line == "CAP REQ :twitch.tv/tags twitch.tv/commands"
    assert re.fullmatch(r"NICK justinfan\d{5}", fake.received[1].line)
    assert fake.received[2].line == f"JOIN #{CHANNEL}"
    snap = harness.chat.snapshot()
    assert snap.platform == "twitch" and snap.creator_id == "daniel"
    assert snap.status == "running" and snap.connected is True
    assert snap.enabled is True and snap.anonymous is True
    assert snap.reconnects == 0 and snap.error is None
    assert snap.last_heartbeat is not None


async def test_token_login_sends_pass_then_nick(autojump_clock, nursery, fake, harness):
    await harness.start(nursery, token="s3cret")
    await harness.wait_joined()
    lines = [r.line for r in fake.received[:4]]
    assert lines[1:] == ["PASS oauth:s3cret", "NICK streambot", f"JOIN #{CHANNEL}"]
    assert harness.chat.snapshot().anonymous is False


def test_the_snapshot_is_a_frozen_typed_value() -> None:
    chat = TwitchChat(
        creator_id="daniel",
        config=TwitchConfig(channel=CHANNEL),
        triggers=lambda: None,  # type: ignore[arg-type,return-value]
        clock=lambda: 1_700_000_000.0,
    )
    snap = chat.snapshot()
    assert isinstance(snap, TwitchChatStatistics)
    assert (snap.platform, snap.creator_id, snap.channel) == ("twitch", "daniel", CHANNEL)
    assert (snap.state, snap.connected, snap.anonymous) == ("connecting", False, True)
    assert snap.moderation == ModerationStatistics(
        queued=0, done=0, refused=0, failed=0, dropped=0, unsupported=0, last_error=None
    )
    assert snap.dropped_reasons == {} and snap.last_heartbeat is None
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        snap.messages = 1  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        snap.moderation.done = 1  # type: ignore[misc]


async def test_server_ping_is_answered_at_once(autojump_clock, nursery, fake, harness):
    await harness.start(nursery)
    await harness.wait_joined()
    before = trio.current_time()
    await fake.ping_clients("tmi.twitch.tv")
    [pong] = await fake.wait_lines("PONG")
    assert pong.line == "PONG :tmi.twitch.tv"
    assert pong.at == before


# --------------------------------------------------------------------------- incoming


async def test_a_real_privmsg_reaches_the_trigger_engine(autojump_clock, nursery, fake, harness):
    await harness.start(nursery)
    await harness.wait_joined()
    line = corpus_privmsgs()[0]
    await fake.inject(line)
    await harness.wait_events(1)
    [event] = harness.events
    assert isinstance(event, ChatEvent)
    assert event.platform == "twitch" and event.channel == CHANNEL
    assert event.message_id == re.search(r";id=([^;]*);", line).group(1)
    assert event.login == "randers"
    assert harness.chat.snapshot().messages == 1
    assert harness.chat.snapshot().last_event_at == event.sent_at


async def test_malformed_lines_are_counted_not_fatal(autojump_clock, nursery, fake, harness):
    await harness.start(nursery)
    await harness.wait_joined()
    await fake.inject("@only-tags=1")  # tags and no command: not IRC
    await fake.inject(f":someone!someone@someone.tmi.twitch.tv PRIVMSG #{CHANNEL}")  # no text
    await fake.inject(corpus_privmsgs()[0])
    await harness.wait_events(1)
    snap = harness.chat.snapshot()
    assert snap.parse_errors == 2 and snap.errors == 2
    assert len(harness.instances) == 1  # never restarted
    assert snap.status == "running"


# --------------------------------------------------------------------------- outgoing


async def test_send_rate_limit_is_twenty_per_thirty_seconds(autojump_clock, nursery, fake, harness):
    await harness.start(nursery, token="tok")
    await harness.wait_joined()
    for i in range(21):
        await harness.send(f"message {i}")
    sent = await fake.wait_lines("PRIVMSG", 21)
    assert [r.line for r in sent] == [f"PRIVMSG #{CHANNEL} :message {i}" for i in range(21)]
    first = sent[0].at
    assert all(r.at == first for r in sent[:20])
    assert sent[20].at == pytest.approx(first + 30)
    snap = harness.chat.snapshot()
    assert snap.sent == 21 and snap.dropped == 0 and snap.server_rejections == 0


async def test_moderators_may_send_a_hundred_per_thirty_seconds(autojump_clock, nursery):
    fake = await nursery.start(FakeTwitchIrc(moderator=True).serve)
    harness = await Harness(fake).start(nursery, token="tok")
    await harness.wait_joined()
    await fake.wait_lines("JOIN")
    await eventually(lambda: harness.chat.privileged)
    for i in range(60):
        await harness.send(f"message {i}")
    sent = await fake.wait_lines("PRIVMSG", 60)
    assert sent[-1].at == sent[0].at
    assert harness.chat.snapshot().privileged is True


async def test_a_repeated_reply_is_varied_not_dropped(autojump_clock, nursery, fake, harness):
    await harness.start(nursery, token="tok")
    await harness.wait_joined()
    for _ in range(3):
        await harness.send("same text", reply_to="abc-123")
    sent = await fake.wait_lines("PRIVMSG", 3)
    assert [r.line for r in sent] == [
        f"@reply-parent-msg-id=abc-123 PRIVMSG #{CHANNEL} :same text",
        f"@reply-parent-msg-id=abc-123 PRIVMSG #{CHANNEL} :same text{DUPLICATE_SUFFIX}",
        f"@reply-parent-msg-id=abc-123 PRIVMSG #{CHANNEL} :same text",
    ]
    await trio.sleep(1)  # let a NOTICE msg_duplicate arrive if the fake sent one
    snap = harness.chat.snapshot()
    assert snap.varied == 1 and snap.server_rejections == 0


async def test_long_replies_are_cut_at_500_characters(autojump_clock, nursery, fake, harness):
    await harness.start(nursery, token="tok")
    await harness.wait_joined()
    await harness.send("x" * 600)
    [sent] = await fake.wait_lines("PRIVMSG")
    assert sent.line == f"PRIVMSG #{CHANNEL} :" + "x" * 500
    assert harness.chat.snapshot().truncated == 1


async def test_anonymous_connections_cannot_send(autojump_clock, nursery, fake, harness):
    await harness.start(nursery)
    await harness.wait_joined()
    await harness.send("hello")
    await trio.sleep(5)
    assert fake.lines("PRIVMSG") == []
    snap = harness.chat.snapshot()
    assert snap.dropped == 1 and snap.dropped_reasons == {"anonymous": 1}


async def test_a_full_send_queue_drops_with_a_reason(autojump_clock, nursery, fake, harness):
    fake.stall()  # never welcomed, so never joined: nothing leaves the queue
    await harness.start(nursery, token="tok", send_queue_size=3)
    await fake.wait_lines("NICK")
    for i in range(5):
        await harness.send(f"message {i}")
    await trio.sleep(1)
    snap = harness.chat.snapshot()
    assert snap.queued == 3
    assert snap.dropped == 2 and snap.dropped_reasons == {"queue_full": 2}


# ---------------------------------------------------------------------- reconnecting


async def test_drop_reconnects_rejoins_and_never_delivers_twice(
    autojump_clock, nursery, fake, harness
):
    await harness.start(nursery)
    await harness.wait_joined()
    first, second = corpus_privmsgs()[:2]
    await fake.inject(first)
    await harness.wait_events(1)
    await fake.drop()
    await harness.wait_joined(joins=2)
    assert fake.connections == 2
    await fake.inject(first)  # a replay after the reconnect: same id
    await fake.inject(second)
    await harness.wait_events(2)
    await trio.sleep(1)
    assert [e.message_id for e in harness.events] == [
        re.search(r";id=([^;]*);", line).group(1) for line in (first, second)
    ]
    snap = harness.chat.snapshot()
    assert snap.reconnects == 1 and snap.duplicates == 1 and snap.messages == 2
    assert len(harness.instances) == 1  # the actor reconnected itself, no restart


async def test_a_stalled_server_is_pinged_then_replaced(autojump_clock, nursery, fake, harness):
    await harness.start(nursery, ping_interval=60, pong_timeout=10)
    await harness.wait_joined()
    last_traffic = trio.current_time()
    fake.stall()
    [ping] = await fake.wait_lines("PING")
    assert ping.line == "PING :tmi.twitch.tv"
    assert ping.at == pytest.approx(last_traffic + 60, abs=0.01)
    fake.stall(False)  # the PING stays unanswered: it arrived while stalled
    await fake.wait_for(lambda f: f.connections == 2)
    reconnect_at = trio.current_time()
    assert reconnect_at >= ping.at + 10
    await harness.wait_joined(joins=2)
    assert harness.chat.snapshot().reconnects == 1


async def test_a_live_link_is_pinged_and_kept(autojump_clock, nursery, fake, harness):
    await harness.start(nursery, ping_interval=60, pong_timeout=10)
    await harness.wait_joined()
    await trio.sleep(300)
    pings = fake.lines("PING")
    assert len(pings) >= 4  # one per quiet minute, each answered
    assert fake.connections == 1


async def test_reconnect_command_reconnects_at_once(autojump_clock, nursery, fake, harness):
    await harness.start(nursery)
    await harness.wait_joined()
    asked_at = trio.current_time()
    await fake.send_reconnect()
    await harness.wait_joined(joins=2)
    second_nick = [r for r in fake.lines("NICK") if r.connection == 2]
    assert second_nick[0].at == pytest.approx(asked_at, abs=0.01)
    assert [r.line for r in fake.lines("JOIN")] == [f"JOIN #{CHANNEL}"] * 2


async def test_repeated_reconnect_commands_back_off(autojump_clock, nursery, fake, harness):
    await harness.start(nursery)
    await harness.wait_joined()
    await fake.send_reconnect()
    await harness.wait_joined(joins=2)
    asked_again_at = trio.current_time()
    await fake.send_reconnect()  # again, within a minute: treated like a failure
    await harness.wait_joined(joins=3)
    third_nick = [r for r in fake.lines("NICK") if r.connection == 3]
    assert third_nick[0].at - asked_again_at >= 0.8  # the first backoff step, with jitter


async def test_a_disabled_config_never_connects(autojump_clock, nursery, fake):
    config = TwitchConfig(channel=CHANNEL, enabled=False)
    chat = TwitchChat(
        creator_id="daniel", config=config, triggers=lambda: root.lookup("x"), url=fake.url
    )
    root = Supervisor("root", [ChildSpec("twitch", lambda: chat)])
    await nursery.start(root.run)
    await root.lookup("twitch").send(SendChat(text="hi"))
    await trio.sleep(120)
    assert fake.connections == 0
    snap = chat.snapshot()
    assert snap.status == "disabled" and snap.enabled is False
    assert snap.dropped_reasons == {"disabled": 1}


async def test_refused_login_is_an_error_with_bounded_slow_retries(
    autojump_clock, nursery, fake, harness
):
    fake.refuse_logins(True)
    await harness.start(nursery, token="expired", max_auth_failures=5)
    await fake.wait_for(lambda f: f.connections == 1 and f.open_connections == 0)
    await trio.sleep(1)
    snap = harness.chat.snapshot()
    assert snap.status == "error" and "Login authentication failed" in snap.error
    assert snap.connected is False
    await trio.sleep(3 * 3600)  # three hours: no hot loop, a bounded number of attempts
    assert fake.connections == 5
    logins = [r.at for r in fake.lines("NICK")]
    gaps = [b - a for a, b in itertools.pairwise(logins)]
    assert min(gaps) >= 24  # 30 s minus jitter, doubling
    assert gaps == sorted(gaps)
    snap = harness.chat.snapshot()
    assert snap.status == "error" and "giving up until restarted" in snap.error
    assert snap.auth_failures == 5
    assert len(harness.instances) == 1


async def test_a_refused_login_recovers_when_the_server_accepts_again(
    autojump_clock, nursery, fake, harness
):
    fake.refuse_logins(True)
    await harness.start(nursery, token="tok")
    await fake.wait_for(lambda f: f.connections == 1 and f.open_connections == 0)
    fake.refuse_logins(False)
    await harness.wait_joined()
    assert fake.connections == 2
    snap = harness.chat.snapshot()
    assert snap.status == "running" and snap.error is None and snap.auth_failures == 0


async def test_invalid_replies_are_dropped_with_a_reason(autojump_clock, nursery, fake, harness):
    await harness.start(nursery, token="tok")
    await harness.wait_joined()
    await harness.send("   ")  # nothing to say
    await harness.send("two\r\nlines")  # would inject a second IRC line
    await harness.send("fine")
    [sent] = await fake.wait_lines("PRIVMSG")
    assert sent.line == f"PRIVMSG #{CHANNEL} :fine"
    snap = harness.chat.snapshot()
    assert snap.dropped_reasons == {"invalid": 2} and snap.sent == 1


async def test_a_token_the_server_refuses(autojump_clock, nursery):
    fake = await nursery.start(FakeTwitchIrc(refused_tokens={"revoked"}).serve)
    harness = await Harness(fake).start(nursery, token="revoked")
    await fake.wait_for(lambda f: f.connections == 1 and f.open_connections == 0)
    await eventually(lambda: harness.chat.status == "error")
    assert "Login authentication failed" in (harness.chat.snapshot().error or "")


async def test_an_unusable_token_is_an_error_not_a_crash(autojump_clock, nursery, fake, harness):
    await harness.start(nursery, token="has spaces")
    await trio.sleep(60)
    assert fake.connections == 0
    snap = harness.chat.snapshot()
    assert snap.status == "error" and "token" in snap.error
    assert "has spaces" not in snap.error
    assert len(harness.instances) == 1


async def test_backoff_grows_between_failed_connections(autojump_clock, nursery):
    # Nothing listens on this port: every attempt fails at once.
    with trio.socket.socket() as sock:
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    attempts: list[float] = []

    class Counting(TwitchChat):
        async def _connect_once(self) -> None:
            attempts.append(trio.current_time())
            await super()._connect_once()

    config = TwitchConfig(channel=CHANNEL)
    chat = Counting(
        creator_id="daniel",
        config=config,
        triggers=lambda: root.lookup("missing"),
        url=f"ws://127.0.0.1:{port}",
        rng=random.Random(1),
        backoff_maximum=60,
    )
    root = Supervisor("root", [ChildSpec("twitch", lambda: chat)])
    await nursery.start(root.run)
    await trio.sleep(600)
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert 0.8 <= gaps[0] <= 1.2
    assert all(g <= 60 * 1.2 for g in gaps)
    assert max(gaps) >= 60 * 0.8
    assert len(attempts) < 20  # bounded: exponential, capped at a minute
    assert chat.snapshot().connected is False


# --------------------------------------------------------------------------- helpers


def test_sliding_window_delays() -> None:
    window = SlidingWindow(2, 30)
    assert window.delay(0.0) == 0
    window._times.extend([0.0, 10.0])
    assert window.delay(10.0) == 20.0
    assert window.delay(30.0) == 0.0  # the send at t=0 has left the window
    assert window.delay(10.0, limit=3) == 0.0
