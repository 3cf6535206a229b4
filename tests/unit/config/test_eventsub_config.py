"""Configuration of Twitch channel events: `events`, `transport`, rewards, event triggers."""

from __future__ import annotations

import pytest

from config import ConfigError, loads_config
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


_ACCOUNTS = """
[[accounts]]
id = "daniel"
platform = "twitch"
client_id = "cid"
"""


@pytest.mark.parametrize(
    ("twitch", "triggers", "key_path", "message"),
    [
        ('events = ["follow"]', "", "creators[0].twitch.broadcaster_account", "events need"),
        (
            "",
            '[[creators.triggers]]\nid = "r"\nkind = "event"\nevent = "raid"\nresponse = "hi"',
            "creators[0].twitch.broadcaster_account",
            "event triggers need",
        ),
        (
            '[[creators.twitch.rewards]]\nid = "h"\ntitle = "Hydrate"\ncost = 5',
            "",
            "creators[0].twitch.broadcaster_account",
            "rewards need",
        ),
        (
            'transport = "eventsub"\nbroadcaster_account = "daniel"',
            "",
            "creators[0].twitch.account",
            'transport = "eventsub" needs account',
        ),
    ],
)
def test_eventsub_without_the_account_it_needs_is_a_configuration_error(
    twitch: str, triggers: str, key_path: str, message: str
):
    text = f'{_ACCOUNTS}\n[[creators]]\nid = "daniel"\n{triggers}\n'
    text += f'[creators.twitch]\nchannel = "daniel"\n{twitch}\n'
    with pytest.raises(ConfigError) as info:
        loads_config(text, environ={})
    (problem,) = info.value.problems
    assert problem.key_path == key_path and message in problem.message


def test_eventsub_with_its_accounts_loads_and_event_triggers_need_a_twitch_table():
    text = f"""{_ACCOUNTS}
[[creators]]
id = "daniel"
[creators.twitch]
channel = "daniel"
account = "daniel"
transport = "eventsub"
events = ["follow"]
"""
    config = loads_config(text, environ={})
    assert config.creators[0].twitch.transport == "eventsub"
    orphan = '[[creators]]\nid = "d"\n[[creators.triggers]]\nid = "r"\nkind = "event"\n'
    orphan += 'event = "raid"\nresponse = "hi"\n'
    with pytest.raises(ConfigError) as info:
        loads_config(orphan, environ={})
    assert info.value.problems[0].key_path == "creators[0].triggers[0].event"


def test_an_event_trigger_permission_is_everyone_or_the_broadcaster():
    TriggerConfig(id="x", kind="event", event="raid", permission="broadcaster", response="hi")
    with pytest.raises(InvalidField, match="do not say whether a viewer is a subscriber"):
        TriggerConfig(id="x", kind="event", event="cheer", permission="moderator", response="hi")
