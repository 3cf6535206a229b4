"""The private fast constructors of `actors.events` build the same values as the public ones."""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest

from actors import events
from actors.events import ROLES, ChatEvent, Emote, ReplyParent
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

Constructors = tuple[Callable[..., ChatEvent], Callable[..., Emote]]
compiled = events._compiled_constructor


# Both twins: the Python reference, and the compiled one (`actors/_slotted.c`) when built.
@pytest.fixture(
    params=[
        pytest.param("python"),
        pytest.param(
            "compiled",
            marks=pytest.mark.skipif(compiled is None, reason="compiled constructors not built"),
        ),
    ]
)
def fast(request: pytest.FixtureRequest) -> Constructors:
    if request.param == "python":
        return events._chat_event_unchecked_py, events._emote_unchecked_py
    assert compiled is not None
    return compiled(ChatEvent, events._CHAT_EVENT_FIELDS), compiled(Emote, events._EMOTE_FIELDS)


def _rebuilt(event: ChatEvent, fast: Constructors) -> ChatEvent:
    chat_event, emote = fast
    emotes = tuple(emote(e.id, e.start, e.end, e.name) for e in event.emotes)
    values = [getattr(event, a.name) for a in attrs.fields(ChatEvent)]
    values[[a.name for a in attrs.fields(ChatEvent)].index("emotes")] = emotes
    return chat_event(*values)


def test_the_compiled_constructors_are_used_when_built() -> None:
    if compiled is None or os.environ.get("STREAMSUITES_PURE_PYTHON", "") not in ("", "0"):
        assert events._chat_event_unchecked is events._chat_event_unchecked_py
    else:
        assert type(events._chat_event_unchecked) is type(compiled(Emote, ("id",)))
        assert type(events._emote_unchecked) is type(compiled(Emote, ("id",)))


def test_corpus_has_chat_events() -> None:
    assert len(CORPUS_EVENTS) >= 15


@pytest.mark.parametrize("event", CORPUS_EVENTS, ids=lambda e: e.message_id or "no-id")
def test_fast_chat_event_is_indistinguishable_from_the_public_one(
    event: ChatEvent, fast: Constructors
) -> None:
    fast = _rebuilt(event, fast)  # type: ignore[assignment]
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


def test_fast_chat_event_is_frozen_like_the_public_one(fast: Constructors) -> None:
    event = _rebuilt(CORPUS_EVENTS[0], fast)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.text = "changed"  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.emotes = ()  # type: ignore[misc]


def test_fast_emote_equals_public_emote(fast: Constructors) -> None:
    for name in ("Kappa", None):
        emote = fast[1]("25", 0, 4, name)
        public = Emote(id="25", start=0, end=4, name=name)
        assert (emote, hash(emote), repr(emote)) == (public, hash(public), repr(public))


def test_fast_chat_event_with_every_field_set(fast: Constructors) -> None:
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
    event = fast[0](*values.values())
    assert (event, hash(event), repr(event)) == (public, hash(public), repr(public))


@pytest.mark.skipif(compiled is None, reason="compiled constructors not built")
def test_compiled_constructor_refuses_what_it_cannot_build() -> None:
    assert compiled is not None
    emote = compiled(Emote, events._EMOTE_FIELDS)
    with pytest.raises(TypeError, match="takes 4 values"):
        emote("25", 0, 4)
    with pytest.raises(TypeError, match="positional"):
        emote("25", 0, 4, name="Kappa")
    with pytest.raises(TypeError, match="not a slot"):
        compiled(Emote, ("id", "nope"))
    with pytest.raises(TypeError, match="not a slot"):
        compiled(Emote, ("__init__",))
    with pytest.raises(TypeError):
        compiled("Emote", ("id",))
    with pytest.raises(TypeError, match="must be str"):
        compiled(Emote, (1,))


def test_public_constructor_still_validates() -> None:
    base = attrs.asdict(CORPUS_EVENTS[0], recurse=False)
    with pytest.raises(ValueError, match="unknown roles"):
        ChatEvent(**{**base, "roles": {"admin"}})
    with pytest.raises(ValueError, match="aware"):
        ChatEvent(**{**base, "sent_at": datetime(2020, 1, 1)})


def test_fast_reply_parent_equals_public_reply_parent() -> None:
    makers = [events._reply_parent_unchecked_py, events._reply_parent_unchecked]
    if compiled is not None:
        makers.append(compiled(ReplyParent, events._REPLY_PARENT_FIELDS))
    for values in (
        ("p", "1", "bob", "Bob", "hi"),
        ("p", None, None, None, None),
        ("", "", "", "", ""),
    ):
        public = ReplyParent(**dict(zip(events._REPLY_PARENT_FIELDS, values, strict=True)))
        for make in makers:
            fast = make(*values)
            assert (type(fast), fast, hash(fast), repr(fast)) == (
                ReplyParent,
                public,
                hash(public),
                repr(public),
            )
