"""Chat pipeline benchmark: parse -> normalize -> 50 triggers, throughput and reply latency.

Run: `python benchmarks/chat.py [--quick] [--only parse,pipeline,latency]`

1. parse: our Twitch IRC parser beside tmi.js's lives in benchmarks/chat_parse.py; this script
   reuses its runners when tmi.js is already installed in benchmarks/node/ (it never runs npm),
   else prints the pointer. A figure beside its peer, not a target.
2. pipeline throughput, one core (CPU time): `parse_irc_line` -> `to_chat_event` ->
   `evaluate` with the 50 triggers of benchmarks/triggers.py, on the PRIVMSG lines of
   tests/conformance/data/twitch_irc.jsonl repeated, and on the same tags carrying a realistic
   chat mix (about 12 % commands) so that triggers fire. Peer: parsing alone, same lines.
   Figures, not targets: the end-to-end cost per message is benchmarks/scale.py's business.
3. reply latency at 2,000 messages/s: one trio run with a supervisor over a real `StateStore`
   (temporary database), a `TriggerEngine` with those triggers, and a recording platform actor
   that timestamps each `SendChat`; 5 % of the lines are `!ping` from distinct chatters.
   Latency = reply received - line handed to parsing. Peer: the same pacing through a bare
   trio memory channel hop (line -> task -> reply). Target: p99 < 2 ms.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# benchmarks/actors.py would shadow the `actors` package: keep this folder off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

try:
    import logging

    import structlog
    import trio

    from actors import Actor
    from actors.chat import SendChat
    from actors.events import ChatEvent
    from actors.store import StateStore
    from actors.triggers import CooldownTable, TriggerRules, evaluate
    from actors.triggers.engine import TriggerEngine
    from actors.twitch.irc import IrcParseError, parse_irc_line, to_chat_event
    from config.models import CreatorConfig, TriggerConfig
    from supervisors import ChildSpec, Supervisor
except ImportError as exc:  # pragma: no cover - a clear message instead of a traceback
    raise SystemExit(
        f"missing dependency ({exc}); install the project first: "
        "python3 -m venv .venv && .venv/bin/pip install -e ."
    ) from exc

# The chat mix votes in no open poll now and then: one warning line each would measure the
# console. Errors still show.
structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))

CORPUS_CANDIDATES = (
    ROOT / "tests" / "conformance" / "data" / "twitch_irc.jsonl",
    ROOT.parent / "shared" / "corpus" / "twitch_irc.jsonl",
)


def load_sibling(name: str) -> ModuleType:
    """Import benchmarks/<name>.py under a private name (it is not a package)."""
    path = HERE / f"{name}.py"
    if not path.exists():
        raise SystemExit(f"{path} is missing: this benchmark reuses it")
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


triggers_bench = load_sibling("triggers")  # the 50 triggers and the chat text generator


# ----------------------------------------------------------------------------- input lines


def corpus_privmsgs() -> list[str]:
    """The PRIVMSG lines of the Twitch IRC conformance corpus."""
    for candidate in CORPUS_CANDIDATES:
        if candidate.exists():
            rows = [json.loads(r) for r in candidate.read_text("utf-8").splitlines() if r.strip()]
            lines = [r["raw"] for r in rows if " PRIVMSG " in r["raw"]]
            if lines:
                return lines
    raise SystemExit("twitch_irc.jsonl with PRIVMSG lines not found (tests/conformance/data)")


def repeat(lines: list[str], count: int) -> list[str]:
    """`lines` repeated to exactly `count` lines."""
    return (lines * (count // len(lines) + 1))[:count]


BADGES = {
    frozenset(): ("", "0"),
    frozenset({"subscriber"}): ("subscriber/12", "1"),
    frozenset({"vip"}): ("vip/1", "0"),
    frozenset({"vip", "subscriber"}): ("vip/1,subscriber/6", "1"),
    frozenset({"moderator", "subscriber"}): ("moderator/1,subscriber/24", "1"),
}


def privmsg_line(
    *, login: str, user_id: str, text: str, roles: frozenset[str] = frozenset(), msg_id: str = ""
) -> str:
    """A PRIVMSG with the tags Twitch sends today (see the corpus) for this chatter and text."""
    badges, sub = BADGES.get(roles, ("", "0"))
    mod = "1" if "moderator" in roles else "0"
    tags = (
        f"badge-info=;badges={badges};client-nonce=8f1c2b;color=#1E90FF;"
        f"display-name={login.title()};emotes=;first-msg=0;flags=;"
        f"id={msg_id or uuid.uuid4()};mod={mod};returning-chatter=0;room-id=11148817;"
        f"subscriber={sub};tmi-sent-ts={int(time.time() * 1000)};turbo=0;user-id={user_id};"
        f"user-type={'mod' if mod == '1' else ''}"
    )
    return f"@{tags} :{login}!{login}@{login}.tmi.twitch.tv PRIVMSG #bench :{text}"


def chat_mix_lines(count: int, seed: int = 14) -> list[str]:
    """`count` lines carrying benchmarks/triggers.py's seeded chat mix (about 12 % commands)."""
    events = triggers_bench.build_messages(count, seed)
    return [
        privmsg_line(
            login=e.login, user_id=e.user_id, text=e.text, roles=e.roles, msg_id=e.message_id
        )
        for e in events
    ]


