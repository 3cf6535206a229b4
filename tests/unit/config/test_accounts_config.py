"""`[token_store]`, `[[accounts]]` and the `account` references of the creators' tables."""

from __future__ import annotations

import pytest

from actors.accounts.scopes import FEATURE_SCOPES, needed_scopes, requested_scopes
from config import ConfigError
from config.loading import loads_config

ACCOUNTS = """
[[accounts]]
id = "daniel-bot"
platform = "twitch"
client_id = "abc"
client_secret = { env = "TWITCH_CLIENT_SECRET" }

[[accounts]]
id = "daniel"
platform = "twitch"
client_id = "abc"

[[accounts]]
id = "yt"
platform = "youtube"
client_id = "g"
"""

CREATOR = """
[[creators]]
id = "daniel"
[creators.twitch]
channel = "daniel"
account = "daniel-bot"
broadcaster_account = "daniel"
[creators.youtube]
video_id = "v"
api_key = { env = "YT_KEY" }
account = "yt"
"""

ENV = {"TWITCH_CLIENT_SECRET": "client-secret-value", "YT_KEY": "k", "KEY": "passphrase"}


def load(text: str):
    return loads_config(text, environ=ENV)


def problem(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(text)
    return str(info.value)


def test_accounts_and_references_load_with_secrets_masked():
    config = load(ACCOUNTS + CREATOR)
    assert [a.id for a in config.accounts] == ["daniel-bot", "daniel", "yt"]
    assert config.token_store.kind == "keyring"
    assert config.accounts[0].redirect_port == 3000
    assert "client-secret-value" not in repr(config)
    assert config.creators[0].twitch.broadcaster_account == "daniel"


def test_an_unknown_account_id_names_the_key_path_and_a_close_match():
    text = problem(ACCOUNTS + CREATOR.replace('account = "daniel-bot"', 'account = "daniel-bt"'))
    assert "creators[0].twitch.account" in text
    assert "'daniel-bt' is not declared in [[accounts]]" in text
    assert "did you mean 'daniel-bot'?" in text


def test_an_account_of_another_platform_is_refused():
    text = problem(ACCOUNTS + CREATOR.replace('account = "yt"', 'account = "daniel"'))
    assert "creators[0].youtube.account" in text and "is a twitch account" in text


def test_a_file_token_store_needs_a_key():
    assert "token_store.key" in problem('[token_store]\nkind = "file"\n')
    config = load('[token_store]\nkind = "file"\nkey = { env = "KEY" }\n')
    assert config.token_store.key.reveal() == "passphrase"
    assert "kind" in problem('[token_store]\nkind = "vault"\n')


def test_duplicate_account_ids_and_bad_platforms_are_refused():
    again = '[[accounts]]\nid = "yt"\nplatform = "youtube"\nclient_id = "h"\n'
    assert "duplicate account id 'yt'" in problem(ACCOUNTS + again)
    text = problem('[[accounts]]\nid = "x"\nplatform = "twich"\nclient_id = "a"\n')
    assert "accounts[0].platform" in text and "did you mean 'twitch'?" in text


def test_default_scopes_are_what_the_features_naming_the_account_need():
    config = load(ACCOUNTS + CREATOR)
    needed = needed_scopes(config)
    assert needed["daniel-bot"] == FEATURE_SCOPES["twitch.chat"]
    assert needed["daniel"] == FEATURE_SCOPES["twitch.broadcaster"]
    assert needed["yt"] == {"https://www.googleapis.com/auth/youtube"}
    explicit = load(ACCOUNTS.replace('client_id = "g"', 'client_id = "g"\nscopes = ["a", "b"]'))
    assert requested_scopes(explicit, "yt") == {"a", "b"}


MODERATING_FILTER = """
[[creators.filters]]
id = "links"
kind = "links"
action = "timeout"
timeout_seconds = 60
"""


def test_a_moderating_filter_asks_the_moderation_scopes_of_the_account_that_moderates():
    # With a broadcaster account, it moderates; the chat account needs nothing more.
    config = load(ACCOUNTS + CREATOR + MODERATING_FILTER)
    needed = needed_scopes(config)
    assert needed["daniel-bot"] == FEATURE_SCOPES["twitch.chat"]
    assert FEATURE_SCOPES["twitch.moderation"] <= needed["daniel"]
    # Without one, the chat account moderates and is asked for the scopes.
    alone = load(
        ACCOUNTS + CREATOR.replace('broadcaster_account = "daniel"\n', "") + MODERATING_FILTER
    )
    assert needed_scopes(alone)["daniel-bot"] == (
        FEATURE_SCOPES["twitch.chat"] | FEATURE_SCOPES["twitch.moderation"]
    )
    # A filter that only warns needs no moderation scope.
    warn = load(
        ACCOUNTS
        + CREATOR.replace('broadcaster_account = "daniel"\n', "")
        + MODERATING_FILTER.replace('"timeout"', '"warn"')
    )
    assert needed_scopes(warn)["daniel-bot"] == FEATURE_SCOPES["twitch.chat"]
