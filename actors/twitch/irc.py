"""Twitch chat over IRC: the sans-IO protocol module.

Pure functions only: strings in, values out. The `TwitchChat` actor owns the socket and feeds
every received line to `parse_irc_line`, turns the result into normalized events with
`to_chat_event`, and uses the builders at the bottom of this module for what it sends.

Parsing policy (see `tests/conformance/test_twitch_irc.py`): the parser is lenient in the
ircdocs/RFC 1459 way. Runs of spaces between the parts of a line are folded, any non-empty
token is accepted as a command (kept exactly as written), and tag values are IRCv3-unescaped.
It rejects, with `IrcParseError`, only lines it cannot split into a command: empty lines,
lines starting with a space, and tags or a prefix with nothing after them. A line holding a CR
or LF is never split: framing is the transport's job (see `split_frame`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypedDict

import attrs

from actors.events import (
    ChatEvent,
    Emote,
    GiftEvent,
    ModerationEvent,
    NoticeEvent,
    RaidEvent,
    ReplyParent,
    SubscriptionEvent,
)
from config.untrusted_json import decimal_int, describe

__all__ = [
    "MAX_MESSAGE_LENGTH",
    "IrcMessage",
    "IrcParseError",
    "OutgoingPrivmsg",
    "TwitchMessageError",
    "cap_req",
    "format_irc_line",
    "join",
    "nick",
    "parse_emotes",
    "parse_irc_line",
    "part",
    "pass_",
    "ping",
    "pong",
    "pong_for",
    "privmsg",
    "split_frame",
    "to_chat_event",
    "twitch_fields",
    "unescape_tag_value",
]

MAX_MESSAGE_LENGTH: Final = 500
"""Twitch's limit on the text of one PRIVMSG, in characters (code points)."""

DEFAULT_CAPABILITIES: Final = ("twitch.tv/tags", "twitch.tv/commands")


class IrcParseError(ValueError):
    """The line is not an IRC message (no command could be found in it)."""


class TwitchMessageError(ValueError):
    """The line is valid IRC but the Twitch message it claims to be cannot be built from it."""


@attrs.frozen(slots=True, kw_only=True)
class IrcMessage:
    """One parsed IRC line.

    `tags` holds IRCv3-unescaped values (`{}` when the line has none), `prefix` is the source
    without its leading `:` (`None` when absent), `command` is exactly as written (not
    uppercased), and `params` ends with the trailing parameter, without its `:`.
    """

    tags: dict[str, str]
    prefix: str | None
    command: str
    params: list[str]


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------

# IRCv3 tag escapes; any other escaped character stands for itself, and a lone trailing
# backslash (matched by the empty group) disappears.
_TAG_ESCAPES: Final = {"s": " ", ":": ";", "\\": "\\", "r": "\r", "n": "\n", "": ""}
_ESCAPE_RE: Final = re.compile(r"\\(.?)", re.DOTALL)


def _unescape_match(match: re.Match[str]) -> str:
    char = match.group(1)
    return _TAG_ESCAPES.get(char, char)


def unescape_tag_value(value: str) -> str:
    """Undo IRCv3 tag-value escaping (`\\s`, `\\:`, `\\\\`, `\\r`, `\\n`; `\\x` -> `x`)."""
    if "\\" not in value:
        return value
    if "\\\\" not in value:
        # Without an escaped backslash every backslash pairs with the character after it, so
        # plain replaces are exact (and much cheaper than the regex): Twitch's system-msg is
        # mostly `\s`.
        value = (
            value.replace("\\s", " ").replace("\\:", ";").replace("\\r", "\r").replace("\\n", "\n")
        )
        if "\\" not in value:
            return value
    return _ESCAPE_RE.sub(_unescape_match, value)


def _parse_tags(raw: str) -> dict[str, str]:
    """The tags section of a line, without its `@`: `key=value` items split on `;`."""
    tags: dict[str, str] = {}
    for item in raw.split(";"):
        key, _, value = item.partition("=")
        if key:  # `;;` or `=value`: nothing to name the value by, so it is dropped
            tags[key] = unescape_tag_value(value)
    return tags


