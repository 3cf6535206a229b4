"""Action descriptors: what a fired trigger asks the engine to do, and argument parsing.

Descriptors are plain frozen values; the `TriggerEngine` actor executes them (chat replies
through the platform actor, polls/tallies/scores through the store, clips through `clips`) and
then renders `response` with `templates.render`. Every descriptor carries the context the
executor needs: the trigger and creator ids and the originating message's identity.

Argument rules (from `config/models.py` and `config/example.toml`):

- `poll_open`: the trigger's `question`/`options` when configured, otherwise from the message,
  `!poll Question | A | B`: the text before the first `|` is the question, each further `|`
  separates an option. When only `options` are configured the whole argument text is the
  question; when only `question` is, the arguments are the options (`!poll A | B`). A poll
  needs a question (at most 200 characters) and 2 to 10 distinct non-empty options (at most 100
  characters each). `duration` is the trigger's (or `None`: the executor's default).
- `poll_vote`: `!vote 2` gives `option="2"` (a 1-based number as typed, leading zeros and a
  leading `#` dropped); text that is not a number is kept whole (`!vote Artemis` gives
  `"Artemis"`) for the executor to compare with the option names. No argument is an error.
- `poll_close`: arguments ignored.
- `tally_*`: `amount` from the trigger (default 1; 0 for a reset); arguments ignored (so
  `!undeath that one didn't count` works).
- `score_add`: for a command, the first argument names who scores (`!point @PixelPanda`: a
  leading `@` and trailing punctuation are dropped); it is required. For keyword and regex
  triggers the chatter scores. `points` is the trigger's; when the trigger sets none, a second
  argument that is an integer (`!point @sam 5`) gives the points, else 1.
- `clip`: `duration` from the trigger (default 30 seconds); the arguments, if any, are the
  title (at most 100 characters).

User text placed in descriptors has CR, LF and NUL replaced by spaces.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NotRequired, TypedDict

import attrs

from actors.events import ChatEvent
from actors.triggers.rules import Match

MAX_POLL_OPTIONS = 10
MIN_POLL_OPTIONS = 2
MAX_QUESTION_LENGTH = 200
MAX_OPTION_LENGTH = 100
MAX_TITLE_LENGTH = 100
MAX_LABEL_LENGTH = 64
DEFAULT_CLIP_SECONDS = 30.0
MAX_POINTS = 1_000_000

TallyOp = Literal["increment", "decrement", "reset"]

_LINE_BREAKS = str.maketrans({"\r": " ", "\n": " ", "\x00": " "})


def clean_text(value: str) -> str:
    """`value` with CR, LF and NUL replaced by spaces (they would split a chat line)."""
    return value.translate(_LINE_BREAKS)


class ArgumentError(ValueError):
    """A fired trigger's arguments do not make sense; `message` is fit to say in chat."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@attrs.frozen(kw_only=True)
class Action:
    """Fields every descriptor carries.

    `response` is the trigger's reply template to render once the action ran (`None`: say
    nothing); for `Reply` it equals `template`. `args`/`raw_args` are the matched arguments
    (see `rules.Match`), kept so the reply can use `{args}` and `{arg1}`...
    """

    trigger_id: str
    creator_id: str
    platform: str
    channel: str
    message_id: str | None
    user_id: str
    login: str
    display_name: str
    args: tuple[str, ...] = ()
    raw_args: str = ""
    response: str | None = None


class ActionFields(TypedDict):
    """`Action`'s own fields as keyword arguments: what every descriptor is built with."""

    trigger_id: str
    creator_id: str
    platform: str
    channel: str
    message_id: str | None
    user_id: str
    login: str
    display_name: str
    args: NotRequired[tuple[str, ...]]
    raw_args: NotRequired[str]
    response: NotRequired[str | None]


@attrs.frozen(kw_only=True)
class Reply(Action):
    """Say `template`, rendered, in the channel the message came from."""

    template: str


