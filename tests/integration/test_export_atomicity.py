"""Crash safety of export writes: a writer killed at any instant never leaves a torn file.

A helper process (``sys.executable -c``) imports the exports package once, then forks one writer
per round; the writer publishes changing documents (state root plus a public mirror) in a tight
loop until the test kills it with SIGKILL at a random instant. Forking keeps the ~40 rounds
fast: starting a fresh interpreter per kill would spend the time budget on imports. After each
kill every file present must parse and be byte-identical to one of the versions written.

A second test, which also runs on Windows, reads the files continuously from another thread while
the same process publishes, and checks the readers never see a partial file.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from exports.atomic import cleanup_stale_temp_files, is_temp_file
from exports.canonical import canonical_bytes, parse_timestamp

PROJECT_ROOT = Path(__file__).resolve().parents[2]
KILLS = 40
TIME_BUDGET = 15.0  # seconds for all rounds together

# Shared by the writer process and the checker: version ``seq`` of every file, deterministic.
# The version is recoverable from any file: generated_at = BASE + seq milliseconds.
DOCUMENTS = textwrap.dedent(
    """
    from datetime import UTC, datetime, timedelta

    from exports.builders import (
        build_clips, build_discord_runtime, build_manifest, build_runtime_snapshot,
        build_telemetry_events,
    )
    from exports.files import ExportContext
    from exports.views import ClipView, DiscordView, RuntimeView, TelemetryEvent

    BASE = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

    def documents(seq):
        now = BASE + timedelta(milliseconds=seq)
        ctx = ExportContext(now=now, started_at=BASE)
        # Sizes vary with seq (roughly 5 KB to 150 KB), so a torn file cannot look whole.
        clips = [
            ClipView(clip_id=f"c{seq}-{k}", creator_id="daniel", platform="twitch",
                     title=f"v{seq} " + "é" * ((seq * 7 + k * 13) % 200), state="queued",
                     created_at=now - timedelta(seconds=k), updated_at=now)
            for k in range(10 + seq % 150)
        ]
        events = [
            TelemetryEvent(timestamp=now - timedelta(seconds=k), severity="info",
                           source="writer", message=f"event {seq}/{k}")
            for k in range(seq % 50)
        ]
        return {
            "clips.json": build_clips(ctx, clips, changed_at=now),
            "runtime_snapshot.json": build_runtime_snapshot(
                ctx, RuntimeView(version="0.1.0", build=str(seq)), heartbeat=now,
                changed_at=now),
            "discord/runtime.json": build_discord_runtime(
                ctx, DiscordView(running=True, task_count=seq % 7), changed_at=now),
            "telemetry/events.json": build_telemetry_events(ctx, events, changed_at=now),
            "meta.json": build_manifest(ctx, changed_at=now),
        }
    """
)

# The helper: for every "go <start>" line on stdin, fork a writer that prints "ready <pid>"
# after its first complete publish and then publishes forever; report "dead" once reaped.
HELPER = DOCUMENTS + textwrap.dedent(
    """
    import os, sys, time
    from exports.publish import ExportWriter, Mirror

    root, mirror = sys.argv[1], sys.argv[2]
    for line in sys.stdin:
        start = int(line.split()[1])
        pid = os.fork()
        if pid == 0:
            try:
                writer = ExportWriter(root, [Mirror(root=mirror, visibilities={"public"})])
                seq = start
                writer.publish(documents(seq))
                print("ready", os.getpid(), flush=True)
                deadline = time.monotonic() + 20  # never outlive a broken test
                while time.monotonic() < deadline:
                    seq += 1
                    writer.publish(documents(seq))
            finally:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        print("dead", status, flush=True)
    """
)


def _namespace() -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(DOCUMENTS, namespace)  # the same generator the writer runs
    return namespace


def _check_tree(root: Path, expected_files: set[str], gen: dict[str, Any], cache: dict) -> int:
    """Every file parses and equals the version it claims; returns the clips.json version."""
    present = {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not is_temp_file(p)
    }
    assert present == expected_files, f"{root}: {sorted(present ^ expected_files)}"
    clips_seq = -1
    for path in sorted(present):
        data = (root / path).read_bytes()
        doc = json.loads(data)  # a torn file fails here (or below)
        moment = parse_timestamp(doc["meta"]["generated_at"])
        seq = round((moment - gen["BASE"]).total_seconds() * 1000)
        if seq not in cache:
            cache[seq] = {p: canonical_bytes(d) for p, d in gen["documents"](seq).items()}
        assert data == cache[seq][path], f"{root / path}: not version {seq} as written"
        if path == "clips.json":
            clips_seq = seq
    return clips_seq


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and fork are POSIX only")
def test_sigkill_never_leaves_a_torn_file(tmp_path: Path) -> None:
    root, mirror = tmp_path / "state", tmp_path / "mirror"
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        ),
    )
    helper = subprocess.Popen(
        [sys.executable, "-c", HELPER, str(root), str(mirror)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert helper.stdin is not None and helper.stdout is not None
    gen = _namespace()
    cache: dict[int, dict[str, bytes]] = {}
    all_files = set(gen["documents"](0))
    public_files = {"clips.json", "meta.json"}
    rng = random.Random(20261121)
    started = time.monotonic()
    leftovers = 0
    rounds = 0
    try:
        for round_no in range(KILLS):
            start = (round_no + 1) * 100_000  # versions of different rounds never collide
            helper.stdin.write(f"go {start}\n")
            helper.stdin.flush()
            ready = helper.stdout.readline().split()
            assert ready and ready[0] == "ready", f"writer did not start: {ready}"
            writer_pid = int(ready[1])
            time.sleep(rng.uniform(0.0, 0.06))
            os.kill(writer_pid, signal.SIGKILL)
            dead = helper.stdout.readline().split()
            assert dead and dead[0] == "dead"
            assert os.WIFSIGNALED(int(dead[1])), "the writer exited before it was killed"
            assert os.WTERMSIG(int(dead[1])) == signal.SIGKILL
            rounds += 1

            seq = _check_tree(root, all_files, gen, cache)
            assert seq >= start  # the round's first publish completed before "ready"
            _check_tree(mirror, public_files, gen, cache)
            # Kills that interrupted a write leave a temp file: the startup helper removes it,
            # and only it.
            removed = cleanup_stale_temp_files(tmp_path)
            assert all(is_temp_file(p) for p in removed)
            leftovers += len(removed)
            if time.monotonic() - started > TIME_BUDGET:
                break
    finally:
        helper.stdin.close()
        try:
            helper.wait(timeout=10)
        except subprocess.TimeoutExpired:
            helper.kill()
            helper.wait()
    assert rounds >= 10, f"only {rounds} rounds within the time budget"
    # Informative: how often a kill interrupted a write midway (left a temp file behind).
    print(f"{rounds} kills; {leftovers} of them interrupted a write (temp file left)")


def test_concurrent_readers_never_see_a_partial_file(tmp_path: Path) -> None:
    from exports.publish import ExportWriter

    gen = _namespace()
    writer = ExportWriter(tmp_path)
    writer.publish(gen["documents"](0))
    stop = threading.Event()
    problems: list[str] = []
    reads = [0]

    def reader() -> None:
        while not stop.is_set():
            for path in ("clips.json", "discord/runtime.json"):
                try:
                    data = (tmp_path / path).read_bytes()
                except PermissionError:  # Windows: the file is being replaced right now
                    continue
                try:
                    json.loads(data)
                except ValueError as exc:
                    problems.append(f"{path}: {exc}")
                reads[0] += 1

    threads = [threading.Thread(target=reader)]
    for t in threads:
        t.start()
    try:
        for seq in range(1, 20):
            result = writer.publish(gen["documents"](seq))
            assert result.ok, result.errors
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert problems == []
    assert reads[0] > 0
    cache: dict[int, dict[str, bytes]] = {}
    assert _check_tree(tmp_path, set(gen["documents"](0)), gen, cache) == 19
