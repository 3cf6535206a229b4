"""The configuration model: frozen attrs classes, one per TOML table.

Field names are the TOML keys. Every class is frozen, slotted and keyword-only, with defaults
for everything a starter setup does not need to think about. Validators raise `InvalidField`,
which carries the key path *relative to the object* so the loader can report the full path
(`creators[1].triggers[0].pattern`) even for cross-field checks made in `__attrs_post_init__`.

Paths are `pathlib.Path`; `config.loading.load_config` makes them absolute (relative to the
config file). Secrets are `config.secrets.Secret` values, resolved at load time.
"""

from __future__ import annotations

import difflib
import math
import re
import string
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs

from config.secrets import Secret
from config.untrusted_json import describe

PathSegment = str | int

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
VISIBILITIES = ("public", "dashboard-only", "internal-only")
TRIGGER_KINDS = ("command", "keyword", "regex", "event")
PERMISSIONS = ("everyone", "subscriber", "vip", "moderator", "broadcaster")
#: What `permission` can mean on an event trigger: EventSub names who acted but not their
#: badges, so only "the broadcaster themselves" can be told apart from everyone else.
EVENT_PERMISSIONS = ("everyone", "broadcaster")
TALLY_ACTIONS = ("tally_increment", "tally_decrement", "tally_reset")
POLL_ACTIONS = ("poll_open", "poll_vote", "poll_close")
POINTS_ACTIONS = ("points_show", "points_give", "points_add", "points_top")
QUOTE_ACTIONS = ("quote_add", "quote_show", "quote_delete")
GIVEAWAY_ACTIONS = ("giveaway_open", "giveaway_join", "giveaway_draw", "giveaway_close")
ACTIONS = (
    "reply",
    *POLL_ACTIONS,
    *TALLY_ACTIONS,
    "score_add",
    "clip",
    *POINTS_ACTIONS,
    *QUOTE_ACTIONS,
    *GIVEAWAY_ACTIONS,
)

SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
TWITCH_LOGIN = re.compile(r"[A-Za-z0-9_]{1,25}")
KICK_SLUG = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TWITCH_LOGIN_TEXT = "a Twitch login (letters, digits, '_', at most 25)"
DEFAULT_KICK_APP_KEY = "32cbd69e4b950bf97679"
DEFAULT_KICK_CLUSTER = "us2"


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def format_key_path(path: Sequence[PathSegment]) -> str:
    """`("creators", 1, "twitch", "channel")` → `creators[1].twitch.channel`."""
    out = ""
    for segment in path:
        if isinstance(segment, int):
            out += f"[{segment}]"
        else:
            key = segment if _BARE_KEY.fullmatch(segment) else f'"{segment}"'
            out += f".{key}" if out else key
    return out


class InvalidField(ValueError):
    """A value that fails validation. `path` is relative to the object being built.

    `other` is a second position the problem involves (the first of two duplicates), also
    relative to the object; `render(prefix)` names it with its full key path.
    """

    def __init__(
        self,
        path: Sequence[PathSegment],
        message: str,
        *,
        other: Sequence[PathSegment] | None = None,
    ) -> None:
        self.path: tuple[PathSegment, ...] = tuple(path)
        self.message = message
        self.other: tuple[PathSegment, ...] | None = None if other is None else tuple(other)
        super().__init__(self.render(()))

    def prefixed(self, prefix: Sequence[PathSegment]) -> InvalidField:
        """The same problem seen from an enclosing object at `prefix`."""
        other = None if self.other is None else (*prefix, *self.other)
        return InvalidField((*prefix, *self.path), self.message, other=other)

    def render(self, prefix: Sequence[PathSegment]) -> str:
        """The message, naming `other` below `prefix` (the object's own key path)."""
        if self.other is None:
            return self.message
        return f"{self.message} (already used by {format_key_path((*prefix, *self.other))})"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`"; did you mean 'x'?"` for the closest choice, or `""` when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


# --- attrs validators that raise InvalidField naming the attribute -----------------------------


def _one_of(choices: Sequence[str]) -> Any:
    def check(_inst: object, attribute: attrs.Attribute, value: str) -> None:
        if value not in choices:
            listed = ", ".join(repr(c) for c in choices)
            raise InvalidField(
                (attribute.name,),
                f"expected one of {listed}, got {value!r}{did_you_mean(value, choices)}",
            )

    return check


def _num(value: float) -> str:
    """A number as written in TOML: `10485760`, `0.5` (never `1.04858e+07`); a huge one is
    described, not spelled out (`an integer of about 5000 digits`, `1e+300`)."""
    if isinstance(value, int) and value.bit_length() > 64:
        return describe(value)
    if isinstance(value, float) and not (math.isfinite(value) and abs(value) < 1e16):
        return repr(value)
    if isinstance(value, int) or value.is_integer():
        return str(int(value))
    return repr(value)


def _between(low: float | None, high: float | None, *, low_open: bool = False) -> Any:
    def check(_inst: object, attribute: attrs.Attribute, value: float | None) -> None:
        if value is None:
            return
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and value > high
        if too_low or too_high:
            if low is not None and high is not None:
                expected = f"a number between {_num(low)} and {_num(high)}"
                if low_open:
                    expected = f"a number greater than {_num(low)} and at most {_num(high)}"
            elif low is not None:
                expected = (
                    f"a number greater than {_num(low)}" if low_open else f"at least {_num(low)}"
                )
            else:
                assert high is not None  # only `too_high` leads here, and it needs `high`
                expected = f"at most {_num(high)}"
            raise InvalidField((attribute.name,), f"expected {expected}, got {_num(value)}")

    return check


def _matches(pattern: re.Pattern[str], what: str) -> Any:
    def check(_inst: object, attribute: attrs.Attribute, value: str | None) -> None:
        if value is not None and not pattern.fullmatch(value):
            raise InvalidField((attribute.name,), f"expected {what}, got {value!r}")

    return check


def _between_len(low: int, high: int) -> Any:
    def check(_inst: object, attribute: attrs.Attribute, value: str | None) -> None:
        if value is not None and not low <= len(value) <= high:
            raise InvalidField(
                (attribute.name,),
                f"expected {low} to {high} characters, got {len(value)}",
            )

    return check


def _one_of_or_none(choices: Sequence[str]) -> Any:
    inner = _one_of(choices)

    def check(inst: object, attribute: attrs.Attribute, value: str | None) -> None:
        if value is not None:
            inner(inst, attribute, value)

    return check


def _not_blank(_inst: object, attribute: attrs.Attribute, value: str | None) -> None:
    if value is not None and not value.strip():
        raise InvalidField((attribute.name,), "must not be empty")


def _template_problem(value: str) -> str | None:
    """Why `value` is not a usable reply template, or None."""
    # Templates are rendered with str.format-style fields ({user}, {args}); only plain names are
    # allowed so a template can never reach attributes or items ({user.__class__}).
    try:
        parsed = list(string.Formatter().parse(value))
    except ValueError as exc:
        return f"invalid template: {exc}"
    for _literal, field, _spec, _conv in parsed:
        if field is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", field):
            return f"invalid template field {{{field}}}: use plain names like {{user}}"
    return None