@attrs.frozen(kw_only=True)
class PollOpen(Action):
    """Open a poll (replacing none: the executor decides what an already open poll means)."""

    question: str
    options: tuple[str, ...]
    duration: float | None = None


@attrs.frozen(kw_only=True)
class PollVote(Action):
    """The chatter votes; `option` is a 1-based number as a string, or an option's name."""

    option: str


@attrs.frozen(kw_only=True)
class PollClose(Action):
    """Close the open poll."""


@attrs.frozen(kw_only=True)
class TallyChange(Action):
    """Change a tally: add or subtract `amount`, or reset it (`amount` is then 0)."""

    tally_id: str
    op: TallyOp
    amount: int


@attrs.frozen(kw_only=True)
class ScoreAdd(Action):
    """Give `points` (may be negative) to `label` on a scoreboard."""

    scoreboard_id: str
    label: str
    points: int


@attrs.frozen(kw_only=True)
class ClipRequest(Action):
    """Cut a clip of the last `duration_seconds`."""

    duration_seconds: float
    title: str | None = None


@attrs.frozen(kw_only=True)
class ErrorReply(Action):
    """A trigger fired with bad arguments: say `text` (final, not a template) in chat."""

    text: str


def _usage(match: Match, rest: str) -> str:
    """`Usage: !poll Question | A | B` for commands; empty for keywords and regexes."""
    if match.trigger.kind != "command":
        return ""
    return f" Usage: {match.trigger.pattern} {rest}".rstrip()


def _parse_poll(match: Match) -> tuple[str, tuple[str, ...]]:
    trigger = match.trigger
    usage = _usage(match, "Question | Option 1 | Option 2")
    raw = clean_text(match.raw_args)
    if trigger.question is not None and trigger.options is not None:
        return trigger.question, tuple(trigger.options)
    if trigger.options is not None:
        question, options = raw.strip(), list(trigger.options)
    elif trigger.question is not None:
        question = trigger.question
        options = raw.split("|") if raw.strip() else []
        usage = _usage(match, "Option 1 | Option 2")
    else:
        parts = raw.split("|")
        question, options = parts[0].strip(), parts[1:]
    options = [o.strip() for o in options]
    if not question:
        raise ArgumentError(f"A poll needs a question.{usage}")
    if len(question) > MAX_QUESTION_LENGTH:
        raise ArgumentError(f"The question is too long (at most {MAX_QUESTION_LENGTH} characters).")
    if not MIN_POLL_OPTIONS <= len(options) <= MAX_POLL_OPTIONS:
        raise ArgumentError(
            f"A poll needs {MIN_POLL_OPTIONS} to {MAX_POLL_OPTIONS} options, "
            f"got {len(options)}.{usage}"
        )
    seen: set[str] = set()
    for number, option in enumerate(options, 1):
        if not option:
            raise ArgumentError(f"Option {number} is empty.{usage}")
        if len(option) > MAX_OPTION_LENGTH:
            raise ArgumentError(
                f"Option {number} is too long (at most {MAX_OPTION_LENGTH} characters)."
            )
        folded = option.casefold()
        if folded in seen:
            raise ArgumentError(f"Option {number} repeats an earlier option.")
        seen.add(folded)
    return question, tuple(options)


def _parse_vote(match: Match) -> str:
    if not match.args:
        raise ArgumentError(f"Which option?{_usage(match, '<number>')}")
    first = match.args[0].removeprefix("#")
    if first.isdecimal() and first.isascii():
        if len(first) > 3:  # no poll has that many options; also keeps int() cheap
            raise ArgumentError("There is no such option.")
        return str(int(first))
    option = clean_text(match.raw_args).strip()
    if len(option) > MAX_OPTION_LENGTH:
        raise ArgumentError("There is no such option.")
    return option


