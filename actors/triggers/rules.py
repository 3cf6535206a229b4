"""Compiled trigger rules: which of a creator's triggers a chat message matches.

Pure code, no I/O. `TriggerRules.from_config(creator)` does all the expensive work once;
`match(event)` is then cheap enough for every chat line:

- commands: one dictionary probe on the first word, only when the line starts with a
  character some command starts with;
- keywords and regexes: one search of a combined alternation of literal strings over the
  case-folded line (the keywords themselves, and for each regex a set of literals of which
  every match must contain one, derived from the parsed pattern). Only the triggers owning a
  literal that occurs are then verified with their own regex; regexes with no usable literal
  always run. The pre-check is exact by construction (see `required_literals`) and checked
  against plain `re.search` by property tests.

Matching semantics (the configuration's `[[creators.triggers]]`):

- `command`: the first word of the message equals the pattern or one of the aliases
  (case-insensitive unless `case_sensitive`). `args` are the remaining words, `raw_args` the rest
  of the message with outer whitespace removed. A Twitch reply (`reply_parent` set) starts with
  `@login `; that mention is skipped so `@someone !ping` still runs `!ping`. Invisible filler
  characters chat clients append to dodge duplicate-message filters (U+E0000, zero-width
  spaces) are dropped before the words are split.
- `keyword`: the pattern (or an alias) occurs as a whole word anywhere (not inside a longer
  word: `gg` matches "gg wp" and "so gg!", not "eggs"). Case-insensitive (both sides
  case-folded: "STRASSE" matches "straße") unless `case_sensitive`.
- `regex`: `TriggerConfig.regex.search(text)`; `groups` and `named` come from the match object,
  `args` are the groups (a group that did not take part is `""`), `raw_args` the matched text.

Permissions are levels: everyone < subscriber (YouTube's `member` counts as subscriber) < vip <
moderator < broadcaster; a chatter holds the highest level of their roles.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from operator import itemgetter
from types import MappingProxyType
from typing import NamedTuple

import attrs

from actors.events import ChatEvent
from config.models import CreatorConfig, TriggerConfig

PERMISSION_LEVELS: Mapping[str, int] = MappingProxyType(
    {"everyone": 0, "subscriber": 1, "vip": 2, "moderator": 3, "broadcaster": 4}
)
ROLE_LEVELS: Mapping[str, int] = MappingProxyType(
    {"member": 1, "subscriber": 1, "vip": 2, "moderator": 3, "broadcaster": 4}
)

# Characters some chat clients append or insert so that a repeated message is not dropped as a
# duplicate: they must not become (or hide inside) a command argument.
_INVISIBLE = re.compile("[\U000e0000\u034f\u200b\u200c\u200d\u2060\ufeff]")
_EMPTY_NAMED: Mapping[str, str | None] = MappingProxyType({})
_MAX_GATE_HITS = 24
_by_index = itemgetter(1)  # Match.index


def role_level(roles: Iterable[str]) -> int:
    """The permission level a set of roles grants (0 = everyone ... 4 = broadcaster)."""
    level = 0
    for role in roles:
        value = ROLE_LEVELS.get(role, 0)
        if value > level:
            level = value
    return level


def allowed(trigger: TriggerConfig, roles: Iterable[str]) -> bool:
    """Whether a chatter holding `roles` may fire `trigger` (its `permission` level or above)."""
    required = PERMISSION_LEVELS.get(trigger.permission, 0)
    return required == 0 or role_level(roles) >= required


class Match(NamedTuple):
    """One trigger matched by one message (a named tuple: built for every hit, so it is cheap).

    `index` is the trigger's position among the creator's enabled triggers (the order actions
    come out in). `args`/`raw_args` are described in the module docstring; `groups` and `named`
    are the regex groups (empty for commands and keywords); `alias` is the word that matched
    for commands (as typed) and keywords (case-folded unless the keyword is case-sensitive).
    """

    trigger: TriggerConfig
    index: int
    args: tuple[str, ...] = ()
    raw_args: str = ""
    groups: tuple[str | None, ...] = ()
    named: Mapping[str, str | None] = _EMPTY_NAMED
    alias: str | None = None


def _word_regex(words: Iterable[str]) -> re.Pattern[str]:
    """An alternation of literal words that must not touch other word characters."""
    # Longest first so that "gg wp" wins over "gg" inside the alternation.
    alternatives = "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))
    # Lookarounds instead of \b: \b misbehaves for keywords that start or end with a non-word
    # character (":)", "o7!").
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


# --- required literals of a regex: a cheap pre-check before running it ----------------------------
#
# For most chat lines a regex trigger cannot match, and proving that with `in` on a few literal
# strings is far cheaper than running the regex. From the parsed pattern we derive a set of
# lower-case ASCII strings of which every match must contain at least one; a line (lower-cased)
# containing none of them is skipped. It is only applied to ASCII lines: with IGNORECASE, an
# ASCII literal can match non-ASCII text ("k" matches the Kelvin sign), which a lower-cased
# containment check would miss. Anything the analysis does not understand yields "no
# constraint", so the pre-check can only ever skip lines the regex would not match.

_MAX_ALTERNATIVES = 32
# What the analysis knows about a piece of a pattern, each a set of strings or None (unknown):
# exact (it matches exactly one of these), required (every match contains one), head (every
# match starts with one), tail (every match ends with one).
_Info = tuple[
    frozenset[str] | None, frozenset[str] | None, frozenset[str] | None, frozenset[str] | None
]
_UNKNOWN: _Info = (None, None, None, None)
_EMPTY_STRING = frozenset({""})

try:
    from re import _parser as _re_parser  # the stdlib's own regex parser (3.11+)
except ImportError:  # pragma: no cover - another implementation: no pre-check, still correct
    _re_parser = None  # type: ignore[assignment]


def _join(left: frozenset[str], right: frozenset[str]) -> frozenset[str] | None:
    """Every concatenation, or None when there would be too many."""
    if len(left) * len(right) > _MAX_ALTERNATIVES:
        return None
    return frozenset(a + b for a in left for b in right)


def _best(candidates: Iterable[frozenset[str] | None]) -> frozenset[str] | None:
    usable = [c for c in candidates if c and "" not in c and len(c) <= _MAX_ALTERNATIVES]
    if not usable:
        return None
    # The longest shortest literal filters best; among equals, fewer `in` checks.
    return max(usable, key=lambda c: (min(len(s) for s in c), -len(c)))


def _analyze_sequence(items: Iterable[tuple[object, object]]) -> _Info:
    """What a parsed sequence's matches must look like (see `_Info`)."""
    product: frozenset[str] = _EMPTY_STRING  # the literal run being built
    head: frozenset[str] | None = None
    candidates: list[frozenset[str] | None] = []
    all_exact = True
    for op, av in items:
        exact, required, node_head, node_tail = _analyze_node(op, av)
        if exact is not None:
            joined = _join(product, exact)
            if joined is not None:
                product = joined
                continue
            required = node_head = node_tail = exact  # too many combinations: cut the run here
        start = _join(product, node_head) if node_head is not None else product
        if all_exact:
            all_exact = False
            head = start
        candidates += [start, required]
        product = node_tail if node_tail is not None else _EMPTY_STRING
    candidates.append(product)
    if all_exact:
        return product, _best(candidates), product, product
    return None, _best(candidates), head, product


