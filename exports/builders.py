"""One builder per export file: typed views in, the file's dict out.

Builders are pure: the same views and the same :class:`~exports.files.ExportContext` give equal
dicts (hence byte-identical files). Common rules applied here:

- every list is sorted by a stable key (clips and polls newest first, signals newest last);
- every timestamp is formatted as UTC milliseconds with ``Z`` and clamped to ``ctx.now``;
- ``generated_at`` (top level and ``meta``) is ``changed_at`` when the caller knows when the
  state last changed, otherwise the newest timestamp among the inputs, otherwise
  ``ctx.started_at`` (empty inputs: nothing changed since boot);
- every string is scrubbed of known secrets and secret-looking tokens
  (:func:`exports.scrub.scrub`), and signal files pseudonymize user ids.

Every builder accepts empty inputs, so the dashboard always has all of its files.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

import attrs

from exports.canonical import format_timestamp
from exports.files import FILES, ExportContext, build_meta, clamp_to_now, get_file
from exports.scrub import pseudonymize, scrub_document
from exports.views import (
    ActorStatus,
    ClipView,
    CreatorView,
    DiscordView,
    ErrorView,
    FilterView,
    GiveawayView,
    IntegrationView,
    JobView,
    PermissionView,
    PlatformStatus,
    PointsView,
    PollView,
    QuotaView,
    QuoteView,
    RateLimitView,
    RateMetric,
    RuntimeView,
    ScoreboardView,
    SignalRow,
    TallyView,
    TelemetryEvent,
    TimerView,
    TriggerView,
)

__all__ = [
    "DEFAULT_SIGNAL_LIMIT",
    "DEFAULT_TELEMETRY_LIMIT",
    "PARTED_FILES",
    "SIGNAL_FILES",
    "TOKEN_EXPIRING_WITHIN",
    "DocumentParts",
    "ExportInputs",
    "Part",
    "PartedFile",
    "PartsLayout",
    "RowList",
    "SignalFile",
    "build_all",
    "build_chat_events",
    "build_chat_triggers",
    "build_clips",
    "build_creators",
    "build_discord_runtime",
    "build_giveaways",
    "build_integrations",
    "build_jobs",
    "build_manifest",
    "build_permissions",
    "build_points",
    "build_poll_votes",
    "build_polls",
    "build_quotas",
    "build_quotes",
    "build_rate_limits",
    "build_runtime_snapshot",
    "build_score_events",
    "build_scoreboards",
    "build_tallies",
    "build_tally_events",
    "build_telemetry_errors",
    "build_telemetry_events",
    "build_telemetry_rates",
    "chat_triggers_parts",
    "creators_parts",
    "document_from_parts",
    "document_skeleton",
    "export_timestamp",
    "ordered_parts",
    "points_creator",
    "points_entry",
    "runtime_snapshot_parts",
    "signal_parts",
]

#: Signal files are bounded: the newest rows are kept.
DEFAULT_SIGNAL_LIMIT = 200
#: Telemetry events and errors are bounded likewise.
DEFAULT_TELEMETRY_LIMIT = 200
#: An integration token expiring within this delay is reported as ``expiring``.
TOKEN_EXPIRING_WITHIN = timedelta(hours=24)

_PLATFORM_NAMES = {
    "twitch": "Twitch",
    "youtube": "YouTube",
    "kick": "Kick",
    "rumble": "Rumble",
    "discord": "Discord",
    "replay": "Replay",
}
# Most severe first: one creator in error shows the platform in error.
_STATUS_RANK = {"error": 0, "running": 1, "paused": 2, "inactive": 3, "disabled": 4}
_QUOTA_RANK = {"exhausted": 0, "buffer": 1, "ok": 2}


# --- helpers -------------------------------------------------------------------------------------


def _ts(ctx: ExportContext, moment: datetime | None) -> str | None:
    """Format a timestamp, clamped so no file ever claims a future instant."""
    return None if moment is None else format_timestamp(clamp_to_now(ctx, moment))


def export_timestamp(ctx: ExportContext, moment: datetime | None) -> str | None:
    """A moment as the export files write it: clamped to the clock, then formatted."""
    return _ts(ctx, moment)


def _newest(
    ctx: ExportContext, changed_at: datetime | None, *candidates: datetime | None
) -> datetime:
    if changed_at is not None:
        return changed_at
    present = [c for c in candidates if c is not None]
    return max(present) if present else ctx.started_at


def _document(path: str, ctx: ExportContext, generated_at: datetime, body: dict[str, Any]) -> dict:
    """Scrub the body, then add ``meta`` and the top-level ``generated_at`` copy."""
    file = get_file(path)
    document = scrub_document(body, ctx.secrets)  # == scrub(), without the walk when clean
    meta = build_meta(file, ctx, generated_at)
    document["meta"] = meta
    document["generated_at"] = meta["generated_at"]  # some dashboard readers look here
    return document


def _with_liveness(
    ctx: ExportContext, document: dict[str, Any], heartbeat: datetime | None
) -> dict[str, Any]:
    # The dashboard's freshness check reads a top-level "timestamp" before "generated_at"; a
    # telemetry file stamped with the write time never shows "stale" on a quiet but live runtime.
    if heartbeat is not None:
        document["timestamp"] = _ts(ctx, heartbeat)
    return document


def _bool_dict(pairs: Iterable[tuple[str, bool]]) -> dict[str, bool]:
    return dict(pairs)


@attrs.frozen(kw_only=True, eq=False)
class Part:
    """One creator's share of a database file (one poll's in polls.json, which lists polls
    newest first across creators): the items it adds to each of the document's arrays, where
    it sorts among the document's parts, and its newest time (for ``generated_at``)."""

    label: str  # the creator (or poll) it is the share of, for error messages
    order: tuple[Any, ...]
    items: Mapping[str, Sequence[dict[str, Any]]]
    newest: datetime
    latest: datetime  # the latest time its items show (clamped to the clock when later)


class _Ordered(Protocol):
    @property
    def order(self) -> tuple[Any, ...]: ...


_P = TypeVar("_P", bound=_Ordered)


_part_order: Callable[[_Ordered], tuple[Any, ...]] = operator.attrgetter("order")


_V = TypeVar("_V", bound=Any)


def _by_creator(rows: Sequence[_V]) -> list[tuple[str, list[_V]]]:
    """Rows sorted by creator, as runs of one creator's rows."""
    groups: list[tuple[str, list[_V]]] = []
    for row in rows:
        if not groups or groups[-1][0] != row.creator_id:
            groups.append((row.creator_id, []))
        groups[-1][1].append(row)
    return groups


def _each(rows: Sequence[_V]) -> list[tuple[str, list[_V]]]:
    """Each row alone with its creator: the parts of the files whose rows make items of their
    own (a row that changed is rebuilt alone)."""
    return [(row.creator_id, [row]) for row in rows]


def _creator_label(creator_id: str, creator_name: str | None) -> str:
    return creator_name if creator_name else creator_id


# --- documents made of long row lists ----------------------------------------------------------


