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


class _TimerState:
    """One enabled timer: its platforms, its next message, and per clock domain (a list of
    two: `_DOMAINS`' order) when it is next due (None: not yet known) and the chat lines its
    platforms of that domain had at its last post."""

    __slots__ = ("counted_at", "due", "next_index", "platforms", "timer")

    def __init__(self, timer: TimerConfig, platforms: tuple[str, ...]) -> None:
        self.timer = timer
        self.platforms = platforms
        self.next_index = 0
        self.due: list[float | None] = [None, None]
        self.counted_at = [0, 0]


#: The clock domains, in the order of `_TimerState`'s lists.
_DOMAINS = {REPLAY_DOMAIN: 0, LIVE_DOMAIN: 1}


class TimerSchedule:
    """The creator's enabled timers and their state per clock domain."""

    # In slots, and each timer's state in one object: there is a schedule per creator (a
    # thousand), and six dicts (one per kind of state) cost about 1.4 KiB per creator.
    __slots__ = ("_earliest", "_platform_lines", "_states", "timers")

    def __init__(self, creator: CreatorConfig) -> None:
        sources = tuple(creator.sources())
        self.timers = tuple(t for t in creator.timers if t.enabled)
        self._states = tuple(_TimerState(t, t.platforms or sources) for t in self.timers)
        # Chat lines per platform since the start; a timer's state has the count its
        # platforms of a domain had at its last post: a line costs one count, whatever the
        # number of timers (the lines since a post are summed only when it is due).
        self._platform_lines: dict[str, int] = {}
        # The earliest time any timer of a domain is due (-inf: not known yet), so a line of
        # a domain with nothing due looks at no timer.
        self._earliest = [-math.inf, -math.inf]

    def __bool__(self) -> bool:
        return bool(self.timers)

    def restore(self, next_messages: dict[str, int]) -> None:
        """Continue each timer's rotation where it stopped."""
        for state in self._states:
            index = next_messages.get(state.timer.id, 0)
            state.next_index = index % len(state.timer.messages)

    def on_chat(self, platform: str) -> None:
        """Count a chat line for the timers posting on `platform`."""
        lines = self._platform_lines
        lines[platform] = lines.get(platform, 0) + 1

    def _lines_of(self, state: _TimerState, domain: str) -> int:
        """Chat lines on the timer's platforms of `domain` since the start."""
        lines = self._platform_lines
        return sum(lines.get(p, 0) for p in state.platforms if domain_of(p) == domain)

    def due(self, domain: str, now: float, live: dict[str, bool]) -> list[TimerPost]:
        """The posts due in `domain` at `now` (each starts its timer's next interval)."""
        slot = _DOMAINS[domain]
        if now < self._earliest[slot]:
            return []  # no timer of this domain is due yet (the usual case, per chat line)
        posts: list[TimerPost] = []
        earliest = math.inf
        for state in self._states:
            timer = state.timer
            interval = timer.interval_minutes * 60.0
            due = state.due[slot]
            if due is None:
                state.due[slot] = due = now + interval  # the first post comes one interval in
            elif now >= due and self._ready(state, slot, domain):
                platforms = tuple(
                    p for p in state.platforms if domain_of(p) == domain and live.get(p, True)
                )
                if platforms:
                    index = state.next_index % len(timer.messages)
                    following = (index + 1) % len(timer.messages)
                    state.next_index = following
                    state.due[slot] = due = now + interval
                    state.counted_at[slot] = self._lines_of(state, domain)
                    posts.append(
                        TimerPost(
                            timer=timer,
                            message_index=index,
                            next_index=following,
                            platforms=platforms,
                        )
                    )
            earliest = min(earliest, due)
        self._earliest[slot] = earliest
        return posts

    def _ready(self, state: _TimerState, slot: int, domain: str) -> bool:
        """Whether the timer has seen its `min_chat_lines` in `domain` since its last post."""
        if state.timer.min_chat_lines <= 0:
            return True
        seen = self._lines_of(state, domain) - state.counted_at[slot]
        return seen >= state.timer.min_chat_lines