def parse_irc_line(line: str) -> IrcMessage:
    """Parse one IRC line (without, or with one trailing, CRLF) into an `IrcMessage`.

    Raises `IrcParseError` (a `ValueError`) when the line has no command, and never anything
    else, whatever the string holds. CR and LF inside the line are kept, never split on.
    """
    if type(line) is not str:
        if not isinstance(line, str):
            raise IrcParseError(f"expected a str line, got {type(line).__name__}")
        line = str.__str__(line)  # a str subclass: a plain copy, bypassing its overrides
    if line[-1:] == "\n":
        # Tolerate the line terminator a transport may leave on (CRLF, or a bare LF).
        line = line[:-2] if line[-2:] == "\r\n" else line[:-1]

    tags: dict[str, str]
    if line[:1] == "@":
        raw_tags, space, line = line.partition(" ")
        if not space:
            raise IrcParseError("tags with no command after them")
        tags = _parse_tags(raw_tags[1:])
        if line[:1] == " ":
            line = line.lstrip(" ")  # runs of spaces are folded (ircdocs behaviour)
    else:
        tags = {}

    prefix: str | None
    if line[:1] == ":":
        prefix, space, line = line.partition(" ")
        if not space:
            raise IrcParseError("prefix with no command after it")
        prefix = prefix[1:]
        if line[:1] == " ":
            line = line.lstrip(" ")
    else:
        prefix = None

    command, space, rest = line.partition(" ")
    if not command:
        # An empty line, a line starting with a space, or tags/prefix followed by nothing.
        raise IrcParseError("no command")
    params: list[str]
    if not space:
        params = []
    else:
        if rest[:1] == " ":
            rest = rest.lstrip(" ")
        if rest[:1] == ":":
            params = [rest[1:]]
        else:
            # The first " :" starts the trailing parameter: a middle parameter cannot contain
            # a space, so that colon begins a token.
            middle, space, trailing = rest.partition(" :")
            params = middle.split(" ")
            if "" in params:  # runs of spaces, a trailing space, or no middle parameter
                params = [p for p in params if p]
            if space:
                params.append(trailing)
    return IrcMessage(tags=tags, prefix=prefix, command=command, params=params)


def split_frame(data: str) -> list[str]:
    """Split a received chunk (a WebSocket frame, a socket read) into lines, dropping empties.

    Twitch may send several CRLF-terminated lines in one WebSocket frame.
    """
    return [line for line in data.split("\r\n") if line]


# --------------------------------------------------------------------------------------------
# Twitch-level fields
# --------------------------------------------------------------------------------------------

_ACTION_START: Final = "\x01ACTION "
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _param(msg: IrcMessage, index: int) -> str | None:
    params = msg.params
    return params[index] if len(params) > index else None


def _channel(msg: IrcMessage) -> str | None:
    first = _param(msg, 0)
    if first is None or first == "*":
        return None
    return first[1:] if first[:1] == "#" else first


def _nick(prefix: str | None) -> str | None:
    # Only a `nick!user@host` (or `nick@host`) prefix names a user; a bare word is a server.
    if prefix is None:
        return None
    for sep in ("!", "@"):
        if sep in prefix:
            return prefix.partition(sep)[0] or None
    return None


def _int_tag(tags: Mapping[str, str], key: str) -> int | None:
    value = tags.get(key)
    if not value:
        return None
    return _to_int(value, key)


def _to_int(value: str, what: str) -> int:
    body = value[1:] if value[:1] == "-" else value
    if decimal_int(body) is None:  # not ASCII digits, or too many for int() and for any count
        raise TwitchMessageError(f"{what}: expected an integer, got {describe(value)}")
    return int(value)


def _bool_tag(tags: Mapping[str, str], key: str) -> bool | None:
    value = tags.get(key)
    if value is None:
        return None
    return value == "1"


def _badges(value: str | None) -> dict[str, str] | None:
    if value is None:
        return None
    badges: dict[str, str] = {}
    for item in value.split(","):
        if item:
            name, _, version = item.partition("/")
            badges[name] = version
    return badges


def _color(tags: Mapping[str, str]) -> str | None:
    return tags.get("color") or None


def _split_action(text: str | None) -> tuple[str | None, bool]:
    # dank-twitch-irc/twitch-irc-rs rule: "\x01ACTION " (with the space) ... "\x01".
    if text is not None and text.startswith(_ACTION_START) and len(text) > 8 and text[-1] == "\x01":
        return text[8:-1], True
    return text, False


