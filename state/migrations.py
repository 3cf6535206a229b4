"""Schema migrations, applied in order by ``PRAGMA user_version``.

Rules (keep them when adding a migration):

* Append only. A released migration is never edited, reordered or removed: databases in the
  field already ran it. Fix mistakes with a new migration.
* Each migration runs in one ``BEGIN IMMEDIATE`` transaction together with the
  ``user_version`` bump, so a crash leaves the database at the previous version or the next,
  never in between.
* Timestamps are ``INTEGER`` Unix milliseconds UTC (see :mod:`state.timeutil`); ids are
  ``TEXT``. Tables are ``STRICT`` so a wrong type is an error instead of silently stored.
* ``creator_id`` columns deliberately have no foreign key to ``creators``: creators come from
  the configuration and may disappear from it while their history must stay.
"""

from __future__ import annotations

from collections.abc import Sequence

import apsw
import attrs

from ._sql import one_row
from .errors import DatabaseTooNew, MigrationFailed

__all__ = ["LATEST_VERSION", "MIGRATIONS", "Migration", "migrate", "schema_dump", "user_version"]


@attrs.frozen(slots=True, kw_only=True)
class Migration:
    """One schema step: ``sql`` moves the database from ``version - 1`` to ``version``."""

    version: int
    name: str
    sql: str


_CORE = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE creators (
    creator_id   TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE polls (
    poll_id    TEXT PRIMARY KEY,
    creator_id TEXT NOT NULL,
    question   TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('open', 'closed')),
    opened_at  INTEGER NOT NULL,
    closed_at  INTEGER,
    CHECK ((state = 'open') = (closed_at IS NULL))
) STRICT;
CREATE INDEX polls_by_creator ON polls (creator_id, state);

CREATE TABLE poll_options (
    poll_id   TEXT NOT NULL REFERENCES polls (poll_id) ON DELETE CASCADE,
    option_id TEXT NOT NULL,
    label     TEXT NOT NULL,
    position  INTEGER NOT NULL,
    PRIMARY KEY (poll_id, option_id),
    UNIQUE (poll_id, position)
) STRICT, WITHOUT ROWID;