# ------------------------------------------------------------------------ 1. parse vs tmi.js


def report_parse(quick: bool) -> None:
    print("\n== parse: streamsuites parse_irc_line vs tmi.js (benchmarks/chat_parse.py)")
    cp = load_sibling("chat_parse")
    lines = cp.load_lines(50_000 if quick else 200_000)
    rounds = 3 if quick else 5
    ours = cp.time_python(lines, rounds)
    print(f"streamsuites parse_irc_line        {ours:>12,.0f} lines/s (all corpus lines)")
    installed = (cp.NODE_DIR / "node_modules" / "tmi.js" / "lib" / "parser.js").exists()
    if shutil.which("node") is None or not installed:
        print("tmi.js: not run here (needs node and tmi.js in benchmarks/node/, which this")
        print("script never installs); run `python benchmarks/chat_parse.py` for that figure.")
        return
    peer = cp.time_tmi(lines, rounds)
    tmi_only = float(peer["parse_msg_lines_per_s"])
    tmi_unescape = float(peer["parse_msg_unescape_lines_per_s"])
    # parse.msg alone does less than we do (it leaves the tag values escaped); parse.msg +
    # unescape is the same work as ours.
    print(f"peer: tmi.js {peer['tmi_version']} parse.msg          {tmi_only:>12,.0f} lines/s"
          f"   ratio ours/tmi.js {ours / tmi_only:5.2f}")  # fmt: skip
    print(f"peer: tmi.js parse.msg + unescape  {tmi_unescape:>12,.0f} lines/s"
          f"   ratio ours/tmi.js {ours / tmi_unescape:5.2f}")  # fmt: skip


# ------------------------------------------------------------------ 2. pipeline throughput


def time_best(fn: Callable[[], int], rounds: int) -> tuple[float, int]:
    """Best CPU seconds of `fn` over `rounds` rounds after one warm-up; and its last count."""
    best = math.inf
    count = 0
    for round_no in range(rounds + 1):
        gc.collect()
        start = time.process_time()
        count = fn()
        elapsed = time.process_time() - start
        if round_no:
            best = min(best, elapsed)
    return best, count


def parse_only(lines: list[str]) -> Callable[[], int]:
    """The peer: parse every line, nothing else."""

    def run() -> int:
        parse = parse_irc_line
        n = 0
        for line in lines:
            try:
                parse(line)
            except IrcParseError:
                continue
            n += 1
        return n

    return run


def parse_normalize(lines: list[str]) -> Callable[[], int]:
    """Parse and normalize to `ChatEvent` (no triggers)."""

    def run() -> int:
        parse, normalize = parse_irc_line, to_chat_event
        n = 0
        for line in lines:
            try:
                event = normalize(parse(line))
            except ValueError:
                continue
            n += event is not None
        return n

    return run


def full_pipeline(lines: list[str], rules: TriggerRules) -> Callable[[], int]:
    """Parse, normalize, evaluate the 50 triggers (fresh cooldowns each round)."""

    def run() -> int:
        parse, normalize, decide = parse_irc_line, to_chat_event, evaluate
        table = CooldownTable()
        now = 1_700_000_000.0
        fired = 0
        for line in lines:
            try:
                event = normalize(parse(line))
            except ValueError:
                continue
            if type(event) is ChatEvent:
                now += 0.0005
                fired += len(decide(rules, table, event, now=now).actions)
        return fired

    return run


