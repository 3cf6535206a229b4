"""The points ledger: active minutes accrue per viewer and are handed over as one grant, with
the same earnings as a grant per minute."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from actors.triggers.points import CREDIT_EVERY_MINUTES, PointsLedger
from config.models import PointsConfig
from state.commands import PointsGrant, Viewer

from .conftest import make_event

CONFIG = PointsConfig(name="beans", per_message=5, per_minute_active=2, subscriber_multiplier=2)
DOMAIN = "live"


def viewer(name: str) -> Viewer:
    return Viewer(platform="twitch", viewer_key=f"k-{name}", login=name, display_name=name)


def chat(ledger: PointsLedger, name: str, at: float, subscriber: bool = False) -> None:
    roles = frozenset({"subscriber"}) if subscriber else frozenset()
    event = make_event("hi", login=name, user_id=name, roles=roles)
    ledger.on_chat(event, viewer(name), DOMAIN, at)


def grants(items: list[PointsGrant]) -> list[tuple[str, int, int, bool]]:
    return [(g.viewer.login, g.amount, g.at, g.per_message) for g in items]


def test_by_default_every_active_minute_is_credited_and_what_waits_is_summed_per_viewer():
    ledger = PointsLedger(CONFIG)
    chat(ledger, "ann", 0)
    chat(ledger, "bob", 1, subscriber=True)
    ledger.tick(DOMAIN, 90)
    assert grants(ledger.take(settle=False)) == [
        ("ann", 5, 0, True),
        ("bob", 10, 1000, True),
        ("ann", 2, 60_000, False),
        ("bob", 4, 60_000, False),
    ]
    assert not ledger.accrued
    ledger.tick(DOMAIN, 210)
    # Two more minutes each, not yet taken: one grant per viewer, at the later minute.
    assert grants(ledger.take(settle=False)) == [
        ("ann", 4, 180_000, False),
        ("bob", 8, 180_000, False),
    ]
    assert not ledger.accrued


def test_accrued_minutes_wait_unsettled_and_become_one_grant_every_few_minutes():
    ledger = PointsLedger(CONFIG, credit_every_minutes=CREDIT_EVERY_MINUTES)
    chat(ledger, "ann", 0)
    assert grants(ledger.take(settle=False)) == [("ann", 5, 0, True)]
    ledger.tick(DOMAIN, 60 * (CREDIT_EVERY_MINUTES - 1))
    assert ledger.take(settle=False) == [] and ledger.accrued
    ledger.tick(DOMAIN, 60 * CREDIT_EVERY_MINUTES)
    last_minute = 60_000 * CREDIT_EVERY_MINUTES
    assert grants(ledger.take(settle=False)) == [
        ("ann", 2 * CREDIT_EVERY_MINUTES, last_minute, False)
    ]
    ledger.tick(DOMAIN, 60 * (CREDIT_EVERY_MINUTES + 2))
    assert grants(ledger.take()) == [("ann", 4, last_minute + 120_000, False)]  # settled


def test_a_chatter_gets_their_accrued_minutes_before_their_message_earns():
    ledger = PointsLedger(CONFIG, credit_every_minutes=CREDIT_EVERY_MINUTES)
    chat(ledger, "ann", 0)
    chat(ledger, "bob", 0)
    ledger.take(settle=False)
    chat(ledger, "ann", 130)  # two minutes passed: ann's are handed over, bob's wait
    assert grants(ledger.take(settle=False)) == [
        ("ann", 4, 120_000, False),
        ("ann", 5, 130_000, True),
    ]
    assert ledger.accrued


def test_a_viewer_no_longer_active_gets_what_they_accrued_at_once():
    ledger = PointsLedger(CONFIG, credit_every_minutes=20)
    chat(ledger, "ann", 0)
    ledger.take(settle=False)
    ledger.tick(DOMAIN, 60 * 3)
    assert ledger.take(settle=False) == []
    ledger.tick(DOMAIN, 60 * 11)  # paid up to minute 10: ann's message left the window then
    assert grants(ledger.take(settle=False)) == [("ann", 20, 600_000, False)]
    assert not ledger.accrued


@pytest.mark.parametrize("seed", range(5))
def test_accruing_changes_when_points_are_written_never_how_many(seed):
    rnd = random.Random(seed)
    steps, now = [], 0.0
    for _ in range(400):
        now += rnd.expovariate(1 / 20)
        name = None if rnd.random() < 0.1 else rnd.choice("abcdefg")
        steps.append((now, name, rnd.random() < 0.05))
    earned = []
    for ledger in (PointsLedger(CONFIG), PointsLedger(CONFIG, credit_every_minutes=3)):
        total: Counter[str] = Counter()
        for at, name, settle in steps:
            if name is None:
                ledger.tick(DOMAIN, at)
            else:
                chat(ledger, name, at, subscriber=name in "ab")
            for g in ledger.take(settle=settle):
                total[g.viewer.login] += g.amount
        ledger.tick(DOMAIN, now + 3600)
        for g in ledger.take():
            total[g.viewer.login] += g.amount
        earned.append(total)
    assert earned[0] == earned[1] and sum(earned[0].values()) > 0


def test_credit_every_must_be_a_whole_positive_number_of_minutes():
    with pytest.raises(ValueError):
        PointsLedger(CONFIG, credit_every_minutes=0)