def _check_template(_inst: object, attribute: attrs.Attribute, value: str | None) -> None:
    problem = None if value is None else _template_problem(value)
    if problem is not None:
        raise InvalidField((attribute.name,), problem)


def _duplicates(items: Sequence[Any], attr: str, prefix: str, what: str) -> None:
    """Raise for the first repeated `attr` value, naming both positions."""
    seen: dict[Any, int] = {}
    for index, item in enumerate(items):
        key = getattr(item, attr)
        if key in seen:
            raise InvalidField(
                (prefix, index, attr),
                f"duplicate {what} {key!r}",
                other=(prefix, seen[key], attr),
            )
        seen[key] = index


# --- tables -------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class RuntimeConfig:
    """`[runtime]`: the process."""

    data_dir: Path = Path("var")
    log_level: str = attrs.field(default="info", validator=_one_of(LOG_LEVELS))
    shutdown_deadline: float = attrs.field(default=10.0, validator=_between(0, 600, low_open=True))
    log_file_max_bytes: int = attrs.field(
        default=10 * 1024 * 1024, validator=_between(1024, 1024**3)
    )
    log_file_backups: int = attrs.field(default=5, validator=_between(0, 100))


@attrs.frozen(kw_only=True)
class HttpConfig:
    """`[http]`: status API (loopback by default); the control API needs `token`."""

    enabled: bool = True
    host: str = attrs.field(default="127.0.0.1", validator=_not_blank)
    port: int = attrs.field(default=8765, validator=_between(0, 65535))  # 0: any free port
    token: Secret | None = None


@attrs.frozen(kw_only=True)
class MirrorConfig:
    """`[[exports.mirrors]]`: a folder receiving a copy of the files of some visibilities."""

    path: Path
    visibility: tuple[str, ...] = ("public",)

    def __attrs_post_init__(self) -> None:
        if not self.visibility:
            raise InvalidField(("visibility",), "must list at least one visibility")
        for index, vis in enumerate(self.visibility):
            if vis not in VISIBILITIES:
                listed = ", ".join(repr(v) for v in VISIBILITIES)
                raise InvalidField(
                    ("visibility", index),
                    f"expected one of {listed}, got {vis!r}{did_you_mean(vis, VISIBILITIES)}",
                )


@attrs.frozen(kw_only=True)
class ExportsConfig:
    """`[exports]`: the state root the dashboard reads, and its mirrors.

    `root` defaults to `<data_dir>/exports/state`; `load_config` fills it in. Without a
    `pseudonym_key` the exporter derives pseudonyms from a key it keeps in the data folder.
    A database file is rewritten at most at `file_mib_per_second`: one bigger than that many
    MiB is rewritten less often than once a second (`actors.publisher.FILE_BYTES_PER_SECOND`).
    """

    root: Path | None = None
    heartbeat_seconds: float = attrs.field(default=10.0, validator=_between(1, 10))
    file_mib_per_second: float = attrs.field(default=2.0, validator=_between(0.1, 1024))
    pseudonym_key: Secret | None = None
    mirrors: tuple[MirrorConfig, ...] = ()


#: Twitch channel events a creator may subscribe to (`events`, event triggers' `event`).
TWITCH_EVENTS = (
    "redemption",
    "follow",
    "subscribe",
    "resub",
    "gift",
    "cheer",
    "raid",
    "online",
    "offline",
)
TWITCH_TRANSPORTS = ("irc", "eventsub")
REDEMPTION_SETTINGS = ("fulfil", "refund", "none")
SUB_TIERS = ("1000", "2000", "3000")


def _each_of(choices: Sequence[str]) -> Any:
    def check(_inst: object, attribute: attrs.Attribute, value: tuple[str, ...]) -> None:
        for index, item in enumerate(value):
            if item not in choices:
                listed = ", ".join(repr(c) for c in choices)
                raise InvalidField(
                    (attribute.name, index),
                    f"expected one of {listed}, got {item!r}{did_you_mean(str(item), choices)}",
                )

    return check


@attrs.frozen(kw_only=True)
class TwitchRewardConfig:
    """`[[creators.twitch.rewards]]`: a channel-points reward the runtime creates and manages.

    Twitch limits: title at most 45 characters (unique per channel), prompt at most 200, cost
    at least 1. A reward that leaves the configuration is disabled, never deleted.
    """

    id: str = attrs.field(validator=_matches(SLUG, "an id of a-z, 0-9, '_', '-'"))
    title: str = attrs.field(validator=[_not_blank, _between_len(1, 45)])
    cost: int = attrs.field(validator=_between(1, 2**31 - 1))
    prompt: str = attrs.field(default="", validator=_between_len(0, 200))
    enabled: bool = True


@attrs.frozen(kw_only=True)
class TwitchConfig:
    """`[creators.twitch]`: IRC chat. Anonymous (read-only) without `token`.

    `server` replaces Twitch's IRC WebSocket URL (a local fake in tests, a self-hosted relay);
    `None` means Twitch itself.
    """

    channel: str = attrs.field(validator=_matches(TWITCH_LOGIN, _TWITCH_LOGIN_TEXT))
    nick: str | None = attrs.field(
        default=None, validator=_matches(TWITCH_LOGIN, _TWITCH_LOGIN_TEXT)
    )
    token: Secret | None = None
    server: str | None = attrs.field(
        default=None, validator=_matches(re.compile(r"wss?://\S+"), "a ws:// or wss:// URL")
    )
    # Liveness: after this much silence we PING; no traffic for the timeout more: dead link.
    keepalive_seconds: float = attrs.field(default=60.0, validator=_between(1, 3600))
    keepalive_timeout_seconds: float = attrs.field(default=10.0, validator=_between(1, 600))
    enabled: bool = True
    # [[accounts]] ids (actors/accounts): the chat account, and the broadcaster's own account
    # for broadcaster-only APIs (clips, rewards, moderation, EventSub).
    account: str | None = attrs.field(default=None, validator=_not_blank)
    broadcaster_account: str | None = attrs.field(default=None, validator=_not_blank)
    # Channel events over EventSub (see TWITCH_EVENTS, `[[creators.twitch.rewards]]`).
    events: tuple[str, ...] = attrs.field(default=(), validator=_each_of(TWITCH_EVENTS))
    eventsub_url: str | None = attrs.field(
        default=None, validator=_matches(re.compile(r"wss?://\S+"), "a ws:// or wss:// URL")
    )
    transport: str = attrs.field(default="irc", validator=_one_of(TWITCH_TRANSPORTS))
    eventsub_keepalive_seconds: int = attrs.field(default=10, validator=_between(10, 600))
    rewards: tuple[TwitchRewardConfig, ...] = ()

    def __attrs_post_init__(self) -> None:
        _duplicates(self.rewards, "id", "rewards", "reward id")
        titles: dict[str, int] = {}
        for index, reward in enumerate(self.rewards):
            folded = reward.title.casefold()
            if folded in titles:
                raise InvalidField(
                    ("rewards", index, "title"),
                    f"duplicate reward title {reward.title!r} (Twitch titles are unique)",
                    other=("rewards", titles[folded], "title"),
                )
            titles[folded] = index