def _is_range_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def parse_emotes(value: str | None, text: str | None = None) -> list[dict[str, Any]] | None:
    """Parse an `emotes` tag into `[{id, start, end, code}]` sorted by `start`.

    `start`/`end` are the inclusive code-point indices exactly as sent (Twitch sends
    off-by-one and out-of-range ranges; they are kept, never fatal). `code` is the slice of
    `text` they cover (`""` when out of range), or `None` without a text. Malformed ranges
    are skipped. Emote ids may contain `_` and `/`, so `/` only separates entries when what
    follows it carries its own `:ranges`.
    """
    if value is None:
        return None
    emotes: list[dict[str, Any]] = []
    pending = ""
    for piece in value.split("/"):
        entry = pending + piece
        emote_id, colon, ranges = entry.rpartition(":")
        if not colon or not all(
            _is_range_number(a) and _is_range_number(b)
            for a, _, b in (r.partition("-") for r in ranges.split(","))
        ):
            # Not a complete `id:ranges` entry yet: the `/` belonged to the emote id.
            pending = entry + "/"
            continue
        pending = ""
        for span in ranges.split(","):
            first, _, last = span.partition("-")
            start, end = int(first), int(last)
            code = text[start : end + 1] if text is not None else None
            emotes.append({"id": emote_id, "start": start, "end": end, "code": code})
    emotes.sort(key=lambda e: e["start"])
    return emotes


class _ReplyParentFields(TypedDict):
    """`ReplyParent`'s fields as the reply-parent tags give them."""

    message_id: str
    user_id: str | None
    login: str | None
    display_name: str | None
    text: str | None


def _reply_parent(tags: Mapping[str, str]) -> _ReplyParentFields | None:
    parent_id = tags.get("reply-parent-msg-id")
    if parent_id is None:
        return None
    return {
        "message_id": parent_id,
        "user_id": tags.get("reply-parent-user-id"),
        "login": tags.get("reply-parent-user-login"),
        "display_name": tags.get("reply-parent-display-name"),
        "text": tags.get("reply-parent-msg-body"),
    }


def _shared_chat_source(tags: Mapping[str, str]) -> dict[str, Any] | None:
    if "source-room-id" not in tags and "source-id" not in tags:
        return None
    return {
        "room_id": tags.get("source-room-id"),
        "message_id": tags.get("source-id"),
        "badges": _badges(tags.get("source-badges")),
        "badge_info": _badges(tags.get("source-badge-info")),
        "only": _bool_tag(tags, "source-only"),
    }


def _roles(tags: Mapping[str, str | None], badges: Mapping[str, str] | None) -> set[str]:
    badges = badges or {}
    roles: set[str] = set()
    if "broadcaster" in badges:
        roles.add("broadcaster")
    if "moderator" in badges or tags.get("mod") == "1":
        roles.add("moderator")
    if "vip" in badges or tags.get("vip") == "1":
        roles.add("vip")
    # Founders are subscribers whose badge is the founder badge instead.
    if "subscriber" in badges or "founder" in badges or tags.get("subscriber") == "1":
        roles.add("subscriber")
    return roles


def _user_fields(tags: Mapping[str, str]) -> dict[str, Any]:
    return {
        "display_name": tags.get("display-name"),
        "user_id": tags.get("user-id") or None,
        "badges": _badges(tags.get("badges")),
        "badge_info": _badges(tags.get("badge-info")),
        "color": _color(tags),
    }


def _mods_from_notice(msg_id: str | None, text: str | None) -> list[str] | None:
    # tmi.js reads the (now retired) /mods reply out of the notice text.
    if msg_id == "no_mods":
        return []
    if msg_id != "room_mods" or text is None:
        return None
    _, colon, names = text.partition(": ")
    if not colon:
        return []
    return [name.strip().rstrip(".") for name in names.split(",") if name.strip()]