@attrs.frozen(kw_only=True)
class RowList:
    """One long top-level list of a document: how its rows are ordered, written and dated.

    A row is written by ``item`` from its view and the context alone, so a publisher may keep
    each row's bytes between builds (:mod:`exports.rowsplice`) and rebuild only changed rows.
    """

    key: str  # the document's property
    order: Callable[[Any], Any]  # sort key of a view
    item: Callable[[ExportContext, Any], dict[str, Any]]  # a view as written
    dates: Callable[[Any], tuple[datetime | None, ...]]  # a view's times that date the file


@attrs.frozen(kw_only=True)
class DocumentParts:
    """A document before it is put together: its small ``body``, its row lists (views in
    any order), and the times besides the rows' that give its ``generated_at``."""

    path: str
    body: dict[str, Any]
    lists: tuple[tuple[RowList, Sequence[Any]], ...]
    dates: tuple[datetime | None, ...] = ()
    changed_at: datetime | None = None

    def generated_at(self, ctx: ExportContext, row_dates: Iterable[datetime | None]) -> datetime:
        """The document's time: ``changed_at``, else the newest of its own and its rows'
        dates (``row_dates``), else the start."""
        return _newest(ctx, self.changed_at, *self.dates, *row_dates)

    def skeleton(self, ctx: ExportContext, generated_at: datetime) -> dict[str, Any]:
        """The document with every row list empty (for a caller that writes the rows)."""
        body = dict(self.body)
        for rows, _views in self.lists:
            body[rows.key] = []
        return _document(self.path, ctx, generated_at, body)

    def document(self, ctx: ExportContext) -> dict[str, Any]:
        """The whole document, every row written."""
        body = dict(self.body)
        dates: list[datetime | None] = []
        for rows, views in self.lists:
            ordered = sorted(views, key=rows.order)
            body[rows.key] = [rows.item(ctx, v) for v in ordered]
            for v in ordered:
                dates += rows.dates(v)
        return _document(self.path, ctx, self.generated_at(ctx, dates), body)


def _actor_item(ctx: ExportContext, a: ActorStatus) -> dict[str, Any]:
    return {
        "path": a.path,
        "kind": a.kind,
        "state": a.state,
        "restarts": a.restarts,
        "last_error": a.last_error,
        "started_at": _ts(ctx, a.started_at),
        "mailbox": {"depth": a.mailbox_depth, "peak": a.mailbox_peak},
        "handled": a.handled,
    }


def _snapshot_creator_item(_ctx: ExportContext, c: CreatorView) -> dict[str, Any]:
    return {
        "creator_id": c.creator_id,
        "display_name": c.display_name,
        "enabled": c.enabled,
        "platforms": _bool_dict(c.platforms),
        "status": c.status,
        "error": c.error,
    }


def _creator_item(ctx: ExportContext, c: CreatorView) -> dict[str, Any]:
    return {
        "creator_id": c.creator_id,
        "display_name": c.display_name,
        "enabled": c.enabled,
        "disabled": not c.enabled,
        "platforms_enabled": _bool_dict(c.platforms),
        "status": c.status,
        "created_at": _ts(ctx, c.created_at),
    }


def _trigger_item(ctx: ExportContext, t: TriggerView) -> dict[str, Any]:
    return {
        "trigger_id": t.trigger_id,
        "phrase": t.phrase,
        "module": t.module,
        "creator": t.creator_id,
        "enabled": t.enabled,
        "cooldown_seconds": t.cooldown_seconds,
        "last_fired_at": _ts(ctx, t.last_fired_at),
    }


def _timer_item(ctx: ExportContext, t: TimerView) -> dict[str, Any]:
    return {
        "timer_id": t.timer_id,
        "creator": t.creator_id,
        "interval_minutes": t.interval_minutes,
        "min_chat_lines": t.min_chat_lines,
        "messages": t.messages,
        "platforms": sorted(t.platforms),
        "enabled": t.enabled,
        "posts": t.posts,
        "last_posted_at": _ts(ctx, t.last_posted_at),
    }


def _filter_item(ctx: ExportContext, f: FilterView) -> dict[str, Any]:
    return {
        "filter_id": f.filter_id,
        "creator": f.creator_id,
        "kind": f.kind,
        "action": f.action,
        "exempt": sorted(f.exempt),
        "enabled": f.enabled,
        "hits": f.hits,
        "last_hit_at": _ts(ctx, f.last_hit_at),
    }


#: runtime_snapshot.json's actor tree, by path.
ACTOR_ROWS = RowList(
    key="actors",
    order=operator.attrgetter("path"),
    item=_actor_item,
    dates=operator.attrgetter("changed_at", "started_at"),
)
#: runtime_snapshot.json's creators, by id.
SNAPSHOT_CREATOR_ROWS = RowList(
    key="creators",
    order=operator.attrgetter("creator_id"),
    item=_snapshot_creator_item,
    dates=operator.attrgetter("updated_at", "created_at"),
)
#: creators.json's creators, by id.
CREATOR_ROWS = RowList(
    key="creators",
    order=operator.attrgetter("creator_id"),
    item=_creator_item,
    dates=operator.attrgetter("updated_at", "created_at"),
)
#: chat_triggers.json's triggers, timers and filters, by creator then id.
TRIGGER_ROWS = RowList(
    key="items",
    order=operator.attrgetter("creator_id", "trigger_id"),
    item=_trigger_item,
    dates=operator.attrgetter("updated_at", "last_fired_at"),
)
TIMER_ROWS = RowList(
    key="timers",
    order=operator.attrgetter("creator_id", "timer_id"),
    item=_timer_item,
    dates=lambda t: (t.last_posted_at,),
)
FILTER_ROWS = RowList(
    key="filters",
    order=operator.attrgetter("creator_id", "filter_id"),
    item=_filter_item,
    dates=lambda f: (f.last_hit_at,),
)


# --- runtime_snapshot.json -----------------------------------------------------------------------


# Most severe first: the merged entry of several creators shows the worst connection.
_STATE_RANK = {
    "failed": 0,
    "reconnecting": 1,
    "connecting": 2,
    "connected": 3,
    "paused": 4,
    "disabled": 5,
}


def _merge_platforms(ctx: ExportContext, rows: Sequence[PlatformStatus]) -> list[dict[str, Any]]:
    groups: dict[str, list[PlatformStatus]] = {}
    for row in rows:
        groups.setdefault(row.platform, []).append(row)
    merged = []
    for platform in sorted(groups):
        group = sorted(groups[platform], key=lambda r: (r.creator_id or "", r.name or ""))
        worst = min(group, key=lambda r: _STATUS_RANK[r.status])
        error = next((r.error for r in group if r.error), None)
        paused = next((r.paused_reason for r in group if r.paused_reason), None)
        name = next((r.name for r in group if r.name), None)
        heartbeats = [r.last_heartbeat for r in group if r.last_heartbeat is not None]
        events = [r.last_event_at for r in group if r.last_event_at is not None]
        states = [r.state for r in group if r.state is not None]
        retries = [r.next_retry_at for r in group if r.next_retry_at is not None]
        merged.append(
            {
                "platform": platform,
                "name": name or _PLATFORM_NAMES.get(platform, platform.capitalize()),
                "enabled": any(r.enabled for r in group),
                "status": worst.status,
                "state": min(states, key=_STATE_RANK.__getitem__) if states else None,
                "last_heartbeat": _ts(ctx, max(heartbeats)) if heartbeats else None,
                "last_event_at": _ts(ctx, max(events)) if events else None,
                "error": error,
                "paused_reason": paused,
                "next_retry_at": _ts(ctx, min(retries)) if retries else None,
                "attempts": max(r.attempts for r in group),
                "counters": {
                    "messages": sum(r.messages for r in group),
                    "triggers": sum(r.triggers for r in group),
                    "actions": sum(r.actions for r in group),
                    "errors": sum(r.errors for r in group),
                    "connects": sum(r.connects for r in group),
                    "disconnects": sum(r.disconnects for r in group),
                },
            }
        )
    return merged


