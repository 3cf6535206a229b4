"""Chat filters: which configured filter, if any, a chat message breaks. Pure code, no I/O.

`ChatFilters.from_config(creator)` compiles the creator's `[[creators.filters]]` once;
`check(event, now)` returns the first enabled filter (in configuration order) the message
breaks, skipping filters whose `exempt` roles the chatter holds. Links are judged by their
domain: a domain in `allow`, or below one (`clips.twitch.tv` under `twitch.tv`), passes, and
a chatter a moderator permitted (`!permit @user`) may post links until the permit ends. The
times are on the engine's clock for the event (see `TriggerEngine._now`).
"""

from __future__ import annotations

import re
from collections import Counter

import attrs

from actors.events import ChatEvent
from config.models import CreatorConfig, FilterConfig

# A link: a scheme, or "www.", or a dotted name ending in a top-level domain chat spam uses.
_LINK = re.compile(
    r"(?:https?://|www\.)(?P<host>[^\s/:?#]+)"
    r"|(?<![\w@.-])(?P<bare>(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+"
    r"(?:com|net|org|io|gg|tv|ly|me|co|xyz|info|biz|ru|de|uk|us|app|dev|link|site|online|live"
    r"|stream|shop|to|be|fm|cc|ws|gl|ai|club|top|store|page|click))(?![\w-])",
    re.IGNORECASE,
)
PERMIT_COMMAND = "!permit"


@attrs.frozen(kw_only=True)
class FilterHit:
    """A message a filter caught: the filter and why, in words."""

    filter: FilterConfig
    reason: str


def link_domains(text: str) -> list[str]:
    """The domains of the links in `text`, lower case."""
    if "." not in text and "://" not in text:
        return []  # every link has one or the other; most chat lines have neither (and the
        # pattern is slow to rule out)
    return [(m.group("host") or m.group("bare")).lower().rstrip(".") for m in _LINK.finditer(text)]


def _allowed(domain: str, allow: tuple[str, ...]) -> bool:
    return any(domain == a or domain.endswith("." + a) for a in allow)


class ChatFilters:
    """A creator's compiled filters and the link permits moderators granted."""

    # In slots: one of these per creator (a thousand), each dict of its own ~300 bytes.
    __slots__ = (
        "_permits",
        "_words",
        "filters",
        "permit_seconds",
    )

    def __init__(self, filters: tuple[FilterConfig, ...]) -> None:
        self.filters = tuple(f for f in filters if f.enabled)
        self._words = {
            f.id: re.compile("|".join(rf"(?<!\w){re.escape(w.casefold())}(?!\w)" for w in f.words))
            for f in self.filters
            if f.kind == "words" and f.words
        }
        self._permits: dict[tuple[str, str], float] = {}
        links = [f for f in self.filters if f.kind == "links"]
        self.permit_seconds = links[0].permit_seconds if links else None

    @classmethod
    def from_config(cls, creator: CreatorConfig) -> ChatFilters:
        return cls(creator.filters)

    def __bool__(self) -> bool:
        return bool(self.filters)

    def permit(self, platform: str, login: str, now: float) -> float:
        """Let `login` post links on `platform` for the links filter's `permit_seconds`;
        returns the permit's length in seconds."""
        seconds = self.permit_seconds or 0.0
        if len(self._permits) > 10_000:  # bounded: drop the ended permits
            self._permits = {k: v for k, v in self._permits.items() if v > now}
        self._permits[(platform, login.lower())] = now + seconds
        return seconds

    def check(self, event: ChatEvent, now: float) -> FilterHit | None:
        """The first filter `event` breaks, or None."""
        text = event.text
        for rule in self.filters:
            if not event.roles.isdisjoint(rule.exempt):
                continue
            reason = self._breaks(rule, event, text, now)
            if reason is not None:
                return FilterHit(filter=rule, reason=reason)
        return None

    def _breaks(self, rule: FilterConfig, event: ChatEvent, text: str, now: float) -> str | None:
        kind = rule.kind
        if kind == "links":
            if self._permits.get((event.platform, event.login.lower()), 0.0) > now:
                return None
            for domain in link_domains(text):
                if not _allowed(domain, rule.allow):
                    return f"link to {domain}"
            return None
        if kind == "length":
            return f"{len(text)} characters" if len(text) > rule.max_length else None
        if kind == "caps":
            if len(text) < rule.min_length:
                return None
            # Counted without a Python loop per character (this runs for every line).
            letters = "".join(filter(str.isalpha, text))
            upper = sum(map(str.isupper, letters))
            return "too many capitals" if letters and upper / len(letters) >= rule.ratio else None
        if kind == "symbols":
            if len(text) < rule.min_length:
                return None
            symbols = sum(1 for c in text if not (c.isalnum() or c.isspace()))
            return "too many symbols" if symbols / len(text) >= rule.ratio else None
        if kind == "repetition":
            run, longest, previous = 0, 0, None
            for char in text:
                run = run + 1 if char == previous else 1
                previous = char
                longest = max(longest, run)
            words = Counter(text.casefold().split())
            most = max(words.values(), default=0)
            return "repetition" if max(longest, most) >= rule.max_repeats else None
        # words
        folded = text.casefold()
        pattern = self._words.get(rule.id)
        if pattern is not None and pattern.search(folded):
            return "a blocked word"
        if any(regex.search(text) for regex in rule.compiled):
            return "a blocked pattern"
        return None
