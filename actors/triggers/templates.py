"""Reply templates: `{name}` fields filled from a mapping, safely.

`render` never uses `str.format`: a field is `{` + a plain name + `}` (a letter or `_`, then
letters, digits, `_`), looked up in `variables` as a whole. Nothing else is a field, so
`{user.__class__}`, `{args[0]}` or `{user!r:>99999}` cannot reach attributes, items, conversions
or format specs: they stay in the output as written. `{counter:<tally id>}` is the one name
with a colon (a tally's current count). `{{` and `}}` give literal braces (as in the
configuration's template check).

Decisions:

- A name missing from `variables` stays literal (`{winner}` prints as `{winner}`): a typo or a
  value the engine could not provide shows up in chat instead of silently vanishing.
  `action_variables` always defines `arg1`..`arg9` (empty when not given), so a missing
  argument renders empty.
- Values are inserted verbatim (user text is never re-scanned for fields) except that CR, LF,
  NUL and the Unicode line/paragraph separators become spaces, everywhere in the output, so one
  reply is always one chat line.
- `None` renders empty; lists and tuples are joined with ", "; numbers without a useless `.0`.
- The result is at most `MAX_REPLY_LENGTH` (500) characters: longer output is cut and ends
  with "…".
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping

from actors.triggers.actions import (
    Action,
    ClipRequest,
    PollOpen,
    PollVote,
    ScoreAdd,
    TallyChange,
)

MAX_REPLY_LENGTH = 500
_MAX_VALUE_LENGTH = MAX_REPLY_LENGTH + 1  # a longer value is cut anyway: skip copying it all
#: Integers this large render as "…" (computed once: Python does not fold a power this big).
_HUGE = 10**100

# `{counter:<tally id>}` is one name too: the engine provides "counter:deaths".
_FIELD = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*(?::[a-z0-9][a-z0-9_-]*)?)\}")
_BREAKS = str.maketrans(
    {"\r": " ", "\n": " ", "\x00": " ", "\x85": " ", "\u2028": " ", "\u2029": " "}
)
#: Any of `_BREAKS`: most replies have none, and a search costs less than a translation.
_BREAK = re.compile("[\r\n\x00\x85\u2028\u2029]")


def _scalar(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value[:_MAX_VALUE_LENGTH]
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value) if -_HUGE < value < _HUGE else "…"
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.2f}".rstrip("0").rstrip(".")
    try:
        return str(value)[:_MAX_VALUE_LENGTH]
    except Exception:  # a value whose __str__ fails renders empty rather than crash a reply
        return ""


def _text(value: object) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_scalar(item) for item in value[:MAX_REPLY_LENGTH])[:_MAX_VALUE_LENGTH]
    return _scalar(value)


@functools.lru_cache(maxsize=1024)
def _parsed(template: str) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """`template` split once (templates come from the configuration and are rendered for
    every reply): its literal text around the fields (`{{` and `}}` already made single
    braces; one more piece than fields) and each field's name and text as written."""
    literals: list[str] = []
    fields: list[tuple[str, str]] = []
    pieces: list[str] = []
    at = 0
    for hit in _FIELD.finditer(template):
        pieces.append(template[at : hit.start()])
        at = hit.end()
        name = hit.group(1)
        if name is None:
            pieces.append(hit.group(0)[0])  # "{{" -> "{", "}}" -> "}"
        else:
            literals.append("".join(pieces))
            pieces = []
            fields.append((name, hit.group(0)))
    pieces.append(template[at:])
    literals.append("".join(pieces))
    return tuple(literals), tuple(fields)


def render(template: str, variables: Mapping[str, object]) -> str:
    """`template` with each `{name}` replaced by `variables[name]` (see the module docstring)."""
    literals, fields = _parsed(template)
    if fields:
        parts = [literals[0]]
        for (name, written), literal in zip(fields, literals[1:], strict=True):
            parts.append(_text(variables[name]) if name in variables else written)
            parts.append(literal)
        out = "".join(parts)
    else:
        out = literals[0]
    if _BREAK.search(out):
        out = out.translate(_BREAKS)
    if len(out) > MAX_REPLY_LENGTH:
        out = out[: MAX_REPLY_LENGTH - 1] + "…"
    return out


def format_options(options: tuple[str, ...] | list[str]) -> str:
    """Poll options numbered for chat: `1) Zeus, 2) Artemis, 3) Ares`."""
    return ", ".join(f"{number}) {option}" for number, option in enumerate(options, 1))


_ARG_NAMES = tuple(f"arg{number}" for number in range(1, 10))


def action_variables(action: Action) -> dict[str, object]:
    """The template variables a descriptor itself defines.

    Always: `user` (display name, else login), `login`, `display_name`, `channel`, `platform`,
    `trigger`, `creator`, `args` (the argument text), `arg1`..`arg9` (empty when absent).
    Per action: `question`, `poll`, `options` (numbered), `duration` (PollOpen); `option`
    (PollVote); `tally`, `amount` (TallyChange); `target`, `scoreboard`, `points` (ScoreAdd);
    `title`, `duration` (ClipRequest). The executor adds what only it knows (`count`, `score`,
    `winner`, `votes`, ...) before calling `render`.
    """
    variables: dict[str, object] = {
        "user": action.display_name or action.login,
        "login": action.login,
        "display_name": action.display_name,
        "channel": action.channel,
        "platform": action.platform,
        "trigger": action.trigger_id,
        "creator": action.creator_id,
        "args": action.raw_args,
    }
    args = action.args
    variables.update(zip(_ARG_NAMES, args, strict=False))  # arguments beyond 9: not fields
    for name in _ARG_NAMES[len(args) :]:
        variables[name] = ""
    if isinstance(action, PollOpen):
        variables["question"] = action.question
        variables["poll"] = action.question
        variables["options"] = format_options(action.options)
        variables["duration"] = action.duration
    elif isinstance(action, PollVote):
        variables["option"] = action.option
    elif isinstance(action, TallyChange):
        variables["tally"] = action.tally_id
        variables["amount"] = action.amount
    elif isinstance(action, ScoreAdd):
        variables["target"] = action.label
        variables["scoreboard"] = action.scoreboard_id
        variables["points"] = action.points
    elif isinstance(action, ClipRequest):
        variables["title"] = action.title
        variables["duration"] = action.duration_seconds
    return variables
