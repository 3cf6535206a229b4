"""Loyalty points: one balance per creator, platform and viewer.

Viewers are identified by a pseudonymous key (the caller pseudonymizes the platform user id);
`login` and `display_name` are kept to find `!give @user` targets and to rank by name. A
balance never goes below zero: spending more than the balance raises `Refused` and changes
nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import apsw
import attrs
import orjson

from ._sql import IN_JSON_LIST, json_list, require_int, require_text, require_transaction
from .errors import Refused

__all__ = [
    "RANKED_COLUMNS",
    "RANKING_COLUMNS",
    "RANKING_SEPARATOR",
    "Balance",
    "Viewer",
    "add",
    "add_many",
    "add_many_in_turn",
    "balance_of",
    "decode_ranking",
    "find_by_login",
    "ranked_by_creator",
    "ranked_rows",
    "ranking_entries",
    "ranking_texts",
    "spend",
    "top",
    "top_rows_for_creators",
    "top_rows_per_creator",
    "transfer",
]


@attrs.frozen(slots=True, kw_only=True)
class Viewer:
    """Who holds a balance: platform, pseudonymous key, and the names chat knows them by."""

    platform: str
    viewer_key: str
    login: str
    display_name: str


@attrs.frozen(slots=True, kw_only=True)
class Balance:
    """A viewer's balance (0 for a viewer never seen)."""

    platform: str
    viewer_key: str
    login: str
    display_name: str
    balance: int
    updated_at: int


_COLUMNS = "platform, viewer_key, login, display_name, balance, updated_at"


def _balance(row: Sequence[Any]) -> Balance:
    return Balance(
        platform=row[0],
        viewer_key=row[1],
        login=row[2],
        display_name=row[3],
        balance=row[4],
        updated_at=row[5],
    )


def balance_of(conn: apsw.Connection, creator_id: str, viewer: Viewer) -> Balance:
    """The viewer's balance (0 when they have none yet)."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM points_balances "
        "WHERE creator_id = ? AND platform = ? AND viewer_key = ?",
        (creator_id, viewer.platform, viewer.viewer_key),
    ).fetchone()
    if row is None:
        return Balance(
            platform=viewer.platform,
            viewer_key=viewer.viewer_key,
            login=viewer.login,
            display_name=viewer.display_name,
            balance=0,
            updated_at=0,
        )
    return _balance(row)


def find_by_login(
    conn: apsw.Connection, creator_id: str, platform: str, login: str
) -> Balance | None:
    """The balance of the viewer known by `login` (case-insensitive) on `platform`."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM points_balances "
        "WHERE creator_id = ? AND platform = ? AND login = ? ORDER BY updated_at DESC LIMIT 1",
        (creator_id, platform, login.lower()),
    ).fetchone()
    return None if row is None else _balance(row)


_CREDIT = (
    "INSERT INTO points_balances (creator_id, platform, viewer_key, login, display_name, "
    "balance, earned_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (creator_id, platform, viewer_key) DO UPDATE SET "
    "balance = balance + excluded.balance, login = excluded.login, "
    "display_name = excluded.display_name, "
    "earned_at = coalesce(excluded.earned_at, earned_at), updated_at = excluded.updated_at"
)


def _check_amount(amount: int) -> None:
    require_int("amount", amount)
    if amount < 0:
        raise ValueError("add takes a non-negative amount; use spend")


def _credit_row(
    creator_id: str, viewer: Viewer, amount: int, now: int, earned: bool
) -> tuple[Any, ...]:
    require_text("creator_id", creator_id)
    _check_amount(amount)
    return (
        creator_id,
        viewer.platform,
        viewer.viewer_key,
        viewer.login.lower(),
        viewer.display_name,
        amount,
        now if earned else None,
        now,
    )


