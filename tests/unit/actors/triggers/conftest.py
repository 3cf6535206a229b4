"""Factories for the trigger tests: chat events and compiled rules built from trigger configs."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import pytest

from actors.events import ChatEvent
from actors.triggers import TriggerRules
from config.models import CreatorConfig, ScoreboardConfig, TallyConfig, TriggerConfig

SENT_AT = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)


def make_event(text: str, **fields: Any) -> ChatEvent:
    """A Twitch chat message from an ordinary viewer unless `fields` say otherwise."""
    values: dict[str, Any] = {
        "platform": "twitch",
        "channel": "daniel",
        "message_id": "m-1",
        "user_id": "1001",
        "login": "viewer",
        "display_name": "Viewer",
        "text": text,
        "sent_at": SENT_AT,
        "roles": frozenset(),
        "raw_type": "PRIVMSG",
    }
    values.update(fields)
    return ChatEvent(**values)


def make_rules(
    triggers: Iterable[TriggerConfig], *, self_logins: Iterable[str] = ()
) -> TriggerRules:
    """Rules of a creator `daniel` with the given triggers (tallies/boards declared as used)."""
    triggers = tuple(triggers)
    tallies = sorted({t.tally for t in triggers if t.tally})
    boards = sorted({t.scoreboard for t in triggers if t.scoreboard})
    creator = CreatorConfig(
        id="daniel",
        tallies=tuple(TallyConfig(id=t, label=t) for t in tallies),
        scoreboards=tuple(ScoreboardConfig(id=b, title=b) for b in boards),
        triggers=triggers,
    )
    return TriggerRules.from_config(creator, self_logins=self_logins)


def trigger(id: str, pattern: str, **fields: Any) -> TriggerConfig:
    """A trigger; a `reply` without a response gets one."""
    if fields.get("action", "reply") == "reply":
        fields.setdefault("response", f"{id} fired")
    return TriggerConfig(id=id, pattern=pattern, **fields)


@pytest.fixture
def event() -> Callable[..., ChatEvent]:
    return make_event


@pytest.fixture
def rules() -> Callable[..., TriggerRules]:
    return make_rules


@pytest.fixture
def trig() -> Callable[..., TriggerConfig]:
    return trigger
