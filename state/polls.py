"""Polls: open with options, vote (one changeable vote per voter), close, results.

Voters are identified by a pseudonymous ``voter_key`` chosen by the caller (never a raw
platform user id); exports only ever see aggregated counts. Option ids are the 1-based
positions as strings (``"1"``, ``"2"``, ...), which is what chat voters type.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import apsw
import attrs

from ._sql import (
    IN_JSON_LIST,
    json_list,
    newest_of_wanted,
    one_row,
    require_text,
    require_transaction,
    wanted_creators,
)
from .errors import InvalidArgument, PollClosed, RecordExists, RecordNotFound, Refused
from .timeutil import now_ms

__all__ = [
    "MAX_OPTIONS",
    "POLL_COLUMNS",
    "OptionTally",
    "Poll",
    "PollResults",
    "VoteResult",
    "close_poll",
    "get_poll",
    "list_polls",
    "list_polls_with_results",
    "newest_poll_rows",
    "open_poll",
    "poll_results",
    "resolve_option",
    "vote",
    "vote_in_open_poll",
    "with_results",
]

MAX_OPTIONS = 20

PollState = Literal["open", "closed"]
VoteOutcome = Literal["new", "changed", "unchanged"]


@attrs.frozen(slots=True, kw_only=True)
class Poll:
    """A poll row."""

    poll_id: str
    creator_id: str
    question: str
    state: PollState
    opened_at: int
    closed_at: int | None


@attrs.frozen(slots=True, kw_only=True)
class OptionTally:
    """One option with its current number of votes."""

    option_id: str
    label: str
    position: int
    votes: int


@attrs.frozen(slots=True, kw_only=True)
class PollResults:
    """A poll with aggregated votes per option (in option order)."""

    poll: Poll
    options: tuple[OptionTally, ...]
    total_votes: int


@attrs.frozen(slots=True, kw_only=True)
class VoteResult:
    """What a vote did, and the tallies right after it."""

    poll_id: str
    option_id: str
    outcome: VoteOutcome  # new vote, changed from another option, or same option again
    previous_option_id: str | None
    results: PollResults


_POLL_COLUMNS = "poll_id, creator_id, question, state, opened_at, closed_at"
#: The columns of a poll's row (:func:`newest_poll_rows`, :func:`with_results`).
POLL_COLUMNS = tuple(_POLL_COLUMNS.split(", "))
_POLL_COLUMNS_OF_P = ", ".join(f"p.{c}" for c in _POLL_COLUMNS.split(", "))


def _poll(row: tuple) -> Poll:
    return Poll(
        poll_id=row[0],
        creator_id=row[1],
        question=row[2],
        state=row[3],
        opened_at=row[4],
        closed_at=row[5],
    )


def get_poll(conn: apsw.Connection, poll_id: str) -> Poll:
    """Return the poll or raise :class:`RecordNotFound`."""
    row = conn.execute(
        f"SELECT {_POLL_COLUMNS} FROM polls WHERE poll_id = ?", (poll_id,)
    ).fetchone()
    if row is None:
        raise RecordNotFound(f"poll {poll_id!r} does not exist")
    return _poll(row)


def open_poll(
    conn: apsw.Connection,
    *,
    poll_id: str | None = None,
    creator_id: str,
    question: str,
    options: Sequence[str],
    now: int | None = None,
) -> PollResults:
    """Open a new poll with 2..``MAX_OPTIONS`` distinct option labels.

    Without ``poll_id`` the poll gets the creator's next ``<creator_id>-<n>`` (counted in the
    database, never from the clock: the same history gives the same ids). Raises
    :class:`RecordExists` when ``poll_id`` is taken (open or closed).
    """
    require_transaction(conn)
    require_text("creator_id", creator_id)
    poll_id = _next_poll_id(conn, creator_id) if poll_id is None else poll_id
    require_text("poll_id", poll_id)
    require_text("question", question)
    labels = [require_text("option label", label) for label in options]
    if not 2 <= len(labels) <= MAX_OPTIONS:
        raise InvalidArgument(f"a poll needs 2..{MAX_OPTIONS} options, got {len(labels)}")
    if len({label.casefold() for label in labels}) != len(labels):
        raise InvalidArgument("poll option labels must be distinct (ignoring case)")
    if conn.execute("SELECT 1 FROM polls WHERE poll_id = ?", (poll_id,)).fetchone():
        raise RecordExists(f"poll {poll_id!r} already exists")
    at = now_ms() if now is None else now
    conn.execute(
        f"INSERT INTO polls ({_POLL_COLUMNS}) VALUES (?, ?, ?, 'open', ?, NULL)",
        (poll_id, creator_id, question, at),
    )
    conn.executemany(
        "INSERT INTO poll_options (poll_id, option_id, label, position) VALUES (?, ?, ?, ?)",
        [(poll_id, str(i), label, i) for i, label in enumerate(labels, start=1)],
    )
    return poll_results(conn, poll_id)


def _next_poll_id(conn: apsw.Connection, creator_id: str) -> str:
    (count,) = one_row(
        conn.execute("SELECT count(*) FROM polls WHERE creator_id = ?", (creator_id,))
    )
    number = int(count) + 1
    while conn.execute(
        "SELECT 1 FROM polls WHERE poll_id = ?", (f"{creator_id}-{number}",)
    ).fetchone():
        number += 1
    return f"{creator_id}-{number}"


def resolve_option(conn: apsw.Connection, poll_id: str, text: str) -> str | None:
    """Map what a voter typed (an option id or a label, any case) to an option id."""
    rows: list[tuple[Any, ...]] = conn.execute(
        "SELECT option_id, label FROM poll_options WHERE poll_id = ? ORDER BY position",
        (poll_id,),
    ).fetchall()
    return _match_option(rows, text)


def _match_option(rows: Sequence[tuple[Any, ...]], text: str) -> str | None:
    """`resolve_option` over the poll's `(option_id, label)` rows, in position order."""
    wanted = text.strip()
    for option_id, _label in rows:
        if wanted == option_id:
            return str(option_id)
    folded = wanted.casefold()
    for option_id, label in rows:
        if folded == str(label).casefold():
            return str(option_id)
    return None