def runtime_snapshot_parts(
    ctx: ExportContext,
    runtime: RuntimeView,
    *,
    heartbeat: datetime | None = None,
    changed_at: datetime | None = None,
    actors: Sequence[ActorStatus] | None = None,
) -> DocumentParts:
    """``runtime_snapshot.json`` as parts (see :func:`build_runtime_snapshot`): the creators
    and the actor tree are its row lists. ``actors`` stands for ``runtime.actors`` (the same
    rows, in another sequence: grouped for a row cache)."""
    beat = _ts(ctx, heartbeat if heartbeat is not None else ctx.now)
    intent = runtime.restart_intent
    dates: list[datetime | None] = [runtime.replay.last_event_at]
    for p in runtime.platforms:
        dates += [p.last_heartbeat, p.last_event_at]
    body = {
        "heartbeat": beat,
        "timestamp": beat,
        "runtime": {"project": runtime.project, "version": runtime.version, "build": runtime.build},
        "system": {"platform_polling_enabled": runtime.platform_polling_enabled},
        "platforms": _merge_platforms(ctx, runtime.platforms),
        "restart_intent": {
            "required": intent.required,
            "pending": {
                "system": intent.system,
                "creators": intent.creators,
                "triggers": intent.triggers,
                "platforms": intent.platforms,
            },
            "notes": sorted(intent.notes),
        },
        "replay": {
            "available": runtime.replay.available,
            "active": runtime.replay.active,
            "event_count": runtime.replay.event_count,
            "last_event_at": _ts(ctx, runtime.replay.last_event_at),
        },
    }
    return DocumentParts(
        path="runtime_snapshot.json",
        body=body,
        lists=(
            (SNAPSHOT_CREATOR_ROWS, runtime.creators),
            (ACTOR_ROWS, runtime.actors if actors is None else actors),
        ),
        dates=tuple(dates),
        changed_at=changed_at,
    )


def build_runtime_snapshot(
    ctx: ExportContext,
    runtime: RuntimeView,
    *,
    heartbeat: datetime | None = None,
    changed_at: datetime | None = None,
) -> dict[str, Any]:
    """``runtime_snapshot.json``: the process, platforms, creators and the actor tree.

    ``heartbeat`` is the wall time of this write (default ``ctx.now``); it is also written as
    top-level ``timestamp``, the field the dashboard's freshness check reads first, so a live
    runtime never shows "stale" merely because nothing changed.
    """
    parts = runtime_snapshot_parts(ctx, runtime, heartbeat=heartbeat, changed_at=changed_at)
    return parts.document(ctx)


# --- quotas.json ---------------------------------------------------------------------------------


def _constraint_key(q: QuotaView) -> tuple[Any, ...]:
    # Most constrained first: worst status, then highest fill ratio, then fewest units left.
    ratio = q.used / q.max if q.max else float(q.used > 0)
    return (_QUOTA_RANK[q.status], -ratio, q.remaining, q.platform, q.creator_id)


def build_quotas(
    ctx: ExportContext, quotas: Sequence[QuotaView], *, changed_at: datetime | None = None
) -> dict[str, Any]:
    """``quotas.json`` in both forms the dashboard reads.

    Top level: the most constrained quota (``platform``, ``used``, ``max``, ``status``), read by
    the Overview bar; ``platforms``: one row per creator x platform, read by the YouTube view.
    ``reset_at`` is when the current window started (the last reset), so it is never in the
    future. With no quota the summary is ``youtube`` 0/0 ``ok``.
    """
    rows = sorted(quotas, key=lambda q: (q.platform, q.creator_id, q.window))
    if rows:
        top = min(rows, key=_constraint_key)
        summary = {
            "platform": top.platform,
            "creator_id": top.creator_id,
            "used": top.used,
            "max": top.max,
            "remaining": top.remaining,
            "status": top.status,
        }
    else:
        summary = {
            "platform": "youtube",
            "creator_id": None,
            "used": 0,
            "max": 0,
            "remaining": 0,
            "status": "ok",
        }
    generated = _newest(ctx, changed_at, *(q.updated_at for q in rows))
    body = {
        **summary,
        "platforms": [
            {
                "platform": q.platform,
                "creator_id": q.creator_id,
                "scope": "creator",
                "window": q.window,
                "used": q.used,
                "max": q.max,
                "buffer": q.buffer,
                "remaining": q.remaining,
                "reset_at": _ts(ctx, q.reset_at),
                "status": q.status,
            }
            for q in rows
        ],
    }
    return _document("quotas.json", ctx, generated, body)


# --- public entity files -------------------------------------------------------------------------


def build_clips(
    ctx: ExportContext, clips: Sequence[ClipView], *, changed_at: datetime | None = None
) -> dict[str, Any]:
    """``clips.json`` (public): ``clips`` newest first, plus ``items`` for Data & Signals."""
    rows = sorted(clips, key=lambda c: (c.created_at, c.clip_id), reverse=True)
    generated = _newest(
        ctx, changed_at, *(c.updated_at for c in rows), *(c.created_at for c in rows)
    )
    body = {
        "clips": [
            {
                "clip_id": c.clip_id,
                "creator_id": c.creator_id,
                "creator": _creator_label(c.creator_id, c.creator_name),
                "title": c.title,
                "platform": c.platform,
                "state": c.state,
                "created_at": _ts(ctx, c.created_at),
                "updated_at": _ts(ctx, c.updated_at),
                "published_at": _ts(ctx, c.published_at),
                "duration_seconds": c.duration_seconds,
                "requested_by": c.requested_by,
                "progress": c.progress,
                "destination": {
                    "platform": c.destination_platform,
                    "channel_url": c.destination_channel_url,
                },
                "url": c.url,
                "thumbnail_url": c.thumbnail_url,
                "last_error": c.last_error,
            }
            for c in rows
        ],
        "items": [
            {
                "id": c.clip_id,
                "title": c.title,
                "state": c.state,
                "creator": _creator_label(c.creator_id, c.creator_name),
                "created_at": _ts(ctx, c.created_at),
                "updated_at": _ts(ctx, c.updated_at),
                "public": True,
            }
            for c in rows
        ],
    }
    return _document("clips.json", ctx, generated, body)


def _poll_updated(p: PollView) -> datetime:
    return max(x for x in (p.updated_at, p.closed_at, p.opened_at) if x is not None)


