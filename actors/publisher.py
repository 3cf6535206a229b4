"""`SnapshotPublisher`: turns the state into the export files.

It publishes when told something changed (coalescing bursts) and at least every
`heartbeat_seconds`, so `runtime_snapshot.json` always shows a fresh heartbeat. Reads use
the publisher's own read-only connection; building is pure; reading, building, serialising and
writing (with fsync) run in a worker thread, so a big publish never stalls the event loop.

Publishing is incremental. Files fall in three groups:

- database files (`DB_FILES`): rebuilt only when dirty. The store's `Changed(topic)` marks the
  files of that topic (`TOPIC_FILES`; an unknown topic marks them all), and only the tables
  those files need are read;
- tree files (`TREE_FILES`): made from the actors' snapshots, rebuilt on every publish (a
  heartbeat rebuilds these only); one whose inputs did not change keeps its previous bytes;
- static files (everything else): built from inputs the publisher does not have yet, so they
  only change with the clock-independent context; written by full publishes.

A full publish (at start, `PublishNow`, every `full_refresh_seconds`, after a failed write of a
static file) rebuilds everything with `build_all`. Every file always holds the bytes a full
publish would write for the same state and clock: a file whose inputs carry a time later than
the clock (clamped, so it depends on the clock) stays dirty, and a heartbeat that finds the
database changed since the last read (`PRAGMA data_version`: a commit came without a
`Changed`) rebuilds every database file. A `Changed` lost while other files were read (the
store drops it when this mailbox is full) is caught by the periodic full refresh.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import apsw
import attrs
import structlog
import trio

from actors import Actor
from actors.clips.views import clip_views, job_views
from actors.notify.rules import job_view as notify_job_view
from actors.ratelimit import view_from_row
from actors.store import Changed
from config.models import CreatorConfig
from exports.builders import (
    DEFAULT_SIGNAL_LIMIT,
    ExportInputs,
    build_all,
    build_chat_events,
    build_chat_triggers,
    build_clips,
    build_creators,
    build_discord_runtime,
    build_jobs,
    build_poll_votes,
    build_polls,
    build_quotas,
    build_rate_limits,
    build_runtime_snapshot,
    build_score_events,
    build_scoreboards,
    build_tallies,
    build_tally_events,
    build_telemetry_errors,
)
from exports.canonical import format_timestamp
from exports.files import FILES, ExportContext, clamp_to_now
from exports.publish import ExportWriter, Mirror, PublishResult
from exports.views import (
    ActorStatus,
    ClipView,
    CreatorView,
    DiscordView,
    ErrorView,
    GuildView,
    JobView,
    PlatformStatus,
    PollOption,
    PollView,
    QuotaView,
    RateLimitView,
    ReplayView,
    RuntimeView,
    ScoreboardView,
    ScoreEntry,
    SignalRow,
    TallyView,
    TriggerView,
)
from state import clips, counters, outbox, polls, signals
from state.timeutil import to_datetime


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


#: Most clips and jobs a file lists (newest first).
JOB_LIMIT = 500

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
    }
)
#: Files made from the actors' snapshots: rebuilt on every publish.
TREE_FILES: frozenset[str] = frozenset(
    {
        "runtime_snapshot.json",
        "quotas.json",
        "rate_limits.json",
        "chat_triggers.json",
        "creators.json",
        "discord/runtime.json",
        "telemetry/errors.json",
    }
)
#: Files whose inputs the publisher does not collect yet: written by full publishes only.
STATIC_FILES: frozenset[str] = frozenset(f.path for f in FILES) - DB_FILES - TREE_FILES

_SIGNAL_KINDS = {
    "chat_events.json": "chat",
    "poll_votes.json": "poll_vote",
    "tally_events.json": "tally",
    "score_events.json": "score",
}
_SIGNAL_FILES = frozenset(_SIGNAL_KINDS)

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
    "quotas": frozenset(),  # quotas.json comes from the quota registry's snapshot
    "clips": frozenset({"clips.json", "jobs.json"}),
    "streams": frozenset(),
    "outbox": frozenset({"jobs.json"}),  # notification deliveries are jobs too
    "chat_seen": frozenset(),
}


def files_for_topic(topic: str) -> frozenset[str]:
    """The database files a `Changed(topic)` makes dirty (all of them for an unknown topic)."""
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
    want = DB_FILES if files is None else files
    conn.execute("BEGIN")
    try:
        poll_rows = polls.list_polls_with_results(conn) if "polls.json" in want else None
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
    finally:
        conn.execute("COMMIT")

    def views(table: str, rows: Iterable[Any] | None, make: Any) -> tuple[Any, ...]:
        return () if rows is None else _views(table, rows, make, names, cache)

    return StoreData(
        clips=tuple(clip_views(clip_rows)) if clip_rows is not None else (),
        jobs=(
            (*job_views(clip_rows or ()), *(notify_job_view(e) for e in deliveries))
            if deliveries is not None
            else ()
        ),
        polls=views("polls", poll_rows, _poll_view),
        tallies=views("tallies", tally_rows, _tally_view),
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


def actor_rows(tree: Sequence[Mapping[str, Any]], root_name: str) -> tuple[ActorStatus, ...]:
    """The supervision tree as export rows (paths relative to the root)."""
    prefix = root_name + "/"
    return tuple(
        ActorStatus(
            path=row["path"][len(prefix) :] if row["path"].startswith(prefix) else row["path"],
            kind=row["kind"] if row["kind"] in ("actor", "supervisor") else "actor",
            state=row["state"],
            restarts=row["restarts"],
            last_error=row["last_error"],
            started_at=row["started_at"],
            mailbox_depth=row["mailbox"]["depth"],
            mailbox_peak=row["mailbox"]["peak"],
            handled=row["handled"],
        )
        for row in tree
    )


log = structlog.get_logger("actors.publisher")

CHAT_PLATFORMS = frozenset({"twitch", "youtube", "kick", "rumble", "replay"})


def platform_rows(tree: Sequence[Mapping[str, Any]]) -> tuple[PlatformStatus, ...]:
    """Platform actors describe themselves in `snapshot()` with a `platform` key."""
    rows = []
    for row in tree:
        detail = row.get("detail") or {}
        if detail.get("platform") not in CHAT_PLATFORMS:
            continue  # the Discord bot, the live monitor...: not chat platforms
        status = detail.get("status", "running")
        if row["state"] in ("restarting", "failed"):
            status = "error"
        try:
            platform_row = PlatformStatus(
                platform=detail["platform"],
                creator_id=detail.get("creator_id"),
                enabled=detail.get("enabled", True),
                status=status,
                last_heartbeat=detail.get("last_heartbeat"),
                last_event_at=detail.get("last_event_at"),
                error=detail.get("error") or row["last_error"],
                paused_reason=detail.get("paused_reason"),
                messages=detail.get("messages", 0),
                triggers=detail.get("triggers", 0),
                actions=detail.get("actions", 0),
                errors=detail.get("errors", 0),
            )
        except (TypeError, ValueError) as exc:  # one actor's odd detail must not stop exports
            log.warning("platform status skipped", path=row["path"], error=str(exc))
            continue
        rows.append(platform_row)
    return tuple(rows)


def _moment(value: Any) -> datetime | None:
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if isinstance(value, datetime) else None


def discord_view(tree: Sequence[Mapping[str, Any]]) -> DiscordView:
    """discord/runtime.json from the Discord bot's snapshot (an empty view without a bot)."""
    for row in tree:
        detail = row.get("detail") or {}
        if detail.get("platform") != "discord":
            continue
        try:
            return DiscordView(
                running=bool(detail.get("running")) and row["state"] == "running",
                connected=bool(detail.get("connected")),
                started_at=_moment(detail.get("started_at")),
                last_heartbeat=_moment(detail.get("last_heartbeat")),
                task_count=int(detail.get("task_count") or 0),
                status_text=str(detail.get("status") or ""),
                guilds=tuple(
                    GuildView(
                        guild_id=str(g["guild_id"]),
                        guild_name=str(g.get("guild_name") or ""),
                        bot_present=bool(g.get("bot_present")),
                        authorized_for_user=bool(g.get("authorized_for_user")),
                        authorization_reason=g.get("authorization_reason") or "none",
                        notifications_enabled=bool(g.get("notifications_enabled")),
                        general_channel_id=g.get("notifications_channel_id"),
                    )
                    for g in detail.get("guilds", ())
                ),
            )
        except (TypeError, ValueError, KeyError) as exc:
            log.warning("discord status skipped", path=row["path"], error=str(exc))
    return DiscordView()