def vote(
    conn: apsw.Connection,
    *,
    poll_id: str,
    voter_key: str,
    option_id: str,
    now: int | None = None,
) -> VoteResult:
    """Record or change ``voter_key``'s vote; a voter always counts exactly once.

    Raises :class:`RecordNotFound` (unknown poll), :class:`PollClosed`, or
    :class:`InvalidArgument` (unknown option).
    """
    require_transaction(conn)
    require_text("voter_key", voter_key)
    poll = get_poll(conn, poll_id)
    if poll.state != "open":
        raise PollClosed(poll_id, "vote")
    if not conn.execute(
        "SELECT 1 FROM poll_options WHERE poll_id = ? AND option_id = ?", (poll_id, option_id)
    ).fetchone():
        raise InvalidArgument(f"poll {poll_id!r} has no option {option_id!r}")
    return _cast(conn, poll, voter_key, option_id, now_ms() if now is None else now)


def vote_in_open_poll(
    conn: apsw.Connection, *, creator_id: str, voter_key: str, choice: str, now: int
) -> VoteResult:
    """`voter_key` votes `choice` (what they typed: an option id or a label, any case) in the
    creator's open poll (the newest opened, if several): `vote` after finding the poll and the
    option, reading the poll, its options with their counts and the voter's previous vote in
    three small queries (the tallies after the vote follow from those, no query after it).

    Raises :class:`Refused` (an `InvalidArgument`: a sentence for the chat) when no poll is
    open or no option matches.
    """
    require_transaction(conn)
    require_text("voter_key", voter_key)
    # Every open poll of the creator (one, normally): no sort in SQL. Two simple statements
    # cost less than one joining polls to their options.
    found: list[tuple[Any, ...]] = conn.execute(
        f"SELECT {_POLL_COLUMNS} FROM polls WHERE creator_id = ? AND state = 'open'",
        (creator_id,),
    ).fetchall()
    if not found:
        raise Refused("There is no open poll.")
    # The newest opened (ties: the smallest id), as `open_poll_ids` orders them.
    poll = _poll(min(found, key=lambda r: (-r[4], r[0])))
    options: list[tuple[Any, ...]] = conn.execute(
        "SELECT o.option_id, o.label, o.position, (SELECT count(*) FROM poll_votes v "
        "WHERE v.poll_id = o.poll_id AND v.option_id = o.option_id) "
        "FROM poll_options o WHERE o.poll_id = ?",
        (poll.poll_id,),
    ).fetchall()
    options.sort(key=lambda o: o[2])
    option_id = _match_option([o[:2] for o in options], choice)
    if option_id is None:
        raise Refused(f"There is no option {choice!r} in this poll.")
    return _cast(conn, poll, voter_key, option_id, now, options)


