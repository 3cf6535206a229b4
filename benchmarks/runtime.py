"""Runtime process benchmark: start-up, one snapshot publish with 1,000 creators, idle CPU.

Run: `python benchmarks/runtime.py [--quick] [--only start,publish,idle] [--profile]`

1. start to `/status` 200: the real process (`python -m runtime run`) on a fresh data folder,
   from spawn to the first 200; peer: `python -c "import trio, httpx, hypercorn"` (the floor
   set by imports alone). Target < 1 s.
2. one publish with 1,000 creators: `SnapshotPublisher.publish()` on a populated database:
   a heartbeat (clock moved, nothing changed), the same clock again (skip-unchanged), a
   heartbeat after an actor's counter moved (runtime_snapshot.json rebuilt), after a
   `Changed("tallies")` (one tally changed), and a full publish (start, `PublishNow`), with the
   full path's read/build/write broken down; peer: `json.dumps` of the same documents (the
   serialisation floor). Target < 100 ms.
3. idle CPU with 100 idle creators (triggers, no sources): CPU time of the process from
   /proc/<pid>/stat over a wall-time window; peer: an idle `trio.run(trio.sleep, ...)`.
   Target < 1 % of one core.

Everything stays on 127.0.0.1 and in temporary folders; the figures and their peers come from
the same run, so the ratios are what to read on a noisy machine.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import http.client
import io
import json
import os
import pstats
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# This file is named like the package it measures; keep its folder off the import path.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

try:
    import logging

    import attrs
    import orjson
    import structlog
    import trio

    from actors import Detail, MailboxFigures, TreeRow
    from actors.publisher import (
        PublisherStatistics,
        PublishSummary,
        SnapshotPublisher,
        read_store,
    )
    from actors.store import Changed, StoreStatistics
    from actors.triggers.engine import TriggerEngineStatistics
    from config.models import (
        Config,
        CreatorConfig,
        ScoreboardConfig,
        TallyConfig,
        TriggerConfig,
    )
    from exports.canonical import _OPTIONS, canonical_bytes
    from exports.scrub import scrub
    from runtime.http_api import HttpServerStatistics
    from state import counters as st_counters
    from state import creators as st_creators
    from state import open_database
    from state import polls as st_polls
    from state import signals as st_signals
except ImportError as exc:  # pragma: no cover - a clear message instead of a traceback
    raise SystemExit(
        f"missing dependency ({exc}); install the project first: "
        "python3 -m venv .venv && .venv/bin/pip install -e ."
    ) from exc

structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# --------------------------------------------------------------------------- shared helpers


def config_toml(data_dir: Path, creators: int) -> str:
    """A runtime config like config/example.toml: `creators` creators with tallies, a
    scoreboard and triggers, no platform source and no replay; HTTP on a free port, no token."""
    parts = [
        "[runtime]",
        f"data_dir = {json.dumps(str(data_dir))}",
        'log_level = "info"',
        "shutdown_deadline = 10.0",
        "",
        "[http]",
        "enabled = true",
        'host = "127.0.0.1"',
        "port = 0",
        "",
        "[exports]",
        "heartbeat_seconds = 10",
        "",
    ]
    for n in range(creators):
        cid = f"creator{n:04d}"
        parts += [
            "[[creators]]",
            f'id = "{cid}"',
            f'display_name = "Creator {n}"',
            "",
            "[[creators.tallies]]",
            'id = "deaths"',
            'label = "Deaths"',
            "",
            "[[creators.tallies]]",
            'id = "gg"',
            'label = "GGs in chat"',
            "",
            "[[creators.scoreboards]]",
            'id = "trivia"',
            'title = "Trivia"',
            "",
            "[[creators.triggers]]",
            'id = "ping"',
            'pattern = "!ping"',
            'response = "pong, {user}!"',
            "cooldown_user = 5",
            "",
            "[[creators.triggers]]",
            'id = "greeting"',
            'kind = "regex"',
            "pattern = '\\b(hello|hi|hey)\\s+(chat|everyone|all)\\b'",
            'response = "Welcome in, {user}!"',
            "cooldown_user = 300",
            "",
            "[[creators.triggers]]",
            'id = "death"',
            'pattern = "!death"',
            'permission = "moderator"',
            'action = "tally_increment"',
            'tally = "deaths"',
            'response = "Deaths this stream: {count}"',
            "",
            "[[creators.triggers]]",
            'id = "gg"',
            'kind = "keyword"',
            'pattern = "gg"',
            'action = "tally_increment"',
            'tally = "gg"',
            "cooldown_user = 10",
            "",
        ]
    return "\n".join(parts)


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process (all its threads), in clock ticks, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)


def http_status(host: str, port: int, timeout: float = 1.0) -> int | None:
    """The status code of GET /status once every component has started (the server answers
    while creators still start: those answers count as not ready), or None before."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", "/status")
        response = conn.getresponse()
        body = response.read()
    except OSError:
        return None
    finally:
        conn.close()
    try:
        degraded = json.loads(body).get("degraded", ())
    except (ValueError, AttributeError):
        return response.status
    return None if any(d.get("state") == "starting" for d in degraded) else response.status


