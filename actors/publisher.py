"""`SnapshotPublisher`: turns the state into the export files.

It publishes when told something changed and at least every `heartbeat_seconds`, so
`runtime_snapshot.json` always shows a fresh heartbeat. Changes are coalesced: publishes start
at least `min_interval_seconds` apart, so under a steady flow of changes (a thousand chatting
creators) each dirty file is rebuilt at most once per interval, whatever the message rate. A
database file bigger than one interval's worth of `FILE_BYTES_PER_SECOND` is rewritten at most
once per the seconds its size is worth: polls.json with ten polls for each of 1,000 creators is
10 MB, and rewriting it for every second of votes cost 8 % of the CPU per chat message; its
vote counts then trail the store by about 5 s instead of 1 (a file of at most one interval's
worth is never held; every file is written at a full publish and at the stop). Reads use
the publisher's own read-only connection; building is pure; reading, building, serialising and
writing (with fsync) run in a worker thread, so a big publish never stalls the event loop.

Publishing is incremental. Files fall in three groups:

- database files (`DB_FILES`): rebuilt only when dirty. The store's `Changed(topic)` marks the
  files of that topic (`TOPIC_FILES`; an unknown topic marks them all), and only the tables
  those files need are read. The files made of per-creator parts (`PARTED_FILES`: points,
  polls, tallies, scoreboards, quotes, giveaways) keep each creator's part, encoded
  (`exports.fragments`): a publish rereads only the creators its `Changed.creators` named
  (all of them when a `Changed` did not say, after a full publish, and when the data version
  shows a commit came without its `Changed`), rebuilds the parts of those whose rows differ
  from the last read (compared by a digest of each row: the rows themselves are not kept),
  and splices every part's bytes into the document. Below the creator,
  a row read again unchanged keeps its bytes: a tally, a poll, a scoreboard its parts. Files
  whose parts sort by creator first (tallies, scoreboards, giveaways) keep a creator's rows as
  one run of bytes per array, not a part per row (`_RunShare`). Rows that can no longer change
  are read whole once (`Settling`): a creator's newest polls and giveaways are read as their
  own rows by an index that stops at the newest ten, and only the open or reachable ones
  (not a closed poll, not a giveaway no draw can reach) have their votes, entries and winners
  read again. quotes.json keeps each creator's quotes as one run of bytes and reads only the
  quotes added since (a quote never changes; a deletion rereads the creator). A
  creator's points.json ranking is read as one text (from the `points_ranked` index); a
  digest of it and of each entry listed (not the text) is kept beside its item's bytes: of a
  ranking that changed, only the entries whose row changed at their position are decoded and
  encoded again (all of them in one decoder and one encoder call). The signal files keep
  the signals they list with their bytes: a publish reads the ids it lists now and only the
  signals newer than those it has. `last_reads` says how many creators and rows each such
  file read;
- tree files (`TREE_FILES`): made from the actors' snapshots, whose counters move with every
  message; rebuilt at the heartbeat, and between heartbeats only when a topic marks one of
  them (`quotas`; `tree` when an actor or a connection changed state). Walking the tree costs
  in proportion to the number of actors, so a database change alone does not. One whose
  inputs did not change keeps its previous bytes. The long ones (the actor tree in
  runtime_snapshot.json, chat_triggers.json, creators.json) are put together from the bytes
  of their rows (`exports.rowsplice.RowCache`): the collection hands in, per creator, the very
  view objects of last time for rows that did not change, so a heartbeat writes only the rows
  of the creators whose actors moved;
- static files (everything else): built from inputs the publisher does not have yet, so they
  only change with the clock-independent context; written by full publishes.

A full publish (at start, `PublishNow`, after a failed write of a static file) rebuilds
everything with `build_all`. Every `full_refresh_seconds` a refresh reads every database file
again for every creator, through the kept parts (a row read unchanged keeps its bytes): it
catches a lost `Changed` without holding every document at once (a whole rebuild at 1,000
creators held about 50 MB of short-lived objects, which the allocator kept afterwards).

Every file written holds the bytes a full publish would write for the same state and clock (a
file held back holds those of its last write until its hold ends): a
file whose inputs carry a time later than the clock (clamped, so it depends on the clock) stays
dirty, and a heartbeat that finds the
database changed since the last read (`PRAGMA data_version`: a commit came without a
`Changed`) rebuilds every database file. A `Changed` lost while other files were read (the
store drops it when this mailbox is full) is caught by the periodic refresh.
"""

from __future__ import annotations

import itertools
import math
import operator
import time
from array import array
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import apsw
import attrs
import orjson
import structlog
import trio

from actors import (
    Actor,
    ActorFailed,
    ActorRef,
    ActorStatistics,
    Detail,
    ErrorsReported,
    SnapshotFailed,
    TreeRow,
)
from actors.accounts.actor import AccountHealth
from actors.chat_statistics import PolledChatStatistics
from actors.clips.views import clip_views, job_views
from actors.connection import ConnectionHealth, ConnectionState
from actors.discord.statistics import DiscordBotStatistics
from actors.notify.rules import job_view as notify_job_view
from actors.quotas.registry import QuotaRegistryStatistics
from actors.ratelimit import bucket_view
from actors.replay.actor import ReplayStatistics
from actors.store import Changed, Read
from actors.triggers.engine import TriggerEngineStatistics
from actors.twitch.statistics import EventSubStatistics
from config.models import CreatorConfig, TriggerConfig
from exports.builders import (
    DEFAULT_SIGNAL_LIMIT,
    PARTED_FILES,
    POINTS_TOP,
    SIGNAL_FILES,
    DocumentParts,
    ExportInputs,
    build_all,
    build_chat_events,
    build_clips,
    build_discord_runtime,
    build_integrations,
    build_jobs,
    build_poll_votes,
    build_quotas,
    build_rate_limits,
    build_score_events,
    build_tally_events,
    build_telemetry_errors,
    build_telemetry_events,
    build_telemetry_rates,
    chat_triggers_parts,
    creators_parts,
    export_timestamp,
    points_creator,
    points_entry,
    runtime_snapshot_parts,
    signal_parts,
)
from exports.files import FILES, ExportContext
from exports.fragments import (
    ITEM_INDENT,
    EncodedPart,
    LazyPaths,
    assemble,
    encode_items,
    encode_parts,
    join_items,
    join_objects,
    object_piece,
    split_items,
    split_objects,
)
from exports.health import (
    ComponentHealth,
    RateWindow,
    components,
    platform_rows,
    reporting_rows,
    telemetry_errors,
    telemetry_events,
)
from exports.publish import ExportWriter, FileOutcome, Mirror, PublishResult
from exports.rowsplice import RowCache, RowGroups, latest_moment
from exports.scrub import certainly_clean
from exports.views import (
    ActorStatus,
    ClipView,
    CreatorView,
    DiscordView,
    ErrorView,
    FilterView,
    GiveawayView,
    GiveawayWinner,
    GuildView,
    IntegrationView,
    JobView,
    PlatformStatus,
    PointsView,
    PollOption,
    PollView,
    QuotaView,
    QuoteView,
    RateLimitView,
    RateMetric,
    ReplayView,
    RuntimeView,
    ScoreboardView,
    ScoreEntry,
    SignalRow,
    TallyView,
    TelemetryEvent,
    TimerView,
    TriggerView,
)
from state import clips, counters, giveaways, loyalty, outbox, polls, quotes, signals
from state.database import plan_once
from state.timeutil import from_datetime, to_datetime


@attrs.frozen(kw_only=True)
class PublishNow:
    """Publish at once; the reply is a `PublishSummary`."""


@attrs.frozen(kw_only=True)
class PublishSummary:
    """What one publish did."""

    written: int
    skipped: int
    errors: int
    seconds: float


@attrs.frozen(kw_only=True, slots=True)
class PublisherStatistics(ActorStatistics):
    """What the publisher shows of itself in the tree: its publishes so far, and what the
    last one did."""

    publishes: int
    full_publishes: int
    #: Periodic rereads of every database file (`full_refresh_seconds`).
    refreshes: int
    #: Dirty files publishes held back so far (`FILE_BYTES_PER_SECOND`).
    holds: int
    #: The files the last publish held back.
    held: tuple[str, ...]
    #: What the last publish did (None before the first).
    last: PublishSummary | None
    #: The files the last publish rebuilt.
    last_rebuilt: tuple[str, ...]
    #: What the last publish read for each file made of parts, by file.
    last_reads: Mapping[str, FileReads]
    last_published_at: datetime | None


@attrs.frozen(kw_only=True)
class StoreData:
    """Everything the publisher reads from the database for one publish."""

    polls: tuple[PollView, ...]
    tallies: tuple[TallyView, ...]
    scoreboards: tuple[ScoreboardView, ...]
    chat_events: tuple[SignalRow, ...]
    poll_votes: tuple[SignalRow, ...]
    tally_events: tuple[SignalRow, ...]
    score_events: tuple[SignalRow, ...]
    clips: tuple[ClipView, ...] = ()
    jobs: tuple[JobView, ...] = ()
    points: tuple[PointsView, ...] = ()
    quotes: tuple[QuoteView, ...] = ()
    giveaways: tuple[GiveawayView, ...] = ()


#: Most clips and jobs a file lists (newest first).
JOB_LIMIT = 500

#: The bytes a database file may write per second: a dirty file whose last write was bigger
#: than `min_interval_seconds` of these is held back until its size's worth of seconds passed
#: (see the module's docstring).
FILE_BYTES_PER_SECOND = 2 * 1024 * 1024

#: Files made from database rows: rebuilt only when a topic marks them dirty.
DB_FILES: frozenset[str] = frozenset(
    {
        "polls.json",
        "tallies.json",
        "scoreboards.json",
        "chat_events.json",
        "poll_votes.json",
        "tally_events.json",
        "score_events.json",
        "clips.json",
        "jobs.json",
        "points.json",
        "quotes.json",
        "giveaways.json",
    }
)
#: Files made from the actors' snapshots: rebuilt at the heartbeat (or when a topic marks one).
TREE_FILES: frozenset[str] = frozenset(
    {
        "runtime_snapshot.json",
        "quotas.json",
        "rate_limits.json",
        "chat_triggers.json",
        "creators.json",
        "discord/runtime.json",
        "integrations.json",
        "telemetry/events.json",
        "telemetry/errors.json",
        "telemetry/rates.json",
    }
)
_TELEMETRY = ("telemetry/events.json", "telemetry/errors.json", "telemetry/rates.json")

#: The span the telemetry's rates are averaged over (per minute over the last hour).
RATES_WINDOW = "3600s"

#: Files whose inputs the publisher does not collect yet: written by full publishes only.
STATIC_FILES: frozenset[str] = frozenset(f.path for f in FILES) - DB_FILES - TREE_FILES

_SIGNAL_KINDS = {
    "chat_events.json": "chat",
    "poll_votes.json": "poll_vote",
    "tally_events.json": "tally",
    "score_events.json": "score",
}
_SIGNAL_FILES = frozenset(_SIGNAL_KINDS)
_POINTS = "points.json"
_QUOTES = "quotes.json"
_CLOCK_FREE = operator.attrgetter("clock_free")
_TRIGGER_ID = operator.attrgetter("trigger_id")
_LAST_FIRED_AT = operator.attrgetter("last_fired_at")
_TIMER_KEY = operator.attrgetter("creator_id", "timer_id")
_TIMER_SHOWN = operator.attrgetter("posts", "last_posted_at")
_FILTER_KEY = operator.attrgetter("creator_id", "filter_id")
_FILTER_SHOWN = operator.attrgetter("hits", "last_hit_at")
# Where a row of a points ranking (`loyalty.ranked_by_creator`) holds its time.
_AT = loyalty.RANKING_COLUMNS.index("updated_at")
_UPDATED_AT = operator.itemgetter(_AT)

#: The database files each store topic can change. A topic's writes may append signals in the
#: same transaction, hence the signal file beside each entity file. Topics of tables no export
#: reads yet map to nothing (their `Changed` still republishes the tree files); a topic missing
#: here (and the store's default "state") marks every database file.
TOPIC_FILES: Mapping[str, frozenset[str]] = {
    "polls": frozenset({"polls.json", "poll_votes.json"}),
    "tallies": frozenset({"tallies.json", "tally_events.json"}),
    "scoreboards": frozenset({"scoreboards.json", "score_events.json"}),
    "signals": _SIGNAL_FILES,
    "cooldowns": frozenset(),  # last_fired_at comes from the trigger engines' snapshots
    "quotas": frozenset({"quotas.json"}),  # from the quota registry's snapshot
    "clips": frozenset({"clips.json", "jobs.json"}),
    "streams": frozenset(),
    "outbox": frozenset({"jobs.json"}),  # notification deliveries are jobs too
    "chat_seen": frozenset(),
    "replay": frozenset(),  # where chat log replays stand
    # Not a table: an actor or a connection changed state (started, failed, reconnecting).
    "tree": frozenset({"runtime_snapshot.json", "creators.json", "discord/runtime.json"}),
    "points": frozenset({"points.json"}),
    "quotes": frozenset({"quotes.json"}),
    "giveaways": frozenset({"giveaways.json", "points.json"}),  # entry costs are points
    "activity": _SIGNAL_FILES | {"points.json"},  # chat signals with the points they earned
    "reads": frozenset(),  # commands that only read, in order with the writes
}