@attrs.frozen(kw_only=True)
class YouTubeConfig:
    """`[creators.youtube]`: live chat via the Data API (quota-aware polling)."""

    video_id: str | None = attrs.field(default=None, validator=_not_blank)
    channel_id: str | None = attrs.field(default=None, validator=_not_blank)
    api_key: Secret
    oauth_token: Secret | None = None
    daily_quota: int = attrs.field(default=10_000, validator=_between(1, 1_000_000_000))
    enabled: bool = True
    account: str | None = attrs.field(default=None, validator=_not_blank)  # [[accounts]] id

    def __attrs_post_init__(self) -> None:
        if self.video_id is None and self.channel_id is None:
            raise InvalidField(("video_id",), "set video_id or channel_id (one is required)")


@attrs.frozen(kw_only=True)
class KickConfig:
    """`[creators.kick]`: chat over Kick's Pusher websocket.

    `chatroom_id`/`channel_id` skip the (Cloudflare-protected) lookup by slug; `ws_url`
    replaces the Pusher URL entirely (a local soketi in tests). `token` (a secret) and
    `broadcaster_user_id` let the bot reply through Kick's public chat API.
    """

    channel: str = attrs.field(validator=_matches(KICK_SLUG, "a Kick channel slug"))
    chatroom_id: int | None = attrs.field(default=None, validator=_between(1, None))
    channel_id: int | None = attrs.field(default=None, validator=_between(1, None))
    app_key: str = attrs.field(default=DEFAULT_KICK_APP_KEY, validator=_not_blank)
    cluster: str = attrs.field(default=DEFAULT_KICK_CLUSTER, validator=_not_blank)
    ws_url: str | None = attrs.field(
        default=None, validator=_matches(re.compile(r"wss?://\S+"), "a ws:// or wss:// URL")
    )
    # Sending through Kick's public API needs an OAuth token; reading does not.
    token: Secret | None = None
    broadcaster_user_id: int | None = attrs.field(default=None, validator=_between(1, None))
    # Liveness: the longest silence before a pusher:ping (the server's activity_timeout wins
    # when shorter), and how long a ping may go unanswered before the link counts as dead.
    keepalive_seconds: float = attrs.field(default=120.0, validator=_between(1, 3600))
    keepalive_timeout_seconds: float = attrs.field(default=30.0, validator=_between(1, 600))
    enabled: bool = True
    account: str | None = attrs.field(default=None, validator=_not_blank)  # [[accounts]] id


@attrs.frozen(kw_only=True)
class RumbleConfig:
    """`[creators.rumble]`: the livestream API. Its URL embeds a key, so it is a secret."""

    api_url: Secret
    poll_seconds: float = attrs.field(default=5.0, validator=_between(1, 3600))
    paused: bool = False
    paused_reason: str | None = None
    enabled: bool = True


@attrs.frozen(kw_only=True)
class ReplayConfig:
    """`[creators.replay]`: replays a chat log (JSON lines, see `config/chatlog.py`)."""

    file: Path
    speed: float = attrs.field(default=1.0, validator=_between(0, 1000, low_open=True))
    loop: bool = False
    enabled: bool = True


@attrs.frozen(kw_only=True)
class TallyConfig:
    """`[[creators.tallies]]`: a named counter that triggers change."""

    id: str = attrs.field(validator=_matches(SLUG, "an id of a-z, 0-9, '_', '-'"))
    label: str = attrs.field(validator=_not_blank)


@attrs.frozen(kw_only=True)
class ScoreboardConfig:
    """`[[creators.scoreboards]]`: a ranked board of per-user points."""

    id: str = attrs.field(validator=_matches(SLUG, "an id of a-z, 0-9, '_', '-'"))
    title: str = attrs.field(validator=_not_blank)


# Which optional action arguments each action uses: setting one an action ignores is an error,
# because it is almost always a typo'd action.
_ACTION_ARGS: dict[str, frozenset[str]] = {
    "reply": frozenset(),
    "poll_open": frozenset({"question", "options", "duration"}),
    "poll_vote": frozenset(),
    "poll_close": frozenset(),
    "tally_increment": frozenset({"tally", "amount"}),
    "tally_decrement": frozenset({"tally", "amount"}),
    "tally_reset": frozenset({"tally"}),
    "score_add": frozenset({"scoreboard", "points"}),
    "clip": frozenset({"duration"}),
    **{action: frozenset() for action in (*POINTS_ACTIONS, *QUOTE_ACTIONS, *GIVEAWAY_ACTIONS)},
    "giveaway_open": frozenset({"entry_cost", "subscribers_only", "subscriber_tickets"}),
}
_ALL_ACTION_ARGS = (
    "tally",
    "scoreboard",
    "points",
    "amount",
    "question",
    "options",
    "duration",
    "entry_cost",
    "subscribers_only",
    "subscriber_tickets",
)


