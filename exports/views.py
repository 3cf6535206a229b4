"""Plain, typed inputs of the export builders.

The publisher turns store rows and actor snapshots into these frozen values; builders turn them
into file dicts. Datetimes must be aware (they are formatted as UTC milliseconds by the
builders). Enumerated fields are validated here, so a bad value fails where it is produced, not
in a dashboard. Mappings are frozen into sorted tuples of pairs (hashable, deterministic).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import attrs

__all__ = [
    "ACTOR_KINDS",
    "ACTOR_STATES",
    "AUTHORIZATION_REASONS",
    "CLIP_STATES",
    "CREATOR_STATUSES",
    "INTEGRATION_STATUSES",
    "JOB_STATUSES",
    "PERMISSION_STATUSES",
    "PLATFORM_STATUSES",
    "POLL_STATES",
    "RATE_LIMIT_STATUSES",
    "SEVERITIES",
    "TRIGGER_MODULES",
    "ActorStatus",
    "ClipView",
    "CreatorView",
    "DiscordView",
    "ErrorView",
    "FilterView",
    "GiveawayView",
    "GiveawayWinner",
    "GuildView",
    "IntegrationView",
    "JobView",
    "PermissionView",
    "PlatformStatus",
    "PointsView",
    "PollOption",
    "PollView",
    "QuotaView",
    "QuoteView",
    "RateLimitView",
    "RateMetric",
    "ReplayView",
    "RestartIntent",
    "RuntimeView",
    "ScoreEntry",
    "ScoreboardView",
    "SignalRow",
    "TallyView",
    "TelemetryEvent",
    "TimerView",
    "TriggerView",
]

PLATFORM_STATUSES = frozenset({"running", "paused", "disabled", "inactive", "error"})
CONNECTION_STATES = frozenset(
    {"connecting", "connected", "reconnecting", "failed", "paused", "disabled"}
)
CREATOR_STATUSES = PLATFORM_STATUSES
ACTOR_KINDS = frozenset({"actor", "supervisor"})
ACTOR_STATES = frozenset({"starting", "running", "restarting", "stopping", "stopped", "failed"})
CLIP_STATES = frozenset({"queued", "encoding", "encoded", "uploading", "published", "failed"})
POLL_STATES = frozenset({"open", "closed"})
JOB_STATUSES = frozenset({"pending", "running", "completed", "failed"})
SEVERITIES = frozenset({"info", "warning", "error"})
AUTHORIZATION_REASONS = frozenset({"admin_override", "oauth_permissions", "none"})
TRIGGER_MODULES = frozenset({"command", "keyword", "regex"})
RATE_LIMIT_STATUSES = frozenset({"ok", "limited", "blocked"})
INTEGRATION_STATUSES = frozenset({"connected", "disconnected", "error", "disabled", "pending"})
PERMISSION_STATUSES = frozenset({"active", "revoked"})

# Validators run for every field of every view the publisher makes (thousands a second at a
# thousand creators): each is one plain function whose common case (a value of exactly the
# expected type) costs a type comparison; anything else takes the full check.


def _type_error(attribute: attrs.Attribute, expected: type, value: Any) -> TypeError:
    return TypeError(
        f"{attribute.name} must be {expected.__name__}, got {value!r} ({type(value).__name__})"
    )


def _str(_instance: object, attribute: attrs.Attribute, value: Any) -> None:
    if type(value) is not str and not isinstance(value, str):
        raise _type_error(attribute, str, value)


def _opt_str(_instance: object, attribute: attrs.Attribute, value: Any) -> None:
    if value is not None and type(value) is not str and not isinstance(value, str):
        raise _type_error(attribute, str, value)


def _bool(_instance: object, attribute: attrs.Attribute, value: Any) -> None:
    if type(value) is not bool:  # bool cannot be subclassed
        raise _type_error(attribute, bool, value)


def _int(_instance: object, attribute: attrs.Attribute, value: Any) -> None:
    if type(value) is not int and not isinstance(value, int):
        raise _type_error(attribute, int, value)


def _aware(_instance: object, attribute: attrs.Attribute, value: Any) -> None:
    if type(value) is datetime and value.tzinfo is UTC:  # what the publisher makes
        return
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{attribute.name} must be an aware datetime, got {value!r}")


def _opt_aware(instance: object, attribute: attrs.Attribute, value: Any) -> None:
    if value is not None and (type(value) is not datetime or value.tzinfo is not UTC):
        _aware(instance, attribute, value)


def _count(_instance: object, attribute: attrs.Attribute, value: Any) -> None:
    if type(value) is int and value >= 0:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{attribute.name} must be a non-negative int, got {value!r}")


def _number(_instance: object, attribute: attrs.Attribute, value: Any) -> None:
    if type(value) is int:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{attribute.name} must be a finite number, got {value!r}")


def _opt_number(instance: object, attribute: attrs.Attribute, value: Any) -> None:
    if value is not None:
        _number(instance, attribute, value)


def _nonempty(_instance: object, attribute: attrs.Attribute, value: Any) -> None:
    if type(value) is str and value:
        return
    if not isinstance(value, str) or not value:
        raise ValueError(f"{attribute.name} must be a non-empty string, got {value!r}")


def _one_of(choices: frozenset[str]) -> Any:
    def check(_instance: object, attribute: attrs.Attribute, value: Any) -> None:
        if value not in choices:
            raise ValueError(f"{attribute.name} must be one of {sorted(choices)}, got {value!r}")

    return check


def _opt_one_of(choices: frozenset[str]) -> Any:
    def check(_instance: object, attribute: attrs.Attribute, value: Any) -> None:
        if value is not None and value not in choices:
            raise ValueError(f"{attribute.name} must be one of {sorted(choices)}, got {value!r}")

    return check


_BoolMap = Mapping[str, bool] | Iterable[tuple[str, bool]]


def _bool_map(value: _BoolMap) -> tuple[tuple[str, bool], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    pairs = tuple(sorted((str(k), bool(b)) for k, b in items))
    if len({k for k, _ in pairs}) != len(pairs):
        raise ValueError("duplicate keys in mapping")
    return pairs


def _str_tuple(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):  # a lone string would become a tuple of characters
        raise TypeError("expected an iterable of strings, got a string")
    values = tuple(value)
    for item in values:
        if type(item) is not str and not isinstance(item, str):
            raise TypeError(f"expected strings, got {item!r} ({type(item).__name__})")
    return values


def _members(kind: type) -> Any:
    """A validator of a tuple field: every member is a `kind` (views are checked where they
    are made, so a tuple of them holds only validated values, all plain for the encoder)."""

    def check(_instance: object, attribute: attrs.Attribute, value: tuple[Any, ...]) -> None:
        for item in value:
            if type(item) is not kind and not isinstance(item, kind):
                raise TypeError(
                    f"{attribute.name} must hold {kind.__name__} values, got {item!r} "
                    f"({type(item).__name__})"
                )

    return check


# --- runtime_snapshot.json ---------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class PlatformStatus:
    """One platform's status, for one creator or already summed over creators.

    The builder merges rows of the same platform: counters add up, times take the latest,
    ``enabled`` is any, the status is the most severe (error > running > paused > inactive >
    disabled).
    """

    platform: str = attrs.field(validator=_nonempty)
    enabled: bool = attrs.field(validator=_bool)
    status: str = attrs.field(validator=_one_of(PLATFORM_STATUSES))
    creator_id: str | None = attrs.field(default=None, validator=_opt_str)
    name: str | None = attrs.field(default=None, validator=_opt_str)  # display name
    # The connection lifecycle's state (`actors.connection.ConnectionState` values), when known.
    state: str | None = attrs.field(default=None, validator=_opt_one_of(CONNECTION_STATES))
    last_heartbeat: datetime | None = attrs.field(default=None, validator=_opt_aware)
    last_event_at: datetime | None = attrs.field(default=None, validator=_opt_aware)
    error: str | None = attrs.field(default=None, validator=_opt_str)
    paused_reason: str | None = attrs.field(default=None, validator=_opt_str)
    next_retry_at: datetime | None = attrs.field(default=None, validator=_opt_aware)
    attempts: int = attrs.field(default=0, validator=_count)
    messages: int = attrs.field(default=0, validator=_count)
    triggers: int = attrs.field(default=0, validator=_count)
    actions: int = attrs.field(default=0, validator=_count)
    errors: int = attrs.field(default=0, validator=_count)
    connects: int = attrs.field(default=0, validator=_count)
    disconnects: int = attrs.field(default=0, validator=_count)


@attrs.frozen(kw_only=True)
class CreatorView:
    """A creator as the runtime applied it (runtime_snapshot.json and creators.json)."""

    creator_id: str = attrs.field(validator=_nonempty)
    display_name: str = attrs.field(validator=_str)
    enabled: bool = attrs.field(validator=_bool)
    platforms: tuple[tuple[str, bool], ...] = attrs.field(factory=tuple, converter=_bool_map)
    status: str = attrs.field(default="running", validator=_one_of(CREATOR_STATUSES))
    error: str | None = attrs.field(default=None, validator=_opt_str)
    created_at: datetime | None = attrs.field(default=None, validator=_opt_aware)
    updated_at: datetime | None = attrs.field(default=None, validator=_opt_aware)


@attrs.frozen(kw_only=True)
class ActorStatus:
    """One node of the supervision tree (``Actor.snapshot()`` / supervisor statistics)."""

    path: str = attrs.field(validator=_nonempty)  # "creators/creator:daniel/twitch"
    kind: str = attrs.field(validator=_one_of(ACTOR_KINDS))
    state: str = attrs.field(validator=_one_of(ACTOR_STATES))
    restarts: int = attrs.field(default=0, validator=_count)
    last_error: str | None = attrs.field(default=None, validator=_opt_str)  # already masked
    started_at: datetime | None = attrs.field(default=None, validator=_opt_aware)
    mailbox_depth: int = attrs.field(default=0, validator=_count)
    mailbox_peak: int = attrs.field(default=0, validator=_count)
    handled: int = attrs.field(default=0, validator=_count)
    changed_at: datetime | None = attrs.field(default=None, validator=_opt_aware)


@attrs.frozen(kw_only=True)
class RestartIntent:
    """Which configuration categories changed since boot and need a restart."""

    system: bool = attrs.field(default=False, validator=_bool)
    creators: bool = attrs.field(default=False, validator=_bool)
    triggers: bool = attrs.field(default=False, validator=_bool)
    platforms: bool = attrs.field(default=False, validator=_bool)
    notes: tuple[str, ...] = attrs.field(factory=tuple, converter=_str_tuple)

    @property
    def required(self) -> bool:
        """True when any category is pending."""
        return self.system or self.creators or self.triggers or self.platforms


@attrs.frozen(kw_only=True)
class ReplayView:
    """State of chat replay."""

    available: bool = attrs.field(default=False, validator=_bool)
    active: bool = attrs.field(default=False, validator=_bool)
    event_count: int = attrs.field(default=0, validator=_count)
    last_event_at: datetime | None = attrs.field(default=None, validator=_opt_aware)


@attrs.frozen(kw_only=True)
class RuntimeView:
    """Everything ``runtime_snapshot.json`` shows."""

    version: str = attrs.field(validator=_nonempty)
    build: str = attrs.field(default="", validator=_str)
    project: str = attrs.field(default="streamsuites-runtime", validator=_nonempty)
    platform_polling_enabled: bool = attrs.field(default=True, validator=_bool)
    platforms: tuple[PlatformStatus, ...] = attrs.field(
        factory=tuple, converter=tuple[PlatformStatus, ...], validator=_members(PlatformStatus)
    )
    creators: tuple[CreatorView, ...] = attrs.field(
        factory=tuple, converter=tuple[CreatorView, ...], validator=_members(CreatorView)
    )
    actors: tuple[ActorStatus, ...] = attrs.field(
        factory=tuple, converter=tuple[ActorStatus, ...], validator=_members(ActorStatus)
    )
    restart_intent: RestartIntent = attrs.field(
        factory=RestartIntent, validator=attrs.validators.instance_of(RestartIntent)
    )
    replay: ReplayView = attrs.field(
        factory=ReplayView, validator=attrs.validators.instance_of(ReplayView)
    )


# --- quotas.json ---------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class QuotaView:
    """One quota tracker (creator x platform, daily window). Status and remaining are derived."""

    platform: str = attrs.field(validator=_nonempty)
    creator_id: str = attrs.field(validator=_nonempty)
    used: int = attrs.field(validator=_count)
    max: int = attrs.field(validator=_count)
    buffer: int = attrs.field(default=0, validator=_count)
    reset_at: datetime | None = attrs.field(default=None, validator=_opt_aware)
    window: str = attrs.field(default="daily", validator=_nonempty)
    updated_at: datetime | None = attrs.field(default=None, validator=_opt_aware)

    @property
    def remaining(self) -> int:
        """Units left before the hard limit."""
        return max(0, self.max - self.used)

    @property
    def status(self) -> str:
        """``exhausted`` at the limit, ``buffer`` past ``max - buffer``, else ``ok``."""
        if self.used >= self.max:
            return "exhausted"
        if self.used >= max(0, self.max - self.buffer):
            return "buffer"
        return "ok"


# --- clips, polls, tallies, scoreboards (public) --------------------------------------------------


@attrs.frozen(kw_only=True)
class ClipView:
    """A clip and its lifecycle. Public: ``requested_by`` is a display name, never a user id."""

    clip_id: str = attrs.field(validator=_nonempty)
    creator_id: str = attrs.field(validator=_nonempty)
    title: str = attrs.field(validator=_str)
    platform: str = attrs.field(validator=_nonempty)  # where the clip was cut from
    state: str = attrs.field(validator=_one_of(CLIP_STATES))
    created_at: datetime = attrs.field(validator=_aware)
    updated_at: datetime = attrs.field(validator=_aware)
    requested_by: str | None = attrs.field(default=None, validator=_opt_str)
    creator_name: str | None = attrs.field(default=None, validator=_opt_str)
    duration_seconds: float | None = attrs.field(default=None, validator=_opt_number)
    progress: float = attrs.field(default=0.0, validator=_number)
    destination_platform: str | None = attrs.field(default=None, validator=_opt_str)
    destination_channel_url: str | None = attrs.field(default=None, validator=_opt_str)
    url: str | None = attrs.field(default=None, validator=_opt_str)
    thumbnail_url: str | None = attrs.field(default=None, validator=_opt_str)
    published_at: datetime | None = attrs.field(default=None, validator=_opt_aware)
    last_error: str | None = attrs.field(default=None, validator=_opt_str)

    @progress.validator
    def _progress_range(self, attribute: attrs.Attribute, value: float) -> None:
        if not 0 <= value <= 1:
            raise ValueError(f"progress must be within 0..1, got {value!r}")


@attrs.frozen(kw_only=True)
class PollOption:
    """One option of a poll with its aggregated vote count; ordered by ``position``."""

    option_id: str = attrs.field(validator=_nonempty)
    label: str = attrs.field(validator=_str)
    votes: int = attrs.field(default=0, validator=_count)
    position: int = attrs.field(default=0, validator=_count)


@attrs.frozen(kw_only=True)
class PollView:
    """A poll with aggregated votes (no voter identities)."""

    poll_id: str = attrs.field(validator=_nonempty)
    creator_id: str = attrs.field(validator=_nonempty)
    question: str = attrs.field(validator=_str)
    state: str = attrs.field(validator=_one_of(POLL_STATES))
    opened_at: datetime = attrs.field(validator=_aware)
    closed_at: datetime | None = attrs.field(default=None, validator=_opt_aware)
    options: tuple[PollOption, ...] = attrs.field(
        factory=tuple, converter=tuple[PollOption, ...], validator=_members(PollOption)
    )
    creator_name: str | None = attrs.field(default=None, validator=_opt_str)
    updated_at: datetime | None = attrs.field(default=None, validator=_opt_aware)  # last vote


@attrs.frozen(kw_only=True)
class TallyView:
    """A tally counter."""

    tally_id: str = attrs.field(validator=_nonempty)
    creator_id: str = attrs.field(validator=_nonempty)
    label: str = attrs.field(validator=_str)
    count: int = attrs.field(validator=_int)
    updated_at: datetime = attrs.field(validator=_aware)
    creator_name: str | None = attrs.field(default=None, validator=_opt_str)


@attrs.frozen(kw_only=True)
class ScoreEntry:
    """One ranked row; ``label`` is a display name or team name, never a user id."""

    position: int = attrs.field(validator=_count)
    label: str = attrs.field(validator=_str)
    score: float = attrs.field(validator=_number)


@attrs.frozen(kw_only=True)
class ScoreboardView:
    """A ranked scoreboard."""

    scoreboard_id: str = attrs.field(validator=_nonempty)
    creator_id: str = attrs.field(validator=_nonempty)
    title: str = attrs.field(validator=_str)
    updated_at: datetime = attrs.field(validator=_aware)
    entries: tuple[ScoreEntry, ...] = attrs.field(
        factory=tuple, converter=tuple[ScoreEntry, ...], validator=_members(ScoreEntry)
    )
    creator_name: str | None = attrs.field(default=None, validator=_opt_str)
    created_at: datetime | None = attrs.field(default=None, validator=_opt_aware)


# --- jobs.json -----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class JobView:
    """A background job (clip job, notification delivery, ...)."""

    id: str = attrs.field(validator=_nonempty)
    type: str = attrs.field(validator=_nonempty)
    status: str = attrs.field(validator=_one_of(JOB_STATUSES))
    created_at: datetime = attrs.field(validator=_aware)
    updated_at: datetime = attrs.field(validator=_aware)
    creator_id: str | None = attrs.field(default=None, validator=_opt_str)
    reason: str | None = attrs.field(default=None, validator=_opt_str)


# --- discord/runtime.json ------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class GuildView:
    """A Discord guild the bot knows. Ids are strings: snowflakes exceed 2^53."""

    guild_id: str = attrs.field(validator=_nonempty)
    guild_name: str = attrs.field(validator=_str)
    bot_present: bool = attrs.field(default=True, validator=_bool)
    authorized_for_user: bool = attrs.field(default=False, validator=_bool)
    authorization_reason: str = attrs.field(
        default="none", validator=_one_of(AUTHORIZATION_REASONS)
    )
    notifications_enabled: bool = attrs.field(default=False, validator=_bool)
    general_channel_id: str | None = attrs.field(default=None, validator=_opt_str)
    logging_enabled: bool = attrs.field(default=False, validator=_bool)
    logging_channel_id: str | None = attrs.field(default=None, validator=_opt_str)


@attrs.frozen(kw_only=True)
class DiscordView:
    """Discord control plane status."""

    running: bool = attrs.field(default=False, validator=_bool)
    connected: bool = attrs.field(default=False, validator=_bool)
    started_at: datetime | None = attrs.field(default=None, validator=_opt_aware)
    last_heartbeat: datetime | None = attrs.field(default=None, validator=_opt_aware)
    task_count: int = attrs.field(default=0, validator=_count)
    status_text: str = attrs.field(default="", validator=_str)
    status_emoji: str = attrs.field(default="", validator=_str)
    guilds: tuple[GuildView, ...] = attrs.field(
        factory=tuple, converter=tuple[GuildView, ...], validator=_members(GuildView)
    )
    changed_at: datetime | None = attrs.field(default=None, validator=_opt_aware)


# --- telemetry/*.json ----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class TelemetryEvent:
    """A recent runtime event (already free of secrets, but scrubbed again anyway)."""

    timestamp: datetime = attrs.field(validator=_aware)
    severity: str = attrs.field(validator=_one_of(SEVERITIES))
    source: str = attrs.field(validator=_nonempty)
    message: str = attrs.field(validator=_str)


@attrs.frozen(kw_only=True)
class ErrorView:
    """An error condition of a subsystem, active or cleared."""

    subsystem: str = attrs.field(validator=_nonempty)
    message: str = attrs.field(validator=_str)
    last_seen: datetime = attrs.field(validator=_aware)
    active: bool = attrs.field(default=True, validator=_bool)


@attrs.frozen(kw_only=True)
class RateMetric:
    """One rate over the telemetry window (e.g. ``messages.twitch``, 42, ``"msg/min"``)."""

    key: str = attrs.field(validator=_nonempty)
    label: str = attrs.field(validator=_str)
    value: float = attrs.field(validator=_number)
    unit: str = attrs.field(default="", validator=_str)


# --- signals (chat_events, poll_votes, tally_events, score_events) -------------------------------


@attrs.frozen(kw_only=True)
class SignalRow:
    """One recent signal.

    ``subject_id`` is the file's id column (``entity_id``, ``poll_id``, ``tally_id`` or
    ``scoreboard_id``). ``user_id`` is never written: the builder writes its keyed pseudonym as
    ``user`` and replaces ``{user}`` (and any occurrence of the raw id) in ``summary`` with it.
    Write ``{user}`` in ``summary`` instead of a login or display name: those identify people too.
    """

    timestamp: datetime = attrs.field(validator=_aware)
    type: str = attrs.field(validator=_nonempty)  # "chat_message", "vote", "increment", ...
    source: str = attrs.field(validator=_nonempty)  # platform or subsystem
    subject_id: str = attrs.field(validator=_nonempty)
    summary: str = attrs.field(default="", validator=_str)
    creator_id: str | None = attrs.field(default=None, validator=_opt_str)
    user_id: str | None = attrs.field(default=None, validator=_opt_str)


# --- configuration as applied (creators, chat_triggers, rate_limits) -----------------------------


@attrs.frozen(kw_only=True)
class TriggerView:
    """A chat trigger as the runtime applied it."""

    trigger_id: str = attrs.field(validator=_nonempty)
    creator_id: str = attrs.field(validator=_nonempty)
    phrase: str = attrs.field(validator=_str)  # "!clip", a keyword, or the regex source
    module: str = attrs.field(validator=_one_of(TRIGGER_MODULES))
    enabled: bool = attrs.field(default=True, validator=_bool)
    cooldown_seconds: float = attrs.field(default=0.0, validator=_number)
    last_fired_at: datetime | None = attrs.field(default=None, validator=_opt_aware)
    updated_at: datetime | None = attrs.field(default=None, validator=_opt_aware)


@attrs.frozen(kw_only=True)
class RateLimitView:
    """A rate limit as applied (``scope`` e.g. ``"creator:daniel/twitch/chat"``)."""

    scope: str = attrs.field(validator=_nonempty)
    limit: int = attrs.field(validator=_count)
    window_seconds: float = attrs.field(validator=_number)
    status: str = attrs.field(default="ok", validator=_one_of(RATE_LIMIT_STATUSES))
    used: int = attrs.field(default=0, validator=_count)
    updated_at: datetime | None = attrs.field(default=None, validator=_opt_aware)


# --- internal-only (integrations, permissions) ---------------------------------------------------


@attrs.frozen(kw_only=True)
class IntegrationView:
    """An integration (platform account, Discord bot, OBS, ...); never its credentials."""

    integration_id: str = attrs.field(validator=_nonempty)
    provider: str = attrs.field(validator=_nonempty)
    scope: str = attrs.field(validator=_nonempty)  # "system" or "creator:<id>"
    status: str = attrs.field(validator=_one_of(INTEGRATION_STATUSES))
    created_at: datetime | None = attrs.field(default=None, validator=_opt_aware)
    last_attempt_at: datetime | None = attrs.field(default=None, validator=_opt_aware)
    token_expires_at: datetime | None = attrs.field(default=None, validator=_opt_aware)
    last_error: str | None = attrs.field(default=None, validator=_opt_str)
    updated_at: datetime | None = attrs.field(default=None, validator=_opt_aware)
    # OAuth accounts (actors/accounts): the account actor's state and the granted scopes.
    state: str | None = attrs.field(default=None, validator=_opt_str)
    scopes: tuple[str, ...] = attrs.field(factory=tuple, converter=_str_tuple)


@attrs.frozen(kw_only=True)
class PermissionView:
    """A principal (``"discord:<user id>"``, ``"role:<id>"``) and its role and grants."""

    principal: str = attrs.field(validator=_nonempty)
    role: str = attrs.field(validator=_nonempty)
    status: str = attrs.field(default="active", validator=_one_of(PERMISSION_STATUSES))
    grants: tuple[str, ...] = attrs.field(factory=tuple, converter=_str_tuple)
    created_at: datetime | None = attrs.field(default=None, validator=_opt_aware)
    updated_at: datetime | None = attrs.field(default=None, validator=_opt_aware)


# --- points, quotes, giveaways, timers, filters (issue #16) ---------------------------------


@attrs.frozen(kw_only=True)
class PointsView:
    """One viewer's balance for the public ranking: a display name, never a platform id."""

    creator_id: str = attrs.field(validator=_nonempty)
    platform: str = attrs.field(validator=_nonempty)
    display_name: str = attrs.field(validator=_str)
    balance: int = attrs.field(validator=_count)
    updated_at: datetime = attrs.field(validator=_aware)
    creator_name: str | None = attrs.field(default=None, validator=_opt_str)


