"""Many creators in one real process: start, memory, CPU per chat message, freshness, stop.

Run: `python benchmarks/scale.py [--creators 1000] [--load issue|example|both] [--window S]
[--warmup 10] [--history S] [--profile]`

Each of N creators replays the bundled example chat (`config/example_chat.jsonl`, `loop =
true`, `speed = 10`: about 1.1 messages/s per creator) with what the example's first creator
runs (taken from `config/example.toml`, so the load follows the example), under one of two
loads (`--load`; both by default, one after the other):

- `issue`: its chat triggers, tallies and scoreboard, the load issue #13 set its targets on
  (the example of then: replies, polls, tallies, a scoreboard);
- `example`: everything it runs, with the loyalty points, quotes, giveaways, timers and chat
  filters the example gained later.

Every creator starts its replay at the same moment, so all of them play the same part of the
log at once (a poll's votes, a giveaway's entries): a window shorter than a pass of the log
weighs the parts it happens to cover. The default window is one whole pass (rounded up to
heartbeats), so every part counts as often as the log has it. What the replays leave behind
fills in over about ten passes (a creator's newest ten polls are kept, its recent ids, its
scoreboard), and the cost per message grows with it: for the steady state, warm up that long
(`--warmup 840 --window 140`). With `--history S` the same creators first run S seconds on
the same data and are stopped: what is measured is a restart over that history (its start
reads it all back, and the state is as old as it was at the stop, the process new), e.g.
`--history 780` for the steady state's data. The process is the real `python -m runtime run`,
measured from outside:

- start: spawn to the first `GET /status` 200 (the server answers while creators start), and
  spawn to every creator started (no component of `/status` still `starting`: the target);
- RSS per creator: (RSS with N creators - RSS with 0 creators) / N, the larger of the RSS
  after the warm-up and after the window;
- CPU per chat message end to end: the process's CPU time (all threads) over the window,
  divided by the chat lines the replays delivered in that window (the replay platform's
  `messages` in `runtime_snapshot.json`; the window runs from one heartbeat to another);
- heartbeat age: now - `runtime_snapshot.json`'s `heartbeat`, sampled every 0.25 s;
- publish lag: how long after a read of the database (a read-only SQLite connection)
  an export file first shows everything that read held, sampled likewise, for two files:
  `tallies.json` (every tally's count) and `polls.json` (every listed poll's votes, the
  biggest file that changes with chat; a poll no longer listed since, one of a creator's
  oldest, is excused). Both
  only count up. A file is parsed again only when its size or time changed;
- stop: SIGTERM to exit.

The repository's modules are compiled to bytecode first, as an installed copy's are, so no
start pays for compiling them (`compile_packages`).

Floors measured in the same run: the same process with 0 creators (start, RSS, stop), and the
bare work per message in this process (decode the replay line, build the `ChatEvent`,
evaluate the example's triggers, write a tally change in a SQLite transaction of 64).
Targets (issue #13, at 1,000 creators): <= 150 us CPU per message, <= 100 KiB RSS per
creator, start <= 5 s, exit <= 2 s after SIGTERM, heartbeat age <= 2 x heartbeat_seconds,
publish lag about 1 s at most.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# This folder holds a file named like the `runtime` package: keep it off the import path.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import tomli_w  # noqa: E402

from state.polls import POLLS_PER_CREATOR  # noqa: E402

EXAMPLE = ROOT / "config" / "example.toml"
#: This repository's packages (`pyproject.toml`'s `packages.find`).
PACKAGES = ("actors", "supervisors", "config", "state", "exports", "runtime")
CHAT = ROOT / "config" / "example_chat.jsonl"
#: The replays' speed: ten times as fast as recorded.
SPEED = 10.0
#: Counts by what is counted: a tally (creator, tally id), a poll's votes (poll id).
Counts = dict[Any, int]
#: The export files whose lag behind the store is measured, and how each is read.
LAG_FILES = ("tallies.json", "polls.json")
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


#: The loads `--load` picks from (see the module's docstring).
LOADS = ("issue", "example")
#: The actions of the triggers under the `issue` load (a trigger without one replies).
ISSUE_ACTIONS = ("poll_", "tally_", "score_")
#: What the example creator runs that the `issue` load leaves out.
LATER_FEATURES = ("points", "timers", "filters")


def example_creator(load: str = "example") -> dict[str, Any]:
    """The first creator of the example config, without its replay: everything it runs
    (`example`), or its chat triggers that reply, run polls, count tallies or keep the
    scoreboard, with its tallies and scoreboards (`issue`: no loyalty points, quotes,
    giveaways, timers or filters, nor a trigger that costs points)."""
    if load not in LOADS:
        raise ValueError(f"load must be one of {LOADS}, got {load!r}")
    with EXAMPLE.open("rb") as f:
        creator = dict(tomllib.load(f)["creators"][0])
    creator.pop("replay", None)
    if load == "issue":
        for feature in LATER_FEATURES:
            creator.pop(feature, None)
        creator["triggers"] = [
            trigger
            for trigger in creator.get("triggers", ())
            if "cost" not in trigger
            and (trigger.get("action") is None or trigger["action"].startswith(ISSUE_ACTIONS))
        ]
    return creator


def pass_seconds(speed: float = SPEED) -> float:
    """Seconds a replay takes for one pass of the example chat at `speed`: the span of its
    lines' recorded times plus the second the replay puts between two passes, read with the
    chat log's own parser."""
    from config.chatlog import ChatlogError, is_skippable, parse_chatlog_line

    times = []
    for line in CHAT.read_text("utf-8").splitlines():
        if not is_skippable(line):
            with contextlib.suppress(ChatlogError):
                times.append(parse_chatlog_line(line)["sent_at"])
    if not times:
        return 0.0
    return ((max(times) - min(times)).total_seconds() + 1.0) / speed