class Runtime:
    """A `python -m runtime run` subprocess on a config in its own temporary folder."""

    def __init__(self, folder: Path, creators: int) -> None:
        self.folder = folder
        self.data_dir = folder / "data"
        self.config = folder / "runtime.toml"
        self.config.write_text(config_toml(self.data_dir, creators), "utf-8")
        self.log = folder / "stderr.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.spawned_at = 0.0

    def spawn(self) -> None:
        """Start the process; `spawned_at` is the perf_counter just before the spawn."""
        with open(self.log, "wb") as err:
            self.spawned_at = time.perf_counter()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "runtime", "run", "--config", str(self.config)],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Poll for http.json, then GET /status until 200 with every component started;
        returns the perf_counter of that 200."""
        assert self.proc is not None
        deadline = time.perf_counter() + timeout
        announce = self.data_dir / "http.json"
        address: tuple[str, int] | None = None
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(
                    f"runtime exited with code {self.proc.returncode} before answering; "
                    f"its stderr:\n{self.log.read_text('utf-8', 'replace')[-3000:]}"
                )
            if address is None:
                try:
                    found = json.loads(announce.read_text("utf-8"))
                    address = (found["host"], int(found["port"]))
                except (OSError, ValueError, KeyError):
                    time.sleep(0.002)
                    continue
            if http_status(*address) == 200:
                return time.perf_counter()
            time.sleep(0.002)
        self.stop()
        raise SystemExit(f"runtime did not answer /status 200 within {timeout:.0f} s ({self.log})")

    def stop(self) -> None:
        """SIGTERM, then wait (kill after 20 s)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@contextlib.contextmanager
def temp_folder(prefix: str) -> Iterator[Path]:
    """A temporary folder, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1e3:8.1f} ms"


# ------------------------------------------------------------------ 1. start to /status 200


MILESTONES = (("http listening", "HTTP bound"), ("runtime started", "tree started"))


def milestones(log: Path, spawned_wall: float) -> dict[str, float]:
    """Seconds from spawn to the log lines of `MILESTONES` (from the JSON log file)."""
    found: dict[str, float] = {}
    try:
        rows = log.read_text("utf-8").splitlines()
    except OSError:
        return found
    for raw in rows:
        try:
            row = json.loads(raw)
            event, stamp = row["event"], row["timestamp"]
        except (ValueError, KeyError, TypeError):
            continue
        for name, label in MILESTONES:
            if event == name and label not in found:
                at = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
                found[label] = at - spawned_wall
    return found


def start_once(creators: int) -> tuple[float, dict[str, float]]:
    """Spawn-to-200 wall time of one start on a fresh data folder, and its log milestones."""
    with temp_folder("ss-bench-start-") as folder:
        rt = Runtime(folder, creators)
        wall = time.time()
        rt.spawn()
        try:
            elapsed = rt.wait_ready() - rt.spawned_at
        finally:
            rt.stop()
        return elapsed, milestones(rt.data_dir / "logs" / "runtime.log", wall)


def import_once(code: str) -> float:
    """Wall time for `python -c <code>` to exit."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - t0


