"""Tests of runtime.pidfile: one instance per data folder, stale files replaced."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runtime.exit_codes import ExitCode, InitError, StartupError
from runtime.pidfile import AlreadyRunning, PidFile

# A child that takes the PID file, says so, and holds it until its stdin closes.
_HOLDER = textwrap.dedent(
    """
    import sys
    from runtime.pidfile import PidFile
    with PidFile(sys.argv[1]):
        print("held", flush=True)
        sys.stdin.read()
    """
)

# A child that tries to take the PID file and reports the outcome.
_CONTENDER = textwrap.dedent(
    """
    import sys
    from runtime.pidfile import AlreadyRunning, PidFile
    try:
        PidFile(sys.argv[1]).acquire()
    except AlreadyRunning as err:
        print(err.pid)
        sys.exit(int(err.exit_code))
    print("acquired")
    """
)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_acquire_writes_pid_and_release_removes(tmp_path: Path) -> None:
    path = tmp_path / "runtime.pid"
    with PidFile(path) as pidfile:
        assert pidfile.acquired
        assert path.read_text().strip() == str(os.getpid())
    assert not path.exists()
    assert not pidfile.acquired
    pidfile.release()  # twice is harmless


def test_second_acquire_in_same_process_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "runtime.pid"
    with PidFile(path):
        with pytest.raises(AlreadyRunning) as caught:
            PidFile(path).acquire()
        assert caught.value.pid == os.getpid()
        assert str(os.getpid()) in str(caught.value)
        assert isinstance(caught.value, StartupError)
        assert caught.value.exit_code == ExitCode.STARTUP
        # The refused attempt did not disturb the holder's file.
        assert path.read_text().strip() == str(os.getpid())
    assert not path.exists()


def test_subprocess_is_refused_while_we_hold_it(tmp_path: Path) -> None:
    path = tmp_path / "runtime.pid"
    with PidFile(path):
        result = subprocess.run(
            [sys.executable, "-c", _CONTENDER, str(path)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == ExitCode.STARTUP, result.stderr
    assert result.stdout.strip() == str(os.getpid())


def test_we_are_refused_while_a_subprocess_holds_it(tmp_path: Path) -> None:
    path = tmp_path / "runtime.pid"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(AlreadyRunning) as caught:
            PidFile(path).acquire()
        assert caught.value.pid == holder.pid
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    assert not path.exists()  # the holder cleaned up on exit
    with PidFile(path):
        pass


def test_file_left_by_killed_process_is_stale(tmp_path: Path) -> None:
    path = tmp_path / "runtime.pid"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait(timeout=30)
    assert path.read_text().strip() == str(holder.pid)  # left behind
    with PidFile(path):
        assert path.read_text().strip() == str(os.getpid())


def test_stale_file_with_dead_pid_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "runtime.pid"
    path.write_text(f"{_dead_pid()}\n")
    with PidFile(path):
        assert path.read_text().strip() == str(os.getpid())
    assert not path.exists()


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
def test_pid_of_an_unrelated_living_process_is_stale(tmp_path: Path) -> None:
    path = tmp_path / "runtime.pid"
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        path.write_text(f"{sleeper.pid}\n")
        with PidFile(path):
            assert path.read_text().strip() == str(os.getpid())
    finally:
        sleeper.kill()
        sleeper.wait()


def test_unlocked_file_naming_a_living_python_process_is_respected(tmp_path: Path) -> None:
    # A runtime whose lock we cannot see (a share without locking): refuse, the cautious side.
    path = tmp_path / "runtime.pid"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        path.write_text(f"{other.pid}\n")
        with pytest.raises(AlreadyRunning) as caught:
            PidFile(path).acquire()
        assert caught.value.pid == other.pid
        assert path.read_text().strip() == str(other.pid)
    finally:
        other.kill()
        other.wait()


@pytest.mark.parametrize(
    "content", [b"", b"garbage\n", b"\xff\xfe\x00binary", b"-5\n", b"0\n", b"99999999999999\n"]
)
def test_garbage_content_is_stale(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "runtime.pid"
    path.write_bytes(content)
    with PidFile(path):
        assert path.read_text().strip() == str(os.getpid())
    assert not path.exists()


def test_release_keeps_a_file_that_is_no_longer_ours(tmp_path: Path) -> None:
    path = tmp_path / "runtime.pid"
    pidfile = PidFile(path)
    pidfile.acquire()
    # Someone removed our file and another instance wrote its own.
    path.unlink()
    path.write_text("12345\n")
    pidfile.release()
    assert path.read_text() == "12345\n"


def test_missing_data_folder_is_an_init_error(tmp_path: Path) -> None:
    with pytest.raises(InitError, match="does not exist") as caught:
        PidFile(tmp_path / "missing" / "runtime.pid").acquire()
    assert caught.value.exit_code == ExitCode.INIT


def test_racing_subprocesses_have_exactly_one_winner(tmp_path: Path) -> None:
    path = tmp_path / "runtime.pid"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _HOLDER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    try:
        outcomes = []
        for racer in racers:
            assert racer.stdout is not None
            line = racer.stdout.readline().strip()
            outcomes.append(line)
        assert outcomes.count("held") == 1
    finally:
        for racer in racers:
            assert racer.stdin is not None
            racer.stdin.close()
            racer.wait(timeout=30)
            assert racer.stdout is not None and racer.stderr is not None
            racer.stdout.close()
            racer.stderr.close()
    losers = [r for r in racers if r.returncode != 0]
    assert len(losers) == 3
