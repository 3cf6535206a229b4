"""Slash commands of the control plane: their definitions, the runtime protocol, dispatch.

`COMMANDS` is the JSON registered per guild (``PUT /applications/{app}/guilds/{guild}/commands``,
a bulk overwrite, so the registered set always equals this list). Every command needs the
Administrator or Manage Server permission (``default_member_permissions`` = MANAGE_GUILD, and
the bot checks again: Discord's setting can be overridden per guild by its admins).

`ControlPlane` is what the commands act on; the runtime implements it over its supervision
tree. Each method returns the text to answer with (Discord's 2,000-character limit is applied
here).
"""

from __future__ import annotations

from typing import Any, Protocol

from actors.discord.rest_protocol import MANAGE_GUILD, Interaction

__all__ = ["COMMANDS", "COMMAND_NAMES", "CommandError", "ControlPlane", "run_command"]

_STRING, _INTEGER, _CHANNEL, _SUB = 3, 4, 7, 1
_TEXT_CHANNEL = 0
_MAX_CONTENT = 2000
_PERMISSION = str(MANAGE_GUILD)


class CommandError(Exception):
    """A command's arguments are wrong; the message is shown to the user."""


class ControlPlane(Protocol):
    """What the slash commands do to the runtime. Every method returns the reply text."""

    async def status(self) -> str:
        """`/status`: the runtime at a glance."""
        ...

    async def actors(self) -> str:
        """`/actors`: the supervision tree."""
        ...

    async def restart(self, path: str) -> str:
        """`/restart <path>`: restart the actor or supervisor at `path`."""
        ...

    async def creators(self) -> str:
        """`/creators`: configured creators and their platforms."""
        ...

    async def quotas(self) -> str:
        """`/quota`: API quota use."""
        ...

    async def clip(self, creator: str, seconds: int | None) -> str:
        """`/clip <creator> [seconds]`: request a clip."""
        ...

    async def poll(
        self, creator: str, action: str, question: str | None, options: tuple[str, ...]
    ) -> str:
        """`/poll open|close`: open (question, options) or close the creator's poll."""
        ...

    async def watch_add(self, kind: str, value: str) -> str:
        """`/watch add`: watch a channel (kind: twitch, twitch_id, twitch_game, kick)."""
        ...

    async def watch_remove(self, kind: str, value: str) -> str:
        """`/watch remove`."""
        ...

    async def watch_list(self) -> str:
        """`/watch list`."""
        ...

    async def set_notify_channel(self, guild_id: str, channel_id: str) -> str:
        """`/notify channel`: where this guild's go-live notifications are posted."""
        ...


def _opt(name: str, kind: int, description: str, *, required: bool = False, **extra: Any) -> dict:
    return {"name": name, "type": kind, "description": description, "required": required, **extra}


_WATCH_KINDS = [
    {"name": "Twitch login", "value": "twitch"},
    {"name": "Twitch user id", "value": "twitch_id"},
    {"name": "Twitch game id", "value": "twitch_game"},
    {"name": "Kick channel", "value": "kick"},
]
_WATCH_ARGS = [
    _opt("kind", _STRING, "What the value is", required=True, choices=_WATCH_KINDS),
    _opt("value", _STRING, "Login, id or slug", required=True, max_length=64),
]


def _command(name: str, description: str, options: list[dict] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "type": 1,
        "description": description,
        "options": options or [],
        "default_member_permissions": _PERMISSION,
        "contexts": [0],  # guilds only: DMs have no permissions to check
    }


