"""Every `Secret` of the configuration is found by walking it: the walk is the registry.

A configuration class that gains a `Secret` field makes
`test_every_secret_field_is_found_by_the_walk` fail until the field is set in `FULL` below, and
then it passes only if the walk reaches it (so logs and exports mask it).
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any

import attrs

from actors.secret_masking import mask_secrets, register_secret
from config import Secret, SecretRef
from config.loading import loads_config
from config.models import Config
from config.secrets import iter_secrets
from runtime import app

# Each secret's environment variable is named after its field's path, so the test can tell
# which field a found secret came from.
FULL = """
[token_store]
kind = "file"
key = { env = "S_TOKEN_STORE_KEY" }
[[accounts]]
id = "bot"
platform = "twitch"
client_id = "client-id"
client_secret = { env = "S_ACCOUNTS_CLIENT_SECRET" }
[http]
token = { env = "S_HTTP_TOKEN" }
[exports]
pseudonym_key = { env = "S_EXPORTS_PSEUDONYM_KEY" }
[discord]
token = { env = "S_DISCORD_TOKEN" }
[watch]
client_id = "client-id"
client_secret = { env = "S_WATCH_CLIENT_SECRET" }
eventsub_secret = { env = "S_WATCH_EVENTSUB_SECRET" }
[[notifications]]
id = "live"
webhook_url = { env = "S_NOTIFICATIONS_WEBHOOK_URL" }
[[creators]]
id = "daniel"
[creators.twitch]
channel = "daniel"
token = { env = "S_CREATORS_TWITCH_TOKEN" }
[creators.youtube]
api_key = { env = "S_CREATORS_YOUTUBE_API_KEY" }
oauth_token = { env = "S_CREATORS_YOUTUBE_OAUTH_TOKEN" }
video_id = "dQw4w9WgXcQ"
[creators.kick]
channel = "daniel"
token = { env = "S_CREATORS_KICK_TOKEN" }
[creators.rumble]
api_url = { env = "S_CREATORS_RUMBLE_API_URL" }
[creators.clips]
capture_url_secret = { env = "S_CREATORS_CLIPS_CAPTURE_URL_SECRET" }
[creators.clips.twitch]
broadcaster_id = "123"
client_id = "client-id"
token = { env = "S_CREATORS_CLIPS_TWITCH_TOKEN" }
[[creators.clips.destinations]]
kind = "discord"
webhook_url = { env = "S_CREATORS_CLIPS_DESTINATIONS_WEBHOOK_URL" }
[[creators.clips.destinations]]
kind = "http"
url = "https://uploads.example.test/clips"
token = { env = "S_CREATORS_CLIPS_DESTINATIONS_TOKEN" }
"""


def _inner_types(tp: Any) -> list[Any]:
    """`tp` itself, or the types inside an Optional/Union/tuple/list/dict annotation."""
    args = typing.get_args(tp)
    if not args:
        return [tp]
    return [inner for arg in args if arg is not Ellipsis for inner in _inner_types(arg)]


def secret_field_paths(cls: type, prefix: str = "") -> set[str]:
    """Dotted paths of every field typed `Secret` reachable from `cls` through its types."""
    found: set[str] = set()
    hints = typing.get_type_hints(cls)
    for field in attrs.fields(cls):
        for inner in _inner_types(hints[field.name]):
            if inner is Secret:
                found.add(prefix + field.name)
            elif isinstance(inner, type) and attrs.has(inner) and inner is not SecretRef:
                found |= secret_field_paths(inner, f"{prefix}{field.name}.")
    return found


def env_name(path: str) -> str:
    return "S_" + path.upper().replace(".", "_")


def full_config() -> Config:
    names = re.findall(r'env = "(S_[A-Z_]+)"', FULL)
    environ = {name: f"https://x.test/{name.lower()}/value-0123456789abcdef" for name in names}
    return loads_config(FULL, environ=environ)


def test_every_secret_field_is_found_by_the_walk() -> None:
    expected = {env_name(path) for path in secret_field_paths(Config)}
    assert len(expected) >= 15
    found = {secret.ref.env for secret in iter_secrets(full_config())}
    assert found == expected, "set each new Secret field in FULL; the walk must reach it"


def test_the_runtime_masks_what_the_walk_finds() -> None:
    config = full_config()
    assert list(app.iter_secrets(config)) == list(iter_secrets(config))


def test_the_walk_enters_attrs_tuples_lists_sets_and_mapping_values() -> None:
    @attrs.frozen
    class Inner:
        secret: Secret

    @attrs.frozen
    class Outer:
        one: Inner
        many: tuple[Inner, ...]
        listed: list[Secret]
        keyed: dict[str, Secret]
        grouped: frozenset[Secret]
        plain: str = "not a secret"

    def s(name: str) -> Secret:
        return Secret(SecretRef(env=name), value=name.lower() + "-value")

    outer = Outer(
        one=Inner(s("A")),
        many=(Inner(s("B")), Inner(s("C"))),
        listed=[s("D")],
        keyed={"k": s("E")},
        grouped=frozenset({s("F")}),
    )
    assert sorted(x.ref.env or "" for x in iter_secrets(outer)) == ["A", "B", "C", "D", "E", "F"]
    assert list(iter_secrets(types.SimpleNamespace(secret=s("G")))) == []  # not attrs: opaque


def test_a_webhook_token_quoted_without_its_url_is_masked_in_logs() -> None:
    token = "wh-token-0123456789abcdefghijklmnopqrstuvwxyz"
    register_secret(f"https://discord.com/api/webhooks/223704706495545344/{token}")
    line = f'discord rate limited route="POST /223704706495545344/{token}"'
    assert token not in mask_secrets(line)


def test_an_unregistered_webhook_url_is_masked_by_its_shape() -> None:
    token = "Zx9-unregistered_0123456789abcdefghijklmnopqrstuv"
    line = f"POST https://discord.com/api/webhooks/223704706495545345/{token} failed"
    masked = mask_secrets(line)
    assert token not in masked and "/webhooks/223704706495545345/" in masked
