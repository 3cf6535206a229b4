"""`KickChat` against a real soketi (Pusher-protocol server), events triggered over its HTTP API.

soketi is installed from tests/servers/soketi/package.json by `.ci/run` (`npm install`) and run
as one process for this module (a plain subprocess fixture, not a trio fixture); the tests are
skipped, with the reason, when it is not installed or node is missing. Events are triggered
with requests we sign ourselves (`fakes.kick_soketi`), so what reaches the actor is exactly what
a Pusher server broadcasts.
Real clock throughout; waits are bounded by `fail_after`, never asserted on.
"""

from __future__ import annotations

import json
import random
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from actors import Actor
from actors.events import ChatEvent, PlatformEvent, StreamEnded, StreamStarted
from actors.kick.chat import KickChat
from config.models import KickConfig
from supervisors import ChildSpec, Supervisor
from tests.fakes import kick_soketi
from tests.fakes.kick_soketi import Soketi, SoketiUnavailable

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parents[1] / "conformance" / "data" / "kick_pusher.jsonl"
CHATROOM = 2507974
CHANNEL_ID = 2515504
CHAT = f"chatrooms.{CHATROOM}.v2"
CHANNEL = f"channel.{CHANNEL_ID}"


@pytest.fixture(scope="module")
def soketi() -> Iterator[Soketi]:
    server = Soketi()
    try:
        Soketi.require_installed()
        server.start()
    except SoketiUnavailable as exc:  # not installed or no node; other failures fail
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def http() -> Any:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


def chat_payload(**changes: Any) -> dict[str, Any]:
    """The decoded `data` of the real ChatMessageEvent capture, with `changes` applied."""
    for text in CORPUS.read_text(encoding="utf-8").splitlines():
        item = json.loads(text)
        if item.get("kind") == "pusher_frame" and "ChatMessageEvent" in item["raw"]:
            return {**json.loads(json.loads(item["raw"])["data"]), **changes}
    raise AssertionError("no ChatMessageEvent in the corpus")