def _poll_parts(ctx: ExportContext, polls: Sequence[PollView]) -> list[Part]:
    """One part per poll: polls.json lists polls newest first across creators."""
    parts = []
    for p in polls:
        creator = _creator_label(p.creator_id, p.creator_name)
        updated = _poll_updated(p)
        poll = {
            "poll_id": p.poll_id,
            "creator_id": p.creator_id,
            "creator": creator,
            "question": p.question,
            "state": p.state,
            "opened_at": _ts(ctx, p.opened_at),
            "closed_at": _ts(ctx, p.closed_at),
            "updated_at": _ts(ctx, updated),
            "options": [
                {
                    "option_id": o.option_id,
                    "label": o.label,
                    "votes": o.votes,
                    "position": o.position,
                }
                for o in sorted(p.options, key=lambda o: (o.position, o.option_id))
            ],
            "total_votes": sum(o.votes for o in p.options),
        }
        item = {
            "id": p.poll_id,
            "question": p.question,
            "title": p.question,
            "state": p.state,
            "creator": creator,
            "created_at": _ts(ctx, p.opened_at),
            "updated_at": _ts(ctx, updated),
            "public": True,
        }
        parts.append(
            Part(
                label=p.poll_id,
                order=(p.opened_at, p.poll_id),
                items={"polls": (poll,), "items": (item,)},
                newest=updated,
                latest=updated,  # the newest of opened_at, closed_at and updated_at
            )
        )
    return parts


def build_polls(
    ctx: ExportContext, polls: Sequence[PollView], *, changed_at: datetime | None = None
) -> dict[str, Any]:
    """``polls.json`` (public): aggregated votes only, newest poll first; options by position."""
    return document_from_parts(POLLS, ctx, _poll_parts(ctx, polls), changed_at=changed_at)


def _tally_parts(ctx: ExportContext, tallies: Sequence[TallyView]) -> list[Part]:
    """One part per tally (a tally that moved is rebuilt alone), by creator then id."""
    parts = []
    for t in tallies:
        creator = _creator_label(t.creator_id, t.creator_name)
        updated = _ts(ctx, t.updated_at)
        parts.append(
            Part(
                label=t.creator_id,
                order=(t.creator_id, t.tally_id),
                items={
                    "tallies": (
                        {
                            "tally_id": t.tally_id,
                            "creator_id": t.creator_id,
                            "creator": creator,
                            "label": t.label,
                            "count": t.count,
                            "updated_at": updated,
                        },
                    ),
                    "items": (
                        {
                            "id": t.tally_id,
                            "name": t.label,
                            "title": t.label,
                            "state": "active",
                            "creator": creator,
                            "created_at": None,
                            "updated_at": updated,
                            "public": True,
                        },
                    ),
                },
                newest=t.updated_at,
                latest=t.updated_at,
            )
        )
    return parts


def build_tallies(
    ctx: ExportContext, tallies: Sequence[TallyView], *, changed_at: datetime | None = None
) -> dict[str, Any]:
    """``tallies.json`` (public), sorted by creator then tally id."""
    return document_from_parts(TALLIES, ctx, _tally_parts(ctx, tallies), changed_at=changed_at)


def _scoreboard_parts(ctx: ExportContext, scoreboards: Sequence[ScoreboardView]) -> list[Part]:
    """One part per scoreboard, by creator then id; entries by position."""
    return [
        Part(
            label=creator_id,
            order=(creator_id, group[0].scoreboard_id),
            items={
                "scoreboards": [
                    {
                        "scoreboard_id": s.scoreboard_id,
                        "creator_id": s.creator_id,
                        "creator": _creator_label(s.creator_id, s.creator_name),
                        "title": s.title,
                        "updated_at": _ts(ctx, s.updated_at),
                        "entries": [
                            {"position": e.position, "label": e.label, "score": e.score}
                            for e in sorted(s.entries, key=lambda e: (e.position, e.label, e.score))
                        ],
                    }
                    for s in group
                ],
                "items": [
                    {
                        "id": s.scoreboard_id,
                        "title": s.title,
                        "name": s.title,  # Data & Signals names entities by `name`
                        "state": "active",
                        "creator": _creator_label(s.creator_id, s.creator_name),
                        "created_at": _ts(ctx, s.created_at),
                        "updated_at": _ts(ctx, s.updated_at),
                        "public": True,
                    }
                    for s in group
                ],
            },
            newest=max(s.updated_at for s in group),
            latest=max(max(s.updated_at, s.created_at or s.updated_at) for s in group),
        )
        for creator_id, group in _each(scoreboards)
    ]


def build_scoreboards(
    ctx: ExportContext, scoreboards: Sequence[ScoreboardView], *, changed_at: datetime | None = None
) -> dict[str, Any]:
    """``scoreboards.json`` (public), sorted by creator then id; entries by position."""
    return document_from_parts(
        SCOREBOARDS, ctx, _scoreboard_parts(ctx, scoreboards), changed_at=changed_at
    )


# --- jobs.json -----------------------------------------------------------------------------------


def build_jobs(
    ctx: ExportContext, jobs: Sequence[JobView], *, changed_at: datetime | None = None
) -> dict[str, Any]:
    """``jobs.json``: ``jobs`` oldest first (creation order), plus ``items`` for Data & Signals."""
    rows = sorted(jobs, key=lambda j: (j.created_at, j.id))
    generated = _newest(ctx, changed_at, *(j.updated_at for j in rows))
    body = {
        "jobs": [
            {
                "id": j.id,
                "type": j.type,
                "creator_id": j.creator_id,
                "status": j.status,
                "created_at": _ts(ctx, j.created_at),
                "updated_at": _ts(ctx, j.updated_at),
                "reason": j.reason,
            }
            for j in rows
        ],
        "items": [
            {
                "id": j.id,
                "type": j.type,
                "state": j.status,
                "enabled": True,
                "restart_required": False,
                "reason": j.reason,
                "last_run": _ts(ctx, j.updated_at),
                "next_run": None,
            }
            for j in rows
        ],
    }
    return _document("jobs.json", ctx, generated, body)


# --- discord/runtime.json ------------------------------------------------------------------------


def build_discord_runtime(
    ctx: ExportContext, discord: DiscordView, *, changed_at: datetime | None = None
) -> dict[str, Any]:
    """``discord/runtime.json``: connection state and guilds (string ids, numeric order)."""
    # (length, text) orders digit strings numerically without int() (snowflakes exceed 2^53
    # for JS, not for Python, but non-numeric ids must not crash the sort either).
    guilds = sorted(discord.guilds, key=lambda g: (len(g.guild_id), g.guild_id))
    started = _ts(ctx, discord.started_at)
    beat = _ts(ctx, discord.last_heartbeat)
    generated = _newest(ctx, changed_at, discord.started_at, discord.last_heartbeat)
    body = {
        "running": discord.running,
        "connected": discord.connected,
        "started_at": started,
        "last_heartbeat_ts": beat,
        "guild_count": len(guilds),
        "task_count": discord.task_count,
        "tasks": discord.task_count,
        "status": {"text": discord.status_text, "emoji": discord.status_emoji},
        "presence": {"status_text": discord.status_text, "status_emoji": discord.status_emoji},
        "heartbeat": {"started_at": started, "last_tick_at": beat, "connected": discord.connected},
        "guilds": [
            {
                "guild_id": g.guild_id,
                "guild_name": g.guild_name,
                "bot_present": g.bot_present,
                "authorized_for_user": g.authorized_for_user,
                "authorization_reason": g.authorization_reason,
                "logging": {"enabled": g.logging_enabled, "channel_id": g.logging_channel_id},
                "notifications": {
                    "enabled": g.notifications_enabled,
                    "general": {"channel_id": g.general_channel_id},
                },
            }
            for g in guilds
        ],
    }
    return _document("discord/runtime.json", ctx, generated, body)