def report_start(quick: bool) -> None:
    runs = 3 if quick else 5
    sizes = (1, 100)
    print(f"\n== start to /status 200 ({runs} runs each, fresh data folder per run; the runs")
    print("   of the runtime and of the peers are interleaved so they see the same load)")
    floor: list[float] = []
    ours: list[float] = []
    times: dict[int, list[float]] = {n: [] for n in sizes}
    marks: dict[int, dict[str, list[float]]] = {n: {lb: [] for _, lb in MILESTONES} for n in sizes}
    for _ in range(runs):
        floor.append(import_once("import trio, httpx, hypercorn"))
        ours.append(import_once("import runtime.cli, runtime.app"))
        for n in sizes:
            elapsed, found = start_once(n)
            times[n].append(elapsed)
            for label, value in found.items():
                marks[n][label].append(value)
    f_med = statistics.median(floor)
    print(f"peer: python -c 'import trio, httpx, hypercorn'  median {fmt_ms(f_med)}"
          f"  max {fmt_ms(max(floor))}")  # fmt: skip
    print(f"(reference) import runtime.cli, runtime.app   median {fmt_ms(statistics.median(ours))}"
          "  (the modules `run` loads)")  # fmt: skip
    for n in sizes:
        med = statistics.median(times[n])
        verdict = "met" if max(times[n]) < 1.0 else "NOT met"
        print(f"runtime, {n:>3} creator(s)                 median {fmt_ms(med)}"
              f"  max {fmt_ms(max(times[n]))}  ratio to peer {med / f_med:5.2f}x"
              f"  (target < 1 s: {verdict})")  # fmt: skip
        if all(marks[n].values()):
            print("   from spawn (log timestamps, median): "
                  + ", ".join(f"{k} {fmt_ms(statistics.median(v)).strip()}"
                              for k, v in marks[n].items())
                  + f", /status 200 {fmt_ms(med).strip()}")  # fmt: skip


# ------------------------------------------------------------- 2. one publish, 1,000 creators

T0 = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)


def publish_config(creators: int) -> Config:
    """`creators` creators, each with two tallies, a scoreboard and four triggers; no replay."""
    out = []
    for n in range(creators):
        out.append(
            CreatorConfig(
                id=f"creator{n:04d}",
                display_name=f"Creator {n}",
                tallies=(
                    TallyConfig(id="deaths", label="Deaths"),
                    TallyConfig(id="gg", label="GG"),
                ),
                scoreboards=(ScoreboardConfig(id="trivia", title="Trivia"),),
                triggers=(
                    TriggerConfig(id="ping", pattern="!ping", response="pong, {user}!",
                                  cooldown_user=5),
                    TriggerConfig(id="death", pattern="!death", action="tally_increment",
                                  tally="deaths", permission="moderator"),
                    TriggerConfig(id="gg", kind="keyword", pattern="gg",
                                  action="tally_increment", tally="gg", cooldown_user=10),
                    TriggerConfig(id="greeting", kind="regex",
                                  pattern=r"\b(hello|hi|hey)\s+(chat|everyone|all)\b",
                                  response="Welcome in, {user}!", cooldown_user=300),
                ),
            )
        )  # fmt: skip
    return Config(creators=tuple(out))