def add(
    conn: apsw.Connection,
    *,
    creator_id: str,
    viewer: Viewer,
    amount: int,
    now: int,
    earned: bool = False,
) -> Balance:
    """Add `amount` (>= 0) to the viewer's balance; `earned` also stamps `earned_at`."""
    require_transaction(conn)
    row = _credit_row(creator_id, viewer, amount, now, earned)
    # RETURNING: the balance after the change comes with it, no second query.
    rows = conn.execute(f"{_CREDIT} RETURNING {_COLUMNS}", row).fetchall()
    return _balance(rows[0])


#: A credit to a viewer whose names did not change: only the balance's columns are set, so
#: SQLite leaves the `points_by_login` index alone (the upsert sets every column, and an index
#: over a column that is set is rewritten even when the value stays the same).
_CREDIT_KNOWN = (
    "UPDATE points_balances SET balance = balance + ?, "
    "earned_at = coalesce(?, earned_at), updated_at = ? "
    "WHERE creator_id = ? AND platform = ? AND viewer_key = ? AND login = ? AND display_name = ?"
)
_KNOWN = (
    "SELECT 1 FROM points_balances WHERE creator_id = ? AND platform = ? AND viewer_key = ? "
    "AND login = ? AND display_name = ?"
)


#: One credit of `add_many`: the viewer, the amount, when (Unix ms), and whether it was
#: earned (it sets `earned_at`).
Credit = tuple[Viewer, int, int, bool]


def add_many(conn: apsw.Connection, creator_id: str, credits: Iterable[Credit]) -> int:
    """`add` each `(viewer, amount, now, earned)` in order, without reading the balances back
    (earnings queued by chat); returns how many credits were given.

    The credits of one viewer become one row change (the sum, with the names, `earned_at` and
    `updated_at` the last of them would leave), and a viewer whose names are unchanged gets an
    update of the balance alone: the rows end exactly as one `add` per credit leaves them."""
    (count,) = add_many_in_turn(conn, ((creator_id, credits),))
    return count


def add_many_in_turn(
    conn: apsw.Connection, grants: Iterable[tuple[str, Iterable[Credit]]]
) -> list[int]:
    """`add_many(conn, creator_id, credits)` of each `(creator_id, credits)` in turn, as one
    (one statement for every viewer credited); returns how many credits each gave.

    Everything is checked before anything is written. The rows end as the calls in turn
    leave them: a viewer's credits add up in one change (`add_many`), and the viewers new to
    the table are inserted in the order the calls in turn would have inserted them (their
    rowids too)."""
    require_transaction(conn)
    # Per viewer: [amount, earned_at, updated_at, the viewer as last named, creator].
    merged: dict[tuple[str, str, str], list[Any]] = {}
    counts = []
    for creator_id, credits in grants:
        require_text("creator_id", creator_id)
        count = 0
        for viewer, amount, now, earned in credits:
            if type(amount) is not int or amount < 0:
                _check_amount(amount)  # names the problem (a bool or a negative amount)
            count += 1
            key = (creator_id, viewer.platform, viewer.viewer_key)
            known = merged.get(key)
            if known is None:
                merged[key] = [amount, now if earned else None, now, viewer, creator_id]
            else:  # amounts summed, the names and times the later credit leaves
                known[0] += amount
                known[2], known[3] = now, viewer
                if earned:
                    known[1] = now
        counts.append(count)
    if not merged:
        return counts
    # The parameters of _CREDIT_KNOWN: (amount, earned_at, updated_at, *the key and names).
    updates = [
        (amount, earned, at, creator_id, v.platform, v.viewer_key, v.login.lower(), v.display_name)
        for amount, earned, at, v, creator_id in merged.values()
    ]
    before = conn.total_changes()
    conn.executemany(_CREDIT_KNOWN, updates)
    if conn.total_changes() - before < len(updates):
        # New viewers, or new names: the rows that do not hold these names now were not
        # updated (one row per viewer above, so no other credit can have changed them).
        missed = [
            (*u[3:], *u[:3]) for u in updates if conn.execute(_KNOWN, u[3:]).fetchone() is None
        ]
        conn.executemany(_CREDIT, missed)
    return counts