def _cast(
    conn: apsw.Connection,
    poll: Poll,
    voter_key: str,
    option_id: str,
    at: int,
    counted: Sequence[tuple[Any, ...]] | None = None,
) -> VoteResult:
    """Record the vote in `poll` (open, with that option) and tell the tallies after it.

    `counted`: the poll's `(option_id, label, position, votes)` rows in position order, read
    in this transaction before the vote; the tallies after it are then these moved by the
    vote, otherwise they are read after it."""
    poll_id = poll.poll_id
    row = conn.execute(
        "SELECT option_id FROM poll_votes WHERE poll_id = ? AND voter_key = ?",
        (poll_id, voter_key),
    ).fetchone()
    previous = None if row is None else str(row[0])
    outcome: VoteOutcome
    if previous is None:
        outcome = "new"
        conn.execute(
            "INSERT INTO poll_votes (poll_id, voter_key, option_id, voted_at) VALUES (?, ?, ?, ?)",
            (poll_id, voter_key, option_id, at),
        )
    elif previous != option_id:
        outcome = "changed"
        conn.execute(
            "UPDATE poll_votes SET option_id = ?, voted_at = ? WHERE poll_id = ? AND voter_key = ?",
            (option_id, at, poll_id, voter_key),
        )
    else:
        outcome = "unchanged"  # same option again: keep the original voted_at
    if counted is None:
        results = _results(conn, poll)
    else:
        tallies = tuple(
            OptionTally(
                option_id=oid,
                label=label,
                position=position,
                votes=votes + (oid == option_id) - (oid == previous),
            )
            for oid, label, position, votes in counted
        )
        results = PollResults(poll=poll, options=tallies, total_votes=sum(t.votes for t in tallies))
    return VoteResult(
        poll_id=poll_id,
        option_id=option_id,
        outcome=outcome,
        previous_option_id=previous,
        results=results,
    )


def close_poll(conn: apsw.Connection, *, poll_id: str, now: int | None = None) -> PollResults:
    """Close an open poll and return its final results (:class:`PollClosed` if closed)."""
    require_transaction(conn)
    poll = get_poll(conn, poll_id)
    if poll.state != "open":
        raise PollClosed(poll_id, "closed")
    at = now_ms() if now is None else now
    # closed_at never precedes opened_at, even with a skewed caller clock.
    conn.execute(
        "UPDATE polls SET state = 'closed', closed_at = max(?, opened_at) WHERE poll_id = ?",
        (at, poll_id),
    )
    return poll_results(conn, poll_id)


def poll_results(conn: apsw.Connection, poll_id: str) -> PollResults:
    """The poll with vote counts per option (options in position order)."""
    return _results(conn, get_poll(conn, poll_id))


def _results(conn: apsw.Connection, poll: Poll) -> PollResults:
    """`poll_results` of a poll already read."""
    poll_id = poll.poll_id
    options: list[tuple[Any, ...]] = conn.execute(
        "SELECT option_id, label, position FROM poll_options WHERE poll_id = ? ORDER BY position",
        (poll_id,),
    ).fetchall()
    # Counted through the (poll_id, option_id) index alone: no join, no sort.
    counted: list[tuple[Any, ...]] = conn.execute(
        "SELECT option_id, count(*) FROM poll_votes WHERE poll_id = ? GROUP BY option_id",
        (poll_id,),
    ).fetchall()
    votes: dict[Any, int] = {option_id: int(n) for option_id, n in counted}
    tallies = tuple(
        OptionTally(
            option_id=option_id, label=label, position=position, votes=votes.get(option_id, 0)
        )
        for option_id, label, position in options
    )
    return PollResults(poll=poll, options=tallies, total_votes=sum(votes.values()))


def open_poll_ids(conn: apsw.Connection, creator_id: str) -> list[str]:
    """The creator's open polls, newest opened first (ids only: a vote needs no results)."""
    rows = conn.execute(
        "SELECT poll_id FROM polls WHERE creator_id = ? AND state = 'open' "
        "ORDER BY opened_at DESC, poll_id",
        (creator_id,),
    )
    return [row[0] for row in rows]


def list_polls(
    conn: apsw.Connection,
    *,
    creator_id: str | None = None,
    state: PollState | None = None,
) -> list[PollResults]:
    """Polls with results, newest opened first (ties by ``poll_id``), for exports."""
    sql = f"SELECT {_POLL_COLUMNS} FROM polls WHERE 1 = 1"
    params: list[object] = []
    if creator_id is not None:
        sql += " AND creator_id = ?"
        params.append(creator_id)
    if state is not None:
        sql += " AND state = ?"
        params.append(state)
    sql += " ORDER BY opened_at DESC, poll_id"
    polls = [_poll(r) for r in conn.execute(sql, params).fetchall()]
    return [poll_results(conn, p.poll_id) for p in polls]


#: Polls per creator in the export: the newest, and any still open. A creator who runs a poll
#: every few minutes would otherwise make every read of their polls (and the file, and the
#: publisher's memory of it) grow for as long as they stream. Ten, not more: the whole file is
#: written again when any creator's poll changes (a vote), at about 1.2 ms of CPU per MB, and
#: the publisher keeps each poll's encoded bytes; at 1,000 creators twenty each made it 20 MB.
POLLS_PER_CREATOR = 10