def populate(path: Path, config: Config) -> dict[str, int]:
    """Creators, tallies, a scoreboard of 10 entries and one poll (3 options, 20 votes) per
    creator (a quarter of the polls open), and full signal rings; returns row counts."""
    at = int(T0.timestamp() * 1000)
    db = open_database(str(path), synchronous="normal")
    counts = {"polls": 0, "tallies": 0, "score entries": 0, "votes": 0, "signals": 0}
    try:
        with db.transaction() as conn:
            for n, creator in enumerate(config.creators):
                cid = creator.id
                st_creators.upsert_creator(
                    conn, creator_id=cid, display_name=creator.display_name, now=at
                )
                for i, tally in enumerate(creator.tallies):
                    st_counters.set_tally(
                        conn,
                        creator_id=cid,
                        tally_id=tally.id,
                        value=(n * 7 + i) % 50,
                        label=tally.label,
                        now=at + n,
                    )
                    counts["tallies"] += 1
                for e in range(10):
                    st_counters.add_points(
                        conn,
                        creator_id=cid,
                        scoreboard_id="trivia",
                        label=f"viewer{(n + e) % 300}",
                        points=(e * 3) % 11 + 1,
                        title="Trivia",
                        now=at + n,
                    )
                    counts["score entries"] += 1
                poll_id = f"{cid}-poll-1"
                st_polls.open_poll(
                    conn,
                    poll_id=poll_id,
                    creator_id=cid,
                    question="Which boon next?",
                    options=("Zeus", "Artemis", "Athena"),
                    now=at,
                )
                counts["polls"] += 1
                for v in range(20):
                    st_polls.vote(
                        conn,
                        poll_id=poll_id,
                        voter_key=f"v{v:02d}",
                        option_id=str(v % 3 + 1),
                        now=at + v,
                    )
                    counts["votes"] += 1
                if n % 4:
                    st_polls.close_poll(conn, poll_id=poll_id, now=at + 1000)
            for kind in ("chat", "poll_vote", "tally", "score"):
                for s in range(250):
                    cid = config.creators[s % len(config.creators)].id
                    st_signals.append_signal(
                        conn,
                        kind=kind,
                        creator_id=cid,
                        timestamp=at + s,
                        entity_id=f"e{s}",
                        type="chat_message" if kind == "chat" else kind,
                        source="twitch",
                        summary=f"signal {s} of {kind}",
                    )
            counts["signals"] = 4 * 200  # the ring keeps 200 per kind
    finally:
        db.close()
    return counts  # fmt: skip


def tree_rows(config: Config, root: str = "root") -> list[TreeRow]:
    """Rows like `Supervisor.tree()`'s for the process with these creators."""
    started = T0 - timedelta(hours=2)

    def row(path: str, kind: str, detail: Detail | None = None) -> TreeRow:
        return TreeRow(
            path=f"{root}/{path}" if path else root,
            kind=kind,
            state="running",
            started_at=started,
            mailbox=MailboxFigures(depth=0, peak=3),
            handled=120,
            detail=detail,
        )

    rows = [
        row("", "supervisor"),
        row(
            "store",
            "actor",
            StoreStatistics(writes=1000, commits=900, failed_ops=0, file_size=4_000_000),
        ),
        row(
            "publisher",
            "actor",
            PublisherStatistics(
                publishes=10,
                full_publishes=1,
                refreshes=0,
                holds=0,
                held=(),
                last=PublishSummary(written=3, skipped=0, errors=0, seconds=0.05),
                last_rebuilt=("tallies.json",),
                last_reads={},
                last_published_at=T0,
            ),
        ),
        row("http", "actor", HttpServerStatistics(host="127.0.0.1", port=8765)),
        row("creators", "supervisor"),
    ]
    for c in config.creators:
        base = f"creators/creator:{c.id}"
        rows.append(row(base, "supervisor"))
        rows.append(
            row(
                f"{base}/triggers",
                "actor",
                TriggerEngineStatistics(
                    messages=500,
                    fired=12,
                    actions=12,
                    last_event_at=T0,
                    cooldowns=3,
                    fired_at={(c.id, "ping"): T0, (c.id, "gg"): T0 + timedelta(seconds=5)},
                ),
            )
        )
    return rows