def evaluate_only(events: list[ChatEvent], rules: TriggerRules) -> Callable[[], int]:
    """The 50 triggers alone on events normalized beforehand (same clock steps)."""

    def run() -> int:
        decide = evaluate
        table = CooldownTable()
        now = 1_700_000_000.0
        fired = 0
        for event in events:
            now += 0.0005
            fired += len(decide(rules, table, event, now=now).actions)
        return fired

    return run


def report_pipeline(quick: bool) -> None:
    count = 50_000 if quick else 200_000
    rounds = 3 if quick else 5
    rules = TriggerRules.from_config(
        triggers_bench.build_creator(), self_logins=frozenset({"streamsuites_bot"})
    )
    print(f"\n== pipeline throughput, one core (CPU time, best of {rounds}); {count:,} lines")
    print("   the 50 triggers of benchmarks/triggers.py (30 commands, 12 keywords, 8 regexes)")
    for label, lines in (
        ("corpus PRIVMSGs", repeat(corpus_privmsgs(), count)),
        ("chat mix (12 % commands)", chat_mix_lines(count)),
    ):
        t_parse, _ = time_best(parse_only(lines), rounds)
        t_norm, _ = time_best(parse_normalize(lines), rounds)
        t_full, fired = time_best(full_pipeline(lines, rules), rounds)
        # The chat messages full_pipeline evaluates (it skips subscriptions, raids, notices).
        events = [
            e for e in (to_chat_event(parse_irc_line(x)) for x in lines) if type(e) is ChatEvent
        ]
        t_eval, _ = time_best(evaluate_only(events, rules), rounds)
        del events
        rate, peer = count / t_full, count / t_parse
        print(f"-- {label}")
        print(f"   parse + normalize + 50 triggers {rate:>10,.0f} msg/s  ({fired:,} actions)")
        print(f"   parse + normalize               {count / t_norm:>10,.0f} msg/s")
        print(f"   peer: parse alone               {peer:>10,.0f} msg/s  ratio pipeline/parse"
              f" {rate / peer:4.2f}")  # fmt: skip
        print(
            f"   per message: parse {t_parse / count * 1e6:.2f} us, to_chat_event"
            f" {(t_norm - t_parse) / count * 1e6:.2f} us, evaluate {t_eval / count * 1e6:.2f} us"
            f" alone ({(t_full - t_norm) / count * 1e6:.2f} us inside the pipeline)"
        )


# --------------------------------------------------------------------------- 3. latency


class Replies:
    """Reply times by message id; `all_in` is set once `expect(n)` replies have arrived."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.expected = math.inf
        self.all_in = trio.Event()

    def record(self, key: str, when: float) -> None:
        self.at[key] = when
        if len(self.at) >= self.expected:
            self.all_in.set()

    def expect(self, count: int) -> None:
        self.expected = count
        if len(self.at) >= count:
            self.all_in.set()


class ReplyRecorder(Actor):
    """The platform actor of the latency run: timestamps each `SendChat` it receives."""

    mailbox_size = 100_000

    def __init__(self, received: Replies, others: list[str]) -> None:
        self.received = received
        self.others = others

    async def handle(self, message: Any) -> Any:
        if isinstance(message, SendChat):
            now = time.perf_counter()
            if message.trigger_id == "cmd-ping" and message.reply_to is not None:
                self.received.record(message.reply_to, now)
            else:
                self.others.append(message.trigger_id or "?")
            return None
        raise TypeError(f"ReplyRecorder takes SendChat, got {type(message).__name__}")


def latency_creator(ping_cooldown_user: float) -> CreatorConfig:
    """benchmarks/triggers.py's creator with `!ping` replying to every chatter (no trigger
    cooldown), optionally with a per-chatter cooldown like config/example.toml's."""
    base = triggers_bench.build_creator()
    ping = TriggerConfig(
        id="cmd-ping",
        pattern="!ping",
        response="pong, {user}!",
        cooldown_user=ping_cooldown_user,
    )
    triggers = tuple(ping if t.id == "cmd-ping" else t for t in base.triggers)
    assert len(triggers) == 50
    return CreatorConfig(
        id=base.id, tallies=base.tallies, scoreboards=base.scoreboards, triggers=triggers
    )


