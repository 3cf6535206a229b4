"""Giveaways: open, entries (one per viewer, weighted by tickets), draws and rerolls, close.

A giveaway lives in the database from `open` to `close`, so it survives restarts and may span
several streams. The draw picks among the entries not drawn before (a second draw is a
reroll), each entry's chance proportional to its tickets; the random number comes from the
caller's `pick(total)`, which returns an integer in `[0, total)` (`secrets.randbelow` live).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import apsw
import attrs

from ._sql import (
    IN_JSON_LIST,
    json_list,
    newest_of_wanted,
    require_text,
    require_transaction,
    wanted_creators,
)
from .errors import Refused

__all__ = [
    "GIVEAWAY_COLUMNS",
    "Entry",
    "Giveaway",
    "Summary",
    "close_giveaway",
    "current_giveaway",
    "draw",
    "entries",
    "join",
    "list_giveaways",
    "newest_giveaway_rows",
    "open_giveaway",
    "pick_weighted",
    "settled",
    "summaries",
    "summarize",
]


@attrs.frozen(slots=True, kw_only=True)
class Giveaway:
    """One giveaway and its settings."""

    giveaway_id: str
    creator_id: str
    prize: str
    state: str
    entry_cost: int
    subscribers_only: bool
    subscriber_tickets: int
    opened_at: int
    closed_at: int | None
    updated_at: int


@attrs.frozen(slots=True, kw_only=True)
class Entry:
    """A viewer's entry; `drawn` is the number of the draw that picked it (None: not drawn)."""

    platform: str
    viewer_key: str
    display_name: str
    tickets: int
    joined_at: int
    drawn: int | None
    drawn_at: int | None


_GIVEAWAY = (
    "giveaway_id, creator_id, prize, state, entry_cost, subscribers_only, subscriber_tickets, "
    "opened_at, closed_at, updated_at"
)
_ENTRY = "platform, viewer_key, display_name, tickets, joined_at, drawn, drawn_at"


def _giveaway(row: tuple) -> Giveaway:
    return Giveaway(
        giveaway_id=row[0],
        creator_id=row[1],
        prize=row[2],
        state=row[3],
        entry_cost=row[4],
        subscribers_only=bool(row[5]),
        subscriber_tickets=row[6],
        opened_at=row[7],
        closed_at=row[8],
        updated_at=row[9],
    )


def _entry(row: tuple) -> Entry:
    return Entry(
        platform=row[0],
        viewer_key=row[1],
        display_name=row[2],
        tickets=row[3],
        joined_at=row[4],
        drawn=row[5],
        drawn_at=row[6],
    )


def current_giveaway(conn: apsw.Connection, creator_id: str) -> Giveaway | None:
    """The creator's open giveaway, else the newest closed one, else None."""
    # One range of the (creator_id, state, opened_at) index per state, from its newest end:
    # ordering by `state = 'open'` would read and sort the creator's whole history.
    for state in ("open", "closed"):
        row = conn.execute(_CURRENT, (creator_id, state)).fetchone()
        if row is not None:
            return _giveaway(row)
    return None


_CURRENT = (
    f"SELECT {_GIVEAWAY} FROM giveaways WHERE creator_id = ? AND state = ? "
    "ORDER BY opened_at DESC, giveaway_id DESC LIMIT 1"
)


def _open(conn: apsw.Connection, creator_id: str) -> Giveaway:
    current = current_giveaway(conn, creator_id)
    if current is None or current.state != "open":
        raise Refused("There is no open giveaway.")
    return current


def open_giveaway(
    conn: apsw.Connection,
    *,
    giveaway_id: str,
    creator_id: str,
    prize: str,
    entry_cost: int,
    subscribers_only: bool,
    subscriber_tickets: int,
    now: int,
) -> Giveaway:
    """Open a giveaway; refused while another is open (close it first)."""
    require_transaction(conn)
    require_text("prize", prize)
    current = current_giveaway(conn, creator_id)
    if current is not None and current.state == "open":
        raise Refused(f"The giveaway for {current.prize} is still open: close it first.")
    conn.execute(
        f"INSERT INTO giveaways ({_GIVEAWAY}) VALUES (?, ?, ?, 'open', ?, ?, ?, ?, NULL, ?)",
        (
            giveaway_id,
            creator_id,
            prize,
            entry_cost,
            int(subscribers_only),
            subscriber_tickets,
            now,
            now,
        ),
    )
    result = current_giveaway(conn, creator_id)
    assert result is not None
    return result


