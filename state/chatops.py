"""Timer posts and chat filter hits per creator: counts and times for rotation and exports."""

from __future__ import annotations

import apsw
import attrs

from ._sql import require_transaction

__all__ = [
    "FilterHits",
    "TimerPosts",
    "filter_hits",
    "record_filter_hit",
    "record_timer_post",
    "timer_posts",
]


@attrs.frozen(slots=True, kw_only=True)
class TimerPosts:
    """How often a timer posted, when last, and which message comes next."""

    creator_id: str
    timer_id: str
    posts: int
    next_message: int
    last_posted_at: int


@attrs.frozen(slots=True, kw_only=True)
class FilterHits:
    """How many messages a filter caught, and when it last did."""

    creator_id: str
    filter_id: str
    hits: int
    last_hit_at: int


def record_timer_post(
    conn: apsw.Connection, *, creator_id: str, timer_id: str, next_message: int, now: int
) -> None:
    """Count one post of a timer and remember the message to post next."""
    require_transaction(conn)
    conn.execute(
        "INSERT INTO timer_posts (creator_id, timer_id, posts, next_message, last_posted_at) "
        "VALUES (?, ?, 1, ?, ?) ON CONFLICT (creator_id, timer_id) DO UPDATE SET "
        "posts = posts + 1, next_message = excluded.next_message, "
        "last_posted_at = excluded.last_posted_at",
        (creator_id, timer_id, next_message, now),
    )


def record_filter_hit(conn: apsw.Connection, *, creator_id: str, filter_id: str, now: int) -> None:
    """Count one message caught by a filter."""
    require_transaction(conn)
    conn.execute(
        "INSERT INTO filter_hits (creator_id, filter_id, hits, last_hit_at) VALUES (?, ?, 1, ?) "
        "ON CONFLICT (creator_id, filter_id) DO UPDATE SET hits = hits + 1, "
        "last_hit_at = max(last_hit_at, excluded.last_hit_at)",
        (creator_id, filter_id, now),
    )


def timer_posts(conn: apsw.Connection, creator_id: str | None = None) -> list[TimerPosts]:
    """Every timer's post counts, by creator and timer."""
    sql = "SELECT creator_id, timer_id, posts, next_message, last_posted_at FROM timer_posts"
    params: tuple = ()
    if creator_id is not None:
        sql += " WHERE creator_id = ?"
        params = (creator_id,)
    return [
        TimerPosts(
            creator_id=r[0], timer_id=r[1], posts=r[2], next_message=r[3], last_posted_at=r[4]
        )
        for r in conn.execute(sql + " ORDER BY creator_id, timer_id", params)
    ]


def filter_hits(conn: apsw.Connection, creator_id: str | None = None) -> list[FilterHits]:
    """Every filter's hit counts, by creator and filter."""
    sql = "SELECT creator_id, filter_id, hits, last_hit_at FROM filter_hits"
    params: tuple = ()
    if creator_id is not None:
        sql += " WHERE creator_id = ?"
        params = (creator_id,)
    return [
        FilterHits(creator_id=r[0], filter_id=r[1], hits=r[2], last_hit_at=r[3])
        for r in conn.execute(sql + " ORDER BY creator_id, filter_id", params)
    ]
