"""Loading: the example, defaults, relative paths, command-line overrides."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import config as config_pkg
from config import ConfigError, load_config, loads_config
from config.chatlog import parse_chatlog_line
from config.models import Config

CONFIG_DIR = Path(config_pkg.__file__).parent
EXAMPLE = CONFIG_DIR / "example.toml"


def test_example_loads_offline() -> None:
    config = load_config(EXAMPLE, environ={})
    assert config.source == EXAMPLE.absolute()
    assert [c.id for c in config.creators] == ["daniel", "mia"]
    daniel = config.creator("daniel")
    assert daniel.replay is not None and daniel.replay.enabled
    assert daniel.replay.file == CONFIG_DIR / "example_chat.jsonl"
    assert daniel.replay.file.is_file()
    # Offline: no network source is enabled anywhere.
    for creator in config.creators:
        for name, source in creator.sources().items():
            if name != "replay":
                assert not (creator.enabled and source.enabled), (creator.id, name)
    actions = {t.action for t in daniel.triggers}
    assert {"reply", "poll_open", "poll_vote", "poll_close"} <= actions
    assert {"tally_increment", "tally_decrement", "score_add"} <= actions
    assert {t.kind for t in daniel.triggers} == {"command", "keyword", "regex"}


def test_example_chat_exercises_the_triggers() -> None:
    config = load_config(EXAMPLE, environ={})
    daniel = config.creator("daniel")
    assert daniel.replay is not None
    lines = daniel.replay.file.read_text(encoding="utf-8").splitlines()
    assert len(lines) >= 50
    events = [parse_chatlog_line(line) for line in lines]
    texts = [e["text"] for e in events]
    first_words = {t.split()[0] for t in texts}
    commands = {t.pattern for t in daniel.triggers if t.kind == "command"}
    commands |= {a for t in daniel.triggers for a in t.aliases}
    assert commands <= first_words  # every command is used at least once
    assert sum(t.startswith("!vote ") for t in texts) >= 5
    assert texts.index(next(t for t in texts if t.startswith("!poll "))) < texts.index("!endpoll")
    greeting = next(t for t in daniel.triggers if t.kind == "regex")
    assert greeting.regex is not None
    assert any(greeting.regex.search(t) for t in texts)
    times = [e["sent_at"] for e in events]
    assert times == sorted(times)


def test_defaults(write_config: Callable[[str], Path], tmp_path: Path) -> None:
    config = load_config(write_config(""), environ={})
    assert config.runtime.data_dir == tmp_path / "var"
    assert config.runtime.log_level == "info"
    assert config.runtime.shutdown_deadline == 10.0
    assert config.http.enabled and config.http.host == "127.0.0.1"
    assert config.http.port == 8765 and config.http.token is None
    assert config.exports.root == tmp_path / "var" / "exports" / "state"
    assert config.exports.heartbeat_seconds == 10.0
    assert config.creators == ()


def test_creator_defaults(write_config: Callable[[str], Path]) -> None:
    text = """
[[creators]]
id = "daniel"
[creators.kick]
channel = "daniel"
[[creators.triggers]]
id = "ping"
pattern = "!ping"
response = "pong"
"""
    creator = load_config(write_config(text), environ={}).creators[0]
    assert creator.display_name == "daniel" and creator.enabled
    assert creator.kick is not None
    assert creator.kick.app_key == "32cbd69e4b950bf97679" and creator.kick.cluster == "us2"
    trigger = creator.triggers[0]
    assert (trigger.kind, trigger.permission, trigger.action) == ("command", "everyone", "reply")
    assert trigger.cooldown_user == trigger.cooldown_trigger == trigger.cooldown_global == 0.0
    assert trigger.regex is None


def test_integers_are_accepted_for_floats(write_config: Callable[[str], Path]) -> None:
    config = load_config(write_config("[runtime]\nshutdown_deadline = 3\n"), environ={})
    assert config.runtime.shutdown_deadline == 3.0
    assert isinstance(config.runtime.shutdown_deadline, float)


def test_regex_compiled_case_insensitive_by_default(write_config: Callable[[str], Path]) -> None:
    text = """
[[creators]]
id = "d"
[creators.twitch]
channel = "d"
[[creators.triggers]]
id = "a"
kind = "regex"
pattern = "^hello"
response = "hi"
[[creators.triggers]]
id = "b"
kind = "regex"
pattern = "^Hello"
case_sensitive = true
response = "hi"
"""
    a, b = load_config(write_config(text), environ={}).creators[0].triggers
    assert a.regex is not None and a.regex.search("HELLO there")
    assert b.regex is not None and not b.regex.search("hello there")


def test_relative_paths_are_relative_to_the_file(
    write_config: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "chat.jsonl").write_text("")
    text = """