def list_polls_with_results(
    conn: apsw.Connection,
    *,
    creator_id: str | None = None,
    state: PollState | None = None,
    creators: Sequence[str] | None = None,
    per_creator: int | None = None,
) -> list[PollResults]:
    """Exactly what :func:`list_polls` returns, in two queries instead of one per poll (and
    with `creators`, the polls of those creators; with `per_creator`, only each creator's
    newest `per_creator` polls and those still open).

    The publisher reads a creator's polls on each publish that names it; with thousands of
    polls the per-poll round trips dominated the read.
    """
    if per_creator is not None and creator_id is None and state is None:
        rows = newest_poll_rows(conn, creators, per_creator)
        rows.sort(key=_newest_first)
        return with_results(conn, rows)
    where = " WHERE 1 = 1"
    params: list[object] = []
    if creator_id is not None:
        where += " AND creator_id = ?"
        params.append(creator_id)
    if creators is not None:
        where += f" AND creator_id {IN_JSON_LIST}"
        params.append(json_list(creators))
    if state is not None:
        where += " AND state = ?"
        params.append(state)
    if per_creator is None:
        sql = f"SELECT {_POLL_COLUMNS} FROM polls{where} ORDER BY opened_at DESC, poll_id"
    else:
        sql = (
            f"SELECT {_POLL_COLUMNS} FROM (SELECT *, row_number() OVER (PARTITION BY "
            f"creator_id ORDER BY opened_at DESC, poll_id) AS newest FROM polls{where}) "
            "WHERE newest <= ? OR state = 'open' ORDER BY opened_at DESC, poll_id"
        )
        params.append(per_creator)
    return with_results(conn, conn.execute(sql, params).fetchall())


def _newest_first(row: tuple[Any, ...]) -> tuple[int, str]:
    """`ORDER BY opened_at DESC, poll_id` of a row of `POLL_COLUMNS` (ids compare as SQLite
    compares them: UTF-8 bytes sort as their code points)."""
    return (-row[4], row[0])


_POLL_COLUMNS_OF_POLLS = ", ".join(f"polls.{c}" for c in _POLL_COLUMNS.split(", "))


def newest_poll_rows(
    conn: apsw.Connection, creators: Sequence[str] | None, per_creator: int
) -> list[tuple[Any, ...]]:
    """Each creator's newest `per_creator` polls (of `creators`, or of every creator) and those
    still open, as rows of :data:`POLL_COLUMNS`, one creator after another (by id), each
    creator's newest opened first (ties by ``poll_id``): the polls
    :func:`list_polls_with_results` lists with `per_creator`, without their results
    (:func:`with_results`). Read by the `polls_newest` index, a creator's newest polls cost
    the same however many it ran before; rows, not objects: a reader that keeps the polls
    that can no longer change (closed) compares them as they come."""
    wanted, params = wanted_creators("polls", creators)
    return conn.execute(
        f"{wanted} {newest_of_wanted('polls', _POLL_COLUMNS_OF_POLLS, 'opened_at DESC, poll_id')} "
        f"UNION SELECT {_POLL_COLUMNS_OF_POLLS} FROM wanted JOIN polls "
        "ON polls.creator_id = wanted.creator_id AND polls.state = 'open' "
        "ORDER BY 2, 5 DESC, 1",  # creator_id, opened_at DESC, poll_id
        (*params, per_creator),
    ).fetchall()


def with_results(conn: apsw.Connection, rows: Sequence[tuple[Any, ...]]) -> list[PollResults]:
    """The polls of `rows` (of :data:`POLL_COLUMNS`, in their order) with their votes per
    option, in one query for them all."""
    if not rows:
        return []
    polls = list(map(_poll, rows))
    # Same aggregation as poll_results(), for every selected poll at once.
    options: dict[str, list[OptionTally]] = {p.poll_id: [] for p in polls}
    counted = conn.execute(
        "SELECT o.poll_id, o.option_id, o.label, o.position, count(v.voter_key) "
        "FROM poll_options o LEFT JOIN poll_votes v "
        "  ON v.poll_id = o.poll_id AND v.option_id = o.option_id "
        f"WHERE o.poll_id {IN_JSON_LIST} "
        "GROUP BY o.poll_id, o.option_id ORDER BY o.poll_id, o.position",
        (json_list(options),),
    )
    for poll_id, option_id, label, position, votes in counted:
        bucket = options.get(poll_id)
        if bucket is not None:
            bucket.append(
                OptionTally(option_id=option_id, label=label, position=position, votes=votes)
            )
    out = []
    for p in polls:
        tallies = tuple(options[p.poll_id])
        out.append(PollResults(poll=p, options=tallies, total_votes=sum(o.votes for o in tallies)))
    return out