@attrs.frozen(kw_only=True)
class TriggerConfig:
    """`[[creators.triggers]]`: what chat fires, who may fire it, how often, and what it does.

    `pattern` is a command name (`"!ping"`, matched on the first word), a keyword (matched as a
    word anywhere) or a regular expression (compiled here, so a bad one fails at load).
    Action arguments: `tally` (tally_*), `amount` (tally_increment/decrement, default 1),
    `scoreboard` and `points` (score_add, default 1; the target user is the first argument),
    `question`/`options`/`duration` (poll_open; without them the question and options come from
    the chat message, `!poll Question | A | B`), `duration` (clip, seconds).
    `response` is a template with `{name}` fields filled by the trigger engine.
    """

    id: str = attrs.field(validator=_matches(SLUG, "an id of a-z, 0-9, '_', '-'"))
    kind: str = attrs.field(default="command", validator=_one_of(TRIGGER_KINDS))
    pattern: str | None = attrs.field(default=None, validator=_not_blank)
    aliases: tuple[str, ...] = ()
    case_sensitive: bool = False
    permission: str = attrs.field(default="everyone", validator=_one_of(PERMISSIONS))
    cooldown_user: float = attrs.field(default=0.0, validator=_between(0, 86_400))
    cooldown_trigger: float = attrs.field(default=0.0, validator=_between(0, 86_400))
    cooldown_global: float = attrs.field(default=0.0, validator=_between(0, 86_400))
    response: str | None = attrs.field(default=None, validator=_check_template)
    action: str = attrs.field(default="reply", validator=_one_of(ACTIONS))
    tally: str | None = None
    scoreboard: str | None = None
    points: int | None = attrs.field(default=None, validator=_between(-1_000_000, 1_000_000))
    amount: int | None = attrs.field(default=None, validator=_between(1, 1_000_000))
    question: str | None = attrs.field(default=None, validator=_not_blank)
    options: tuple[str, ...] | None = None
    duration: float | None = attrs.field(default=None, validator=_between(1, 86_400))
    #: Loyalty points the chatter pays for the trigger (needs `[creators.points]`).
    cost: int | None = attrs.field(default=None, validator=_between(1, 1_000_000_000))
    entry_cost: int | None = attrs.field(default=None, validator=_between(0, 1_000_000_000))
    subscribers_only: bool | None = None
    subscriber_tickets: int | None = attrs.field(default=None, validator=_between(1, 100))
    enabled: bool = True
    # kind = "event": a Twitch channel event instead of a chat pattern (see _check_event).
    event: str | None = attrs.field(default=None, validator=_one_of_or_none(TWITCH_EVENTS))
    reward: str | None = attrs.field(default=None, validator=_not_blank)
    redemption: str | None = attrs.field(
        default=None, validator=_one_of_or_none(REDEMPTION_SETTINGS)
    )
    min_bits: int | None = attrs.field(default=None, validator=_between(1, 10**9))
    min_viewers: int | None = attrs.field(default=None, validator=_between(0, 10**9))
    tier: str | None = attrs.field(default=None, validator=_one_of_or_none(SUB_TIERS))
    min_months: int | None = attrs.field(default=None, validator=_between(1, 10_000))
    # Compiled once here so a bad regex fails at load time, naming `...pattern`.
    regex: re.Pattern[str] | None = attrs.field(init=False, eq=False, repr=False, default=None)

    def __attrs_post_init__(self) -> None:
        if self.kind == "event":
            self._check_event()
        else:
            self._check_chat()
        self._check_action()

    def _check_event(self) -> None:
        """Event triggers: an `event`, no chat pattern, conditions only where they apply."""
        if self.event is None:
            raise InvalidField(("event",), f"kind 'event' needs an event: one of {TWITCH_EVENTS}")
        if self.pattern is not None or self.aliases:
            raise InvalidField(("pattern",), "event triggers take no pattern or aliases")
        if self.permission not in EVENT_PERMISSIONS:
            raise InvalidField(
                ("permission",),
                f"an event trigger's permission is 'everyone' or 'broadcaster' (the broadcaster "
                f"acting on their own channel), not {self.permission!r}: Twitch's channel events "
                "do not say whether a viewer is a subscriber, VIP or moderator",
            )
        applies = {
            "reward": ("redemption",),
            "redemption": ("redemption",),
            "min_bits": ("cheer",),
            "min_viewers": ("raid",),
            "tier": ("subscribe", "resub", "gift"),
            "min_months": ("resub",),
        }
        for name, events in applies.items():
            if getattr(self, name) is not None and self.event not in events:
                raise InvalidField(
                    (name,), f"{name} applies to event {' or '.join(events)}, not {self.event!r}"
                )
        if self.action in ("poll_vote",) or (
            self.action == "poll_open" and (self.question is None or self.options is None)
        ):
            raise InvalidField(
                ("action",),
                f"action {self.action!r} needs chat text; an event trigger can use it only "
                "with a configured question and options (poll_open)",
            )

    def _check_chat(self) -> None:
        for name in ("event", "reward", "redemption", "min_bits", "min_viewers", "tier"):
            if getattr(self, name) is not None:
                raise InvalidField((name,), f"{name} is only for kind 'event' triggers")
        if self.min_months is not None:
            raise InvalidField(("min_months",), "min_months is only for kind 'event' triggers")
        if self.pattern is None:
            raise InvalidField(("pattern",), f"kind {self.kind!r} needs a pattern")
        if self.kind == "command":
            names: list[tuple[tuple[PathSegment, ...], str]] = [(("pattern",), self.pattern)]
            names += [(("aliases", i), alias) for i, alias in enumerate(self.aliases)]
            for path, name in names:
                if not name.strip() or any(ch.isspace() for ch in name):
                    raise InvalidField(path, f"a command is one word like '!ping', got {name!r}")
        elif self.kind == "keyword":
            for index, alias in enumerate(self.aliases):
                if not alias.strip():
                    raise InvalidField(("aliases", index), "must not be empty")
        else:
            if self.aliases:
                raise InvalidField(("aliases",), "regex triggers take no aliases: use '|'")
            flags = 0 if self.case_sensitive else re.IGNORECASE
            try:
                compiled = re.compile(self.pattern, flags)
            except re.error as exc:
                where = f" at position {exc.pos}" if exc.pos is not None else ""
                raise InvalidField(
                    ("pattern",), f"invalid regular expression: {exc.msg}{where}"
                ) from None
            object.__setattr__(self, "regex", compiled)  # frozen: set once, during init

    def _check_action(self) -> None:
        used = _ACTION_ARGS[self.action]
        for arg in _ALL_ACTION_ARGS:
            if getattr(self, arg) is not None and arg not in used:
                users = sorted(a for a, args in _ACTION_ARGS.items() if arg in args)
                raise InvalidField(
                    (arg,),
                    f"not used by action {self.action!r} (only by {', '.join(users)})",
                )
        if self.action == "reply" and self.response is None:
            raise InvalidField(("response",), "action 'reply' needs a response")
        if self.action in TALLY_ACTIONS and self.tally is None:
            raise InvalidField(("tally",), f"action {self.action!r} needs a tally id")
        if self.action == "score_add" and self.scoreboard is None:
            raise InvalidField(("scoreboard",), "action 'score_add' needs a scoreboard id")
        if self.options is not None:
            if not 2 <= len(self.options) <= 10:
                raise InvalidField(
                    ("options",), f"a poll needs 2 to 10 options, got {len(self.options)}"
                )
            for index, option in enumerate(self.options):
                if not option.strip():
                    raise InvalidField(("options", index), "must not be empty")


@attrs.frozen(kw_only=True)
class CreatorConfig:
    """`[[creators]]`: one creator, their chat sources and triggers."""

    id: str = attrs.field(validator=_matches(SLUG, "an id of a-z, 0-9, '_', '-' (at most 64)"))
    display_name: str = attrs.field(
        default=attrs.Factory(lambda self: self.id, takes_self=True), validator=_not_blank
    )
    enabled: bool = True
    twitch: TwitchConfig | None = None
    youtube: YouTubeConfig | None = None
    kick: KickConfig | None = None
    rumble: RumbleConfig | None = None
    replay: ReplayConfig | None = None
    tallies: tuple[TallyConfig, ...] = ()
    scoreboards: tuple[ScoreboardConfig, ...] = ()
    triggers: tuple[TriggerConfig, ...] = ()
    clips: CreatorClipsConfig | None = None
    points: PointsConfig | None = None
    timers: tuple[TimerConfig, ...] = ()
    filters: tuple[FilterConfig, ...] = ()

    def __attrs_post_init__(self) -> None:
        _check_features(self)
        _duplicates(self.tallies, "id", "tallies", "tally id")
        _duplicates(self.scoreboards, "id", "scoreboards", "scoreboard id")
        _duplicates(self.triggers, "id", "triggers", "trigger id")
        tallies = [t.id for t in self.tallies]
        boards = [s.id for s in self.scoreboards]
        for index, trigger in enumerate(self.triggers):
            for attr, declared, table in (
                ("tally", tallies, "tallies"),
                ("scoreboard", boards, "scoreboards"),
            ):
                ref = getattr(trigger, attr)
                if ref is not None and ref not in declared:
                    raise InvalidField(
                        ("triggers", index, attr),
                        f"{attr} {ref!r} is not declared in [[creators.{table}]]"
                        f"{did_you_mean(ref, declared)}",
                    )

    def sources(self) -> dict[str, Any]:
        """The configured chat sources by platform name (absent ones left out)."""
        found = {
            "twitch": self.twitch,
            "youtube": self.youtube,
            "kick": self.kick,
            "rumble": self.rumble,
            "replay": self.replay,
        }
        return {name: cfg for name, cfg in found.items() if cfg is not None}


