"""Tallies and scoreboards, including property tests of their invariants."""

from __future__ import annotations

import itertools
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from state import InvalidArgument, RecordNotFound, open_database
from state.counters import (
    add_points,
    decrement_tally,
    get_tally,
    increment_tally,
    list_scoreboards,
    list_tallies,
    ranked_entries,
    remove_entry,
    reset_scoreboard,
    reset_tally,
    scoreboard_view,
    set_score,
    set_tally,
)

T0 = 1_795_000_000_000


# --- tallies ------------------------------------------------------------------------------------


def test_increment_creates_the_tally_and_accumulates(db):
    with db.transaction() as conn:
        first = increment_tally(conn, creator_id="d", tally_id="deaths", now=T0)
        second = increment_tally(conn, creator_id="d", tally_id="deaths", by=4, now=T0 + 1)
    assert (first.count, first.label) == (1, "deaths")
    assert (second.count, second.updated_at) == (5, T0 + 1)


def test_decrement_may_go_negative_and_reset_and_set_work(db):
    with db.transaction() as conn:
        assert decrement_tally(conn, creator_id="d", tally_id="t", by=2, now=T0).count == -2
        assert set_tally(conn, creator_id="d", tally_id="t", value=40, now=T0).count == 40
        assert reset_tally(conn, creator_id="d", tally_id="t", now=T0).count == 0


def test_label_is_kept_unless_a_new_one_is_given(db):
    with db.transaction() as conn:
        increment_tally(conn, creator_id="d", tally_id="t", label="Deaths", now=T0)
        assert increment_tally(conn, creator_id="d", tally_id="t", now=T0).label == "Deaths"
        renamed = increment_tally(conn, creator_id="d", tally_id="t", label="Oofs", now=T0)
    assert renamed.label == "Oofs"


def test_tallies_are_per_creator_and_listed_in_key_order(db):
    with db.transaction() as conn:
        increment_tally(conn, creator_id="zed", tally_id="a", now=T0)
        increment_tally(conn, creator_id="amy", tally_id="b", now=T0)
        increment_tally(conn, creator_id="amy", tally_id="a", by=3, now=T0)
    assert [(t.creator_id, t.tally_id, t.count) for t in list_tallies(db.connection)] == [
        ("amy", "a", 3),
        ("amy", "b", 1),
        ("zed", "a", 1),
    ]
    assert [t.tally_id for t in list_tallies(db.connection, creator_id="zed")] == ["a"]
    assert get_tally(db.connection, "nobody", "a") is None


def test_tally_refuses_non_integer_delta(db):
    with db.transaction() as conn, pytest.raises(InvalidArgument):
        increment_tally(conn, creator_id="d", tally_id="t", by=1.5)  # type: ignore[arg-type]


# --- scoreboards --------------------------------------------------------------------------------


def test_ranked_positions_share_ties_and_skip_after_them(db):
    with db.transaction() as conn:
        for label, points in [("red", 10), ("blue", 7), ("green", 10), ("gold", 3), ("aqua", 7)]:
            add_points(
                conn, creator_id="d", scoreboard_id="teams", label=label, points=points, now=T0
            )
    ranked = ranked_entries(db.connection, "d", "teams")
    assert [(e.position, e.label, e.score) for e in ranked] == [
        (1, "green", 10),
        (1, "red", 10),
        (3, "aqua", 7),
        (3, "blue", 7),
        (5, "gold", 3),
    ]
    assert [e.label for e in ranked_entries(db.connection, "d", "teams", limit=2)] == [
        "green",
        "red",
    ]


def test_add_points_returns_the_entry_with_its_new_position(db):
    with db.transaction() as conn:
        add_points(conn, creator_id="d", scoreboard_id="s", label="a", points=5, now=T0)
        entry = add_points(conn, creator_id="d", scoreboard_id="s", label="b", points=5, now=T0)
        assert (entry.position, entry.score) == (1, 5)
        entry = add_points(conn, creator_id="d", scoreboard_id="s", label="b", points=-6, now=T0)
        assert (entry.position, entry.score) == (2, -1)


