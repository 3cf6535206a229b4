"""Cooldowns on an explicit clock (`actors.triggers.cooldowns.CooldownTable`)."""

from __future__ import annotations

import pytest

from actors.triggers import CooldownTable

T0 = 1_700_000_000.0  # epoch seconds, as the engine passes them


def test_user_cooldown_blocks_only_that_user_for_exactly_its_length(trig):
    ping = trig("ping", "!ping", cooldown_user=5)
    table = CooldownTable()

    assert table.check(ping, "u1", T0) is None
    assert table.start(ping, "u1", T0) == {"user:ping:u1": T0 + 5}

    assert table.check(ping, "u1", T0 + 1) == pytest.approx(4.0)
    assert table.blocking(ping, "u1", T0 + 4.5) == ("user", pytest.approx(0.5))
    assert table.check(ping, "u2", T0 + 1) is None
    assert table.check(ping, "u1", T0 + 5) is None  # expires exactly at start + length


def test_trigger_cooldown_blocks_everyone(trig):
    discord = trig("discord", "!discord", cooldown_trigger=30)
    table = CooldownTable()

    assert table.start(discord, "u1", T0) == {"trigger:discord": T0 + 30}

    assert table.blocking(discord, "u2", T0 + 21) == ("trigger", pytest.approx(9.0))
    assert table.check(discord, "u1", T0 + 29.999) == pytest.approx(0.001, abs=1e-6)
    assert table.check(discord, "u2", T0 + 30) is None


def test_cooldowns_of_one_trigger_do_not_block_another(trig):
    a = trig("a", "!a", cooldown_user=10, cooldown_trigger=10)
    b = trig("b", "!b", cooldown_user=10, cooldown_trigger=10)
    table = CooldownTable()
    table.start(a, "u1", T0)

    assert table.check(b, "u1", T0 + 1) is None


def test_global_cooldown_gates_every_trigger_that_takes_part(trig):
    chatty = trig("chatty", "!chatty", cooldown_global=20)
    other = trig("other", "!other", cooldown_global=5)
    vote = trig("vote", "!vote", action="poll_vote")  # no global cooldown: never gated
    table = CooldownTable()

    assert table.start(chatty, "u1", T0) == {"global": T0 + 20}

    assert table.blocking(other, "u2", T0 + 10) == ("global", pytest.approx(10.0))
    assert table.check(chatty, "u3", T0 + 19) == pytest.approx(1.0)
    assert table.check(vote, "u2", T0 + 1) is None
    assert table.check(other, "u2", T0 + 20) is None


def test_global_cooldown_is_extended_never_shortened(trig):
    long = trig("long", "!long", cooldown_global=60)
    short = trig("short", "!short", cooldown_global=5)
    table = CooldownTable()
    table.start(long, "u1", T0)

    assert table.start(short, "u1", T0 + 1) == {"global": T0 + 60}
    assert table.check(short, "u1", T0 + 30) == pytest.approx(30.0)


def test_the_longest_blocking_cooldown_is_reported(trig):
    both = trig("both", "!both", cooldown_user=300, cooldown_trigger=10, cooldown_global=60)
    table = CooldownTable()
    started = table.start(both, "u1", T0)

    assert started == {"user:both:u1": T0 + 300, "trigger:both": T0 + 10, "global": T0 + 60}
    assert table.blocking(both, "u1", T0 + 5) == ("user", pytest.approx(295.0))
    assert table.blocking(both, "u2", T0 + 5) == ("global", pytest.approx(55.0))
    assert table.blocking(both, "u2", T0 + 60) is None


def test_a_trigger_without_cooldowns_starts_nothing(trig):
    table = CooldownTable()

    assert table.start(trig("free", "!free"), "u1", T0) == {}
    assert len(table) == 0