@attrs.frozen(kw_only=True)
class QuoteView:
    """A quote; `added_by` is a display name."""

    creator_id: str = attrs.field(validator=_nonempty)
    number: int = attrs.field(validator=_count)
    text: str = attrs.field(validator=_str)
    added_by: str = attrs.field(validator=_str)
    platform: str = attrs.field(validator=_nonempty)
    added_at: datetime = attrs.field(validator=_aware)
    creator_name: str | None = attrs.field(default=None, validator=_opt_str)


@attrs.frozen(kw_only=True)
class GiveawayWinner:
    """A drawn winner: the draw's number (2+ is a reroll), display name and time."""

    draw: int = attrs.field(validator=_count)
    display_name: str = attrs.field(validator=_str)
    platform: str = attrs.field(validator=_nonempty)
    drawn_at: datetime = attrs.field(validator=_aware)


@attrs.frozen(kw_only=True)
class GiveawayView:
    """A giveaway with its entrant and ticket counts and winners."""

    giveaway_id: str = attrs.field(validator=_nonempty)
    creator_id: str = attrs.field(validator=_nonempty)
    prize: str = attrs.field(validator=_str)
    state: str = attrs.field(validator=_one_of(frozenset({"open", "closed"})))
    entry_cost: int = attrs.field(validator=_count)
    subscribers_only: bool = attrs.field(validator=_bool)
    subscriber_tickets: int = attrs.field(validator=_count)
    entrants: int = attrs.field(validator=_count)
    tickets: int = attrs.field(validator=_count)
    winners: tuple[GiveawayWinner, ...] = attrs.field(
        converter=tuple[GiveawayWinner, ...], validator=_members(GiveawayWinner)
    )
    opened_at: datetime = attrs.field(validator=_aware)
    closed_at: datetime | None = attrs.field(default=None, validator=_opt_aware)
    updated_at: datetime = attrs.field(validator=_aware)
    creator_name: str | None = attrs.field(default=None, validator=_opt_str)