def config_document(
    data_dir: Path, creators: int, heartbeat: float, load: str = "example"
) -> dict[str, Any]:
    template = example_creator(load)
    people = []
    for n in range(creators):
        creator = dict(template)
        creator["id"] = f"creator{n:05d}"
        creator["display_name"] = f"Creator {n}"
        creator["replay"] = {"file": str(CHAT), "speed": SPEED, "loop": True}
        people.append(creator)
    return {
        "runtime": {"data_dir": str(data_dir), "log_level": "warning", "shutdown_deadline": 10.0},
        "http": {"enabled": True, "host": "127.0.0.1", "port": 0},
        "exports": {"heartbeat_seconds": heartbeat},
        "creators": people,
    }


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """utime + stime of a process (all its threads) from /proc/<pid>/stat, or of one of its
    threads (`thread`: its id; the main thread's id is the pid)."""
    path = f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat"
    with open(path) as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of each thread of a process, by thread id (threads that ended are left out)."""
    times: dict[int, float] = {}
    with contextlib.suppress(OSError):
        for name in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError, ValueError):
                times[int(name)] = cpu_seconds(pid, int(name))
    return times


def thread_names(pid: int) -> dict[int, str]:
    """Thread id -> what the thread runs, from `py-spy dump` (its Python name and the outermost
    frame of this project); when py-spy is missing or fails (a busy process may not answer
    in time), only the main thread, whose id is the process's."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    try:
        text = subprocess.run(
            [spy, "dump", "-p", str(pid), "--nonblocking"],
            capture_output=True, text=True, timeout=30, check=False,
        ).stdout  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        text = ""
    names: dict[int, str] = {}
    frames: dict[int, str] = {}
    current: int | None = None
    for line in text.splitlines():
        if line.startswith("Thread "):
            head = line.split()
            with contextlib.suppress(ValueError):
                current = int(head[1], 0)
                names[current] = line.split('"')[1][:16] if '"' in line else head[1]
        elif current is not None and line.startswith("    ") and "(" in line:
            frame = line.strip()
            if any(f" ({top}/" in frame for top in ("actors", "state", "exports", "runtime")):
                frames[current] = frame.split(" (")[0]  # frames run inner to outer
    names.setdefault(pid, "MainThread")
    return {tid: f"{name} {frames.get(tid, '')}".strip() for tid, name in names.items()}


