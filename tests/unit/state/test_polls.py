"""Polls: one changeable vote per voter, closing, results and listing."""

from __future__ import annotations

import pytest

from state import InvalidArgument, PollClosed, RecordExists, RecordNotFound
from state.errors import Refused
from state.polls import (
    close_poll,
    get_poll,
    list_polls,
    open_poll,
    poll_results,
    resolve_option,
    vote,
    vote_in_open_poll,
)

T0 = 1_795_000_000_000


@pytest.fixture
def poll(db):
    with db.transaction() as conn:
        return open_poll(
            conn,
            poll_id="p1",
            creator_id="daniel",
            question="Best map?",
            options=["Alpha", "Beta", "Gamma"],
            now=T0,
        )


def votes_by_label(results):
    return {o.label: o.votes for o in results.options}


def test_open_poll_numbers_options_in_order_with_zero_votes(poll):
    assert poll.poll.state == "open"
    assert poll.poll.closed_at is None
    assert [(o.option_id, o.label, o.position, o.votes) for o in poll.options] == [
        ("1", "Alpha", 1, 0),
        ("2", "Beta", 2, 0),
        ("3", "Gamma", 3, 0),
    ]
    assert poll.total_votes == 0


def test_open_poll_refuses_duplicate_id_too_few_and_duplicate_options(db, poll):
    with db.transaction() as conn:
        with pytest.raises(RecordExists):
            open_poll(conn, poll_id="p1", creator_id="d", question="q", options=["a", "b"])
        with pytest.raises(InvalidArgument):
            open_poll(conn, poll_id="p2", creator_id="d", question="q", options=["only"])
        with pytest.raises(InvalidArgument):
            open_poll(conn, poll_id="p3", creator_id="d", question="q", options=["A", "a"])


def test_vote_change_keeps_one_vote_per_user(db, poll):
    with db.transaction() as conn:
        first = vote(conn, poll_id="p1", voter_key="u1", option_id="1", now=T0 + 1)
        vote(conn, poll_id="p1", voter_key="u2", option_id="1", now=T0 + 2)
        changed = vote(conn, poll_id="p1", voter_key="u1", option_id="3", now=T0 + 3)
        again = vote(conn, poll_id="p1", voter_key="u1", option_id="3", now=T0 + 4)
    assert first.outcome == "new" and first.previous_option_id is None
    assert changed.outcome == "changed" and changed.previous_option_id == "1"
    assert again.outcome == "unchanged"
    assert votes_by_label(again.results) == {"Alpha": 1, "Beta": 0, "Gamma": 1}
    assert again.results.total_votes == 2  # u1 counted once despite three votes
    count = db.connection.execute("SELECT count(*) FROM poll_votes").fetchone()[0]
    assert count == 2


def test_vote_returns_current_tallies(db, poll):
    with db.transaction() as conn:
        result = vote(conn, poll_id="p1", voter_key="u1", option_id="2", now=T0)
    assert votes_by_label(result.results) == {"Alpha": 0, "Beta": 1, "Gamma": 0}


def test_vote_refuses_unknown_option_and_unknown_poll(db, poll):
    with db.transaction() as conn:
        with pytest.raises(InvalidArgument):
            vote(conn, poll_id="p1", voter_key="u1", option_id="9", now=T0)
        with pytest.raises(RecordNotFound):
            vote(conn, poll_id="nope", voter_key="u1", option_id="1", now=T0)


def test_closed_poll_refuses_votes_and_second_close(db, poll):
    with db.transaction() as conn:
        vote(conn, poll_id="p1", voter_key="u1", option_id="2", now=T0 + 1)
        final = close_poll(conn, poll_id="p1", now=T0 + 10)
    assert final.poll.state == "closed"
    assert final.poll.closed_at == T0 + 10
    assert final.total_votes == 1
    with db.transaction() as conn:
        with pytest.raises(PollClosed):
            vote(conn, poll_id="p1", voter_key="u2", option_id="1", now=T0 + 11)
        with pytest.raises(PollClosed):
            close_poll(conn, poll_id="p1", now=T0 + 12)
    assert poll_results(db.connection, "p1").total_votes == 1


def test_close_never_precedes_open(db, poll):
    with db.transaction() as conn:
        closed = close_poll(conn, poll_id="p1", now=T0 - 5000)
    assert closed.poll.closed_at == T0


def test_resolve_option_accepts_id_or_label_in_any_case(db, poll):
    conn = db.connection
    assert resolve_option(conn, "p1", "2") == "2"
    assert resolve_option(conn, "p1", " gamma ") == "3"
    assert resolve_option(conn, "p1", "delta") is None


def test_list_polls_newest_first_with_filters(db, poll):
    with db.transaction() as conn:
        open_poll(
            conn, poll_id="p2", creator_id="eve", question="q", options=["a", "b"], now=T0 + 100
        )
        open_poll(
            conn, poll_id="p0", creator_id="daniel", question="q", options=["a", "b"], now=T0 + 100
        )
        close_poll(conn, poll_id="p1", now=T0 + 200)
    assert [p.poll.poll_id for p in list_polls(db.connection)] == ["p0", "p2", "p1"]
    assert [p.poll.poll_id for p in list_polls(db.connection, creator_id="daniel")] == [
        "p0",
        "p1",
    ]
    assert [p.poll.poll_id for p in list_polls(db.connection, state="closed")] == ["p1"]
    assert get_poll(db.connection, "p2").creator_id == "eve"


