"""Configuration of Twitch channel events: `events`, `transport`, rewards, event triggers."""

from __future__ import annotations

import pytest

from config.models import InvalidField, TriggerConfig, TwitchConfig, TwitchRewardConfig


def test_twitch_events_rewards_and_transport_are_checked():
    twitch = TwitchConfig(
        channel="daniel",
        events=("redemption", "raid"),
        transport="eventsub",
        eventsub_keepalive_seconds=30,
        rewards=(TwitchRewardConfig(id="hydrate", title="Hydrate!", cost=500, prompt="Drink"),),
    )
    assert twitch.events == ("redemption", "raid") and twitch.transport == "eventsub"
    with pytest.raises(InvalidField, match="did you mean 'raid'"):
        TwitchConfig(channel="daniel", events=("raids",))
    with pytest.raises(InvalidField, match="between 10 and 600"):
        TwitchConfig(channel="daniel", eventsub_keepalive_seconds=5)
    with pytest.raises(InvalidField, match="duplicate reward title"):
        TwitchConfig(
            channel="daniel",
            rewards=(
                TwitchRewardConfig(id="a", title="Same", cost=1),
                TwitchRewardConfig(id="b", title="same", cost=1),
            ),
        )
    with pytest.raises(InvalidField, match="1 to 45 characters"):
        TwitchRewardConfig(id="a", title="x" * 46, cost=1)


def test_event_triggers_need_an_event_and_take_conditions_only_where_they_apply():
    trigger = TriggerConfig(
        id="hydrate",
        kind="event",
        event="redemption",
        reward="hydrate",
        action="tally_increment",
        tally="water",
        redemption="fulfil",
    )
    assert trigger.pattern is None
    with pytest.raises(InvalidField, match="needs an event"):
        TriggerConfig(id="x", kind="event", response="hi")
    with pytest.raises(InvalidField, match="min_bits applies to event cheer"):
        TriggerConfig(id="x", kind="event", event="raid", min_bits=5, response="hi")
    with pytest.raises(InvalidField, match="take no pattern"):
        TriggerConfig(id="x", kind="event", event="raid", pattern="!x", response="hi")
    with pytest.raises(InvalidField, match="needs chat text"):
        TriggerConfig(id="x", kind="event", event="raid", action="poll_vote")
    with pytest.raises(InvalidField, match="only for kind 'event'"):
        TriggerConfig(id="x", pattern="!x", min_bits=5, response="hi")
    with pytest.raises(InvalidField, match="needs a pattern"):
        TriggerConfig(id="x", response="hi")