@attrs.frozen(kw_only=True)
class Config:
    """The whole configuration file. `source` is the file it was loaded from (if any)."""

    runtime: RuntimeConfig = attrs.Factory(RuntimeConfig)
    http: HttpConfig = attrs.Factory(HttpConfig)
    exports: ExportsConfig = attrs.Factory(ExportsConfig)
    creators: tuple[CreatorConfig, ...] = ()
    # The Discord control plane, live watching and notifications (one feature, three tables).
    discord: DiscordConfig | None = None
    watch: WatchConfig | None = None
    notifications: tuple[NotificationConfig, ...] = ()
    clips: ClipsConfig | None = None
    token_store: TokenStoreConfig = attrs.Factory(lambda: TokenStoreConfig())
    accounts: tuple[AccountConfig, ...] = ()
    source: Path | None = attrs.field(default=None, eq=False)

    def __attrs_post_init__(self) -> None:
        _duplicates(self.creators, "id", "creators", "creator id")
        _duplicates(self.notifications, "id", "notifications", "notification id")
        _duplicates(self.accounts, "id", "accounts", "account id")
        _check_account_refs(self)
        _check_eventsub_accounts(self)

    def creator(self, creator_id: str) -> CreatorConfig:
        """The creator with this id (`KeyError` when there is none)."""
        for creator in self.creators:
            if creator.id == creator_id:
                return creator
        raise KeyError(creator_id)

    @property
    def state_root(self) -> Path:
        """Where export files go: `exports.root`, else `<data_dir>/exports/state`."""
        return self.exports.root or self.runtime.data_dir / "exports" / "state"


# --- Discord control plane, live watching, go-live notifications --------------------------------

SNOWFLAKE = re.compile(r"[0-9]{15,21}")
_SNOWFLAKE_TEXT = "a Discord id (a snowflake: 15 to 21 digits, as a string)"
TWITCH_ID = re.compile(r"[0-9]{1,20}")
WATCH_PLATFORMS = ("twitch", "kick", "any")
NOTIFY_EVENTS = ("started", "ended")
#: Fields a notification template may use (`actors.notify.rules` fills them).
NOTIFY_TEMPLATE_FIELDS = ("platform", "channel", "title", "game", "viewers", "url", "started_at")


def _each(pattern: re.Pattern[str], what: str) -> Any:
    def check(_inst: object, attribute: attrs.Attribute, value: tuple[str, ...]) -> None:
        for index, item in enumerate(value):
            if not isinstance(item, str) or not pattern.fullmatch(item):
                raise InvalidField((attribute.name, index), f"expected {what}, got {item!r}")

    return check


def _http_url(_inst: object, attribute: attrs.Attribute, value: str | None) -> None:
    if value is not None and not re.fullmatch(r"https?://\S+", value):
        raise InvalidField((attribute.name,), f"expected an http:// or https:// URL, got {value!r}")


@attrs.frozen(kw_only=True)
class DiscordConfig:
    """`[discord]`: the control-plane bot (gateway + slash commands).

    `guild_ids` are the guilds whose slash commands are registered (bulk overwrite) and which
    count as authorized; `admin_user_ids` may use the commands without the Administrator or
    Manage Server permission; `admin_channel_id` gets a post when a component stays failing
    longer than `alert_after_seconds`, and one when it recovers. `api_base`/`gateway_url`
    replace Discord's endpoints (local fakes).
    """

    token: Secret
    application_id: str | None = attrs.field(
        default=None, validator=_matches(SNOWFLAKE, _SNOWFLAKE_TEXT)
    )
    guild_ids: tuple[str, ...] = attrs.field(
        default=(), validator=_each(SNOWFLAKE, _SNOWFLAKE_TEXT)
    )
    admin_user_ids: tuple[str, ...] = attrs.field(
        default=(), validator=_each(SNOWFLAKE, _SNOWFLAKE_TEXT)
    )
    api_base: str | None = attrs.field(default=None, validator=_http_url)
    gateway_url: str | None = attrs.field(
        default=None, validator=_matches(re.compile(r"wss?://\S+"), "a ws:// or wss:// URL")
    )
    # Where the bot tells admins that a component stayed reconnecting or failed for
    # `alert_after_seconds`, and again when it recovers (no channel: no posts).
    admin_channel_id: str | None = attrs.field(
        default=None, validator=_matches(SNOWFLAKE, _SNOWFLAKE_TEXT)
    )
    alert_after_seconds: float = attrs.field(default=300.0, validator=_between(10, 86400))
    enabled: bool = True


@attrs.frozen(kw_only=True)
class WatchConfig:
    """`[watch]`: which streams are watched for live/offline, and how.

    Twitch is polled through Helix (`GET /streams`, app token from the client credentials)
    every `poll_seconds`; `eventsub_secret` enables the `POST /webhooks/twitch` endpoint.
    `streamers` are Twitch logins, `streamer_ids` Twitch user ids, `games` Twitch game ids,
    `kick_channels` Kick slugs (their live state comes from the Kick chat connection).
    """

    client_id: str | None = attrs.field(default=None, validator=_not_blank)
    client_secret: Secret | None = None
    poll_seconds: float = attrs.field(default=60.0, validator=_between(5, 3600))
    eventsub_secret: Secret | None = None
    streamers: tuple[str, ...] = attrs.field(
        default=(), validator=_each(TWITCH_LOGIN, _TWITCH_LOGIN_TEXT)
    )
    streamer_ids: tuple[str, ...] = attrs.field(
        default=(), validator=_each(TWITCH_ID, "a Twitch user id (digits)")
    )
    games: tuple[str, ...] = attrs.field(
        default=(), validator=_each(TWITCH_ID, "a Twitch game id (digits)")
    )
    kick_channels: tuple[str, ...] = attrs.field(
        default=(), validator=_each(KICK_SLUG, "a Kick channel slug")
    )
    helix_url: str | None = attrs.field(default=None, validator=_http_url)
    oauth_url: str | None = attrs.field(default=None, validator=_http_url)
    enabled: bool = True

    def __attrs_post_init__(self) -> None:
        polled = self.streamers or self.streamer_ids or self.games
        if polled and self.client_id is None:
            raise InvalidField(("client_id",), "watching Twitch needs client_id")
        if polled and self.client_secret is None:
            raise InvalidField(("client_secret",), "watching Twitch needs client_secret")


