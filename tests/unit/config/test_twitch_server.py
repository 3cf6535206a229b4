"""`creators.twitch.server`: an optional ws:// or wss:// URL replacing Twitch's IRC endpoint."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from config import effective_config_toml, loads_config
from config.models import InvalidField, TwitchConfig

BASE = """
[[creators]]
id = "daniel"

[creators.twitch]
channel = "daniel"
"""


def test_server_defaults_to_twitch() -> None:
    config = loads_config(BASE, environ={})
    twitch = config.creator("daniel").twitch
    assert twitch is not None and twitch.server is None


@pytest.mark.parametrize(
    "url", ["ws://127.0.0.1:8080", "wss://relay.example.org/irc", "ws://localhost:80/chat"]
)
def test_server_accepts_websocket_urls(url: str) -> None:
    config = loads_config(BASE + f'server = "{url}"\n', environ={})
    twitch = config.creator("daniel").twitch
    assert twitch is not None and twitch.server == url
    # `check` prints it, and the printed config loads back to the same value.
    text = effective_config_toml(config)
    assert f'server = "{url}"' in text
    assert loads_config(text, environ={}) == config


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080", "irc.chat.twitch.tv:6697", "wss://", "ws://a b", ""]
)
def test_server_rejects_other_schemes(url: str, problems: Callable[..., list[str]]) -> None:
    [problem] = problems(BASE + f'server = "{url}"\n')
    assert "creators[0].twitch.server" in problem
    assert "a ws:// or wss:// URL" in problem


def test_server_validated_on_the_model() -> None:
    with pytest.raises(InvalidField) as info:
        TwitchConfig(channel="daniel", server="https://irc-ws.chat.twitch.tv")
    assert info.value.path == ("server",)
    assert TwitchConfig(channel="daniel").server is None