[runtime]
data_dir = "data"
[exports]
root = "../site/state"
[[exports.mirrors]]
path = "/srv/pages"
visibility = ["public", "dashboard-only"]
[[creators]]
id = "d"
[creators.replay]
file = "../logs/chat.jsonl"
"""
    path = write_config(text, name="conf/streamsuites.toml")
    monkeypatch.chdir(tmp_path / "logs")  # the current directory must not matter
    config = load_config(path, environ={})
    assert config.runtime.data_dir == tmp_path / "conf" / "data"
    assert config.exports.root == tmp_path / "site" / "state"
    assert config.exports.mirrors[0].path == Path("/srv/pages")
    assert config.exports.mirrors[0].visibility == ("public", "dashboard-only")
    replay = config.creators[0].replay
    assert replay is not None and replay.file == tmp_path / "logs" / "chat.jsonl"


def test_relative_config_path(
    write_config: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config('[runtime]\ndata_dir = "d"\n', name="sub/c.toml")
    monkeypatch.chdir(tmp_path)
    config = load_config("sub/c.toml", environ={})
    assert config.runtime.data_dir == tmp_path / "sub" / "d"
    assert config.source == tmp_path / "sub" / "c.toml"


def test_home_is_expanded(
    write_config: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config = load_config(write_config('[runtime]\ndata_dir = "~/ss"\n'), environ={})
    assert config.runtime.data_dir == tmp_path / "home" / "ss"


def test_loads_config_from_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = loads_config('[runtime]\ndata_dir = "x"\n', environ={})
    assert config.runtime.data_dir == tmp_path / "x"
    assert config.source is None
    with pytest.raises(ConfigError) as info:
        loads_config("[http]\nport = -1\n", environ={})
    assert str(info.value) == ("<config>: http.port: expected a number between 0 and 65535, got -1")


# --- overrides ------------------------------------------------------------------------------


def test_overrides_replace_file_values(
    write_config: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config('[runtime]\nlog_level = "info"\ndata_dir = "var"\n[http]\nport = 1\n')
    monkeypatch.chdir(tmp_path / "..")
    config = load_config(
        path,
        environ={},
        overrides={
            "runtime.log_level": "debug",
            "runtime.data_dir": "elsewhere",  # relative to the current directory
            "http.port": 9000,
            "http.host": "::1",
        },
    )
    assert config.runtime.log_level == "debug"
    assert config.runtime.data_dir == (tmp_path / ".." / "elsewhere").resolve()
    assert config.http.port == 9000 and config.http.host == "::1"
    # The state root follows data_dir when the file does not set it.
    assert config.exports.root == config.runtime.data_dir / "exports" / "state"


def test_overrides_none_means_not_given(write_config: Callable[[str], Path]) -> None:
    path = write_config("[http]\nport = 1234\n")
    config = load_config(path, environ={}, overrides={"http.port": None, "http.host": None})
    assert config.http.port == 1234 and config.http.host == "127.0.0.1"


def test_explicit_state_root_is_kept_on_data_dir_override(
    write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    path = write_config('[exports]\nroot = "pages"\n')
    config = load_config(path, environ={}, overrides={"runtime.data_dir": str(tmp_path / "x")})
    assert config.exports.root == tmp_path / "pages"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"http.port": 70000},
            "command line: http.port: expected a number between 0 and 65535, got 70000",
        ),
        ({"http.port": "80"}, "command line: http.port: expected an integer, got '80'"),
        (
            {"runtime.log_level": "verbose"},
            "command line: runtime.log_level: expected one of 'debug', 'info', 'warning', "
            "'error', 'critical', got 'verbose'",
        ),
        (
            {"runtime.log_levl": "info"},
            "command line: runtime.log_levl: unknown setting; did you mean 'log_level'?",
        ),
        ({"htp.port": 1}, "command line: htp: unknown setting; did you mean 'http'?"),
        (
            {"http.port.x": 1},
            "command line: http.port: cannot override inside this value",
        ),
    ],
)
def test_bad_overrides(
    write_config: Callable[[str], Path], overrides: dict[str, object], expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write_config(""), environ={}, overrides=overrides)
    assert str(info.value) == expected


def test_all_bad_overrides_reported(write_config: Callable[[str], Path]) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(
            write_config(""), environ={}, overrides={"http.port": -5, "runtime.log_level": "x"}
        )
    assert [p.key_path for p in info.value.problems] == ["http.port", "runtime.log_level"]


def test_models_are_frozen() -> None:
    config = Config()
    with pytest.raises(AttributeError):
        config.http = config.http  # type: ignore[misc]


def test_path_override_accepts_path_objects(
    write_config: Callable[[str], Path], tmp_path: Path
) -> None:
    config = load_config(
        write_config(""), environ={}, overrides={"runtime.data_dir": tmp_path / "p"}
    )
    assert config.runtime.data_dir == tmp_path / "p"
