"""Actor benchmark: our actors beside raw trio channels (the limit) and Pykka (the peer).

Run: `python benchmarks/actors.py [--quick]`. Prints each figure and the ratios; all in one
run on the same machine, so the ratios are what to read on a noisy box.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from typing import Any

# This file is named like the package it measures; keep its folder off the import path.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import logging

import structlog
import trio
import trio.testing

from actors import Actor
from supervisors import Backoff, ChildSpec, Supervisor

# Crash logs would dominate the restart figure: measure the mechanism, not the console.
structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))

try:
    import pykka
except ImportError:  # the peer is optional; `pip install -e .[bench]` brings it
    pykka = None


def rss_bytes() -> int:
    """Resident set size of this process (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


class Echo(Actor):
    mailbox_size = 1_000_000  # the cast loop never yields; Pykka queues are unbounded too

    def __init__(self) -> None:
        self.count = 0
        self.done: trio.Event | None = None
        self.target = 0

    async def handle(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError("benchmark crash")
        if type(message) is tuple:  # ("expect", n, event)
            _, self.target, self.done = message
            self.count = 0
            return None
        self.count += 1
        if self.done is not None and self.count >= self.target:
            self.done.set()
        return message


class Idle(Actor):
    mailbox_size = 16


# ----------------------------------------------------------------- trio figures


async def ours_call(n: int) -> float:
    sup = Supervisor("bench", [ChildSpec("echo", Echo)])
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        ref = sup.ref("echo")
        for _ in range(1000):
            await ref.call(1)
        t0 = time.perf_counter()
        for i in range(n):
            await ref.call(i)
        elapsed = time.perf_counter() - t0
        await sup.stop()
    return elapsed / n


async def raw_call(n: int) -> float:
    req_send, req_recv = trio.open_memory_channel(1000)
    rep_send, rep_recv = trio.open_memory_channel(1000)

    async def server() -> None:
        async for message in req_recv:
            await rep_send.send(message)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(server)
        for _ in range(1000):
            await req_send.send(1)
            await rep_recv.receive()
        t0 = time.perf_counter()
        for i in range(n):
            await req_send.send(i)
            await rep_recv.receive()
        elapsed = time.perf_counter() - t0
        nursery.cancel_scope.cancel()
    return elapsed / n


async def ours_cast(n: int) -> float:
    sup = Supervisor("bench", [ChildSpec("echo", Echo)])
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        ref = sup.ref("echo")
        done = trio.Event()
        await ref.call(("expect", n, done))
        t0 = time.perf_counter()
        for i in range(n):
            ref.cast(i)
        await done.wait()
        elapsed = time.perf_counter() - t0
        await sup.stop()
    return n / elapsed


async def raw_cast(n: int) -> float:
    send, recv = trio.open_memory_channel(n)
    done = trio.Event()

    async def consumer() -> None:
        count = 0
        async for _ in recv:
            count += 1
            if count == n:
                done.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consumer)
        await trio.testing.wait_all_tasks_blocked()
        t0 = time.perf_counter()
        for i in range(n):
            send.send_nowait(i)
        await done.wait()
        elapsed = time.perf_counter() - t0
        nursery.cancel_scope.cancel()
    return n / elapsed


async def ours_restart(n: int) -> list[float]:
    sup = Supervisor(
        "bench", [ChildSpec("echo", Echo)], max_restarts=n + 10, backoff=Backoff(initial=0)
    )
    latencies = []
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        ref = sup.ref("echo")
        for _ in range(n):
            t0 = time.perf_counter()
            ref.cast("crash")
            await ref.call("ping")  # handled by the new instance
            latencies.append(time.perf_counter() - t0)
        await sup.stop()
    return latencies


async def ours_spawn(n: int) -> tuple[float, int]:
    gc.collect()
    before = rss_bytes()
    sup = Supervisor("bench", [])
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        t0 = time.perf_counter()
        for i in range(n):
            await sup.start_child(ChildSpec(f"idle{i}", Idle))
        elapsed = time.perf_counter() - t0
        gc.collect()
        used = rss_bytes() - before
        await sup.stop()
    return elapsed / n, used


async def raw_spawn(n: int) -> tuple[float, int]:
    gc.collect()
    before = rss_bytes()
    channels = []
    async with trio.open_nursery() as nursery:
        t0 = time.perf_counter()
        for _ in range(n):
            send, recv = trio.open_memory_channel(16)
            channels.append(send)
            nursery.start_soon(recv.receive)
        await trio.testing.wait_all_tasks_blocked()
        elapsed = time.perf_counter() - t0
        used = rss_bytes() - before
        nursery.cancel_scope.cancel()
    return elapsed / n, used


# ---------------------------------------------------------------- Pykka figures

if pykka is not None:

    class PykkaEcho(pykka.ThreadingActor):
        def __init__(self) -> None:
            super().__init__()
            self.count = 0
            self.target = 0
            self.done: Any = None

        def on_receive(self, message: Any) -> Any:
            if type(message) is tuple:
                _, self.target, self.done = message
                self.count = 0
                return None
            self.count += 1
            if self.done is not None and self.count >= self.target:
                self.done.set()
            return message


def pykka_call(n: int) -> float:
    ref = PykkaEcho.start()
    for _ in range(200):
        ref.ask(1)
    t0 = time.perf_counter()
    for i in range(n):
        ref.ask(i)
    elapsed = time.perf_counter() - t0
    ref.stop()
    return elapsed / n


def pykka_cast(n: int) -> float:
    import threading

    ref = PykkaEcho.start()
    done = threading.Event()
    ref.ask(("expect", n, done))
    t0 = time.perf_counter()
    for i in range(n):
        ref.tell(i)
    done.wait()
    elapsed = time.perf_counter() - t0
    ref.stop()
    return n / elapsed


def pykka_spawn(n: int) -> tuple[float, int]:
    gc.collect()
    before = rss_bytes()
    t0 = time.perf_counter()
    refs = [PykkaEcho.start() for _ in range(n)]
    elapsed = time.perf_counter() - t0
    used = rss_bytes() - before
    for ref in refs:
        ref.stop()
    return elapsed / n, used


# ---------------------------------------------------------------------- report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller counts (CI smoke run)")
    args = parser.parse_args()
    calls = 20_000 if args.quick else 100_000
    casts = 100_000 if args.quick else 500_000
    restarts = 500 if args.quick else 2_000
    idle = 10_000
    pykka_idle = 1_000  # one OS thread each: 10,000 would measure the kernel, not Pykka

    def run(fn: Any, *a: Any) -> Any:
        return trio.run(fn, *a)

    ours_rt = min(run(ours_call, calls) for _ in range(3))
    raw_rt = min(run(raw_call, calls) for _ in range(3))
    ours_tp = max(run(ours_cast, casts) for _ in range(3))
    raw_tp = max(run(raw_cast, casts) for _ in range(3))
    restart = run(ours_restart, restarts)
    spawn, spawn_mem = run(ours_spawn, idle)
    raw_sp, raw_mem = run(raw_spawn, idle)

    print(f"python {sys.version.split()[0]}, trio {trio.__version__}")
    print(
        f"call round trip      ours {ours_rt * 1e6:8.2f} us   raw trio channels "
        f"{raw_rt * 1e6:8.2f} us   ratio ours/raw {ours_rt / raw_rt:5.2f} (target <= 1.5)"
    )
    print(
        f"cast throughput      ours {ours_tp:10,.0f}/s raw trio channel  {raw_tp:10,.0f}/s"
        f" ratio ours/raw {ours_tp / raw_tp:5.2f}"
    )
    med = statistics.median(restart)
    p99 = sorted(restart)[int(len(restart) * 0.99) - 1]
    print(
        f"restart latency      median {med * 1e3:6.3f} ms  p99 {p99 * 1e3:6.3f} ms "
        f"(crash to the new instance answering; target median < 1 ms)"
    )
    print(
        f"spawn {idle:,} idle     ours {spawn * 1e6:8.2f} us each, {spawn_mem / 2**20:6.1f} MB"
        f"   raw tasks {raw_sp * 1e6:6.2f} us each, {raw_mem / 2**20:6.1f} MB (target < 100 MB)"
    )
    if pykka is None:
        print("pykka not installed: pip install -e .[bench] for the peer figures")
        return
    # Best of three for the peer too: thread wake-ups vary a lot on a shared machine.
    pk_rt = min(pykka_call(calls // 4) for _ in range(3))
    pk_tp = max(pykka_cast(casts // 4) for _ in range(3))
    pk_sp, pk_mem = pykka_spawn(pykka_idle)
    print(
        f"pykka ask            {pk_rt * 1e6:8.2f} us   ratio pykka/ours {pk_rt / ours_rt:5.2f}"
        " (target >= 3)"
    )
    print(
        f"pykka tell           {pk_tp:10,.0f}/s ratio ours/pykka {ours_tp / pk_tp:5.2f}"
        " (target >= 1)"
    )
    print(
        f"pykka spawn {pykka_idle:,}     {pk_sp * 1e6:8.2f} us each, {pk_mem / 2**20:6.1f} MB"
        f" ({pk_mem / pykka_idle / 1024:5.1f} KB each vs ours "
        f"{spawn_mem / idle / 1024:5.1f} KB each)"
    )


if __name__ == "__main__":
    main()