-- One row per (poll, voter): changing a vote updates the row, so a voter counts once.
CREATE TABLE poll_votes (
    poll_id   TEXT NOT NULL,
    voter_key TEXT NOT NULL,
    option_id TEXT NOT NULL,
    voted_at  INTEGER NOT NULL,
    PRIMARY KEY (poll_id, voter_key),
    FOREIGN KEY (poll_id, option_id)
        REFERENCES poll_options (poll_id, option_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX poll_votes_by_option ON poll_votes (poll_id, option_id);

CREATE TABLE tallies (
    creator_id TEXT NOT NULL,
    tally_id   TEXT NOT NULL,
    label      TEXT NOT NULL,
    count      INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (creator_id, tally_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE scoreboards (
    creator_id    TEXT NOT NULL,
    scoreboard_id TEXT NOT NULL,
    title         TEXT NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (creator_id, scoreboard_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE scoreboard_entries (
    creator_id    TEXT NOT NULL,
    scoreboard_id TEXT NOT NULL,
    label         TEXT NOT NULL,
    score         INTEGER NOT NULL DEFAULT 0,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (creator_id, scoreboard_id, label),
    FOREIGN KEY (creator_id, scoreboard_id)
        REFERENCES scoreboards (creator_id, scoreboard_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX scoreboard_entries_ranked
    ON scoreboard_entries (creator_id, scoreboard_id, score DESC, label);
"""

_RUNTIME = """
-- Durable trigger cooldowns: scope is an opaque key chosen by the trigger engine,
-- e.g. 'creator:daniel/trigger:hello/user:ab12'.
CREATE TABLE cooldowns (
    scope      TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX cooldowns_by_expiry ON cooldowns (expires_at);

-- Bounded ring of recent normalized signals; pruned to the newest N rows per kind.
CREATE TABLE signals (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL CHECK (kind IN ('chat', 'poll_vote', 'tally', 'score')),
    creator_id TEXT NOT NULL,
    timestamp  INTEGER NOT NULL,
    entity_id  TEXT NOT NULL,
    type       TEXT NOT NULL,
    source     TEXT NOT NULL,
    summary    TEXT NOT NULL
) STRICT;
CREATE INDEX signals_by_kind ON signals (kind, id);

-- API units used per creator x platform x reset window ('day' is the window key).
CREATE TABLE quota_usage (
    creator_id TEXT NOT NULL,
    platform   TEXT NOT NULL,
    day        TEXT NOT NULL,
    used       INTEGER NOT NULL DEFAULT 0 CHECK (used >= 0),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (creator_id, platform, day)
) STRICT, WITHOUT ROWID;
"""

_CLIPS = """
-- The clip as users see it (exported to clips.json).
CREATE TABLE clips (
    clip_id                 TEXT PRIMARY KEY CHECK (length(clip_id) = 6),
    creator_id              TEXT NOT NULL,
    title                   TEXT NOT NULL,
    platform                TEXT NOT NULL,
    state                   TEXT NOT NULL CHECK (state IN
        ('queued', 'encoding', 'encoded', 'uploading', 'published', 'failed')),
    duration_seconds        REAL NOT NULL CHECK (duration_seconds > 0),
    requested_by            TEXT NOT NULL,
    progress                REAL NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    destination_platform    TEXT,
    destination_channel_url TEXT,
    output_path             TEXT,
    url                     TEXT,
    thumbnail_url           TEXT,
    last_error              TEXT,
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL
) STRICT;
CREATE INDEX clips_by_state ON clips (state, created_at);
CREATE INDEX clips_by_creator ON clips (creator_id, created_at);

-- What the encoder needs to (re)run the job after a restart.
CREATE TABLE clip_jobs (
    clip_id        TEXT PRIMARY KEY REFERENCES clips (clip_id) ON DELETE CASCADE,
    source         TEXT NOT NULL,
    offset_seconds REAL NOT NULL DEFAULT 0,
    params         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(params)),
    attempts       INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE clip_state_history (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    clip_id    TEXT NOT NULL REFERENCES clips (clip_id) ON DELETE CASCADE,
    from_state TEXT,
    to_state   TEXT NOT NULL,
    at         INTEGER NOT NULL,
    detail     TEXT
) STRICT;
CREATE INDEX clip_state_history_by_clip ON clip_state_history (clip_id, id);
"""

_OUTBOX = """
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    dedupe_key      TEXT NOT NULL UNIQUE,
    destination     TEXT NOT NULL,
    payload         TEXT NOT NULL CHECK (json_valid(payload)),
    state           TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX outbox_due ON outbox (state, next_attempt_at, id);
"""

_STREAMS = """
CREATE TABLE stream_sessions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    platform     TEXT NOT NULL,
    channel      TEXT NOT NULL,
    started_at   INTEGER NOT NULL,
    ended_at     INTEGER,
    title        TEXT,
    game         TEXT,
    peak_viewers INTEGER NOT NULL DEFAULT 0,
    updated_at   INTEGER NOT NULL
) STRICT;
-- At most one live (not ended) session per channel.
CREATE UNIQUE INDEX stream_sessions_live
    ON stream_sessions (platform, channel) WHERE ended_at IS NULL;
CREATE INDEX stream_sessions_by_channel ON stream_sessions (platform, channel, started_at);

-- Chat message ids already processed, to drop replays after a reconnect; pruned by age.
CREATE TABLE chat_seen (
    platform   TEXT NOT NULL,
    message_id TEXT NOT NULL,
    seen_at    INTEGER NOT NULL,
    PRIMARY KEY (platform, message_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX chat_seen_by_age ON chat_seen (seen_at);
"""

# Seen message ids, kept per scope (a creator id, or the live monitor's "watch") so a restart
# restores just its own recent ids through an index instead of scanning everyone's; the
# creator used to be a "<creator_id>:" prefix of `message_id` (creator ids are slugs, no ':').
_SEEN = """
CREATE TABLE seen_messages (
    scope      TEXT NOT NULL,
    platform   TEXT NOT NULL,
    message_id TEXT NOT NULL,
    seen_at    INTEGER NOT NULL,
    PRIMARY KEY (scope, platform, message_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX seen_messages_by_age ON seen_messages (scope, seen_at);
INSERT INTO seen_messages (scope, platform, message_id, seen_at)
    SELECT substr(message_id, 1, instr(message_id, ':') - 1), platform,
           substr(message_id, instr(message_id, ':') + 1), seen_at
    FROM chat_seen WHERE instr(message_id, ':') > 1;
DROP TABLE chat_seen;
"""

_FEATURES = """
-- Loyalty points: one balance per creator, platform and viewer (a pseudonymous key, never the
-- platform's user id). `login` finds `!give @user` targets; `earned_at` paces per-message earning.
CREATE TABLE points_balances (
    creator_id   TEXT NOT NULL,
    platform     TEXT NOT NULL,
    viewer_key   TEXT NOT NULL,
    login        TEXT NOT NULL,
    display_name TEXT NOT NULL,
    balance      INTEGER NOT NULL CHECK (balance >= 0),
    earned_at    INTEGER,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (creator_id, platform, viewer_key)
) STRICT;
CREATE INDEX points_by_login ON points_balances (creator_id, platform, login);
CREATE INDEX points_top ON points_balances (creator_id, balance DESC);

-- Quotes, numbered per creator; a deleted quote keeps its number (never renumbered).
CREATE TABLE quotes (
    creator_id TEXT NOT NULL,
    number     INTEGER NOT NULL CHECK (number > 0),
    text       TEXT NOT NULL,
    added_by   TEXT NOT NULL,
    platform   TEXT NOT NULL,
    added_at   INTEGER NOT NULL,
    deleted_at INTEGER,
    PRIMARY KEY (creator_id, number)
) STRICT;

CREATE TABLE giveaways (
    giveaway_id        TEXT PRIMARY KEY,
    creator_id         TEXT NOT NULL,
    prize              TEXT NOT NULL,
    state              TEXT NOT NULL CHECK (state IN ('open', 'closed')),
    entry_cost         INTEGER NOT NULL DEFAULT 0 CHECK (entry_cost >= 0),
    subscribers_only   INTEGER NOT NULL DEFAULT 0,
    subscriber_tickets INTEGER NOT NULL DEFAULT 1 CHECK (subscriber_tickets >= 1),
    opened_at          INTEGER NOT NULL,
    closed_at          INTEGER,
    updated_at         INTEGER NOT NULL
) STRICT;
CREATE INDEX giveaways_by_creator ON giveaways (creator_id, state, opened_at);

CREATE TABLE giveaway_entries (
    giveaway_id  TEXT NOT NULL REFERENCES giveaways (giveaway_id),
    platform     TEXT NOT NULL,
    viewer_key   TEXT NOT NULL,
    display_name TEXT NOT NULL,
    tickets      INTEGER NOT NULL CHECK (tickets >= 1),
    joined_at    INTEGER NOT NULL,
    drawn        INTEGER,  -- the draw number that picked this entry (1 = first, 2 = reroll...)
    drawn_at     INTEGER,
    PRIMARY KEY (giveaway_id, platform, viewer_key)
) STRICT;

-- Timer posts and filter hits per creator, for rotation across restarts and the exports.
CREATE TABLE timer_posts (
    creator_id     TEXT NOT NULL,
    timer_id       TEXT NOT NULL,
    posts          INTEGER NOT NULL,
    next_message   INTEGER NOT NULL,
    last_posted_at INTEGER NOT NULL,
    PRIMARY KEY (creator_id, timer_id)
) STRICT;
CREATE TABLE filter_hits (
    creator_id  TEXT NOT NULL,
    filter_id   TEXT NOT NULL,
    hits        INTEGER NOT NULL,
    last_hit_at INTEGER NOT NULL,
    PRIMARY KEY (creator_id, filter_id)
) STRICT;
"""

_RANKED_POINTS = """
-- A creator's top balances in the order the leaderboards (and points.json) rank them, so
-- reading one creator's top N is an index range read that stops after N rows (the old index
-- ordered by balance alone, and ties were sorted after reading every row of the creator).
CREATE INDEX points_ranked ON points_balances
    (creator_id, balance DESC, display_name, platform, viewer_key) WHERE balance > 0;
DROP INDEX points_top;
"""

# Cheaper writes per chat message. Seen message ids in the order they were seen within each
# scope: a new id goes to the end of its scope's range (one page per scope written per commit),
# not to a random place among the scope's ids plus the end of an age index (two pages, the
# first scattered). Readers want the
# newest ids of a scope, and pruning the oldest: both are ranges of this key. A lookup by id
# scans its scope's range; only rare paths do that (the trigger engine dedupes in memory).
_CHEAPER_WRITES = """
CREATE TABLE seen_messages_by_time (
    scope      TEXT NOT NULL,
    seen_at    INTEGER NOT NULL,
    platform   TEXT NOT NULL,
    message_id TEXT NOT NULL,
    PRIMARY KEY (scope, seen_at, platform, message_id)
) STRICT, WITHOUT ROWID;
INSERT INTO seen_messages_by_time (scope, seen_at, platform, message_id)
    SELECT scope, seen_at, platform, message_id FROM seen_messages;
DROP TABLE seen_messages;
ALTER TABLE seen_messages_by_time RENAME TO seen_messages;

-- The signals ring without AUTOINCREMENT (which updates sqlite_sequence on every append): a
-- new row still gets an id above every id ever given, since the ring never deletes the newest
-- row of a kind, so the table's largest id is never freed; ids are kept as they were.
CREATE TABLE signals_ring (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('chat', 'poll_vote', 'tally', 'score')),
    creator_id TEXT NOT NULL,
    timestamp  INTEGER NOT NULL,
    entity_id  TEXT NOT NULL,
    type       TEXT NOT NULL,
    source     TEXT NOT NULL,
    summary    TEXT NOT NULL
) STRICT;
INSERT INTO signals_ring (id, kind, creator_id, timestamp, entity_id, type, source, summary)
    SELECT id, kind, creator_id, timestamp, entity_id, type, source, summary FROM signals;
DROP TABLE signals;
ALTER TABLE signals_ring RENAME TO signals;
CREATE INDEX signals_by_kind ON signals (kind, id);
"""

# Cheaper writes per chat message, again.
# Cooldowns: the engine sets a cooldown's expiry at every use, and the index by expiry made each
# of those three B-tree changes instead of one. Its only readers were the expired-cooldown prune
# (which no running code calls: a scan of the table without it) and the start read of a
# creator's running cooldowns, which reads the key range of the creator's scopes instead.
# Signals: a chat signal is appended per chat message and pruned later, and its entry in the
# index by kind doubled both. Chat signals are most of the ring, so its newest chat rows are the
# newest rows of the table (read by id from the end, no index); only the rarer kinds keep one.
_CHEAPER_RING = """
DROP INDEX cooldowns_by_expiry;
DROP INDEX signals_by_kind;
CREATE INDEX signals_of_rare_kinds ON signals (kind, id)
    WHERE kind = 'poll_vote' OR kind = 'tally' OR kind = 'score';
"""

# The rankings' read (`loyalty.ranking_texts`, points.json's every publish) takes each entry's
# `updated_at` too: with it in the index the read never visits the table (a row lookup per
# balance before: about a third of that read's time at 1,000 creators). A balance's update
# changes its entry anyway, so writes cost the same.
_COVERED_RANKING = """
DROP INDEX points_ranked;
CREATE INDEX points_ranked ON points_balances
    (creator_id, balance DESC, display_name, platform, viewer_key, updated_at) WHERE balance > 0;
"""

# Seen ids marked since the last fold, in the order marked (`state.seen`): appending one
# writes the table's last page, which every scope's new ids share, where an insert into
# `seen_messages` wrote a page of the scope's own (one page per creator that chatted, per
# commit). Prunes asked with a marking wait for the fold, which moves the journal's ids into
# `seen_messages` (the ids already there stay where they are).
_SEEN_JOURNAL = """
CREATE TABLE seen_journal (
    scope      TEXT NOT NULL,
    platform   TEXT NOT NULL,
    message_id TEXT NOT NULL,
    seen_at    INTEGER NOT NULL
) STRICT;
CREATE TABLE seen_prune_requests (
    scope      TEXT PRIMARY KEY,
    older_than INTEGER NOT NULL,
    keep_last  INTEGER
) STRICT, WITHOUT ROWID;
"""

# The exports list each creator's newest polls (and any open) and newest giveaways: with these
# indexes a creator's newest N are an index range read that stops after N rows, whatever the
# length of the creator's history (a window over every poll or giveaway of the creator before,
# which grew for as long as the creator streamed). Neither column changes after the row is
# written, so votes, entries, draws and closes do not touch them.
_NEWEST_FIRST = """
CREATE INDEX polls_newest ON polls (creator_id, opened_at DESC, poll_id);
CREATE INDEX giveaways_newest ON giveaways (creator_id, opened_at DESC, giveaway_id DESC);
"""

# The signals ring's check of the kind as comparisons: SQLite runs `kind IN (four values)` by
# building a temporary table of the values, for every row appended (a chat signal per chat
# message): about 2 us of a 3 us append, measured; the same check with `=` and `OR` costs a
# tenth of it. Ids are kept as they were (a new row's id is one above the largest).
_SIGNAL_KIND_COMPARED = """
CREATE TABLE signals_compared (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL
               CHECK (kind = 'chat' OR kind = 'poll_vote' OR kind = 'tally' OR kind = 'score'),
    creator_id TEXT NOT NULL,
    timestamp  INTEGER NOT NULL,
    entity_id  TEXT NOT NULL,
    type       TEXT NOT NULL,
    source     TEXT NOT NULL,
    summary    TEXT NOT NULL
) STRICT;
INSERT INTO signals_compared (id, kind, creator_id, timestamp, entity_id, type, source, summary)
    SELECT id, kind, creator_id, timestamp, entity_id, type, source, summary FROM signals;
DROP TABLE signals;
ALTER TABLE signals_compared RENAME TO signals;
CREATE INDEX signals_of_rare_kinds ON signals (kind, id)
    WHERE kind = 'poll_vote' OR kind = 'tally' OR kind = 'score';
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(version=1, name="core: meta, creators, polls, tallies, scoreboards", sql=_CORE),
    Migration(version=2, name="runtime: cooldowns, signals, quota usage", sql=_RUNTIME),
    Migration(version=3, name="clips: clips, clip jobs, state history", sql=_CLIPS),
    Migration(version=4, name="notification outbox", sql=_OUTBOX),
    Migration(version=5, name="stream sessions and chat dedupe", sql=_STREAMS),
    Migration(version=6, name="seen message ids kept per creator or scope", sql=_SEEN),
    Migration(version=7, name="points, quotes, giveaways, timer posts, filter hits", sql=_FEATURES),
    Migration(version=8, name="points ranked per creator for top-N reads", sql=_RANKED_POINTS),
    Migration(
        version=9,
        name="seen ids kept in the order seen, signals without autoincrement",
        sql=_CHEAPER_WRITES,
    ),
    Migration(
        version=10,
        name="cooldowns without an index by expiry, chat signals without an index by kind",
        sql=_CHEAPER_RING,
    ),
    Migration(version=11, name="points rankings read from their index alone", sql=_COVERED_RANKING),
    Migration(
        version=12, name="seen ids journaled, folded per scope now and then", sql=_SEEN_JOURNAL
    ),
    Migration(
        version=13, name="each creator's newest polls and giveaways by index", sql=_NEWEST_FIRST
    ),
    Migration(version=14, name="signal kinds checked by comparisons", sql=_SIGNAL_KIND_COMPARED),
)

LATEST_VERSION: int = MIGRATIONS[-1].version


def _check_sequence(migrations: Sequence[Migration]) -> None:
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise AssertionError(f"migration versions must be 1..n, got {migration.version}")


_check_sequence(MIGRATIONS)


def user_version(conn: apsw.Connection) -> int:
    """Return the schema version recorded in the database header."""
    return int(one_row(conn.execute("PRAGMA user_version"))[0])


def migrate(
    conn: apsw.Connection,
    *,
    path: str = "",
    target: int | None = None,
    migrations: Sequence[Migration] = MIGRATIONS,
) -> list[int]:
    """Apply every migration above the current ``user_version`` up to ``target``.

    Returns the versions applied (empty when already current, so reopening is a no-op).
    Raises :class:`DatabaseTooNew` for a version above the newest known migration and
    :class:`MigrationFailed` (after rolling that migration back) when a step fails.
    """
    newest = migrations[-1].version if migrations else 0
    goal = newest if target is None else target
    if not 0 <= goal <= newest:
        raise ValueError(f"target version {goal} outside 0..{newest}")
    applied: list[int] = []
    for migration in migrations:
        if migration.version > goal:
            break
        # IMMEDIATE takes the write lock first, so the version check below cannot race with
        # another process migrating the same file.
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = user_version(conn)
            if current > newest:
                raise DatabaseTooNew(path, current, newest)
            if current >= migration.version:
                conn.execute("ROLLBACK")
                continue
            conn.execute(migration.sql)
            # PRAGMA takes no bound parameters; the value is an int we control.
            conn.execute(f"PRAGMA user_version = {int(migration.version)}")
            conn.execute("COMMIT")
        except apsw.Error as exc:
            _rollback_quietly(conn)
            raise MigrationFailed(
                f"migration {migration.version} ({migration.name}) failed on "
                f"{path or 'database'}: {exc}; rolled back, data unchanged"
            ) from exc
        except BaseException:
            _rollback_quietly(conn)
            raise
        applied.append(migration.version)
    return applied


def _rollback_quietly(conn: apsw.Connection) -> None:
    if not conn.get_autocommit():
        conn.execute("ROLLBACK")


def schema_dump(conn: apsw.Connection) -> list[tuple[str, str, str, str]]:
    """The schema as sorted ``(type, name, tbl_name, sql)`` rows, for comparisons in tests."""
    rows = conn.execute(
        "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_schema ORDER BY type, name"
    ).fetchall()
    return [(str(a), str(b), str(c), str(d)) for a, b, c, d in rows]
