"""The private fast constructors of `actors.events` build the same values as the public ones."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest

from actors.events import (
    ROLES,
    ChatEvent,
    Emote,
    ReplyParent,
    _chat_event_unchecked,
    _emote_unchecked,
)
from actors.twitch.irc import IrcParseError, TwitchMessageError, parse_irc_line
from actors.twitch.irc import _chat_event_general as chat_event_general

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CORPUS = Path(__file__).parents[2] / "conformance" / "data" / "twitch_irc.jsonl"


def _corpus_chat_events() -> list[ChatEvent]:
    """Every PRIVMSG of the conformance corpus that makes a ChatEvent, built the public way."""
    events = []
    for row in CORPUS.read_text("utf-8").splitlines():
        raw = json.loads(row)["raw"]
        try:
            msg = parse_irc_line(raw)
        except IrcParseError:
            continue
        if msg.command.upper() != "PRIVMSG":
            continue
        try:
            events.append(chat_event_general(msg, NOW))
        except TwitchMessageError:
            continue
    return events


CORPUS_EVENTS = _corpus_chat_events()


def _rebuilt(event: ChatEvent) -> ChatEvent:
    emotes = tuple(_emote_unchecked(e.id, e.start, e.end, e.name) for e in event.emotes)
    values = [getattr(event, a.name) for a in attrs.fields(ChatEvent)]
    values[[a.name for a in attrs.fields(ChatEvent)].index("emotes")] = emotes
    return _chat_event_unchecked(*values)


def test_corpus_has_chat_events() -> None:
    assert len(CORPUS_EVENTS) >= 15


@pytest.mark.parametrize("event", CORPUS_EVENTS, ids=lambda e: e.message_id or "no-id")
def test_fast_chat_event_is_indistinguishable_from_the_public_one(event: ChatEvent) -> None:
    fast = _rebuilt(event)
    assert type(fast) is ChatEvent
    assert fast == event and event == fast
    assert hash(fast) == hash(event)
    assert repr(fast) == repr(event)
    assert attrs.asdict(fast) == attrs.asdict(event)
    assert fast.emotes == event.emotes
    assert [hash(e) for e in fast.emotes] == [hash(e) for e in event.emotes]
    assert pickle.loads(pickle.dumps(fast)) == event
    # It passes the public constructor's checks, and survives evolve (which re-runs them).
    attrs.validate(fast)
    assert attrs.evolve(fast) == event
    assert ChatEvent(**{a.name: getattr(fast, a.name) for a in attrs.fields(ChatEvent)}) == event


def test_fast_chat_event_is_frozen_like_the_public_one() -> None:
    fast = _rebuilt(CORPUS_EVENTS[0])
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        fast.text = "changed"  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        fast.emotes = ()  # type: ignore[misc]


def test_fast_emote_equals_public_emote() -> None:
    for name in ("Kappa", None):
        fast = _emote_unchecked("25", 0, 4, name)
        public = Emote(id="25", start=0, end=4, name=name)
        assert (fast, hash(fast), repr(fast)) == (public, hash(public), repr(public))


def test_fast_chat_event_with_every_field_set() -> None:
    values = {
        "platform": "twitch",
        "channel": "c",
        "message_id": "m",
        "sent_at": datetime(2020, 7, 12, 12, 1, 15, 886000, tzinfo=UTC),
        "raw_type": "PRIVMSG",
        "user_id": "1",
        "login": "a",
        "display_name": "A",
        "text": "Kappa",
        "roles": ROLES,
        "emotes": (Emote(id="25", start=0, end=4, name="Kappa"),),
        "bits": 100,
        "reply_parent": ReplyParent(message_id="p", login="b", text="hi"),
        "first_message": True,
        "is_action": True,
        "color": "#FFFFFF",
    }
    public = ChatEvent(**values)  # type: ignore[arg-type]
    fast = _chat_event_unchecked(**values)  # type: ignore[arg-type]
    assert (fast, hash(fast), repr(fast)) == (public, hash(public), repr(public))


def test_public_constructor_still_validates() -> None:
    base = attrs.asdict(CORPUS_EVENTS[0], recurse=False)
    with pytest.raises(ValueError, match="unknown roles"):
        ChatEvent(**{**base, "roles": {"admin"}})
    with pytest.raises(ValueError, match="aware"):
        ChatEvent(**{**base, "sent_at": datetime(2020, 1, 1)})