async def eventually(predicate: Callable[[], bool]) -> None:
    """Poll `predicate` (actor state changes have no event to wait on), 30 s at most."""
    with trio.fail_after(30):
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

    def __init__(self) -> None:
        self.events: list[PlatformEvent] = []
        self.instances: list[KickChat] = []
        self.root: Supervisor | None = None

    @property
    def chat(self) -> KickChat:
        return self.instances[-1]

    async def start(self, nursery: trio.Nursery, url: str, **kwargs: Any) -> Harness:
        config = KickConfig(
            channel="bossmanjack", chatroom_id=CHATROOM, channel_id=CHANNEL_ID, ws_url=url
        )

        def make() -> KickChat:
            chat = KickChat(
                creator_id="daniel",
                config=config,
                triggers=lambda: root.lookup("triggers"),
                rng=random.Random(3),
                **kwargs,
            )
            self.instances.append(chat)
            return chat

        root = self.root = Supervisor(
            "root", [ChildSpec("triggers", lambda: Recorder(self.events)), ChildSpec("kick", make)]
        )
        await nursery.start(root.run)
        return self

    async def running(self) -> None:
        await eventually(lambda: self.chat.snapshot().status == "running")

    def of_type(self, kind: type[PlatformEvent]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


async def test_a_chat_message_reaches_the_trigger_engine(nursery, soketi, http) -> None:
    harness = await Harness().start(nursery, soketi.ws_url())
    await harness.running()
    payload = chat_payload()
    await soketi.trigger(http, CHAT, "App\\Events\\ChatMessageEvent", payload)
    await eventually(lambda: len(harness.events) == 1)
    [event] = harness.events
    assert isinstance(event, ChatEvent)
    assert event.platform == "kick"
    assert event.channel == str(CHATROOM)
    assert event.message_id == "b2af4980-9dfa-4822-960d-0e64704e2ced"
    assert (event.user_id, event.login, event.display_name) == (
        "1247649",
        "tayloredbydrew",
        "tayloredbydrew",
    )
    assert event.text == "more in premiere"
    assert event.color == "#FF9D00"
    assert event.sent_at.isoformat() == "2023-12-24T22:05:00+00:00"
    # The engine gets the event before the actor counts it: wait for the count too.
    await eventually(lambda: harness.chat.snapshot().messages == 1)
    snap = harness.chat.snapshot()
    assert snap.subscriptions == {CHAT: "subscribed", CHANNEL: "subscribed"}
    assert (snap.messages, snap.connected, snap.errors) == (1, True, 0)
    assert harness.root is not None
    await harness.root.stop()


async def test_live_and_offline_become_stream_started_and_ended(nursery, soketi, http) -> None:
    harness = await Harness().start(nursery, soketi.ws_url())
    await harness.running()
    live = {
        "livestream": {
            "id": 4242,
            "channel_id": CHANNEL_ID,
            "session_title": "late night chess",
            "source": None,
            "created_at": "2026-11-21T20:00:00.000000Z",
        }
    }
    await soketi.trigger(http, CHANNEL, "App\\Events\\StreamerIsLive", live)
    ended = {"livestream": {"id": 4242, "channel": {"id": CHANNEL_ID, "is_banned": False}}}
    await soketi.trigger(http, CHANNEL, "App\\Events\\StopStreamBroadcast", ended)
    await eventually(lambda: len(harness.events) == 2)
    started, stopped = harness.events
    assert isinstance(started, StreamStarted)
    assert (started.channel, started.message_id, started.title) == (
        str(CHANNEL_ID),
        "4242",
        "late night chess",
    )
    assert started.sent_at.isoformat() == "2026-11-21T20:00:00+00:00"
    assert isinstance(stopped, StreamEnded)
    assert (stopped.channel, stopped.message_id) == (str(CHANNEL_ID), "4242")
    assert harness.root is not None
    await harness.root.stop()


async def test_a_duplicate_message_id_is_delivered_once(nursery, soketi, http) -> None:
    harness = await Harness().start(nursery, soketi.ws_url())
    await harness.running()
    payload = chat_payload()
    await soketi.trigger(http, CHAT, "App\\Events\\ChatMessageEvent", payload)
    await soketi.trigger(http, CHAT, "App\\Events\\ChatMessageEvent", payload)
    # Frames on one connection arrive in order: once the marker is in, both copies were seen.
    marker = chat_payload(id="marker-1", content="marker")
    await soketi.trigger(http, CHAT, "App\\Events\\ChatMessageEvent", marker)
    await eventually(lambda: any(e.message_id == "marker-1" for e in harness.events))
    assert [e.message_id for e in harness.events] == [payload["id"], "marker-1"]
    assert harness.chat.snapshot().duplicates == 1
    assert harness.root is not None
    await harness.root.stop()


async def test_a_restarted_server_is_reconnected_and_resubscribed(nursery, soketi, http) -> None:
    # A short connect timeout: an attempt that lands on the dying process is given up soon
    # (it is only retried, so a slow machine costs time, not a failure).
    harness = await Harness().start(
        nursery, soketi.ws_url(), backoff_initial=0.2, backoff_maximum=1.0, connect_timeout=1.0
    )
    await harness.running()
    await soketi.trigger(http, CHAT, "App\\Events\\ChatMessageEvent", chat_payload(id="before"))
    await eventually(lambda: len(harness.events) == 1)

    await trio.to_thread.run_sync(soketi.restart)  # same port; ~3 s during which we retry
    await eventually(lambda: harness.chat.reconnects >= 1)
    await harness.running()
    await soketi.trigger(http, CHAT, "App\\Events\\ChatMessageEvent", chat_payload(id="after"))
    await eventually(lambda: len(harness.events) == 2)
    assert [e.message_id for e in harness.events] == ["before", "after"]
    snap = harness.chat.snapshot()
    # soketi said 4200 ("server closing") on the way down; we then retried until it was back.
    assert snap.subscriptions == {CHAT: "subscribed", CHANNEL: "subscribed"}
    assert snap.connections >= 2
    assert snap.status == "running"
    assert harness.root is not None
    await harness.root.stop()


async def test_a_wrong_app_key_is_an_error_without_reconnects(nursery, soketi) -> None:
    harness = await Harness().start(nursery, soketi.ws_url("wrong-key"), backoff_initial=0.05)
    await eventually(lambda: harness.chat.snapshot().status == "error")
    await trio.sleep(0.5)  # time for several reconnects, were there any
    snap = harness.chat.snapshot()
    assert (snap.connections, snap.reconnects, snap.connected) == (1, 0, False)
    assert snap.last_close_code == 4001
    assert "4001" in (snap.error or "")
    assert harness.root is not None
    await harness.root.stop()


def test_a_missing_soketi_is_a_reason_to_skip_never_an_npm_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_process(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the tests must not start npm (or anything) to install soketi")

    monkeypatch.setattr(kick_soketi, "SERVER_JS", tmp_path / "missing" / "server.js")
    monkeypatch.setattr(subprocess, "run", no_process)
    monkeypatch.setattr(subprocess, "Popen", no_process)
    with pytest.raises(SoketiUnavailable, match=r"not installed: run `npm install.*\.ci/run"):
        Soketi.require_installed()
