"""Compiled trigger rules: which of a creator's triggers a chat message matches.

Pure code, no I/O. `TriggerRules.from_config(creator)` does all the expensive work once;
`match(event)` is then cheap enough for every chat line:

- commands: one dictionary probe on the first word, only when the line starts with a
  character some command starts with;
- keywords: one `findall` of a combined pattern of the keywords (literal strings) over the
  case-folded line; only the keywords that occur are then verified with their whole-word
  regex. The pre-check is exact by construction (see `TriggerRules.__init__`) and checked
  against plain `re.search` by property tests;
- regexes: each trigger's own compiled regex searches every line (a combined alternation of
  all of them measured slower than the separate searches, and anything cleverer would need to
  take the patterns apart).

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

import copy
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from types import MappingProxyType
from typing import Any, NamedTuple

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
# Every character `str.isspace` (and so `str.lstrip`) knows: checked against all code points in
# tests/unit/actors/triggers/test_rules.py.
_WHITESPACE = frozenset(
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_MAX_COMBINED = 1024  # keyword combinations remembered (see TriggerRules._combine)


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
    # Shadows `tuple.index` on purpose (the field name is public API); type checkers flag any
    # NamedTuple field named like a tuple method.
    index: int  # type: ignore[assignment]
    args: tuple[str, ...] = ()
    raw_args: str = ""
    groups: tuple[str | None, ...] = ()
    named: Mapping[str, str | None] = _EMPTY_NAMED
    alias: str | None = None


def _word_regex(words: Iterable[str]) -> re.Pattern[str]:
    """An alternation of literal words that must not touch other word characters."""
    # Lookarounds instead of \b: \b misbehaves for keywords that start or end with a non-word
    # character (":)", "o7!"). The check before a word is a lookbehind placed after it
    # (`gg(?<!\wgg)`: no word character before the "gg" just matched) so that the pattern
    # starts with the literal, which lets the regex engine skip ahead to its occurrences
    # instead of trying every position: several times faster on a typical chat line.
    # Longest first so that "gg wp" wins over "gg" inside the alternation.
    alternatives = "|".join(
        rf"{word}(?<!\w{word})"
        for word in map(re.escape, sorted(set(words), key=len, reverse=True))
    )
    return re.compile(rf"(?:{alternatives})(?!\w)")


def _literal_pattern(literals: Iterable[str]) -> str:
    """A regex source that, at any position, matches the longest of `literals` starting there.

    The literals are laid out as a trie (`good (?:evening|morning)`): at each character the
    regex engine then tries one branch per distinct next character instead of every literal,
    which makes the gate search several times cheaper than a flat alternation. Longer
    continuations are tried before a literal may end, so the first match is the longest.
    """
    root: dict[str, dict] = {}
    for literal in literals:
        node = root
        for char in literal:
            node = node.setdefault(char, {})
        node[""] = {}  # a literal ends here

    def source(node: dict[str, dict]) -> str:
        ends = "" in node
        branches = [re.escape(char) + source(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        if len(branches) == 1 and not ends:
            return branches[0]
        return f"(?:{'|'.join(branches)})" + ("?" if ends else "")

    return source(root)


def _overlaps(found: str, literal: str) -> bool:
    """Whether `literal` can start inside an occurrence of `found` and end after it.

    The gate's `findall` reports non-overlapping occurrences, the longest at each position. A
    literal starting inside a reported one is either contained in it or starts with one of its
    proper suffixes (overlaps it): such a literal is looked for on its own.
    """
    return literal not in found and any(literal.startswith(found[k:]) for k in range(1, len(found)))


@attrs.frozen(eq=False)
class _Entry:
    """An enabled trigger as matching and `evaluate` use it, with what can be known up front.

    `verifier` is the keyword or regex search (None for commands), run on the case-folded text
    when `on_folded`; `named`: the regex has named groups. `required` is the permission level
    the trigger needs (0: everyone); `cooled`: the trigger has some cooldown.
    """

    index: int
    trigger: TriggerConfig
    verifier: re.Pattern[str] | None
    on_folded: bool
    named: bool
    required: int
    cooled: bool

    def match(self, detail: Any) -> Match:
        """The `Match` for what `TriggerRules._hits` found: a command's `(word, rest)`, else the
        verifier's `re.Match`."""
        trigger = self.trigger
        if self.verifier is None:
            word, rest = detail
            return Match(trigger, self.index, tuple(rest.split()), rest, alias=word)
        if trigger.kind == "keyword":
            return Match(trigger, self.index, alias=detail.group(0))
        return Match(
            trigger,
            self.index,
            detail.groups(""),
            detail.group(0),
            detail.groups(),
            detail.groupdict() if self.named else _EMPTY_NAMED,
        )


