"""Notification rules: which stream transitions post what, where; pure code.

A rule matches `StreamStarted`/`StreamEnded` events by platform and channel and renders a
Discord message body. `outbox_ops` turns an event into outbox operations (state/outbox.py
`enqueue`) keyed ``<platform>:<channel>:<session start ms>:<rule id>[:ended]``, so the same
transition enqueued twice (a webhook retry, a poll after a restart) is still one entry. The
ops are meant to run in the SAME transaction as the stream-session change, so a crash can
neither record a session without its notification nor notify twice for one session.

The outbox `destination` never holds a secret: it is ``webhook:<rule id>`` (the URL stays in
the configuration and is resolved at send time) or ``channel:<channel id>``.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import apsw
import attrs

from actors.events import StreamEnded, StreamStarted
from exports.views import JobView
from state.outbox import EnqueueResult, OutboxEntry, enqueue

__all__ = [
    "NotifyRule",
    "channel_url",
    "dedupe_key",
    "job_view",
    "outbox_ops",
    "render_payload",
    "rules_from_config",
]

_CONTENT_MAX = 2000  # Discord's `content` limit
_EMBED_TITLE_MAX = 256

_URLS = {
    "twitch": "https://www.twitch.tv/{channel}",
    "kick": "https://kick.com/{channel}",
}


@attrs.frozen(kw_only=True)
class NotifyRule:
    """A notification rule at run time (`config.models.NotificationConfig`, secret revealed)."""

    id: str
    platform: str = "any"  # twitch | kick | any
    channels: frozenset[str] = frozenset()  # lowercased; empty = all
    on: frozenset[str] = frozenset({"started"})
    webhook_url: str | None = attrs.field(default=None, repr=False)  # carries a token
    channel_id: str | None = None
    template: str = "{channel} is live on {platform}: {title} {url}"
    embed: bool = False

    @property
    def destination(self) -> str:
        """The outbox destination (secret-free)."""
        if self.webhook_url is not None:
            return f"webhook:{self.id}"
        return f"channel:{self.channel_id}"

    def matches(self, event: StreamStarted | StreamEnded) -> bool:
        """Whether this rule fires for `event`."""
        kind = "started" if isinstance(event, StreamStarted) else "ended"
        if kind not in self.on:
            return False
        if self.platform != "any" and self.platform != event.platform:
            return False
        return not self.channels or event.channel.lower() in self.channels


def rules_from_config(configs: Iterable[Any]) -> tuple[NotifyRule, ...]:
    """`NotifyRule`s from `NotificationConfig`s (disabled ones left out)."""
    out = []
    for cfg in configs:
        if not cfg.enabled:
            continue
        out.append(
            NotifyRule(
                id=cfg.id,
                platform=cfg.platform,
                channels=frozenset(c.lower() for c in cfg.channels),
                on=frozenset(cfg.on),
                webhook_url=cfg.webhook_url.reveal() if cfg.webhook_url is not None else None,
                channel_id=cfg.channel_id,
                template=cfg.template,
                embed=cfg.embed,
            )
        )
    return tuple(out)


def channel_url(platform: str, channel: str) -> str:
    """The public URL of a channel ("" for platforms without one)."""
    pattern = _URLS.get(platform)
    return pattern.format(channel=channel) if pattern else ""


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def _fields(event: StreamStarted | StreamEnded, started_ms: int) -> dict[str, str]:
    started = datetime.fromtimestamp(started_ms / 1000, UTC).isoformat().replace("+00:00", "Z")
    title = getattr(event, "title", None) or ""
    game = getattr(event, "game", None) or ""
    viewers = getattr(event, "viewer_count", None)
    return {
        "platform": event.platform,
        "channel": event.channel,
        "title": title,
        "game": game,
        "viewers": "" if viewers is None else str(viewers),
        "url": channel_url(event.platform, event.channel),
        "started_at": started,
    }


def render_payload(
    rule: NotifyRule, event: StreamStarted | StreamEnded, started_ms: int
) -> dict[str, Any]:
    """The message body for Discord (webhook execute or channel message)."""
    fields = _fields(event, started_ms)
    # Only plain names are allowed in templates (checked at config load); a missing one is "".
    content = string.Formatter().vformat(rule.template, (), _Blank(fields)).strip()
    body: dict[str, Any] = {
        "content": content[:_CONTENT_MAX],
        # Stream titles are user text: never let them ping @everyone or roles.
        "allowed_mentions": {"parse": []},
    }
    if rule.embed:
        embed: dict[str, Any] = {
            "title": (fields["title"] or f"{event.channel} on {event.platform}")[:_EMBED_TITLE_MAX],
            "timestamp": fields["started_at"],
        }
        if fields["url"]:
            embed["url"] = fields["url"]
        if fields["game"]:
            embed["fields"] = [{"name": "Game", "value": fields["game"][:1024], "inline": True}]
        body["embeds"] = [embed]
    return body


def dedupe_key(rule: NotifyRule, event: StreamStarted | StreamEnded, started_ms: int) -> str:
    """``<platform>:<channel>:<session start ms>:<rule id>`` (``:ended`` for offline posts)."""
    key = f"{event.platform}:{event.channel.lower()}:{started_ms}:{rule.id}"
    return key + ":ended" if isinstance(event, StreamEnded) else key


def outbox_ops(
    rules: Iterable[NotifyRule],
    event: StreamStarted | StreamEnded,
    started_ms: int,
    *,
    now_ms: Callable[[], int] | None = None,
) -> list[Callable[[apsw.Connection], EnqueueResult]]:
    """One `enqueue` operation per matching rule (run them in the session's transaction)."""
    ops: list[Callable[[apsw.Connection], EnqueueResult]] = []
    for rule in rules:
        if not rule.matches(event):
            continue
        key = dedupe_key(rule, event, started_ms)
        payload = render_payload(rule, event, started_ms)
        destination = rule.destination

        def op(
            conn: apsw.Connection,
            key: str = key,
            payload: Mapping[str, Any] = payload,
            destination: str = destination,
        ) -> EnqueueResult:
            now = now_ms() if now_ms is not None else None
            return enqueue(conn, dedupe_key=key, destination=destination, payload=payload, now=now)

        ops.append(op)
    return ops


_JOB_STATUS = {
    "pending": "pending",
    "sending": "running",
    "delivered": "completed",
    "dead": "failed",
}


def job_view(entry: OutboxEntry) -> JobView:
    """An outbox entry as a jobs.json row (type ``notification``; dead ones carry the reason)."""

    def at(ms: int) -> datetime:
        return datetime.fromtimestamp(ms / 1000, UTC)

    return JobView(
        id=f"notify:{entry.id}",
        type="notification",
        status=_JOB_STATUS[entry.state],
        created_at=at(entry.created_at),
        updated_at=at(entry.updated_at),
        reason=entry.last_error if entry.state in ("dead", "pending") else None,
    )