@attrs.frozen(kw_only=True)
class TimerView:
    """A configured timer and how often it posted since the runtime started."""

    timer_id: str = attrs.field(validator=_nonempty)
    creator_id: str = attrs.field(validator=_nonempty)
    interval_minutes: float = attrs.field(validator=_number)
    min_chat_lines: int = attrs.field(validator=_count)
    messages: int = attrs.field(validator=_count)
    platforms: tuple[str, ...] = attrs.field(converter=tuple[str, ...], validator=_members(str))
    enabled: bool = attrs.field(validator=_bool)
    posts: int = attrs.field(default=0, validator=_count)
    last_posted_at: datetime | None = attrs.field(default=None, validator=_opt_aware)


@attrs.frozen(kw_only=True)
class FilterView:
    """A configured chat filter and how many messages it caught since the runtime started."""

    filter_id: str = attrs.field(validator=_nonempty)
    creator_id: str = attrs.field(validator=_nonempty)
    kind: str = attrs.field(validator=_nonempty)
    action: str = attrs.field(validator=_nonempty)
    exempt: tuple[str, ...] = attrs.field(converter=tuple[str, ...], validator=_members(str))
    enabled: bool = attrs.field(validator=_bool)
    hits: int = attrs.field(default=0, validator=_count)
    last_hit_at: datetime | None = attrs.field(default=None, validator=_opt_aware)