def thread_role(name: str) -> str:
    """What a thread of the runtime does, from its name (`thread_names`)."""
    if name.startswith("MainThread"):
        return "trio loop"
    if name.startswith("store-writer"):
        return "store writer"
    if name.startswith("Trio thread"):
        return "publisher"  # trio's worker threads run the publisher's builds and writes
    if not name or name.startswith("thread "):  # not named (`measure`'s fallback)
        return "?"
    return name.split()[0]


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


def get_json(address: tuple[str, int], path: str, timeout: float = 5.0) -> tuple[int, Any]:
    conn = http.client.HTTPConnection(*address, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        try:
            return response.status, json.loads(body)
        except ValueError:
            return response.status, None
    finally:
        conn.close()


def parse_time(text: str | None) -> float | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class Process:
    """One `python -m runtime run` on a generated config in its own folder."""

    def __init__(
        self,
        folder: Path,
        creators: int,
        heartbeat: float,
        profile: bool,
        load: str = "example",
    ) -> None:
        self.folder = folder
        self.data_dir = folder / "data"
        self.config = folder / "runtime.toml"
        document = config_document(self.data_dir, creators, heartbeat, load)
        self.config.write_text(tomli_w.dumps(document))
        self.heartbeat = heartbeat
        self.profile = profile
        self.stderr = folder / "stderr.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.address: tuple[str, int] | None = None
        # Each lag file's counts by (inode, time, size) of the file last parsed.
        self._shown_cache: dict[str, tuple[tuple[int, int, int], Counts]] = {}

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float) -> tuple[float, float]:
        """Spawn and wait for /status 200 (the HTTP server answers while the creators are
        still starting), then for every component to have started (no component of /status
        is still `starting`); returns the seconds each took."""
        command = [sys.executable, "-m", "runtime", "run", "--config", str(self.config)]
        with self.stderr.open("wb") as err:
            began = time.perf_counter()
            self.proc = subprocess.Popen(
                command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err
            )
        announce = self.data_dir / "http.json"
        deadline = began + timeout
        answered: float | None = None
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                tail = self.stderr.read_text("utf-8", "replace")[-3000:]
                raise SystemExit(f"runtime exited with {self.proc.returncode}:\n{tail}")
            if self.address is None:
                try:
                    found = json.loads(announce.read_text("utf-8"))
                    self.address = (found["host"], int(found["port"]))
                except (OSError, ValueError, KeyError):
                    time.sleep(0.005)
                    continue
            try:
                # A big tree answers slowly, and a slow 200 is still up.
                status, body = get_json(self.address, "/status", timeout=30.0)
            except OSError:
                status, body = None, None
            if status == 200:
                now = time.perf_counter()
                if answered is None:
                    answered = now - began
                degraded = body.get("degraded", ()) if isinstance(body, dict) else ()
                if not any(d.get("state") == "starting" for d in degraded):
                    return answered, now - began
            time.sleep(0.005)
        self.kill()
        raise SystemExit(f"no /status 200 within {timeout:.0f} s ({self.stderr})")

    def chat_lines(self) -> tuple[float, int]:
        """(heartbeat, chat lines the replays delivered) from the next `runtime_snapshot.json`
        written: counted by the replays themselves, so messages the engines also handle (a
        replay's position, for one) are not counted as chat."""
        path = self.data_dir / "exports" / "state" / "runtime_snapshot.json"

        def read() -> tuple[float, int] | None:
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                snapshot = json.loads(path.read_bytes())
                beat = parse_time(snapshot.get("heartbeat"))
                for row in snapshot["platforms"]:
                    if row["platform"] == "replay" and beat is not None:
                        return beat, int(row["counters"]["messages"])
            return None

        first = read()
        deadline = time.perf_counter() + 4 * self.heartbeat
        while time.perf_counter() < deadline:
            now = read()
            if now is not None and (first is None or now[0] != first[0]):
                return now
            time.sleep(0.02)
        raise SystemExit(f"runtime_snapshot.json not rewritten within {4 * self.heartbeat:g} s")

    def freshness(self) -> tuple[float | None, dict[str, tuple[Counts | None, Counts]]]:
        """(heartbeat age in seconds, {file: (counts in the database, None when that read
        failed; counts the file shows)} for `LAG_FILES`), read now: the database first, so
        no file read is older."""
        state = self.data_dir / "exports" / "state"
        now = time.time()
        age = None
        stored: dict[str, Counts | None] = dict.fromkeys(LAG_FILES)
        with contextlib.suppress(OSError, ValueError, sqlite3.Error):
            stored = dict(stored_counts(self.data_dir / "state"))
        with contextlib.suppress(OSError, ValueError):
            snapshot = json.loads((state / "runtime_snapshot.json").read_bytes())
            beat = parse_time(snapshot.get("heartbeat"))
            if beat is not None:
                age = now - beat
        return age, {name: (stored[name], self._shown(state / name)) for name in LAG_FILES}

    def _shown(self, path: Path) -> Counts:
        """The counts `path` shows, parsed again only when its size or time changed (a
        10 MB polls.json parsed four times a second would load the core left idle)."""
        try:
            info = path.stat()
        except OSError:
            return {}
        key = (info.st_ino, info.st_mtime_ns, info.st_size)  # replaced: a new inode
        cached = self._shown_cache.get(path.name)
        if cached is not None and cached[0] == key:
            return cached[1]
        shown: Counts = {}
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            shown = shown_counts(path.name, json.loads(path.read_bytes()))
        self._shown_cache[path.name] = (key, shown)
        return shown

    def stop(self) -> float:
        """SIGTERM; returns the seconds until the process exited."""
        assert self.proc is not None
        began = time.perf_counter()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill()
        return time.perf_counter() - began

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def stored_counts(state_dir: Path) -> dict[str, Counts]:
    """What each of `LAG_FILES` should show, from the database (read-only, one read
    transaction): every tally's count, the votes of every poll polls.json lists."""
    databases = sorted(state_dir.glob("*.sqlite3"))
    databases = [p for p in databases if not p.name.endswith(("-wal", "-shm"))]
    if not databases:
        return {name: {} for name in LAG_FILES}
    uri = f"file:{databases[0]}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=1.0)) as conn:
        conn.execute("BEGIN")
        tallies = conn.execute("SELECT creator_id, tally_id, count FROM tallies").fetchall()
        # The polls the export lists: each creator's newest and any still open.
        votes = conn.execute(
            "SELECT poll_id, (SELECT COUNT(*) FROM poll_votes v WHERE v.poll_id = p.poll_id)"
            " FROM (SELECT poll_id, state, row_number() OVER (PARTITION BY creator_id"
            " ORDER BY opened_at DESC, poll_id) AS newest FROM polls) p"
            " WHERE newest <= ? OR state = 'open'",
            (POLLS_PER_CREATOR,),
        ).fetchall()
        conn.execute("COMMIT")
    return {
        "tallies.json": {(creator, tally): count for creator, tally, count in tallies},
        "polls.json": dict(votes),
    }