@attrs.frozen(kw_only=True)
class NotificationConfig:
    """`[[notifications]]`: a rule posting to Discord when a watched stream goes live (or ends).

    Exactly one destination: `webhook_url` (a secret: the URL carries the webhook token) or
    `channel_id` (posted by the `[discord]` bot). `channels` empty = every watched channel of
    `platform`. `template` uses {platform}, {channel}, {title}, {game}, {viewers}, {url},
    {started_at}; `embed` adds an embed with the title, game and link.
    """

    id: str = attrs.field(validator=_matches(SLUG, "an id of a-z, 0-9, '_', '-'"))
    platform: str = attrs.field(default="any", validator=_one_of(WATCH_PLATFORMS))
    channels: tuple[str, ...] = ()
    on: tuple[str, ...] = ("started",)
    webhook_url: Secret | None = None
    channel_id: str | None = attrs.field(
        default=None, validator=_matches(SNOWFLAKE, _SNOWFLAKE_TEXT)
    )
    template: str = attrs.field(
        default="{channel} is live on {platform}: {title} {url}", validator=_check_template
    )
    embed: bool = False
    enabled: bool = True

    def __attrs_post_init__(self) -> None:
        if (self.webhook_url is None) == (self.channel_id is None):
            raise InvalidField(("webhook_url",), "set exactly one of webhook_url or channel_id")
        if not self.on:
            raise InvalidField(("on",), "list at least one of 'started', 'ended'")
        for index, event in enumerate(self.on):
            if event not in NOTIFY_EVENTS:
                raise InvalidField(
                    ("on", index),
                    f"expected 'started' or 'ended', got {event!r}"
                    f"{did_you_mean(event, NOTIFY_EVENTS)}",
                )
        for index, channel in enumerate(self.channels):
            if not channel.strip():
                raise InvalidField(("channels", index), "must not be empty")
        for _literal, field, _spec, _conv in string.Formatter().parse(self.template):
            if field is not None and field not in NOTIFY_TEMPLATE_FIELDS:
                raise InvalidField(
                    ("template",),
                    f"unknown template field {{{field}}}"
                    f"{did_you_mean(field, NOTIFY_TEMPLATE_FIELDS)}",
                )


# --- clips (actors/clips) ------------------------------------------------------------------------

CLIP_DESTINATION_KINDS = ("folder", "discord", "http", "rumble")
#: Discord's attachment limit for a webhook without boosts (10 MiB since 2024; it was 25 MB and 8 MB
#: before). Larger clips are announced with a link instead of an upload.
DISCORD_DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024
_HTTP_URL = re.compile(r"https?://\S+")
_STREAM_URL = re.compile(r"(https?|rtmps?|srt|rtsp|udp|tcp|file)://\S+")


@attrs.frozen(kw_only=True)
class ClipDestinationConfig:
    """`[[creators.clips.destinations]]`: where a finished clip goes.

    `kind = "folder"`: copy to `path` (default `<data_dir>/clips/public`); the clip's URL is
    `public_url` + file name (a `file://` URL without it). `kind = "discord"`: `webhook_url`
    (a secret: the URL holds the webhook token); files up to `max_upload_bytes` are uploaded,
    larger ones are linked. `kind = "http"`: the file is sent (`method`) to `url`, with
    `token` as a bearer token if set; the answer's JSON `url` (or `Location`) is the clip URL.
    `kind = "rumble"`: Rumble has no clip upload API; it is listed as paused.
    """

    kind: str = attrs.field(validator=_one_of(CLIP_DESTINATION_KINDS))
    enabled: bool = True
    path: Path | None = None
    public_url: str | None = attrs.field(
        default=None, validator=_matches(_HTTP_URL, "an http:// or https:// URL prefix")
    )
    webhook_url: Secret | None = None
    max_upload_bytes: int = attrs.field(
        default=DISCORD_DEFAULT_UPLOAD_LIMIT, validator=_between(1, 1024**3)
    )
    url: str | None = attrs.field(
        default=None, validator=_matches(_HTTP_URL, "an http:// or https:// URL")
    )
    method: str = attrs.field(default="POST", validator=_one_of(("POST", "PUT")))
    token: Secret | None = None
    paused_reason: str | None = attrs.field(default=None, validator=_not_blank)

    def __attrs_post_init__(self) -> None:
        if self.kind == "discord" and self.webhook_url is None:
            raise InvalidField(
                ("webhook_url",), 'a discord destination needs webhook_url = { env = "NAME" }'
            )
        if self.kind == "http" and self.url is None:
            raise InvalidField(("url",), "an http destination needs url")


@attrs.frozen(kw_only=True)
class TwitchClipsConfig:
    """`[creators.clips.twitch]`: Twitch-native clips (Helix Create Clip) instead of local cuts.

    Needs a user token with `clips:edit` for `broadcaster_id`; `api_base` replaces Helix (tests).
    """

    broadcaster_id: str = attrs.field(
        validator=_matches(re.compile(r"[0-9]{1,20}"), "a numeric id")
    )
    client_id: str = attrs.field(validator=_not_blank)
    token: Secret
    api_base: str | None = attrs.field(
        default=None, validator=_matches(_HTTP_URL, "an http:// or https:// URL")
    )
    enabled: bool = True


@attrs.frozen(kw_only=True)
class CreatorClipsConfig:
    """`[creators.clips]`: local clips cut from a rolling buffer of the live stream.

    The capture reads `capture_url` (HLS/RTMP/SRT; a plain string) or `capture_url_secret`
    (`{ env = "NAME" }`, for URLs that embed a stream key) into segments of `segment_seconds`,
    keeping `buffer_seconds`. A clip is the last `duration` seconds before the request plus
    `pre_roll_seconds` of lead-in. Cooldowns are per requesting user and per creator;
    `max_concurrent` bounds this creator's encodes.
    """

    enabled: bool = True
    capture_url: str | None = attrs.field(
        default=None,
        validator=_matches(
            _STREAM_URL, "a stream URL (http(s), rtmp(s), srt, rtsp, udp, tcp, file)"
        ),
    )
    capture_url_secret: Secret | None = None
    segment_seconds: float = attrs.field(default=2.0, validator=_between(0.5, 60))
    buffer_seconds: float = attrs.field(default=120.0, validator=_between(5, 3600))
    min_duration_seconds: float = attrs.field(default=5.0, validator=_between(1, 600))
    max_duration_seconds: float = attrs.field(default=60.0, validator=_between(1, 600))
    default_duration_seconds: float = attrs.field(default=30.0, validator=_between(1, 600))
    pre_roll_seconds: float = attrs.field(default=0.0, validator=_between(0, 300))
    cooldown_user_seconds: float = attrs.field(default=60.0, validator=_between(0, 86400))
    cooldown_creator_seconds: float = attrs.field(default=10.0, validator=_between(0, 86400))
    max_concurrent: int = attrs.field(default=1, validator=_between(1, 16))
    destinations: tuple[ClipDestinationConfig, ...] = ()
    twitch: TwitchClipsConfig | None = None

    def __attrs_post_init__(self) -> None:
        if self.capture_url is not None and self.capture_url_secret is not None:
            raise InvalidField(
                ("capture_url_secret",), "set capture_url or capture_url_secret, not both"
            )
        if self.min_duration_seconds > self.max_duration_seconds:
            raise InvalidField(
                ("min_duration_seconds",),
                f"must not exceed max_duration_seconds ({_num(self.max_duration_seconds)})",
            )
        if not (
            self.min_duration_seconds <= self.default_duration_seconds <= self.max_duration_seconds
        ):
            raise InvalidField(
                ("default_duration_seconds",),
                "expected a number between min_duration_seconds "
                f"({_num(self.min_duration_seconds)}) and max_duration_seconds "
                f"({_num(self.max_duration_seconds)})",
            )
        if self.max_duration_seconds + self.pre_roll_seconds > self.buffer_seconds:
            raise InvalidField(
                ("buffer_seconds",),
                f"must hold max_duration_seconds + pre_roll_seconds "
                f"({_num(self.max_duration_seconds + self.pre_roll_seconds)} s), "
                f"got {_num(self.buffer_seconds)}",
            )