# A keyword or regex trigger as `TriggerRules._hits` scans it: its verifier's search, whether
# it runs on the case-folded line, and the entry.
_ScanEntry = tuple[Callable[[str], "re.Match[str] | None"], bool, _Entry]


def _by_index(hit: tuple[_Entry, Any]) -> int:
    return hit[0].index


class TriggerRules:
    """A creator's enabled triggers, compiled for matching. Build with `from_config`.

    Attributes: `creator_id`, `triggers` (enabled ones, in configuration order), `self_logins`
    (lower-cased logins whose messages are ignored: the bot's own accounts).
    """

    __slots__ = (
        "_always",
        "_combined",
        "_command_initials",
        "_command_leads",
        "_commands_exact",
        "_commands_folded",
        "_find_literals",
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
        # Event triggers fire on channel events, not chat (`actors.triggers.channel_events`).
        self.triggers: tuple[TriggerConfig, ...] = tuple(
            t for t in triggers if t.enabled and t.kind != "event"
        )
        self.self_logins: frozenset[str] = frozenset(login.lower() for login in self_logins)
        # name -> entries: several triggers may share a command name.
        self._commands_exact: dict[str, list[_Entry]] = {}
        self._commands_folded: dict[str, list[_Entry]] = {}
        initials: set[str] = set()
        scans: list[_ScanEntry] = []
        needles: dict[str, list[int]] = {}  # keyword (folded) -> scans that need it
        always: list[int] = []  # scans without a literal pre-check: the regexes
        for index, trigger in enumerate(self.triggers):
            assert trigger.pattern is not None  # TriggerConfig requires it for chat kinds
            names = (trigger.pattern, *trigger.aliases)
            make_entry = partial(
                _Entry,
                index=index,
                trigger=trigger,
                required=PERMISSION_LEVELS.get(trigger.permission, 0),
                cooled=(
                    trigger.cooldown_user > 0
                    or trigger.cooldown_trigger > 0
                    or trigger.cooldown_global > 0
                ),
            )
            if trigger.kind == "command":
                entry = make_entry(verifier=None, on_folded=False, named=False)
                for name in names:
                    if trigger.case_sensitive:
                        bucket = self._commands_exact.setdefault(name, [])
                        initials.add(name[0])
                    else:
                        bucket = self._commands_folded.setdefault(name.lower(), [])
                        initials.update((name[0], name[0].lower(), name[0].upper()))
                    if all(other is not entry for other in bucket):
                        bucket.append(entry)
                continue
            position = len(scans)
            if trigger.kind == "keyword":
                # A keyword in the line is a substring, and case folding maps a substring to a
                # substring: the folded keyword is in the folded line, whatever the case rule.
                if trigger.case_sensitive:
                    verifier = _word_regex(names)
                else:
                    verifier = _word_regex(name.casefold() for name in names)
                entry = make_entry(
                    verifier=verifier, on_folded=not trigger.case_sensitive, named=False
                )
                for literal in {n.casefold() for n in names}:
                    needles.setdefault(literal, []).append(position)
            else:
                if trigger.regex is not None:
                    verifier = trigger.regex
                else:  # built without validation: compile it the same way
                    flags = 0 if trigger.case_sensitive else re.IGNORECASE
                    verifier = re.compile(trigger.pattern, flags)
                entry = make_entry(
                    verifier=verifier, on_folded=False, named=bool(verifier.groupindex)
                )
                always.append(position)
            scans.append((verifier.search, entry.on_folded, entry))
        self._command_initials = frozenset(initials)
        # First characters of a line that may hold a command: leading spaces and a reply's
        # "@login " prefix come before the command's own first character.
        self._command_leads = frozenset(initials | {"@"} | _WHITESPACE) if initials else frozenset()
        self._scans = tuple(scans)
        self._always = tuple(always)
        # One `findall` of the keywords answers "does any keyword occur?"; most chat lines stop
        # there. Each keyword it reports (the longest at its position) contains every keyword
        # starting there: its owners are the scans needing any keyword it contains, plus those
        # that always run. A keyword overlapping the end of a reported one is looked for with
        # `in` (see `_overlaps`).
        self._find_literals = re.compile(_literal_pattern(needles)).findall if needles else None
        self._owners: dict[str, tuple[tuple[int, ...], tuple[str, ...]]] = {
            found: (
                tuple(
                    sorted(
                        {p for other, ps in needles.items() if other in found for p in ps}
                        | set(always)
                    )
                ),
                tuple(sorted(other for other in needles if _overlaps(found, other))),
            )
            for found in needles
        }
        self._combined: dict[tuple[str, ...], tuple[tuple[int, ...], tuple[str, ...]]] = {}

    @classmethod
    def from_config(
        cls, creator: CreatorConfig, *, self_logins: Iterable[str] = ()
    ) -> TriggerRules:
        """Compile `creator`'s enabled triggers; messages from `self_logins` will be ignored.

        Creators with equal triggers share one compilation (a thousand creators running the
        same example compile it once): the compiled parts are never changed after `__init__`,
        so each creator gets a shallow copy naming it.
        """
        template = _compiled(tuple(creator.triggers), frozenset(self_logins))
        if template.creator_id == creator.id:
            return template
        rules = copy.copy(template)
        rules.creator_id = creator.id
        return rules

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
        return [entry.match(detail) for entry, detail in self._hits(event)]

    def _hits(self, event: ChatEvent) -> list[tuple[_Entry, Any]]:
        """What `match_unchecked` finds, before any `Match` is built: `(entry, detail)` pairs in
        configuration order, `entry.match(detail)` giving the `Match`.

        Also used by `evaluate`, which builds a `Match` only for the triggers that fire (most
        matched triggers are blocked by a cooldown).
        """
        text = event.text
        found: list[tuple[_Entry, Any]] = []
        if self._scans:  # keywords and regexes (inline: this runs for every chat line)
            order: Iterable[int] = self._always
            find = self._find_literals
            folded = text
            if find is not None:
                folded = text.casefold()
                literals = find(folded)
                if literals:
                    if len(literals) == 1:
                        order, overlapping = self._owners[literals[0]]
                    else:
                        key = tuple(literals)
                        combined = self._combined.get(key)
                        if combined is None:
                            combined = self._combine(key)
                        order, overlapping = combined
                    for other in overlapping:
                        if other in folded:  # rare: `other` may hide in a reported literal
                            order = self._with_hidden(folded, literals)
                            break
            scans = self._scans
            for position in order:
                search, on_folded, entry = scans[position]
                hit = search(folded if on_folded else text)
                if hit is not None:
                    found.append((entry, hit))
        if text[:1] in self._command_leads:
            before = len(found)
            self._match_command(event, text, found)
            # Scan hits come out in order; command hits (from two buckets) need merging in.
            if len(found) > before and len(found) > 1:
                found.sort(key=_by_index)
        return found

    def _combine(self, literals: tuple[str, ...]) -> tuple[tuple[int, ...], tuple[str, ...]]:
        """`_owners` for several literals reported together, remembered: chat repeats the same
        few combinations ("gg wp")."""
        owners = self._owners
        distinct = set(literals)
        order = tuple(sorted({p for found in distinct for p in owners[found][0]}))
        overlapping = {other for found in distinct for other in owners[found][1]}
        combined = (order, tuple(sorted(overlapping - distinct)))
        if len(self._combined) >= _MAX_COMBINED:  # a line can bring a new combination: bound it
            self._combined.clear()
        self._combined[literals] = combined
        return combined

    def _with_hidden(self, folded: str, literals: list[str]) -> list[int]:
        """The scans to run when some literal overlapping a reported one is in `folded`."""
        owners = self._owners
        present = set(literals)
        present.update(
            [other for found in present for other in owners[found][1] if other in folded]
        )
        return sorted({p for literal in present for p in owners[literal][0]})

    def _match_command(self, event: ChatEvent, text: str, found: list[tuple[_Entry, Any]]) -> None:
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
        exact = self._commands_exact.get(word)
        folded = self._commands_folded.get(word.lower())
        if not (exact or folded):
            return
        detail = (word, parts[1].strip() if len(parts) > 1 else "")
        for entries in (exact, folded):
            if entries:
                for entry in entries:
                    found.append((entry, detail))


@functools.lru_cache(maxsize=256)
def _compiled(triggers: tuple[TriggerConfig, ...], self_logins: frozenset[str]) -> TriggerRules:
    return TriggerRules("", triggers, self_logins=self_logins)