def shown_counts(name: str, document: dict[str, Any]) -> Counts:
    """The counts export file `name` shows, keyed as `stored_counts` keys them."""
    if name == "tallies.json":
        return {(t["creator_id"], t["tally_id"]): int(t["count"]) for t in document["tallies"]}
    if name == "polls.json":
        return {p["poll_id"]: int(p["total_votes"]) for p in document["polls"]}
    raise ValueError(f"no counts are read from {name}")


#: (when, {file: (counts in the database or None for a failed read, counts the file shows)}).
Sample = tuple[float, dict[str, tuple[Counts | None, Counts]]]


def publish_lags(samples: list[Sample], name: str) -> list[float]:
    """For each database read, the seconds until file `name` first showed every count it
    held (counts only go up), at the sampling step: how far the file trails the store. A
    key gone from a later database read (a poll no longer listed) is excused from then on;
    a failed read is neither measured nor excuses anything."""
    lags = []
    for i, (at, files) in enumerate(samples):
        stored = files[name][0]
        if stored is None:
            continue
        for later, later_files in samples[i:]:
            now_stored, shown = later_files[name]
            if shown and all(
                shown.get(key, -1) >= count or (now_stored is not None and key not in now_stored)
                for key, count in stored.items()
            ):
                lags.append(later - at)
                break
    return lags