def _parse_score(match: Match, event: ChatEvent) -> tuple[str, int]:
    trigger = match.trigger
    points = trigger.points
    if trigger.kind != "command":
        return (event.display_name or event.login), (1 if points is None else points)
    if not match.args:
        raise ArgumentError(f"Who gets the points?{_usage(match, '@user')}")
    label = clean_text(match.args[0]).lstrip("@").rstrip(",.;:!?")
    if not label:
        raise ArgumentError(f"Who gets the points?{_usage(match, '@user')}")
    if len(label) > MAX_LABEL_LENGTH:
        raise ArgumentError(f"That name is too long (at most {MAX_LABEL_LENGTH} characters).")
    if points is None:
        points = 1
        if len(match.args) > 1:
            given = match.args[1]
            digits = given[1:] if given[:1] in "+-" else given
            if digits.isdecimal() and digits.isascii() and len(digits) <= 7:
                value = int(given)
                if -MAX_POINTS <= value <= MAX_POINTS:
                    points = value
    return label, points


TALLY_OPS: dict[str, TallyOp] = {
    "tally_increment": "increment",
    "tally_decrement": "decrement",
    "tally_reset": "reset",
}


def build_action(match: Match, event: ChatEvent, creator_id: str) -> Action:
    """The descriptor for a fired trigger. Raises `ArgumentError` for unusable arguments."""
    trigger = match.trigger
    common = _common_fields(match, event, creator_id)
    action = trigger.action
    if action == "reply":
        return Reply(**common, template=trigger.response or "")
    if action == "poll_open":
        question, options = _parse_poll(match)
        return PollOpen(**common, question=question, options=options, duration=trigger.duration)
    if action == "poll_vote":
        return PollVote(**common, option=_parse_vote(match))
    if action == "poll_close":
        return PollClose(**common)
    op = TALLY_OPS.get(action)
    if op is not None:
        amount = 0 if op == "reset" else (1 if trigger.amount is None else trigger.amount)
        return TallyChange(**common, tally_id=trigger.tally or "", op=op, amount=amount)
    if action == "score_add":
        label, points = _parse_score(match, event)
        return ScoreAdd(
            **common, scoreboard_id=trigger.scoreboard or "", label=label, points=points
        )
    if action == "clip":
        title = clean_text(match.raw_args).strip()[:MAX_TITLE_LENGTH].strip() or None
        if trigger.kind != "command":
            title = None  # a keyword/regex "argument" is the chat line itself, not a title
        duration = DEFAULT_CLIP_SECONDS if trigger.duration is None else trigger.duration
        return ClipRequest(**common, duration_seconds=duration, title=title)
    builder = _FEATURE_BUILDERS.get(action)
    if builder is not None:
        return builder(match, event, common)
    raise ArgumentError(f"This trigger's action {action!r} is not supported.")


# --- points, quotes, giveaways ---------------------------------------------------------------
#
# Points: `!points` / `!points @user` (points_show), `!give @user 50` (points_give),
# `!addpoints @user 100` (points_add, may be negative), `!top` (points_top).
# Quotes: `!quote add <text>` (quote_add), `!quote`, `!quote 12`, `!quote <word>` (quote_show),
# `!quote delete 12` (quote_delete). Giveaways: `!giveaway open <prize>` (giveaway_open),
# `!join` (giveaway_join), `!giveaway draw` (giveaway_draw; again: a reroll), `!giveaway
# close` (giveaway_close).
#
# Sub-commands: several triggers may share one command (`!quote`, `!giveaway`). An action with
# a verb (add, delete, open, draw, close) takes it as the first argument (`!quote add ...`)
# unless its command already names it (`!addquote ...`); a message without it is
# `NotApplicable` to that trigger (it neither fires nor starts a cooldown). `quote_show` is not
# applicable to `!quote add ...` and `!quote delete ...`.

MAX_QUOTE_LENGTH = 300
MAX_PRIZE_LENGTH = 100
TOP_SIZE = 5


