"""Giveaway draws: weighted by tickets, rerolls exclude earlier winners, refusals."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from state import giveaways
from state.errors import Refused
from state.giveaways import Entry, pick_weighted


def entry(key: str, tickets: int) -> Entry:
    return Entry(
        platform="twitch",
        viewer_key=key,
        display_name=key,
        tickets=tickets,
        joined_at=0,
        drawn=None,
        drawn_at=None,
    )


def test_the_draw_is_weighted_by_tickets():
    # 1, 3 and 6 tickets: expected shares 10 %, 30 %, 60 %. With a fixed seed the counts are
    # fixed; the chi-squared statistic must stay under the 99.9 % quantile for 2 degrees of
    # freedom (13.82), which a draw ignoring tickets (about 3,333 each) would exceed by far.
    candidates = [entry("a", 1), entry("b", 3), entry("c", 6)]
    rng = random.Random(16)
    draws = 10_000
    counts = Counter(pick_weighted(candidates, rng.randrange).viewer_key for _ in range(draws))
    expected = {"a": 1_000, "b": 3_000, "c": 6_000}
    chi2 = sum((counts[k] - e) ** 2 / e for k, e in expected.items())
    assert chi2 < 13.82, (counts, chi2)
    uniform = sum((counts[k] - draws / 3) ** 2 / (draws / 3) for k in expected)
    assert uniform > 1_000


def always(ticket: int) -> Callable[[int], int]:
    """A `pick` that draws `ticket` whatever the total."""
    return lambda _total: ticket


def test_every_ticket_maps_to_exactly_one_entry():
    candidates = [entry("a", 2), entry("b", 1)]
    assert [pick_weighted(candidates, always(t)).viewer_key for t in range(3)] == [
        "a",
        "a",
        "b",
    ]
    with pytest.raises(ValueError, match="outside"):
        pick_weighted(candidates, lambda total: total)


def _open(db, **overrides):
    values: dict[str, Any] = {
        "giveaway_id": "g1",
        "creator_id": "d",
        "prize": "Mug",
        "entry_cost": 0,
        "subscribers_only": False,
        "subscriber_tickets": 2,
        "now": 1,
    }
    values.update(overrides)
    with db.transaction() as conn:
        return giveaways.open_giveaway(conn, **values)


def test_rerolls_skip_earlier_winners_until_everyone_was_drawn(db):
    _open(db)
    with db.transaction() as conn:
        for key in ("a", "b"):
            giveaways.join(
                conn,
                creator_id="d",
                platform="twitch",
                viewer_key=key,
                display_name=key,
                subscriber=False,
                now=2,
            )
        first = giveaways.draw(conn, creator_id="d", pick=lambda _t: 0, now=3)
        second = giveaways.draw(conn, creator_id="d", pick=lambda _t: 0, now=4)
        assert (first[1].viewer_key, first[2]) == ("a", 1)
        assert (second[1].viewer_key, second[2]) == ("b", 2)
        with pytest.raises(Refused, match="Everyone"):
            giveaways.draw(conn, creator_id="d", pick=lambda _t: 0, now=5)


def test_subscribers_only_refuses_others_and_a_second_open_is_refused(db):
    _open(db, subscribers_only=True)
    with db.transaction() as conn, pytest.raises(Refused, match="subscribers only"):
        giveaways.join(
            conn,
            creator_id="d",
            platform="twitch",
            viewer_key="x",
            display_name="X",
            subscriber=False,
            now=2,
        )
    with pytest.raises(Refused, match="still open"):
        _open(db, giveaway_id="g2")


def test_the_export_keeps_each_creators_newest_giveaways_with_their_own_counts(db):
    kept = giveaways.SUMMARIES_PER_CREATOR
    for n in range(kept + 5):
        for creator in ("d", "e"):
            _open(db, giveaway_id=f"{creator}{n:03d}", creator_id=creator, now=10 * n + 1)
            with db.transaction() as conn:
                for key in ("a", "b")[: 1 + n % 2]:
                    giveaways.join(
                        conn,
                        creator_id=creator,
                        platform="twitch",
                        viewer_key=key,
                        display_name=key,
                        subscriber=False,
                        now=10 * n + 2,
                    )
                giveaways.draw(conn, creator_id=creator, pick=lambda _t: 0, now=10 * n + 3)
                giveaways.close_giveaway(conn, creator_id=creator, now=10 * n + 4)
    rows = giveaways.summaries(db.connection)
    newest = [f"{c}{n:03d}" for c in ("d", "e") for n in range(5, kept + 5)]
    assert [s.giveaway.giveaway_id for s in rows] == newest  # by creator, then opening
    assert [s.entrants for s in rows[:2]] == [2, 1]  # n = 5 had two, n = 6 one
    assert all(len(s.winners) == 1 for s in rows)
    assert giveaways.summaries(db.connection, ["e"]) == rows[kept:]


def test_a_closed_giveaway_no_draw_can_reach_is_settled(db):
    """Settled: no entry, draw or close reaches it while the others stay as they are. The open
    giveaway is not, nor the newest closed one while none is open (a draw rerolls it)."""
    for n, close in enumerate((True, True, True, False)):
        _open(db, giveaway_id=f"g{n}", now=10 * n + 1)
        if close:
            with db.transaction() as conn:
                giveaways.close_giveaway(conn, creator_id="d", now=10 * n + 2)
    newest = giveaways.newest_giveaway_rows(db.connection, ["d"])
    assert [row[0] for row in newest] == ["g0", "g1", "g2", "g3"]
    # g3 is open: no draw reaches g2 until g3 closes (which changes g3's row).
    assert giveaways.settled(newest) == [True, True, True, False]
    assert giveaways.settled(newest[:3]) == [True, True, False]  # g2 is the current one
    assert giveaways.settled([]) == []