@contextlib.contextmanager
def folder(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def compile_packages() -> None:
    """Compile this repository's modules to bytecode (`__pycache__`, git-ignored), as an
    installed copy has them: pip compiles at install. Without it, where the environment sets
    `PYTHONDONTWRITEBYTECODE` (this machine does), every start compiles every module again,
    a few tenths of a second of CPU that no deployment pays, in the floor and the run alike."""
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", *(str(ROOT / p) for p in PACKAGES)],
        cwd=ROOT,
        check=True,
    )


def bare_floor(messages: int = 20_000) -> float:
    """CPU seconds per message of the bare work: decode, build, evaluate, store write."""
    from actors.events import ChatEvent
    from actors.triggers import CooldownTable, TriggerRules, evaluate
    from config.loading import load_config

    config = load_config(EXAMPLE)
    creator = config.creators[0]
    rules = TriggerRules.from_config(creator)
    cooldowns = CooldownTable()
    lines = [line for line in CHAT.read_text("utf-8").splitlines() if line.strip()]
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY, value INTEGER, updated_at INTEGER)")
    began = time.process_time()
    clock = 1_800_000_000.0
    for n in range(messages):
        row = json.loads(lines[n % len(lines)])
        clock += 1.0
        event = ChatEvent(
            platform="replay",
            channel=row["channel"],
            message_id=f"{row['message_id']}-{n}",
            user_id=row["user_id"],
            login=row["login"],
            display_name=row["display_name"],
            text=row["text"],
            sent_at=datetime.fromtimestamp(clock, UTC),
            roles=frozenset(row["roles"]),
            raw_type=row["raw_type"],
        )
        evaluate(rules, cooldowns, event, now=clock)
        if n % 64 == 0:
            conn.commit()
        conn.execute(
            "INSERT INTO t VALUES ('x', 1, ?) ON CONFLICT(id) DO UPDATE SET value = value + 1, "
            "updated_at = excluded.updated_at",
            (n,),
        )
    conn.commit()
    return (time.process_time() - began) / messages