class Clock:
    """A settable clock for the publisher (so "changed" and "unchanged" are deliberate)."""

    def __init__(self) -> None:
        self.now = T0 + timedelta(hours=3)

    def __call__(self) -> datetime:
        return self.now

    def advance(self) -> None:
        self.now += timedelta(seconds=1)


async def run_publish_bench(
    folder: Path, config: Config, rounds: int, profile: bool
) -> dict[str, Any]:
    """Time publish() changed/unchanged and its parts; optionally profile a changed publish."""
    database = folder / "state" / "runtime.sqlite3"
    rows = tree_rows(config)
    clock = Clock()
    pub = SnapshotPublisher(
        database=database,
        root=folder / "exports",
        mirrors=[],
        creators=config.creators,
        tree=lambda: rows,
        root_name="root",
        started_at=T0 - timedelta(hours=2),
        pseudonym_key=b"k" * 32,
        clock=clock,
    )
    await pub.on_start()  # the first publish writes every file
    out: dict[str, Any] = {"changed": [], "unchanged": [], "tree": [], "tallies": [], "full": [],
                           "read": [], "read_tallies": [], "build": [], "write": [],
                           "write_unchanged": [], "dumps": [], "canonical": [], "check": [],
                           "dumps_indent": [], "scrub": []}  # fmt: skip
    writer = open_database(str(database), synchronous="normal")
    try:
        for n in range(rounds):
            clock.advance()  # heartbeat moves: runtime_snapshot.json changes
            t0 = time.perf_counter()
            summary = await pub.publish()
            out["changed"].append(time.perf_counter() - t0)
            out["written_changed"] = summary.written
            t0 = time.perf_counter()
            summary = await pub.publish()  # same clock, same state: nothing to write
            out["unchanged"].append(time.perf_counter() - t0)
            out["written_unchanged"] = summary.written
            clock.advance()  # an actor handled a message: runtime_snapshot.json is rebuilt
            rows[1] = attrs.evolve(rows[1], handled=rows[1].handled + 1)
            t0 = time.perf_counter()
            summary = await pub.publish()
            out["tree"].append(time.perf_counter() - t0)
            out["written_tree"] = summary.written
            clock.advance()  # one tally changes, as a chat "!death" would
            with writer.transaction() as wconn:
                st_counters.increment_tally(
                    wconn,
                    creator_id=config.creators[n % len(config.creators)].id,
                    tally_id="deaths",
                    now=int(clock.now.timestamp() * 1000),
                )
            await pub.handle(Changed(topic="tallies"))
            t0 = time.perf_counter()
            summary = await pub.publish()
            out["tallies"].append(time.perf_counter() - t0)
            out["written_tallies"] = summary.written
            out["rebuilt_tallies"] = len(pub.last_rebuilt)
            clock.advance()
            t0 = time.perf_counter()
            summary = await pub.publish(full=True)  # what start and PublishNow do
            out["full"].append(time.perf_counter() - t0)
            out["written_full"] = summary.written
        conn = pub._conn  # the publisher's own read connection, as publish() uses it
        assert conn is not None
        names = {c.id: c.display_name for c in config.creators}
        docs: dict[str, dict[str, Any]] = {}
        for _ in range(rounds):
            clock.advance()
            t0 = time.perf_counter()
            read_store(conn, names, 200, {"tallies.json", "tally_events.json"})
            out["read_tallies"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            data = read_store(conn, names, 200)
            t1 = time.perf_counter()
            docs = pub._build(data)  # the build step of a full publish: tree rows + build_all
            t2 = time.perf_counter()
            pub._writer.publish(docs)
            t3 = time.perf_counter()
            pub._writer.publish(docs)
            t4 = time.perf_counter()
            out["read"].append(t1 - t0)
            out["build"].append(t2 - t1)
            out["write"].append(t3 - t2)
            out["write_unchanged"].append(t4 - t3)
            t0 = time.perf_counter()
            for doc in docs.values():
                json.dumps(doc)
            out["dumps"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            for doc in docs.values():
                canonical_bytes(doc)
            out["canonical"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            for doc in docs.values():
                orjson.dumps(doc, option=_OPTIONS)
            out["check"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            for doc in docs.values():
                json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False)
            out["dumps_indent"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            for doc in docs.values():
                scrub(doc, ())
            out["scrub"].append(time.perf_counter() - t0)
        out["bytes"] = {p: len(canonical_bytes(d)) for p, d in docs.items()}
        if profile or statistics.median(out["changed"]) >= 0.1:
            clock.advance()
            prof = cProfile.Profile()
            prof.enable()
            data = read_store(conn, names, 200)
            docs = pub._build(data)
            pub._writer.publish(docs)
            prof.disable()
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(30)
            buf.write("\n--- by own time\n")
            pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(20)
            out["profile"] = buf.getvalue()
    finally:
        writer.close()
        await pub.on_stop()
    return out


def report_publish(quick: bool, creators: int, profile: bool) -> None:
    rounds = 5 if quick else 11
    print(f"\n== one publish with {creators:,} creators (median of {rounds})")
    config = publish_config(creators)
    with temp_folder("ss-bench-publish-") as folder:
        t0 = time.perf_counter()
        counts = populate(folder / "state" / "runtime.sqlite3", config)
        print(
            f"database populated in {time.perf_counter() - t0:.1f} s: "
            + ", ".join(f"{v:,} {k}" for k, v in counts.items())
        )
        out = trio.run(run_publish_bench, folder, config, rounds, profile)
    med = {k: statistics.median(v) for k, v in out.items() if isinstance(v, list) and v}
    sizes = out["bytes"]
    total = sum(sizes.values())
    big = sorted(sizes.items(), key=lambda kv: -kv[1])[:4]
    print(
        f"{len(sizes)} files, {total / 1024:,.0f} KiB in all; largest: "
        + ", ".join(f"{p} {n / 1024:,.0f} KiB" for p, n in big)
    )
    dumps = med["dumps"]
    for label, key, note in (
        ("publish(), heartbeat (clock moved)", "changed",
         f"{out['written_changed']} file(s) written"),
        ("publish(), unchanged", "unchanged", f"{out['written_unchanged']} file(s) written"),
        ("publish(), heartbeat, tree moved", "tree", f"{out['written_tree']} file(s) written"),
        ('publish() after Changed("tallies")', "tallies",
         f"{out['rebuilt_tallies']} file(s) rebuilt, {out['written_tallies']} written"),
        ("publish(full=True) (start, PublishNow)", "full",
         f"{out['written_full']} file(s) written"),
    ):  # fmt: skip
        verdict = "met" if med[key] < 0.1 else "NOT met"
        print(
            f"{label:<38} {fmt_ms(med[key])}  ratio to json.dumps {med[key] / dumps:6.1f}x"
            f"  ({note}; target < 100 ms: {verdict})"
        )
    print("  breakdown of the full path (same state, direct calls):")
    print(f"    read_store (tally files only) {fmt_ms(med['read_tallies'])}")
    print(f"    read_store                   {fmt_ms(med['read'])}")
    print(
        f"    build (tree rows + build_all) {fmt_ms(med['build'])}"
        f"   (a second scrub() of the built documents alone {fmt_ms(med['scrub'])})"
    )
    print(
        f"    ExportWriter.publish changed {fmt_ms(med['write'])}"
        f"   (of which canonical_bytes {fmt_ms(med['canonical'])}:"
    )
    print(
        f"      = orjson.dumps {fmt_ms(med['check'])} + decoding and comparing;"
        f" json.dumps(indent=2, sort_keys) would take {fmt_ms(med['dumps_indent'])})"
    )
    print(f"    ExportWriter.publish same    {fmt_ms(med['write_unchanged'])}")
    print(
        f"peer: json.dumps of the same documents {fmt_ms(dumps)}  (serialisation floor,"
        " compact: the C encoder; indent= forces the pure-Python one)"
    )
    if "profile" in out:
        print("\n-- cProfile of one changed publish (read + build + write, no threads):")
        print(out["profile"])


# ------------------------------------------------------------------------ 3. idle CPU


def measure_cpu(pids: dict[str, int], seconds: float) -> dict[str, float]:
    """Fraction of one core each pid used over `seconds` of wall time."""
    before = {name: cpu_ticks(pid) for name, pid in pids.items()}
    t0 = time.perf_counter()
    time.sleep(seconds)
    after = {name: cpu_ticks(pid) for name, pid in pids.items()}
    wall = time.perf_counter() - t0
    return {name: (after[name] - before[name]) / CLK_TCK / wall for name in pids}


def report_idle(quick: bool, creators: int) -> None:
    window = 5.0 if quick else 20.0
    print(f"\n== idle CPU, {creators} idle creators (triggers, no sources), {window:.0f} s window")
    if not os.path.exists(f"/proc/{os.getpid()}/stat"):
        print("skipped: needs Linux /proc")
        return
    print("   measured side by side in the same window: the runtime with "
          f"{creators} creators, with 1 creator (reference), and the peer")  # fmt: skip
    with temp_folder("ss-bench-idle-") as folder:
        (folder / "many").mkdir()
        (folder / "one").mkdir()
        many, one = Runtime(folder / "many", creators), Runtime(folder / "one", 1)
        peer = subprocess.Popen(
            [sys.executable, "-c", f"import trio; trio.run(trio.sleep, {window + 120:.0f})"],
            stdin=subprocess.DEVNULL,
        )
        try:
            for rt in (many, one):
                rt.spawn()
                rt.wait_ready()
            time.sleep(2.0)  # let the start-up publish and the first flushes settle
            assert many.proc is not None and one.proc is not None
            pids = {"many": many.proc.pid, "one": one.proc.pid, "peer": peer.pid}
            use = measure_cpu(pids, window)
        finally:
            many.stop()
            one.stop()
            peer.kill()
            peer.wait()
    tick = 1 / CLK_TCK / window
    ours, single, theirs = use["many"], use["one"], use["peer"]
    verdict = "met" if ours < 0.01 else "NOT met"
    if theirs > 0:
        ratio = f"{ours / theirs:6.1f}x"
    else:
        ratio = f"> {ours / tick:,.0f}x (peer used < 1 tick)"
    print(f"runtime, {creators} creators        {ours * 100:6.2f} % of one core"
          f"  ratio to peer {ratio}  (target < 1 %: {verdict})")  # fmt: skip
    print(f"runtime, 1 creator           {single * 100:6.2f} % of one core  (reference)")
    print(f"peer: idle trio.run(trio.sleep) {theirs * 100:6.2f} % of one core"
          f"  (resolution {tick * 100:.2f} % = one clock tick over the window)")  # fmt: skip


# ---------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, shorter windows")
    parser.add_argument(
        "--only",
        default="start,publish,idle",
        help="comma-separated subset of: start, publish, idle",
    )
    parser.add_argument(
        "--profile", action="store_true", help="print a cProfile of one publish even under 100 ms"
    )
    parser.add_argument("--creators", type=int, default=1000, help="creators for the publish")
    parser.add_argument("--idle-creators", type=int, default=100)
    args = parser.parse_args()  # fmt: skip
    wanted = {w.strip() for w in args.only.split(",") if w.strip()}
    unknown = wanted - {"start", "publish", "idle"}
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    print(f"python {sys.version.split()[0]}, trio {trio.__version__}, {os.cpu_count()} CPUs")
    if "start" in wanted:
        report_start(args.quick)
    if "publish" in wanted:
        report_publish(args.quick, args.creators, args.profile)
    if "idle" in wanted:
        report_idle(args.quick, args.idle_creators)


if __name__ == "__main__":
    main()
