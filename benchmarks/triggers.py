"""Trigger evaluation throughput: 50 triggers over 200k realistic chat messages.

Run: `python benchmarks/triggers.py [--messages N] [--rounds R] [--seed S]`

The creator has 50 enabled triggers: 30 commands (some with aliases, cooldowns, permissions,
poll/tally/score/clip actions), 12 keywords and 8 regexes. The messages are generated from a
fixed seed: mostly ordinary chat (emotes, questions, greetings, "gg"), about 12 % commands
(known and unknown), from 2,000 chatters with a realistic mix of roles, one message every 5 ms
of simulated time so cooldowns start, block and expire. Events are built before timing; the
timed loop is exactly what the engine does per message: `evaluate(rules, cooldowns, event,
now=...)`, including permissions, cooldown checks and starts, and argument parsing.

Beside it, the peer: the straightforward engine many chat bots use, a loop over every trigger
per message (first word compared per command, one compiled regex per keyword and per regex),
without permissions or cooldowns, so it does strictly less work. Both are timed in CPU
seconds, best of R rounds after a warm-up round.
"""

from __future__ import annotations

import argparse
import gc
import platform
import random
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from actors.events import ChatEvent  # noqa: E402
from actors.triggers import CooldownTable, TriggerRules, evaluate  # noqa: E402
from config.models import (  # noqa: E402
    CreatorConfig,
    ScoreboardConfig,
    TallyConfig,
    TriggerConfig,
)

COMMAND_NAMES = [
    "ping", "discord", "socials", "uptime", "lurk", "unlurk", "hug", "so", "followage", "song",
    "specs", "schedule", "rules", "youtube", "twitter", "merch", "pc", "game", "title", "quote",
    "dice", "8ball", "hydrate", "posture", "commands",
]  # fmt: skip
KEYWORDS = [
    "gg", "pog", "kekw", "o7", "hype", "f in chat", "rip", "clutch", "lets go", "first",
    "nice shot", "wp",
]  # fmt: skip
REGEXES = [
    r"\b(hello|hi|hey)\s+(chat|everyone|all)\b",
    r"\bwhat (?:game|build) is this\b",
    r"\b(\d{1,2})\s*-\s*(\d{1,2})\b",
    r"(?:https?://)?discord\.gg/\w+",
    r"\bgood (morning|night|evening)\b",
    r"^!(?:drop|raid)\s+(\w+)",
    r"\b(?:bye|cya|see ya)\s+chat\b",
    r"\bl+o+l+\b",
]
CHATTER = [
    "LUL that crit", "bow gang", "that dash was clean", "which weapon today?", "KEKW",
    "PogChamp", "no way", "lets go!!", "is this the final boss?", "how long have you been live",
    "first time here, what game is this?", "GG", "gg wp", "F", "o7", "hello chat",
    "hey everyone how's it going", "nice shot", "I was typing it", "this music slaps",
    "what build is this", "2 - 1 for the boss", "good morning from Berlin", "lool",
    "Cerberus", "Dionysus!", "you'll get it next time", "rip", "the hydra is next",
    "can you show the map", "hype hype hype", "eggs and bacon", "pogging so hard rn",
    "omg omg omg", "clip it!", "bye chat", "wait what happened", "chat is this real",
]  # fmt: skip
ROLE_MIX = [
    (frozenset(), 60),
    (frozenset({"subscriber"}), 30),
    (frozenset({"vip"}), 4),
    (frozenset({"vip", "subscriber"}), 3),
    (frozenset({"moderator", "subscriber"}), 3),
]


def build_triggers() -> tuple[TriggerConfig, ...]:
    """30 commands, 12 keywords, 8 regexes: 50 triggers."""
    triggers: list[TriggerConfig] = []
    for n, name in enumerate(COMMAND_NAMES):
        triggers.append(
            TriggerConfig(
                id=f"cmd-{name}",
                pattern=f"!{name}",
                aliases=(f"!{name}2",) if n % 4 == 0 else (),
                response="{user}: " + name + " {args}",
                cooldown_user=5.0 if n % 2 else 0.0,
                cooldown_trigger=10.0 if n % 3 == 0 else 0.0,
                permission="moderator" if n % 7 == 6 else "everyone",
            )
        )
    triggers += [
        TriggerConfig(id="poll-open", pattern="!poll", action="poll_open", permission="moderator"),
        TriggerConfig(id="poll-vote", pattern="!vote", action="poll_vote"),
        TriggerConfig(id="poll-close", pattern="!endpoll", action="poll_close", permission="vip"),
        TriggerConfig(
            id="death", pattern="!death", action="tally_increment", tally="deaths",
            cooldown_trigger=5, permission="moderator",
        ),
        TriggerConfig(
            id="point", pattern="!point", action="score_add", scoreboard="trivia",
            permission="moderator",
        ),
    ]  # fmt: skip
    for n, word in enumerate(KEYWORDS):
        triggers.append(
            TriggerConfig(
                id=f"kw-{n}",
                kind="keyword",
                pattern=word,
                action="tally_increment" if word == "gg" else "reply",
                tally="gg" if word == "gg" else None,
                response=None if word == "gg" else f"{word}!",
                cooldown_user=10.0,
                cooldown_global=2.0 if n % 3 == 0 else 0.0,
            )
        )
    for n, pattern in enumerate(REGEXES):
        triggers.append(
            TriggerConfig(
                id=f"rx-{n}",
                kind="regex",
                pattern=pattern,
                response="{user} said {arg1}",
                cooldown_trigger=10.0,
            )
        )
    assert len(triggers) == 50
    return tuple(triggers)


