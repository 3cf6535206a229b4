"""The replay runs on the recorded clock: cooldowns judge replayed chat by its recorded time."""

from __future__ import annotations

from config.models import CreatorConfig, TriggerConfig
from tests.unit.actors.triggers.replayed import chat_line, start_replay

GREETER = CreatorConfig(
    id="daniel",
    display_name="Daniel",
    triggers=(
        TriggerConfig(
            id="hello", pattern="hello", kind="keyword", response="hi {user}", cooldown_global=15
        ),
    ),
)


async def test_a_greeting_18_s_after_another_is_answered_at_speed_10(nursery, tmp_path):
    lines = [chat_line(1, 0, "hello"), chat_line(2, 18, "hello there")]
    replayed = await start_replay(nursery, tmp_path, GREETER, lines, speed=10)
    assert await replayed.replies() == ["hi user1", "hi user2"]
    await replayed.root.stop()


async def test_a_greeting_10_s_after_another_is_still_cooling_down_at_speed_10(nursery, tmp_path):
    lines = [chat_line(1, 0, "hello"), chat_line(2, 10, "hello there")]
    replayed = await start_replay(nursery, tmp_path, GREETER, lines, speed=10)
    assert await replayed.replies() == ["hi user1"]
    await replayed.root.stop()
