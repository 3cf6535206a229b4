"""Every class of configuration error names the file, the key path and what was expected."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from config import ConfigError, load_config

TWITCH_CREATOR = """
[[creators]]
id = "daniel"
[creators.twitch]
channel = "daniel"
"""


def test_malformed_toml_names_line_and_column(write_config: Callable[[str], Path]) -> None:
    path = write_config('[runtime]\nlog_level = "info"\nport = \n')
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    (problem,) = info.value.problems
    assert (problem.line, problem.column) == (3, 8)
    assert problem.message == "invalid TOML: Invalid value"
    assert str(problem) == f"{path}:3:8: invalid TOML: Invalid value"


def test_unterminated_string(problems: Callable[..., list[str]]) -> None:
    (text,) = problems('[runtime]\n\nlog_level = "info\n')
    assert text.startswith("FILE:3:")
    assert "invalid TOML" in text


def test_wrong_type_names_key_path(problems: Callable[..., list[str]]) -> None:
    text = TWITCH_CREATOR + '\n[[creators]]\nid = "mia"\n[creators.twitch]\nchannel = 42\n'
    assert problems(text) == ["FILE: creators[1].twitch.channel: expected a string, got 42"]


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('[http]\nport = "8080"', "http.port: expected an integer, got '8080'"),
        ("[http]\nport = 80.5", "http.port: expected an integer, got 80.5"),
        ("[http]\nport = true", "http.port: expected an integer, got true"),
        ('[http]\nenabled = "false"', "http.enabled: expected true or false, got 'false'"),
        (
            '[runtime]\nshutdown_deadline = "10"',
            "runtime.shutdown_deadline: expected a number, got '10'",
        ),
        ("[runtime]\ndata_dir = 3", "runtime.data_dir: expected a path (a string), got 3"),
        ('runtime = "x"', "runtime: expected a table, got 'x'"),
        ("[[runtime]]", "runtime: expected a table, got an array"),
        ('creators = { id = "x" }', "creators: expected an array, got a table"),
        (
            "[exports]\nheartbeat_seconds = 1979-05-27",
            "exports.heartbeat_seconds: expected a number, got a date",
        ),
    ],
)
def test_wrong_types(problems: Callable[..., list[str]], toml: str, expected: str) -> None:
    assert problems(toml) == [f"FILE: {expected}"]


def test_string_is_not_split_into_a_list(problems: Callable[..., list[str]]) -> None:
    text = (
        TWITCH_CREATOR
        + """
