"""Which creators get `twitch-events` and EventSub chat (runtime/twitch_events.py)."""

from __future__ import annotations

from actors import ActorRef
from config.models import CreatorConfig, TriggerConfig, TwitchConfig
from runtime.twitch_events import eventsub_chat_spec, twitch_events_spec


def _lookup(path: str) -> ActorRef:
    raise AssertionError(f"nothing is looked up while wiring ({path})")


def test_a_creator_without_events_rewards_or_event_triggers_gets_no_eventsub_actor():
    creator = CreatorConfig(id="daniel", twitch=TwitchConfig(channel="daniel"))
    assert twitch_events_spec(_lookup, creator, accounts=()) is None
    assert eventsub_chat_spec(_lookup, creator, accounts=()) is None


def test_events_without_a_broadcaster_account_are_not_started():
    creator = CreatorConfig(
        id="daniel",
        twitch=TwitchConfig(channel="daniel", transport="eventsub"),
        triggers=(TriggerConfig(id="r", kind="event", event="raid", response="hi {user}"),),
    )
    # No [[accounts]] entry to take a token from: logged as an error, nothing started.
    assert twitch_events_spec(_lookup, creator, accounts=()) is None
    assert eventsub_chat_spec(_lookup, creator, accounts=()) is None