def test_set_score_remove_and_reset(db):
    with db.transaction() as conn:
        add_points(
            conn, creator_id="d", scoreboard_id="s", label="a", points=5, title="Cup", now=T0
        )
        assert (
            set_score(conn, creator_id="d", scoreboard_id="s", label="a", score=2, now=T0).score
            == 2
        )
        add_points(conn, creator_id="d", scoreboard_id="s", label="b", points=1, now=T0)
        assert remove_entry(conn, creator_id="d", scoreboard_id="s", label="b", now=T0)
        assert not remove_entry(conn, creator_id="d", scoreboard_id="s", label="b", now=T0)
    view = scoreboard_view(db.connection, "d", "s")
    assert view.scoreboard.title == "Cup"
    assert [e.label for e in view.entries] == ["a"]
    with db.transaction() as conn:
        reset_scoreboard(conn, creator_id="d", scoreboard_id="s", now=T0 + 5)
        with pytest.raises(RecordNotFound):
            reset_scoreboard(conn, creator_id="d", scoreboard_id="missing", now=T0)
    view = scoreboard_view(db.connection, "d", "s")
    assert view.entries == () and view.scoreboard.updated_at == T0 + 5


def test_list_scoreboards_in_key_order_with_entries(db):
    with db.transaction() as conn:
        add_points(conn, creator_id="z", scoreboard_id="s", label="a", points=1, now=T0)
        add_points(conn, creator_id="a", scoreboard_id="t", label="b", points=2, now=T0)
    boards = list_scoreboards(db.connection)
    assert [(b.scoreboard.creator_id, b.scoreboard.scoreboard_id) for b in boards] == [
        ("a", "t"),
        ("z", "s"),
    ]
    assert boards[0].entries[0].score == 2
    assert len(list_scoreboards(db.connection, creator_id="z")) == 1
    with pytest.raises(RecordNotFound):
        scoreboard_view(db.connection, "a", "missing")


# --- properties ---------------------------------------------------------------------------------

_counter = itertools.count()

tally_ops = st.lists(
    st.one_of(
        st.tuples(st.just("inc"), st.integers(-1000, 1000)),
        st.tuples(st.just("dec"), st.integers(-1000, 1000)),
        st.tuples(st.just("set"), st.integers(-(10**6), 10**6)),
        st.tuples(st.just("reset"), st.just(0)),
    ),
    max_size=30,
)

score_ops = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", "d", "e"]), st.integers(-50, 50)),
    max_size=40,
)


PROPERTY = settings(max_examples=60, deadline=None)


@pytest.fixture(scope="module")
def shared_db():
    # One database for all examples (each example uses a fresh creator id): opening a
    # database per example would dominate the run time.
    with tempfile.TemporaryDirectory() as folder:
        database = open_database(f"{folder}/prop.db", synchronous="normal")
        yield database
        database.close()


@PROPERTY
@given(ops=tally_ops)
def test_tally_count_matches_a_simple_model(shared_db, ops):
    creator = f"c{next(_counter)}"
    model = 0
    with shared_db.transaction() as conn:
        for op, value in ops:
            if op == "inc":
                model += value
                got = increment_tally(conn, creator_id=creator, tally_id="t", by=value, now=T0)
            elif op == "dec":
                model -= value
                got = decrement_tally(conn, creator_id=creator, tally_id="t", by=value, now=T0)
            elif op == "set":
                model = value
                got = set_tally(conn, creator_id=creator, tally_id="t", value=value, now=T0)
            else:
                model = 0
                got = reset_tally(conn, creator_id=creator, tally_id="t", now=T0)
            assert got.count == model
    stored = get_tally(shared_db.connection, creator, "t")
    assert (stored.count if stored else 0) == model


@PROPERTY
@given(ops=score_ops)
def test_scoreboard_ranking_invariants(shared_db, ops):
    creator = f"s{next(_counter)}"
    totals: dict[str, int] = {}
    with shared_db.transaction() as conn:
        for label, points in ops:
            totals[label] = totals.get(label, 0) + points
            entry = add_points(
                conn, creator_id=creator, scoreboard_id="b", label=label, points=points, now=T0
            )
            assert entry.score == totals[label]
    ranked = ranked_entries(shared_db.connection, creator, "b")
    assert {e.label: e.score for e in ranked} == totals
    scores = [e.score for e in ranked]
    assert scores == sorted(scores, reverse=True)
    for e in ranked:
        # Competition ranking: 1 + how many entries are strictly better.
        assert e.position == 1 + sum(1 for s in scores if s > e.score)
    for a, b in itertools.pairwise(ranked):
        if a.score == b.score:
            assert a.label < b.label  # ties in a deterministic order