QUIET = [
    "LUL that crit", "bow gang", "that dash was clean", "which weapon today?", "no way",
    "is this the final boss?", "this music slaps", "Cerberus", "the hydra is next",
    "can you show the map", "eggs and bacon", "omg omg omg", "wait what happened",
]  # fmt: skip


def latency_lines(
    count: int, ping_every: int, *, quiet: bool, seed: int = 21
) -> tuple[list[str], set[str]]:
    """`count` lines: every `ping_every`-th is `!ping` from a new chatter; the rest are the
    chat mix (its own `!ping`s reworded, so only the marked ones are measured), or with
    `quiet` chat that matches no trigger at all."""
    events = triggers_bench.build_messages(count, seed)
    lines: list[str] = []
    pings: set[str] = set()
    for n, e in enumerate(events):
        if n % ping_every == ping_every - 1:
            msg_id = f"ping-{n}"
            pings.add(msg_id)
            lines.append(privmsg_line(login=f"pinger{n}", user_id=f"9{n:08d}", text="!ping",
                                      msg_id=msg_id))  # fmt: skip
            continue
        text = QUIET[n % len(QUIET)] if quiet else e.text
        if text.split(None, 1)[0].lower() in ("!ping", "!ping2"):
            text = "ping me later"
        lines.append(
            privmsg_line(login=e.login, user_id=e.user_id, text=text, roles=e.roles,
                         msg_id=e.message_id)
        )  # fmt: skip
    return lines, pings


async def paced(lines: list[str], rate: float, hand: Callable[[str], Any]) -> float:
    """Hand each line to `hand` at `rate` lines/s (catching up after each wake-up); returns
    how far behind schedule the feeder fell at most, in seconds."""
    start = time.perf_counter()
    worst = 0.0
    i = 0
    total = len(lines)
    while i < total:
        due = start + i / rate
        now = time.perf_counter()
        if now < due:
            await trio.sleep(due - now)
            continue
        worst = max(worst, now - due)
        await hand(lines[i])
        i += 1
    return worst