class NotApplicable(ArgumentError):
    """The message is meant for another trigger sharing this command (a sub-command)."""

    def __init__(self) -> None:
        super().__init__("")


@attrs.frozen(kw_only=True)
class PointsShow(Action):
    """Say the chatter's balance, or `target`'s (a login)."""

    target: str | None = None


@attrs.frozen(kw_only=True)
class PointsGive(Action):
    """Move `amount` of the chatter's points to `target` (a login)."""

    target: str
    amount: int


@attrs.frozen(kw_only=True)
class PointsAdd(Action):
    """A moderator adds `amount` (negative: removes) to `target`'s balance."""

    target: str
    amount: int


@attrs.frozen(kw_only=True)
class PointsTop(Action):
    """Say the `limit` highest balances."""

    limit: int = TOP_SIZE


@attrs.frozen(kw_only=True)
class QuoteAdd(Action):
    """Add `text` as the next quote."""

    text: str


@attrs.frozen(kw_only=True)
class QuoteShow(Action):
    """Say quote `number`, or one mentioning `word`, or any."""

    number: int | None = None
    word: str | None = None


@attrs.frozen(kw_only=True)
class QuoteDelete(Action):
    """Delete quote `number`."""

    number: int


@attrs.frozen(kw_only=True)
class GiveawayOpen(Action):
    """Open a giveaway for `prize`."""

    prize: str
    entry_cost: int = 0
    subscribers_only: bool = False
    subscriber_tickets: int = 1


@attrs.frozen(kw_only=True)
class GiveawayJoin(Action):
    """The chatter enters the open giveaway; `subscriber` decides tickets and eligibility."""

    subscriber: bool


@attrs.frozen(kw_only=True)
class GiveawayDraw(Action):
    """Draw (or reroll) the giveaway's winner."""


@attrs.frozen(kw_only=True)
class GiveawayClose(Action):
    """Close the open giveaway."""


_VERBS = {
    "quote_add": ("add",),
    "quote_delete": ("delete", "del", "remove"),
    "giveaway_open": ("open", "start"),
    "giveaway_draw": ("draw", "reroll"),
    "giveaway_close": ("close", "end"),
}
_QUOTE_VERBS = frozenset(_VERBS["quote_add"] + _VERBS["quote_delete"])


#: Builds a feature action's descriptor from the match, the event and the common fields.
_Builder = Callable[[Match, ChatEvent, ActionFields], Action]


def _common_fields(match: Match, event: ChatEvent, creator_id: str) -> ActionFields:
    trigger = match.trigger
    return {
        "trigger_id": trigger.id,
        "creator_id": creator_id,
        "platform": event.platform,
        "channel": event.channel,
        "message_id": event.message_id,
        "user_id": event.user_id,
        "login": event.login,
        "display_name": event.display_name,
        "args": match.args,
        "raw_args": match.raw_args,
        "response": trigger.response,
    }


def _after_verb(match: Match) -> tuple[tuple[str, ...], str]:
    """The arguments after the action's verb (see the section comment), or `NotApplicable`."""
    trigger = match.trigger
    verbs = _VERBS.get(trigger.action, ())
    args, raw = match.args, clean_text(match.raw_args).strip()
    if trigger.kind != "command" or not verbs:
        return args, raw
    if args and args[0].casefold() in verbs:
        return args[1:], raw[len(args[0]) :].strip()
    if any(verb in (trigger.pattern or "").casefold() for verb in verbs):
        return args, raw
    raise NotApplicable()


def _login(word: str) -> str:
    """`@PixelPanda,` -> `pixelpanda`."""
    return clean_text(word).lstrip("@").rstrip(",.;:!?").lower()


def _amount(word: str, usage: str) -> int:
    digits = word[1:] if word[:1] in "+-" else word
    if not (digits.isdecimal() and digits.isascii() and len(digits) <= 9):
        raise ArgumentError(f"How many?{usage}")
    return int(word)