def _union(sets: list[frozenset[str] | None]) -> frozenset[str] | None:
    if any(s is None for s in sets):
        return None
    joined = frozenset().union(*(s for s in sets if s is not None))
    return joined if len(joined) <= _MAX_ALTERNATIVES else None


def _analyze_node(op: object, av: object) -> _Info:
    name = str(op)
    if name == "LITERAL":
        char = chr(av)  # type: ignore[call-overload]
        if not char.isascii():
            return _UNKNOWN
        exact = frozenset({char.lower()})
        return exact, None, exact, exact
    if name == "IN":
        items = list(av)  # type: ignore[call-overload]
        if 0 < len(items) <= 8 and all(str(o) == "LITERAL" and v < 128 for o, v in items):
            exact = frozenset(chr(v).lower() for _o, v in items)
            return exact, None, exact, exact
        return _UNKNOWN
    if name in ("AT", "ASSERT", "ASSERT_NOT"):
        # Zero-width: matches the empty string where it holds.
        return _EMPTY_STRING, None, _EMPTY_STRING, _EMPTY_STRING
    if name == "SUBPATTERN":
        return _analyze_sequence(av[-1])  # type: ignore[index]
    if name == "ATOMIC_GROUP":
        return _analyze_sequence(av)  # type: ignore[arg-type]
    if name == "BRANCH":
        infos = [_analyze_sequence(branch) for branch in av[1]]  # type: ignore[index]
        exact, required, head, tail = (_union([info[i] for info in infos]) for i in range(4))
        if required is None:
            required = _union([info[1] or info[0] for info in infos])
        return exact, _best([required]), head, tail
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        low, high, inner = av  # type: ignore[misc]
        exact, required, head, tail = _analyze_sequence(inner)
        if low == high == 1:
            return exact, required, head, tail
        if low < 1:
            return _UNKNOWN
        if exact is None:
            return None, required, head, tail
        # `low` copies first, then more: starts with exact^low, ends with one copy.
        repeated: frozenset[str] | None = exact
        for _ in range(min(low, 8) - 1):
            repeated = _join(repeated, exact) if repeated is not None else None
        start = repeated if repeated is not None else exact
        return (start if low == high else None), _best([start, exact]), start, exact
    return _UNKNOWN