def build_creator() -> CreatorConfig:
    return CreatorConfig(
        id="bench",
        tallies=(TallyConfig(id="deaths", label="Deaths"), TallyConfig(id="gg", label="GG")),
        scoreboards=(ScoreboardConfig(id="trivia", title="Trivia"),),
        triggers=build_triggers(),
    )


def build_messages(count: int, seed: int) -> list[ChatEvent]:
    """`count` chat events from a seeded generator (see the module docstring)."""
    rng = random.Random(seed)
    roles_pool = [roles for roles, weight in ROLE_MIX for _ in range(weight)]
    users = [(str(40_000_000 + n), f"viewer{n}", rng.choice(roles_pool)) for n in range(2000)]
    commands = [f"!{name}" for name in COMMAND_NAMES] + ["!vote 2", "!vote 1", "!death"]
    commands += ["!poll Best boon? | Zeus | Artemis", "!point @viewer7", "!unknown", "!so @x"]
    sent_at = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)
    events = []
    for n in range(count):
        user_id, login, roles = users[int(rng.paretovariate(1.2)) % len(users)]
        roll = rng.random()
        if roll < 0.12:
            text = rng.choice(commands)
            if rng.random() < 0.3:
                text += " " + rng.choice(CHATTER)
        elif roll < 0.97:
            text = rng.choice(CHATTER)
            if rng.random() < 0.4:
                text = f"{text} {rng.choice(CHATTER).lower()}"
        else:
            text = f"@{rng.choice(users)[1]} {rng.choice(CHATTER)}"
        events.append(
            ChatEvent(
                platform="twitch",
                channel="bench",
                message_id=f"m-{n}",
                user_id=user_id,
                login=login,
                display_name=login.title(),
                text=text,
                sent_at=sent_at,
                roles=roles,
                raw_type="PRIVMSG",
            )
        )
    return events


def time_engine(events: list[ChatEvent], rounds: int) -> tuple[float, int, int]:
    """Best messages/s of `evaluate` over `rounds` rounds; the actions fired and the messages
    that matched at least one trigger (fired or blocked), counted in an untimed pass."""
    rules = TriggerRules.from_config(build_creator(), self_logins={"streamsuites_bot"})
    best = float("inf")
    for round_no in range(rounds + 1):
        table = CooldownTable()  # fresh cooldowns each round: every round does the same work
        now = 1_700_000_000.0
        start = time.process_time()
        for event in events:
            now += 0.005
            evaluate(rules, table, event, now=now)
        elapsed = time.process_time() - start
        if round_no:
            best = min(best, elapsed)
        gc.collect()
    fired = matched = 0
    table = CooldownTable()
    now = 1_700_000_000.0
    for event in events:
        now += 0.005
        result = evaluate(rules, table, event, now=now)
        fired += len(result.actions)
        matched += bool(result.actions or result.blocked or result.errors)
    return len(events) / best, fired, matched


def time_naive(events: list[ChatEvent], rounds: int) -> tuple[float, int]:
    """The peer: every trigger checked in turn for every message, nothing precomputed."""
    triggers = build_triggers()
    # (kind, command names, regex): a command's regex and a regex's names are never read.
    unused = re.compile(r"(?!)")
    checks: list[tuple[str, set[str], re.Pattern[str]]] = []
    for trigger in triggers:
        assert trigger.pattern is not None  # chat triggers all have one
        if trigger.kind == "command":
            names = {n.lower() for n in (trigger.pattern, *trigger.aliases)}
            checks.append(("command", names, unused))
        elif trigger.kind == "keyword":
            alternatives = "|".join(re.escape(w) for w in (trigger.pattern, *trigger.aliases))
            checks.append(("regex", set(), re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.I)))
        else:
            assert trigger.regex is not None  # compiled by validation
            checks.append(("regex", set(), trigger.regex))
    best = float("inf")
    hits = 0
    for round_no in range(rounds + 1):
        hits = 0
        start = time.process_time()
        for event in events:
            text = event.text
            for kind, names, compiled in checks:
                if kind == "command":
                    words = text.split(None, 1)
                    if words and words[0].lower() in names:
                        hits += 1
                elif compiled.search(text) is not None:
                    hits += 1
        elapsed = time.process_time() - start
        if round_no:
            best = min(best, elapsed)
        gc.collect()
    return len(events) / best, hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=14)
    options = parser.parse_args()

    events = build_messages(options.messages, options.seed)
    print(f"python {platform.python_version()} on {platform.machine()} ({platform.system()})")
    print(f"{len(events):,} messages, 50 triggers (30 commands, 12 keywords, 8 regexes)")
    rate, fired, matched = time_engine(events, options.rounds)
    print(
        f"actors.triggers.evaluate : {rate:>12,.0f} messages/s  ({fired:,} actions fired; "
        f"{matched / len(events):.0%} of messages match a trigger, most then cooldown-blocked)"
    )
    peer_rate, hits = time_naive(events, options.rounds)
    print(f"peer: naive trigger loop : {peer_rate:>12,.0f} messages/s  ({hits:,} matches)")
    print(f"speed-up over the peer   : {rate / peer_rate:>12.1f}x")


if __name__ == "__main__":
    main()
