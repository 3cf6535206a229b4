"""The registry of export files, the ``meta`` block, and the build context.

``FILES`` is the single source of truth for what the runtime publishes (mirrors
``docs/exports.md``): the manifest, the visibility routing of mirrors and the schema lookup all
read it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from importlib import metadata
from typing import Any

import attrs

from exports.canonical import format_timestamp

__all__ = [
    "FILES",
    "FILES_BY_PATH",
    "RUNTIME_VERSION",
    "ExportContext",
    "ExportFile",
    "Visibility",
    "build_meta",
    "clamp_to_now",
    "get_file",
    "source_string",
]


def _detect_version() -> str:
    try:
        return metadata.version("streamsuites-runtime")
    except metadata.PackageNotFoundError:  # running from a source checkout
        return "0.1.0"


#: The version written into ``meta.source`` unless the context says otherwise.
RUNTIME_VERSION = _detect_version()


class Visibility(enum.StrEnum):
    """Who may see a file; mirrors are configured per visibility."""

    PUBLIC = "public"
    DASHBOARD_ONLY = "dashboard-only"
    INTERNAL_ONLY = "internal-only"


@attrs.frozen(kw_only=True)
class ExportFile:
    """One file of the export surface."""

    path: str  # relative to the state root, always with "/" separators
    visibility: Visibility
    schema: str  # e.g. "streamsuites.clips.v1"
    scope: str  # meta.scope: the file's subject
    description: str

    @property
    def schema_filename(self) -> str:
        """Name of this file's JSON Schema inside ``exports/schemas/``."""
        return self.path.removesuffix(".json").replace("/", "_") + ".schema.json"


def _f(path: str, visibility: Visibility, name: str, scope: str, description: str) -> ExportFile:
    return ExportFile(
        path=path,
        visibility=visibility,
        schema=f"streamsuites.{name}.v1",
        scope=scope,
        description=description,
    )


_P, _D, _I = Visibility.PUBLIC, Visibility.DASHBOARD_ONLY, Visibility.INTERNAL_ONLY

#: Every file the runtime publishes, sorted by path.
FILES: tuple[ExportFile, ...] = tuple(
    sorted(
        (
            _f(
                "runtime_snapshot.json",
                _D,
                "runtime_snapshot",
                "runtime",
                "The process and the actor tree; heartbeat rewritten at least every 10 s.",
            ),
            _f("quotas.json", _D, "quotas", "quotas", "API quota per creator and platform."),
            _f(
                "jobs.json",
                _D,
                "jobs",
                "jobs",
                "Background jobs (clip jobs, notification deliveries).",
            ),
            _f("clips.json", _P, "clips", "clips", "Clips and their lifecycle."),
            _f(
                "polls.json",
                _P,
                "polls",
                "polls",
                "Polls with aggregated votes (no voter identities).",
            ),
            _f("tallies.json", _P, "tallies", "tallies", "Tally counters."),
            _f(
                "points.json",
                _P,
                "points",
                "points",
                "Loyalty points: the top 100 balances per creator, by display name.",
            ),
            _f("quotes.json", _P, "quotes", "quotes", "Quotes, numbered per creator."),
            _f(
                "giveaways.json",
                _D,
                "giveaways",
                "giveaways",
                "Open and past giveaways: entrant counts and winners by display name.",
            ),
            _f("scoreboards.json", _P, "scoreboards", "scoreboards", "Ranked scoreboards."),
            _f(
                "discord/runtime.json",
                _D,
                "discord_runtime",
                "discord",
                "Discord control plane status and guilds.",
            ),
            _f(
                "telemetry/events.json",
                _D,
                "telemetry_events",
                "telemetry-events",
                "Recent runtime events.",
            ),
            _f(
                "telemetry/errors.json",
                _D,
                "telemetry_errors",
                "telemetry-errors",
                "Active and recently cleared errors.",
            ),
            _f(
                "telemetry/rates.json",
                _D,
                "telemetry_rates",
                "telemetry-rates",
                "Message and trigger rates.",
            ),
            _f(
                "chat_events.json",
                _D,
                "chat_events",
                "chat-events",
                "Recent chat signals, newest last; user identities pseudonymized.",
            ),
            _f(
                "poll_votes.json",
                _D,
                "poll_votes",
                "poll-votes",
                "Recent poll votes, newest last; voters pseudonymized.",
            ),
            _f(
                "tally_events.json",
                _D,
                "tally_events",
                "tally-events",
                "Recent tally changes, newest last; users pseudonymized.",
            ),
            _f(
                "score_events.json",
                _D,
                "score_events",
                "score-events",
                "Recent score changes, newest last; users pseudonymized.",
            ),
            _f(
                "creators.json", _D, "creators", "creators", "Creators as the runtime applied them."
            ),
            _f(
                "chat_triggers.json",
                _D,
                "chat_triggers",
                "chat-triggers",
                "Chat triggers as the runtime applied them.",
            ),
            _f(
                "rate_limits.json",
                _D,
                "rate_limits",
                "rate-limits",
                "Rate limits as the runtime applied them.",
            ),
            _f(
                "integrations.json",
                _I,
                "integrations",
                "integrations",
                "Integration status (no credentials).",
            ),
            _f("permissions.json", _I, "permissions", "permissions", "Principals and roles."),
            _f("meta.json", _P, "meta", "exports-manifest", "The manifest of every export file."),
        ),
        key=lambda f: f.path,
    )
)

