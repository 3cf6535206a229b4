"""Live watching and go-live notification benchmark (loopback fakes, one process).

Run: `python benchmarks/watch.py [--quick]`

1. poll cycle: 10,000 watched Twitch logins (500 of them live) against `tests/fakes/helix.py`
   (hypercorn on 127.0.0.1). Figures: requests and ms per cycle for the `HelixClient` scan
   (batches of 100, pages followed, rate-limit bookkeeping) and for a whole `LiveMonitor`
   `PollNow` (scan + one transaction over a real `StateStore`). Peer: a bare httpx loop sending
   the same 100 requests one after the other to the same fake.
2. webhook -> Discord: a signed EventSub stream.online POSTed with httpx to the real `HttpApp`
   (`register_watch_routes`) -> `LiveMonitor` (session + outbox entry in one transaction) ->
   `NotificationDispatcher` -> the webhook POST recorded by `tests/fakes/discord.py`. Latency =
   fake's receipt of the Discord POST - our send of the Twitch POST; each stream is a new
   channel, so every request makes one notification. Peer: a bare httpx POST to the same fake
   webhook (one round trip). Target: p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# benchmarks/actors.py would shadow the `actors` package: keep this folder off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import structlog  # noqa: E402
import trio  # noqa: E402

from actors.notify import NotificationDispatcher, NotifyRule  # noqa: E402
from actors.store import StateStore  # noqa: E402
from actors.twitch.app_helix import HelixClient  # noqa: E402
from actors.twitch.eventsub import compute_signature  # noqa: E402
from actors.twitch.helix import streams_requests  # noqa: E402
from actors.watch import LiveMonitor, PollNow, register_watch_routes  # noqa: E402
from runtime.http import HttpApp, serve_http  # noqa: E402
from supervisors import ChildSpec, Supervisor  # noqa: E402
from tests.fakes.discord import FakeDiscord  # noqa: E402
from tests.fakes.helix import FakeHelix  # noqa: E402

structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
logging.disable(logging.WARNING)

SECRET = "benchmark-eventsub-secret"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def bench_poll(cycles: int) -> None:
    async with trio.open_nursery() as nursery:
        fake: FakeHelix = await nursery.start(FakeHelix(bucket_limit=1_000_000).serve)
        logins = [f"streamer{i:05d}" for i in range(10_000)]
        for login in logins[::20]:
            fake.go_live(login)
        helix = HelixClient(
            client_id="client-id",
            client_secret="client-secret",
            helix_base=fake.helix_base,
            oauth_base=fake.oauth_base,
        )
        await helix.live_streams(logins=logins)  # token + connection warm-up
        scan_ms, scan_requests = [], []
        for _ in range(cycles):
            t0 = time.perf_counter()
            scan = await helix.live_streams(logins=logins)
            scan_ms.append((time.perf_counter() - t0) * 1000)
            scan_requests.append(scan.requests)
        assert len(scan.streams) == 500

        # Peer: the same 100 requests, sequential, bare httpx, same fake.
        token = next(iter(fake.tokens))
        requests = streams_requests(client_id="client-id", token=token, user_logins=logins)
        peer_ms = []
        async with httpx.AsyncClient() as http:
            for _ in range(cycles):
                t0 = time.perf_counter()
                for request in requests:
                    url = fake.helix_base + request.url.split("/helix", 1)[1]
                    r = await http.get(
                        url, params=list(request.params), headers=dict(request.headers)
                    )
                    r.raise_for_status()
                peer_ms.append((time.perf_counter() - t0) * 1000)

        # The whole monitor cycle: scan + the sessions transaction.
        with tempfile.TemporaryDirectory() as tmp:
            sup = Supervisor(
                "root",
                [
                    ChildSpec("store", lambda: StateStore(Path(tmp) / "state.sqlite3")),
                    ChildSpec(
                        "watch",
                        lambda: LiveMonitor(
                            store=lambda: sup.ref("store"),
                            helix=helix,
                            streamers=logins,
                            autopoll=False,
                        ),
                    ),
                ],
            )
            await nursery.start(sup.run)
            first = await sup.ref("watch").call(PollNow(), timeout=60)
            monitor_ms = []
            for _ in range(cycles):
                t0 = time.perf_counter()
                await sup.ref("watch").call(PollNow(), timeout=60)
                monitor_ms.append((time.perf_counter() - t0) * 1000)
            await sup.stop()
        await helix.aclose()
        nursery.cancel_scope.cancel()

    print("1. poll cycle, 10,000 watched logins, 500 live (Helix fake on loopback)")
    print(
        f"   requests per cycle: {statistics.median(scan_requests):.0f} "
        f"(the first cycle started {len(first.started)} sessions)"
    )
    ours = statistics.median(scan_ms)
    peer = statistics.median(peer_ms)
    mon = statistics.median(monitor_ms)
    print(f"   HelixClient scan:        {ours:8.1f} ms/cycle (median of {cycles})")
    print(f"   LiveMonitor PollNow:     {mon:8.1f} ms/cycle (scan + sessions transaction)")
    print(f"   peer, bare httpx loop:   {peer:8.1f} ms/cycle (same 100 requests, sequential)")
    print(f"   ratio scan/peer: {ours / peer:.2f}   monitor/peer: {mon / peer:.2f}")


def signed_online(login: str) -> tuple[dict[str, str], bytes]:
    body = json.dumps(
        {
            "subscription": {
                "id": str(uuid.uuid4()),
                "status": "enabled",
                "type": "stream.online",
                "version": "1",
                "cost": 0,
                "condition": {"broadcaster_user_id": "1"},
                "transport": {"method": "webhook", "callback": "https://example.com/"},
                "created_at": "2026-11-21T19:00:00Z",
            },
            "event": {
                "id": str(uuid.uuid4().int % 10**10),
                "broadcaster_user_id": "1",
                "broadcaster_user_login": login,
                "broadcaster_user_name": login,
                "type": "live",
                "started_at": "2026-11-21T20:00:00Z",
            },
        }
    ).encode()
    message_id = str(uuid.uuid4())
    ts = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "Twitch-Eventsub-Message-Id": message_id,
        "Twitch-Eventsub-Message-Type": "notification",
        "Twitch-Eventsub-Message-Timestamp": ts,
        "Twitch-Eventsub-Message-Signature": compute_signature(
            SECRET.encode(), message_id, ts, body
        ),
        "Twitch-Eventsub-Subscription-Type": "stream.online",
        "Twitch-Eventsub-Subscription-Version": "1",
    }, body


async def bench_webhook(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with trio.open_nursery() as nursery:
            fake: FakeDiscord = await nursery.start(FakeDiscord().serve)
            rule = NotifyRule(id="golive", webhook_url=fake.webhook_url())
            sup = Supervisor(
                "root",
                [
                    ChildSpec("store", lambda: StateStore(Path(tmp) / "state.sqlite3")),
                    ChildSpec(
                        "notify",
                        lambda: NotificationDispatcher(
                            store=lambda: sup.ref("store"), rules=[rule]
                        ),
                    ),
                    ChildSpec(
                        "watch",
                        lambda: LiveMonitor(
                            store=lambda: sup.ref("store"),
                            notifier=lambda: sup.ref("notify"),
                            rules=[rule],
                        ),
                    ),
                ],
            )
            await nursery.start(sup.run)
            app = HttpApp(token=None)
            register_watch_routes(app, lambda: sup.ref("watch"), SECRET)
            port = await nursery.start(
                lambda task_status: serve_http(
                    app, host="127.0.0.1", port=0, task_status=task_status
                )
            )
            url = f"http://127.0.0.1:{port}/webhooks/twitch"
            latencies: list[float] = []
            async with httpx.AsyncClient() as http:
                for i in range(count + 20):
                    headers, body = signed_online(f"channel{i}")
                    before = len(fake.calls("POST", "/webhooks/"))
                    t0 = trio.current_time()
                    r = await http.post(url, headers=headers, content=body)
                    assert r.status_code == 204, r.status_code

                    def delivered(f: FakeDiscord, n: int = before) -> bool:
                        return len(f.calls("POST", "/webhooks/")) > n

                    await fake.wait_for(delivered)
                    if i >= 20:  # warm-up excluded
                        latencies.append((fake.calls("POST", "/webhooks/")[-1].at - t0) * 1000)
                peer: list[float] = []
                for i in range(count + 20):
                    t0 = time.perf_counter()
                    r = await http.post(
                        fake.webhook_url(), params={"wait": "true"}, json={"content": f"peer {i}"}
                    )
                    r.raise_for_status()
                    if i >= 20:
                        peer.append((time.perf_counter() - t0) * 1000)
            await sup.stop()
            nursery.cancel_scope.cancel()
    print(f"2. signed EventSub webhook -> Discord webhook POST at the fake ({count} notifications)")
    print(
        f"   ours: p50 {pct(latencies, 0.5):6.2f} ms  p99 {pct(latencies, 0.99):6.2f} ms"
        "  (target p99 < 50 ms)"
    )
    print(
        f"   peer: p50 {pct(peer, 0.5):6.2f} ms  p99 {pct(peer, 0.99):6.2f} ms"
        "  (bare httpx POST to the fake webhook)"
    )
    print(
        f"   ratio ours/peer: p50 {pct(latencies, 0.5) / pct(peer, 0.5):.1f}  "
        f"p99 {pct(latencies, 0.99) / pct(peer, 0.99):.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer cycles and notifications")
    args = parser.parse_args()
    cycles, count = (3, 100) if args.quick else (10, 500)
    trio.run(bench_poll, cycles)
    trio.run(bench_webhook, count)


if __name__ == "__main__":
    main()
