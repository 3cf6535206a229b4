"""Secrets: only by reference, resolved at load, masked everywhere, never printed."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from pathlib import Path

import pytest

from config import ConfigError, Secret, SecretRef, effective_config_toml, load_config
from config.secrets import SecretUnavailable, resolve

PLANTED = "s3cr3t-value-that-must-never-appear"

CONFIG = """
[http]
token = { env = "STREAMSUITES_API_TOKEN" }

[[creators]]
id = "daniel"
[creators.twitch]
channel = "daniel"
nick = "danbot"
token = { env = "TWITCH_TOKEN_DANIEL" }
[creators.rumble]
api_url = { env = "RUMBLE_URL_DANIEL" }
"""

ENV = {
    "STREAMSUITES_API_TOKEN": PLANTED + "-api",
    "TWITCH_TOKEN_DANIEL": PLANTED + "-twitch",
    "RUMBLE_URL_DANIEL": "https://rumble.com/-livestream-api/get-data?key=" + PLANTED,
}


def test_secrets_resolve_and_reveal(write_config: Callable[[str], Path]) -> None:
    config = load_config(write_config(CONFIG), environ=ENV)
    twitch = config.creators[0].twitch
    assert twitch is not None and twitch.token is not None
    assert twitch.token.reveal() == ENV["TWITCH_TOKEN_DANIEL"]
    assert twitch.token.ref == SecretRef(env="TWITCH_TOKEN_DANIEL")
    assert config.http.token is not None
    assert config.http.token.reveal() == ENV["STREAMSUITES_API_TOKEN"]


def test_secrets_masked_in_repr_str_and_effective_config(
    write_config: Callable[[str], Path],
) -> None:
    config = load_config(write_config(CONFIG), environ=ENV)
    token = config.http.token
    assert token is not None
    assert str(token) == "***"
    assert repr(token) == "Secret(environment variable STREAMSUITES_API_TOKEN, '***')"
    assert f"{token}" == "***"
    for text in (repr(config), str(config), effective_config_toml(config)):
        assert PLANTED not in text
    rendered = effective_config_toml(config)
    assert 'token = { env = "STREAMSUITES_API_TOKEN" }' in rendered
    assert 'token = { env = "TWITCH_TOKEN_DANIEL" }' in rendered
    assert 'api_url = { env = "RUMBLE_URL_DANIEL" }' in rendered


def test_missing_variable_is_named_and_no_value_printed(
    problems: Callable[..., list[str]],
) -> None:
    env = dict(ENV)
    del env["TWITCH_TOKEN_DANIEL"]
    env["TWITCH_TOKEN_MIA"] = PLANTED  # a value nearby that must not leak into the message
    found = problems(CONFIG, environ=env)
    assert found == [
        "FILE: creators[0].twitch.token: environment variable TWITCH_TOKEN_DANIEL is not set"
    ]
    assert all(PLANTED not in line for line in found)


def test_empty_variable(problems: Callable[..., list[str]]) -> None:
    env = {**ENV, "STREAMSUITES_API_TOKEN": "  "}
    assert problems(CONFIG, environ=env) == [
        "FILE: http.token: environment variable STREAMSUITES_API_TOKEN is set but empty"
    ]


def test_environ_defaults_to_os_environ(
    write_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    config = load_config(write_config(CONFIG))
    assert config.http.token is not None
    assert config.http.token.reveal() == ENV["STREAMSUITES_API_TOKEN"]


def test_inline_secret_is_refused_without_echo(problems: Callable[..., list[str]]) -> None:
    found = problems(f'[http]\ntoken = "{PLANTED}"\n')
    assert found == [
        'FILE: http.token: expected a secret reference like { env = "NAME" } or '
        '{ keyring = "entry" }, got a string (secrets are never inline)'
    ]


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ('{ evn = "X" }', "http.token.evn: unknown key; did you mean 'env'?"),
        ("{ env = 5 }", "http.token.env: expected a string, got 5"),
        ("{}", 'http.token: a secret reference needs exactly one of "env" or "keyring"'),
        (
            '{ env = "X", keyring = "y" }',
            'http.token: a secret reference needs exactly one of "env" or "keyring"',
        ),
        (
            '{ env = "1BAD" }',
            "http.token: '1BAD' is not a valid environment variable name "
            "(letters, digits and '_', not starting with a digit)",
        ),
    ],
)
def test_bad_references(problems: Callable[..., list[str]], ref: str, expected: str) -> None:
    assert problems(f"[http]\ntoken = {ref}\n") == [f"FILE: {expected}"]


def test_keyring_unavailable_is_an_error(
    problems: Callable[..., list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)  # makes `import keyring` fail
    assert problems('[http]\ntoken = { keyring = "api" }\n') == [
        "FILE: http.token: keyring entry 'api' (service 'streamsuites-runtime') is requested "
        "but the optional 'keyring' package is not installed"
    ]


def fake_keyring(entries: dict[tuple[str, str], str]) -> types.ModuleType:
    module = types.ModuleType("keyring")
    module.get_password = lambda service, name: entries.get((service, name))  # type: ignore[attr-defined]
    return module


def test_keyring_entry(
    write_config: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "keyring", fake_keyring({("bots", "api"): PLANTED}))
    config = load_config(
        write_config('[http]\ntoken = { keyring = "api", service = "bots" }\n'), environ={}
    )
    assert config.http.token is not None
    assert config.http.token.reveal() == PLANTED
    assert 'token = { keyring = "api", service = "bots" }' in effective_config_toml(config)
    assert PLANTED not in effective_config_toml(config)


def test_keyring_entry_missing(
    problems: Callable[..., list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "keyring", fake_keyring({}))
    assert problems('[http]\ntoken = { keyring = "api" }\n') == [
        "FILE: http.token: keyring entry 'api' (service 'streamsuites-runtime') is not set"
    ]


def test_keyring_backend_error_does_not_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("keyring")

    def broken(service: str, name: str) -> str:
        raise RuntimeError(PLANTED)

    module.get_password = broken  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "keyring", module)
    with pytest.raises(SecretUnavailable) as info:
        resolve(SecretRef(keyring="api"), {})
    assert PLANTED not in str(info.value)
    assert "RuntimeError" in str(info.value)


def test_secret_value_is_not_in_error_repr() -> None:
    secret = Secret(SecretRef(env="A"), value=PLANTED)
    try:
        raise ValueError(f"failed with {secret} and {secret!r}")
    except ValueError as exc:
        assert PLANTED not in str(exc)


def test_config_error_is_an_exception() -> None:
    assert issubclass(ConfigError, Exception)