[[creators.triggers]]
id = "ping"
pattern = "!ping"
aliases = "!p"
response = "pong"
"""
    )
    assert problems(text) == ["FILE: creators[0].triggers[0].aliases: expected an array, got '!p'"]


def test_unknown_key_suggests_the_closest(problems: Callable[..., list[str]]) -> None:
    text = '[[creators]]\nid = "daniel"\n[creators.twich]\nchannel = "daniel"\n'
    assert problems(text) == ["FILE: creators[0].twich: unknown key; did you mean 'twitch'?"]


def test_unknown_top_level_and_nested_keys(problems: Callable[..., list[str]]) -> None:
    text = '[runtme]\nlog_level = "info"\n[http]\nprot = 1\n'
    assert problems(text) == [
        "FILE: runtme: unknown key; did you mean 'runtime'?",
        "FILE: http.prot: unknown key; did you mean 'port'?",
    ]


def test_unknown_key_without_close_match_lists_valid_keys(
    problems: Callable[..., list[str]],
) -> None:
    assert problems("[http]\nzzz = 1\n") == [
        "FILE: http.zzz: unknown key (valid keys: enabled, host, port, token)"
    ]


def test_source_is_not_a_key(problems: Callable[..., list[str]]) -> None:
    (text,) = problems('source = "elsewhere.toml"\n')
    assert text.startswith("FILE: source: unknown key")


def test_missing_required_key(problems: Callable[..., list[str]]) -> None:
    text = '[[creators]]\nid = "daniel"\n[creators.twitch]\nnick = "bot"\n'
    assert problems(text) == ["FILE: creators[0].twitch.channel: required key is missing"]


def test_bad_choice_suggests(problems: Callable[..., list[str]]) -> None:
    assert problems('[runtime]\nlog_level = "inof"\n') == [
        "FILE: runtime.log_level: expected one of 'debug', 'info', 'warning', 'error', "
        "'critical', got 'inof'; did you mean 'info'?"
    ]


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            "[exports]\nheartbeat_seconds = 30",
            "exports.heartbeat_seconds: expected a number between 1 and 10, got 30",
        ),
        (
            "[exports]\nfile_mib_per_second = 0",
            "exports.file_mib_per_second: expected a number between 0.1 and 1024, got 0",
        ),
        ("[http]\nport = 70000", "http.port: expected a number between 0 and 65535, got 70000"),
        (
            "[runtime]\nshutdown_deadline = 0",
            "runtime.shutdown_deadline: expected a number greater than 0 and at most 600, got 0",
        ),
        (
            "[runtime]\nlog_file_backups = -1",
            "runtime.log_file_backups: expected a number between 0 and 100, got -1",
        ),
    ],
)
def test_out_of_range(problems: Callable[..., list[str]], toml: str, expected: str) -> None:
    assert problems(toml) == [f"FILE: {expected}"]


def test_out_of_range_in_a_creator(problems: Callable[..., list[str]], tmp_path: Path) -> None:
    (tmp_path / "chat.jsonl").write_text("")
    text = '[[creators]]\nid = "d"\n[creators.replay]\nfile = "chat.jsonl"\nspeed = 0\n'
    assert problems(text) == [
        "FILE: creators[0].replay.speed: expected a number greater than 0 and at most 1000, got 0"
    ]


def test_duplicate_creator_ids_name_both_positions(problems: Callable[..., list[str]]) -> None:
    text = '[[creators]]\nid = "a"\n[[creators]]\nid = "b"\n[[creators]]\nid = "a"\n'
    assert problems(text) == [
        "FILE: creators[2].id: duplicate creator id 'a' (already used by creators[0].id)"
    ]


def test_duplicate_trigger_ids_name_both_positions(problems: Callable[..., list[str]]) -> None:
    text = TWITCH_CREATOR + "".join(
        f'[[creators.triggers]]\nid = "{tid}"\npattern = "!{tid}"\nresponse = "x"\n'
        for tid in ("ping", "lurk", "ping")
    )
    assert problems(text) == [
        "FILE: creators[0].triggers[2].id: duplicate trigger id 'ping' "
        "(already used by creators[0].triggers[0].id)"
    ]


def test_bad_regex_names_the_pattern(problems: Callable[..., list[str]]) -> None:
    text = (
        TWITCH_CREATOR
        + """
[[creators.triggers]]
id = "ok"
kind = "regex"
pattern = "^hi"
response = "hello"