def twitch_fields(msg: IrcMessage) -> dict[str, Any]:
    """The Twitch-level view of a parsed line, as a plain dict.

    Keys depend on the command (see corpus/README.md, "twitch_irc.jsonl conventions"):
    PRIVMSG, WHISPER, USERNOTICE, CLEARCHAT, CLEARMSG, ROOMSTATE (only the modes present),
    USERSTATE, GLOBALUSERSTATE, NOTICE, HOSTTARGET, CAP, PING/PONG, JOIN/PART and MODE.
    Absent values are `None`. Other commands give `{}`.

    Raises `TwitchMessageError` when the Twitch message cannot be built (a HOSTTARGET without
    its target parameter, a non-integer where Twitch sends integers).
    """
    command = msg.command
    handler = _FIELD_BUILDERS.get(command) or _FIELD_BUILDERS.get(command.upper())
    if handler is None:
        return {}
    return handler(msg)


def _privmsg_fields(msg: IrcMessage) -> dict[str, Any]:
    tags = msg.tags
    text, is_action = _split_action(_param(msg, 1))
    fields = _user_fields(tags)
    fields.update(
        channel=_channel(msg),
        login=_nick(msg.prefix),
        room_id=tags.get("room-id") or None,
        message_id=tags.get("id"),
        text=text,
        is_action=is_action,
        timestamp_ms=_int_tag(tags, "tmi-sent-ts"),
        emotes=parse_emotes(tags.get("emotes"), text),
        bits=_int_tag(tags, "bits"),
        first_msg=_bool_tag(tags, "first-msg"),
        custom_reward_id=tags.get("custom-reward-id"),
        msg_id=tags.get("msg-id"),
        reply_parent=_reply_parent(tags),
        shared_chat_source=_shared_chat_source(tags),
    )
    fields["roles"] = _roles(tags, fields["badges"])
    return fields


def _whisper_fields(msg: IrcMessage) -> dict[str, Any]:
    tags = msg.tags
    text = _param(msg, 1)
    fields = _user_fields(tags)
    fields.update(
        recipient=_param(msg, 0),
        login=_nick(msg.prefix),
        text=text,
        message_id=tags.get("message-id"),
        thread_id=tags.get("thread-id"),
        emotes=parse_emotes(tags.get("emotes"), text),
    )
    return fields


def _usernotice_fields(msg: IrcMessage) -> dict[str, Any]:
    tags = msg.tags
    # The CTCP wrapper is not stripped on USERNOTICE (twitch-irc-rs behaviour).
    text = _param(msg, 1)
    fields = _user_fields(tags)
    fields.update(
        channel=_channel(msg),
        msg_id=tags.get("msg-id"),
        login=tags.get("login"),
        room_id=tags.get("room-id") or None,
        message_id=tags.get("id"),
        system_msg=tags.get("system-msg"),
        text=text,
        timestamp_ms=_int_tag(tags, "tmi-sent-ts"),
        emotes=parse_emotes(tags.get("emotes"), text),
        msg_params={k[10:]: v for k, v in tags.items() if k.startswith("msg-param-")},
    )
    return fields


def _clearchat_fields(msg: IrcMessage) -> dict[str, Any]:
    tags = msg.tags
    target = _param(msg, 1) or None
    duration = _int_tag(tags, "ban-duration")
    if target is None:
        action = "clear"
    else:
        action = "ban" if duration is None else "timeout"
    return {
        "channel": _channel(msg),
        "room_id": tags.get("room-id") or None,
        "target_login": target,
        "target_user_id": tags.get("target-user-id"),
        "ban_duration": duration,
        "action": action,
        "timestamp_ms": _int_tag(tags, "tmi-sent-ts"),
    }


def _clearmsg_fields(msg: IrcMessage) -> dict[str, Any]:
    tags = msg.tags
    text, is_action = _split_action(_param(msg, 1))
    return {
        "channel": _channel(msg),
        "login": tags.get("login"),
        "room_id": tags.get("room-id") or None,
        "target_message_id": tags.get("target-msg-id"),
        "text": text,
        "is_action": is_action,
        "timestamp_ms": _int_tag(tags, "tmi-sent-ts"),
    }


