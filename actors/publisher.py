"""`SnapshotPublisher`: turns the state into the export files.

It publishes when told something changed (coalescing bursts) and at least every
`heartbeat_seconds`, so `runtime_snapshot.json` always shows a fresh heartbeat. Reads use
the publisher's own read-only connection; building is pure; writing (with fsync) runs in a
worker thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import apsw
import attrs
import trio

from actors import Actor
from actors.ratelimit import view_from_row
from actors.store import Changed
from config.models import CreatorConfig
from exports.builders import ExportInputs, build_all
from exports.files import ExportContext
from exports.publish import ExportWriter, Mirror
from exports.views import (
    ActorStatus,
    CreatorView,
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
from state import counters, polls, signals
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


def read_store(conn: apsw.Connection, names: Mapping[str, str], limit: int) -> StoreData:
    """Read the exported state in one read transaction (a consistent snapshot)."""
    conn.execute("BEGIN")
    try:
        poll_rows = polls.list_polls(conn)
        tally_rows = counters.list_tallies(conn)
        board_rows = counters.list_scoreboards(conn)
        recent = {
            kind: signals.recent_signals(conn, kind, limit=limit)
            for kind in ("chat", "poll_vote", "tally", "score")
        }
    finally:
        conn.execute("COMMIT")
    return StoreData(
        polls=tuple(
            PollView(
                poll_id=r.poll.poll_id,
                creator_id=r.poll.creator_id,
                question=r.poll.question,
                state=r.poll.state,
                opened_at=to_datetime(r.poll.opened_at),
                closed_at=to_datetime(r.poll.closed_at) if r.poll.closed_at else None,
                options=tuple(
                    PollOption(
                        option_id=o.option_id, label=o.label, votes=o.votes, position=o.position
                    )
                    for o in r.options
                ),
                creator_name=names.get(r.poll.creator_id),
                updated_at=to_datetime(getattr(r, "updated_at", None) or r.poll.opened_at),
            )
            for r in poll_rows
        ),
        tallies=tuple(
            TallyView(
                tally_id=t.tally_id,
                creator_id=t.creator_id,
                label=t.label,
                count=t.count,
                updated_at=to_datetime(t.updated_at),
                creator_name=names.get(t.creator_id),
            )
            for t in tally_rows
        ),
        scoreboards=tuple(
            ScoreboardView(
                scoreboard_id=b.scoreboard.scoreboard_id,
                creator_id=b.scoreboard.creator_id,
                title=b.scoreboard.title,
                updated_at=to_datetime(b.scoreboard.updated_at),
                entries=tuple(
                    ScoreEntry(position=e.position, label=e.label, score=e.score)
                    for e in b.entries
                ),
                creator_name=names.get(b.scoreboard.creator_id),
            )
            for b in board_rows
        ),
        **{
            field: tuple(
                SignalRow(
                    timestamp=to_datetime(s.timestamp),
                    type=s.type,
                    source=s.source,
                    subject_id=s.entity_id,
                    summary=s.summary,
                    creator_id=s.creator_id,
                )
                for s in recent[kind]
            )
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


def platform_rows(tree: Sequence[Mapping[str, Any]]) -> tuple[PlatformStatus, ...]:
    """Platform actors describe themselves in `snapshot()` with a `platform` key."""
    rows = []
    for row in tree:
        detail = row.get("detail") or {}
        if "platform" not in detail:
            continue
        status = detail.get("status", "running")
        if row["state"] in ("restarting", "failed"):
            status = "error"
        rows.append(
            PlatformStatus(
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
        )
    return tuple(rows)


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


class SnapshotPublisher(Actor):
    """Publishes the export files on change and on a heartbeat."""

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
        self._clock = clock
        self._dirty = trio.Event()
        self._lock = trio.Lock()
        self._conn: apsw.Connection | None = None
        self._limiter = trio.CapacityLimiter(1)
        self.publishes = 0
        self.last: PublishSummary | None = None
        self.last_published_at: datetime | None = None

    async def on_start(self) -> None:
        uri = self._database.resolve().as_uri() + "?mode=ro"
        flags = apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI
        self._conn = await trio.to_thread.run_sync(lambda: apsw.Connection(uri, flags=flags))
        self._conn.set_busy_timeout(5000)
        await trio.to_thread.run_sync(self._writer.cleanup_stale_temp_files)
        await self.publish()  # every file exists from the first moment on

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
            # sets the new one, so it is published next round, never lost.
            self._dirty = trio.Event()
            await self.publish()

    async def handle(self, message: Any) -> Any:
        if isinstance(message, Changed):
            self._dirty.set()
            return None
        if isinstance(message, PublishNow):
            return await self.publish()
        raise TypeError(f"SnapshotPublisher takes Changed or PublishNow, got {message!r}")

    async def publish(self) -> PublishSummary:
        """Read, build and write every file once."""
        async with self._lock:
            t0 = time.perf_counter()
            conn = self._conn
            assert conn is not None
            data = await trio.to_thread.run_sync(
                read_store, conn, self._names, self._limit, limiter=self._limiter
            )
            docs = self._build(data)
            result = await trio.to_thread.run_sync(
                self._writer.publish, docs, limiter=self._limiter
            )
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
            self.last_published_at = self._clock()
            return summary

    def _build(self, data: StoreData) -> dict[str, dict[str, Any]]:
        now = self._clock()
        tree = self._tree()
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
        creators = tuple(
            CreatorView(
                creator_id=c.id,
                display_name=c.display_name,
                enabled=c.enabled,
                platforms=tuple((p, s.enabled) for p, s in c.sources().items()),
                status="running" if c.enabled else "disabled",
                created_at=self._started_at,
            )
            for c in self._creators
        )
        runtime = RuntimeView(
            version=ExportContext(now=now, started_at=self._started_at).version,
            platforms=platform_rows(tree),
            creators=creators,
            actors=actor_rows(tree, self._root_name),
            replay=replay,
        )
        inputs = ExportInputs(
            runtime=runtime,
            polls=data.polls,
            tallies=data.tallies,
            scoreboards=data.scoreboards,
            chat_events=data.chat_events,
            poll_votes=data.poll_votes,
            tally_events=data.tally_events,
            score_events=data.score_events,
            creators=creators,
            quotas=quota_rows(tree),
            rate_limits=rate_limit_rows(tree),
            triggers=trigger_rows(self._creators, fired),
        )
        ctx = ExportContext(now=now, started_at=min(self._started_at, now), secrets=self._secrets)
        return build_all(ctx, inputs, pseudonym_key=self._key, heartbeat=now)

    def snapshot(self) -> dict[str, Any]:
        last = self.last
        return {
            "publishes": self.publishes,
            "last_seconds": round(last.seconds, 4) if last else None,
            "last_written": last.written if last else 0,
            "last_published_at": self.last_published_at,
        }