def files_for_topic(topic: str) -> frozenset[str]:
    """The database files a `Changed(topic)` makes dirty (all of them for an unknown topic).

    A write of several kinds of change names them joined by "+" (`"tallies+points"`)."""
    if "+" in topic:
        return frozenset().union(*(TOPIC_FILES.get(t, DB_FILES) for t in topic.split("+")))
    return TOPIC_FILES.get(topic, DB_FILES)


def data_version(conn: apsw.Connection) -> int:
    """SQLite's counter of commits made by other connections (see `PRAGMA data_version`)."""
    row = conn.execute("PRAGMA data_version").fetchone()
    assert row is not None
    return int(row[0])


def _poll_view(r: polls.PollResults, names: Mapping[str, str]) -> PollView:
    return PollView(
        poll_id=r.poll.poll_id,
        creator_id=r.poll.creator_id,
        question=r.poll.question,
        state=r.poll.state,
        opened_at=to_datetime(r.poll.opened_at),
        closed_at=to_datetime(r.poll.closed_at) if r.poll.closed_at else None,
        options=tuple(
            PollOption(option_id=o.option_id, label=o.label, votes=o.votes, position=o.position)
            for o in r.options
        ),
        creator_name=names.get(r.poll.creator_id),
        updated_at=to_datetime(getattr(r, "updated_at", None) or r.poll.opened_at),
    )


def _tally_view(t: counters.Tally, names: Mapping[str, str]) -> TallyView:
    return TallyView(
        tally_id=t.tally_id,
        creator_id=t.creator_id,
        label=t.label,
        count=t.count,
        updated_at=to_datetime(t.updated_at),
        creator_name=names.get(t.creator_id),
    )


def _points_view(row: tuple[Any, ...], names: Mapping[str, str]) -> PointsView:
    """A row of `loyalty.ranked_rows`."""
    creator_id, display_name, platform, balance, updated_at = row
    return PointsView(
        creator_id=creator_id,
        platform=platform,
        display_name=display_name,
        balance=balance,
        updated_at=to_datetime(updated_at),
        creator_name=names.get(creator_id),
    )


def _quote_view(q: quotes.Quote, names: Mapping[str, str]) -> QuoteView:
    return QuoteView(
        creator_id=q.creator_id,
        number=q.number,
        text=q.text,
        added_by=q.added_by,
        platform=q.platform,
        added_at=to_datetime(q.added_at),
        creator_name=names.get(q.creator_id),
    )


def _giveaway_view(g: giveaways.Summary, names: Mapping[str, str]) -> GiveawayView:
    row = g.giveaway
    return GiveawayView(
        giveaway_id=row.giveaway_id,
        creator_id=row.creator_id,
        prize=row.prize,
        state=row.state,
        entry_cost=row.entry_cost,
        subscribers_only=row.subscribers_only,
        subscriber_tickets=row.subscriber_tickets,
        entrants=g.entrants,
        tickets=g.tickets,
        winners=tuple(
            GiveawayWinner(
                draw=w.drawn or 0,
                display_name=w.display_name,
                platform=w.platform,
                drawn_at=to_datetime(w.drawn_at or row.updated_at),
            )
            for w in g.winners
        ),
        opened_at=to_datetime(row.opened_at),
        closed_at=to_datetime(row.closed_at) if row.closed_at is not None else None,
        updated_at=to_datetime(row.updated_at),
        creator_name=names.get(row.creator_id),
    )


def _scoreboard_view(b: counters.ScoreboardView, names: Mapping[str, str]) -> ScoreboardView:
    return ScoreboardView(
        scoreboard_id=b.scoreboard.scoreboard_id,
        creator_id=b.scoreboard.creator_id,
        title=b.scoreboard.title,
        updated_at=to_datetime(b.scoreboard.updated_at),
        entries=tuple(
            ScoreEntry(position=e.position, label=e.label, score=e.score) for e in b.entries
        ),
        creator_name=names.get(b.scoreboard.creator_id),
    )


def _signal_view(s: signals.Signal, _names: Mapping[str, str]) -> SignalRow:
    return SignalRow(
        timestamp=to_datetime(s.timestamp),
        type=s.type,
        source=s.source,
        subject_id=s.entity_id,
        summary=s.summary,
        creator_id=s.creator_id,
    )


def _views(
    table: str,
    rows: Iterable[Any],
    make: Callable[[Any, Mapping[str, str]], Any],
    names: Mapping[str, str],
    cache: dict[str, dict[Any, Any]] | None,
) -> tuple[Any, ...]:
    """`make(row)` for each row; with `cache`, a row equal to one of the last read (state rows
    are frozen values) reuses its view: most rows do not change between two publishes."""
    if cache is None:
        return tuple(make(row, names) for row in rows)
    last, fresh = cache.get(table, {}), {}
    out = []
    for row in rows:
        view = last.get(row)
        if view is None:
            view = make(row, names)
        fresh[row] = view
        out.append(view)
    cache[table] = fresh
    return tuple(out)


def read_store(
    conn: apsw.Connection,
    names: Mapping[str, str],
    limit: int,
    files: Collection[str] | None = None,
    *,
    cache: dict[str, dict[Any, Any]] | None = None,
) -> StoreData:
    """Read the exported state in one read transaction (a consistent snapshot).

    With `files`, only the tables those export files need are read (the rest stays empty);
    one query per table, whatever the number of polls and scoreboards. `cache` (owned by the
    caller, always used with the same `names`) keeps the views of the last read.
    """
    conn.execute("BEGIN")
    try:
        return _read_tables(conn, names, limit, DB_FILES if files is None else files, cache)
    finally:
        conn.execute("COMMIT")


_PARTED_TABLES = frozenset({"polls", "tallies", "points", "quotes", "giveaways", "scoreboards"})


def _read_tables(
    conn: apsw.Connection,
    names: Mapping[str, str],
    limit: int,
    want: Collection[str],
    cache: dict[str, dict[Any, Any]] | None,
) -> StoreData:
    """`read_store` within the caller's read transaction."""
    poll_rows = (
        polls.list_polls_with_results(conn, per_creator=polls.POLLS_PER_CREATOR)
        if "polls.json" in want
        else None
    )
    tally_rows = counters.list_tallies(conn) if "tallies.json" in want else None
    board_rows = counters.list_scoreboards_ranked(conn) if "scoreboards.json" in want else None
    recent = {
        kind: signals.recent_signals(conn, kind, limit=limit)  # type: ignore[arg-type]
        for path, kind in _SIGNAL_KINDS.items()
        if path in want
    }
    clip_rows = (
        clips.list_clips(conn, limit=JOB_LIMIT)
        if "clips.json" in want or "jobs.json" in want
        else None
    )
    deliveries = outbox.list_outbox(conn, limit=JOB_LIMIT) if "jobs.json" in want else None
    balance_rows = loyalty.ranked_rows(conn, POINTS_TOP) if "points.json" in want else None
    quote_rows = quotes.list_quotes(conn) if "quotes.json" in want else None
    giveaway_rows = giveaways.summaries(conn) if "giveaways.json" in want else None

    def views(table: str, rows: Iterable[Any] | None, make: Any) -> tuple[Any, ...]:
        # The parts keep the views of the files made of parts: not kept twice.
        kept = cache if table not in _PARTED_TABLES else None
        return () if rows is None else _views(table, rows, make, names, kept)

    return StoreData(
        clips=tuple(clip_views(clip_rows)) if clip_rows is not None else (),
        jobs=(
            (*job_views(clip_rows or ()), *(notify_job_view(e) for e in deliveries))
            if deliveries is not None
            else ()
        ),
        polls=views("polls", poll_rows, _poll_view),
        tallies=views("tallies", tally_rows, _tally_view),
        points=views("points", balance_rows, _points_view),
        quotes=views("quotes", quote_rows, _quote_view),
        giveaways=views("giveaways", giveaway_rows, _giveaway_view),
        scoreboards=views("scoreboards", board_rows, _scoreboard_view),
        **{
            field: views(kind, recent.get(kind), _signal_view)
            for field, kind in (
                ("chat_events", "chat"),
                ("poll_votes", "poll_vote"),
                ("tally_events", "tally"),
                ("score_events", "score"),
            )
        },
    )


@attrs.frozen(kw_only=True)
class Settling:
    """How the rows of a file whose rows stop changing are read in two steps, so that a row
    that cannot change (a closed poll, a giveaway no draw can reach) is read whole once:
    first each creator's heads (the entity's own row: cheap, by an index), then the rest of
    the rows (counts, winners) of the heads whose parts are not kept. A settled row is known
    by its head alone (its digest is the head's), since nothing else of it can change while
    the creator's heads stay the same; one that may be reached again after a change to
    another head (`giveaways.settled`) is then read whole again (its digest is its row's)."""

    # Each creator's heads (of the creators given, or every creator's), creator after creator.
    heads: Callable[[apsw.Connection, Sequence[str] | None], Sequence[Any]]
    # Which of one creator's heads (in their order) cannot change while they stay as read.
    settled: Callable[[Sequence[Any]], Sequence[bool]]
    # The whole rows of some heads (in their order).
    complete: Callable[[apsw.Connection, Sequence[Any]], Sequence[Any]]


@attrs.frozen(kw_only=True)
class PartedReader:
    """How the rows of a database file made of parts are read: every creator's, or some
    creators' (by the creator's index), and made into views. A file read another way
    (`texts`, `settling`, or quotes.json's own reads) has no `every` and `some`."""

    creator: Callable[[Any], str]  # whose row it is (a head's, with `settling`)
    view: Callable[[Any, Mapping[str, str]], Any]
    every: Callable[[apsw.Connection], Iterable[Any]] | None = None
    some: Callable[[apsw.Connection, Sequence[str]], Iterable[Any]] | None = None
    # Each creator's rows as one text (of the creators given, or every creator's), read that
    # way: points.json's rankings (`loyalty.ranking_texts`)
    texts: Callable[[apsw.Connection, Sequence[str] | None], dict[str, str]] | None = None
    settling: Settling | None = None  # read in two steps
    # Its parts sort by creator first, and each row gives one item to each array: a creator's
    # rows are kept as one run of bytes per array (`_RunShare`).
    runs: bool = False


_POLL_STATE = polls.POLL_COLUMNS.index("state")

#: The readers of the database files made of per-creator parts.
PARTED_READERS: Mapping[str, PartedReader] = {
    "points.json": PartedReader(
        creator=operator.itemgetter(0),
        view=_points_view,
        texts=loyalty.ranking_texts,
    ),
    "polls.json": PartedReader(
        creator=operator.itemgetter(polls.POLL_COLUMNS.index("creator_id")),  # a head's
        view=_poll_view,
        settling=Settling(
            heads=lambda conn, cs: polls.newest_poll_rows(conn, cs, polls.POLLS_PER_CREATOR),
            # No vote reaches a closed poll, and a poll never opens again.
            settled=lambda heads: [head[_POLL_STATE] == "closed" for head in heads],
            complete=polls.with_results,
        ),
    ),
    "tallies.json": PartedReader(
        every=counters.list_tallies,
        some=lambda conn, cs: counters.list_tallies(conn, creators=cs),
        creator=operator.attrgetter("creator_id"),
        view=_tally_view,
        runs=True,
    ),
    "scoreboards.json": PartedReader(
        every=counters.list_scoreboards_ranked,
        some=lambda conn, cs: counters.list_scoreboards_ranked(conn, creators=cs),
        creator=lambda row: row.scoreboard.creator_id,
        view=_scoreboard_view,
        runs=True,
    ),
    "quotes.json": PartedReader(
        creator=operator.attrgetter("creator_id"),
        view=_quote_view,
    ),
    "giveaways.json": PartedReader(
        creator=operator.itemgetter(giveaways.GIVEAWAY_COLUMNS.index("creator_id")),  # a head's
        view=_giveaway_view,
        settling=Settling(
            heads=giveaways.newest_giveaway_rows,
            settled=giveaways.settled,
            complete=giveaways.summarize,
        ),
        runs=True,
    ),
}