def required_literals(compiled: re.Pattern[str]) -> frozenset[str] | None:
    """Lower-case ASCII strings of which every match of `compiled` on ASCII text contains one
    (compared lower-cased), or `None` when no such set is known."""
    if _re_parser is None:
        return None
    try:
        parsed = _re_parser.parse(compiled.pattern, compiled.flags)
        return _analyze_sequence(list(parsed))[1]
    except Exception:  # the analysis is an optimisation: when in doubt, always run the regex
        return None


@attrs.frozen
class _Scan:
    """A keyword or regex trigger prepared for scanning (see `TriggerRules.match`)."""

    index: int
    trigger: TriggerConfig
    is_regex: bool
    verifier: re.Pattern[str]
    on_folded: bool  # verify against the case-folded text (case-insensitive keywords)
    named: bool  # the regex has named groups


class TriggerRules:
    """A creator's enabled triggers, compiled for matching. Build with `from_config`.

    Attributes: `creator_id`, `triggers` (enabled ones, in configuration order), `self_logins`
    (lower-cased logins whose messages are ignored: the bot's own accounts).
    """

    __slots__ = (
        "_always",
        "_command_initials",
        "_commands_exact",
        "_commands_folded",
        "_gate",
        "_non_ascii",
        "_owners",
        "_scans",
        "creator_id",
        "self_logins",
        "triggers",
    )

    def __init__(
        self,
        creator_id: str,
        triggers: Iterable[TriggerConfig],
        *,
        self_logins: Iterable[str] = (),
    ) -> None:
        self.creator_id = creator_id
        self.triggers: tuple[TriggerConfig, ...] = tuple(t for t in triggers if t.enabled)
        self.self_logins: frozenset[str] = frozenset(login.lower() for login in self_logins)
        # name -> [(index, trigger)]: several triggers may share a command name.
        self._commands_exact: dict[str, list[tuple[int, TriggerConfig]]] = {}
        self._commands_folded: dict[str, list[tuple[int, TriggerConfig]]] = {}
        initials: set[str] = set()
        scans: list[_Scan] = []
        needles: dict[str, list[int]] = {}  # literal -> scans that need it (any of theirs)
        always: list[int] = []  # scans without a literal pre-check
        non_ascii: list[int] = []  # scans whose pre-check is only valid for ASCII text
        for index, trigger in enumerate(self.triggers):
            names = (trigger.pattern, *trigger.aliases)
            if trigger.kind == "command":
                for name in names:
                    if trigger.case_sensitive:
                        bucket = self._commands_exact.setdefault(name, [])
                        initials.add(name[0])
                    else:
                        bucket = self._commands_folded.setdefault(name.lower(), [])
                        initials.update((name[0], name[0].lower(), name[0].upper()))
                    if all(i != index for i, _ in bucket):
                        bucket.append((index, trigger))
                continue
            position = len(scans)
            if trigger.kind == "keyword":
                if trigger.case_sensitive:
                    verifier = _word_regex(names)
                    non_ascii.append(position)
                else:
                    verifier = _word_regex(name.casefold() for name in names)
                scans.append(
                    _Scan(index, trigger, False, verifier, not trigger.case_sensitive, False)
                )
                literals: frozenset[str] | None = frozenset(n.casefold() for n in names)
            else:
                compiled = trigger.regex
                if compiled is None:  # built without validation: compile it the same way
                    flags = 0 if trigger.case_sensitive else re.IGNORECASE
                    compiled = re.compile(trigger.pattern, flags)
                scans.append(
                    _Scan(index, trigger, True, compiled, False, bool(compiled.groupindex))
                )
                literals = required_literals(compiled)
                if literals is not None:
                    non_ascii.append(position)
            if literals is None:
                always.append(position)
            else:
                for literal in literals:
                    needles.setdefault(literal, []).append(position)
        self._command_initials = frozenset(initials)
        self._scans = tuple(scans)
        self._always = tuple(always)
        self._non_ascii = frozenset(non_ascii)
        # Longest first: at any position the alternation then takes the longest literal.
        ordered = sorted(needles, key=len, reverse=True)
        alternation = "|".join(map(re.escape, ordered))
        # One search answers "does any literal occur?"; most chat lines stop there. On a hit,
        # the search resumes one character after each hit's start, so it stops at every
        # position where a literal starts and names the longest one there. A shorter literal
        # starting at the same position is contained in it, so each literal's owners include
        # those of every literal it contains: nothing is missed.
        self._gate = re.compile(alternation) if ordered else None
        self._owners: dict[str, tuple[int, ...]] = {
            literal: tuple(
                sorted({p for other, ps in needles.items() if other in literal for p in ps})
            )
            for literal in ordered
        }

    @classmethod
    def from_config(
        cls, creator: CreatorConfig, *, self_logins: Iterable[str] = ()
    ) -> TriggerRules:
        """Compile `creator`'s enabled triggers; messages from `self_logins` will be ignored."""
        return cls(creator.id, creator.triggers, self_logins=self_logins)

    def is_self(self, event: ChatEvent) -> bool:
        """Whether the message comes from one of the bot's own logins (never acted upon)."""
        return bool(self.self_logins) and event.login.lower() in self.self_logins

    def match(self, event: ChatEvent) -> list[Match]:
        """The triggers `event` matches, in configuration order (empty for the bot's own lines).

        Permissions and cooldowns are not looked at here (see `evaluate`).
        """
        if self.self_logins and event.login.lower() in self.self_logins:
            return []
        return self.match_unchecked(event)

    def match_unchecked(self, event: ChatEvent) -> list[Match]:
        """`match` without the bot's own logins check (the caller did it)."""
        text = event.text
        found: list[Match] = []
        if self._command_initials:
            self._match_command(event, text, found)
        if self._scans:
            self._match_scans(text, found)
        if len(found) > 1:
            found.sort(key=_by_index)
        return found

    def _match_scans(self, text: str, found: list[Match]) -> None:
        folded = text.casefold()
        gate = self._gate
        order: Iterable[int] = self._always
        if gate is not None:
            hit = gate.search(folded)
            if hit is not None:
                # Visit every position where some literal starts (the alternation is cheap to
                # resume); a line dense with literals just runs every pre-checked scan.
                owners = self._owners
                order = owners[hit.group()]  # sorted already: the common single-hit case
                hit = gate.search(folded, hit.start() + 1)
                if hit is not None:
                    positions = set(order)
                    for _ in range(_MAX_GATE_HITS):
                        positions.update(owners[hit.group()])
                        hit = gate.search(folded, hit.start() + 1)
                        if hit is None:
                            break
                    else:
                        positions.update(range(len(self._scans)))
                    order = sorted(positions)
                if self._always:
                    order = sorted({*order, *self._always})
        if not text.isascii() and self._non_ascii:
            order = sorted({*order, *self._non_ascii})
        scans = self._scans
        for position in order:
            scan = scans[position]
            hit = scan.verifier.search(folded if scan.on_folded else text)
            if hit is None:
                continue
            if scan.is_regex:
                found.append(
                    Match(
                        scan.trigger,
                        scan.index,
                        hit.groups(""),
                        hit.group(0),
                        hit.groups(),
                        hit.groupdict() if scan.named else _EMPTY_NAMED,
                    )
                )
            else:
                found.append(Match(scan.trigger, scan.index, alias=hit.group(0)))

    def _match_command(self, event: ChatEvent, text: str, found: list[Match]) -> None:
        stripped = text.lstrip()
        if not stripped:
            return
        if stripped[0] == "@" and event.reply_parent is not None:
            # Twitch prefixes a reply with "@login "; the command follows it.
            parts = stripped.split(None, 1)
            stripped = parts[1] if len(parts) > 1 else ""
            if not stripped:
                return
        if stripped[0] not in self._command_initials:
            return
        if not stripped.isascii() and _INVISIBLE.search(stripped) is not None:
            stripped = _INVISIBLE.sub("", stripped).lstrip()
            if not stripped:
                return
        parts = stripped.split(None, 1)
        word = parts[0]
        hits: list[tuple[int, TriggerConfig]] = []
        exact = self._commands_exact.get(word)
        if exact:
            hits.extend(exact)
        folded = self._commands_folded.get(word.lower())
        if folded:
            hits.extend(folded)
        if not hits:
            return
        rest = parts[1].strip() if len(parts) > 1 else ""
        args = tuple(rest.split())
        for index, trigger in hits:
            found.append(Match(trigger=trigger, index=index, args=args, raw_args=rest, alias=word))