def test_durable_round_trip_restores_running_cooldowns(trig):
    greet = trig("greeting", r"hi", kind="regex", cooldown_user=300, cooldown_trigger=10)
    chatty = trig("chatty", "!chatty", cooldown_global=120)
    table = CooldownTable()
    table.start(greet, "40100001", T0)
    table.start(greet, "user:with:colons", T0 + 2)
    table.start(chatty, "u9", T0 + 3)

    saved = table.durable_entries(T0 + 5)
    assert saved == {
        "user:greeting:40100001": T0 + 300,
        "user:greeting:user:with:colons": T0 + 302,
        "trigger:greeting": T0 + 12,
        "global": T0 + 123,
    }

    restored = CooldownTable()
    assert restored.load(saved, now=T0 + 6) == 4
    for user in ("40100001", "user:with:colons"):
        assert restored.blocking(greet, user, T0 + 20) == table.blocking(greet, user, T0 + 20)
    assert restored.blocking(greet, "someone", T0 + 7) == ("trigger", pytest.approx(5.0))
    assert restored.check(chatty, "u1", T0 + 23) == pytest.approx(100.0)
    assert restored.durable_entries() == table.durable_entries()


def test_durable_entries_leave_out_cooldowns_about_to_expire(trig):
    table = CooldownTable()
    table.start(trig("ping", "!ping", cooldown_user=5), "u1", T0)
    table.start(trig("greet", "!greet", cooldown_user=300), "u1", T0)

    assert table.durable_entries(T0 + 1, min_remaining=10) == {"user:greet:u1": T0 + 300}
    assert set(table.durable_entries(T0 + 1)) == {"user:ping:u1", "user:greet:u1"}
    assert table.durable_entries(T0 + 300) == {}


def test_load_skips_expired_malformed_and_never_shortens(trig):
    greet = trig("greet", "!greet", cooldown_user=300)
    table = CooldownTable()
    table.start(greet, "u1", T0)

    loaded = table.load(
        {
            "user:greet:u1": T0 + 10,  # shorter than the running one: ignored in effect
            "user:greet:u2": T0 - 1,  # expired
            "user:greet": T0 + 50,  # no user id
            "trigger:": T0 + 50,
            "trigger:a:b": T0 + 50,
            "bogus": T0 + 50,
            "global": float("nan"),
            "trigger:x": "soon",  # type: ignore[dict-item]
            "trigger:ok": T0 + 50,
        },
        now=T0,
    )

    assert loaded == 2
    assert table.check(greet, "u1", T0 + 100) == pytest.approx(200.0)
    assert table.check(greet, "u2", T0 + 1) is None
    assert set(table.durable_entries(T0)) == {"user:greet:u1", "trigger:ok"}


def test_prune_drops_expired_entries_only(trig):
    table = CooldownTable()
    table.start(trig("a", "!a", cooldown_user=5, cooldown_trigger=5, cooldown_global=5), "u1", T0)
    table.start(trig("b", "!b", cooldown_user=50), "u1", T0)

    assert table.prune(T0 + 5) == 3
    assert len(table) == 1
    assert table.durable_entries() == {"user:b:u1": T0 + 50}


def test_memory_stays_bounded_under_many_users_with_short_cooldowns(trig):
    ping = trig("ping", "!ping", cooldown_user=10)
    table = CooldownTable(prune_floor=100)

    peak = 0
    for n in range(50_000):  # one new chatter every 0.01 s: 1000 cooldowns running at a time
        table.start(ping, f"u{n}", T0 + n * 0.01)
        peak = max(peak, len(table))

    assert peak <= 2 * 1001 + 1
    assert table.check(ping, "u49999", T0 + 500) is not None


def test_per_user_table_is_capped_dropping_the_soonest_expiry_first(trig):
    ping = trig("ping", "!ping", cooldown_user=86_400)
    table = CooldownTable(max_user_entries=1000, prune_floor=10)

    for n in range(10_000):  # none expire: the cap must hold anyway
        table.start(ping, f"u{n}", T0 + n)
        assert len(table) <= 1000

    assert table.check(ping, "u9999", T0 + 10_000) is not None  # the newest are kept
    assert table.check(ping, "u0", T0 + 10_000) is None  # the oldest were dropped


def test_cap_must_be_positive():
    with pytest.raises(ValueError):
        CooldownTable(max_user_entries=0)
