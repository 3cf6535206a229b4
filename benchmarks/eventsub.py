"""EventSub benchmark: chat notification -> reply latency, beside a bare WebSocket hop.

Run: `python benchmarks/eventsub.py [--events 500]`

1. The local fakes (tests/fakes): `FakeEventSub` (WebSocket, 127.0.0.1) and `FakeHelix`.
2. The runtime path, as `transport = "eventsub"` runs it: a `TwitchEvents` actor in the chat
   role (its own socket, subscribed to ``channel.chat.message``), a real `TriggerEngine` with a
   ``!ping`` trigger and a real `StateStore` (dedupe ids are committed to SQLite). Each
   ``!ping`` notification goes: fake server -> socket -> session machine -> dedupe -> engine ->
   `SendChat` -> Helix ``POST /chat/messages`` on the fake. Latency = the fake Helix receiving
   the reply - the moment before the fake server sent the notification.
3. Peer in the same run: a bare WebSocket hop, a trio-websocket server sending the same
   notification frame to a trio-websocket client that `json.loads` it (no actor, no engine,
   no HTTP). Latency = frame decoded - the moment before the send. Each path runs its events
   one at a time. For attribution, a bare httpx ``POST /chat/messages`` to the same fake Helix
   is timed too (the reply's HTTP leg alone).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# benchmarks/actors.py would shadow the `actors` package: keep this folder off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

try:
    import structlog
    import trio
    import trio_websocket

    from actors import Actor
    from actors.accounts.source import AccessToken
    from actors.store import StateStore
    from actors.triggers.engine import TriggerEngine
    from actors.twitch.events_actor import TwitchEvents
    from config.models import CreatorConfig, TriggerConfig, TwitchConfig
    from runtime.http import Request, Response
    from supervisors import Backoff, ChildSpec, Supervisor
    from tests.fakes.eventsub_ws import FakeEventSub
    from tests.fakes.helix import FakeHelix
except ImportError as exc:  # pragma: no cover - a clear message instead of a traceback
    raise SystemExit(
        f"missing dependency ({exc}); install the project first: "
        "python3 -m venv .venv && .venv/bin/pip install -e ."
    ) from exc

structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

CREATOR = CreatorConfig(
    id="bench",
    twitch=TwitchConfig(channel="bench", transport="eventsub"),
    triggers=(TriggerConfig(id="ping", pattern="!ping", response="pong {user}"),),
)


_TOKEN = AccessToken(
    account_id="bot",
    value="bot-token",
    user_id="4242",
    login="benchbot",
    scopes=frozenset(),
    expires_at=None,
)


class _Tokens:
    async def token(self) -> AccessToken:
        return _TOKEN

    async def unauthorized(self, token: AccessToken) -> None:
        raise SystemExit("the fake refused the benchmark token")


class _NoReplies(Actor):
    async def handle(self, message: Any) -> Any:
        return None


class TimedHelix(FakeHelix):
    """`FakeHelix` that notes when each chat reply arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = trio.Event()
        self.arrived_at = 0.0

    async def _chat(self, request: Request) -> Response:
        self.arrived_at = time.perf_counter()
        self.arrived.set()
        return await super()._chat(request)


def chat_event(n: int) -> dict[str, Any]:
    return {
        "broadcaster_user_id": "1337",
        "broadcaster_user_login": "bench",
        "broadcaster_user_name": "Bench",
        "chatter_user_id": "77",
        "chatter_user_login": "fan",
        "chatter_user_name": "Fan",
        "message_id": f"chat-{n}",
        "message": {"text": "!ping", "fragments": [{"type": "text", "text": "!ping"}]},
        "message_type": "text",
        "badges": [],
        "cheer": None,
        "color": "#FF0000",
        "reply": None,
    }


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def describe(values: list[float]) -> str:
    return (
        f"p50 {pct(values, 0.5) * 1e3:7.3f} ms  p99 {pct(values, 0.99) * 1e3:7.3f} ms  "
        f"max {max(values) * 1e3:7.3f} ms  mean {statistics.fmean(values) * 1e3:7.3f} ms"
    )