@attrs.frozen(kw_only=True)
class ClipsConfig:
    """`[clips]`: the encoder pool shared by all creators.

    `ffmpeg` is a program name looked up on PATH or a path; `codec` `auto` picks libx264 when
    this ffmpeg has it, else mpeg4. Failed steps are retried `max_attempts` times with a
    backoff starting at `retry_seconds`.
    """

    workers: int = attrs.field(default=2, validator=_between(1, 32))
    codec: str = attrs.field(default="auto", validator=_not_blank)
    preset: str = attrs.field(default="veryfast", validator=_not_blank)
    audio_codec: str = attrs.field(default="aac", validator=_not_blank)
    ffmpeg: str = attrs.field(default="ffmpeg", validator=_not_blank)
    max_attempts: int = attrs.field(default=3, validator=_between(1, 20))
    retry_seconds: float = attrs.field(default=2.0, validator=_between(0, 600))
    poll_seconds: float = attrs.field(default=2.0, validator=_between(0.1, 60))


# --- accounts (actors/accounts) ------------------------------------------------------------------

TOKEN_STORE_KINDS = ("keyring", "file")
ACCOUNT_PLATFORMS = ("twitch", "youtube", "kick")


@attrs.frozen(kw_only=True)
class TokenStoreConfig:
    """`[token_store]`: where OAuth tokens live at rest.

    `keyring`: the OS keyring. `file`: `<data_dir>/accounts/tokens.enc`, encrypted with a key
    derived from `key` (a passphrase secret), for services without a keyring.
    """

    kind: str = attrs.field(default="keyring", validator=_one_of(TOKEN_STORE_KINDS))
    key: Secret | None = None

    def __attrs_post_init__(self) -> None:
        if self.kind == "file" and self.key is None:
            raise InvalidField(
                ("key",), 'kind = "file" needs key = { env = "STREAMSUITES_TOKEN_KEY" }'
            )


@attrs.frozen(kw_only=True)
class AccountConfig:
    """`[[accounts]]`: an OAuth account the runtime keeps logged in (actors/accounts).

    `scopes` default to what the features naming the account need; `auth_url`/`api_url`
    replace the platform's identity and API servers (tests, proxies); `redirect_port` is the
    loopback port of the registered redirect URI for the authorization-code flows.
    """

    id: str = attrs.field(validator=_matches(SLUG, "an id of a-z, 0-9, '_', '-' (at most 64)"))
    platform: str = attrs.field(validator=_one_of(ACCOUNT_PLATFORMS))
    client_id: str = attrs.field(validator=_not_blank)
    client_secret: Secret | None = None
    scopes: tuple[str, ...] | None = None
    auth_url: str | None = attrs.field(default=None, validator=_http_url)
    api_url: str | None = attrs.field(default=None, validator=_http_url)
    redirect_port: int = attrs.field(default=3000, validator=_between(1, 65535))

    def __attrs_post_init__(self) -> None:
        for index, scope in enumerate(self.scopes or ()):
            if not scope.strip() or any(ch.isspace() for ch in scope):
                raise InvalidField(("scopes", index), f"a scope is one word, got {scope!r}")


def _check_account_refs(config: Config) -> None:
    """Every `account`/`broadcaster_account` names a declared account of the same platform."""
    declared = {account.id: account.platform for account in config.accounts}
    for index, creator in enumerate(config.creators):
        refs = []
        if creator.twitch is not None:
            refs += [
                ("twitch", "account", creator.twitch.account),
                ("twitch", "broadcaster_account", creator.twitch.broadcaster_account),
            ]
        if creator.youtube is not None:
            refs.append(("youtube", "account", creator.youtube.account))
        if creator.kick is not None:
            refs.append(("kick", "account", creator.kick.account))
        for table, key, ref in refs:
            if ref is None:
                continue
            path = ("creators", index, table, key)
            if ref not in declared:
                raise InvalidField(
                    path,
                    f"account {ref!r} is not declared in [[accounts]]{did_you_mean(ref, declared)}",
                )
            if declared[ref] != table:
                raise InvalidField(
                    path, f"account {ref!r} is a {declared[ref]} account, not a {table} one"
                )


def _check_eventsub_accounts(config: Config) -> None:
    """EventSub needs user tokens: channel events the broadcaster's (`broadcaster_account`, or
    `account` when the chat account is the broadcaster), chat over EventSub the chat account's.
    Without them the actors could never start, so it is refused here, at load and `check`."""
    for index, creator in enumerate(config.creators):
        twitch = creator.twitch
        event_triggers = [
            i for i, t in enumerate(creator.triggers) if t.kind == "event" and t.enabled
        ]
        if twitch is None:
            if event_triggers:
                raise InvalidField(
                    ("creators", index, "triggers", event_triggers[0], "event"),
                    "event triggers need a [creators.twitch] table with broadcaster_account "
                    "naming an [[accounts]] entry (the broadcaster's own login)",
                )
            continue
        if not twitch.enabled:
            continue
        needs = [
            name
            for name, present in (
                ("events", bool(twitch.events)),
                ("event triggers", bool(event_triggers)),
                ("rewards", bool(twitch.rewards)),
            )
            if present
        ]
        if needs and twitch.broadcaster_account is None and twitch.account is None:
            raise InvalidField(
                ("creators", index, "twitch", "broadcaster_account"),
                f"{' and '.join(needs)} need broadcaster_account (or account) naming an "
                "[[accounts]] entry: Twitch sends channel events only with the broadcaster's "
                "own token",
            )
        if twitch.transport == "eventsub" and twitch.account is None:
            raise InvalidField(
                ("creators", index, "twitch", "account"),
                'transport = "eventsub" needs account naming an [[accounts]] entry (chat is '
                "read and sent with that account's token)",
            )


# --- points, timers, chat filters (actors/triggers: points, timers, filters) ------------------

TIMER_PLATFORMS = ("twitch", "youtube", "kick", "rumble", "replay")
FILTER_KINDS = ("links", "caps", "symbols", "repetition", "length", "words")
FILTER_ACTIONS = ("delete", "timeout", "warn")
EXEMPT_ROLES = ("broadcaster", "moderator", "vip", "subscriber", "member")
_COUNTER_FIELD = re.compile(r"\{counter:([^{}]*)\}")
_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