def join(
    conn: apsw.Connection,
    *,
    creator_id: str,
    platform: str,
    viewer_key: str,
    display_name: str,
    subscriber: bool,
    now: int,
    before_entering: Callable[[Giveaway], object] | None = None,
) -> tuple[Giveaway, Entry]:
    """Enter the open giveaway once; refused for a second entry or a non-subscriber in a
    subscribers-only giveaway. The entry cost is the caller's to charge (same transaction):
    `before_entering(giveaway)` runs once the entry is allowed and before anything is written,
    so a payment it refuses leaves nothing to undo (in a store batch, a command that fails
    after changing rows makes the whole batch run again, each command in a savepoint)."""
    require_transaction(conn)
    giveaway = _open(conn, creator_id)
    if giveaway.subscribers_only and not subscriber:
        raise Refused(f"@{display_name}, this giveaway is for subscribers only.")
    tickets = giveaway.subscriber_tickets if subscriber else 1
    exists = conn.execute(
        "SELECT 1 FROM giveaway_entries WHERE giveaway_id = ? AND platform = ? AND viewer_key = ?",
        (giveaway.giveaway_id, platform, viewer_key),
    ).fetchone()
    if exists:
        raise Refused(f"@{display_name}, you are already in the giveaway.")
    if before_entering is not None:
        before_entering(giveaway)
    conn.execute(
        f"INSERT INTO giveaway_entries ({_ENTRY}, giveaway_id) "
        "VALUES (?, ?, ?, ?, ?, NULL, NULL, ?)",
        (platform, viewer_key, display_name, tickets, now, giveaway.giveaway_id),
    )
    conn.execute(
        "UPDATE giveaways SET updated_at = ? WHERE giveaway_id = ?", (now, giveaway.giveaway_id)
    )
    entry = Entry(
        platform=platform,
        viewer_key=viewer_key,
        display_name=display_name,
        tickets=tickets,
        joined_at=now,
        drawn=None,
        drawn_at=None,
    )
    return giveaway, entry


def entries(conn: apsw.Connection, giveaway_id: str) -> list[Entry]:
    """A giveaway's entries in a stable order (joined time, platform, key)."""
    rows = conn.execute(
        f"SELECT {_ENTRY} FROM giveaway_entries WHERE giveaway_id = ? "
        "ORDER BY joined_at, platform, viewer_key",
        (giveaway_id,),
    )
    return [_entry(r) for r in rows]


def pick_weighted(candidates: list[Entry], pick: Callable[[int], int]) -> Entry:
    """The entry whose ticket range holds `pick(total tickets)`: chance proportional to tickets."""
    total = sum(e.tickets for e in candidates)
    ticket = pick(total)
    if not 0 <= ticket < total:
        raise ValueError(f"pick({total}) gave {ticket}, outside [0, {total})")
    for entry in candidates:
        if ticket < entry.tickets:
            return entry
        ticket -= entry.tickets
    raise AssertionError("unreachable: the tickets add up to total")


def draw(
    conn: apsw.Connection,
    *,
    creator_id: str,
    pick: Callable[[int], int] | None = None,
    now: int,
    seeded: bool = False,
) -> tuple[Giveaway, Entry, int]:
    """Draw a winner of the current giveaway (open, or the newest closed one) among the entries
    not drawn before; returns the giveaway, the winner and the draw's number (2+ is a reroll).

    `seeded` draws take the number from `random.Random` seeded with the giveaway id and the
    count of entries drawn before plus one (the same history gives the same winner); others
    from `pick`."""
    require_transaction(conn)
    giveaway = current_giveaway(conn, creator_id)
    if giveaway is None:
        raise Refused("There is no giveaway to draw.")
    everyone = entries(conn, giveaway.giveaway_id)
    candidates = [e for e in everyone if e.drawn is None]
    if not candidates:
        raise Refused(
            "Nobody has entered the giveaway yet."
            if not everyone
            else "Everyone in the giveaway has been drawn."
        )
    if seeded:
        drawn_before = len(everyone) - len(candidates)
        pick = random.Random(f"{giveaway.giveaway_id}:{drawn_before + 1}").randrange
    elif pick is None:
        raise TypeError("draw needs `pick` unless it is seeded")
    winner = pick_weighted(candidates, pick)
    number = 1 + max((e.drawn for e in everyone if e.drawn is not None), default=0)
    conn.execute(
        "UPDATE giveaway_entries SET drawn = ?, drawn_at = ? "
        "WHERE giveaway_id = ? AND platform = ? AND viewer_key = ?",
        (number, now, giveaway.giveaway_id, winner.platform, winner.viewer_key),
    )
    conn.execute(
        "UPDATE giveaways SET updated_at = ? WHERE giveaway_id = ?", (now, giveaway.giveaway_id)
    )
    return giveaway, attrs.evolve(winner, drawn=number, drawn_at=now), number


def close_giveaway(conn: apsw.Connection, *, creator_id: str, now: int) -> Giveaway:
    """Close the open giveaway (no more entries; its winners stay)."""
    require_transaction(conn)
    giveaway = _open(conn, creator_id)
    conn.execute(
        "UPDATE giveaways SET state = 'closed', closed_at = ?, updated_at = ? "
        "WHERE giveaway_id = ?",
        (now, now, giveaway.giveaway_id),
    )
    return attrs.evolve(giveaway, state="closed", closed_at=now, updated_at=now)


def list_giveaways(
    conn: apsw.Connection,
    creator_id: str | None = None,
    *,
    creators: Sequence[str] | None = None,
) -> list[Giveaway]:
    """Every giveaway (of `creator_id`, or of `creators`), by creator and opening time."""
    sql = f"SELECT {_GIVEAWAY} FROM giveaways"
    params: tuple = ()
    if creators is not None:
        sql += f" WHERE creator_id {IN_JSON_LIST}"
        params = (json_list(creators),)
    elif creator_id is not None:
        sql += " WHERE creator_id = ?"
        params = (creator_id,)
    rows = conn.execute(sql + " ORDER BY creator_id, opened_at, giveaway_id", params)
    return [_giveaway(r) for r in rows]