def measure(creators: int, args: argparse.Namespace) -> dict[str, Any]:
    with folder("ss-scale-") as path:
        if creators and args.history > 0:
            live(Process(path, creators, args.heartbeat, False, args.load), args)
        proc = Process(path, creators, args.heartbeat, args.profile, args.load)
        out: dict[str, Any] = {"creators": creators}
        out["answered"], out["start"] = proc.start(timeout=args.start_timeout)
        try:
            deadline = time.perf_counter() + args.warmup
            while time.perf_counter() < deadline:
                time.sleep(0.25)
            out["rss"] = rss_bytes(proc.pid)
            if creators:
                # The window runs from one heartbeat to another, CPU read as each is seen.
                beat0, msgs0 = proc.chat_lines()
                cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()
                trio0 = cpu_seconds(proc.pid, proc.pid)  # the main thread runs the trio loop
                threads0 = thread_cpu(proc.pid)
                ages: list[float] = []
                samples: list[Sample] = []
                profiler = None
                if args.profile:
                    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
                    out_file = str(Path(args.profile_out).resolve())
                    command = [spy, "record", "-p", str(proc.pid), "-d", str(int(args.window)),
                               "-f", "raw", "-o", out_file, "--nonblocking"]  # fmt: skip
                    profiler = subprocess.Popen(
                        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                    )
                # Half a heartbeat short: the window ends at the heartbeat `window` after
                # the first, which `chat_lines` waits for.
                end = t0 + args.window - args.heartbeat / 2
                while time.perf_counter() < end:
                    at = time.perf_counter()
                    age, counts = proc.freshness()
                    if age is not None:
                        ages.append(age)
                    samples.append((at, counts))
                    time.sleep(0.25)
                beat1, msgs1 = proc.chat_lines()
                cpu1, t1 = cpu_seconds(proc.pid), time.perf_counter()
                trio1 = cpu_seconds(proc.pid, proc.pid)
                threads1 = thread_cpu(proc.pid)
                # The larger of the RSS after the warm-up and after the window: memory
                # grows as the replays' state (balances, polls, seen ids) fills in.
                out["rss"] = max(out["rss"], rss_bytes(proc.pid))
                if profiler is not None:
                    profiler.wait()
                handled = msgs1 - msgs0
                names = thread_names(proc.pid)
                out["threads"] = sorted(
                    (
                        (threads1[tid] - threads0.get(tid, 0.0), names.get(tid, f"thread {tid}"))
                        for tid in threads1
                    ),
                    reverse=True,
                )
                out["handled"] = handled
                out["rate"] = handled / (beat1 - beat0)
                out["cpu_share"] = (cpu1 - cpu0) / (t1 - t0)
                out["cpu_per_message"] = (cpu1 - cpu0) / handled if handled else float("nan")
                out["trio_per_message"] = (trio1 - trio0) / handled if handled else float("nan")
                out["trio_share"] = (trio1 - trio0) / (cpu1 - cpu0) if cpu1 > cpu0 else 0.0
                out["heartbeat_age_max"] = max(ages) if ages else float("nan")
                for name in LAG_FILES:
                    lags = publish_lags(samples, name)
                    out[f"lag_max {name}"] = max(lags) if lags else float("nan")
                    out[f"lag_p50 {name}"] = statistics.median(lags) if lags else float("nan")
        finally:
            out["stop"] = proc.stop()
        return out


def live(proc: Process, args: argparse.Namespace) -> None:
    """Run `proc` for `args.history` seconds and stop it: the history a restart reads back."""
    proc.start(timeout=args.start_timeout)
    try:
        deadline = time.perf_counter() + args.history
        while time.perf_counter() < deadline:
            time.sleep(0.25)
    finally:
        proc.stop()


def default_window(heartbeat: float) -> float:
    """One pass of the example chat, rounded up to whole heartbeats."""
    return max(1, math.ceil(pass_seconds() / heartbeat)) * heartbeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--creators", type=int, default=1000)
    parser.add_argument(
        "--load", choices=(*LOADS, "both"), default="both", help="what each creator runs"
    )
    parser.add_argument(
        "--window",
        type=float,
        default=None,
        help="measured seconds, rounded to heartbeats (default: one pass of the chat log)",
    )
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds before measuring")
    parser.add_argument(
        "--history",
        type=float,
        default=0.0,
        help="seconds the same creators run first, on the same data: a restart is measured",
    )
    parser.add_argument("--heartbeat", type=float, default=10.0)
    parser.add_argument("--start-timeout", type=float, default=180.0)
    parser.add_argument("--profile", action="store_true", help="py-spy over the window")
    parser.add_argument("--profile-out", default="scale-profile.txt")
    args = parser.parse_args()
    hb = args.heartbeat
    args.window = (
        default_window(hb) if args.window is None else max(1, round(args.window / hb)) * hb
    )

    compile_packages()
    floor_msg = bare_floor()
    # A process with nothing to do: its floors do not move with a longer warm-up.
    idle = {"profile": False, "load": "issue", "warmup": min(args.warmup, 10.0)}
    base = measure(0, argparse.Namespace(**{**vars(args), **idle}))
    for load in LOADS if args.load == "both" else (args.load,):
        run = measure(args.creators, argparse.Namespace(**{**vars(args), "load": load}))
        report(args, load, run, base, floor_msg)


