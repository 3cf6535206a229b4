"""Rendering: the effective config for `check`, the starter config for `init`."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import config as config_pkg
from config import effective_config_toml, load_config, starter_config

EXAMPLE = Path(config_pkg.__file__).parent / "example.toml"


def test_effective_config_round_trips(tmp_path: Path) -> None:
    config = load_config(EXAMPLE, environ={})
    text = effective_config_toml(config)
    assert text.startswith(f"# Effective configuration of {EXAMPLE.absolute()}\n")
    data = tomllib.loads(text)
    assert data["runtime"]["data_dir"] == str(config.runtime.data_dir)
    assert data["exports"]["root"] == str(config.exports.root)
    assert "source" not in data
    assert "regex" not in data["creators"][0]["triggers"][1]
    # Paths are absolute, so the text loads to an equal config from anywhere.
    elsewhere = tmp_path / "copy.toml"
    elsewhere.write_text(text, encoding="utf-8")
    assert load_config(elsewhere, environ={}) == config


def test_effective_config_is_deterministic() -> None:
    a = effective_config_toml(load_config(EXAMPLE, environ={}))
    b = effective_config_toml(load_config(EXAMPLE, environ={}))
    assert a == b


def test_effective_config_with_secrets_round_trips(
    write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    env = {"YT": "youtube-key-value", "PSEUDO": "pseudonym-key-value"}
    path = write_config(
        """
[exports]
pseudonym_key = { env = "PSEUDO" }
[[creators]]
id = "d"
[creators.youtube]
video_id = "abc"
api_key = { env = "YT" }
"""
    )
    config = load_config(path, environ=env)
    text = effective_config_toml(config)
    assert 'pseudonym_key = { env = "PSEUDO" }' in text
    assert 'api_key = { env = "YT" }' in text
    assert "youtube-key-value" not in text and "pseudonym-key-value" not in text
    copy = tmp_path / "copy.toml"
    copy.write_text(text, encoding="utf-8")
    assert load_config(copy, environ=env) == config


def test_starter_config_loads_and_round_trips(tmp_path: Path) -> None:
    text = starter_config()
    assert text.startswith("# StreamSuites runtime configuration.")
    assert '# token = { env = "STREAMSUITES_API_TOKEN" }' in text
    path = tmp_path / "new" / "streamsuites.toml"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    config = load_config(path, environ={})  # no secrets needed to start
    assert config.runtime.data_dir == path.parent / "var"
    assert [c.id for c in config.creators] == ["my_channel"]
    creator = config.creators[0]
    assert creator.twitch is not None and creator.twitch.token is None
    assert {t.action for t in creator.triggers} == {"reply", "tally_increment"}
    again = tmp_path / "again.toml"
    again.write_text(effective_config_toml(config), encoding="utf-8")
    assert load_config(again, environ={}) == config


def test_starter_comments_precede_their_tables() -> None:
    lines = starter_config().splitlines()
    for header in ("[runtime]", "[http]", "[[creators]]", "[creators.twitch]"):
        index = lines.index(header)
        assert lines[index - 1].startswith("#"), header
