"""`python -m runtime check` refuses whatever `run` would refuse, and no bad input prints a
traceback (run in-process through `runtime.cli.main`: these fail before anything starts)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runtime.cli import main

BAD_CONFIGS = {
    "public-mirror-with-internal-files": (
        '[[exports.mirrors]]\npath = "mirror"\nvisibility = ["public", "internal-only"]\n',
        r"exports.mirrors[0].visibility: mirror .* a public mirror cannot receive internal-only",
    ),
    "mirror-in-the-state-root": (
        '[runtime]\ndata_dir = "data"\n[[exports.mirrors]]\npath = "data/exports/state"\n',
        "exports.mirrors: the state root and every mirror must be distinct folders",
    ),
    "twitch-events-without-a-broadcaster-account": (
        '[[creators]]\nid = "d"\n[creators.twitch]\nchannel = "d"\nevents = ["raid"]\n',
        "creators[0].twitch.broadcaster_account: events need broadcaster_account",
    ),
    "chat-over-eventsub-without-an-account": (
        '[[creators]]\nid = "d"\n[creators.twitch]\nchannel = "d"\ntransport = "eventsub"\n',
        'creators[0].twitch.account: transport = "eventsub" needs account',
    ),
    "toml-nested-100000-deep": ("a = " + "[" * 100_000 + "]" * 100_000 + "\n", "nested too deeply"),
    "toml-integer-of-5000-digits": ("[http]\nport = " + "9" * 5000 + "\n", "thousands of digits"),
    "toml-integer-of-4000-digits": (
        "[http]\nport = " + "9" * 4000 + "\n",
        "http.port: expected a number between 0 and 65535, got an integer of about 4001 digits",
    ),
}


@pytest.mark.parametrize("command", ["check", "run"])
@pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
def test_check_and_run_refuse_the_same_bad_configs_without_a_traceback(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    command: str,
) -> None:
    text, expected = BAD_CONFIGS[name]
    config = tmp_path / "runtime.toml"
    config.write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code = main([command, "--config", str(config)])
    out, err = capsys.readouterr()
    assert code == 1, err
    assert "Traceback" not in out + err and len(err) < 500
    assert all(part in err for part in expected.split(".*")), err


def test_status_names_a_runtime_that_serves_no_http(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `[http] enabled = false`: a PID file naming a live runtime-like process, no http.json.
    (tmp_path / "runtime.pid").write_text(f"{os.getpid()}\n")
    code = main(["status", "--data-dir", str(tmp_path)])
    _out, err = capsys.readouterr()
    assert code == 3
    assert f"(PID {os.getpid()}) serves no status" in err


def test_status_reads_the_config_without_resolving_its_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STREAMSUITES_ABSENT_TOKEN", raising=False)
    config = tmp_path / "runtime.toml"
    config.write_text(
        '[runtime]\ndata_dir = "d"\n[http]\ntoken = { env = "STREAMSUITES_ABSENT_TOKEN" }\n'
    )
    code = main(["status", "--config", str(config)])
    _out, err = capsys.readouterr()
    assert code == 3 and err.strip() == f"no runtime is running on data folder {tmp_path / 'd'}"


def test_exit_now_keeps_the_exit_code_and_flushes_the_logs_and_stdout(tmp_path: Path) -> None:
    log_file = tmp_path / "run.log"
    # A handler that writes only when flushed or closed: what `exit_now` must not lose.
    script = textwrap.dedent(
        f"""
        import logging, logging.handlers
        from runtime.cli import exit_now
        target = logging.FileHandler({str(log_file)!r})
        logging.getLogger().addHandler(logging.handlers.MemoryHandler(100, target=target))
        logging.getLogger().warning("the last line")
        print("to stdout", end="")
        exit_now(4)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert done.returncode == 4, done.stderr
    assert done.stdout == "to stdout"
    assert log_file.read_text() == "the last line\n"