def spend(
    conn: apsw.Connection, *, creator_id: str, viewer: Viewer, amount: int, name: str, now: int
) -> Balance:
    """Take `amount` from the viewer's balance, or raise `Refused` (changing nothing) when the
    balance is short. `name` is the currency's name for the refusal."""
    require_transaction(conn)
    require_int("amount", amount)
    current = balance_of(conn, creator_id, viewer)
    if current.balance < amount:
        raise Refused(
            f"@{viewer.display_name or viewer.login}, that costs {amount} {name} "
            f"and you have {current.balance}."
        )
    # RETURNING: the balance after the change comes with it, no second query.
    rows = conn.execute(
        "UPDATE points_balances SET balance = balance - ?, updated_at = ? "
        f"WHERE creator_id = ? AND platform = ? AND viewer_key = ? RETURNING {_COLUMNS}",
        (amount, now, creator_id, viewer.platform, viewer.viewer_key),
    ).fetchall()
    # No row: a viewer never credited spent nothing (a free or zero cost), still at 0.
    return _balance(rows[0]) if rows else current


def transfer(
    conn: apsw.Connection,
    *,
    creator_id: str,
    giver: Viewer,
    receiver: Viewer,
    amount: int,
    name: str,
    now: int,
) -> tuple[Balance, Balance]:
    """Move `amount` from `giver` to `receiver` atomically (both or neither)."""
    if amount <= 0:
        raise Refused(f"Give at least 1 {name}.")
    if (giver.platform, giver.viewer_key) == (receiver.platform, receiver.viewer_key):
        raise Refused("You cannot give points to yourself.")
    left = spend(conn, creator_id=creator_id, viewer=giver, amount=amount, name=name, now=now)
    right = add(conn, creator_id=creator_id, viewer=receiver, amount=amount, now=now)
    return left, right