[[creators.triggers]]
id = "broken"
kind = "regex"
pattern = "(unclosed"
response = "x"
"""
    )
    assert problems(text) == [
        "FILE: creators[0].triggers[1].pattern: invalid regular expression: "
        "missing ), unterminated subpattern at position 0"
    ]


@pytest.mark.parametrize(
    ("trigger", "expected"),
    [
        (
            'id = "t"\npattern = "!a b"\nresponse = "x"',
            "triggers[0].pattern: a command is one word like '!ping', got '!a b'",
        ),
        ('id = "t"\npattern = "!a"', "triggers[0].response: action 'reply' needs a response"),
        (
            'id = "t"\npattern = "!a"\naction = "tally_increment"',
            "triggers[0].tally: action 'tally_increment' needs a tally id",
        ),
        (
            'id = "t"\npattern = "!a"\naction = "tally_increment"\ntally = "death"',
            "triggers[0].tally: tally 'death' is not declared in [[creators.tallies]]; "
            "did you mean 'deaths'?",
        ),
        (
            'id = "t"\npattern = "!a"\nresponse = "x"\ntally = "deaths"',
            "triggers[0].tally: not used by action 'reply' "
            "(only by tally_decrement, tally_increment, tally_reset)",
        ),
        (
            'id = "t"\npattern = "!a"\naction = "score_add"',
            "triggers[0].scoreboard: action 'score_add' needs a scoreboard id",
        ),
        (
            'id = "t"\npattern = "!a"\naction = "poll_open"\noptions = ["only"]',
            "triggers[0].options: a poll needs 2 to 10 options, got 1",
        ),
        (
            'id = "t"\npattern = "!a"\nresponse = "{user.__class__}"',
            "triggers[0].response: invalid template field {user.__class__}: "
            "use plain names like {user}",
        ),
        (
            'id = "t"\npattern = "!a"\nresponse = "{user"',
            "triggers[0].response: invalid template: expected '}' before end of string",
        ),
        (
            'id = "t"\npattern = "!a"\nresponse = "x"\naction = "replly"',
            "triggers[0].action: expected one of 'reply', 'poll_open', 'poll_vote', "
            "'poll_close', 'tally_increment', 'tally_decrement', 'tally_reset', 'score_add', "
            "'clip', 'points_show', 'points_give', 'points_add', 'points_top', 'quote_add', "
            "'quote_show', 'quote_delete', 'giveaway_open', 'giveaway_join', 'giveaway_draw', "
            "'giveaway_close', got 'replly'; did you mean 'reply'?",
        ),
        (
            'id = "T!"\npattern = "!a"\nresponse = "x"',
            "triggers[0].id: expected an id of a-z, 0-9, '_', '-', got 'T!'",
        ),
        (
            'id = "t"\nkind = "regex"\npattern = "a"\naliases = ["b"]\nresponse = "x"',
            "triggers[0].aliases: regex triggers take no aliases: use '|'",
        ),
    ],
)
def test_trigger_validation(
    problems: Callable[..., list[str]], trigger: str, expected: str
) -> None:
    text = TWITCH_CREATOR + (
        f'[[creators.tallies]]\nid = "deaths"\nlabel = "Deaths"\n[[creators.triggers]]\n{trigger}\n'
    )
    assert problems(text) == [f"FILE: creators[0].{expected}"]


def test_youtube_needs_video_or_channel(problems: Callable[..., list[str]]) -> None:
    text = '[[creators]]\nid = "d"\n[creators.youtube]\napi_key = { env = "YT_KEY" }\n'
    assert problems(text, environ={"YT_KEY": "k"}) == [
        "FILE: creators[0].youtube.video_id: set video_id or channel_id (one is required)"
    ]


def test_mirror_visibility(problems: Callable[..., list[str]]) -> None:
    text = '[[exports.mirrors]]\npath = "site"\nvisibility = ["public", "dashbord-only"]\n'
    assert problems(text) == [
        "FILE: exports.mirrors[0].visibility[1]: expected one of 'public', 'dashboard-only', "
        "'internal-only', got 'dashbord-only'; did you mean 'dashboard-only'?"
    ]


def test_several_problems_reported_together(problems: Callable[..., list[str]]) -> None:
    text = '[runtime]\ndata_dir = 1\n[http]\nport = "x"\nhots = "a"\n'
    assert problems(text) == [
        "FILE: runtime.data_dir: expected a path (a string), got 1",
        "FILE: http.port: expected an integer, got 'x'",
        "FILE: http.hots: unknown key; did you mean 'host'?",
    ]


def test_missing_replay_file(problems: Callable[..., list[str]], tmp_path: Path) -> None:
    text = '[[creators]]\nid = "d"\n[creators.replay]\nfile = "nope.jsonl"\n'
    assert problems(text) == [
        f"FILE: creators[0].replay.file: no such file: {tmp_path / 'nope.jsonl'}"
    ]


def test_missing_replay_file_is_fine_when_disabled(write_config: Callable[[str], Path]) -> None:
    path = write_config(
        '[[creators]]\nid = "d"\n[creators.replay]\nfile = "nope.jsonl"\nenabled = false\n'
    )
    assert load_config(path, environ={}).creators[0].replay is not None


def test_file_not_found(tmp_path: Path) -> None:
    path = tmp_path / "missing.toml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: file not found"
    assert info.value.exit_code == 1


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert str(info.value) == f"{tmp_path}: is a folder, not a file"


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[runtime]\nlog_level = "\xff"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}:2:14: not UTF-8 text"


def test_large_numbers_are_written_in_full(problems: Callable[..., list[str]]) -> None:
    assert problems("[runtime]\nlog_file_max_bytes = 100\n") == [
        "FILE: runtime.log_file_max_bytes: expected a number between 1024 and 1073741824, got 100"
    ]
    assert problems("[exports]\nheartbeat_seconds = 0.5\n") == [
        "FILE: exports.heartbeat_seconds: expected a number between 1 and 10, got 0.5"
    ]