def _points_show(match: Match, _event: ChatEvent, common: ActionFields) -> Action:
    target = _login(match.args[0]) if match.args else None
    return PointsShow(**common, target=target or None)


def _points_transfer(cls: type[PointsGive] | type[PointsAdd]) -> _Builder:
    def build(match: Match, _event: ChatEvent, common: ActionFields) -> Action:
        usage = _usage(match, "@user <amount>")
        if len(match.args) < 2 or not _login(match.args[0]):
            raise ArgumentError(f"Who, and how many?{usage}")
        amount = _amount(match.args[1], usage)
        if cls is PointsGive and amount <= 0:
            raise ArgumentError(f"Give at least 1.{usage}")
        return cls(**common, target=_login(match.args[0]), amount=amount)

    return build


def _points_top(_match: Match, _event: ChatEvent, common: ActionFields) -> Action:
    return PointsTop(**common)


def _quote_add(match: Match, _event: ChatEvent, common: ActionFields) -> Action:
    _args, text = _after_verb(match)
    if not text:
        raise ArgumentError(f"What is the quote?{_usage(match, 'add <text>')}")
    if len(text) > MAX_QUOTE_LENGTH:
        raise ArgumentError(f"That quote is too long (at most {MAX_QUOTE_LENGTH} characters).")
    return QuoteAdd(**common, text=text)


def _number(word: str) -> int | None:
    word = word.removeprefix("#")
    if word.isdecimal() and word.isascii() and len(word) <= 9:
        return int(word)
    return None


def _quote_show(match: Match, _event: ChatEvent, common: ActionFields) -> Action:
    args = match.args
    if match.trigger.kind != "command" or not args:
        return QuoteShow(**common)
    if args[0].casefold() in _QUOTE_VERBS:
        raise NotApplicable()
    number = _number(args[0])
    if number is not None:
        return QuoteShow(**common, number=number)
    return QuoteShow(**common, word=clean_text(args[0])[:MAX_LABEL_LENGTH])


def _quote_delete(match: Match, _event: ChatEvent, common: ActionFields) -> Action:
    args, _raw = _after_verb(match)
    number = _number(args[0]) if args else None
    if number is None:
        raise ArgumentError(f"Which quote number?{_usage(match, 'delete <number>')}")
    return QuoteDelete(**common, number=number)


def _giveaway_open(match: Match, _event: ChatEvent, common: ActionFields) -> Action:
    _args, prize = _after_verb(match)
    if not prize:
        raise ArgumentError(f"What is the prize?{_usage(match, 'open <prize>')}")
    trigger = match.trigger
    return GiveawayOpen(
        **common,
        prize=prize[:MAX_PRIZE_LENGTH],
        entry_cost=trigger.entry_cost or 0,
        subscribers_only=bool(trigger.subscribers_only),
        subscriber_tickets=trigger.subscriber_tickets or 1,
    )


def _giveaway_join(_match: Match, event: ChatEvent, common: ActionFields) -> Action:
    roles = event.roles
    return GiveawayJoin(**common, subscriber="subscriber" in roles or "member" in roles)


def _giveaway_draw(match: Match, _event: ChatEvent, common: ActionFields) -> Action:
    _after_verb(match)
    return GiveawayDraw(**common)


def _giveaway_close(match: Match, _event: ChatEvent, common: ActionFields) -> Action:
    _after_verb(match)
    return GiveawayClose(**common)


_FEATURE_BUILDERS: dict[str, _Builder] = {
    "points_show": _points_show,
    "points_give": _points_transfer(PointsGive),
    "points_add": _points_transfer(PointsAdd),
    "points_top": _points_top,
    "quote_add": _quote_add,
    "quote_show": _quote_show,
    "quote_delete": _quote_delete,
    "giveaway_open": _giveaway_open,
    "giveaway_join": _giveaway_join,
    "giveaway_draw": _giveaway_draw,
    "giveaway_close": _giveaway_close,
}
