"""Points, quotes, giveaways, timers and filters through the trigger engine on replayed chat."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import apsw
import pytest

from config.models import (
    CreatorConfig,
    FilterConfig,
    PointsConfig,
    ReplayConfig,
    TallyConfig,
    TimerConfig,
    TriggerConfig,
)
from state import giveaways, loyalty, quotes
from state.errors import Refused
from tests.unit.actors.triggers.replayed import chat_line, start_replay

MOD = ("moderator",)
SUB = ("subscriber",)


def creator(**fields: Any) -> CreatorConfig:
    values: dict[str, Any] = {
        "id": "daniel",
        "display_name": "Daniel",
        "replay": ReplayConfig(file=Path("chat.jsonl")),
        "points": PointsConfig(name="beans", per_message=10, message_cooldown_seconds=60),
        "tallies": (TallyConfig(id="deaths", label="Deaths"),),
        "triggers": TRIGGERS,
    }
    values.update(fields)
    return CreatorConfig(**values)


TRIGGERS = (
    TriggerConfig(
        id="points",
        pattern="!points",
        action="points_show",
        response="{target} has {points} {points_name}",
    ),
    TriggerConfig(
        id="give",
        pattern="!give",
        action="points_give",
        response="{user} gave {amount} to {target}; {user} has {points}",
    ),
    TriggerConfig(
        id="addpoints",
        pattern="!addpoints",
        action="points_add",
        permission="moderator",
        response="{target} now has {points}",
    ),
    TriggerConfig(id="top", pattern="!top", action="points_top", response="Top: {top}"),
    TriggerConfig(
        id="hydrate",
        pattern="!hydrate",
        cost=25,
        response="{user} made Daniel drink ({points} {points_name} left)",
    ),
    TriggerConfig(
        id="death",
        pattern="!death",
        action="tally_increment",
        tally="deaths",
        cost=5,
        response="Deaths: {counter:deaths}",
    ),
    TriggerConfig(
        id="quote-add",
        pattern="!quote",
        action="quote_add",
        permission="moderator",
        response="Added quote #{number}",
    ),
    TriggerConfig(
        id="quote-show", pattern="!quote", action="quote_show", response="#{number}: {quote}"
    ),
    TriggerConfig(
        id="quote-delete",
        pattern="!quote",
        action="quote_delete",
        permission="moderator",
        response="Deleted quote #{number}",
    ),
    TriggerConfig(
        id="giveaway-open",
        pattern="!giveaway",
        action="giveaway_open",
        permission="moderator",
        entry_cost=5,
        subscriber_tickets=3,
        response="Giveaway for {prize}! Type !join ({entry_cost} {points_name})",
    ),
    TriggerConfig(
        id="join", pattern="!join", action="giveaway_join", response="{user} is in ({tickets})"
    ),
    TriggerConfig(
        id="giveaway-draw",
        pattern="!giveaway",
        action="giveaway_draw",
        permission="moderator",
        response="{winner} wins {prize}!",
    ),
    TriggerConfig(
        id="giveaway-close",
        pattern="!giveaway",
        action="giveaway_close",
        permission="moderator",
        response="Giveaway for {prize} closed",
    ),
)


async def run(nursery, tmp_path, lines, **fields) -> tuple[list[str], Any]:
    replayed = await start_replay(nursery, tmp_path, creator(**fields), lines, speed=1000)
    replies = await replayed.replies()
    return replies, replayed


async def test_points_are_earned_per_message_paced_and_shown(nursery, tmp_path):
    lines = [
        chat_line(1, 0, "hello", user="Ann"),
        chat_line(2, 30, "still here", user="Ann"),  # within the cooldown: nothing more
        chat_line(3, 61, "and now", user="Ann"),
        chat_line(4, 62, "!points", user="Ann"),
        chat_line(5, 63, "hi", user="Bob", roles=SUB),
        chat_line(6, 64, "!points @ann", user="Bob"),
    ]
    replies, replayed = await run(nursery, tmp_path, lines)
    # Ann: 3 earnings (0 s, 61 s, 62 s is within 60 s of 61 s: no) = 20; Bob's line earns 10.
    assert replies == ["Ann has 20 beans", "Ann has 20 beans"]
    await replayed.root.stop()


async def test_subscribers_earn_the_multiplier_and_active_minutes_pay(nursery, tmp_path):
    points = PointsConfig(name="beans", per_minute_active=2, subscriber_multiplier=2)
    lines = [
        chat_line(1, 0, "hi", user="Sub", roles=SUB),
        chat_line(2, 0.5, "hi", user="Ann"),
        chat_line(3, 185, "!points", user="Sub", roles=SUB),
        chat_line(4, 186, "!points", user="Ann"),
    ]
    replies, replayed = await run(nursery, tmp_path, lines, points=points)
    # Three whole minutes passed (60, 120, 180 s): 3 x 2 for Ann, 3 x 4 for the subscriber.
    assert replies == ["Sub has 12 beans", "Ann has 6 beans"]
    await replayed.root.stop()


async def test_give_transfers_atomically_and_is_refused_when_short(nursery, tmp_path):
    lines = [
        chat_line(1, 0, "hi", user="Ann"),
        chat_line(2, 1, "hi", user="Bob"),
        chat_line(3, 2, "!give @bob 7", user="Ann"),
        chat_line(4, 3, "!give @bob 50", user="Ann"),
        chat_line(5, 4, "!give @nobody 1", user="Ann"),
        chat_line(6, 5, "!points @bob", user="Ann"),
    ]
    replies, replayed = await run(nursery, tmp_path, lines)
    assert replies == [
        "Ann gave 7 to Bob; Ann has 3",
        "@Ann, that costs 50 beans and you have 3.",
        "I don't know @nobody here yet.",
        "Bob has 17 beans",
    ]
    await replayed.root.stop()


async def test_points_add_is_for_moderators_and_top_ranks_by_balance(nursery, tmp_path):
    lines = [
        chat_line(1, 0, "hi", user="Ann"),
        chat_line(2, 1, "hi", user="Bob"),
        chat_line(3, 2, "!addpoints @ann 100", user="Bob"),  # not a moderator: blocked
        chat_line(4, 3, "!addpoints @bob 100", user="Mod", roles=MOD),
        chat_line(5, 4, "!top", user="Ann"),
    ]
    replies, replayed = await run(nursery, tmp_path, lines)
    assert replies == ["Bob now has 110", "Top: 1) Bob (110), 2) Ann (10), 3) Mod (10)"]
    await replayed.root.stop()


async def test_a_cost_is_paid_refused_when_short_and_counters_render(nursery, tmp_path):
    lines = [
        chat_line(1, 0, "hi", user="Ann"),
        chat_line(2, 1, "!hydrate", user="Ann"),  # 10 beans: refused
        chat_line(3, 2, "!addpoints @ann 30", user="Mod", roles=MOD),
        chat_line(4, 3, "!hydrate", user="Ann"),
        chat_line(5, 4, "!death", user="Ann"),
        chat_line(6, 5, "!points", user="Ann"),
    ]
    replies, replayed = await run(nursery, tmp_path, lines)
    assert replies == [
        "@Ann, that costs 25 beans and you have 10.",
        "Ann now has 40",
        "Ann made Daniel drink (15 beans left)",
        "Deaths: 1",
        "Ann has 10 beans",
    ]
    await replayed.root.stop()


async def test_a_failing_paid_action_is_refunded(nursery, tmp_path):
    triggers = (
        *TRIGGERS,
        TriggerConfig(id="vote", pattern="!vote", action="poll_vote", cost=5, response="ok"),
    )
    lines = [
        chat_line(1, 0, "hi", user="Ann"),
        chat_line(2, 1, "!vote 1", user="Ann"),  # no open poll: the action fails
        chat_line(3, 2, "!points", user="Ann"),
    ]
    replies, replayed = await run(nursery, tmp_path, lines, triggers=triggers)
    assert replies == ["There is no open poll.", "Ann has 10 beans"]
    await replayed.root.stop()


async def test_concurrent_redemptions_never_overdraw(nursery, tmp_path):
    # 10 beans from chatting + 40 from a moderator = 50: two hydrates of 25 fit, not more,
    # even with ten redemptions queued in the same instant (one group commit).
    lines = [
        chat_line(1, 0, "hi", user="Ann"),
        chat_line(2, 1, "!addpoints @ann 40", user="Mod", roles=MOD),
    ]
    lines += [chat_line(10 + n, 2, "!hydrate", user="Ann") for n in range(10)]
    replies, replayed = await run(nursery, tmp_path, lines)
    paid = [r for r in replies if "made Daniel drink" in r]
    refused = [r for r in replies if r.startswith("@Ann, that costs 25")]
    assert paid == ["Ann made Daniel drink (25 beans left)", "Ann made Daniel drink (0 beans left)"]
    assert len(refused) == 8

    def balance(conn: apsw.Connection) -> list[int]:
        return [b.balance for b in loyalty.top(conn, "daniel", 10) if b.login == "ann"]

    assert await replayed.read(balance) == []  # 0 beans: not in the ranking
    await replayed.root.stop()


async def test_quotes_add_show_find_delete_and_never_renumber(nursery, tmp_path):
    lines = [
        chat_line(1, 0, "!quote add I never miss", user="Mod", roles=MOD),
        chat_line(2, 1, "!quote add The lava was a surprise", user="Mod", roles=MOD),
        chat_line(3, 2, "!quote add nope", user="Ann"),  # not a moderator: nothing
        chat_line(4, 3, "!quote 2", user="Ann"),
        chat_line(5, 4, "!quote lava", user="Ann"),
        chat_line(6, 5, "!quote delete 1", user="Mod", roles=MOD),
        chat_line(7, 6, "!quote 1", user="Ann"),
        chat_line(8, 7, "!quote add Third", user="Mod", roles=MOD),
    ]
    replies, replayed = await run(nursery, tmp_path, lines)
    assert replies == [
        "Added quote #1",
        "Added quote #2",
        "#2: The lava was a surprise",
        "#2: The lava was a surprise",
        "Deleted quote #1",
        "There is no quote #1.",
        "Added quote #3",
    ]

    def numbers(conn: apsw.Connection) -> list[tuple[int, str]]:
        return [(q.number, q.added_by) for q in quotes.list_quotes(conn, "daniel")]

    assert await replayed.read(numbers) == [(2, "Mod"), (3, "Mod")]
    await replayed.root.stop()


async def test_a_giveaway_charges_entry_once_weights_subscribers_and_draws(nursery, tmp_path):
    lines = [
        chat_line(1, 0, "!giveaway open A signed mug", user="Mod", roles=MOD),
        chat_line(2, 1, "!join", user="Ann"),
        chat_line(3, 2, "!join", user="Ann"),
        chat_line(4, 3, "!join", user="Sub", roles=SUB),
        chat_line(5, 4, "!giveaway draw", user="Mod", roles=MOD),
        chat_line(6, 5, "!giveaway draw", user="Mod", roles=MOD),
        chat_line(7, 6, "!giveaway close", user="Mod", roles=MOD),
        chat_line(8, 7, "!join", user="Late"),
    ]
    replies, replayed = await run(nursery, tmp_path, lines)
    assert replies[:4] == [
        "Giveaway for A signed mug! Type !join (5 beans)",
        "Ann is in (1)",
        "@Ann, you are already in the giveaway.",
        "Sub is in (3)",
    ]
    winners = {replies[4], replies[5]}
    assert winners == {"Ann wins A signed mug!", "Sub wins A signed mug!"}  # a reroll
    assert replies[6:] == ["Giveaway for A signed mug closed", "There is no open giveaway."]

    def state(conn: apsw.Connection) -> tuple[list[int], list[int]]:
        [giveaway] = giveaways.list_giveaways(conn, "daniel")
        entries = giveaways.entries(conn, giveaway.giveaway_id)
        return [e.tickets for e in entries], [b.balance for b in loyalty.top(conn, "daniel", 9)]

    tickets, balances = await replayed.read(state)
    assert tickets == [1, 3]
    assert sorted(balances) == [5, 5, 10, 10]  # Ann and Sub paid 5 each; Mod, Late did not
    await replayed.root.stop()


async def test_a_refused_join_is_said_and_its_refusal_keeps_no_traceback(
    nursery, tmp_path, monkeypatch
):
    # A refusal comes with ordinary chat (a second !join). With its traceback, whose frames
    # hold the write's outcome that holds the refusal, each one was a reference cycle kept
    # (with its write) until the collector's oldest generation was walked, minutes later.
    lines = [
        chat_line(1, 0, "!giveaway open A signed mug", user="Mod", roles=MOD),
        chat_line(2, 1, "!join", user="Ann"),
        chat_line(3, 2, "!join", user="Ann"),
        chat_line(4, 3, "!join", user="Ann"),
    ]
    made: list[str] = []  # the refusals' messages, not the refusals: nothing kept alive here
    init = Refused.__init__

    def counted(self: Refused, message: str) -> None:
        made.append(message)
        init(self, message)

    monkeypatch.setattr(Refused, "__init__", counted)
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()  # with the collector off, a refusal in a cycle is still alive below
    try:
        replies, replayed = await run(nursery, tmp_path, lines)
        # Those still alive: held by a cycle, or (timing) still by the engine's last write.
        alive = [o for o in gc.get_objects() if isinstance(o, Refused)]
    finally:
        if was_enabled:
            gc.enable()
    assert replies[1:] == ["Ann is in (1)"] + ["@Ann, you are already in the giveaway."] * 2
    assert made.count("@Ann, you are already in the giveaway.") >= 2  # the check below ran
    assert [r.__traceback__ for r in alive] == [None] * len(alive)
    await replayed.root.stop()


async def test_the_replayed_draw_is_reproducible(nursery, tmp_path):
    lines = [chat_line(1, 0, "!giveaway open Mug", user="Mod", roles=MOD)]
    lines += [chat_line(10 + n, 1 + n, "!join", user=f"V{n}") for n in range(20)]
    lines += [chat_line(99, 30, "!giveaway draw", user="Mod", roles=MOD)]
    first, replayed = await run(nursery, tmp_path, lines)
    await replayed.root.stop()
    second_path = tmp_path / "again"
    second_path.mkdir()
    second, replayed = await run(nursery, second_path, lines)
    assert first[-1] == second[-1] and first[-1].endswith("wins Mug!")
    await replayed.root.stop()


async def test_a_giveaway_survives_a_restart_of_the_engine_and_store(nursery, tmp_path):
    database = tmp_path / "kept.sqlite3"
    cfg = creator()
    before = [
        chat_line(1, 0, "!giveaway open Mug", user="Mod", roles=MOD),
        chat_line(2, 1, "!join", user="Ann"),
    ]
    replayed = await start_replay(nursery, tmp_path, cfg, before, speed=1000, database=database)
    assert await replayed.replies() == ["Giveaway for Mug! Type !join (5 beans)", "Ann is in (1)"]
    await replayed.root.stop()
    # Next stream: a new process, the same database.
    after = [
        chat_line(3, 3600, "!join", user="Ann"),
        chat_line(4, 3601, "!giveaway draw", user="Mod", roles=MOD),
    ]
    replayed = await start_replay(nursery, tmp_path, cfg, after, speed=1000, database=database)
    assert await replayed.replies() == [
        "@Ann, you are already in the giveaway.",
        "Ann wins Mug!",
    ]
    await replayed.root.stop()


LINK_FILTER = FilterConfig(
    id="links",
    kind="links",
    allow=("twitch.tv",),
    action="timeout",
    timeout_seconds=30,
    response="{user}, no links please",
)


@pytest.mark.parametrize(
    ("rule", "bad", "good"),
    [
        (LINK_FILTER, "free followers at spam.example.com now", "clips at clips.twitch.tv/abc"),
        (FilterConfig(id="caps", kind="caps", ratio=0.8), "WHY IS THIS SO LOUD", "Why not"),
        (FilterConfig(id="symbols", kind="symbols", ratio=0.5), "$$$ ### !!! @@@ %%%", "ok!"),
        (FilterConfig(id="rep", kind="repetition", max_repeats=5), "lol lol lol lol lol", "lol"),
        (FilterConfig(id="len", kind="length", max_length=20), "x" * 21, "x" * 20),
        (FilterConfig(id="words", kind="words", words=("badword",)), "you BADWORD", "badwords"),
        (FilterConfig(id="rx", kind="words", regexes=(r"b[a4]d+",)), "so b4dd", "bed"),
    ],
)
async def test_each_filter_catches_its_messages_and_fires_no_trigger(
    nursery, tmp_path, rule, bad, good
):
    ping = TriggerConfig(id="ping", pattern=".", kind="regex", response="pong")
    triggers = (ping,)
    lines = [chat_line(1, 0, bad, user="Ann"), chat_line(2, 1, good, user="Ann")]
    replies, replayed = await run(nursery, tmp_path, lines, filters=(rule,), triggers=triggers)
    replay = replayed.replay()
    engine = replayed.engine()
    assert engine.filter_hits == {rule.id: 1}
    if rule.action == "delete":
        assert [m.action for m in replay.moderations] == ["delete"]
        assert replay.moderations[0].message_id == "rp-1#1"  # the first pass of the log
    # The trigger matches any line: only the line that passed fired it.
    assert [r for r in replies if r == "pong"] == ["pong"]
    await replayed.root.stop()


async def test_links_timeout_and_a_moderator_permit(nursery, tmp_path):
    lines = [
        chat_line(1, 0, "see spam.example.com", user="Ann"),
        chat_line(2, 1, "!permit @ann", user="Mod", roles=MOD),
        chat_line(3, 2, "see https://my.site.xyz/page", user="Ann"),
        chat_line(4, 120, "see https://my.site.xyz/page", user="Ann"),  # the permit ended
        chat_line(5, 121, "mods may: spam.example.com", user="Mod", roles=MOD),
    ]
    replies, replayed = await run(nursery, tmp_path, lines, filters=(LINK_FILTER,))
    assert replies == [
        "Ann, no links please",
        "@ann may post links for the next 60 seconds.",
        "Ann, no links please",
    ]
    replay = replayed.replay()
    assert [(m.action, m.seconds, m.message_id) for m in replay.moderations] == [
        ("timeout", 30, "rp-1#1"),
        ("timeout", 30, "rp-4#1"),
    ]
    assert replayed.engine().snapshot().filter_hits == {"links": 2}
    await replayed.root.stop()


async def test_a_filtered_message_earns_no_points_and_fires_no_trigger(nursery, tmp_path):
    lines = [
        chat_line(1, 0, "!points spam.example.com", user="Ann"),
        chat_line(2, 1, "!points", user="Ann"),
    ]
    replies, replayed = await run(nursery, tmp_path, lines, filters=(LINK_FILTER,))
    assert replies == ["Ann, no links please", "Ann has 10 beans"]
    await replayed.root.stop()


async def test_timers_rotate_and_wait_for_enough_chat(nursery, tmp_path):
    timer = TimerConfig(
        id="socials",
        messages=("Follow {creator} on Bluesky", "Deaths so far: {counter:deaths}"),
        interval_minutes=1,
        min_chat_lines=2,
    )
    lines = [
        chat_line(1, 0, "a"),
        chat_line(2, 10, "b"),
        chat_line(3, 61, "c"),  # due, 3 lines: posts message 1
        chat_line(4, 130, "d"),  # due, but 1 line since the post: waits
        chat_line(5, 140, "e"),  # 2 lines: posts message 2
        chat_line(6, 150, "f"),
    ]
    replies, replayed = await run(nursery, tmp_path, lines, timers=(timer,))
    assert replies == ["Follow Daniel on Bluesky", "Deaths so far: 0"]
    assert replayed.engine().timer_posts == 2
    await replayed.root.stop()