async def run_engine_latency(
    lines: list[str], rate: float, folder: Path, ping_cooldown_user: float
) -> dict[str, Any]:
    """One trio run: store + trigger engine + recording platform under a supervisor."""
    received = Replies()
    others: list[str] = []
    handed: dict[str, float] = {}
    creator = latency_creator(ping_cooldown_user)
    sup: Supervisor

    made: dict[str, Any] = {}

    def engine() -> TriggerEngine:
        made["engine"] = TriggerEngine(
            creator,
            store=lambda: sup.ref("store"),
            platform=lambda name: sup.ref("twitch"),
            pseudonym_key=b"benchmark-pseudonym-key!",
            self_logins=frozenset({"streamsuites_bot"}),
        )
        return made["engine"]

    def store() -> StateStore:
        made["store"] = StateStore(folder / "runtime.sqlite3")
        return made["store"]

    sup = Supervisor(
        "bench",
        [
            ChildSpec("store", store),
            ChildSpec("twitch", lambda: ReplyRecorder(received, others)),
            ChildSpec("triggers", engine),
        ],
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        target = sup.ref("triggers")

        async def hand(line: str) -> None:
            t = time.perf_counter()
            event = to_chat_event(parse_irc_line(line))
            assert event is not None  # only PRIVMSG lines are handed in
            if event.message_id is not None and event.message_id.startswith("ping-"):
                handed[event.message_id] = t
            await target.send(event)

        t0 = time.perf_counter()
        writes0 = made["store"].writes
        behind = await paced(lines, rate, hand)
        fed = time.perf_counter() - t0
        received.expect(len(handed))
        with trio.move_on_after(10):
            await received.all_in.wait()
        elapsed = time.perf_counter() - t0
        writes = made["store"].writes - writes0
        eng = made["engine"]
        await sup.stop()
    got = received.at
    return {
        "latencies": [got[k] - handed[k] for k in handed if k in got],
        "missing": len(handed) - len(got),
        "behind": behind,
        "other_replies": len(others),
        "store_writes_per_s": writes / elapsed,
        "achieved_rate": len(lines) / fed,
        "actions": eng.actions,
        "errors": eng.errors,
    }


async def run_channel_latency(lines: list[str], rate: float) -> dict[str, Any]:
    """The peer: line -> memory channel -> task -> memory channel -> recorder."""
    handed: dict[str, float] = {}
    received = Replies()
    to_worker, worker_in = trio.open_memory_channel[str](100_000)
    to_recorder, recorder_in = trio.open_memory_channel[str](100_000)

    async def worker() -> None:
        async for line in worker_in:
            if line.endswith(":!ping"):
                await to_recorder.send(line)

    async def recorder() -> None:
        async for line in recorder_in:
            received.record(line, time.perf_counter())

    async def hand(line: str) -> None:
        if line.endswith(":!ping"):
            handed[line] = time.perf_counter()
        await to_worker.send(line)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(worker)
        nursery.start_soon(recorder)
        behind = await paced(lines, rate, hand)
        received.expect(len(handed))
        await received.all_in.wait()
        nursery.cancel_scope.cancel()
    return {
        "latencies": [received.at[k] - handed[k] for k in handed],
        "missing": 0,
        "behind": behind,
    }


def pct(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def describe(values: list[float]) -> str:
    """p50/p99/max in milliseconds."""
    return (
        f"p50 {pct(values, 0.5) * 1e3:7.3f} ms  p99 {pct(values, 0.99) * 1e3:7.3f} ms"
        f"  max {max(values) * 1e3:7.3f} ms"
    )


def report_latency(quick: bool, rate: float) -> None:
    seconds = 5 if quick else 20
    count = int(rate * seconds)
    print(f"\n== reply latency at {rate:,.0f} messages/s for {seconds} s; 5 % of the lines are"
          " `!ping` from distinct chatters; 50 triggers")  # fmt: skip
    print("   line handed to parsing -> SendChat received by the platform actor")
    folder = Path(tempfile.mkdtemp(prefix="ss-bench-chat-"))
    scenarios = (
        ("chat mix, !ping no cooldown", False, 0.0),
        ("chat mix, !ping cooldown_user=5", False, 5.0),
        ("quiet chat, !ping no cooldown", True, 0.0),
    )
    try:
        mix, pings = latency_lines(count, ping_every=20, quiet=False)
        peer = trio.run(run_channel_latency, mix, rate)
        peer_p99 = pct(peer["latencies"], 0.99)
        print(f"   ({len(pings):,} pings per run; the chat mix also fires other triggers:"
              " replies, tallies, votes, each committed through the store)")  # fmt: skip
        print(f"peer: bare trio memory-channel hop {describe(peer['latencies'])}")
        for n, (label, quiet, cooldown) in enumerate(scenarios):
            lines = mix if not quiet else latency_lines(count, ping_every=20, quiet=True)[0]
            sub = folder / f"run-{n}"
            sub.mkdir()
            out = trio.run(run_engine_latency, lines, rate, sub, cooldown)
            lat = out["latencies"]
            if not lat:
                print(f"{label}: no reply received")
                continue
            p99 = pct(lat, 0.99)
            print(f"{label:<34} {describe(lat)}  p99/peer {p99 / peer_p99:6.1f}x"
                  f"  (target p99 < 2 ms: {'met' if p99 < 0.002 else 'NOT met'})")  # fmt: skip
            notes = [
                f"store writes {out['store_writes_per_s']:,.1f}/s",
                f"actions {out['actions']:,}",
                f"other replies {out['other_replies']:,}",
            ]
            if out["missing"]:
                notes.append(f"{out['missing']} pings never answered")
            if out["behind"] > 0.002:
                notes.append(
                    f"feeder fell {out['behind'] * 1e3:,.0f} ms behind schedule (event loop"
                    f" stalled or mailbox full; lines accepted at {out['achieved_rate']:,.0f}/s)"
                )
            print("   " + "; ".join(notes))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer lines, shorter runs")
    parser.add_argument(
        "--only",
        default="parse,pipeline,latency",
        help="comma-separated subset of: parse, pipeline, latency",
    )
    parser.add_argument("--rate", type=float, default=2000.0, help="messages/s for the latency")
    args = parser.parse_args()  # fmt: skip
    wanted = {w.strip() for w in args.only.split(",") if w.strip()}
    unknown = wanted - {"parse", "pipeline", "latency"}
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    print(f"python {platform.python_version()}, trio {trio.__version__}, {os.cpu_count()} CPUs")
    if "parse" in wanted:
        report_parse(args.quick)
    if "pipeline" in wanted:
        report_pipeline(args.quick)
    if "latency" in wanted:
        report_latency(args.quick, args.rate)


if __name__ == "__main__":
    main()