@attrs.frozen(kw_only=True)
class FileReads:
    """What a publish read for one database file made of parts."""

    creators: int | None  # creators whose rows were read again (None: every creator's)
    # Rows read (points.json: one per ranking, each read as one text; a settled row not read
    # again, `Settling`, is not counted).
    rows: int
    parts_encoded: int  # parts built and encoded (changed, or holding a future time)
    entries_encoded: int = 0  # points.json: ranking entries decoded and encoded


#: One creator's rows of a file made of a part per row, as read: their digests (hash() of each
#: row: state rows are frozen values; a settled row's, its head's) beside the rows (None: a
#: settled row whose part is kept, not read again; `Settling`).
_Rows = tuple[tuple[int, ...], list[Any]]


@attrs.frozen(kw_only=True, eq=False)
class _RowShare:
    """One creator's share of a file whose rows make parts of their own, as last read: a
    digest of each row (not the row) beside its part."""

    digests: tuple[int, ...]  # hash() of each row as read (state rows are frozen values)
    parts: tuple[EncodedPart, ...]  # each row's part, in the rows' order
    built: datetime  # the clock they were built at: a part whose time is later holds only then
    clock_free: bool  # no time after the clock it was built at: the bytes hold for later

    def kept(self) -> dict[int, EncodedPart]:
        """The parts that hold for any later clock, by their rows' digests."""
        built = self.built
        return {
            digest: part
            for digest, part in zip(self.digests, self.parts, strict=True)
            if part.latest <= built
        }

    def held(self) -> Collection[int]:
        """The digests of the rows whose parts hold for any later clock."""
        return self.kept().keys()

    def reusable(self, digests: tuple[int, ...], rows: list[Any]) -> list[EncodedPart | None]:
        """The parts of the rows read again now (`digests`, `rows`) that need not be built
        (None: to build): where the row is the same and its part holds for the clock. As many
        rows as last time: a row changed in place (by position); otherwise one may have come
        or gone, or a settled row not read again (None) may sit elsewhere now: by digest."""
        if len(self.digests) == len(digests) and None not in rows:
            built = self.built
            return [
                part if was == now and part.latest <= built else None
                for was, now, part in zip(self.digests, digests, self.parts, strict=True)
            ]
        return list(map(self.kept().get, digests))

    @staticmethod
    def row(_arrays: Sequence[str], part: EncodedPart) -> EncodedPart:
        """A row's part as this share keeps it (as it is)."""
        return part

    @classmethod
    def of(
        cls,
        _creator: str,
        _arrays: Sequence[str],
        digests: tuple[int, ...],
        parts: Sequence[EncodedPart],
        now: datetime,
    ) -> _RowShare:
        """The share of a creator's rows' `parts` (in the rows' order), built at the clock
        `now`."""
        return cls(
            digests=digests,
            parts=tuple(parts),
            built=now,
            clock_free=all(part.latest <= now for part in parts),
        )


#: A row's items in a `_RunShare` (one per array, in the file's order), newest and latest time.
_RunRow = tuple[tuple[bytes, ...], datetime, datetime]


@attrs.frozen(kw_only=True, eq=False)
class _RunShare(EncodedPart):
    """One creator's share of a file whose parts sort by creator first and whose rows give
    one item to each array (tallies, scoreboards, giveaways: `PartedReader.runs`), as last
    read: the part itself, its rows' items as one run of bytes per array (`join_items`),
    beside each row's digest and times; no part object per row. A creator whose rows changed
    has its runs cut back into its rows' items (`split_items`), the rows that changed encoded
    alone, and its runs joined again."""

    digests: tuple[int, ...]  # hash() of each row as read, in the rows' order
    newests: tuple[datetime, ...]  # each row's newest time
    latests: tuple[datetime, ...]  # each row's latest time (its bytes hold from then on)
    built: datetime  # the clock they were built at: a row whose time is later holds only then
    clock_free: bool  # no time after the clock it was built at: the bytes hold for later

    @property
    def parts(self) -> tuple[EncodedPart, ...]:
        """Its parts (itself), as `_RowShare.parts`."""
        return (self,)

    def held(self) -> Collection[int]:
        """The digests of the rows whose items hold for any later clock."""
        built = self.built
        return {d for d, latest in zip(self.digests, self.latests, strict=True) if latest <= built}

    def rows(self) -> dict[int, _RunRow]:
        """The rows whose items hold for any later clock, by digest."""
        built = self.built
        items = list(zip(*map(split_items, (run for (run,) in self.items.values())), strict=True))
        if len(items) != len(self.digests):
            raise AssertionError(f"{self.order}: {len(self.digests)} rows cut in {len(items)}")
        return {
            digest: (row, newest, latest)
            for digest, row, newest, latest in zip(
                self.digests, items, self.newests, self.latests, strict=True
            )
            if latest <= built
        }

    def reusable(self, digests: tuple[int, ...], _rows: list[Any]) -> list[_RunRow | None]:
        """The items of the rows read again now (`digests`) that need not be built (None: to
        build), found by digest."""
        known = self.rows()
        return [known.get(digest) for digest in digests]

    @staticmethod
    def row(arrays: Sequence[str], part: EncodedPart) -> _RunRow:
        """A row's part as this share keeps it (`_run_row`)."""
        return _run_row(arrays, part)

    @classmethod
    def of(
        cls,
        creator: str,
        arrays: Sequence[str],
        digests: tuple[int, ...],
        rows: Sequence[_RunRow],
        now: datetime,
    ) -> _RunShare:
        """The share of `creator`'s `rows` (at least one), built at the clock `now`."""
        latests = tuple(latest for _items, _newest, latest in rows)
        newests = tuple(newest for _items, newest, _latest in rows)
        return cls(
            order=(creator,),
            newest=max(newests),
            latest=max(latests),
            items={
                key: (join_items([items[index] for items, _n, _l in rows]),)
                for index, key in enumerate(arrays)
            },
            digests=digests,
            newests=newests,
            latests=latests,
            built=now,
            clock_free=max(latests) <= now,
        )