def top(conn: apsw.Connection, creator_id: str, limit: int) -> list[Balance]:
    """The highest balances (ties by display name, then platform), at most `limit`."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM points_balances WHERE creator_id = ? AND balance > 0 "
        "ORDER BY balance DESC, display_name, platform, viewer_key LIMIT ?",
        (creator_id, limit),
    )
    return [_balance(r) for r in rows]


def top_rows_for_creators(
    conn: apsw.Connection, creators: Sequence[str], limit: int
) -> list[tuple[Any, ...]]:
    """The `limit` highest positive balances of these creators as the database's rows,
    `(creator_id, platform, viewer_key, login, display_name, balance, updated_at)`.

    One query per creator: a range of the `points_ranked` index that stops after `limit`
    rows, whatever the number of viewers."""
    out: list[tuple[Any, ...]] = []
    for creator_id in creators:  # faster than one statement joining a correlated LIMIT
        out.extend(
            conn.execute(
                f"SELECT creator_id, {_COLUMNS} FROM points_balances "
                "WHERE creator_id = ? AND balance > 0 "
                "ORDER BY balance DESC, display_name, platform, viewer_key LIMIT ?",
                (creator_id, limit),
            )
        )
    return out


def _ranked_sql(columns: str, where: str = "") -> str:
    """The `limit` (the statement's last parameter) highest positive balances of every
    creator (passing `where`, which ends in AND), in `top`'s order, as `columns`."""
    return (
        f"SELECT {columns} FROM ("
        f"SELECT {columns}, row_number() OVER (PARTITION BY creator_id "
        "ORDER BY balance DESC, display_name, platform, viewer_key) AS position "
        f"FROM points_balances WHERE {where}balance > 0) WHERE position <= ? "
        "ORDER BY creator_id, position"
    )


def top_rows_per_creator(conn: apsw.Connection, limit: int) -> list[tuple[Any, ...]]:
    """Every creator's `limit` highest positive balances as the database's rows (in the
    shape of :func:`top_rows_for_creators`)."""
    return conn.execute(_ranked_sql(f"creator_id, {_COLUMNS}"), (limit,)).fetchall()


#: The columns of :func:`ranked_rows`: what a public ranking shows of a balance.
RANKED_COLUMNS = ("creator_id", "display_name", "platform", "balance", "updated_at")


def ranked_rows(
    conn: apsw.Connection, limit: int, *, creators: Sequence[str] | None = None
) -> list[tuple[Any, ...]]:
    """The `limit` highest positive balances of every creator (of `creators` only, when
    given) in `top`'s order, as rows of :data:`RANKED_COLUMNS`: :func:`ranked_by_creator`'s
    rankings one after the other, by creator id."""
    return [
        (creator, *row)
        for creator, ranking in ranked_by_creator(conn, limit, creators).items()
        for row in ranking
    ]


#: The columns of a row of :func:`ranked_by_creator` (the creator is the ranking's key).
RANKING_COLUMNS = RANKED_COLUMNS[1:]


def ranked_by_creator(
    conn: apsw.Connection, limit: int, creators: Sequence[str] | None = None
) -> dict[str, list[list[Any]]]:
    """Each creator's ranking (of `creators` only, when given; a creator without a positive
    balance has none), by creator id: its `limit` highest positive balances in `top`'s order,
    as rows (lists) of :data:`RANKING_COLUMNS`, for a reader that rereads many creators'
    rankings every second (:func:`ranking_texts`, each decoded by :func:`decode_ranking`)."""
    return {
        creator: decode_ranking(text, limit)
        for creator, text in ranking_texts(conn, creators).items()
    }


#: Between two entries of a ranking's text (:func:`ranking_texts`): a newline, which no JSON
#: text SQLite writes holds (it escapes control characters in strings), then a comma.
RANKING_SEPARATOR = "\n,"


def ranking_texts(conn: apsw.Connection, creators: Sequence[str] | None = None) -> dict[str, str]:
    """Each creator's whole ranking (of `creators` only, when given) as one text: the JSON
    texts of its entries (rows of :data:`RANKING_COLUMNS`, every positive balance in `top`'s
    order) joined by :data:`RANKING_SEPARATOR`. Two equal texts are the same ranking, and two
    equal entries' texts (:func:`ranking_entries`) the same row, so a reader can tell what
    changed without decoding (:func:`decode_ranking` decodes the top rows).

    One statement, and one row of it per creator: the ranking comes as one text (built by
    SQLite in the `points_ranked` index's order). Stepping through a row per balance cost
    more: each step hands the GIL over, and in a busy process taking it back waits behind the
    other threads. The rows past a reader's limit are dropped when decoding (numbering them
    in SQL reads every balance of a creator too).
    """
    ranking = (
        "SELECT creator_id, group_concat(json_array(display_name, platform, balance, "
        f"updated_at), '{RANKING_SEPARATOR}' ORDER BY balance DESC, display_name, platform, "
        "viewer_key) FROM points_balances WHERE {where}balance > 0 GROUP BY creator_id "
        "ORDER BY creator_id"
    )
    if creators is None:
        rows = conn.execute(ranking.format(where=""))
    else:
        rows = conn.execute(
            ranking.format(where=f"creator_id {IN_JSON_LIST} AND "), (json_list(creators),)
        )
    return dict(rows)


def ranking_entries(text: str, limit: int) -> list[str]:
    """The JSON texts of the `limit` first entries of a ranking's text (:func:`ranking_texts`),
    each the same text exactly when its row is the same."""
    return text.split(RANKING_SEPARATOR, limit)[:limit]


def decode_ranking(text: str, limit: int) -> list[list[Any]]:
    """The `limit` first rows (lists of :data:`RANKING_COLUMNS`) of a ranking's text
    (:func:`ranking_texts`)."""
    rows: list[list[Any]] = orjson.loads("[" + text + "]")
    return rows[:limit] if len(rows) > limit else rows