def _roomstate_fields(msg: IrcMessage) -> dict[str, Any]:
    tags = msg.tags
    fields: dict[str, Any] = {"channel": _channel(msg), "room_id": tags.get("room-id") or None}
    # Only the modes present: an absent tag means "unchanged", not "off".
    for key, name in (("emote-only", "emote_only"), ("r9k", "r9k"), ("subs-only", "subs_only")):
        if key in tags:
            fields[name] = tags[key] == "1"
    for key, name in (("followers-only", "followers_only"), ("slow", "slow")):
        if tags.get(key):
            fields[name] = _to_int(tags[key], key)
    return fields


def _emote_sets(tags: Mapping[str, str]) -> list[str] | None:
    value = tags.get("emote-sets")
    if value is None:
        return None
    return [s for s in value.split(",") if s]


def _userstate_fields(msg: IrcMessage) -> dict[str, Any]:
    fields = _user_fields(msg.tags)
    fields["channel"] = _channel(msg)
    fields["emote_sets"] = _emote_sets(msg.tags)
    return fields


def _globaluserstate_fields(msg: IrcMessage) -> dict[str, Any]:
    fields = _user_fields(msg.tags)
    fields["emote_sets"] = _emote_sets(msg.tags)
    return fields


def _notice_fields(msg: IrcMessage) -> dict[str, Any]:
    msg_id = msg.tags.get("msg-id")
    text = _param(msg, 1)
    return {
        "channel": _channel(msg),
        "msg_id": msg_id,
        "text": text,
        "mods": _mods_from_notice(msg_id, text),
    }


def _hosttarget_fields(msg: IrcMessage) -> dict[str, Any]:
    target = _param(msg, 1)
    if target is None:
        raise TwitchMessageError("HOSTTARGET without its target parameter")
    parts = target.split(" ")
    if len(parts) != 2 or not parts[0]:
        raise TwitchMessageError(f"HOSTTARGET target must be '<channel> <viewers>': {target!r}")
    hosted, viewers = parts
    return {
        "channel": _channel(msg),
        "hosted_channel": None if hosted == "-" else hosted,
        "viewer_count": None if viewers == "-" else _to_int(viewers, "HOSTTARGET viewer count"),
    }


def _cap_fields(msg: IrcMessage) -> dict[str, Any]:
    caps = msg.params[-1] if len(msg.params) >= 3 else ""
    return {"subcommand": _param(msg, 1), "capabilities": [c for c in caps.split(" ") if c]}


def _ping_fields(msg: IrcMessage) -> dict[str, Any]:
    return {"argument": msg.params[-1] if msg.params else None}


def _membership_fields(msg: IrcMessage) -> dict[str, Any]:
    return {"channel": _channel(msg), "login": _nick(msg.prefix)}


def _mode_fields(msg: IrcMessage) -> dict[str, Any]:
    return {"channel": _channel(msg), "mode": _param(msg, 1), "target_login": _param(msg, 2)}


_FIELD_BUILDERS: Final = {
    "PRIVMSG": _privmsg_fields,
    "WHISPER": _whisper_fields,
    "USERNOTICE": _usernotice_fields,
    "CLEARCHAT": _clearchat_fields,
    "CLEARMSG": _clearmsg_fields,
    "ROOMSTATE": _roomstate_fields,
    "USERSTATE": _userstate_fields,
    "GLOBALUSERSTATE": _globaluserstate_fields,
    "NOTICE": _notice_fields,
    "HOSTTARGET": _hosttarget_fields,
    "CAP": _cap_fields,
    "PING": _ping_fields,
    "PONG": _ping_fields,
    "JOIN": _membership_fields,
    "PART": _membership_fields,
    "MODE": _mode_fields,
}


# --------------------------------------------------------------------------------------------
# Normalized events
# --------------------------------------------------------------------------------------------

_SUB_IDS: Final = frozenset({"sub", "resub"})
_GIFT_IDS: Final = frozenset({"subgift", "anonsubgift"})
_MYSTERY_GIFT_IDS: Final = frozenset({"submysterygift", "anonsubmysterygift"})
_ANONYMOUS_GIFTER: Final = "ananonymousgifter"


def _sent_at(timestamp_ms: int | None, now: datetime | None) -> datetime:
    if timestamp_ms is not None:
        try:
            return _EPOCH + timedelta(milliseconds=timestamp_ms)
        except OverflowError:
            pass  # a nonsense timestamp: fall back to the receive time
    return now if now is not None else datetime.now(UTC)