# --- telemetry -----------------------------------------------------------------------------------


def build_telemetry_events(
    ctx: ExportContext,
    events: Sequence[TelemetryEvent],
    *,
    limit: int = DEFAULT_TELEMETRY_LIMIT,
    changed_at: datetime | None = None,
    heartbeat: datetime | None = None,
) -> dict[str, Any]:
    """``telemetry/events.json``: the newest ``limit`` events, oldest first.

    ``heartbeat`` (optional, also on the other telemetry builders) adds a top-level
    ``timestamp`` = write time, which the dashboard's staleness check reads first.
    """
    rows = sorted(events, key=lambda e: (e.timestamp, e.severity, e.source, e.message))
    rows = rows[-limit:] if limit > 0 else []
    generated = _newest(ctx, changed_at, *(e.timestamp for e in rows))
    body = {
        "events": [
            {
                "timestamp": _ts(ctx, e.timestamp),
                "severity": e.severity,
                "source": e.source,
                "message": e.message,
            }
            for e in rows
        ]
    }
    return _with_liveness(ctx, _document("telemetry/events.json", ctx, generated, body), heartbeat)


def build_telemetry_errors(
    ctx: ExportContext,
    errors: Sequence[ErrorView],
    *,
    limit: int = DEFAULT_TELEMETRY_LIMIT,
    changed_at: datetime | None = None,
    heartbeat: datetime | None = None,
) -> dict[str, Any]:
    """``telemetry/errors.json``: active and cleared errors, oldest ``last_seen`` first."""
    rows = sorted(errors, key=lambda e: (e.last_seen, e.subsystem, e.message, e.active))
    rows = rows[-limit:] if limit > 0 else []
    generated = _newest(ctx, changed_at, *(e.last_seen for e in rows))
    body = {
        "errors": [
            {
                "subsystem": e.subsystem,
                "message": e.message,
                "last_seen": _ts(ctx, e.last_seen),
                "active": e.active,
            }
            for e in rows
        ]
    }
    return _with_liveness(ctx, _document("telemetry/errors.json", ctx, generated, body), heartbeat)


def build_telemetry_rates(
    ctx: ExportContext,
    metrics: Sequence[RateMetric],
    *,
    window: str = "60s",
    measured_at: datetime | None = None,
    heartbeat: datetime | None = None,
) -> dict[str, Any]:
    """``telemetry/rates.json``: ``window`` and ``metrics`` sorted by key.

    ``measured_at`` (when the rates were computed) is the file's ``generated_at``.
    """
    rows = sorted(metrics, key=lambda m: m.key)
    generated = measured_at if measured_at is not None else ctx.started_at
    body = {
        "window": window,
        "metrics": [
            {"key": m.key, "label": m.label, "value": m.value, "unit": m.unit} for m in rows
        ],
    }
    return _with_liveness(ctx, _document("telemetry/rates.json", ctx, generated, body), heartbeat)


# --- signals -------------------------------------------------------------------------------------


def signal_parts(
    ctx: ExportContext, id_field: str, rows: Sequence[SignalRow], key: bytes
) -> list[Part]:
    """One part per signal row: its item of a signal file's ``items`` (``id_field`` names the
    subject), sorted by the item's values (newest last: the timestamp comes first)."""
    parts = []
    for r in rows:
        user = pseudonymize(r.user_id, key) if r.user_id is not None else None
        pieces = r.summary.split("{user}")
        if r.user_id and user:
            # Never let a raw id through; replaced before the pseudonym goes in, so a short id
            # cannot match inside the pseudonym's hex digits.
            pieces = [piece.replace(r.user_id, user) for piece in pieces]
        item = {
            "timestamp": _ts(ctx, r.timestamp),
            "type": r.type,
            "source": r.source,
            id_field: r.subject_id,
            "summary": (user or "someone").join(pieces),
            "user": user,
            "creator_id": r.creator_id,
        }
        parts.append(
            Part(
                label=f"{r.creator_id} {r.subject_id}",
                # The whole item breaks ties, so the order never depends on input order.
                order=tuple("" if v is None else str(v) for v in item.values()),
                items={"items": (item,)},
                newest=r.timestamp,
                latest=r.timestamp,
            )
        )
    return parts


def _signals(
    path: str,
    id_field: str,
    ctx: ExportContext,
    rows: Sequence[SignalRow],
    key: bytes,
    limit: int,
    changed_at: datetime | None,
) -> dict[str, Any]:
    file = SIGNAL_FILES[path]
    ordered = ordered_parts(file, signal_parts(ctx, id_field, rows, key))
    kept = ordered[-limit:] if limit > 0 else []
    generated = _newest(ctx, changed_at, *(r.timestamp for r in rows))
    return document_from_parts(file, ctx, kept, changed_at=generated)


def build_chat_events(
    ctx: ExportContext,
    rows: Sequence[SignalRow],
    *,
    key: bytes,
    limit: int = DEFAULT_SIGNAL_LIMIT,
    changed_at: datetime | None = None,
) -> dict[str, Any]:
    """``chat_events.json``: ``items`` of ``{timestamp, type, source, entity_id, summary}``."""
    return _signals("chat_events.json", "entity_id", ctx, rows, key, limit, changed_at)


def build_poll_votes(
    ctx: ExportContext,
    rows: Sequence[SignalRow],
    *,
    key: bytes,
    limit: int = DEFAULT_SIGNAL_LIMIT,
    changed_at: datetime | None = None,
) -> dict[str, Any]:
    """``poll_votes.json``: ``items`` of ``{timestamp, type, source, poll_id, summary}``."""
    return _signals("poll_votes.json", "poll_id", ctx, rows, key, limit, changed_at)


def build_tally_events(
    ctx: ExportContext,
    rows: Sequence[SignalRow],
    *,
    key: bytes,
    limit: int = DEFAULT_SIGNAL_LIMIT,
    changed_at: datetime | None = None,
) -> dict[str, Any]:
    """``tally_events.json``: ``items`` of ``{timestamp, type, source, tally_id, summary}``."""
    return _signals("tally_events.json", "tally_id", ctx, rows, key, limit, changed_at)


def build_score_events(
    ctx: ExportContext,
    rows: Sequence[SignalRow],
    *,
    key: bytes,
    limit: int = DEFAULT_SIGNAL_LIMIT,
    changed_at: datetime | None = None,
) -> dict[str, Any]:
    """``score_events.json``: ``items`` of ``{timestamp, type, source, scoreboard_id, summary}``."""
    return _signals("score_events.json", "scoreboard_id", ctx, rows, key, limit, changed_at)


# --- configuration as applied --------------------------------------------------------------------


def creators_parts(
    ctx: ExportContext, creators: Sequence[CreatorView], *, changed_at: datetime | None = None
) -> DocumentParts:
    """``creators.json`` as parts (see :func:`build_creators`)."""
    return DocumentParts(
        path="creators.json", body={}, lists=((CREATOR_ROWS, creators),), changed_at=changed_at
    )