@attrs.frozen(kw_only=True, eq=False)
class _PointsShare(EncodedPart):
    """One creator's part of points.json as last read: its item's bytes (the part itself,
    one object per creator) beside a digest of its ranking's text (`loyalty.ranking_texts`)
    and, packed, a digest and the time of each entry it lists (`loyalty.ranking_entries`):
    no text (a ranking's text grows with every viewer who ever earned points; what a share
    keeps is bounded by the `POINTS_TOP` entries listed), no object per viewer."""

    digest: int  # hash() of the ranking's text: an equal text has the same bytes
    # Per entry listed, packed in one array ("q"): the hash() of each entry's text (equal at
    # its position: the same row, the same bytes), then each entry's time in ms (the item's
    # newest is their latest).
    marks: array
    clock_free: bool  # no time after the clock it was built at: the bytes hold for later

    @property
    def entries(self) -> array:
        """The hash() of each listed entry's text, in their order."""
        return self.marks[: len(self.marks) // 2]

    @property
    def moments(self) -> array:
        """Each listed entry's time (ms), in their order."""
        return self.marks[len(self.marks) // 2 :]

    @property
    def parts(self) -> tuple[EncodedPart, ...]:
        """Its parts (itself), as `_RowShare.parts`."""
        return (self,)


@attrs.frozen(kw_only=True, eq=False)
class _QuotesShare(EncodedPart):
    """One creator's part of quotes.json as last read: its quotes' items as one run of bytes
    (`join_items`), beside how many there are and the highest number; no object per quote. A
    quote never changes once added and its number is never used again, so new quotes are
    read alone and their items added at the end (`quotes.live_counts`)."""

    count: int  # quotes not deleted
    last: int  # the highest number among them
    clock_free: bool  # no time after the clock it was built at: the bytes hold for later

    @property
    def parts(self) -> tuple[EncodedPart, ...]:
        """Its parts (itself), as `_RowShare.parts`."""
        return (self,)


#: A creator's quotes as read (`SnapshotPublisher._read_quotes`): how many, the highest number,
#: and the quotes read (all of them when whole, else those after the kept ones; None: its part
#: is kept as it is).
_QuotesRead = tuple[int, int, list[quotes.Quote] | None, bool]


@attrs.frozen(kw_only=True, eq=False)
class _HeldSignal:
    """A signal of a signal file as last read and encoded (a signal never changes)."""

    view: SignalRow
    part: EncodedPart
    clock_free: bool  # no time after the clock it was built at: the bytes hold for later


def _run_row(arrays: Sequence[str], part: EncodedPart) -> _RunRow:
    """A row's part (one item in each of `arrays`) as a `_RunShare` keeps it."""
    items = tuple(item for key in arrays for item in part.items[key])
    if len(items) != len(arrays):
        raise AssertionError(f"{part.order}: a row gave {len(items)} items to {arrays}")
    return (items, part.newest, part.latest)


def actor_rows(tree: Sequence[TreeRow], root_name: str) -> tuple[ActorStatus, ...]:
    """The supervision tree as export rows (paths relative to the root)."""
    prefix = root_name + "/"
    return tuple(_actor_status(row, prefix) for row in tree)


def _actor_error(row: TreeRow) -> str | None:
    """The error an actor's export row shows: its last crash, else the failure of its
    connection while it fails (a running actor that cannot connect is not error-free)."""
    health = row.health
    if row.last_error is None and health is not None and health.failing:
        return health.last_error
    return row.last_error


def _actor_status(row: TreeRow, prefix: str) -> ActorStatus:
    """One row of the tree as an export row (`prefix`: the root's path and "/")."""
    return ActorStatus(
        path=row.path.removeprefix(prefix),
        kind=row.kind if row.kind in ("actor", "supervisor") else "actor",
        state=row.state,
        restarts=row.restarts,
        last_error=_actor_error(row),
        started_at=row.started_at,
        mailbox_depth=row.mailbox.depth,
        mailbox_peak=row.mailbox.peak,
        handled=row.handled,
    )


log = structlog.get_logger("actors.publisher")


def _triggers_fired(tree: Sequence[TreeRow]) -> dict[tuple[str | None, str], int]:
    """Triggers fired per (creator id, platform of the message), from the trigger engines."""
    out: dict[tuple[str | None, str], int] = {}
    for row in tree:
        parent, _, name = row.path.rpartition("/")
        creator = parent.rpartition("/")[2]
        if name != "triggers" or not creator.startswith("creator:"):
            continue
        detail = row.detail
        if type(detail) is not TriggerEngineStatistics:
            continue
        for platform, count in detail.fired_by_platform.items():
            key = (creator.removeprefix("creator:"), platform)
            out[key] = out.get(key, 0) + int(count)
    return out


def _replay_row(detail: ReplayStatistics, triggers: int) -> PlatformStatus:
    """The replay's platform entry (the replay reads a file: it has no connection health)."""
    return PlatformStatus(
        platform="replay",
        creator_id=detail.creator_id,
        enabled=True,
        status=detail.status,
        last_heartbeat=detail.last_heartbeat,
        last_event_at=detail.last_event_at,
        messages=detail.messages,
        triggers=triggers,
        actions=detail.actions,
        errors=detail.errors,
    )


def _replay_down(row: TreeRow) -> PlatformStatus | None:
    """The replay platform entry of a replay actor's tree row that has no `ReplayStatistics`:
    `inactive` while it starts, `error` with the reason when it is restarting, failed or
    stopped (None: running, or not a creator's replay)."""
    creator = _creator_of(row.path.partition("/")[2])
    if creator is None:
        return None
    creator_id = creator.removeprefix("creator:")
    if row.state == "running":  # its statistics were not taken (a walk without details)
        return None
    if row.state == "starting":
        return PlatformStatus(
            platform="replay", creator_id=creator_id, enabled=True, status="inactive"
        )
    return PlatformStatus(
        platform="replay",
        creator_id=creator_id,
        enabled=True,
        status="error",
        state="failed",
        error=row.last_error or f"replay actor {row.state}",
    )


def telemetry_rows(tree: Sequence[TreeRow]) -> tuple[TelemetryEvent, ...]:
    """Runtime events actors record beside their lifecycle (an EventSub revocation, a
    reconciliation, a trigger fired by a channel event): the `TelemetryNote`s the EventSub
    actors list in their `EventSubStatistics` under `telemetry_events`, oldest first per
    actor. A note is checked when made, as a `TelemetryEvent` is: each becomes one."""
    rows: list[TelemetryEvent] = []
    for row in tree:
        detail = row.detail
        if not isinstance(detail, EventSubStatistics):
            continue
        rows.extend(
            TelemetryEvent(
                timestamp=note.timestamp,
                severity=note.severity,
                source=note.source,
                message=note.message,
            )
            for note in detail.telemetry_events
        )
    return tuple(rows)


def discord_view(tree: Sequence[TreeRow]) -> DiscordView:
    """discord/runtime.json from the Discord bot's snapshot (an empty view without a bot)."""
    for row in tree:
        detail = row.detail
        if not isinstance(detail, DiscordBotStatistics):
            continue
        try:  # the views validate (a guild with no id, an unknown reason): skip, not crash
            return DiscordView(
                running=detail.running and row.state == "running",
                connected=detail.connected,
                started_at=detail.started_at,
                last_heartbeat=detail.last_heartbeat,
                task_count=detail.task_count,
                status_text=detail.status,
                guilds=tuple(
                    GuildView(
                        guild_id=g.guild_id,
                        guild_name=g.guild_name,
                        bot_present=g.bot_present,
                        authorized_for_user=g.authorized_for_user,
                        authorization_reason=g.authorization_reason,
                        notifications_enabled=g.notifications_enabled,
                        general_channel_id=g.notifications_channel_id,
                    )
                    for g in detail.guilds
                ),
            )
        except (TypeError, ValueError) as exc:
            log.warning("discord status skipped", path=row.path, error=str(exc))
    return DiscordView()


#: Account actor state (actors/accounts) → integrations.json status.
_ACCOUNT_STATUS = {
    "logged_in": "connected",
    "refreshing": "connected",
    "refresh_failing": "disconnected",
    "not_logged_in": "pending",
}


def account_integrations(tree: Sequence[TreeRow]) -> tuple[IntegrationView, ...]:
    """integrations.json rows from the account actors' snapshots (`AccountHealth`); no
    tokens."""
    return tuple(
        IntegrationView(
            integration_id=f"account:{account.account_id}",
            provider=account.platform,
            scope="system",
            status=_ACCOUNT_STATUS.get(account.state, "error"),
            token_expires_at=account.expires_at,
            last_attempt_at=account.last_refresh,
            last_error=account.error,
            state=account.state,
            scopes=tuple(sorted(account.scopes)),
        )
        for row in tree
        if isinstance(account := row.detail, AccountHealth)
    )


def quota_rows(tree: Sequence[TreeRow]) -> tuple[QuotaView, ...]:
    """The quota registry's trackers (`QuotaRegistryStatistics`) as quotas.json rows."""
    return tuple(
        QuotaView(
            platform=q.platform,
            creator_id=q.creator_id,
            used=q.used,
            max=q.max,
            buffer=q.buffer,
            # The dashboard reads reset_at as the start of the current window (never future).
            reset_at=q.window_start,
        )
        for row in tree
        if isinstance(row.detail, QuotaRegistryStatistics)
        for q in row.detail.quotas
    )


def rate_limit_rows(tree: Sequence[TreeRow]) -> tuple[RateLimitView, ...]:
    """The token buckets the polled platform chats (`PolledChatStatistics`: Rumble, YouTube)
    list under `rate_limits`, as rate_limits.json rows."""
    return tuple(
        bucket_view(bucket)
        for row in tree
        if isinstance(row.detail, PolledChatStatistics)
        for bucket in row.detail.rate_limits
    )


def trigger_rows(
    creators: Sequence[CreatorConfig], fired: Mapping[tuple[str, str], datetime]
) -> tuple[TriggerView, ...]:
    """The configured chat triggers as applied, with when each last fired (a publisher
    keeps them and builds again only those that fired since: `SnapshotPublisher._refired`).

    Event triggers (no pattern: they fire on channel events, not chat) are not listed: the file
    has no module for them.
    """
    return tuple(
        _trigger_view(c, t, fired.get((c.id, t.id)))
        for c in creators
        for t in c.triggers
        if t.pattern is not None
    )


def _trigger_view(c: CreatorConfig, t: TriggerConfig, at: datetime | None) -> TriggerView:
    """A chat trigger as applied (`t.pattern` is set), last fired `at`."""
    assert t.pattern is not None
    return TriggerView(
        trigger_id=t.id,
        creator_id=c.id,
        phrase=t.pattern,
        module=t.kind,
        enabled=t.enabled and c.enabled,
        cooldown_seconds=max(t.cooldown_user, t.cooldown_trigger, t.cooldown_global),
        last_fired_at=at,
    )


def timer_rows(
    creators: Sequence[CreatorConfig], posts: Mapping[tuple[str, str], tuple[int, datetime | None]]
) -> tuple[TimerView, ...]:
    """The configured timers with their posts ((creator id, timer id) -> (count, last time),
    from the trigger engines' snapshots)."""
    return tuple(
        TimerView(
            timer_id=t.id,
            creator_id=c.id,
            interval_minutes=t.interval_minutes,
            min_chat_lines=t.min_chat_lines,
            messages=len(t.messages),
            platforms=t.platforms or tuple(c.sources()),
            enabled=t.enabled and c.enabled,
            posts=posts.get((c.id, t.id), (0, None))[0],
            last_posted_at=posts.get((c.id, t.id), (0, None))[1],
        )
        for c in creators
        for t in c.timers
    )


def filter_rows(
    creators: Sequence[CreatorConfig], hits: Mapping[tuple[str, str], tuple[int, datetime | None]]
) -> tuple[FilterView, ...]:
    """The configured chat filters with their hits ((creator id, filter id) -> (count, last
    time), from the trigger engines' snapshots)."""
    return tuple(
        FilterView(
            filter_id=f.id,
            creator_id=c.id,
            kind=f.kind,
            action=f.action,
            exempt=f.exempt,
            enabled=f.enabled and c.enabled,
            hits=hits.get((c.id, f.id), (0, None))[0],
            last_hit_at=hits.get((c.id, f.id), (0, None))[1],
        )
        for c in creators
        for f in c.filters
    )


#: What the trigger engines report per creator for chat_triggers.json, each keyed by
#: (creator id, id): triggers' last fired time, timers' and filters' (count, last time).
_Activity = tuple[
    Mapping[tuple[str, str], datetime],
    Mapping[tuple[str, str], tuple[int, datetime | None]],
    Mapping[tuple[str, str], tuple[int, datetime | None]],
]


_NO_ACTIVITY: _Activity = ({}, {}, {})
#: The typed details that feed discord/runtime.json, quotas.json, rate_limits.json,
#: integrations.json and the telemetry's rows of actors' own, failed snapshots included (each
#: function making those reads its own types among them; one reading a new type adds it
#: here). Only their rows are handed to those functions, not the thousands of every creator's
#: engines, replays and chats.
_FEEDS_RUNTIME_FILES = (
    DiscordBotStatistics,
    QuotaRegistryStatistics,
    PolledChatStatistics,
    AccountHealth,
    EventSubStatistics,
    ErrorsReported,
    SnapshotFailed,
)


_FEEDS_BY_TYPE: dict[type, bool] = {}


def _feeds_runtime_files(kind: type) -> bool:
    """Whether a detail of this type is one of `_FEEDS_RUNTIME_FILES` (found once per type:
    the tree's rows are walked at every heartbeat)."""
    known = _FEEDS_BY_TYPE.get(kind)
    if known is None:
        known = _FEEDS_BY_TYPE[kind] = issubclass(kind, _FEEDS_RUNTIME_FILES)
    return known


def _activity_by_creator(details: Sequence[Detail]) -> Mapping[str, _Activity]:
    """What the actors report for chat_triggers.json, per creator (the first part of each
    key). Each trigger engine reports its own creator's: its maps are taken as they are (no
    copy, no new object per key: this runs for every creator at every heartbeat); details
    that mix creators, or a creator reported twice, are merged (later keys win)."""
    out: dict[str, _Activity] = {}
    for detail in details:
        if type(detail) is not TriggerEngineStatistics:
            continue
        maps = (
            detail.fired_at or _NO_ACTIVITY[0],
            detail.timers or _NO_ACTIVITY[1],
            detail.filters or _NO_ACTIVITY[2],
        )
        owner = None
        for found in maps:
            for key in found:
                if owner is None:
                    owner = key[0]
                elif key[0] != owner:
                    return _merged_activity(details)
        if owner is not None:
            if owner in out:
                return _merged_activity(details)
            out[owner] = maps
    return out


def _merged_activity(details: Sequence[Detail]) -> Mapping[str, _Activity]:
    # One map per part of `_Activity`, filled in place.
    out: dict[str, tuple[dict[Any, Any], dict[Any, Any], dict[Any, Any]]] = {}
    for detail in details:
        if type(detail) is not TriggerEngineStatistics:
            continue
        for index, found in enumerate((detail.fired_at, detail.timers, detail.filters)):
            for key, value in found.items():
                if key[0] not in out:
                    out[key[0]] = ({}, {}, {})
                out[key[0]][index][key] = value
    return out


def _counted(
    views: Sequence[Any],
    counts: Mapping[tuple[str, str], tuple[int, datetime | None]],
    key: Callable[[Any], tuple[str, str]],
    shown: Callable[[Any], tuple[int, datetime | None]],
) -> bool:
    """Whether timer or filter `views` show the (count, last time) `counts` has for them
    (what `timer_rows` and `filter_rows` make them from: (0, None) when absent)."""
    for view in views:
        value = counts.get(key(view), (0, None))
        if (value[0], value[1]) != shown(view):
            return False
    return True


@attrs.frozen(kw_only=True)
class _CreatorRows:
    """One creator's rows of chat_triggers.json (each view shows the activity it was made
    from)."""

    creator_id: str
    triggers: tuple[TriggerView, ...]
    timers: tuple[TimerView, ...]
    filters: tuple[FilterView, ...]


@attrs.frozen(kw_only=True)
class TreeInputs:
    """The builder inputs taken from the actor tree (collected on the event loop)."""

    runtime: RuntimeView
    creators: tuple[CreatorView, ...]
    quotas: tuple[QuotaView, ...]
    rate_limits: tuple[RateLimitView, ...]
    triggers: Sequence[TriggerView]  # RowGroups: per creator
    discord: DiscordView = attrs.field(factory=DiscordView)
    integrations: tuple[IntegrationView, ...] = ()
    events: tuple[TelemetryEvent, ...] = ()
    errors: tuple[ErrorView, ...] = ()
    rates: tuple[RateMetric, ...] = ()
    measured_at: datetime | None = None  # telemetry is stamped with every publish's clock
    timers: Sequence[TimerView] = ()
    filters: Sequence[FilterView] = ()
    actors: Sequence[ActorStatus] | None = None  # runtime.actors grouped (default: not)

    def for_file(self, path: str) -> Any:
        """The inputs of one tree file (compared to decide whether to rebuild it)."""
        return {
            "runtime_snapshot.json": self.runtime,
            "quotas.json": self.quotas,
            "rate_limits.json": self.rate_limits,
            "chat_triggers.json": (self.triggers, self.timers, self.filters),
            "creators.json": self.creators,
            "discord/runtime.json": self.discord,
            "integrations.json": self.integrations,
            # The clock is part of the telemetry's inputs: the dashboard judges these files
            # by generated_at alone, so every publish (heartbeat) moves it.
            "telemetry/events.json": (self.events, self.measured_at),
            "telemetry/errors.json": (self.errors, self.measured_at),
            "telemetry/rates.json": (self.rates, self.measured_at),
        }[path]


@attrs.frozen(kw_only=True)
class _Built:
    """Bytes of one tree file with what they were made from."""

    inputs: Any
    started_at: datetime
    now: datetime
    clock_free: bool  # no input time after `now`: the bytes hold for any later clock


@attrs.frozen(kw_only=True)
class _Outcome:
    result: PublishResult
    rebuilt: tuple[str, ...]
    redo: frozenset[str]  # database files that depend on this clock: rebuild next time
    reads: dict[str, FileReads] = attrs.field(factory=dict)


#: Tree files put together from their rows (`RowCache`): the long ones, whose rows mostly
#: stay the same from one heartbeat to the next.
_SPLICED = frozenset({"runtime_snapshot.json", "chat_triggers.json", "creators.json"})


class SnapshotPublisher(Actor):
    """Publishes the export files on change (only the dirty ones) and on a heartbeat."""

    # `Changed` is handled at once, but a `PublishNow` holds the mailbox for a whole publish;
    # a dropped `Changed` would leave its files stale until the next full refresh.
    mailbox_size = 10_000

    def __init__(
        self,
        *,
        database: Path,
        root: Path,
        mirrors: Sequence[Mirror],
        creators: Sequence[CreatorConfig],
        tree: Callable[[], list[TreeRow]],
        root_name: str,
        started_at: datetime,
        pseudonym_key: bytes,
        secrets: frozenset[str] = frozenset(),
        heartbeat_seconds: float = 10.0,
        store: Callable[[], ActorRef] | None = None,
        debounce_seconds: float = 0.25,
        min_interval_seconds: float = 1.0,
        signal_limit: int = 200,
        full_refresh_seconds: float = 300.0,
        file_bytes_per_second: float = FILE_BYTES_PER_SECOND,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._database = database
        self._store = store
        self._writer = ExportWriter(root, mirrors)
        self._creators = tuple(creators)
        self._names = {c.id: c.display_name for c in creators}
        self._tree = tree
        self._root_name = root_name
        self._started_at = started_at
        self._key = pseudonym_key
        self._secrets = secrets
        self._heartbeat = heartbeat_seconds
        self._debounce = debounce_seconds
        self._min_interval = min_interval_seconds
        self._limit = signal_limit
        self._refresh = full_refresh_seconds
        self._file_rate = file_bytes_per_second
        self._clock = clock
        self._dirty = trio.Event()
        self._lock = trio.Lock()
        self._conn: apsw.Connection | None = None
        self._limiter = trio.CapacityLimiter(1)
        # Incremental state; touched only under `_lock` (by the worker thread during a publish).
        self._pending: set[str] = set()  # database files to rebuild at the next publish
        self._full_due = True
        self._last_refresh = -math.inf  # the last full publish or refresh (trio's clock)
        # Per big database file: until when (trio's clock) its last write holds it back.
        self._hold_until: dict[str, float] = {}
        self._data_version: int | None = None  # as of the last database read
        self._bytes: dict[str, bytes] = {}  # last prepared bytes of each tree file
        self._built: dict[str, _Built] = {}
        self._views: dict[str, dict[Any, Any]] = {}  # read_store's cache of row views
        # Per file made of parts: the creators whose rows changed since the last publish
        # (None: unknown, read them all; no entry: none), and each creator's part as last built
        # (no entry: not built since the last full publish, read them all).
        self._scopes: dict[str, set[str] | None] = {}
        self._parts: dict[str, dict[str, Any]] = {}  # _PointsShare for points, else _RowShare
        # Per signal file: its signals as last read and encoded, by id (no entry: not built
        # since the last full publish, read them all).
        self._signals: dict[str, dict[int, _HeldSignal]] = {}
        # Files made of parts or signals whose parts changed since their bytes last went to the
        # writer: the others, when the writer finds them intact, are not put together again.
        self._unwritten: set[str] = set()
        self.last_reads: dict[str, FileReads] = {}  # what the last publish read, by file
        # The tree inputs that rarely change, kept between publishes (views are immutable).
        self._creator_views = tuple(
            CreatorView(
                creator_id=c.id,
                display_name=c.display_name,
                enabled=c.enabled,
                platforms=tuple((p, s.enabled) for p, s in c.sources().items()),
                status="running" if c.enabled else "disabled",
                created_at=started_at,
            )
            for c in self._creators
        )
        self._creator_rows: dict[str, _CreatorRows] = {}  # chat_triggers.json, per creator
        self._rows = RowCache()  # the bytes of the rows of the _SPLICED files
        # Platforms some enabled creator has enabled (the configuration does not change).
        self._configured_platforms = {
            platform: True
            for c in self._creators
            if c.enabled
            for platform, source in c.sources().items()
            if source.enabled
        }
        self._actor_cache: dict[tuple[Any, ...], ActorStatus] = {}
        self._actor_groups: dict[str, tuple[ActorStatus, ...]] = {}
        self._actor_group_of: dict[str, str] = {}  # an actor row's group, by its path
        self._rates = RateWindow()
        self._restarts: dict[str, int] = {}
        self._restart_events: deque[TelemetryEvent] = deque(maxlen=100)
        self.publishes = 0
        self.full_publishes = 0
        self.refreshes = 0  # periodic rereads of every database file
        self.holds = 0  # dirty files a publish held back (`FILE_BYTES_PER_SECOND`)
        self.last_held: frozenset[str] = frozenset()  # the files the last publish held back
        self.last: PublishSummary | None = None
        self.last_rebuilt: tuple[str, ...] = ()
        self.last_published_at: datetime | None = None
        # Whether the last publish wrote every file, since when, and its failures' sentence.
        self._writing = ConnectionState.CONNECTED
        self._writing_since = started_at
        self._write_error: str | None = None
        self._write_error_at: datetime | None = None
        self._failed_writes: dict[tuple[str, str], str] = {}  # (path, destination): error
        self.write_errors = 0  # files (per destination) whose write failed, in all

    async def on_start(self) -> None:
        uri = self._database.resolve().as_uri() + "?mode=ro"
        flags = apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI
        self._conn = await trio.to_thread.run_sync(lambda: apsw.Connection(uri, flags=flags))
        self._conn.set_busy_timeout(5000)
        plan_once(self._conn)  # its ranked and limited reads are not prepared again each time
        await trio.to_thread.run_sync(self._writer.cleanup_stale_temp_files)
        await self.publish(full=True)  # every file exists from the first moment on

    async def on_stop(self) -> None:
        conn = self._conn
        if conn is None:
            return
        # Once more at a stop, so the files match the database: the producers stop first and
        # their last commits land after the previous publish. Bounded by the stop's deadline.
        closable = False
        try:
            await self._wait_for_queued_commits()
            # The database files only: the tree is being taken down, and its files keep the
            # last view of the running actors rather than a half-stopped one.
            await self.publish(tree_files=False, verify_database=True, abandon_on_cancel=True)
            closable = True
        except Exception as exc:
            closable = True
            self.log.error("final publish failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            self._conn = None
            # A publish cut off by the deadline may still read in its thread: the connection
            # then closes with the process instead of under that thread's feet.
            if closable:
                conn.close()

    async def _wait_for_queued_commits(self) -> None:
        """Let the store commit the writes queued before this moment (a read waits behind
        them), within half of what is left of the stop, so the final publish includes them."""
        if self._store is None:
            return
        left = trio.current_effective_deadline() - trio.current_time()
        # A stop past its deadline (a big tree) leaves no time, not a negative one.
        with trio.move_on_after(max(0.0, left / 2) if math.isfinite(left) else 5.0):
            try:
                await self._store().call(Read(fn=_nothing), timeout=math.inf)
            except (ActorFailed, KeyError) as exc:
                self.log.warning("store gone before the final publish", error=str(exc))

    async def run(self) -> None:
        started = trio.current_time()
        next_beat = started + self._heartbeat
        while True:
            # A dirty file held back is published when its hold ends, changes or not.
            due = min(next_beat, self._release_at())
            with trio.move_on_at(due):
                await self._dirty.wait()
                # Let a burst of changes land first, and keep publishes an interval apart.
                soonest = max(trio.current_time() + self._debounce, started + self._min_interval)
                await trio.sleep_until(min(soonest, due))
            started = trio.current_time()
            beat = started >= next_beat
            if beat:
                next_beat = started + self._heartbeat
            # Only this loop replaces the event: a change arriving during the publish below
            # sets the new one (and adds to the new pending set), so it is published next
            # round, never lost.
            self._dirty = trio.Event()
            await self.publish(tree_files=beat)

    async def handle(self, message: Any) -> Any:
        if isinstance(message, Changed):
            files = files_for_topic(message.topic)
            self._pending |= files
            for path in files & PARTED_FILES.keys():
                # Per creator: the next publish rereads only these creators' rows.
                if message.creators is None:
                    self._scopes[path] = None
                elif path not in self._scopes:
                    self._scopes[path] = set(message.creators)
                else:
                    known = self._scopes[path]
                    if known is not None:
                        known |= message.creators
            self._dirty.set()  # even with no database file: tree files may show the change
            return None
        if isinstance(message, PublishNow):
            return await self.publish(full=True)
        raise TypeError(f"SnapshotPublisher takes Changed or PublishNow, got {message!r}")

    async def publish(
        self,
        *,
        full: bool = False,
        tree_files: bool = True,
        verify_database: bool = False,
        abandon_on_cancel: bool = False,
    ) -> PublishSummary:
        """Rebuild and write the dirty files (all of them with `full`), and every tree file
        with `tree_files` (a heartbeat; otherwise only the tree files a topic marked).

        A heartbeat (or `verify_database`) with no database file dirty also checks that no
        database change went unannounced since the last read. With `abandon_on_cancel`, a
        cancelled caller returns at once while the worker thread finishes (each file is
        replaced atomically).
        """
        async with self._lock:
            t0 = time.perf_counter()
            now_mono = trio.current_time()
            full = full or self._full_due
            if not full and now_mono - self._last_refresh >= self._refresh:
                self._pending |= DB_FILES
                self._scopes = dict.fromkeys(PARTED_FILES)  # every creator read again
                self._last_refresh = now_mono
                self.refreshes += 1
            # Held files stay dirty, with the creators they will reread (none at a full
            # publish or the last one, `verify_database`: every file is written then).
            held = frozenset() if full or verify_database else self._held(now_mono)
            for path in self._pending - held:
                # Published now: a hold that ended does not wake the loop again (were the
                # write to fail, the file waits for the next change or heartbeat as before).
                self._hold_until.pop(path, None)
            self.holds += len(held)
            self.last_held = held
            pending, self._pending = self._pending - held, self._pending & held
            scopes = {
                path: None if known is None else frozenset(known)
                for path, known in self._scopes.items()
                if path not in held
            }
            self._scopes = {path: self._scopes[path] for path in held if path in self._scopes}
            # (A held file is dirty: the heartbeat's check for unannounced commits waits for
            # the publish that reads it.)
            heartbeat = (
                (tree_files or verify_database) and not full and not (pending | held) & DB_FILES
            )
            if tree_files or full:
                pending |= TREE_FILES
            now = self._clock()
            tree = self._collect(self._tree(), now) if pending & TREE_FILES else None
            try:
                outcome = await trio.to_thread.run_sync(
                    self._publish_sync,
                    full,
                    heartbeat,
                    frozenset(pending),
                    scopes,
                    tree,
                    now,
                    limiter=self._limiter,
                    abandon_on_cancel=abandon_on_cancel,
                )
            except BaseException:
                self._pending |= pending  # not published: keep them for the next attempt
                self._scopes = dict.fromkeys(PARTED_FILES)  # read them all again
                raise
            result = outcome.result
            self._pending |= outcome.redo
            failed = {o.path for o in result.outcomes if o.error}
            self._pending |= failed & DB_FILES
            if failed & STATIC_FILES:
                self._full_due = True  # static files are only built by a full publish
            elif full:
                self._full_due = False
            if full:
                self._last_refresh = now_mono
                self.full_publishes += 1
            self._hold_written(result.outcomes, now_mono)
            summary = PublishSummary(
                written=sum(1 for o in result.outcomes if o.written),
                skipped=sum(1 for o in result.outcomes if not o.written and not o.error),
                errors=sum(1 for o in result.outcomes if o.error),
                seconds=time.perf_counter() - t0,
            )
            self._note_writes(result.outcomes)
            self.publishes += 1
            self.last = summary
            self.last_rebuilt = outcome.rebuilt
            self.last_reads = outcome.reads
            self.last_published_at = self._clock()
            return summary

    def _note_writes(self, outcomes: Iterable[FileOutcome]) -> None:
        """Log and remember the failed writes of a publish (`health`): a file (at one
        destination) whose write failed stays failing until a later write of it succeeds."""
        failed = self._failed_writes
        errors = []
        for o in outcomes:
            if o.error:
                errors.append(o.error)
                failed[o.path, o.destination] = o.error
            else:
                failed.pop((o.path, o.destination), None)
        now = self._clock()
        if errors:
            self.write_errors += len(errors)
            self.log.error("publish had write errors", errors=len(errors), first=errors[0])
            self._write_error_at = now
        if failed:
            first = next(iter(failed.values()))
            more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
            self._write_error = f"export files not written: {first}{more}"
            if self._writing is ConnectionState.CONNECTED:
                self._writing, self._writing_since = ConnectionState.RECONNECTING, now
        elif self._writing is not ConnectionState.CONNECTED:
            self._writing, self._writing_since = ConnectionState.CONNECTED, now

    def health(self) -> ConnectionHealth:
        """Whether the export files get written: failing while the last publish could not
        write some file (each publish tries it again), with which file and why, so /status
        and the telemetry show what the log says."""
        return ConnectionHealth(
            component="exports",
            state=self._writing,
            since=self._writing_since,
            target=str(self._writer.root),
            last_error=self._write_error,
            last_error_at=self._write_error_at,
            actions=self.publishes,
            errors=self.write_errors,
        )

    def _held(self, now: float) -> frozenset[str]:
        """The dirty files whose last write holds them back at trio time `now`."""
        hold_until = self._hold_until
        return frozenset(p for p in self._pending if hold_until.get(p, -math.inf) > now)

    def _release_at(self) -> float:
        """When the first dirty file held back may be published (inf: none is held)."""
        hold_until = self._hold_until
        return min((hold_until[p] for p in self._pending if p in hold_until), default=math.inf)

    def _hold_written(self, outcomes: Iterable[FileOutcome], started: float) -> None:
        """Hold back each database file just written for the seconds its size is worth at
        `FILE_BYTES_PER_SECOND`, when that is longer than the publishes' interval."""
        for o in outcomes:
            if o.written and o.destination == "primary" and o.path in DB_FILES:
                seconds = o.bytes / self._file_rate
                if seconds > self._min_interval:
                    self._hold_until[o.path] = started + seconds
                else:
                    self._hold_until.pop(o.path, None)

    # -- worker thread ----------------------------------------------------------------------

    def _publish_sync(
        self,
        full: bool,
        heartbeat: bool,
        pending: frozenset[str],
        scopes: Mapping[str, frozenset[str] | None],
        tree: TreeInputs | None,
        now: datetime,
    ) -> _Outcome:
        """Read, build, serialise and write (blocking; runs in the worker thread)."""
        conn = self._conn
        assert conn is not None
        ctx = self._context(now)
        if heartbeat:
            # Heartbeat: a commit without a Changed (a lost message, a direct write) since the
            # last read makes every database file suspect.
            if data_version(conn) != self._data_version:
                pending = pending | DB_FILES
                scopes = dict.fromkeys(PARTED_FILES)
        intact: list[str] = []  # dirty files whose bytes are those the writer has
        static: dict[str, bytes] = {}
        if full:
            # Every file from scratch, the database files by their parts as any publish builds
            # them (every creator's rows read, no part kept): no whole document of them is made,
            # so a full publish over a long history costs the parts it keeps, not those and the
            # documents' objects besides (which fragmented the heap of a restart for good), and
            # the next publish has its parts.
            assert tree is not None
            self._parts = {}
            self._signals = {}
            self._unwritten |= DB_FILES
            pending = pending | DB_FILES
            scopes = dict.fromkeys(PARTED_FILES)
            static = {
                path: self._writer.prepare(path, doc)
                for path, doc in build_all(ctx, ExportInputs(), pseudonym_key=self._key).items()
                if path in STATIC_FILES
            }
        dirty = pending & DB_FILES
        parted = sorted(dirty & PARTED_FILES.keys())
        # Signal files keep their signals' bytes; only when every signal read is listed
        # (a file lists at most DEFAULT_SIGNAL_LIMIT of them).
        ringed = sorted(dirty & _SIGNAL_FILES) if self._limit <= DEFAULT_SIGNAL_LIMIT else []
        data = None
        reads: dict[str, FileReads] = {}
        if dirty:
            # Recorded at every read: a heartbeat then only rereads after commits that
            # came with no `Changed` at all. A commit whose `Changed` was lost while
            # another topic was read is caught by the periodic full refresh.
            version = data_version(conn)
            conn.execute("BEGIN")  # one consistent snapshot for every file
            try:
                data = _read_tables(
                    conn,
                    self._names,
                    self._limit,
                    dirty - PARTED_FILES.keys() - set(ringed),
                    self._views,
                )
                fresh = {path: self._read_parted(conn, path, scopes) for path in parted}
                new = {path: self._read_signals(conn, path) for path in ringed}
            finally:
                conn.execute("COMMIT")
            self._data_version = version
            reads = {path: self._rebuild(path, ctx, *fresh[path]) for path in parted}
            reads |= {path: self._rebuild_signals(path, ctx, *new[path]) for path in ringed}
        prepared = static
        for path in sorted(pending & TREE_FILES):
            assert tree is not None
            prepared[path] = self._tree_file(path, tree, ctx, rebuild=full)
        for path in sorted(dirty):
            assert data is not None
            if (
                (path in PARTED_FILES or path in ringed)
                and path not in self._unwritten
                and self._writer.intact(path)
            ):
                intact.append(path)  # the same parts as the bytes written last time
            elif path in PARTED_FILES:
                shares = self._parts[path].values()
                prepared[path] = assemble(
                    PARTED_FILES[path],
                    ctx,
                    # A points share is its own (only) part.
                    shares if path == _POINTS else [p for s in shares for p in s.parts],
                    self._writer.prepare,
                )
            elif path in ringed:
                held = self._signals[path].values()
                prepared[path] = assemble(
                    SIGNAL_FILES[path], ctx, [h.part for h in held], self._writer.prepare
                )
            else:
                prepared[path] = self._writer.prepare(path, self._db_file(path, ctx, data))
        redo = frozenset(
            path
            for path in dirty
            if (
                not all(map(_CLOCK_FREE, self._parts[path].values()))
                if path in self._parts
                else not all(map(_CLOCK_FREE, self._signals[path].values()))
                if path in ringed
                else not self._clock_free(_db_inputs(path, data), ctx.now)
            )
        )
        result = self._writer.publish_prepared(prepared, intact=intact)
        self._unwritten -= prepared.keys()  # given to the writer (a failed write: not intact)
        return _Outcome(
            result=result, rebuilt=tuple(sorted((*prepared, *intact))), redo=redo, reads=reads
        )

    def _read_parted(
        self,
        conn: apsw.Connection,
        path: str,
        scopes: Mapping[str, frozenset[str] | None],
    ) -> tuple[dict[str, Any], frozenset[str] | None]:
        """The rows of the creators whose rows of `path` changed (every creator's when that
        is unknown, or when the file's parts are not built), by creator, each creator's as
        their digests beside the rows (`_Rows`); and which creators were read (None: all).
        Points: each creator's ranking's text."""
        reader = PARTED_READERS[path]
        scope = scopes.get(path, frozenset()) if path in self._parts else None
        if scope is not None:
            # Parts holding a time later than the clock they were built at are read again:
            # their bytes depend on the clock, and their rows are not kept.
            late = {c for c, share in self._parts[path].items() if not share.clock_free}
            scope = scope | late if late else scope
        if reader.texts is not None:
            return reader.texts(conn, None if scope is None else sorted(scope)), scope
        if path == _QUOTES:
            return self._read_quotes(conn, scope), scope
        if reader.settling is not None:
            return self._read_settling(conn, path, reader, scope), scope
        assert reader.every is not None and reader.some is not None
        rows = reader.every(conn) if scope is None else reader.some(conn, sorted(scope))
        by_creator: dict[str, list[Any]] = {}
        # Runs of one creator's rows (the reads list them by creator), merged if not.
        for creator, run in itertools.groupby(rows, key=reader.creator):
            by_creator.setdefault(creator, []).extend(run)
        return {c: (tuple(map(hash, rs)), rs) for c, rs in by_creator.items()}, scope

    def _read_settling(
        self,
        conn: apsw.Connection,
        path: str,
        reader: PartedReader,
        scope: frozenset[str] | None,
    ) -> dict[str, _Rows]:
        """`_read_parted` of a file read in two steps (`Settling`): the heads of the creators
        in `scope`, and the whole rows of those heads not settled with their part kept (one
        read for them all). A settled row whose part is kept is not read again: its digest
        is its head's, and its row is None."""
        settling = reader.settling
        assert settling is not None
        heads = settling.heads(conn, None if scope is None else sorted(scope))
        shares: dict[str, _RowShare | _RunShare] = self._parts.get(path, {})
        by_creator: dict[str, list[Any]] = {}
        for creator, group in itertools.groupby(heads, key=reader.creator):
            by_creator.setdefault(creator, []).extend(group)
        plans: list[tuple[str, list[int | None], list[bool]]] = []
        wanted: list[Any] = []  # heads whose whole rows are read
        for creator, own in by_creator.items():
            last = shares.get(creator)
            kept = last.held() if last is not None else ()
            digests = [
                hash(head) if done else None
                for head, done in zip(own, settling.settled(own), strict=True)
            ]
            reuse = [digest is not None and digest in kept for digest in digests]
            wanted += itertools.compress(own, map(operator.not_, reuse))
            plans.append((creator, digests, reuse))
        whole = iter(settling.complete(conn, wanted))
        out: dict[str, _Rows] = {}
        for creator, digests, reuse in plans:
            rows = [None if known else next(whole) for known in reuse]
            out[creator] = (
                tuple(
                    hash(row) if digest is None else digest
                    for digest, row in zip(digests, rows, strict=True)
                ),
                rows,
            )
        return out

    def _rebuild_points(
        self,
        path: str,
        ctx: ExportContext,
        fresh: dict[str, str],
        scope: frozenset[str] | None,
    ) -> FileReads:
        """`_rebuild_parts` for points.json, from the rankings' texts (`loyalty.ranking_texts`):
        a creator whose text is the one last read (by digest) keeps its item's bytes while
        they hold for the clock. Of a ranking that changed, an entry whose text is the one
        last read at its position (by digest) keeps its bytes (cut from the creator's item);
        the others are decoded (one decode for them all: the entries' JSON texts), and they
        and the items of creators new to the file are built and encoded together (one encoder
        call each). Per creator only digests, times and its item's bytes are kept: no text,
        no rows, no entries."""
        ms_now = from_datetime(ctx.now)
        last_shares: dict[str, _PointsShare] = self._parts.get(path, {})
        shares = {} if scope is None else last_shares
        gone = [c for c in (scope or frozenset()) - fresh.keys() if c in shares]
        for creator in gone:
            del shares[creator]  # its rows are gone
        stamps = _Stamps(ctx)  # most rows of a publish share a few times
        # Items and entries are plain values (`canonical_items_bytes`): the rankings' decoded
        # JSON (which holds no non-finite number), positions, formatted times, configured names.
        items: list[dict[str, Any]] = []  # whole items of creators new to the file
        # (creator, digest, entries' digests, entries' times, None for a whole item, else
        # (before, entries (b"" where to fill), after, the positions to fill))
        todo: list[tuple[str, int, array, array, Any]] = []
        wanted: list[str] = []  # the texts of the entries that changed, in `todo`'s order
        for creator, text in fresh.items():
            last = last_shares.get(creator)
            digest = hash(text)
            if last is not None and last.clock_free and last.digest == digest:
                shares[creator] = last  # read again, unchanged
                continue
            texts = loyalty.ranking_entries(text, POINTS_TOP)
            now = array("q", list(map(hash, texts)))
            if last is None or not last.clock_free:
                rows = loyalty.decode_ranking(text, POINTS_TOP)
                item = points_creator(creator, self._names.get(creator))
                item["entries"] = [
                    points_entry(position, name, platform, balance, stamps[updated_at])
                    for position, (name, platform, balance, updated_at) in enumerate(rows, 1)
                ]
                items.append(item)
                todo.append((creator, digest, now, array("q", list(map(_UPDATED_AT, rows))), None))
                continue
            # An entry whose digest is the one last read at its position is the same row
            # there: compared (and the others picked out) by C loops, not one per entry.
            was = last.entries
            before, done, after = split_objects(
                last.items["creators"][0], "entries", indent=ITEM_INDENT + 2
            )
            if len(done) != len(was):
                raise AssertionError(f"{creator}: {len(was)} entries cut in {len(done)}")
            moved = list(itertools.compress(itertools.count(), map(operator.ne, now, was)))
            moments = last.moments[: len(now)]
            if len(now) != len(was):
                del done[len(now) :]  # fewer rows: the last ones are gone
                moved += range(len(was), len(now))  # more rows: new at the end
                done += [b""] * (len(now) - len(done))
                moments.extend(itertools.repeat(0, len(now) - len(moments)))
            wanted += map(texts.__getitem__, moved)
            todo.append((creator, digest, now, moments, (before, done, after, moved)))
        # The changed entries' rows, decoded at once: each entry's text is a JSON array.
        decoded = iter(orjson.loads("[" + ",".join(wanted) + "]") if wanted else ())
        entries: list[dict[str, Any]] = []  # entries that changed, of the others
        strings: list[Any] = []  # what of those entries a scrub could change (with the times)
        for _creator, _digest, _now, moments, cut in todo:
            if cut is None:
                continue
            for index in cut[3]:
                name, platform, balance, updated_at = next(decoded)
                entries.append(points_entry(index + 1, name, platform, balance, stamps[updated_at]))
                strings.append(name)
                strings.append(platform)
                moments[index] = updated_at
        whole = iter(
            encode_items(
                ctx,
                items,
                indent=ITEM_INDENT,
                paths=LazyPaths(
                    lambda: [
                        f"$.creators[0 of {c!r}]" for c, _d, _e, _m, cut in todo if cut is None
                    ],
                    len(items),
                ),
                plain=True,
            )
        )
        # Proved clean as a list of their strings (a fraction of the entries' text), the
        # entries are not scrubbed again.
        clean = bool(entries) and certainly_clean([strings, list(stamps.values())], ctx.secrets)
        changed = iter(
            encode_items(
                ctx,
                entries,
                indent=ITEM_INDENT + 4,
                clean=clean,
                paths=LazyPaths(
                    lambda: [
                        f"$.creators[0 of {c!r}].entries[{i}]"
                        for c, _d, _e, _m, cut in todo
                        if cut is not None
                        for i in cut[3]
                    ],
                    len(entries),
                ),
                plain=True,
            )
        )
        instants: dict[int, datetime] = {}
        for creator, digest, now, moments, cut in todo:
            if cut is None:
                data = next(whole)
            else:
                before, done, after, moved = cut
                for index in moved:
                    done[index] = object_piece(next(changed), index)
                data = join_objects(before, done, after, indent=ITEM_INDENT + 2)
            newest_ms = max(moments)
            newest = instants.get(newest_ms)
            if newest is None:
                newest = instants[newest_ms] = to_datetime(newest_ms)
            shares[creator] = _PointsShare(
                order=(creator,),
                newest=newest,
                latest=newest,
                items={"creators": (data,)},
                digest=digest,
                marks=now + moments,
                clock_free=newest_ms <= ms_now,
            )
        self._parts[path] = shares
        if todo or gone or scope is None:
            self._unwritten.add(path)
        return FileReads(
            creators=None if scope is None else len(scope),
            rows=len(fresh),
            parts_encoded=len(todo),
            entries_encoded=len(entries) + sum(len(item["entries"]) for item in items),
        )

    def _rebuild(
        self, path: str, ctx: ExportContext, fresh: dict[str, Any], scope: frozenset[str] | None
    ) -> FileReads:
        """Build and encode the parts of a file made of parts whose rows `_read_parted` read."""
        if path == _POINTS:
            return self._rebuild_points(path, ctx, fresh, scope)
        if path == _QUOTES:
            return self._rebuild_quotes(path, ctx, fresh, scope)
        return self._rebuild_parts(path, ctx, fresh, scope)

    def _read_quotes(
        self, conn: apsw.Connection, scope: frozenset[str] | None
    ) -> dict[str, _QuotesRead]:
        """`_read_parted` of quotes.json: per creator in `scope` with quotes, how many and the
        highest number; a creator whose part is kept and holds for the clock is read no more
        when those are the same, and only its new quotes when no quote it has was deleted
        (one read for them all); the others' quotes are all read (one read too)."""
        counts = quotes.live_counts(conn, None if scope is None else sorted(scope))
        held: dict[str, _QuotesShare] = self._parts.get(_QUOTES, {})
        kept = {
            c: share
            for c in counts
            if (share := held.get(c)) is not None
            and share.clock_free
            and counts[c][1] >= share.last
        }
        after = {c: share.last for c, share in kept.items() if counts[c][1] > share.last}
        new: dict[str, list[quotes.Quote]] = {}
        for quote in quotes.quotes_after(conn, after):
            new.setdefault(quote.creator_id, []).append(quote)
        out: dict[str, _QuotesRead] = {}
        whole: list[str] = []
        for creator, (count, last) in counts.items():
            share = kept.get(creator)
            if share is not None and count == share.count + len(new.get(creator, ())):
                out[creator] = (count, last, new.get(creator), False)  # no quote of it deleted
            else:
                whole.append(creator)
        if whole:
            again: dict[str, list[quotes.Quote]] = {c: [] for c in whole}
            for quote in quotes.list_quotes(conn, creators=whole):
                again[quote.creator_id].append(quote)
            out |= {c: (*counts[c], rows, True) for c, rows in again.items()}
        return out

    def _rebuild_quotes(
        self,
        path: str,
        ctx: ExportContext,
        fresh: dict[str, _QuotesRead],
        scope: frozenset[str] | None,
    ) -> FileReads:
        """`_rebuild_parts` for quotes.json (`_read_quotes`): a creator's new quotes are built
        and encoded and their items added to the end of its kept run; a creator read whole
        has its quotes built and encoded again. Per creator only its run of bytes is kept."""
        last_shares: dict[str, _QuotesShare] = self._parts.get(path, {})
        shares = {} if scope is None else last_shares
        gone = [c for c in (scope or frozenset()) - fresh.keys() if c in shares]
        for creator in gone:
            del shares[creator]  # no quote of it left
        todo: list[tuple[str, int, int, int, _QuotesShare | None]] = []
        views: list[QuoteView] = []
        for creator, (count, last, rows, whole) in fresh.items():
            if rows is None:
                shares[creator] = last_shares[creator]  # read again, unchanged
                continue
            views += (_quote_view(q, self._names) for q in rows)
            todo.append((creator, count, last, len(rows), None if whole else last_shares[creator]))
        file = PARTED_FILES[path]
        build = file.parts(ctx, views)  # one part per quote, in their order
        if len(build) != len(views):
            raise AssertionError(f"{path}: {len(views)} views made {len(build)} parts")
        encoded = iter(encode_parts(file, ctx, build, plain=True))
        for creator, count, last, size, base in todo:
            mine = list(itertools.islice(encoded, size))
            items = [part.items["quotes"][0] for part in mine]
            moments = [part.newest for part in mine]
            latest = [part.latest for part in mine]
            if base is not None:
                items.insert(0, base.items["quotes"][0])
                moments.append(base.newest)
                latest.append(base.latest)
            shares[creator] = _QuotesShare(
                order=(creator,),
                newest=max(moments),
                latest=max(latest),
                items={"quotes": (join_items(items),)},
                count=count,
                last=last,
                clock_free=max(latest) <= ctx.now,
            )
        self._parts[path] = shares
        if todo or gone or scope is None:
            self._unwritten.add(path)
        return FileReads(
            creators=None if scope is None else len(scope),
            rows=len(views),
            parts_encoded=len(todo),
        )

    def _read_signals(
        self, conn: apsw.Connection, path: str
    ) -> tuple[list[int], dict[int, signals.Signal]]:
        """The ids of the signals `path` lists now (newest first), and those of them not
        read before (all of them when the file's signals are not kept, or when one that is
        not kept is older than the newest kept: nothing is inserted behind, so only after a
        full publish)."""
        kind: Any = _SIGNAL_KINDS[path]
        held = self._signals.get(path)
        ids = signals.recent_signal_ids(conn, kind, limit=self._limit)
        after = -1
        if held:
            newest = max(held)
            if all(i in held for i in ids if i <= newest):
                after = newest
        rows = signals.signals_after(conn, kind, after, limit=self._limit)
        return ids, {s.id: s for s in rows}

    def _rebuild_signals(
        self, path: str, ctx: ExportContext, ids: list[int], new: dict[int, signals.Signal]
    ) -> FileReads:
        """Keep the signals `path` lists now: the new ones built and encoded, and those
        holding a time later than the clock they were built at built again."""
        file = SIGNAL_FILES[path]
        last = self._signals.get(path, {})
        held: dict[int, _HeldSignal | None] = {}
        views: list[SignalRow] = []
        for i in ids:
            kept = last.get(i)
            if i in new or kept is None or not kept.clock_free:
                views.append(_signal_view(new[i], self._names) if kept is None else kept.view)
                kept = None
            held[i] = kept
        built = iter(
            encode_parts(file, ctx, signal_parts(ctx, file.id_field, views, self._key), plain=True)
        )
        shown = iter(views)
        for i, kept in held.items():
            if kept is None:
                part = next(built)
                held[i] = _HeldSignal(
                    view=next(shown), part=part, clock_free=part.latest <= ctx.now
                )
        listed = {i: h for i, h in held.items() if h is not None}
        if views or list(listed) != list(last):
            self._unwritten.add(path)
        self._signals[path] = listed
        return FileReads(creators=None, rows=len(new), parts_encoded=len(views))

    def _rebuild_parts(
        self,
        path: str,
        ctx: ExportContext,
        fresh: dict[str, _Rows],
        scope: frozenset[str] | None,
    ) -> FileReads:
        """Build and encode the parts of the rows that changed among the creators read again
        (and of those holding a time later than the clock they were built at: their bytes
        depend on the clock). Each row makes parts of its own (a tally that moved, a poll
        voted on, is rebuilt alone); a row read again unchanged keeps its parts, and so does
        a settled row not read again (its row is None). A file kept as runs per creator
        (`_RunShare`) keeps a creator's rows' items alike, found by digest."""
        reader = PARTED_READERS[path]
        file, make = PARTED_FILES[path], reader.view
        assert file.part_per_view
        share: type[_RowShare] | type[_RunShare] = _RunShare if reader.runs else _RowShare
        last_shares: dict[str, _RowShare | _RunShare] = self._parts.get(path, {})
        shares = {} if scope is None else last_shares
        gone = [c for c in (scope or frozenset()) - fresh.keys() if c in shares]
        for creator in gone:
            del shares[creator]  # its rows are gone
        todo: list[tuple[str, tuple[int, ...], list[Any]]] = []
        views: list[Any] = []
        for creator, (digests, rows) in fresh.items():
            last = last_shares.get(creator)
            if last is not None and last.clock_free and last.digests == digests:
                shares[creator] = last  # read again, unchanged
                continue
            # Its rows' parts or items (None: to build).
            kept: list[Any] = [None] * len(rows) if last is None else last.reusable(digests, rows)
            views.extend(
                make(row, self._names) for row, p in zip(rows, kept, strict=True) if p is None
            )
            todo.append((creator, digests, kept))
        build = file.parts(ctx, views)  # one part per view, in their order
        if len(build) != len(views):
            raise AssertionError(f"{path}: {len(views)} views made {len(build)} parts")
        # Parts are made of the views' validated values: plain (`canonical_items_bytes`).
        encoded = iter(encode_parts(file, ctx, build, plain=True))
        for creator, digests, kept in todo:
            done: list[Any] = [
                share.row(file.arrays, next(encoded)) if k is None else k for k in kept
            ]
            shares[creator] = share.of(creator, file.arrays, digests, done, ctx.now)
        self._parts[path] = shares
        if todo or gone or scope is None:
            self._unwritten.add(path)
        return FileReads(
            creators=None if scope is None else len(scope),
            rows=sum(len(rows) - rows.count(None) for _digests, rows in fresh.values()),
            parts_encoded=len(build),
        )

    def _context(self, now: datetime) -> ExportContext:
        return ExportContext(now=now, started_at=min(self._started_at, now), secrets=self._secrets)

    @staticmethod
    def _clock_free(inputs: Any, now: datetime) -> bool:
        newest = latest_moment((inputs,))
        return newest is None or newest <= now

    def _remember(self, path: str, tree: TreeInputs, ctx: ExportContext, data: bytes) -> None:
        inputs = tree.for_file(path)
        self._bytes[path] = data
        self._built[path] = _Built(
            inputs=inputs,
            started_at=ctx.started_at,
            now=ctx.now,
            clock_free=self._clock_free(inputs, ctx.now),
        )

    def _tree_file(
        self, path: str, tree: TreeInputs, ctx: ExportContext, *, rebuild: bool = False
    ) -> bytes:
        """A tree file's bytes: a long one from its rows, written only where they changed;
        another the previous bytes when they hold for these inputs and this clock (unless
        `rebuild`)."""
        if path in _SPLICED:
            return self._rows.encode(ctx, self._tree_parts(path, ctx, tree))
        inputs = tree.for_file(path)
        last = self._built.get(path)
        if (
            not rebuild
            and last is not None
            and last.clock_free
            and ctx.now >= last.now
            and last.started_at == ctx.started_at
            and last.inputs == inputs
        ):
            return self._bytes[path]
        data = self._writer.prepare(path, self._build_tree_file(path, ctx, tree))
        self._remember(path, tree, ctx, data)
        return data

    @staticmethod
    def _tree_parts(path: str, ctx: ExportContext, tree: TreeInputs) -> DocumentParts:
        """A long tree file as parts, with the inputs and defaults `build_all` uses."""
        if path == "runtime_snapshot.json":
            return runtime_snapshot_parts(ctx, tree.runtime, heartbeat=ctx.now, actors=tree.actors)
        if path == "chat_triggers.json":
            return chat_triggers_parts(ctx, tree.triggers, timers=tree.timers, filters=tree.filters)
        if path == "creators.json":
            return creators_parts(ctx, tree.creators)
        raise KeyError(path)

    def _build_tree_file(self, path: str, ctx: ExportContext, tree: TreeInputs) -> dict[str, Any]:
        if path == "quotas.json":
            return build_quotas(ctx, tree.quotas)
        if path == "rate_limits.json":
            return build_rate_limits(ctx, tree.rate_limits)
        if path == "discord/runtime.json":
            return build_discord_runtime(ctx, tree.discord)
        if path == "integrations.json":
            return build_integrations(ctx, tree.integrations)
        if path == "telemetry/events.json":
            return build_telemetry_events(
                ctx, tree.events, changed_at=tree.measured_at, heartbeat=ctx.now
            )
        if path == "telemetry/errors.json":
            return build_telemetry_errors(
                ctx, tree.errors, changed_at=tree.measured_at, heartbeat=ctx.now
            )
        if path == "telemetry/rates.json":
            return build_telemetry_rates(
                ctx,
                tree.rates,
                window=RATES_WINDOW,
                measured_at=tree.measured_at,
                heartbeat=ctx.now,
            )
        raise KeyError(path)

    def _db_file(self, path: str, ctx: ExportContext, data: StoreData) -> dict[str, Any]:
        # The same calls (and defaults) as build_all makes for these files; the files made of
        # parts are assembled from them instead (`_rebuild_parts`, `assemble`).
        if path == "clips.json":
            return build_clips(ctx, data.clips)
        if path == "jobs.json":
            return build_jobs(ctx, data.jobs)
        builder = {
            "chat_events.json": build_chat_events,
            "poll_votes.json": build_poll_votes,
            "tally_events.json": build_tally_events,
            "score_events.json": build_score_events,
        }[path]
        return builder(ctx, _db_inputs(path, data), key=self._key, limit=DEFAULT_SIGNAL_LIMIT)

    # -- building ---------------------------------------------------------------------------

    def _collect(self, tree: list[TreeRow], now: datetime) -> TreeInputs:
        """The tree's rows as builder inputs (on the event loop: snapshots are live).

        Per creator, the views of an unchanged row are the ones made last time (so the
        `RowCache` finds their bytes by identity): a creator whose triggers, timers and
        filters show the same activity costs a comparison."""
        details = [row.detail for row in tree]
        # The few rows whose detail may feed the discord, quota, rate limit, account and
        # telemetry rows (each of those functions takes the types it reads): found in one
        # pass, without the thousands of creators' engines and replays.
        special = [
            row
            for row, detail in zip(tree, details, strict=True)
            if detail is not None and _feeds_runtime_files(type(detail))
        ]
        activity = _activity_by_creator(details)
        replays, events, active, last_event = 0, 0, False, None
        replay_rows: list[PlatformStatus] = []
        triggers = _triggers_fired(tree)
        for row, detail in zip(tree, details, strict=True):
            if type(detail) is ReplayStatistics:
                replays += 1
                events += detail.messages
                active = detail.status == "running"  # as the last replay says
                last_event = detail.last_event_at or last_event
                replay_rows.append(
                    _replay_row(detail, triggers.get((detail.creator_id, "replay"), 0))
                )
            elif row.kind == "actor" and row.path.endswith("/replay"):
                # A replay with no statistics to give (restarting, given up, starting): its
                # platform row says so rather than vanishing.
                down = _replay_down(row)
                if down is not None:
                    replays += 1
                    replay_rows.append(down)
        replay = (
            ReplayView(available=True, active=active, event_count=events, last_event_at=last_event)
            if replays
            else ReplayView()
        )
        rows = [self._creator_part(c, activity.get(c.id, _NO_ACTIVITY)) for c in self._creators]
        creators = self._creator_views
        discord = discord_view(special)
        health = components(reporting_rows(tree))  # once, for the platforms and the telemetry
        platforms = platform_rows(
            health,
            configured=self._configured(tree),
            discord=discord,
            extra=replay_rows,
            triggers=triggers,
        )
        actors = self._actor_rows(tree)
        runtime = RuntimeView(
            version=self._context(self._started_at).version,
            platforms=platforms,
            creators=creators,
            actors=actors,
            replay=replay,
        )
        return TreeInputs(
            runtime=runtime,
            creators=creators,
            quotas=quota_rows(special),
            rate_limits=rate_limit_rows(special),
            triggers=RowGroups(groups=tuple((r.creator_id, r.triggers) for r in rows)),
            discord=discord,
            integrations=account_integrations(special),
            events=self._telemetry_events(tree, health, now, special),
            # Failures of the lifecycle, rows actors report themselves (ErrorView values:
            # rejected webhooks, unauthorized control requests), and snapshots that failed.
            errors=(
                *telemetry_errors(health, root_name=self._root_name, now=now),
                *(
                    error
                    for row in special
                    if isinstance(row.detail, ErrorsReported)
                    for error in row.detail.telemetry_errors
                ),
                *(
                    ErrorView(
                        subsystem=row.path.removeprefix(f"{self._root_name}/"),
                        message=f"its statistics could not be taken: {row.detail.error}",
                        last_seen=now,
                    )
                    for row in special
                    if isinstance(row.detail, SnapshotFailed)
                ),
            ),
            rates=self._rates.sample(now, platforms),
            measured_at=now,
            timers=RowGroups(groups=tuple((r.creator_id, r.timers) for r in rows)),
            filters=RowGroups(groups=tuple((r.creator_id, r.filters) for r in rows)),
            actors=actors,
        )

    def _creator_part(self, creator: CreatorConfig, activity: _Activity) -> _CreatorRows:
        """A creator's rows of chat_triggers.json: last time's where its activity is what
        they show (triggers, timers and filters apart). The views themselves hold the
        activity they were made from, so the engine's maps are compared with them: no copy
        of the maps is kept."""
        last = self._creator_rows.get(creator.id)
        fired, posts, hits = activity
        if last is None:
            part = _CreatorRows(
                creator_id=creator.id,
                triggers=trigger_rows((creator,), fired),
                timers=timer_rows((creator,), posts),
                filters=filter_rows((creator,), hits),
            )
        else:
            triggers = self._refired(creator, last.triggers, fired)
            timers = (
                last.timers
                if _counted(last.timers, posts, _TIMER_KEY, _TIMER_SHOWN)
                else timer_rows((creator,), posts)
            )
            filters = (
                last.filters
                if _counted(last.filters, hits, _FILTER_KEY, _FILTER_SHOWN)
                else filter_rows((creator,), hits)
            )
            if triggers is last.triggers and timers is last.timers and filters is last.filters:
                return last
            part = _CreatorRows(
                creator_id=creator.id, triggers=triggers, timers=timers, filters=filters
            )
        self._creator_rows[creator.id] = part
        return part

    @staticmethod
    def _refired(
        creator: CreatorConfig,
        views: tuple[TriggerView, ...],
        fired: Mapping[tuple[str, str], datetime],
    ) -> tuple[TriggerView, ...]:
        """`views` (`trigger_rows` of `creator`) for the fired times `fired`: only the
        triggers whose time differs from the one their view shows are built again (a
        creator's chat fires a few of its triggers between two heartbeats), compared by C
        loops; `views` itself when none differs."""
        shown = map(_LAST_FIRED_AT, views)
        now = map(fired.get, zip(itertools.repeat(creator.id), map(_TRIGGER_ID, views)))
        places = list(itertools.compress(itertools.count(), map(operator.ne, now, shown)))
        if not places:
            return views
        chat = [t for t in creator.triggers if t.pattern is not None]  # the views' order
        out = list(views)
        for i in places:
            trigger = chat[i]
            out[i] = _trigger_view(creator, trigger, fired.get((creator.id, trigger.id)))
        return tuple(out)

    def _configured(self, tree: Sequence[TreeRow]) -> dict[str, bool]:
        """Which platforms are configured and enabled (for the snapshot's placeholders)."""
        configured = dict(self._configured_platforms)
        discord_path = f"{self._root_name}/discord"
        configured["discord"] = any(row.path == discord_path for row in tree)
        return configured

    def _telemetry_events(
        self,
        tree: Sequence[TreeRow],
        health: Sequence[ComponentHealth],
        now: datetime,
        special: Sequence[TreeRow] | None = None,
    ) -> tuple[TelemetryEvent, ...]:
        """Lifecycle events of every component, and restarts of actors seen since the last
        publish (the supervisor keeps counts, not times: a restart is dated when seen);
        `special`: the rows of `tree` that may report telemetry events (None: all of them)."""
        prefix = self._root_name + "/"
        for row in tree:
            path, restarts = row.path, row.restarts
            seen = self._restarts.get(path)
            self._restarts[path] = restarts
            if seen is not None and restarts > seen:
                source = path[len(prefix) :] if path.startswith(prefix) else path
                why = row.last_error
                self._restart_events.append(
                    TelemetryEvent(
                        timestamp=now,
                        severity="warning",
                        source=source,
                        message=f"{source} restarted" + (f": {why}" if why else ""),
                    )
                )
        extra = (*self._restart_events, *telemetry_rows(tree if special is None else special))
        return telemetry_events(health, root_name=self._root_name, extra=extra)

    def _actor_rows(self, tree: Sequence[TreeRow]) -> RowGroups:
        """`actor_rows` grouped by creator (every other row alone), reusing the view of every
        row that did not change since last time, and the tuple of a group none of whose rows
        did (what `RowCache` finds whole)."""
        cache, fresh, group_of = self._actor_cache, {}, self._actor_group_of
        if len(group_of) > 2 * len(tree) + 100:
            group_of.clear()  # paths of actors long gone: forget them
        prefix = self._root_name + "/"
        grouped: dict[str, list[ActorStatus]] = {}
        for row in tree:
            mailbox = row.mailbox
            key = (
                row.path,
                row.kind,
                row.state,
                row.restarts,
                _actor_error(row),
                row.started_at,
                mailbox.depth,
                mailbox.peak,
                row.handled,
            )
            view = cache.get(key)
            if view is None:
                view = _actor_status(row, prefix)
            fresh[key] = view
            group = group_of.get(view.path)
            if group is None:
                group = group_of[view.path] = _creator_of(view.path) or view.path
            grouped.setdefault(group, []).append(view)
        self._actor_cache = fresh
        last, groups = self._actor_groups, []
        for name, views in grouped.items():
            before = last.get(name)
            same = (
                before is not None
                and len(before) == len(views)
                and all(a is b for a, b in zip(before, views, strict=True))
            )
            groups.append((name, before if same and before is not None else tuple(views)))
        self._actor_groups = dict(groups)
        return RowGroups(groups=tuple(groups))

    def _build_all(
        self, ctx: ExportContext, tree: TreeInputs, data: StoreData
    ) -> dict[str, dict[str, Any]]:
        inputs = ExportInputs(
            runtime=tree.runtime,
            polls=data.polls,
            tallies=data.tallies,
            scoreboards=data.scoreboards,
            chat_events=data.chat_events,
            poll_votes=data.poll_votes,
            tally_events=data.tally_events,
            score_events=data.score_events,
            creators=tree.creators,
            quotas=tree.quotas,
            rate_limits=tree.rate_limits,
            triggers=tree.triggers,
            discord=tree.discord,
            integrations=tree.integrations,
            clips=data.clips,
            jobs=data.jobs,
            points=data.points,
            quotes=data.quotes,
            giveaways=data.giveaways,
            timers=tree.timers,
            filters=tree.filters,
            telemetry_events=tree.events,
            telemetry_errors=tree.errors,
            rate_metrics=tree.rates,
            rates_measured_at=tree.measured_at,
            rates_window=RATES_WINDOW,
            changed_at={path: tree.measured_at for path in _TELEMETRY} if tree.measured_at else {},
        )
        return build_all(
            ctx, inputs, pseudonym_key=self._key, heartbeat=ctx.now, telemetry_heartbeat=True
        )

    def _build(self, data: StoreData) -> dict[str, dict[str, Any]]:
        """Every file for this state, the tree now and the clock (what a full publish writes)."""
        now = self._clock()
        return self._build_all(self._context(now), self._collect(self._tree(), now), data)

    def snapshot(self) -> PublisherStatistics:
        last = self.last
        return PublisherStatistics(
            publishes=self.publishes,
            full_publishes=self.full_publishes,
            refreshes=self.refreshes,
            holds=self.holds,
            held=tuple(sorted(self.last_held)),
            last=last,
            last_rebuilt=self.last_rebuilt,
            last_reads=dict(sorted(self.last_reads.items())),
            last_published_at=self.last_published_at,
        )


def _creator_of(path: str) -> str | None:
    """The creator segment of an actor row's path ("creators/creator:daniel/twitch")."""
    parts = path.split("/", 2)
    if len(parts) >= 2 and parts[0] == "creators" and parts[1].startswith("creator:"):
        return parts[1]
    return None


def _stamp(ctx: ExportContext, ms: int) -> str | None:
    """A database time as the export files write it."""
    return export_timestamp(ctx, to_datetime(ms))


class _Stamps(dict[int, str | None]):
    """Database times as the export files write them for one clock, each formatted once."""

    def __init__(self, ctx: ExportContext) -> None:
        super().__init__()
        self._ctx = ctx

    def __missing__(self, ms: int) -> str | None:
        stamp = self[ms] = _stamp(self._ctx, ms)
        return stamp


def _db_inputs(path: str, data: StoreData | None) -> Any:
    if data is None:
        return ()
    return {
        "polls.json": data.polls,
        "clips.json": data.clips,
        "jobs.json": data.jobs,
        "tallies.json": data.tallies,
        "scoreboards.json": data.scoreboards,
        "chat_events.json": data.chat_events,
        "poll_votes.json": data.poll_votes,
        "tally_events.json": data.tally_events,
        "score_events.json": data.score_events,
        "points.json": data.points,
        "quotes.json": data.quotes,
        "giveaways.json": data.giveaways,
    }[path]


def _nothing(_conn: apsw.Connection) -> None:
    """A read that only waits for its turn in the store."""
