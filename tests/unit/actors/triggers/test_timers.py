"""`TimerSchedule` on its own: when timers are due, and which chat lines count for them."""

from __future__ import annotations

from actors.triggers.timers import LIVE_DOMAIN, REPLAY_DOMAIN, TimerSchedule
from config.models import CreatorConfig, TimerConfig

MINUTE = 60.0


def schedule(*timers: TimerConfig) -> TimerSchedule:
    return TimerSchedule(CreatorConfig(id="daniel", display_name="Daniel", timers=timers))


def test_a_timer_counts_only_the_lines_of_its_own_platforms_in_its_domain() -> None:
    kick_only = TimerConfig(
        id="kick", messages=("k",), interval_minutes=1, min_chat_lines=2, platforms=("kick",)
    )
    everywhere = TimerConfig(
        id="all",
        messages=("a",),
        interval_minutes=1,
        min_chat_lines=2,
        platforms=("kick", "twitch", "replay"),
    )
    timers = schedule(kick_only, everywhere)
    assert timers.due(LIVE_DOMAIN, 0.0, {}) == []  # the first post comes one interval in
    assert timers.due(REPLAY_DOMAIN, 0.0, {}) == []
    # Lines before the first post count too; replayed lines are another domain's.
    timers.on_chat("twitch")
    timers.on_chat("replay")
    timers.on_chat("replay")
    timers.on_chat("kick")
    assert [p.timer.id for p in timers.due(LIVE_DOMAIN, MINUTE, {})] == ["all"]
    assert [p.timer.id for p in timers.due(REPLAY_DOMAIN, MINUTE, {})] == ["all"]
    timers.on_chat("kick")
    # Due for a while, and now two kick lines: the kick timer posts at this line.
    assert [p.timer.id for p in timers.due(LIVE_DOMAIN, MINUTE + 5, {})] == ["kick"]
    # Only lines since its last post count for the next one, and only its platforms' lines.
    timers.on_chat("kick")
    [post] = timers.due(LIVE_DOMAIN, 2 * MINUTE + 6, {})  # the kick timer has seen one
    assert post.timer.id == "all" and post.platforms == ("kick", "twitch")
    timers.on_chat("twitch")
    timers.on_chat("replay")
    assert timers.due(LIVE_DOMAIN, 2 * MINUTE + 7, {}) == []
    timers.on_chat("kick")
    assert [p.timer.id for p in timers.due(LIVE_DOMAIN, 2 * MINUTE + 8, {})] == ["kick"]


def test_a_timer_is_not_looked_at_again_before_its_interval_ends() -> None:
    timer = TimerConfig(id="t", messages=("one", "two"), interval_minutes=2, platforms=("twitch",))
    timers = schedule(timer)
    assert timers.due(LIVE_DOMAIN, 100.0, {}) == []
    assert timers.due(LIVE_DOMAIN, 100.0 + 2 * MINUTE - 0.001, {}) == []
    [first] = timers.due(LIVE_DOMAIN, 100.0 + 2 * MINUTE, {})
    assert (first.message_index, first.next_index) == (0, 1)
    assert timers.due(LIVE_DOMAIN, 100.0 + 3 * MINUTE, {}) == []
    [second] = timers.due(LIVE_DOMAIN, 100.0 + 4 * MINUTE, {})
    assert second.message_index == 1
    # A stream known to be offline gets no post; the timer stays due until it may post.
    assert timers.due(LIVE_DOMAIN, 100.0 + 6 * MINUTE, {"twitch": False}) == []