def build_creators(
    ctx: ExportContext, creators: Sequence[CreatorView], *, changed_at: datetime | None = None
) -> dict[str, Any]:
    """``creators.json``: ``creators`` sorted by id (the dashboard reads this property)."""
    return creators_parts(ctx, creators, changed_at=changed_at).document(ctx)


def chat_triggers_parts(
    ctx: ExportContext,
    triggers: Sequence[TriggerView],
    *,
    changed_at: datetime | None = None,
    timers: Sequence[TimerView] = (),
    filters: Sequence[FilterView] = (),
) -> DocumentParts:
    """``chat_triggers.json`` as parts (see :func:`build_chat_triggers`)."""
    return DocumentParts(
        path="chat_triggers.json",
        body={},
        lists=((TRIGGER_ROWS, triggers), (TIMER_ROWS, timers), (FILTER_ROWS, filters)),
        changed_at=changed_at,
    )


def build_chat_triggers(
    ctx: ExportContext,
    triggers: Sequence[TriggerView],
    *,
    changed_at: datetime | None = None,
    timers: Sequence[TimerView] = (),
    filters: Sequence[FilterView] = (),
) -> dict[str, Any]:
    """``chat_triggers.json``: ``items`` sorted by creator then trigger id; ``timers`` and
    ``filters`` (with their post and hit counts) by creator then id."""
    parts = chat_triggers_parts(
        ctx, triggers, changed_at=changed_at, timers=timers, filters=filters
    )
    return parts.document(ctx)


#: Balances per creator in points.json.
POINTS_TOP = 100


def points_entry(
    position: int, display_name: str, platform: str, balance: int, updated_at: str | None
) -> dict[str, Any]:
    """One balance of a creator's ``entries`` in points.json, at its 1-based ``position``;
    ``updated_at`` as formatted for the file (clamped to the clock)."""
    return {
        "position": position,
        "display_name": display_name,
        "platform": platform,
        "balance": balance,
        "updated_at": updated_at,
    }


def points_creator(creator_id: str, creator_name: str | None) -> dict[str, Any]:
    """A creator's item of points.json with its ``entries`` still empty."""
    return {
        "creator_id": creator_id,
        "creator": _creator_label(creator_id, creator_name),
        "entries": [],
    }


def _points_parts(ctx: ExportContext, balances: Sequence[PointsView]) -> list[Part]:
    """One part per creator: its top `POINTS_TOP` balances."""
    rows = sorted(balances, key=lambda b: (b.creator_id, -b.balance, b.display_name, b.platform))
    parts = []
    for creator_id, group in _by_creator(rows):
        ranked = group[:POINTS_TOP]
        entry = points_creator(creator_id, ranked[0].creator_name)
        entry["entries"] = [
            points_entry(position, b.display_name, b.platform, b.balance, _ts(ctx, b.updated_at))
            for position, b in enumerate(ranked, 1)
        ]
        newest = max(b.updated_at for b in ranked)
        parts.append(
            Part(
                label=creator_id,
                order=(creator_id,),
                items={"creators": (entry,)},
                newest=newest,
                latest=newest,
            )
        )
    return parts


def build_points(
    ctx: ExportContext, balances: Sequence[PointsView], *, changed_at: datetime | None = None
) -> dict[str, Any]:
    """``points.json`` (public): per creator, the top `POINTS_TOP` balances by display name
    (no platform user ids), ranked by balance, then name, then platform."""
    return document_from_parts(POINTS, ctx, _points_parts(ctx, balances), changed_at=changed_at)


def _quote_parts(ctx: ExportContext, rows: Sequence[QuoteView]) -> list[Part]:
    """One part per quote, by creator then number."""
    return [
        Part(
            label=creator_id,
            order=(creator_id, group[0].number),
            items={
                "quotes": [
                    {
                        "creator_id": q.creator_id,
                        "creator": _creator_label(q.creator_id, q.creator_name),
                        "number": q.number,
                        "text": q.text,
                        "added_by": q.added_by,
                        "platform": q.platform,
                        "added_at": _ts(ctx, q.added_at),
                    }
                    for q in group
                ]
            },
            newest=max(q.added_at for q in group),
            latest=max(q.added_at for q in group),
        )
        for creator_id, group in _each(rows)
    ]


def build_quotes(
    ctx: ExportContext, rows: Sequence[QuoteView], *, changed_at: datetime | None = None
) -> dict[str, Any]:
    """``quotes.json`` (public), by creator then number."""
    return document_from_parts(QUOTES, ctx, _quote_parts(ctx, rows), changed_at=changed_at)


def _giveaway_latest(g: GiveawayView) -> datetime:
    moments = [g.opened_at, g.updated_at, *(w.drawn_at for w in g.winners)]
    if g.closed_at is not None:
        moments.append(g.closed_at)
    return max(moments)


def _giveaway_parts(ctx: ExportContext, rows: Sequence[GiveawayView]) -> list[Part]:
    """One part per giveaway, by creator, opening time and id; winners by draw."""
    return [
        Part(
            label=creator_id,
            order=(creator_id, group[0].opened_at, group[0].giveaway_id),
            items={
                "giveaways": [
                    {
                        "giveaway_id": g.giveaway_id,
                        "creator_id": g.creator_id,
                        "creator": _creator_label(g.creator_id, g.creator_name),
                        "prize": g.prize,
                        "state": g.state,
                        "entry_cost": g.entry_cost,
                        "subscribers_only": g.subscribers_only,
                        "subscriber_tickets": g.subscriber_tickets,
                        "entrants": g.entrants,
                        "tickets": g.tickets,
                        "winners": [
                            {
                                "draw": w.draw,
                                "display_name": w.display_name,
                                "platform": w.platform,
                                "drawn_at": _ts(ctx, w.drawn_at),
                            }
                            for w in sorted(g.winners, key=lambda w: w.draw)
                        ],
                        "opened_at": _ts(ctx, g.opened_at),
                        "closed_at": _ts(ctx, g.closed_at),
                        "updated_at": _ts(ctx, g.updated_at),
                    }
                    for g in group
                ]
            },
            newest=max(g.updated_at for g in group),
            latest=max(_giveaway_latest(g) for g in group),
        )
        for creator_id, group in _each(rows)
    ]


def build_giveaways(
    ctx: ExportContext, rows: Sequence[GiveawayView], *, changed_at: datetime | None = None
) -> dict[str, Any]:
    """``giveaways.json`` (dashboard-only), by creator, opening time and id; winners by draw."""
    return document_from_parts(GIVEAWAYS, ctx, _giveaway_parts(ctx, rows), changed_at=changed_at)


# --- database files made of parts ----------------------------------------------------------------


@attrs.frozen(kw_only=True)
class PartsLayout:
    """How a file's document is made of parts.

    The document's body is ``arrays``, each the concatenation of the parts' items for that
    key, parts sorted by their ``order`` (descending with ``newest_first``); ``generated_at``
    is the newest of the parts' ``newest`` (``ctx.started_at`` with no part).
    """

    path: str
    arrays: tuple[str, ...]
    newest_first: bool


@attrs.frozen(kw_only=True)
class PartedFile(PartsLayout):
    """How a database file is made of parts, so a publish can rebuild one creator's part alone.

    ``parts`` turns views (of one creator or of all) into parts; a creator's views give the
    same parts alone as among all the others.
    """

    parts: Callable[[ExportContext, Sequence[Any]], list[Part]]
    # Each view makes exactly one part of its own, in the order of the views given (it can be
    # rebuilt alone).
    part_per_view: bool = False


