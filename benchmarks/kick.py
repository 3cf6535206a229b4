"""Kick benchmark: 1,000 channels through a real soketi, trigger -> normalized event latency.

Run: `python benchmarks/kick.py [--channels 1000] [--events 400] [--quick]`

Needs node and npm (soketi is installed into tests/servers/soketi on first use, about a
minute; see tests/fakes/kick_soketi.py).

1. A soketi process on loopback (app id/key/secret from env, no config file).
2. `--channels` `KickChat` actors under one `Supervisor`, one websocket each (the design: an
   actor owns its connection), each subscribed to its own `chatrooms.<id>.v2` and
   `channel.<id>`; they all send to one recording "triggers" actor that timestamps every event
   in its `handle`. Reported: time until every actor is subscribed, and memory per channel
   (this process's RSS delta / channels, after a GC; soketi's own RSS delta beside it).
3. Latency: `--events` real Kick ChatMessageEvent frames (the conformance capture with a fresh
   id), each triggered through soketi's HTTP API (a signed POST) on a random one of the
   channels, one at a time with a short random gap. Latency = the recording actor's receipt -
   the moment before the POST. Peer in the same run and under the same load: a bare
   trio-websocket client with no actor (subscribe, receive, `json.loads`) on its own channel,
   its events interleaved with the actors' events; latency = frame received - the moment
   before the POST. Target: p99 < 100 ms for the actor path.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import platform
import random
import resource
import statistics
import sys
import time
import uuid
from functools import partial
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# benchmarks/actors.py would shadow the `actors` package: keep this folder off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

try:
    import httpx
    import structlog
    import trio
    import trio_websocket

    from actors import Actor
    from actors.events import ChatEvent
    from actors.kick.chat import KickChat
    from config.models import KickConfig
    from supervisors import ChildSpec, Supervisor
    from tests.fakes.kick_soketi import Soketi, SoketiUnavailable
except ImportError as exc:  # pragma: no cover - a clear message instead of a traceback
    raise SystemExit(
        f"missing dependency ({exc}); install the project first: "
        "python3 -m venv .venv && .venv/bin/pip install -e ."
    ) from exc

# 1,000 "kick connected"/"kick subscribed" lines would measure the console.
structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

CORPUS = ROOT / "tests" / "conformance" / "data" / "kick_pusher.jsonl"
FIRST_CHATROOM = 1_000_000
FIRST_CHANNEL = 5_000_000
PEER_CHANNEL = "chatrooms.999.v2"


def corpus_chat_payload() -> dict[str, Any]:
    """The decoded `data` of the real ChatMessageEvent capture."""
    for text in CORPUS.read_text(encoding="utf-8").splitlines():
        item = json.loads(text)
        if item.get("kind") == "pusher_frame" and "ChatMessageEvent" in item["raw"]:
            return json.loads(json.loads(item["raw"])["data"])
    raise SystemExit(f"no ChatMessageEvent capture in {CORPUS}")


def rss_bytes(pid: int | None = None) -> int:
    with open(f"/proc/{pid or 'self'}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def progress(text: str) -> None:
    print(f"  ... {text}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


class Recorder(Actor):
    """The "triggers" actor: timestamps every event by message id."""

    mailbox_size = 10_000

    def __init__(self, arrivals: dict[str, float], changed: list[trio.Event]) -> None:
        self.arrivals = arrivals
        self.changed = changed

    async def handle(self, message: Any) -> Any:
        if isinstance(message, ChatEvent) and message.message_id is not None:
            self.arrivals[message.message_id] = time.perf_counter()
            self.changed[0].set()
            self.changed[0] = trio.Event()


class BareClient:
    """The peer: a trio-websocket client with no actor, on its own channel."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.changed = trio.Event()
        self.subscribed = trio.Event()

    async def run(self, url: str) -> None:
        async with trio_websocket.open_websocket_url(url) as ws, trio.open_nursery() as nursery:
            nursery.start_soon(self._keepalive, ws)
            await ws.get_message()  # connection_established
            await ws.send_message(
                json.dumps(
                    {"event": "pusher:subscribe", "data": {"auth": "", "channel": PEER_CHANNEL}}
                )
            )
            while True:
                text = await ws.get_message()
                now = time.perf_counter()
                frame = json.loads(text)
                if frame.get("event") == "pusher_internal:subscription_succeeded":
                    self.subscribed.set()
                    continue
                if frame.get("event") == "pusher:ping":
                    await ws.send_message(json.dumps({"event": "pusher:pong", "data": {}}))
                    continue
                data = frame.get("data")
                if isinstance(data, str):
                    data = json.loads(data)
                if isinstance(data, dict) and isinstance(data.get("id"), str):
                    self.arrivals[data["id"]] = now
                    self.changed.set()
                    self.changed = trio.Event()

    async def _keepalive(self, ws: trio_websocket.WebSocketConnection) -> None:
        # soketi closes (4201) a client that stays silent past its activity timeout.
        while True:
            await trio.sleep(10)
            await ws.send_message(json.dumps({"event": "pusher:ping", "data": {}}))


async def wait_for(arrivals: dict[str, float], key: str, changed: Any, limit: float) -> bool:
    """Wait up to `limit` seconds for `key` to arrive; False when it did not."""
    with trio.move_on_after(limit):
        while key not in arrivals:
            await changed()
        return True
    return False