def _require_channel(fields: Mapping[str, Any], command: str) -> str:
    channel = fields.get("channel")
    if not channel:
        raise TwitchMessageError(f"{command} without a channel parameter")
    return str(channel)


def _param_int(params: Mapping[str, str], key: str) -> int | None:
    value = params.get(key)
    if not value:
        return None
    try:
        return _to_int(value, f"msg-param-{key}")
    except TwitchMessageError:
        return None  # an informative count is not worth dropping the event for


def to_chat_event(
    msg: IrcMessage, *, now: datetime | None = None
) -> ChatEvent | SubscriptionEvent | GiftEvent | RaidEvent | ModerationEvent | NoticeEvent | None:
    """Turn a parsed line into a normalized event, or `None` for lines that carry none.

    PRIVMSG -> `ChatEvent`; USERNOTICE sub/resub -> `SubscriptionEvent`, (anon)subgift and
    (anon)submysterygift -> `GiftEvent`, raid -> `RaidEvent`, any other msg-id ->
    `NoticeEvent(kind=msg-id)`; CLEARCHAT -> `ModerationEvent` (timeout, ban or clear) and
    CLEARMSG -> `ModerationEvent(action="delete")`. `sent_at` comes from `tmi-sent-ts`, else
    `now` (an aware UTC datetime; the current time when omitted).

    Raises `TwitchMessageError` when the line claims one of these types but lacks what the
    event needs (no channel, no text on a PRIVMSG, a malformed integer tag).
    """
    command = msg.command
    if command == "PRIVMSG":  # nearly every line: skip the upper() below
        return _chat_event(msg, now)
    command = command.upper()
    if command == "PRIVMSG":
        return _chat_event(msg, now)
    if command == "USERNOTICE":
        return _usernotice_event(msg, now)
    if command == "CLEARCHAT":
        fields = _clearchat_fields(msg)
        return ModerationEvent(
            platform="twitch",
            channel=_require_channel(fields, command),
            message_id=None,
            sent_at=_sent_at(fields["timestamp_ms"], now),
            raw_type="CLEARCHAT",
            action=fields["action"],
            target_user_id=fields["target_user_id"],
            target_login=fields["target_login"],
            duration_seconds=fields["ban_duration"],
        )
    if command == "CLEARMSG":
        fields = _clearmsg_fields(msg)
        return ModerationEvent(
            platform="twitch",
            channel=_require_channel(fields, command),
            message_id=None,
            sent_at=_sent_at(fields["timestamp_ms"], now),
            raw_type="CLEARMSG",
            action="delete",
            target_login=fields["login"],
            target_message_id=fields["target_message_id"],
        )
    return None


@functools.lru_cache(maxsize=4096)
def _chat_roles(
    badges: str | None, mod: str | None, vip: str | None, subscriber: str | None
) -> frozenset[str]:
    """`_roles` from the four tags it reads, remembered: chat repeats a few combinations, and
    parsing the badges is a good part of a chat line's cost."""
    return frozenset(_roles({"mod": mod, "vip": vip, "subscriber": subscriber}, _badges(badges)))


def _chat_event(msg: IrcMessage, now: datetime | None) -> ChatEvent:
    # Only what a ChatEvent needs: `_privmsg_fields` (the full Twitch view) would also parse
    # the badge info, the shared-chat source and more on every chat line.
    tags = msg.tags
    channel = _channel(msg)
    if not channel:
        raise TwitchMessageError("PRIVMSG without a channel parameter")
    text, is_action = _split_action(_param(msg, 1))
    if text is None:
        raise TwitchMessageError("PRIVMSG without a message text")
    login = _nick(msg.prefix) or ""
    parent = _reply_parent(tags)
    raw_emotes = tags.get("emotes")
    return ChatEvent(
        platform="twitch",
        channel=channel,
        message_id=tags.get("id"),
        sent_at=_sent_at(_int_tag(tags, "tmi-sent-ts"), now),
        raw_type="PRIVMSG",
        user_id=tags.get("user-id") or "",
        login=login,
        display_name=tags.get("display-name") or login,
        text=text,
        roles=_chat_roles(
            tags.get("badges"), tags.get("mod"), tags.get("vip"), tags.get("subscriber")
        ),
        emotes=tuple(
            Emote(id=e["id"], start=e["start"], end=e["end"], name=e["code"] or None)
            for e in parse_emotes(raw_emotes, text) or ()
        )
        if raw_emotes
        else (),
        bits=_int_tag(tags, "bits") or 0,
        reply_parent=ReplyParent(**parent) if parent is not None else None,
        first_message=tags.get("first-msg") == "1",
        is_action=is_action,
        color=_color(tags),
    )