def report(
    args: argparse.Namespace, load: str, run: dict[str, Any], base: dict[str, Any], floor: float
) -> None:
    """Print one run beside the floors, with issue #13's targets."""
    n = args.creators
    per_creator = (run["rss"] - base["rss"]) / n
    hb = args.heartbeat

    def row(name: str, value: str, peer: str, ratio: str, verdict: str) -> None:
        print(f"{name:<28} {value:>14}   {peer:<34} {ratio:>9}   {verdict}")

    def ok(met: bool) -> str:
        return "met" if met else "NOT met"

    what = (
        "triggers, polls, tallies, scoreboard (the issue's load)"
        if load == "issue"
        else "the whole example creator"
    )
    restart = f"restarted after {args.history:.0f} s of history, " if args.history > 0 else ""
    print(f"\n{n} creators x example chat (speed {SPEED:g}, loop), {what}; {restart}window "
          f"{args.window:.0f} s after {args.warmup:.0f} s warm-up; {run['rate']:.0f} chat "
          f"messages/s handled, {run['cpu_share'] * 100:.0f} % of a core")  # fmt: skip
    row("measure", "ours", "floor (same run)", "ratio", "target")
    row("start to /status 200", f"{run['answered']:.2f} s",
        f"0 creators {base['answered']:.2f} s",
        f"{run['answered'] / base['answered']:.1f}x", "")  # fmt: skip
    row("start to every creator started", f"{run['start']:.2f} s",
        f"0 creators {base['start']:.2f} s", f"{run['start'] / base['start']:.1f}x",
        f"<= 5 s: {ok(run['start'] <= 5)}")  # fmt: skip
    row("RSS per creator", f"{per_creator / 1024:.1f} KiB",
        f"0 creators {base['rss'] / 2**20:.0f} MiB total", "",
        f"<= 100 KiB: {ok(per_creator <= 100 * 1024)}")  # fmt: skip
    cpm = run["cpu_per_message"]
    row("CPU per chat message", f"{cpm * 1e6:.0f} us", f"bare work {floor * 1e6:.1f} us",
        f"{cpm / floor:.1f}x", f"<= 150 us: {ok(cpm <= 150e-6)}")  # fmt: skip
    row("  of which the trio thread", f"{run['trio_per_message'] * 1e6:.0f} us",
        f"{run['trio_share'] * 100:.0f} % of the process CPU", "", "")  # fmt: skip
    for spent, name in run.get("threads", [])[:4]:
        if spent > 0 and run.get("handled"):
            row(f"  thread {thread_role(name)}", f"{spent / run['handled'] * 1e6:.0f} us",
                name[:34], "", "")  # fmt: skip
    row("heartbeat age (max)", f"{run['heartbeat_age_max']:.2f} s", f"heartbeat {hb:g} s",
        f"{run['heartbeat_age_max'] / hb:.2f}x",
        f"<= {2 * hb:g} s: {ok(run['heartbeat_age_max'] <= 2 * hb)}")  # fmt: skip
    for name in LAG_FILES:
        p50, most = run[f"lag_p50 {name}"], run[f"lag_max {name}"]
        row(f"publish lag {name} (p50/max)", f"{p50:.2f}/{most:.2f} s", "", "",
            f"<= ~1 s: {ok(most <= 1.5)}")  # fmt: skip
    row("SIGTERM to exit", f"{run['stop']:.2f} s", f"0 creators {base['stop']:.2f} s",
        f"{run['stop'] / base['stop']:.1f}x", f"<= 2 s: {ok(run['stop'] <= 2)}")  # fmt: skip
    if args.profile:
        print(f"py-spy profile of the window: {args.profile_out}")


if __name__ == "__main__":
    main()
