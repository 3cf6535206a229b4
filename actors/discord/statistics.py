"""The Discord bot's typed `snapshot()` (`DiscordBotStatistics`), read by the publisher.

A module of its own so the publisher can import it without the bot's I/O stack (httpx,
trio-websocket, the connection loop): it needs only the sans-IO gateway's state enum.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import attrs

from actors import ActorStatistics
from actors.discord.gateway import GatewayState

__all__ = ["DiscordBotStatistics", "GuildStatistics"]


@attrs.frozen(slots=True, kw_only=True)
class GuildStatistics:
    """A guild the bot knows (configured, or seen in READY / GUILD_CREATE): a row of
    discord/runtime.json's `guilds` (`exports.views.GuildView`)."""

    guild_id: str
    guild_name: str = ""
    #: The bot is a member (a configured guild it was never invited to is not).
    bot_present: bool = False
    #: True when no guilds are configured (any guild may be used) or this one is configured.
    authorized_for_user: bool = False
    #: "admin_override" when authorized, else "none" (`exports.views.AUTHORIZATION_REASONS`).
    authorization_reason: str = "none"
    notifications_enabled: bool = False
    notifications_channel_id: str | None = None
    #: The slash commands were registered (bulk overwrite) in this guild.
    commands_registered: bool = False


@attrs.frozen(slots=True, kw_only=True)
class DiscordBotStatistics(ActorStatistics):
    """What the Discord bot shows of itself in the tree (`DiscordGateway.snapshot`): the
    fields of discord/runtime.json (`exports.views.DiscordView`) and the bot's counters."""

    #: Not a field: the type says which platform it is (the dict's "platform" key, kept for
    #: readers that print it).
    platform: ClassVar[str] = "discord"
    #: "running", "error", "disabled" or "inactive" (the connection health's word).
    status: str
    enabled: bool
    #: Truthful for discord/runtime.json: the actor runs and the session is up.
    running: bool = False
    #: The gateway session is up (READY or RESUMED seen on this connection).
    connected: bool = False
    started_at: datetime | None = None
    last_heartbeat: datetime | None = None
    last_event_at: datetime | None = None
    #: Interactions being served right now (each in its own task).
    task_count: int = 0
    guilds: tuple[GuildStatistics, ...] = ()
    gateway_state: GatewayState = GatewayState.DISCONNECTED
    #: Between the last heartbeat and its ACK (None: not measured yet).
    latency_ms: float | None = None
    connects: int = 0
    identifies: int = 0
    resumes: int = 0
    interactions: int = 0
    answered: int = 0
    deferred: int = 0
    refused: int = 0
    bad_frames: int = 0
    alerts_posted: int = 0
    errors: int = 0
    #: Why the gateway is not connected, as a sentence (None while it is).
    error: str | None = None