def test_failed_vote_inside_a_batch_does_not_affect_others(db, poll):
    outcomes = db.batch(
        [
            lambda c: vote(c, poll_id="p1", voter_key="u1", option_id="1", now=T0),
            lambda c: vote(c, poll_id="p1", voter_key="u2", option_id="bad", now=T0),
            lambda c: vote(c, poll_id="p1", voter_key="u3", option_id="2", now=T0),
        ]
    )
    assert [o.ok for o in outcomes] == [True, False, True]
    assert poll_results(db.connection, "p1").total_votes == 2


def test_a_poll_without_an_id_gets_the_creators_next_number_whatever_the_clock(db):
    with db.transaction() as conn:
        # A poll from before ids were numbered, named after the clock: never reused.
        open_poll(conn, poll_id="daniel-2", creator_id="daniel", question="q", options="ab")
        first = open_poll(conn, creator_id="daniel", question="q", options="ab", now=T0 + 5)
        second = open_poll(conn, creator_id="daniel", question="q", options="ab", now=T0)
        other = open_poll(conn, creator_id="mia", question="q", options="ab", now=T0)
    assert [first.poll.poll_id, second.poll.poll_id] == ["daniel-3", "daniel-4"]
    assert other.poll.poll_id == "mia-1"


def test_a_vote_in_the_open_poll_finds_the_newest_open_poll_and_the_option_by_id_or_label(db):
    def cast(voter, choice, now):
        return vote_in_open_poll(conn, creator_id="daniel", voter_key=voter, choice=choice, now=now)

    with db.transaction() as conn:
        with pytest.raises(Refused, match="no open poll"):
            cast("v1", "1", T0)
        open_poll(
            conn, poll_id="old", creator_id="daniel", question="?", options=["a", "b"], now=T0
        )
        open_poll(
            conn, poll_id="new", creator_id="daniel", question="Map?", options=["Alpha", "Beta"],
            now=T0 + 1,
        )  # fmt: skip
        open_poll(
            conn, poll_id="other", creator_id="else", question="?", options=["x", "y"], now=T0 + 2
        )
        first = cast("v1", " 2 ", T0 + 3)
        again = cast("v1", "beta", T0 + 4)
        changed = cast("v1", "ALPHA", T0 + 5)
        with pytest.raises(Refused, match="no option 'gamma'"):
            cast("v2", "gamma", T0 + 6)
    assert (first.poll_id, first.option_id, first.outcome) == ("new", "2", "new")
    assert (again.outcome, again.previous_option_id) == ("unchanged", "2")
    assert (changed.option_id, changed.outcome, changed.previous_option_id) == ("1", "changed", "2")
    assert changed.results == poll_results(db.connection, "new")
    assert votes_by_label(changed.results) == {"Alpha": 1, "Beta": 0}
    assert poll_results(db.connection, "old").total_votes == 0


def test_the_tallies_a_vote_in_the_open_poll_replies_are_the_ones_read_after_it(db, poll):
    # The reply's counts follow from those read before the vote: new, unchanged and changed
    # votes among other voters' must each leave exactly what a fresh read shows.
    choices = [("v1", "1"), ("v2", "2"), ("v1", "1"), ("v3", "gamma"), ("v1", "beta"), ("v2", "1")]
    with db.transaction() as conn:
        for n, (voter, choice) in enumerate(choices):
            result = vote_in_open_poll(
                conn, creator_id="daniel", voter_key=voter, choice=choice, now=T0 + n
            )
            assert result.results == poll_results(conn, "p1")
    assert votes_by_label(result.results) == {"Alpha": 1, "Beta": 1, "Gamma": 1}
    assert result.results.total_votes == 3


def test_the_export_keeps_each_creators_newest_polls_and_any_still_open(db):
    from state.polls import POLLS_PER_CREATOR, list_polls_with_results

    kept = POLLS_PER_CREATOR
    with db.transaction() as conn:
        # An old poll nobody closed stays listed: the dashboard must still show it open.
        open_poll(conn, poll_id="d-old", creator_id="d", question="?", options=["a", "b"], now=T0)
        for n in range(kept + 5):
            for creator in ("d", "e"):
                poll_id = f"{creator}{n:03d}"
                open_poll(
                    conn,
                    poll_id=poll_id,
                    creator_id=creator,
                    question=f"Q{n}",
                    options=["a", "b"],
                    now=T0 + 10 * n + 1,
                )
                vote(conn, poll_id=poll_id, voter_key="v", option_id="1" if n % 2 else "2")
                close_poll(conn, poll_id=poll_id, now=T0 + 10 * n + 2)
    conn = db.connection
    rows = list_polls_with_results(conn, per_creator=kept)
    newest = [f"{c}{n:03d}" for n in range(kept + 4, 4, -1) for c in ("d", "e")]
    assert [r.poll.poll_id for r in rows] == [*newest, "d-old"]  # newest opened first
    everything = {r.poll.poll_id: r for r in list_polls(conn)}
    assert len(everything) == 2 * (kept + 5) + 1
    assert all(r == everything[r.poll.poll_id] for r in rows)  # the same results, votes too
    only_e = list_polls_with_results(conn, creators=["e"], per_creator=kept)
    assert only_e == [r for r in rows if r.poll.creator_id == "e"]
    assert list_polls_with_results(conn) == list_polls(conn)  # no cap: every poll
