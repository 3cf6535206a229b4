"""Timers: messages posted every `interval_minutes`, rotated, when chat is not quiet. Pure code.

`TimerSchedule` keeps, per timer and clock domain (`"replay"`: the recorded clock of replayed
chat; `"live"`: the wall clock of every other platform), when it is next due and how many chat
lines it has seen since its last post. `due(domain, now, live)` returns the posts to make: a
timer posts once it is due and has seen `min_chat_lines` lines, on each of its platforms of
that domain whose stream is live or whose live state is unknown.
"""

from __future__ import annotations

import math

import attrs

from config.models import CreatorConfig, TimerConfig

REPLAY_DOMAIN = "replay"
LIVE_DOMAIN = "live"


def domain_of(platform: str) -> str:
    """The clock domain of a platform."""
    return REPLAY_DOMAIN if platform == "replay" else LIVE_DOMAIN


@attrs.frozen(kw_only=True)
class TimerPost:
    """One post a timer makes: `message_index` into its messages, on `platforms`."""

    timer: TimerConfig
    message_index: int
    next_index: int
    platforms: tuple[str, ...]


class TimerSchedule:
    """The creator's enabled timers and their state per clock domain."""

    # In slots: one of these per creator (a thousand), each dict of its own ~300 bytes.
    __slots__ = (
        "_counted_at",
        "_due",
        "_earliest",
        "_platform_lines",
        "_platforms",
        "next_index",
        "timers",
    )

    def __init__(self, creator: CreatorConfig) -> None:
        sources = tuple(creator.sources())
        self.timers = tuple(t for t in creator.timers if t.enabled)
        self._platforms = {t.id: (t.platforms or sources) for t in self.timers}
        self._due: dict[tuple[str, str], float] = {}
        # Chat lines per platform since the start, and per timer and domain the count its
        # platforms of that domain had at its last post: a line costs one count, whatever
        # the number of timers (the lines since a post are summed only when it is due).
        self._platform_lines: dict[str, int] = {}
        self._counted_at: dict[tuple[str, str], int] = {}
        # The earliest time any timer of a domain is due (absent: not known yet), so a line
        # of a domain with nothing due looks at no timer.
        self._earliest: dict[str, float] = {}
        self.next_index: dict[str, int] = {}

    def __bool__(self) -> bool:
        return bool(self.timers)

    def restore(self, next_messages: dict[str, int]) -> None:
        """Continue each timer's rotation where it stopped."""
        for timer in self.timers:
            index = next_messages.get(timer.id, 0)
            self.next_index[timer.id] = index % len(timer.messages)

    def on_chat(self, platform: str) -> None:
        """Count a chat line for the timers posting on `platform`."""
        lines = self._platform_lines
        lines[platform] = lines.get(platform, 0) + 1

    def _lines_of(self, timer_id: str, domain: str) -> int:
        """Chat lines on the timer's platforms of `domain` since the start."""
        lines = self._platform_lines
        return sum(lines.get(p, 0) for p in self._platforms[timer_id] if domain_of(p) == domain)

    def due(self, domain: str, now: float, live: dict[str, bool]) -> list[TimerPost]:
        """The posts due in `domain` at `now` (each starts its timer's next interval)."""
        if now < self._earliest.get(domain, -math.inf):
            return []  # no timer of this domain is due yet (the usual case, per chat line)
        posts: list[TimerPost] = []
        earliest = math.inf
        for timer in self.timers:
            key = (timer.id, domain)
            interval = timer.interval_minutes * 60.0
            due = self._due.get(key)
            if due is None:
                self._due[key] = due = now + interval  # the first post comes one interval in
            elif now >= due and self._ready(timer, key, domain):
                platforms = tuple(
                    p
                    for p in self._platforms[timer.id]
                    if domain_of(p) == domain and live.get(p, True)
                )
                if platforms:
                    index = self.next_index.get(timer.id, 0) % len(timer.messages)
                    following = (index + 1) % len(timer.messages)
                    self.next_index[timer.id] = following
                    self._due[key] = due = now + interval
                    self._counted_at[key] = self._lines_of(timer.id, domain)
                    posts.append(
                        TimerPost(
                            timer=timer,
                            message_index=index,
                            next_index=following,
                            platforms=platforms,
                        )
                    )
            earliest = min(earliest, due)
        self._earliest[domain] = earliest
        return posts

    def _ready(self, timer: TimerConfig, key: tuple[str, str], domain: str) -> bool:
        """Whether the timer has seen its `min_chat_lines` in `domain` since its last post."""
        if timer.min_chat_lines <= 0:
            return True
        seen = self._lines_of(timer.id, domain) - self._counted_at.get(key, 0)
        return seen >= timer.min_chat_lines
