"""Chat line parsing throughput: our Twitch IRC parser beside tmi.js's, on the same lines.

Run: `python benchmarks/chat_parse.py [--lines N] [--rounds R]`

Both parsers get the Twitch IRC corpus lines
(tests/conformance/data/twitch_irc.jsonl, or ../shared/corpus/) repeated to about 200k lines.
Each side runs R timed rounds after a warm-up and reports its best round, in lines per second.
The peer side needs node and npm: the script installs tmi.js into benchmarks/node/ when it is
missing, and prints a skip message when node or npm is absent. Both sides measure CPU time
(time.process_time / process.cpuUsage), so a busy machine does not skew one side more than the
other. Two peer figures are printed:
tmi.js's `parse.msg` alone (it leaves tag values escaped), and `parse.msg` plus the tag
unescaping tmi.js's client does next, which is the work `parse_irc_line` does in one go.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "benchmarks" / "node"
CORPUS_CANDIDATES = (
    ROOT / "tests" / "conformance" / "data" / "twitch_irc.jsonl",
    ROOT.parent / "shared" / "corpus" / "twitch_irc.jsonl",
)

sys.path.insert(0, str(ROOT))

from actors.twitch.irc import IrcMessage, IrcParseError, parse_irc_line  # noqa: E402


def load_lines(target: int) -> list[str]:
    """The corpus lines, repeated until there are `target` of them."""
    for candidate in CORPUS_CANDIDATES:
        if candidate.exists():
            raw = [json.loads(row)["raw"] for row in candidate.read_text("utf-8").splitlines()]
            break
    else:
        raise SystemExit("twitch_irc.jsonl not found in tests/conformance/data or shared/corpus")
    repeats = target // len(raw) + 1
    return (raw * repeats)[:target]


def time_python(
    lines: list[str], rounds: int, parse: Callable[[str], IrcMessage] = parse_irc_line
) -> float:
    """Best lines/s of `parse` (by default `parse_irc_line`) over `rounds` rounds, after one
    warm-up round."""
    best = float("inf")
    for round_no in range(rounds + 1):
        start = time.process_time()
        for line in lines:
            try:
                parse(line)
            except IrcParseError:
                pass
        elapsed = time.process_time() - start
        if round_no:  # round 0 warms caches up, like the JIT warm-up on the node side
            best = min(best, elapsed)
        gc.collect()
    return len(lines) / best


def ensure_tmi() -> str | None:
    """Install tmi.js when needed; return why the peer run is skipped, or None."""
    if shutil.which("node") is None:
        return "node is not installed"
    if (NODE_DIR / "node_modules" / "tmi.js" / "lib" / "parser.js").exists():
        return None
    npm = shutil.which("npm")
    if npm is None:
        return "npm is not installed (needed once to install tmi.js)"
    print("installing tmi.js into benchmarks/node/ (npm install)...", flush=True)
    result = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund"],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        return f"npm install failed: {result.stderr.strip()[-500:]}"
    return None


def time_tmi(lines: list[str], rounds: int) -> dict[str, Any]:
    """Run the node side on the same lines; returns its JSON report."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "lines.json"
        data.write_text(json.dumps(lines), "utf-8")
        result = subprocess.run(
            ["node", str(NODE_DIR / "tmi_parse_bench.js"), str(data), str(rounds)],
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(result.stdout)


def main() -> None:
    """Print both throughputs and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    lines = load_lines(args.lines)
    print(f"lines: {len(lines):,} (corpus repeated); rounds: {args.rounds} (best round counts)")
    print(f"python {platform.python_version()} ({platform.python_implementation()})")

    ours = time_python(lines, args.rounds)
    print(f"streamsuites parse_irc_line:            {ours:>12,.0f} lines/s")

    skip = ensure_tmi()
    if skip is not None:
        print(f"tmi.js: skipped ({skip})")
        return
    peer = time_tmi(lines, args.rounds)
    tmi_only = float(peer["parse_msg_lines_per_s"])
    tmi_unescape = float(peer["parse_msg_unescape_lines_per_s"])
    print(f"tmi.js {peer['tmi_version']} on node {peer['node_version']}")
    print(f"tmi.js parse.msg:                       {tmi_only:>12,.0f} lines/s")
    print(f"tmi.js parse.msg + tag unescape:        {tmi_unescape:>12,.0f} lines/s")
    print(f"ratio ours / tmi.js parse.msg:          {ours / tmi_only:>12.2f}")
    print(f"ratio ours / tmi.js parse.msg+unescape: {ours / tmi_unescape:>12.2f}")


if __name__ == "__main__":
    main()
