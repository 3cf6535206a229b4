"""`ReplayChat`: plays a JSONL chat log (the runtime's chat log format) at a speed factor.

It is a platform like the others: its events go to the creator's trigger engine, and replies
come back to it (they are recorded and counted, never sent anywhere). The gaps between the
recorded `sent_at` times are kept, divided by `speed`, and each event keeps its recorded
`sent_at`: the trigger engine runs cooldowns, timers and points on the event's time for this
platform (the recorded clock), so a replay at `speed = 10` gives the replies the live stream
would have had, and two replays of the same log write the same exports. With `loop`, each
further pass is shifted by the log's span (plus a second) so the clock never runs backwards.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import trio

from actors import Actor, ActorRef
from actors.chat import Moderate, SendChat
from actors.events import ChatEvent
from config.chatlog import ChatlogError, is_skippable, parse_chatlog_line

# Longest pause between two replayed lines, so a log with a gap of hours stays watchable.
MAX_GAP_SECONDS = 5.0


@attrs.frozen(kw_only=True)
class RecordedReplies:
    """Ask a `ReplayChat` for the replies it recorded (newest 100), oldest first."""


class ReplayChat(Actor):
    """Reads `file` and sends each line to `triggers` as a `ChatEvent` (platform "replay")."""

    def __init__(
        self,
        *,
        creator_id: str,
        file: Path,
        triggers: Callable[[], ActorRef],
        speed: float = 1.0,
        loop: bool = False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.creator_id = creator_id
        self.file = file
        self._triggers = triggers
        self.speed = speed
        self.loop = loop
        self._clock = clock
        self.messages = 0
        self.rejected = 0
        self.replies: deque[SendChat] = deque(maxlen=100)
        self.reply_count = 0
        # The replay platform cannot moderate: a filter's delete or timeout is recorded only.
        self.moderations: deque[Moderate] = deque(maxlen=100)
        self.moderation_count = 0
        self.last_event_at: datetime | None = None
        self.status = "starting"
        self.finished = False

    async def on_start(self) -> None:
        # Fail at start (a crash the supervisor sees) rather than in the middle of a replay.
        self._lines = await trio.to_thread.run_sync(self._read)
        self.status = "running"

    def _read(self) -> list[str]:
        with open(self.file, encoding="utf-8") as f:
            return f.read().splitlines()

    async def run(self) -> None:
        target = self._triggers()
        shift = timedelta(0)
        while True:
            previous: datetime | None = None
            first: datetime | None = None
            for number, line in enumerate(self._lines, start=1):
                if is_skippable(line):
                    continue
                try:
                    fields = parse_chatlog_line(line)
                except ChatlogError as exc:
                    self.rejected += 1
                    self.log.warning("replay line rejected", line=number, error=str(exc))
                    continue
                recorded = fields["sent_at"]
                if previous is not None:
                    gap = (recorded - previous).total_seconds() / self.speed
                    await trio.sleep(min(max(gap, 0.0), MAX_GAP_SECONDS))
                previous = recorded
                first = first or recorded
                at = recorded + shift
                fields.update(platform="replay", sent_at=at)
                await target.send(ChatEvent(**fields))
                self.messages += 1
                self.last_event_at = at
            if not self.loop:
                break
            if first is not None and previous is not None:
                shift += previous - first + timedelta(seconds=1)
        self.status = "inactive"
        self.finished = True
        self.log.info("replay finished", messages=self.messages, rejected=self.rejected)
        await trio.sleep_forever()  # stay up: the creator's replies still land here

    async def handle(self, message: Any) -> Any:
        if isinstance(message, SendChat):
            self.replies.append(message)
            self.reply_count += 1
            self.log.info("reply", text=message.text, trigger=message.trigger_id)
            return None
        if isinstance(message, Moderate):
            self.moderations.append(message)
            self.moderation_count += 1
            self.log.info("moderation recorded", action=message.action, filter=message.filter_id)
            return None
        if isinstance(message, RecordedReplies):
            return tuple(self.replies)
        raise TypeError(f"ReplayChat takes SendChat, got {type(message).__name__}")

    def snapshot(self) -> dict[str, Any]:
        return {
            "platform": "replay",
            "creator_id": self.creator_id,
            "status": self.status,
            "enabled": True,
            "messages": self.messages,
            "actions": self.reply_count,
            "moderations": self.moderation_count,
            "errors": self.rejected,
            "last_event_at": self.last_event_at,
            "last_heartbeat": self._clock(),
        }
