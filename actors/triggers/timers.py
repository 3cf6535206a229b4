"""Timers: messages posted every `interval_minutes`, rotated, when chat is not quiet. Pure code.

`TimerSchedule` keeps, per timer and clock domain (`"replay"`: the recorded clock of replayed
chat; `"live"`: the wall clock of every other platform), when it is next due and how many chat
lines it has seen since its last post. `due(domain, now, live)` returns the posts to make: a
timer posts once it is due and has seen `min_chat_lines` lines, on each of its platforms of
that domain whose stream is live or whose live state is unknown.
"""

from __future__ import annotations

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

    def __init__(self, creator: CreatorConfig) -> None:
        sources = tuple(creator.sources())
        self.timers = tuple(t for t in creator.timers if t.enabled)
        self._platforms = {t.id: (t.platforms or sources) for t in self.timers}
        self._due: dict[tuple[str, str], float] = {}
        self._lines: dict[tuple[str, str], int] = {}
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
        domain = domain_of(platform)
        for timer in self.timers:
            if platform in self._platforms[timer.id]:
                key = (timer.id, domain)
                self._lines[key] = self._lines.get(key, 0) + 1

    def due(self, domain: str, now: float, live: dict[str, bool]) -> list[TimerPost]:
        """The posts due in `domain` at `now` (each starts its timer's next interval)."""
        posts: list[TimerPost] = []
        for timer in self.timers:
            key = (timer.id, domain)
            interval = timer.interval_minutes * 60.0
            due = self._due.get(key)
            if due is None:
                self._due[key] = now + interval  # the first post comes one interval in
                continue
            if now < due or self._lines.get(key, 0) < timer.min_chat_lines:
                continue
            platforms = tuple(
                p for p in self._platforms[timer.id] if domain_of(p) == domain and live.get(p, True)
            )
            if not platforms:
                continue
            index = self.next_index.get(timer.id, 0) % len(timer.messages)
            following = (index + 1) % len(timer.messages)
            self.next_index[timer.id] = following
            self._due[key] = now + interval
            self._lines[key] = 0
            posts.append(
                TimerPost(
                    timer=timer, message_index=index, next_index=following, platforms=platforms
                )
            )
        return posts
