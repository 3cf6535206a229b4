"""`[creators.kick]` token and broadcaster id for sending replies."""

from __future__ import annotations

import pytest

from config import ConfigError
from config.loading import loads_config

BASE = """
[[creators]]
id = "daniel"
[creators.kick]
channel = "daniel"
chatroom_id = 668
channel_id = 670
"""


def test_a_kick_token_is_a_secret_reference_resolved_from_the_environment() -> None:
    config = loads_config(
        BASE + 'token = { env = "KICK_TOKEN" }\nbroadcaster_user_id = 670\n',
        environ={"KICK_TOKEN": "kick-oauth-token-0123456789"},
    )
    kick = config.creators[0].kick
    assert kick.token.reveal() == "kick-oauth-token-0123456789"
    assert "kick-oauth-token" not in repr(kick)
    assert kick.broadcaster_user_id == 670


def test_reading_needs_no_token() -> None:
    kick = loads_config(BASE).creators[0].kick
    assert kick.token is None and kick.broadcaster_user_id is None


def test_an_inline_kick_token_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as info:
        loads_config(BASE + 'token = "kick-oauth-token-0123456789"\n')
    assert "creators[0].kick.token" in str(info.value)
    assert "kick-oauth-token-0123456789" not in str(info.value)