async def bare_hop(count: int, frame: str) -> list[float]:
    """The peer: server send -> client receive + json.loads, one frame at a time."""
    latencies: list[float] = []
    go_send, go_receive = trio.open_memory_channel[float](0)

    async def handler(request: trio_websocket.WebSocketRequest) -> None:
        ws = await request.accept()
        async for _ in go_receive:
            await ws.send_message(frame)

    async with trio.open_nursery() as nursery:
        server = await nursery.start(trio_websocket.serve_websocket, handler, "127.0.0.1", 0, None)
        async with trio_websocket.open_websocket_url(f"ws://127.0.0.1:{server.port}/") as ws:
            for _ in range(count):
                started = time.perf_counter()
                await go_send.send(started)
                json.loads(await ws.get_message())
                latencies.append(time.perf_counter() - started)
        nursery.cancel_scope.cancel()
    return latencies


async def bare_post(helix: TimedHelix, count: int) -> list[float]:
    """For attribution: one ``POST /chat/messages`` to the fake Helix, nothing else."""
    import httpx

    latencies = []
    body = {"broadcaster_id": "1337", "sender_id": "4242", "message": "pong Fan"}
    headers = {"Authorization": "Bearer bot-token", "Client-Id": helix.client_id}
    async with httpx.AsyncClient() as client:
        for _ in range(count):
            started = time.perf_counter()
            response = await client.post(
                f"{helix.helix_base}/chat/messages", json=body, headers=headers
            )
            response.raise_for_status()
            latencies.append(time.perf_counter() - started)
    return latencies


async def run(events: int, warmup: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        async with trio.open_nursery() as nursery:
            eventsub = await nursery.start(FakeEventSub().serve)
            helix = await nursery.start(TimedHelix().serve)
            helix.eventsub = eventsub
            helix.add_user("benchbot", "4242", "bot-token")
            helix.add_user("bench", "1337", "broadcaster-token")
            root: Supervisor
            root = Supervisor(
                "root",
                [
                    ChildSpec("store", lambda: StateStore(Path(folder) / "bench.sqlite3")),
                    ChildSpec("replies", _NoReplies),
                    ChildSpec(
                        "triggers",
                        lambda: TriggerEngine(
                            CREATOR,
                            store=lambda: root.lookup("store"),
                            platform=lambda _name: root.lookup("twitch"),
                            pseudonym_key=b"b" * 32,
                        ),
                    ),
                    ChildSpec(
                        "twitch",
                        lambda: TwitchEvents(
                            creator=CREATOR,
                            role="chat",
                            client_id=helix.client_id,
                            tokens=_Tokens(),
                            triggers=lambda: root.lookup("triggers"),
                            store=lambda: root.lookup("store"),
                            url=eventsub.url,
                            helix_base=helix.helix_base,
                            backoff=Backoff(initial=0.05, maximum=0.2),
                            # The path is measured, not Twitch's chat window (20 per 30 s):
                            # every reply still goes through the queue and the window.
                            send_limit=1_000_000,
                            send_limit_privileged=1_000_000,
                        ),
                    ),
                ],
                backoff=Backoff(initial=0),
            )
            await nursery.start(root.run)
            with trio.fail_after(10):
                while not eventsub.enabled("channel.chat.message"):  # noqa: ASYNC110
                    await trio.sleep(0.01)

            runtime: list[float] = []
            sample_frame = ""
            for n in range(warmup + events):
                helix.arrived = trio.Event()
                started = time.perf_counter()
                await eventsub.notify("channel.chat.message", chat_event(n))
                with trio.fail_after(10):
                    await helix.arrived.wait()
                if n >= warmup:
                    runtime.append(helix.arrived_at - started)
                sample_frame = json.dumps(eventsub.sent[-1])
            peer = await bare_hop(warmup + events, sample_frame)
            peer = peer[warmup:]
            post = await bare_post(helix, warmup + events)
            post = post[warmup:]
            await root.stop()
            nursery.cancel_scope.cancel()

    print(f"python {platform.python_version()} on {platform.system()} {platform.machine()}")
    print(f"events: {events} (after {warmup} warm-up), one at a time, loopback")
    print(f"notification -> Helix reply     {describe(runtime)}")
    print(f"bare WebSocket hop (peer)       {describe(peer)}")
    print(f"bare Helix POST on the fake     {describe(post)}")
    print(
        f"runtime/peer p50 {pct(runtime, 0.5) / pct(peer, 0.5):6.1f}x   "
        f"p99 {pct(runtime, 0.99) / pct(peer, 0.99):6.1f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    trio.run(run, args.events, args.warmup)


if __name__ == "__main__":
    main()