def quota_rows(tree: Sequence[Mapping[str, Any]]) -> tuple[QuotaView, ...]:
    """The quota registry describes its trackers in `snapshot()` under `quotas`."""
    return tuple(
        QuotaView(
            platform=q["platform"],
            creator_id=q["creator_id"],
            used=q["used"],
            max=q["max"],
            buffer=q["buffer"],
            # The dashboard reads reset_at as the start of the current window (never future).
            reset_at=q["window_start"],
        )
        for row in tree
        for q in (row.get("detail") or {}).get("quotas", ())
    )


def rate_limit_rows(tree: Sequence[Mapping[str, Any]]) -> tuple[RateLimitView, ...]:
    """Platform actors describe their token buckets in `snapshot()` under `rate_limits`."""
    return tuple(
        view_from_row(r) for row in tree for r in (row.get("detail") or {}).get("rate_limits", ())
    )


def trigger_rows(
    creators: Sequence[CreatorConfig], fired: Mapping[tuple[str, str], datetime]
) -> tuple[TriggerView, ...]:
    """The configured triggers as applied, with when each last fired."""
    return tuple(
        TriggerView(
            trigger_id=t.id,
            creator_id=c.id,
            phrase=t.pattern,
            module=t.kind,
            enabled=t.enabled and c.enabled,
            cooldown_seconds=max(t.cooldown_user, t.cooldown_trigger, t.cooldown_global),
            last_fired_at=fired.get((c.id, t.id)),
        )
        for c in creators
        for t in c.triggers
    )