def _usernotice_event(
    msg: IrcMessage, now: datetime | None
) -> SubscriptionEvent | GiftEvent | RaidEvent | NoticeEvent | None:
    fields = _usernotice_fields(msg)
    msg_id = fields["msg_id"]
    if not msg_id:
        return None
    params: dict[str, str] = fields["msg_params"]
    common: dict[str, Any] = {
        "platform": "twitch",
        "channel": _require_channel(fields, "USERNOTICE"),
        "message_id": fields["message_id"],
        "sent_at": _sent_at(fields["timestamp_ms"], now),
        "raw_type": f"USERNOTICE/{msg_id}",
        "user_id": fields["user_id"],
        "login": fields["login"],
        "display_name": fields["display_name"],
    }
    tier = params.get("sub-plan") or None
    if msg_id in _SUB_IDS:
        # Older lines only carry msg-param-months, which then meant the cumulative count.
        months = _param_int(params, "cumulative-months") or _param_int(params, "months")
        return SubscriptionEvent(**common, tier=tier, months=months, text=fields["text"])
    anonymous = msg_id.startswith("anon") or fields["login"] == _ANONYMOUS_GIFTER
    if msg_id in _GIFT_IDS:
        return GiftEvent(
            **common,
            count=1,
            tier=tier,
            recipient_user_id=params.get("recipient-id"),
            recipient_login=params.get("recipient-user-name"),
            anonymous=anonymous,
        )
    if msg_id in _MYSTERY_GIFT_IDS:
        count = _param_int(params, "mass-gift-count") or 1
        return GiftEvent(**common, count=count, tier=tier, anonymous=anonymous)
    if msg_id == "raid":
        common["login"] = params.get("login") or common["login"]
        common["display_name"] = params.get("displayName") or common["display_name"]
        return RaidEvent(**common, viewer_count=_param_int(params, "viewerCount"))
    # The user's own words when there are some, else Twitch's description of the event.
    text = fields["text"] if fields["text"] is not None else fields["system_msg"]
    return NoticeEvent(**common, kind=msg_id, text=text)


# --------------------------------------------------------------------------------------------
# Building lines to send
# --------------------------------------------------------------------------------------------

_FORBIDDEN: Final = ("\r", "\n", "\x00")
_TAG_KEY_FORBIDDEN: Final = frozenset(" =;\r\n\x00")
_ESCAPE_TABLE: Final = str.maketrans(
    {"\\": "\\\\", ";": "\\:", " ": "\\s", "\r": "\\r", "\n": "\\n"}
)


def _check_clean(value: str, what: str) -> None:
    for char in _FORBIDDEN:
        if char in value:
            raise ValueError(f"{what} contains {char!r}: refusing to send (line injection)")


def format_irc_line(
    command: str,
    *params: str,
    tags: Mapping[str, str] | None = None,
    force_trailing: bool = False,
) -> str:
    """Build one IRC line, without the CRLF (append `"\\r\\n"` on a TCP transport).

    The last parameter becomes a trailing `:param` when it needs to (empty, has a space,
    starts with `:`), or always with `force_trailing` (chat text); every other one must be a
    non-empty word without a leading `:`. Tag values are IRCv3-escaped. Raises `ValueError`
    for CR, LF or NUL anywhere (so a value can never inject a second line) and for parameters
    or tags that cannot be written.
    """
    if not command or " " in command or command[0] in "@:":
        raise ValueError(f"invalid IRC command {command!r}")
    _check_clean(command, "command")
    parts: list[str] = []
    if tags:
        items = []
        for key, value in tags.items():
            if not key or _TAG_KEY_FORBIDDEN.intersection(key):
                raise ValueError(f"invalid tag key {key!r}")
            if "\x00" in value:
                raise ValueError(f"tag {key!r} value contains NUL")
            items.append(f"{key}={value.translate(_ESCAPE_TABLE)}")
        parts.append("@" + ";".join(items))
    parts.append(command)
    last = len(params) - 1
    for index, param in enumerate(params):
        _check_clean(param, f"parameter {index}")
        if index == last and (force_trailing or not param or " " in param or param[0] == ":"):
            parts.append(":" + param)
        elif not param or " " in param or param[0] == ":":
            raise ValueError(f"middle parameter {index} must be a non-empty word: {param!r}")
        else:
            parts.append(param)
    return " ".join(parts)


