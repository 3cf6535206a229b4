"""`Outbox`: bounded, ordered, stale replies dropped, every drop counted by reason."""

from __future__ import annotations

import trio

from actors.chat import SendChat
from actors.connection import Outbox


async def test_a_full_outbox_drops_with_a_counted_reason(autojump_clock):
    box = Outbox(platform="twitch", capacity=2)
    assert box.offer(SendChat(text="a"))
    assert box.offer(SendChat(text="b"))
    assert not box.offer(SendChat(text="c", trigger_id="t1"))
    stats = box.statistics()
    assert stats.queued == 2
    assert stats.dropped == 1
    assert stats.reasons() == {"queue_full": 1}


async def test_replies_come_out_in_order_and_stay_until_done(autojump_clock):
    box = Outbox(platform="kick")
    box.offer(SendChat(text="first"))
    box.offer(SendChat(text="second"))
    assert (await box.peek()).text == "first"
    assert (await box.peek()).text == "first"  # not removed until done
    assert box.done().text == "first"
    assert (await box.peek()).text == "second"


async def test_a_reply_older_than_max_age_is_dropped_as_stale(autojump_clock):
    box = Outbox(platform="youtube", max_age=60.0)
    box.offer(SendChat(text="old", trigger_id="t"))
    await trio.sleep(61)
    box.offer(SendChat(text="new"))
    assert (await box.peek()).text == "new"
    assert box.statistics().reasons() == {"stale": 1}


async def test_peek_waits_for_a_reply(autojump_clock, nursery):
    box = Outbox(platform="twitch")
    got: list[str] = []

    async def reader() -> None:
        got.append((await box.peek()).text)

    nursery.start_soon(reader)
    await trio.sleep(5)
    assert got == []
    box.offer(SendChat(text="hello"))
    await trio.testing.wait_all_tasks_blocked()
    assert got == ["hello"]