_FIELDS: dict[type, Callable[[Any], tuple[Any, ...]]] = {}
_PLAIN = frozenset({str, int, float, bool, type(None)})


def _fields_of(kind: type) -> Callable[[Any], tuple[Any, ...]] | None:
    getter = _FIELDS.get(kind)
    if getter is None and attrs.has(kind):
        names = [f.name for f in attrs.fields(kind)]
        if len(names) == 1:
            one = operator.attrgetter(names[0])
            getter = _FIELDS[kind] = lambda value: (one(value),)
        else:
            getter = _FIELDS[kind] = operator.attrgetter(*names)
    return getter


def latest_moment(values: Iterable[Any]) -> datetime | None:
    """The latest datetime anywhere in these views (attrs instances, tuples), or None.

    A file whose inputs hold a time later than the build's clock was clamped to that clock,
    so it is only what a full publish would write for that very clock.
    """
    newest: datetime | None = None
    stack = list(values)
    pop, extend = stack.pop, stack.extend
    while stack:
        value = pop()
        kind = type(value)
        if kind in _PLAIN:
            continue
        if isinstance(value, datetime):
            if newest is None or value > newest:
                newest = value
        elif kind is tuple or kind is list:
            extend(value)
        else:
            getter = _fields_of(kind)
            if getter is not None:
                extend(getter(value))
    return newest