COMMANDS: tuple[dict[str, Any], ...] = (
    _command("status", "Runtime status"),
    _command("actors", "The supervision tree"),
    _command(
        "restart",
        "Restart an actor or supervisor",
        [_opt("path", _STRING, "Its path, e.g. creators/creator:daniel/twitch", required=True)],
    ),
    _command("creators", "Configured creators"),
    _command("quota", "API quota use"),
    _command(
        "clip",
        "Clip a creator's live stream",
        [
            _opt("creator", _STRING, "Creator id", required=True),
            _opt("seconds", _INTEGER, "Length (5-60 s)", min_value=5, max_value=60),
        ],
    ),
    _command(
        "poll",
        "Open or close a chat poll",
        [
            _opt(
                "open",
                _SUB,
                "Open a poll",
                options=[
                    _opt("creator", _STRING, "Creator id", required=True),
                    _opt("question", _STRING, "The question", required=True, max_length=200),
                    _opt("options", _STRING, "Options separated by |", required=True),
                ],
            ),
            _opt(
                "close",
                _SUB,
                "Close the open poll",
                options=[_opt("creator", _STRING, "Creator id", required=True)],
            ),
        ],
    ),
    _command(
        "watch",
        "Live-status watchlist",
        [
            _opt("add", _SUB, "Watch a channel or game", options=_WATCH_ARGS),
            _opt("remove", _SUB, "Stop watching", options=_WATCH_ARGS),
            _opt("list", _SUB, "What is watched"),
        ],
    ),
    _command(
        "notify",
        "Go-live notifications",
        [
            _opt(
                "channel",
                _SUB,
                "Post this guild's notifications in a channel",
                options=[
                    _opt(
                        "channel",
                        _CHANNEL,
                        "The channel (default: this one)",
                        channel_types=[_TEXT_CHANNEL],
                    )
                ],
            )
        ],
    ),
)
COMMAND_NAMES = frozenset(c["name"] for c in COMMANDS)


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CommandError(f"`{name}` is required")
    return value.strip()


async def run_command(control: ControlPlane, interaction: Interaction) -> str:
    """Run the interaction's command on `control`; the reply text (at most 2,000 chars).

    Raises `CommandError` for bad arguments and `KeyError` for an unknown command.
    """
    path = interaction.command_path
    name = path[0] if path else ""
    sub = path[1] if len(path) > 1 else None
    opt = interaction.option
    if name == "status":
        reply = await control.status()
    elif name == "actors":
        reply = await control.actors()
    elif name == "restart":
        reply = await control.restart(_text(opt("path"), "path"))
    elif name == "creators":
        reply = await control.creators()
    elif name == "quota":
        reply = await control.quotas()
    elif name == "clip":
        seconds = opt("seconds")
        if seconds is not None and (not isinstance(seconds, int) or not 5 <= seconds <= 60):
            raise CommandError("`seconds` must be within 5..60")
        reply = await control.clip(_text(opt("creator"), "creator"), seconds)
    elif name == "poll" and sub == "open":
        options = tuple(o.strip() for o in str(opt("options") or "").split("|") if o.strip())
        if not 2 <= len(options) <= 10:
            raise CommandError("a poll needs 2 to 10 options separated by |")
        reply = await control.poll(
            _text(opt("creator"), "creator"), "open", _text(opt("question"), "question"), options
        )
    elif name == "poll" and sub == "close":
        reply = await control.poll(_text(opt("creator"), "creator"), "close", None, ())
    elif name == "watch" and sub in ("add", "remove"):
        kind = _text(opt("kind"), "kind")
        if kind not in {k["value"] for k in _WATCH_KINDS}:
            raise CommandError(f"unknown kind {kind!r}")
        value = _text(opt("value"), "value")
        method = control.watch_add if sub == "add" else control.watch_remove
        reply = await method(kind, value)
    elif name == "watch" and sub == "list":
        reply = await control.watch_list()
    elif name == "notify" and sub == "channel":
        if interaction.guild_id is None:
            raise CommandError("use this command in a guild")
        channel = opt("channel") or interaction.channel_id
        reply = await control.set_notify_channel(interaction.guild_id, _text(channel, "channel"))
    else:
        raise KeyError(" ".join(path) or "?")
    reply = reply if isinstance(reply, str) and reply else "done"
    return reply if len(reply) <= _MAX_CONTENT else reply[: _MAX_CONTENT - 1] + "…"