@attrs.frozen(kw_only=True)
class SignalFile(PartsLayout):
    """A signal file: one part per signal (:func:`signal_parts`, which needs the pseudonym key)."""

    id_field: str  # its name for the subject of its items


POLLS = PartedFile(
    path="polls.json",
    arrays=("polls", "items"),
    newest_first=True,
    parts=_poll_parts,
    part_per_view=True,
)
TALLIES = PartedFile(
    path="tallies.json",
    arrays=("tallies", "items"),
    newest_first=False,
    parts=_tally_parts,
    part_per_view=True,
)
SCOREBOARDS = PartedFile(
    path="scoreboards.json",
    arrays=("scoreboards", "items"),
    newest_first=False,
    parts=_scoreboard_parts,
    part_per_view=True,
)
POINTS = PartedFile(
    path="points.json", arrays=("creators",), newest_first=False, parts=_points_parts
)
QUOTES = PartedFile(
    path="quotes.json",
    arrays=("quotes",),
    newest_first=False,
    parts=_quote_parts,
    part_per_view=True,
)
GIVEAWAYS = PartedFile(
    path="giveaways.json",
    arrays=("giveaways",),
    newest_first=False,
    parts=_giveaway_parts,
    part_per_view=True,
)

#: The database files made of per-creator parts, by path.
PARTED_FILES: Mapping[str, PartedFile] = {
    f.path: f for f in (POLLS, TALLIES, SCOREBOARDS, POINTS, QUOTES, GIVEAWAYS)
}


#: The signal files, whose items (one part per signal) are the newest signals of a kind.
SIGNAL_FILES: Mapping[str, SignalFile] = {
    path: SignalFile(path=path, arrays=("items",), newest_first=False, id_field=id_field)
    for path, id_field in (
        ("chat_events.json", "entity_id"),
        ("poll_votes.json", "poll_id"),
        ("tally_events.json", "tally_id"),
        ("score_events.json", "scoreboard_id"),
    )
}


def ordered_parts(file: PartsLayout, parts: Iterable[_P]) -> list[_P]:
    """``parts`` in the order their items take in ``file``'s arrays."""
    return sorted(parts, key=_part_order, reverse=file.newest_first)


def document_from_parts(
    file: PartsLayout,
    ctx: ExportContext,
    parts: Iterable[Part],
    *,
    changed_at: datetime | None = None,
) -> dict[str, Any]:
    """``file``'s document made of ``parts`` (in any order)."""
    ordered = ordered_parts(file, parts)
    body = {key: [item for p in ordered for item in p.items[key]] for key in file.arrays}
    generated = _newest(ctx, changed_at, *(p.newest for p in ordered))
    return _document(file.path, ctx, generated, body)


def document_skeleton(
    file: PartsLayout, ctx: ExportContext, newest: Iterable[datetime | None]
) -> dict[str, Any]:
    """``file``'s document with every array empty, ``generated_at`` the newest of ``newest``
    (the parts' own): what :func:`document_from_parts` makes around the parts' items."""
    generated = _newest(ctx, None, *newest)
    return _document(file.path, ctx, generated, {key: [] for key in file.arrays})


def build_rate_limits(
    ctx: ExportContext, limits: Sequence[RateLimitView], *, changed_at: datetime | None = None
) -> dict[str, Any]:
    """``rate_limits.json``: ``items`` of ``{scope, limit, window (seconds), used, status}``."""
    rows = sorted(limits, key=lambda r: r.scope)
    generated = _newest(ctx, changed_at, *(r.updated_at for r in rows))
    body = {
        "items": [
            {
                "scope": r.scope,
                "limit": r.limit,
                "window": r.window_seconds,
                "used": r.used,
                "status": r.status,
            }
            for r in rows
        ]
    }
    return _document("rate_limits.json", ctx, generated, body)


# --- internal-only -------------------------------------------------------------------------------


def _token_status(ctx: ExportContext, expires_at: datetime | None) -> str:
    # A status instead of the expiry instant: that instant is in the future, which no file may
    # carry, and "expiring" is what an operator needs to see.
    if expires_at is None:
        return "unknown"
    if expires_at <= ctx.now:
        return "expired"
    if expires_at - ctx.now <= TOKEN_EXPIRING_WITHIN:
        return "expiring"
    return "valid"


def build_integrations(
    ctx: ExportContext,
    integrations: Sequence[IntegrationView],
    *,
    changed_at: datetime | None = None,
) -> dict[str, Any]:
    """``integrations.json`` (internal-only): status per integration, never credentials."""
    rows = sorted(integrations, key=lambda i: i.integration_id)
    generated = _newest(
        ctx,
        changed_at,
        *(i.updated_at for i in rows),
        *(i.last_attempt_at for i in rows),
        *(i.created_at for i in rows),
    )
    body = {
        "items": [
            {
                "id": i.integration_id,
                "provider": i.provider,
                "scope": i.scope,
                "status": i.status,
                "token_status": _token_status(ctx, i.token_expires_at),
                "created_at": _ts(ctx, i.created_at),
                "last_attempt_at": _ts(ctx, i.last_attempt_at),
                "last_error": i.last_error,
                "state": i.state,
                "scopes": sorted(i.scopes),
                "token_expires_at": _ts(ctx, i.token_expires_at),
            }
            for i in rows
        ]
    }
    return _document("integrations.json", ctx, generated, body)


def build_permissions(
    ctx: ExportContext, permissions: Sequence[PermissionView], *, changed_at: datetime | None = None
) -> dict[str, Any]:
    """``permissions.json`` (internal-only): principals, roles and sorted grants."""
    rows = sorted(permissions, key=lambda p: (p.principal, p.role))
    generated = _newest(
        ctx, changed_at, *(p.updated_at for p in rows), *(p.created_at for p in rows)
    )
    body = {
        "items": [
            {
                "principal": p.principal,
                "role": p.role,
                "status": p.status,
                "grants": sorted(set(p.grants)),
                "created_at": _ts(ctx, p.created_at),
            }
            for p in rows
        ]
    }
    return _document("permissions.json", ctx, generated, body)


# --- meta.json -----------------------------------------------------------------------------------


def build_manifest(ctx: ExportContext, *, changed_at: datetime | None = None) -> dict[str, Any]:
    """``meta.json``: every export file with its visibility, schema and description.

    The rows are under ``exports`` (the upstream manifest's name) and, identically, ``files``.
    The registry only changes with the code, so ``generated_at`` defaults to ``ctx.started_at``.
    """
    rows = [
        {
            "file": f.path,
            "visibility": str(f.visibility),
            "schema": f.schema,
            "description": f.description,
        }
        for f in FILES
    ]
    generated = changed_at if changed_at is not None else ctx.started_at
    body = {"exports": rows, "files": [dict(r) for r in rows]}
    return _document("meta.json", ctx, generated, body)