@attrs.frozen(kw_only=True)
class TreeInputs:
    """The builder inputs taken from the actor tree (collected on the event loop)."""

    runtime: RuntimeView
    creators: tuple[CreatorView, ...]
    quotas: tuple[QuotaView, ...]
    rate_limits: tuple[RateLimitView, ...]
    triggers: tuple[TriggerView, ...]
    discord: DiscordView = attrs.field(factory=DiscordView)
    telemetry_errors: tuple[ErrorView, ...] = ()

    def for_file(self, path: str) -> Any:
        """The inputs of one tree file (compared to decide whether to rebuild it)."""
        return {
            "runtime_snapshot.json": self.runtime,
            "quotas.json": self.quotas,
            "rate_limits.json": self.rate_limits,
            "chat_triggers.json": self.triggers,
            "creators.json": self.creators,
            "discord/runtime.json": self.discord,
            "telemetry/errors.json": self.telemetry_errors,
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


_SNAPSHOT = "runtime_snapshot.json"


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
        tree: Callable[[], list[dict[str, Any]]],
        root_name: str,
        started_at: datetime,
        pseudonym_key: bytes,
        secrets: frozenset[str] = frozenset(),
        heartbeat_seconds: float = 10.0,
        debounce_seconds: float = 0.25,
        signal_limit: int = 200,
        full_refresh_seconds: float = 300.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._database = database
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
        self._limit = signal_limit
        self._refresh = full_refresh_seconds
        self._clock = clock
        self._dirty = trio.Event()
        self._lock = trio.Lock()
        self._conn: apsw.Connection | None = None
        self._limiter = trio.CapacityLimiter(1)
        # Incremental state; touched only under `_lock` (by the worker thread during a publish).
        self._pending: set[str] = set()  # database files to rebuild at the next publish
        self._full_due = True
        self._last_full: float | None = None
        self._data_version: int | None = None  # as of the last database read
        self._bytes: dict[str, bytes] = {}  # last prepared bytes of each tree file
        self._built: dict[str, _Built] = {}
        self._views: dict[str, dict[Any, Any]] = {}  # read_store's cache of row views
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
        self._fired: dict[tuple[str, str], datetime] | None = None
        self._triggers: tuple[TriggerView, ...] = ()
        self._actor_cache: dict[tuple[Any, ...], ActorStatus] = {}
        self.publishes = 0
        self.full_publishes = 0
        self.last: PublishSummary | None = None
        self.last_rebuilt: tuple[str, ...] = ()
        self.last_published_at: datetime | None = None

    async def on_start(self) -> None:
        uri = self._database.resolve().as_uri() + "?mode=ro"
        flags = apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI
        self._conn = await trio.to_thread.run_sync(lambda: apsw.Connection(uri, flags=flags))
        self._conn.set_busy_timeout(5000)
        await trio.to_thread.run_sync(self._writer.cleanup_stale_temp_files)
        await self.publish(full=True)  # every file exists from the first moment on

    async def on_stop(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()

    async def run(self) -> None:
        while True:
            with trio.move_on_after(self._heartbeat):
                await self._dirty.wait()
                await trio.sleep(self._debounce)  # let a burst of changes land first
            # Only this loop replaces the event: a change arriving during the publish below
            # sets the new one (and adds to the new pending set), so it is published next
            # round, never lost.
            self._dirty = trio.Event()
            await self.publish()

    async def handle(self, message: Any) -> Any:
        if isinstance(message, Changed):
            self._pending |= files_for_topic(message.topic)
            self._dirty.set()  # even with no database file: tree files may show the change
            return None
        if isinstance(message, PublishNow):
            return await self.publish(full=True)
        raise TypeError(f"SnapshotPublisher takes Changed or PublishNow, got {message!r}")

    async def publish(self, *, full: bool = False) -> PublishSummary:
        """Rebuild and write the tree files and the dirty database files (all with `full`).

        A publish with nothing dirty is a heartbeat: it also checks that no database change
        went unannounced since the last read.
        """
        async with self._lock:
            t0 = time.perf_counter()
            now_mono = trio.current_time()
            if self._last_full is not None and now_mono - self._last_full >= self._refresh:
                full = True
            full = full or self._full_due
            pending, self._pending = self._pending, set()
            now = self._clock()
            tree = self._collect(self._tree())
            try:
                outcome = await trio.to_thread.run_sync(
                    self._publish_sync, full, frozenset(pending), tree, now, limiter=self._limiter
                )
            except BaseException:
                self._pending |= pending  # not published: keep them for the next attempt
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
                self._last_full = now_mono
                self.full_publishes += 1
            summary = PublishSummary(
                written=sum(1 for o in result.outcomes if o.written),
                skipped=sum(1 for o in result.outcomes if not o.written and not o.error),
                errors=sum(1 for o in result.outcomes if o.error),
                seconds=time.perf_counter() - t0,
            )
            if summary.errors:
                self.log.error("publish had write errors", errors=summary.errors)
            self.publishes += 1
            self.last = summary
            self.last_rebuilt = outcome.rebuilt
            self.last_published_at = self._clock()
            return summary

    # -- worker thread ----------------------------------------------------------------------

    def _publish_sync(
        self, full: bool, pending: frozenset[str], tree: TreeInputs, now: datetime
    ) -> _Outcome:
        """Read, build, serialise and write (blocking; runs in the worker thread)."""
        conn = self._conn
        assert conn is not None
        ctx = self._context(now)
        if not full and not pending:
            # Heartbeat: a commit without a Changed (a lost message, a direct write) since the
            # last read makes every database file suspect.
            if data_version(conn) != self._data_version:
                pending = DB_FILES
        if full:
            version = data_version(conn)  # before the read: later commits will differ
            data = read_store(conn, self._names, self._limit, cache=self._views)
            self._data_version = version
            docs = self._build_all(ctx, tree, data)
            prepared = {path: self._writer.prepare(path, doc) for path, doc in docs.items()}
            for path in TREE_FILES:
                self._remember(path, tree, ctx, prepared[path])
            dirty = DB_FILES
        else:
            dirty = pending & DB_FILES
            data = None
            if dirty:
                # Recorded at every read: a heartbeat then only rereads after commits that
                # came with no `Changed` at all. A commit whose `Changed` was lost while
                # another topic was read is caught by the periodic full refresh.
                version = data_version(conn)
                data = read_store(conn, self._names, self._limit, dirty, cache=self._views)
                self._data_version = version
            prepared = {}
            for path in sorted(TREE_FILES):
                prepared[path] = self._tree_file(path, tree, ctx)
            for path in sorted(dirty):
                assert data is not None
                prepared[path] = self._writer.prepare(path, self._db_file(path, ctx, data))
        redo = frozenset(
            path for path in dirty if not self._clock_free(_db_inputs(path, data), ctx.now)
        )
        result = self._writer.publish_prepared(prepared)
        return _Outcome(result=result, rebuilt=tuple(sorted(prepared)), redo=redo)

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

    def _tree_file(self, path: str, tree: TreeInputs, ctx: ExportContext) -> bytes:
        """A tree file's bytes; the previous ones when they hold for these inputs and clock."""
        inputs = tree.for_file(path)
        last = self._built.get(path)
        if (
            last is not None
            and last.clock_free
            and ctx.now >= last.now
            and last.started_at == ctx.started_at
            and last.inputs == inputs
        ):
            if path != _SNAPSHOT:
                return self._bytes[path]
            patched = _move_heartbeat(self._bytes[path], last.now, ctx)
            if patched is not None:
                self._bytes[path] = patched
                self._built[path] = attrs.evolve(last, now=ctx.now)
                return patched
        data = self._writer.prepare(path, self._build_tree_file(path, ctx, tree))
        self._remember(path, tree, ctx, data)
        return data

    def _build_tree_file(self, path: str, ctx: ExportContext, tree: TreeInputs) -> dict[str, Any]:
        if path == "runtime_snapshot.json":
            return build_runtime_snapshot(ctx, tree.runtime, heartbeat=ctx.now)
        if path == "quotas.json":
            return build_quotas(ctx, tree.quotas)
        if path == "rate_limits.json":
            return build_rate_limits(ctx, tree.rate_limits)
        if path == "chat_triggers.json":
            return build_chat_triggers(ctx, tree.triggers)
        if path == "creators.json":
            return build_creators(ctx, tree.creators)
        if path == "discord/runtime.json":
            return build_discord_runtime(ctx, tree.discord)
        if path == "telemetry/errors.json":
            return build_telemetry_errors(ctx, tree.telemetry_errors)
        raise KeyError(path)

    def _db_file(self, path: str, ctx: ExportContext, data: StoreData) -> dict[str, Any]:
        # The same calls (and defaults) as build_all makes for these files.
        if path == "polls.json":
            return build_polls(ctx, data.polls)
        if path == "tallies.json":
            return build_tallies(ctx, data.tallies)
        if path == "scoreboards.json":
            return build_scoreboards(ctx, data.scoreboards)
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

    def _collect(self, tree: list[dict[str, Any]]) -> TreeInputs:
        """The tree's snapshot rows as builder inputs (on the event loop: snapshots are live)."""
        details = [row.get("detail") or {} for row in tree]
        fired: dict[tuple[str, str], datetime] = {}
        replay = ReplayView()
        for detail in details:
            for (creator_id, trigger_id), at in detail.get("fired_at", {}).items():
                fired[(creator_id, trigger_id)] = at
            if detail.get("platform") == "replay":
                replay = ReplayView(
                    available=True,
                    active=detail.get("status") == "running",
                    event_count=replay.event_count + detail.get("messages", 0),
                    last_event_at=detail.get("last_event_at") or replay.last_event_at,
                )
        creators = self._creator_views
        if fired != self._fired:
            self._fired, self._triggers = fired, trigger_rows(self._creators, fired)
        runtime = RuntimeView(
            version=self._context(self._started_at).version,
            platforms=platform_rows(tree),
            creators=creators,
            actors=self._actor_rows(tree),
            replay=replay,
        )
        return TreeInputs(
            runtime=runtime,
            creators=creators,
            quotas=quota_rows(tree),
            rate_limits=rate_limit_rows(tree),
            triggers=self._triggers,
            discord=discord_view(tree),
            # Actors report failures worth a row as `telemetry_errors` (ErrorView values).
            telemetry_errors=tuple(e for d in details for e in d.get("telemetry_errors", ())),
        )

    def _actor_rows(self, tree: Sequence[Mapping[str, Any]]) -> tuple[ActorStatus, ...]:
        """`actor_rows`, reusing the view of every row that did not change since last time."""
        cache, fresh = self._actor_cache, {}
        out = []
        for row in tree:
            mailbox = row["mailbox"]
            key = (
                row["path"],
                row["kind"],
                row["state"],
                row["restarts"],
                row["last_error"],
                row["started_at"],
                mailbox["depth"],
                mailbox["peak"],
                row["handled"],
            )
            view = cache.get(key)
            if view is None:
                (view,) = actor_rows([row], self._root_name)
            fresh[key] = view
            out.append(view)
        self._actor_cache = fresh
        return tuple(out)

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
            telemetry_errors=tree.telemetry_errors,
            clips=data.clips,
            jobs=data.jobs,
        )
        return build_all(ctx, inputs, pseudonym_key=self._key, heartbeat=ctx.now)

    def _build(self, data: StoreData) -> dict[str, dict[str, Any]]:
        """Every file for this state, the tree now and the clock (what a full publish writes)."""
        now = self._clock()
        return self._build_all(self._context(now), self._collect(self._tree()), data)

    def snapshot(self) -> dict[str, Any]:
        last = self.last
        return {
            "publishes": self.publishes,
            "full_publishes": self.full_publishes,
            "last_seconds": round(last.seconds, 4) if last else None,
            "last_written": last.written if last else 0,
            "last_rebuilt": len(self.last_rebuilt),
            "last_published_at": self.last_published_at,
        }


# The two top-level lines of runtime_snapshot.json that hold the clock (keys sorted, indent 2:
# a newline, exactly two spaces and a quote start a top-level key, never a nested one).
_CLOCK_LINES = (b'\n  "heartbeat": "', b'\n  "timestamp": "')


def _move_heartbeat(data: bytes, then: datetime, ctx: ExportContext) -> bytes | None:
    """runtime_snapshot.json built at `then` as it is built at `ctx.now`, or None.

    Only for bytes built from inputs equal to the current ones, none later than `then`: every
    other timestamp is then the same, and only `heartbeat` and `timestamp` (the write time) move.
    Both are plain timestamps (no secret-looking text, so scrubbing is unaffected).
    """
    old = format_timestamp(clamp_to_now(ctx, then)).encode()
    new = format_timestamp(ctx.now).encode()
    for line in _CLOCK_LINES:
        if data.count(line + old + b'"') != 1:
            return None  # not the expected shape: build it normally
        data = data.replace(line + old + b'"', line + new + b'"')
    return data


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
    }[path]