def _channel_param(channel: str) -> str:
    name = channel[1:] if channel.startswith("#") else channel
    if not name or any(c in name for c in " ,\r\n\x00\x07"):
        raise ValueError(f"invalid channel name {channel!r}")
    return "#" + name.lower()


@attrs.frozen(slots=True, kw_only=True)
class OutgoingPrivmsg:
    """A PRIVMSG ready to send: the `line`, the `text` it carries, whether it was truncated."""

    line: str
    text: str
    truncated: bool


def privmsg(
    channel: str,
    text: str,
    *,
    reply_to: str | None = None,
    action: bool = False,
    max_length: int = MAX_MESSAGE_LENGTH,
) -> OutgoingPrivmsg:
    """Build a PRIVMSG to `channel` (with or without `#`), truncating long text.

    Text longer than `max_length` (Twitch: 500) characters is cut on a code-point boundary
    and `truncated` is set, so the caller can log it or send the rest itself. `reply_to`
    adds `reply-parent-msg-id`; `action=True` sends a `/me` (CTCP ACTION). Raises
    `ValueError` for empty text or text holding CR, LF or NUL.
    """
    if max_length < 1:
        raise ValueError("max_length must be at least 1")
    _check_clean(text, "message text")
    if not text.strip():
        raise ValueError("refusing to send an empty message")
    truncated = len(text) > max_length
    if truncated:
        # Python strings index by code point, so slicing never splits a character's encoding.
        text = text[:max_length]
    body = f"{_ACTION_START}{text}\x01" if action else text
    tags = {"reply-parent-msg-id": reply_to} if reply_to else None
    line = format_irc_line("PRIVMSG", _channel_param(channel), body, tags=tags, force_trailing=True)
    return OutgoingPrivmsg(line=line, text=text, truncated=truncated)


def ping(argument: str = "tmi.twitch.tv") -> str:
    """A client PING (used to detect a dead connection; the server answers with PONG)."""
    return format_irc_line("PING", argument, force_trailing=True)


def pong(argument: str = "tmi.twitch.tv") -> str:
    """A PONG carrying `argument` (the server drops clients that do not answer its PINGs)."""
    return format_irc_line("PONG", argument, force_trailing=True)


def pong_for(message: IrcMessage) -> str:
    """The PONG answering a received PING, echoing its argument."""
    return pong(message.params[-1] if message.params else "tmi.twitch.tv")


def cap_req(*capabilities: str) -> str:
    """`CAP REQ` for the given capabilities (default: twitch.tv/tags and twitch.tv/commands)."""
    caps = capabilities or DEFAULT_CAPABILITIES
    for cap in caps:
        if not cap or " " in cap:
            raise ValueError(f"invalid capability {cap!r}")
    return format_irc_line("CAP", "REQ", " ".join(caps))


def pass_(token: str) -> str:
    """`PASS oauth:<token>`; the `oauth:` prefix is added when missing. Never log this line."""
    if not token or " " in token:
        raise ValueError("invalid token")
    return format_irc_line("PASS", token if token.startswith("oauth:") else f"oauth:{token}")


def nick(login: str) -> str:
    """`NICK <login>` (lowercased, as Twitch logins are)."""
    if not login or " " in login:
        raise ValueError(f"invalid login {login!r}")
    return format_irc_line("NICK", login.lower())


def join(*channels: str) -> str:
    """`JOIN #a,#b` for one or more channels (mind Twitch's JOIN rate limit)."""
    if not channels:
        raise ValueError("join() needs at least one channel")
    return format_irc_line("JOIN", ",".join(_channel_param(c) for c in channels))


def part(channel: str) -> str:
    """`PART #channel`."""
    return format_irc_line("PART", _channel_param(channel))