@attrs.frozen(kw_only=True)
class PointsConfig:
    """`[creators.points]`: the creator's loyalty currency, one balance per platform and viewer.

    A chatter earns `per_message` for a message at most once per `message_cooldown_seconds`,
    and `per_minute_active` every minute while they chatted in the last 10 minutes;
    subscribers (and YouTube members) earn `subscriber_multiplier` times as much.
    Active minutes are credited every `credit_every_minutes` (1 by default; Twitch credits
    watch time every 5), and at once when the viewer chats, stops being active, or a command
    shows or spends points: what a viewer sees in chat is always exact, while `points.json`
    shows a lurker's watch-time earnings up to that many minutes late.
    """

    name: str = attrs.field(default="points", validator=_not_blank)
    per_message: int = attrs.field(default=0, validator=_between(0, 1_000_000))
    message_cooldown_seconds: float = attrs.field(default=60.0, validator=_between(0, 86_400))
    per_minute_active: int = attrs.field(default=0, validator=_between(0, 1_000_000))
    subscriber_multiplier: float = attrs.field(default=1.0, validator=_between(1, 100))
    credit_every_minutes: int = attrs.field(default=1, validator=_between(1, 60))


@attrs.frozen(kw_only=True)
class TimerConfig:
    """`[[creators.timers]]`: a message posted every `interval_minutes`, rotating `messages`.

    A timer posts only after `min_chat_lines` chat lines since its last post (a quiet chat is
    not spammed), on `platforms` (empty: every chat source of the creator), and only while the
    creator is live where the live state is known.
    """

    id: str = attrs.field(validator=_matches(SLUG, "an id of a-z, 0-9, '_', '-'"))
    messages: tuple[str, ...] = ()
    interval_minutes: float = attrs.field(default=15.0, validator=_between(1, 1440))
    min_chat_lines: int = attrs.field(default=0, validator=_between(0, 100_000))
    platforms: tuple[str, ...] = ()
    enabled: bool = True

    def __attrs_post_init__(self) -> None:
        if not self.messages:
            raise InvalidField(("messages",), "a timer needs at least one message")
        for index, message in enumerate(self.messages):
            if not message.strip():
                raise InvalidField(("messages", index), "must not be empty")
            problem = _template_problem(message)
            if problem is not None:
                raise InvalidField(("messages", index), problem)
        for index, platform in enumerate(self.platforms):
            if platform not in TIMER_PLATFORMS:
                raise InvalidField(
                    ("platforms", index),
                    f"expected one of {', '.join(TIMER_PLATFORMS)}, got {platform!r}"
                    f"{did_you_mean(platform, TIMER_PLATFORMS)}",
                )


@attrs.frozen(kw_only=True)
class FilterConfig:
    """`[[creators.filters]]`: a chat filter, checked before any trigger.

    Kinds: `links` (any link whose domain is not in `allow` or a subdomain of one; a moderator's
    `!permit @user` lets that user post links for `permit_seconds`), `caps` (at least `ratio`
    of the letters upper case, in a message of at least `min_length` characters), `symbols`
    (at least `ratio` of the characters neither letters, digits nor spaces, from
    `min_length`), `repetition` (a character or word repeated `max_repeats` times or more),
    `length` (more than `max_length` characters), `words` (any of `words`, matched as whole
    words case-insensitively, or of `regexes`). `exempt` roles are never filtered. `action`:
    `delete` the message, `timeout` the chatter for `timeout_seconds`, or `warn` (the response
    only); `response` is said in chat (`{user}` is the chatter).
    """

    id: str = attrs.field(validator=_matches(SLUG, "an id of a-z, 0-9, '_', '-'"))
    kind: str = attrs.field(validator=_one_of(FILTER_KINDS))
    allow: tuple[str, ...] = ()
    permit_seconds: float = attrs.field(default=60.0, validator=_between(1, 86_400))
    ratio: float = attrs.field(default=0.7, validator=_between(0, 1, low_open=True))
    min_length: int = attrs.field(default=10, validator=_between(1, 10_000))
    max_repeats: int = attrs.field(default=10, validator=_between(2, 10_000))
    max_length: int = attrs.field(default=400, validator=_between(1, 100_000))
    words: tuple[str, ...] = ()
    regexes: tuple[str, ...] = ()
    exempt: tuple[str, ...] = ("broadcaster", "moderator")
    action: str = attrs.field(default="delete", validator=_one_of(FILTER_ACTIONS))
    timeout_seconds: int = attrs.field(default=60, validator=_between(1, 1_209_600))
    response: str | None = attrs.field(default=None, validator=_check_template)
    enabled: bool = True
    compiled: tuple[re.Pattern[str], ...] = attrs.field(
        init=False, eq=False, repr=False, default=()
    )

    def __attrs_post_init__(self) -> None:
        for index, domain in enumerate(self.allow):
            if not _DOMAIN.fullmatch(domain):
                raise InvalidField(
                    ("allow", index), f"expected a domain like 'example.com', got {domain!r}"
                )
        for index, role in enumerate(self.exempt):
            if role not in EXEMPT_ROLES:
                raise InvalidField(
                    ("exempt", index),
                    f"expected one of {', '.join(EXEMPT_ROLES)}, got {role!r}"
                    f"{did_you_mean(role, EXEMPT_ROLES)}",
                )
        for index, word in enumerate(self.words):
            if not word.strip():
                raise InvalidField(("words", index), "must not be empty")
        compiled = []
        for index, source in enumerate(self.regexes):
            try:
                compiled.append(re.compile(source, re.IGNORECASE))
            except re.error as exc:
                raise InvalidField(
                    ("regexes", index), f"invalid regular expression: {exc.msg}"
                ) from None
        if self.kind == "words" and not (self.words or self.regexes):
            raise InvalidField(("words",), "a words filter needs words or regexes")
        for name in ("allow", "words", "regexes"):
            wanted = {"allow": "links", "words": "words", "regexes": "words"}[name]
            if getattr(self, name) and self.kind != wanted:
                raise InvalidField((name,), f"only used by kind {wanted!r}, not {self.kind!r}")
        object.__setattr__(self, "compiled", tuple(compiled))  # frozen: set once, during init


def _check_features(creator: CreatorConfig) -> None:
    """Cross-table checks of points, timers, filters and the triggers that use them."""
    _duplicates(creator.timers, "id", "timers", "timer id")
    _duplicates(creator.filters, "id", "filters", "filter id")
    tallies = [t.id for t in creator.tallies]
    for index, trigger in enumerate(creator.triggers):
        if creator.points is None and (trigger.cost is not None or trigger.entry_cost):
            key = "cost" if trigger.cost is not None else "entry_cost"
            raise InvalidField(
                ("triggers", index, key), "costs are paid in points: add [creators.points]"
            )
        if creator.points is None and trigger.action in POINTS_ACTIONS:
            raise InvalidField(
                ("triggers", index, "action"),
                f"action {trigger.action!r} needs [creators.points]",
            )
        for text in (trigger.response or "",):
            _check_counters(text, tallies, ("triggers", index, "response"))
    for index, timer in enumerate(creator.timers):
        for number, message in enumerate(timer.messages):
            _check_counters(message, tallies, ("timers", index, "messages", number))
    for index, rule in enumerate(creator.filters):
        _check_counters(rule.response or "", tallies, ("filters", index, "response"))


def _check_counters(text: str, tallies: list[str], path: tuple[PathSegment, ...]) -> None:
    for hit in _COUNTER_FIELD.finditer(text):
        if hit.group(1) not in tallies:
            raise InvalidField(
                path,
                f"{{counter:{hit.group(1)}}} names no tally in [[creators.tallies]]"
                f"{did_you_mean(hit.group(1), tallies)}",
            )
