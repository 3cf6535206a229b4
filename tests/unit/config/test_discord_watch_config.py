"""`[discord]`, `[watch]` and `[[notifications]]`: loading, validation, secrets never inline."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from actors.notify import rules_from_config
from config import ConfigError, effective_config_toml, loads_config

ENV = {
    "DISCORD_TOKEN": "bot-token-value",
    "TWITCH_CLIENT_SECRET": "client-secret-value",
    "EVENTSUB_SECRET": "eventsub-secret-value",
    "DISCORD_WEBHOOK_LIVE": "https://discord.com/api/webhooks/1/secret-token",
}

FULL = """
[discord]
token = { env = "DISCORD_TOKEN" }
application_id = "461618159171141643"
guild_ids = ["290926798626357999"]
admin_user_ids = ["53908232506183680"]

[watch]
client_id = "abc123"
client_secret = { env = "TWITCH_CLIENT_SECRET" }
eventsub_secret = { env = "EVENTSUB_SECRET" }
poll_seconds = 30
streamers = ["Daniel", "xqcow"]
streamer_ids = ["1337"]
games = ["509658"]
kick_channels = ["xqc"]

[[notifications]]
id = "golive"
platform = "twitch"
channels = ["daniel"]
webhook_url = { env = "DISCORD_WEBHOOK_LIVE" }
template = "{channel} is live: {title} {url}"
embed = true

[[notifications]]
id = "bot-post"
channel_id = "645027906669510667"
on = ["started", "ended"]
"""


def test_full_config_loads_and_round_trips() -> None:
    config = loads_config(FULL, environ=ENV)
    assert config.discord is not None and config.watch is not None
    assert config.discord.token.reveal() == "bot-token-value"
    assert config.discord.guild_ids == ("290926798626357999",)
    assert config.watch.poll_seconds == 30.0 and config.watch.streamers == ("Daniel", "xqcow")
    assert [n.id for n in config.notifications] == ["golive", "bot-post"]
    text = effective_config_toml(config)
    for value in ENV.values():
        assert value not in text  # secrets appear as references only
    assert 'webhook_url = { env = "DISCORD_WEBHOOK_LIVE" }' in text
    assert loads_config(text, environ=ENV) == config
    rules = rules_from_config(config.notifications)
    assert rules[0].destination == "webhook:golive" and rules[0].channels == {"daniel"}
    assert rules[1].destination == "channel:645027906669510667"


def test_sections_are_optional() -> None:
    config = loads_config("", environ={})
    assert config.discord is None and config.watch is None and config.notifications == ()


def test_secrets_are_never_inline(problems: Callable[..., list[str]]) -> None:
    [problem] = problems('[discord]\ntoken = "bot-token-value"\n', environ=ENV)
    assert "discord.token" in problem and "never inline" in problem
    assert "bot-token-value" not in problem
    [problem] = problems(
        '[[notifications]]\nid = "x"\nwebhook_url = "https://discord.com/api/webhooks/1/t"\n'
    )
    assert "notifications[0].webhook_url" in problem


def test_validation_names_the_key(problems: Callable[..., list[str]]) -> None:
    [problem] = problems(
        '[discord]\ntoken = { env = "DISCORD_TOKEN" }\nguild_ids = [290926798626357999]\n',
        environ=ENV,
    )
    assert "discord.guild_ids[0]" in problem
    [problem] = problems('[watch]\nstreamers = ["daniel"]\n')
    assert "watch.client_id" in problem and "needs client_id" in problem
    [problem] = problems("[watch]\npoll_seconds = 1\n")
    assert "watch.poll_seconds" in problem
    [problem] = problems(
        '[[notifications]]\nid = "x"\nchannel_id = "645027906669510667"\ntemplate = "{chanel}"\n'
    )
    assert "notifications[0].template" in problem and "did you mean 'channel'" in problem
    [problem] = problems('[[notifications]]\nid = "x"\n')
    assert "exactly one of webhook_url or channel_id" in problem
    [problem] = problems(
        '[[notifications]]\nid = "x"\nchannel_id = "645027906669510667"\non = ["live"]\n'
    )
    assert "notifications[0].on[0]" in problem
    [problem] = problems(
        '[[notifications]]\nid = "x"\nchannel_id = "645027906669510667"\n'
        '[[notifications]]\nid = "x"\nchannel_id = "645027906669510667"\n'
    )
    assert "duplicate notification id" in problem


def test_admin_alert_keys_default_and_validate() -> None:
    base = '[discord]\ntoken = { env = "DISCORD_TOKEN" }\n'
    config = loads_config(base, environ=ENV)
    assert config.discord is not None
    assert config.discord.admin_channel_id is None and config.discord.alert_after_seconds == 300
    config = loads_config(
        base + 'admin_channel_id = "645027906669510667"\nalert_after_seconds = 120\n', environ=ENV
    )
    assert config.discord is not None
    assert config.discord.admin_channel_id == "645027906669510667"
    assert config.discord.alert_after_seconds == 120
    for bad, message in (
        ('admin_channel_id = "general"', "snowflake"),
        ("alert_after_seconds = 1", "between 10 and 86400"),
    ):
        with pytest.raises(ConfigError) as info:
            loads_config(base + bad + "\n", environ=ENV)
        rendered = "\n".join(str(p) for p in info.value.problems)
        assert message in rendered and "discord." in rendered