@attrs.frozen(slots=True, kw_only=True)
class Summary:
    """A giveaway with its entrant and ticket counts and its drawn entries (by draw)."""

    giveaway: Giveaway
    entrants: int
    tickets: int
    winners: tuple[Entry, ...]


#: Giveaways per creator in the export: the newest. A creator who runs one an hour would
#: otherwise make every read of their giveaways (and the file) grow for as long as they stream.
#: Ten, not more: the whole file is written again when any creator's giveaway changes, at
#: about 1.2 ms of CPU per MB, and at 1,000 creators twenty each made it an 11 MB file.
SUMMARIES_PER_CREATOR = 10


def summaries(conn: apsw.Connection, creators: Sequence[str] | None = None) -> list[Summary]:
    """The newest `SUMMARIES_PER_CREATOR` giveaways of every creator (of `creators` only, when
    given) with their counts and winners (for the export), by creator and opening time."""
    return summarize(conn, newest_giveaway_rows(conn, creators))


_GIVEAWAY_OF_GIVEAWAYS = ", ".join(f"giveaways.{c}" for c in _GIVEAWAY.split(", "))
#: The columns of a giveaway's row (:func:`newest_giveaway_rows`, :func:`summarize`).
GIVEAWAY_COLUMNS = tuple(_GIVEAWAY.split(", "))
_STATE = GIVEAWAY_COLUMNS.index("state")


def newest_giveaway_rows(
    conn: apsw.Connection, creators: Sequence[str] | None = None
) -> list[tuple[Any, ...]]:
    """The giveaways :func:`summaries` lists (in its order: by creator, opening time and id),
    as rows of :data:`GIVEAWAY_COLUMNS`, without their counts and winners (:func:`summarize`).
    Read by the `giveaways_newest` index, a creator's newest giveaways cost the same however
    many it ran before; rows, not objects: a reader that keeps the giveaways that can no
    longer change (:func:`settled`) compares them as they come."""
    wanted, params = wanted_creators("giveaways", creators)
    newest = newest_of_wanted(
        "giveaways", _GIVEAWAY_OF_GIVEAWAYS, "opened_at DESC, giveaway_id DESC"
    )
    return conn.execute(
        f"{wanted} {newest} ORDER BY giveaways.creator_id, giveaways.opened_at, "
        "giveaways.giveaway_id",
        (*params, SUMMARIES_PER_CREATOR),
    ).fetchall()


def settled(rows: Sequence[tuple[Any, ...]]) -> list[bool]:
    """Which of one creator's giveaways (rows of :func:`newest_giveaway_rows`, in its order)
    no entry, draw or close can reach as long as the others stay as they are: the closed ones,
    but the newest closed one while none is open. Entries and closes need the open giveaway,
    and a draw the current one (the open one, else the newest closed). A closed giveaway with
    a newer closed one is never reached again; the newest closed one is reached again only
    once the open one closed (a change to its row)."""
    if any(row[_STATE] == "open" for row in rows):
        return [row[_STATE] == "closed" for row in rows]
    out = [False] * len(rows)
    newer_closed = False
    for index in range(len(rows) - 1, -1, -1):  # newest first
        closed = rows[index][_STATE] == "closed"
        out[index] = closed and newer_closed
        newer_closed = newer_closed or closed
    return out


def summarize(conn: apsw.Connection, rows: Sequence[tuple[Any, ...]]) -> list[Summary]:
    """The giveaways of `rows` (of :data:`GIVEAWAY_COLUMNS`, in their order) with their counts
    and winners."""
    if not rows:
        return []
    kept = list(map(_giveaway, rows))
    # Entries carry no creator: only the kept giveaways' entries (by the entries' index).
    ids = (json_list(g.giveaway_id for g in kept),)
    counts = {
        r[0]: (r[1], r[2])
        for r in conn.execute(
            "SELECT giveaway_id, count(*), sum(tickets) FROM giveaway_entries "
            f"WHERE giveaway_id {IN_JSON_LIST} GROUP BY giveaway_id",
            ids,
        )
    }
    drawn: dict[str, list[Entry]] = {}
    for row in conn.execute(
        f"SELECT giveaway_id, {_ENTRY} FROM giveaway_entries WHERE giveaway_id {IN_JSON_LIST} "
        "AND drawn IS NOT NULL ORDER BY giveaway_id, drawn",
        ids,
    ):
        drawn.setdefault(row[0], []).append(_entry(row[1:]))
    out = []
    for giveaway in kept:
        entrants, tickets = counts.get(giveaway.giveaway_id, (0, 0))
        out.append(
            Summary(
                giveaway=giveaway,
                entrants=entrants,
                tickets=tickets or 0,
                winners=tuple(drawn.get(giveaway.giveaway_id, ())),
            )
        )
    return out