FILES_BY_PATH: dict[str, ExportFile] = {f.path: f for f in FILES}


def get_file(path: str) -> ExportFile:
    """The registry entry for ``path`` (``"discord/runtime.json"``); ``KeyError`` if unknown."""
    try:
        return FILES_BY_PATH[path]
    except KeyError:
        raise KeyError(f"unknown export file {path!r}") from None


def _aware(_instance: object, attribute: attrs.Attribute, value: datetime) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{attribute.name} must be an aware datetime, got {value!r}")


def _secret_set(value: Iterable[str]) -> frozenset[str]:
    # A lone string would become a set of characters, all too short to be searched for: the
    # secret would leak silently.
    if isinstance(value, str):
        raise TypeError("secrets must be a collection of strings, not a string")
    return frozenset(value)


@attrs.frozen(kw_only=True)
class ExportContext:
    """What every builder needs besides its own inputs.

    ``now`` is the wall clock of this build: no timestamp written may be later. ``started_at`` is
    the boot time, the ``generated_at`` of a file that reflects no change yet (empty inputs):
    "nothing happened since boot" is a change that happened at boot. ``secrets`` are the known
    secret values (tokens, stream keys, client secrets) scrubbed from every file.
    """

    now: datetime = attrs.field(validator=_aware)
    started_at: datetime = attrs.field(validator=_aware)
    version: str = RUNTIME_VERSION
    secrets: frozenset[str] = attrs.field(default=frozenset(), converter=_secret_set)

    def __attrs_post_init__(self) -> None:
        if self.started_at > self.now:
            raise ValueError("started_at is later than now")


def clamp_to_now(ctx: ExportContext, moment: datetime) -> datetime:
    """``moment``, or ``ctx.now`` when ``moment`` lies in the future (clock skew, bad input)."""
    return min(moment, ctx.now)


def source_string(version: str) -> str:
    """``meta.source`` for this runtime version."""
    return f"streamsuites-runtime/{version}"


def build_meta(file: ExportFile, ctx: ExportContext, generated_at: datetime) -> dict[str, Any]:
    """The ``meta`` block of ``file``; ``generated_at`` is clamped to ``ctx.now``."""
    return {
        "schema": file.schema,
        "generated_at": format_timestamp(clamp_to_now(ctx, generated_at)),
        "source": source_string(ctx.version),
        "visibility": str(file.visibility),
        "scope": file.scope,
    }