async def bench(args: argparse.Namespace, soketi: Soketi) -> dict[str, Any]:
    rng = random.Random(42)
    payload = corpus_chat_payload()
    arrivals: dict[str, float] = {}
    changed = [trio.Event()]
    n = args.channels

    async with trio.open_nursery() as nursery, httpx.AsyncClient(timeout=10) as http:
        # Warm the HTTP client, soketi's trigger path, and the peer's connection.
        peer = BareClient()
        nursery.start_soon(peer.run, soketi.ws_url())
        with trio.fail_after(30):
            await peer.subscribed.wait()
        progress("peer subscribed")
        await soketi.trigger(
            http, PEER_CHANNEL, "App\\Events\\ChatMessageEvent", {**payload, "id": "warm"}
        )

        gc.collect()
        rss_before = rss_bytes()
        soketi_before = soketi.rss_bytes() or 0
        chats: list[KickChat] = []

        def make(i: int) -> KickChat:
            config = KickConfig(
                channel=f"bench{i}",
                chatroom_id=FIRST_CHATROOM + i,
                channel_id=FIRST_CHANNEL + i,
                ws_url=soketi.ws_url(),
            )
            chat = KickChat(
                creator_id=f"creator{i}",
                config=config,
                triggers=lambda: root.lookup("triggers"),
                connect_timeout=30.0,
            )
            chats.append(chat)
            return chat

        specs = [ChildSpec("triggers", lambda: Recorder(arrivals, changed))]
        specs += [ChildSpec(f"kick{i}", partial(make, i)) for i in range(n)]
        root = Supervisor("root", specs)
        started = time.perf_counter()
        await nursery.start(root.run)
        with trio.fail_after(300):
            while True:
                if sum(c.status == "running" for c in chats) == n:
                    break
                await trio.sleep(0.05)
        subscribe_seconds = time.perf_counter() - started
        progress(f"{n} actors subscribed")
        gc.collect()
        await trio.sleep(0.5)
        rss_after = rss_bytes()
        soketi_after = soketi.rss_bytes() or 0

        async def changed_wait() -> None:
            await changed[0].wait()

        async def peer_wait() -> None:
            await peer.changed.wait()

        actor_lat: list[float] = []
        peer_lat: list[float] = []
        lost = 0
        for k in range(args.events):
            message_id = str(uuid.uuid4())
            data = {**payload, "id": message_id}
            if k % 2 == 0:
                i = rng.randrange(n)
                channel = f"chatrooms.{FIRST_CHATROOM + i}.v2"
                t0 = time.perf_counter()
                await soketi.trigger(http, channel, "App\\Events\\ChatMessageEvent", data)
                if await wait_for(arrivals, message_id, changed_wait, 5):
                    actor_lat.append(arrivals[message_id] - t0)
                else:
                    lost += 1
            else:
                t0 = time.perf_counter()
                await soketi.trigger(http, PEER_CHANNEL, "App\\Events\\ChatMessageEvent", data)
                if await wait_for(peer.arrivals, message_id, peer_wait, 5):
                    peer_lat.append(peer.arrivals[message_id] - t0)
                else:
                    lost += 1
            await trio.sleep(rng.uniform(0, 0.01))

        reconnects = sum(c.reconnects for c in chats)
        progress(f"{args.events} events done, lost {lost}; stopping")
        await root.stop()
        progress("stopped")
        nursery.cancel_scope.cancel()

    return {
        "channels": n,
        "subscribe_seconds": subscribe_seconds,
        "rss_delta": rss_after - rss_before,
        "soketi_rss_delta": soketi_after - soketi_before,
        "actor_lat": actor_lat,
        "peer_lat": peer_lat,
        "lost": lost,
        "reconnects": reconnects,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--channels", type=int, default=1000)
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--quick", action="store_true", help="100 channels, 100 events")
    args = parser.parse_args()
    if args.quick:
        args.channels, args.events = 100, 100

    # One websocket per channel plus soketi's side: make sure the descriptors are there.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.channels * 2 + 256
    if soft < want and (hard == resource.RLIM_INFINITY or hard >= want):
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    try:
        Soketi.require_installed()
    except SoketiUnavailable as exc:
        raise SystemExit(str(exc)) from exc
    soketi = Soketi()
    soketi.start()
    try:
        result = trio.run(bench, args, soketi)
    finally:
        soketi.stop()

    actor, peer = result["actor_lat"], result["peer_lat"]
    ms = 1000.0
    print(
        f"machine: {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {platform.platform()}"
    )
    print(
        f"{result['channels']} KickChat actors (one websocket each, 2 subscriptions each) "
        f"subscribed in {result['subscribe_seconds']:.2f} s"
    )
    per_channel = result["rss_delta"] / result["channels"]
    print(
        f"memory per subscribed channel: {per_channel / 1024:.1f} KiB "
        f"(runtime RSS delta {result['rss_delta'] / 2**20:.1f} MiB / {result['channels']}); "
        f"soketi's own RSS grew {result['soketi_rss_delta'] / 2**20:.1f} MiB"
    )
    if not actor or not peer:
        raise SystemExit(f"no latency samples (lost {result['lost']})")
    a50, a99 = percentile(actor, 50) * ms, percentile(actor, 99) * ms
    p50, p99 = percentile(peer, 50) * ms, percentile(peer, 99) * ms
    print(f"trigger -> normalized event at the triggers actor ({len(actor)} events):")
    print(f"  KickChat actor   p50 {a50:7.2f} ms  p99 {a99:7.2f} ms  max {max(actor) * ms:7.2f} ms")
    print(f"  bare ws client   p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  max {max(peer) * ms:7.2f} ms")
    print(
        f"  ratio actor/bare p50 {a50 / p50:.2f}x  p99 {a99 / p99:.2f}x; "
        f"mean {statistics.fmean(actor) * ms:.2f} vs {statistics.fmean(peer) * ms:.2f} ms"
    )
    print(f"  target p99 < 100 ms: {'met' if a99 < 100 else 'NOT met'}")
    print(f"lost events: {result['lost']}, reconnects during the run: {result['reconnects']}")


if __name__ == "__main__":
    main()
