"""`ModerationQueue`: requests carried out in order beside chat, every outcome counted and every
failure logged as a sentence; a full queue and stale requests drop with a count; nothing the
platform answers stops the queue. Under trio's MockClock (autojump)."""

from __future__ import annotations

import httpx
import pytest
import trio
from structlog.testing import capture_logs

from actors.accounts import NeedsLogin
from actors.chat import Moderate
from actors.moderation import (
    ModerationFailed,
    ModerationQueue,
    ModerationRefused,
    ModerationStatistics,
)


def request(number: int) -> Moderate:
    return Moderate(
        action="delete", message_id=f"m{number}", user_id="7", login="spammer", filter_id="links"
    )


async def test_each_outcome_is_counted_and_the_queue_goes_on(autojump_clock, nursery):
    queue = ModerationQueue(platform="twitch")
    answers = iter(
        [
            None,
            ModerationRefused("needs the scope moderator:manage:chat_messages"),
            ModerationFailed("HTTP 500"),
            httpx.ConnectError("refused"),
            NeedsLogin("daniel", "refresh token revoked"),
            ValueError("not a valid id"),
            None,
        ]
    )
    done: list[str | None] = []

    async def execute(moderate: Moderate) -> None:
        done.append(moderate.message_id)
        answer = next(answers)
        if answer is not None:
            raise answer

    nursery.start_soon(queue.serve, execute)
    with capture_logs() as logs:
        for number in range(7):
            assert queue.offer(request(number))
        with trio.fail_after(5):
            while len(done) < 7 or len(queue):  # noqa: ASYNC110 - test polling
                await trio.sleep(0.01)
    assert done == [f"m{n}" for n in range(7)]  # in order
    stats = queue.statistics()
    assert (stats.done, stats.refused, stats.failed, stats.dropped) == (2, 1, 4, 0)
    assert stats.last_error is not None and "not a valid id" in stats.last_error
    sentences = [e["event"] for e in logs if e.get("outcome") in ("refused", "failed")]
    assert any("moderator:manage:chat_messages" in s for s in sentences)
    assert any("could not be reached (ConnectError)" in s for s in sentences)
    assert any("python -m runtime login daniel" in s for s in sentences)


async def test_a_full_queue_drops_and_a_stale_request_is_not_carried_out(autojump_clock, nursery):
    queue = ModerationQueue(platform="kick", capacity=2, max_age=30.0)
    assert queue.offer(request(1)) and queue.offer(request(2))
    assert not queue.offer(request(3))  # full: dropped, counted
    assert queue.counts["dropped"] == 1
    await trio.sleep(31)  # nobody served them in time
    carried: list[Moderate] = []

    async def execute(moderate: Moderate) -> None:
        carried.append(moderate)

    nursery.start_soon(queue.serve, execute)
    await trio.sleep(1)
    assert carried == []
    assert queue.statistics().dropped == 3
    assert "waited more than 30 s" in (queue.last_error or "")


def test_unsupported_is_counted_with_its_sentence() -> None:
    queue = ModerationQueue(platform="rumble")
    queue.unsupported(request(1), "Rumble has no moderation API")
    assert queue.statistics() == ModerationStatistics(
        queued=0,
        done=0,
        refused=0,
        failed=0,
        dropped=0,
        unsupported=1,
        last_error="Rumble has no moderation API",
    )
    with pytest.raises(ValueError):
        ModerationQueue(platform="x", capacity=0)