# --- everything at once --------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ExportInputs:
    """All builder inputs; every field defaults to empty so ``ExportInputs()`` builds every file.

    ``changed_at`` maps a file path to the time of the newest change the store knows for it; it
    overrides the time derived from the rows (needed when a row was deleted).
    """

    runtime: RuntimeView | None = None
    quotas: tuple[QuotaView, ...] = attrs.field(factory=tuple, converter=tuple[QuotaView, ...])
    jobs: tuple[JobView, ...] = attrs.field(factory=tuple, converter=tuple[JobView, ...])
    clips: tuple[ClipView, ...] = attrs.field(factory=tuple, converter=tuple[ClipView, ...])
    polls: tuple[PollView, ...] = attrs.field(factory=tuple, converter=tuple[PollView, ...])
    tallies: tuple[TallyView, ...] = attrs.field(factory=tuple, converter=tuple[TallyView, ...])
    scoreboards: tuple[ScoreboardView, ...] = attrs.field(
        factory=tuple, converter=tuple[ScoreboardView, ...]
    )
    discord: DiscordView = attrs.field(factory=DiscordView)
    telemetry_events: tuple[TelemetryEvent, ...] = attrs.field(
        factory=tuple, converter=tuple[TelemetryEvent, ...]
    )
    telemetry_errors: tuple[ErrorView, ...] = attrs.field(
        factory=tuple, converter=tuple[ErrorView, ...]
    )
    rate_metrics: tuple[RateMetric, ...] = attrs.field(
        factory=tuple, converter=tuple[RateMetric, ...]
    )
    rates_measured_at: datetime | None = None
    rates_window: str = "60s"
    chat_events: tuple[SignalRow, ...] = attrs.field(factory=tuple, converter=tuple[SignalRow, ...])
    poll_votes: tuple[SignalRow, ...] = attrs.field(factory=tuple, converter=tuple[SignalRow, ...])
    tally_events: tuple[SignalRow, ...] = attrs.field(
        factory=tuple, converter=tuple[SignalRow, ...]
    )
    score_events: tuple[SignalRow, ...] = attrs.field(
        factory=tuple, converter=tuple[SignalRow, ...]
    )
    creators: tuple[CreatorView, ...] = attrs.field(
        factory=tuple, converter=tuple[CreatorView, ...]
    )
    triggers: tuple[TriggerView, ...] = attrs.field(
        factory=tuple, converter=tuple[TriggerView, ...]
    )
    rate_limits: tuple[RateLimitView, ...] = attrs.field(
        factory=tuple, converter=tuple[RateLimitView, ...]
    )
    integrations: tuple[IntegrationView, ...] = attrs.field(
        factory=tuple, converter=tuple[IntegrationView, ...]
    )
    permissions: tuple[PermissionView, ...] = attrs.field(
        factory=tuple, converter=tuple[PermissionView, ...]
    )
    points: tuple[PointsView, ...] = attrs.field(factory=tuple, converter=tuple[PointsView, ...])
    quotes: tuple[QuoteView, ...] = attrs.field(factory=tuple, converter=tuple[QuoteView, ...])
    giveaways: tuple[GiveawayView, ...] = attrs.field(
        factory=tuple, converter=tuple[GiveawayView, ...]
    )
    timers: tuple[TimerView, ...] = attrs.field(factory=tuple, converter=tuple[TimerView, ...])
    filters: tuple[FilterView, ...] = attrs.field(factory=tuple, converter=tuple[FilterView, ...])
    changed_at: Mapping[str, datetime] = attrs.field(factory=dict)


def build_all(
    ctx: ExportContext,
    inputs: ExportInputs,
    *,
    pseudonym_key: bytes,
    heartbeat: datetime | None = None,
    signal_limit: int = DEFAULT_SIGNAL_LIMIT,
    telemetry_heartbeat: bool = False,
) -> dict[str, dict[str, Any]]:
    """Build every file of the registry; returns ``{path: document}`` for ``ExportWriter``.

    ``heartbeat`` (default ``ctx.now``) goes into ``runtime_snapshot.json``; with
    ``telemetry_heartbeat`` the telemetry files carry it too, as top-level ``timestamp``.
    """
    ch = inputs.changed_at.get
    beat = heartbeat if heartbeat is not None else ctx.now
    tbeat = beat if telemetry_heartbeat else None
    runtime = inputs.runtime if inputs.runtime is not None else RuntimeView(version=ctx.version)
    docs = {
        "runtime_snapshot.json": build_runtime_snapshot(
            ctx, runtime, heartbeat=beat, changed_at=ch("runtime_snapshot.json")
        ),
        "quotas.json": build_quotas(ctx, inputs.quotas, changed_at=ch("quotas.json")),
        "jobs.json": build_jobs(ctx, inputs.jobs, changed_at=ch("jobs.json")),
        "clips.json": build_clips(ctx, inputs.clips, changed_at=ch("clips.json")),
        "polls.json": build_polls(ctx, inputs.polls, changed_at=ch("polls.json")),
        "tallies.json": build_tallies(ctx, inputs.tallies, changed_at=ch("tallies.json")),
        "scoreboards.json": build_scoreboards(
            ctx, inputs.scoreboards, changed_at=ch("scoreboards.json")
        ),
        "discord/runtime.json": build_discord_runtime(
            ctx, inputs.discord, changed_at=ch("discord/runtime.json")
        ),
        "telemetry/events.json": build_telemetry_events(
            ctx, inputs.telemetry_events, changed_at=ch("telemetry/events.json"), heartbeat=tbeat
        ),
        "telemetry/errors.json": build_telemetry_errors(
            ctx, inputs.telemetry_errors, changed_at=ch("telemetry/errors.json"), heartbeat=tbeat
        ),
        "telemetry/rates.json": build_telemetry_rates(
            ctx,
            inputs.rate_metrics,
            window=inputs.rates_window,
            measured_at=inputs.rates_measured_at or ch("telemetry/rates.json"),
            heartbeat=tbeat,
        ),
        "creators.json": build_creators(ctx, inputs.creators, changed_at=ch("creators.json")),
        "chat_triggers.json": build_chat_triggers(
            ctx,
            inputs.triggers,
            changed_at=ch("chat_triggers.json"),
            timers=inputs.timers,
            filters=inputs.filters,
        ),
        "points.json": build_points(ctx, inputs.points, changed_at=ch("points.json")),
        "quotes.json": build_quotes(ctx, inputs.quotes, changed_at=ch("quotes.json")),
        "giveaways.json": build_giveaways(ctx, inputs.giveaways, changed_at=ch("giveaways.json")),
        "rate_limits.json": build_rate_limits(
            ctx, inputs.rate_limits, changed_at=ch("rate_limits.json")
        ),
        "integrations.json": build_integrations(
            ctx, inputs.integrations, changed_at=ch("integrations.json")
        ),
        "permissions.json": build_permissions(
            ctx, inputs.permissions, changed_at=ch("permissions.json")
        ),
        "meta.json": build_manifest(ctx, changed_at=ch("meta.json")),
    }
    signals = (
        ("chat_events.json", build_chat_events, inputs.chat_events),
        ("poll_votes.json", build_poll_votes, inputs.poll_votes),
        ("tally_events.json", build_tally_events, inputs.tally_events),
        ("score_events.json", build_score_events, inputs.score_events),
    )
    for path, builder, rows in signals:
        docs[path] = builder(ctx, rows, key=pseudonym_key, limit=signal_limit, changed_at=ch(path))
    return dict(sorted(docs.items()))
