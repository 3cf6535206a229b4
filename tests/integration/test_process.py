"""The real process: `python -m runtime ...` started as a subprocess, driven from outside.

Each test that needs a running instance starts its own (about a second); configurations are
written into `tmp_path` beside a copy of the example chat log, which replays at the highest
speed the configuration allows. The triggers here carry no cooldowns so that the counts after
the replay do not depend on how fast the machine replays.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import apsw
import attrs
import httpx
import pytest

from actors.triggers.engine import SIGNAL_FLUSH_SECONDS
from exports.schemas import validate
from runtime.cli import main
from state.counters import get_tally

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_CHAT = REPO / "config" / "example_chat.jsonl"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 8.0

# The table of ../shared/docs/exports.md: every file the runtime always writes.
EXPORT_FILES = (
    "runtime_snapshot.json",
    "quotas.json",
    "jobs.json",
    "clips.json",
    "polls.json",
    "tallies.json",
    "scoreboards.json",
    "discord/runtime.json",
    "telemetry/events.json",
    "telemetry/errors.json",
    "telemetry/rates.json",
    "chat_events.json",
    "poll_votes.json",
    "tally_events.json",
    "score_events.json",
    "creators.json",
    "chat_triggers.json",
    "rate_limits.json",
    "integrations.json",
    "permissions.json",
    "meta.json",
)

needs_signals = pytest.mark.skipif(
    sys.platform == "win32", reason="POSIX signals (Windows stops with Ctrl-Break)"
)


# --------------------------------------------------------------------------- configuration


def config_text(
    *,
    token_env: str | None = None,
    pseudonym_env: str | None = None,
    heartbeat: float = 1,
    deadline: float = 5,
) -> str:
    """A one-creator configuration that replays `chat.jsonl` into the example's triggers."""
    http_token = f'token = {{ env = "{token_env}" }}' if token_env else ""
    key = f'pseudonym_key = {{ env = "{pseudonym_env}" }}' if pseudonym_env else ""
    return f"""
[runtime]
data_dir = "data"
shutdown_deadline = {deadline}

[http]
host = "127.0.0.1"
port = 0
{http_token}

[exports]
heartbeat_seconds = {heartbeat}
{key}

[[creators]]
id = "daniel"
display_name = "Daniel"

[creators.replay]
file = "chat.jsonl"
speed = 1000.0

[[creators.tallies]]
id = "deaths"
label = "Deaths"

[[creators.tallies]]
id = "gg"
label = "GGs in chat"

[[creators.scoreboards]]
id = "trivia"
title = "Trivia"

[[creators.triggers]]
id = "ping"
pattern = "!ping"
response = "pong, {{user}}!"

[[creators.triggers]]
id = "poll-open"
pattern = "!poll"
permission = "moderator"
action = "poll_open"
response = "Poll: {{question}} {{options}}"

[[creators.triggers]]
id = "poll-vote"
pattern = "!vote"
action = "poll_vote"

[[creators.triggers]]
id = "poll-close"
pattern = "!endpoll"
permission = "moderator"
action = "poll_close"
response = "Poll closed: {{winner}} wins with {{votes}} votes."

[[creators.triggers]]
id = "death"
pattern = "!death"
permission = "moderator"
action = "tally_increment"
tally = "deaths"
response = "Deaths this stream: {{count}}"

[[creators.triggers]]
id = "undeath"
pattern = "!undeath"
permission = "moderator"
action = "tally_decrement"
tally = "deaths"

[[creators.triggers]]
id = "gg"
kind = "keyword"
pattern = "gg"
action = "tally_increment"
tally = "gg"

[[creators.triggers]]
id = "trivia-point"
pattern = "!point"
permission = "moderator"
action = "score_add"
scoreboard = "trivia"
points = 1
"""


def write_config(folder: Path, text: str | None = None, name: str = "runtime.toml") -> Path:
    """Write `text` (default: `config_text()`) and a copy of the example chat into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "chat.jsonl").write_bytes(EXAMPLE_CHAT.read_bytes())
    path = folder / name
    path.write_text(config_text() if text is None else text, encoding="utf-8")
    return path


def chat_log() -> list[dict[str, Any]]:
    """The example chat, one dict per line."""
    return [json.loads(line) for line in EXAMPLE_CHAT.read_text("utf-8").splitlines() if line]


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without STREAMSUITES_* variables, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMSUITES_")}
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 20
) -> subprocess.CompletedProcess[str]:
    """Run `python -m runtime <args>` to completion; output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "runtime", *args],
        cwd=REPO,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@attrs.frozen
class CliResult:
    """What a CLI command returned and printed."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., CliResult]:
    """Run `runtime.cli.main(args)` in this process, for commands that fail or finish before
    the runtime configures logging or starts trio (config errors, `check`, `init`): the same
    exit code and output as the process, without a second of interpreter start-up each."""

    def run(*args: str, env: dict[str, str] | None = None) -> CliResult:
        for name in [k for k in os.environ if k.startswith("STREAMSUITES_")]:
            monkeypatch.delenv(name)
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return CliResult(returncode=int(code), stdout=out, stderr=err)

    return run


# ------------------------------------------------------------------------------- processes


@attrs.define
class Running:
    """A started `runtime run` process."""

    proc: subprocess.Popen[bytes]
    base_url: str
    data_dir: Path
    config: Path
    stderr_path: Path
    env: dict[str, str]

    @property
    def exports(self) -> Path:
        return self.data_dir / "exports" / "state"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "logs" / "runtime.log"

    def stderr(self) -> str:
        return self.stderr_path.read_text("utf-8", errors="replace")

    def wait(self, timeout: float = STOP_TIMEOUT) -> int:
        return self.proc.wait(timeout=timeout)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, step: float = 0.05) -> Any:
    """Poll `predicate` until it returns something truthy; fail naming `what` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate, then kill, a process that is still running."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    """Start `runtime run` processes; every one is terminated (or killed) at teardown."""
    started: list[subprocess.Popen[bytes]] = []

    def start(
        config: Path,
        *,
        env: dict[str, str] | None = None,
        args: tuple = (),
        data_dir: Path | None = None,
    ) -> Running:
        env = env or clean_env()
        if data_dir is not None:
            args = (*args, "--data-dir", str(data_dir))
        data_dir = data_dir or config.parent / "data"
        stderr_path = config.parent / f"stderr-{len(started)}.txt"
        with open(stderr_path, "wb") as err:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "runtime",
                    "run",
                    "--config",
                    str(config),
                    "--port",
                    "0",
                    *args,
                ],
                cwd=REPO,
                env=env,
                stdout=err,
                stderr=subprocess.STDOUT,
            )
        started.append(proc)
        announce = data_dir / "http.json"

        def ready() -> dict[str, Any] | None:
            if proc.poll() is not None:
                output = stderr_path.read_text("utf-8", errors="replace")
                pytest.fail(f"runtime exited with {proc.returncode} before it was up:\n{output}")
            try:
                found = json.loads(announce.read_text("utf-8"))
            except (OSError, ValueError):
                return None
            # A killed earlier instance leaves its file behind: wait for this one's.
            return found if found.get("pid") == proc.pid else None

        found = wait_for(ready, START_TIMEOUT, f"{announce}")
        base_url = f"http://{found['host']}:{found['port']}"

        def tree_started() -> bool:
            # /status answers while the creators still start; the tests begin once they have.
            ready()  # fails the test at once if the process exited
            try:
                body = httpx.get(f"{base_url}/status", timeout=5).json()
            except httpx.HTTPError:
                return False
            return not any(d["state"] == "starting" for d in body["degraded"])

        wait_for(tree_started, START_TIMEOUT, "every component started")
        return Running(
            proc=proc,
            base_url=base_url,
            data_dir=data_dir,
            config=config,
            stderr_path=stderr_path,
            env=env,
        )

    yield start
    for proc in started:
        _stop(proc)


@pytest.fixture
def running(tmp_path: Path, launch: Callable[..., Running]) -> Running:
    """One instance with the default test configuration (no token, no configured key)."""
    return launch(write_config(tmp_path / "site"))


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text("utf-8"))


def replay_finished(run: Running) -> bool:
    """Whether the replay has played every line (and the engine had time to record it)."""
    try:
        snapshot = read_json(run.exports / "runtime_snapshot.json")
    except (OSError, ValueError):
        return False
    return snapshot["replay"]["event_count"] == len(chat_log()) and not snapshot["replay"]["active"]


# ------------------------------------------------------------------------ start and exports


def test_start_serves_status_and_writes_every_export_file_valid(running: Running) -> None:
    response = httpx.get(f"{running.base_url}/status", timeout=5)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    paths = {row["path"] for row in body["components"]}
    assert {"root/store", "root/publisher", "root/http"} <= paths

    for name in EXPORT_FILES:
        path = running.exports / name
        assert path.is_file(), f"{name} missing under {running.exports}"
        validate(name, read_json(path))


def test_runtime_snapshot_lists_the_tree_and_its_heartbeat_moves(running: Running) -> None:
    snapshot_path = running.exports / "runtime_snapshot.json"
    wanted = {
        "store",
        "publisher",
        "http",
        "creators",
        "creators/creator:daniel",
        "creators/creator:daniel/triggers",
        "creators/creator:daniel/replay",
    }
    # The first file is written while the tree is still starting; the whole tree is in it
    # at the latest one heartbeat later.

    def whole_tree() -> dict[str, Any] | None:
        doc = read_json(snapshot_path)
        return doc if wanted <= {r["path"] for r in doc["actors"]} else None

    first = wait_for(
        whole_tree,
        3.0,
        "the whole tree in runtime_snapshot.json",
    )
    assert all(r["state"] == "running" for r in first["actors"] if r["path"] in wanted)
    # heartbeat_seconds = 1: a new heartbeat within about a second (with slack for CI).
    later = wait_for(
        lambda: (doc := read_json(snapshot_path))["heartbeat"] != first["heartbeat"] and doc,
        4.0,
        "a new heartbeat in runtime_snapshot.json",
    )
    validate("runtime_snapshot.json", later)


def test_replay_moves_tallies_polls_and_scores(running: Running) -> None:
    wait_for(lambda: replay_finished(running), 10, "the end of the replay")

    # Counters are committed before the replay's next line is sent; give the debounced publish
    # a moment to land.
    def tallies() -> dict[str, int] | None:
        counts = {
            t["tally_id"]: t["count"]
            for t in read_json(running.exports / "tallies.json")["tallies"]
        }
        return counts if counts == {"deaths": 1, "gg": 6} else None

    wait_for(tallies, 5, "tallies deaths=1 (2 !death, 1 !undeath) and gg=6")

    polls = read_json(running.exports / "polls.json")["polls"]
    assert len(polls) == 1
    (poll,) = polls
    assert poll["question"] == "Next boon?"
    assert poll["state"] == "closed"
    # Ten votes from nine chatters: PixelPanda changed from Artemis to Zeus.
    assert {o["label"]: o["votes"] for o in poll["options"]} == {
        "Zeus": 3,
        "Artemis": 4,
        "Ares": 2,
    }
    assert poll["total_votes"] == 9
    text = json.dumps(poll)
    for row in chat_log():
        assert row["user_id"] not in text
        if row["login"] != "daniel":  # the broadcaster's login is the creator's id
            assert row["login"] not in text.lower()

    # The replies go back to the replay, which logs them: the winner's votes, not the total.
    assert "Poll closed: Artemis wins with 4 votes." in running.log_file.read_text("utf-8")

    (board,) = read_json(running.exports / "scoreboards.json")["scoreboards"]
    assert sorted(e["score"] for e in board["entries"]) == [1, 1, 1]
    # Data & Signals names scoreboards by `name`.
    (item,) = read_json(running.exports / "scoreboards.json")["items"]
    assert item["name"] == "Trivia"

    # The replay's platform entry counts the triggers its messages fired; the rates have it.
    def replay_entry() -> dict[str, Any] | None:
        snapshot = read_json(running.exports / "runtime_snapshot.json")
        entry = next(p for p in snapshot["platforms"] if p["platform"] == "replay")
        return entry if entry["counters"]["triggers"] > 0 else None

    entry = wait_for(replay_entry, 5, "the replay's triggers counted")
    assert entry["counters"]["messages"] == len(chat_log())

    # Written by the same publish, after runtime_snapshot.json (files are replaced one by one).
    def rates_keys() -> set[str] | None:
        metrics = read_json(running.exports / "telemetry/rates.json")["metrics"]
        keys = {m["key"] for m in metrics}
        return keys if {"messages.replay", "actions.replay"} <= keys else None

    wait_for(rates_keys, 15, "the replay's rates published")


def test_a_killed_and_restarted_process_does_not_count_the_replay_again(
    tmp_path: Path, launch: Callable[..., Running]
) -> None:
    config = write_config(tmp_path / "site")
    first = launch(config)

    def finished_runs() -> int:
        try:
            return first.log_file.read_text("utf-8").count("replay finished")
        except OSError:
            return 0

    wait_for(lambda: finished_runs() == 1, 10, "the end of the first replay")
    first.proc.kill()  # no graceful stop: what was committed is all there is
    first.wait()
    second = launch(config)
    wait_for(lambda: finished_runs() == 2, 10, "the second run's replay to finish")
    second.proc.terminate()
    second.wait()
    conn = apsw.Connection(str(second.data_dir / "state" / "runtime.sqlite3"))
    try:
        tallies = dict(conn.execute("SELECT tally_id, count FROM tallies"))
        polls = conn.execute("SELECT count(*) FROM polls").get
    finally:
        conn.close()
    assert tallies == {"deaths": 1, "gg": 6}  # as the log says, however often it restarts
    assert polls == 1


def test_exports_hold_no_raw_user_ids_logins_or_secrets(
    tmp_path: Path, launch: Callable[..., Running]
) -> None:
    token = "tok-" + secrets.token_hex(16)
    key = "key-" + secrets.token_hex(16)
    env = clean_env(STREAMSUITES_TEST_TOKEN=token, STREAMSUITES_TEST_KEY=key)
    config = write_config(
        tmp_path / "site",
        config_text(token_env="STREAMSUITES_TEST_TOKEN", pseudonym_env="STREAMSUITES_TEST_KEY"),
    )
    run = launch(config, env=env)
    wait_for(lambda: replay_finished(run), 10, "the end of the replay")
    # Make sure the chat signals (flushed within SIGNAL_FLUSH_SECONDS) are in the published file.
    wait_for(
        lambda: len(read_json(run.exports / "chat_events.json")["items"]) == len(chat_log()),
        SIGNAL_FLUSH_SECONDS + 5,
        "every chat message in chat_events.json",
    )
    # One authenticated request, so the token has been presented to the process at least once.
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{run.base_url}/actors", headers=headers, timeout=5).status_code == 200

    chat_events = (run.exports / "chat_events.json").read_text("utf-8")
    for row in chat_log():
        assert row["user_id"] not in chat_events, f"raw user id {row['user_id']} exported"
        if row["login"] == "daniel":
            continue  # the broadcaster: the creator's own id, public by nature
        for name in (row["login"], row["display_name"]):
            assert not re.search(rf"\b{re.escape(name)}\b", chat_events, re.IGNORECASE), (
                f"chatter {name!r} in chat_events.json"
            )

    exported = [p for p in run.exports.rglob("*") if p.is_file()]
    assert len(exported) >= len(EXPORT_FILES)
    for path in [*exported, run.log_file]:
        content = path.read_text("utf-8", errors="replace")
        assert token not in content, f"http token in {path}"
        assert key not in content, f"pseudonym key in {path}"
    assert token not in run.stderr() and key not in run.stderr()


# ---------------------------------------------------------------------------------- signals


@needs_signals
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_cleanly_and_removes_pid_and_http_files(
    running: Running, signum: signal.Signals
) -> None:
    assert (running.data_dir / "runtime.pid").read_text().strip() == str(running.proc.pid)
    running.proc.send_signal(signum)
    assert running.wait() == 0, running.stderr()
    assert not (running.data_dir / "runtime.pid").exists()
    assert not (running.data_dir / "http.json").exists()
    log = running.log_file.read_text("utf-8")
    # The process's own lines reach the log file (JSON lines), not only the actors'.
    events = [json.loads(line)["event"] for line in log.splitlines()]
    assert {"runtime started", "shutting down", "stopped cleanly"} <= set(events)


@needs_signals
def test_second_signal_forces_the_stop(running: Running) -> None:
    # Two different signals: trio coalesces repeats of one signal that arrive before it reads.
    running.proc.send_signal(signal.SIGTERM)
    running.proc.send_signal(signal.SIGINT)
    assert running.wait(timeout=3) == 0, running.stderr()
    assert not (running.data_dir / "runtime.pid").exists()
    assert "second signal" in running.log_file.read_text("utf-8")


FLOOD_DEADLINE = 2.0
#: Creators flooding the one store at once (each its own engine and replay).
FLOOD_CREATORS = ("daniel", *(f"flood-{n}" for n in range(7)))


def flood_chat(lines: int = 600) -> str:
    """A chat log of one instant: replayed with no gap at all, looped, it floods the engine
    with replies (`!ping`), tally writes (`!death`, `gg`) and plain chat."""
    texts = [("!ping", []), ("!death", ["moderator"]), ("gg wp", []), ("hello", [])]
    rows = []
    for n in range(lines):
        text, roles = texts[n % len(texts)]
        rows.append(
            json.dumps(
                {
                    "platform": "replay",
                    "channel": "daniel",
                    "message_id": f"flood-{n}",
                    "user_id": str(40200000 + n % 50),
                    "login": f"viewer{n % 50}",
                    "display_name": f"Viewer{n % 50}",
                    "text": text,
                    "sent_at": "2026-11-21T18:00:00.000Z",
                    "roles": roles,
                    "raw_type": "PRIVMSG",
                }
            )
        )
    return "\n".join(rows) + "\n"


def database_tallies(data_dir: Path) -> dict[tuple[str, str], int]:
    """Every tally committed, by (creator, tally)."""
    path = data_dir / "state" / "runtime.sqlite3"
    conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        found = {(c, t): get_tally(conn, c, t) for c in FLOOD_CREATORS for t in ("deaths", "gg")}
    finally:
        conn.close()
    return {key: tally.count for key, tally in found.items() if tally is not None}


@needs_signals
@pytest.mark.parametrize("attempt", range(4))
def test_sigterm_under_a_chat_flood_stops_within_the_deadline_with_exports_current(
    tmp_path: Path, launch: Callable[..., Running], attempt: int
) -> None:
    text = config_text(deadline=FLOOD_DEADLINE).replace(
        "speed = 1000.0", "speed = 1000.0\nloop = true"
    )
    # More creators, more engines flooding the one store at once.
    head, _, creator = text.partition("[[creators]]")
    text = head + "".join(
        "[[creators]]" + creator.replace('"daniel"', f'"{name}"', 1) for name in FLOOD_CREATORS
    )
    config = write_config(tmp_path / "site", text)
    (config.parent / "chat.jsonl").write_text(flood_chat(), encoding="utf-8")
    run = launch(config)

    def flooding() -> bool:
        try:
            return database_tallies(run.data_dir).get(("daniel", "gg"), 0) >= 100
        except apsw.Error:
            return False

    wait_for(flooding, 20, "the flood to reach the store")
    sent = time.monotonic()
    run.proc.send_signal(signal.SIGTERM)
    code = run.wait(timeout=FLOOD_DEADLINE + 10)
    took = time.monotonic() - sent
    lines = [json.loads(line) for line in run.log_file.read_text("utf-8").splitlines()]
    dropped = Counter(line.get("path") for line in lines if "dead letter" in line["event"])
    exported = {
        (t["creator_id"], t["tally_id"]): t["count"]
        for t in read_json(run.exports / "tallies.json")["tallies"]
    }
    committed = database_tallies(run.data_dir)
    print(
        f"SIGTERM to exit: {took:.2f} s (deadline {FLOOD_DEADLINE} s); "
        f"dead-letter lines {sum(dropped.values())}; "
        f"tallies exported {sum(exported.values())}, committed {sum(committed.values())}"
    )
    assert code == 0, run.stderr()
    assert took <= FLOOD_DEADLINE, f"SIGTERM to exit took {took:.2f} s"
    # Dropped messages are counted and said once per actor, not once per message.
    assert all(n == 1 for n in dropped.values()), dropped
    # What was committed is what the exports show: the stop published once more.
    assert exported == committed


# ------------------------------------------------------------------------------ control API


def test_control_api_requires_the_token_and_restarts_an_actor(
    tmp_path: Path, launch: Callable[..., Running]
) -> None:
    token = "tok-" + secrets.token_hex(16)
    wrong = "tok-" + secrets.token_hex(16)
    config = write_config(tmp_path / "site", config_text(token_env="STREAMSUITES_TEST_TOKEN"))
    run = launch(config, env=clean_env(STREAMSUITES_TEST_TOKEN=token))
    url = run.base_url
    with httpx.Client(timeout=5) as client:
        assert client.get(f"{url}/actors").status_code == 401
        answer = client.get(f"{url}/actors", headers={"Authorization": f"Bearer {wrong}"})
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == "Bearer"
        path = "creators/creator:daniel/triggers"
        refused = client.post(
            f"{url}/actors/{path}/restart", headers={"Authorization": f"Bearer {wrong}"}
        )
        assert refused.status_code == 401

        auth = {"Authorization": f"Bearer {token}"}
        tree = client.get(f"{url}/actors", headers=auth)
        assert tree.status_code == 200
        rows = {row["path"]: row for row in tree.json()["actors"]}
        assert rows[f"root/{path}"]["restarts"] == 0

        restarted = client.post(f"{url}/actors/{path}/restart", headers=auth)
        assert restarted.status_code == 200, restarted.text
        assert restarted.json() == {"restarted": f"root/{path}"}

        def restarted_and_running() -> bool:
            rows = {
                r["path"]: r for r in client.get(f"{url}/actors", headers=auth).json()["actors"]
            }
            row = rows[f"root/{path}"]
            return row["restarts"] == 1 and row["state"] == "running"

        wait_for(restarted_and_running, 5, "the engine restarted and running again")
        assert client.post(f"{url}/actors/creators/nobody/restart", headers=auth).status_code == 404
        assert client.get(f"{url}/status").status_code == 200

    log = run.log_file.read_text("utf-8")
    assert "unauthorized request" in log
    assert token not in log and wrong not in log
    assert token not in run.stderr() and wrong not in run.stderr()


def test_restarting_the_http_server_through_its_own_api_brings_it_back_where_http_json_says(
    tmp_path: Path, launch: Callable[..., Running]
) -> None:
    token = "tok-" + secrets.token_hex(16)
    config = write_config(tmp_path / "site", config_text(token_env="STREAMSUITES_TEST_TOKEN"))
    run = launch(config, env=clean_env(STREAMSUITES_TEST_TOKEN=token))
    auth = {"Authorization": f"Bearer {token}"}
    announce = run.data_dir / "http.json"
    first = json.loads(announce.read_text("utf-8"))["port"]
    answer = httpx.post(f"{run.base_url}/actors/http/restart", headers=auth, timeout=5)
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"restarting": "root/http"}

    def back() -> dict[str, Any] | None:
        try:
            found = json.loads(announce.read_text("utf-8"))
            url = f"http://{found['host']}:{found['port']}"
            rows = httpx.get(f"{url}/actors", headers=auth, timeout=2).json()["actors"]
        except (OSError, ValueError, KeyError, httpx.HTTPError):
            return None
        row = {r["path"]: r for r in rows}["root/http"]
        return row if row["restarts"] == 1 and row["state"] == "running" else None

    row = wait_for(back, 10, "the HTTP server restarted, named by http.json")
    assert row["last_error"] is None
    # Port 0 in the configuration: a fresh one, and the old one is closed.
    port = json.loads(announce.read_text("utf-8"))["port"]
    if port != first:
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{first}/status", timeout=2)
    assert run.proc.poll() is None


def test_control_routes_answer_403_when_no_token_is_configured(running: Running) -> None:
    with httpx.Client(timeout=5) as client:
        assert client.get(f"{running.base_url}/actors").status_code == 403
        answer = client.post(
            f"{running.base_url}/actors/creators/creator:daniel/triggers/restart",
            headers={"Authorization": "Bearer anything-at-all"},
        )
        assert answer.status_code == 403
        assert client.get(f"{running.base_url}/status").status_code == 200


def test_status_command_reports_a_running_instance(running: Running) -> None:
    result = run_cli("status", "--config", str(running.config), env=running.env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")
    assert "root/store" in result.stdout


def test_status_command_without_an_instance_says_so_and_exits_3(tmp_path: Path) -> None:
    config = write_config(tmp_path, config_text().replace("port = 0", "port = 1"))
    result = run_cli("status", "--config", str(config), "--timeout", "2")
    assert result.returncode == 3
    assert result.stderr.strip() == f"no runtime is running on data folder {tmp_path / 'data'}"


def test_status_finds_an_instance_by_its_data_dir_and_needs_no_secrets(
    tmp_path: Path, launch: Callable[..., Running]
) -> None:
    config = write_config(tmp_path / "site", config_text(token_env="STREAMSUITES_TEST_TOKEN"))
    elsewhere = tmp_path / "elsewhere"
    run = launch(config, env=clean_env(STREAMSUITES_TEST_TOKEN="t" * 32), data_dir=elsewhere)
    # The calling shell has no STREAMSUITES_TEST_TOKEN: status reads only the data folder.
    by_dir = run_cli("status", "--data-dir", str(elsewhere))
    assert by_dir.returncode == 0, by_dir.stderr
    assert by_dir.stdout.startswith("ok") and f"PID {run.proc.pid}" in by_dir.stdout
    # The configuration's own data folder ("data") holds no instance.
    by_config = run_cli("status", "--config", str(config))
    assert by_config.returncode == 3, by_config.stderr
    assert "no runtime is running on data folder" in by_config.stderr


def test_status_refuses_another_process_answering_on_the_instances_port(
    tmp_path: Path, running: Running
) -> None:
    # A data folder whose http.json names a port another instance took over since.
    other = tmp_path / "other"
    other.mkdir()
    found = read_json(running.data_dir / "http.json")
    found["instance"] = "0123456789abcdef"
    (other / "http.json").write_text(json.dumps(found), encoding="utf-8")
    result = run_cli("status", "--data-dir", str(other))
    assert result.returncode == 3
    assert "is not the runtime of data folder" in result.stderr and result.stdout == ""


def test_status_into_a_closed_pipe_is_no_traceback(running: Running) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `status | head -1` once head has exited
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "runtime", "status", "--data-dir", str(running.data_dir)],
            cwd=REPO,
            env=running.env,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=20,
        )
    finally:
        os.close(write_end)
    assert proc.returncode == 0 and "BrokenPipeError" not in proc.stderr, proc.stderr


def test_status_without_config_or_data_dir_is_a_usage_error_exit_2() -> None:
    result = run_cli("status")
    assert result.returncode == 2
    assert "usage:" in result.stderr and "--config or --data-dir" in result.stderr


# ---------------------------------------------------------------------------- bad input


def expect_failure(
    config: Path, code: int, *patterns: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`runtime run` fails with `code`, and stderr matches every regex in `patterns`."""
    result = run_cli("run", "--config", str(config), "--port", "0", env=env)
    assert result.returncode == code, (result.returncode, result.stderr)
    for pattern in patterns:
        assert re.search(pattern, result.stderr), f"{pattern!r} not in stderr:\n{result.stderr}"
    return result


def test_malformed_toml_exits_1_naming_the_line(tmp_path: Path) -> None:
    text = config_text().replace('display_name = "Daniel"', 'display_name = "Daniel')
    config = write_config(tmp_path, text)
    line = text[: text.index('display_name = "Daniel')].count("\n") + 1
    expect_failure(config, 1, rf"runtime\.toml:{line}:\d+: invalid TOML")


def expect_config_error(
    cli: Callable[..., CliResult], config: Path, *patterns: str, env: dict[str, str] | None = None
) -> CliResult:
    """`run` refuses the configuration (exit 1) with every regex of `patterns` on stderr."""
    result = cli("run", "--config", str(config), "--port", "0", env=env)
    assert result.returncode == 1, result
    for pattern in patterns:
        assert re.search(pattern, result.stderr), f"{pattern!r} not in stderr:\n{result.stderr}"
    return result


def test_wrong_type_exits_1_naming_the_key(tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    config = write_config(
        tmp_path, config_text().replace("shutdown_deadline = 5", 'shutdown_deadline = "soon"')
    )
    expect_config_error(cli, config, r"runtime\.shutdown_deadline: expected a number, got 'soon'")


def test_unknown_key_exits_1_with_a_suggestion(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    config = write_config(tmp_path, config_text().replace("heartbeat_seconds", "heartbeat_second"))
    expect_config_error(
        cli, config, r"exports\.heartbeat_second: unknown key; did you mean 'heartbeat_seconds'\?"
    )


def test_missing_env_secret_exits_1_naming_the_variable(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    planted = "planted-" + secrets.token_hex(12)
    config = write_config(tmp_path, config_text(token_env="STREAMSUITES_TEST_ABSENT"))
    result = expect_config_error(
        cli,
        config,
        r"http\.token",
        "STREAMSUITES_TEST_ABSENT",
        env={"STREAMSUITES_TEST_PRESENT": planted},
    )
    assert planted not in result.stderr + result.stdout


def test_data_dir_that_is_a_file_exits_2(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    (tmp_path / "data").write_text("not a folder")
    expect_failure(config, 2, r"data folder .*data.* is not usable")


def test_read_only_data_dir_exits_2(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o500)
    try:
        try:
            (data / "probe").write_text("x")
        except PermissionError:
            pass
        else:
            pytest.skip("file modes are not enforced for this user (root)")
        expect_failure(config, 2, r"is not usable: Permission denied")
    finally:
        data.chmod(0o700)


def test_port_in_use_exits_3(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path, config_text().replace("port = 0", f"port = {port}"))
        result = run_cli("run", "--config", str(config))
    assert result.returncode == 3, result.stderr
    assert f"port {port}" in result.stderr and "in use" in result.stderr
    assert not (tmp_path / "data" / "runtime.pid").exists()


def test_second_instance_on_the_same_data_dir_exits_3_naming_the_pid(
    running: Running,
) -> None:
    result = run_cli("run", "--config", str(running.config), "--port", "0")
    assert result.returncode == 3, result.stderr
    assert f"PID {running.proc.pid}" in result.stderr
    assert running.proc.poll() is None  # the first one is unharmed
    assert (running.data_dir / "runtime.pid").read_text().strip() == str(running.proc.pid)


def test_corrupt_database_exits_2_and_leaves_the_file_alone(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    database = tmp_path / "data" / "state" / "runtime.sqlite3"
    database.parent.mkdir(parents=True)
    garbage = b"this is not a database\n" * 500
    database.write_bytes(garbage)
    expect_failure(config, 2, r"runtime\.sqlite3")
    assert database.read_bytes() == garbage
    assert not (tmp_path / "data" / "runtime.pid").exists()


def test_database_from_a_newer_version_exits_2(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    database = tmp_path / "data" / "state" / "runtime.sqlite3"
    database.parent.mkdir(parents=True)
    conn = apsw.Connection(str(database))
    conn.execute("CREATE TABLE t (x)")
    conn.execute("PRAGMA user_version = 9999")
    conn.close()
    expect_failure(config, 2, r"newer")


# ---------------------------------------------------------------------------- check / init


def test_check_prints_the_effective_config_with_secrets_masked(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    token = "tok-" + secrets.token_hex(16)
    config = write_config(tmp_path, config_text(token_env="STREAMSUITES_TEST_TOKEN"))
    result = cli("check", "--config", str(config), env={"STREAMSUITES_TEST_TOKEN": token})
    assert result.returncode == 0, result.stderr
    assert token not in result.stdout + result.stderr
    assert "STREAMSUITES_TEST_TOKEN" in result.stdout
    assert "heartbeat_seconds = 1" in result.stdout
    assert "configuration is valid" in result.stderr


def test_init_writes_a_starter_that_check_accepts_and_refuses_to_overwrite(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    path = tmp_path / "new" / "runtime.toml"
    made = cli("init", str(path))
    assert made.returncode == 0, made.stderr
    written = path.read_bytes()
    # The starter is checked by the real process: `python -m runtime check`.
    checked = run_cli("check", "--config", str(path))
    assert checked.returncode == 0, checked.stderr

    again = cli("init", str(path))
    assert again.returncode != 0
    assert "already exists" in again.stderr
    assert path.read_bytes() == written


# ------------------------------------------------------------------------ connection health


def twitch_config(server: str, *, keepalive: str = "") -> str:
    """One creator with one Twitch channel (anonymous), reading from `server`."""
    return f"""
[runtime]
data_dir = "data"
shutdown_deadline = 5

[http]
host = "127.0.0.1"
port = 0

[exports]
heartbeat_seconds = 1

[[creators]]
id = "daniel"
display_name = "Daniel"

[creators.twitch]
channel = "xqc"
server = "{server}"
{keepalive}
"""


TWITCH_PATH = "root/creators/creator:daniel/twitch"


def twitch_reason(run: Running) -> str | None:
    """The reason /status gives for twitch when it is degraded, else None."""
    body = httpx.get(f"{run.base_url}/status", timeout=5).json()
    if body["status"] != "degraded":
        return None
    return next((d["reason"] for d in body["degraded"] if d["path"] == TWITCH_PATH), None)


def test_an_unreachable_twitch_is_degraded_with_its_reason_everywhere_within_30_s(
    tmp_path: Path, launch: Callable[..., Running]
) -> None:
    # `.invalid` never resolves (RFC 6761): the same as a machine without internet.
    run = launch(write_config(tmp_path / "site", twitch_config("wss://irc-ws.chat.twitch.invalid")))
    started = time.monotonic()
    reason = wait_for(lambda: twitch_reason(run), 30, "/status degraded naming twitch")
    assert reason == "DNS lookup failed for irc-ws.chat.twitch.invalid"
    assert httpx.get(f"{run.base_url}/status", timeout=5).status_code == 200
    assert httpx.get(f"{run.base_url}/readyz", timeout=5).status_code == 503
    assert httpx.get(f"{run.base_url}/livez", timeout=5).status_code == 200

    def twitch_entry() -> dict[str, Any] | None:
        snapshot = read_json(run.exports / "runtime_snapshot.json")
        entry = next(p for p in snapshot["platforms"] if p["platform"] == "twitch")
        return entry if entry["error"] == reason else None

    entry = wait_for(twitch_entry, 30, "the snapshot's twitch entry failing")
    assert (entry["status"], entry["state"], entry["enabled"]) == ("error", "reconnecting", True)
    snapshot = read_json(run.exports / "runtime_snapshot.json")
    platforms = {p["platform"]: p for p in snapshot["platforms"]}
    assert {"twitch", "youtube", "kick", "rumble", "discord"} <= set(platforms)
    assert platforms["youtube"]["enabled"] is False
    assert platforms["youtube"]["status"] == "disabled"

    def error_row() -> dict[str, Any] | None:
        rows = read_json(run.exports / "telemetry/errors.json")["errors"]
        return next((r for r in rows if r["message"] == reason), None)

    row = wait_for(error_row, 30, "a row in telemetry/errors.json")
    assert (row["subsystem"], row["active"]) == ("creators/creator:daniel/twitch", True)

    def failed_connect() -> bool:
        events = read_json(run.exports / "telemetry/events.json")["events"]
        return any(reason in e["message"] and e["severity"] == "warning" for e in events)

    wait_for(failed_connect, 30, "a failed connect in telemetry/events.json")
    assert time.monotonic() - started < 30

    first = {
        name: read_json(run.exports / f"telemetry/{name}.json")["generated_at"]
        for name in ("events", "errors", "rates")
    }

    def moved(name: str, at: str) -> bool:
        return read_json(run.exports / f"telemetry/{name}.json")["generated_at"] != at

    for name, at in first.items():
        wait_for(
            partial(moved, name, at),
            10,
            f"telemetry/{name}.json generated_at moving",
        )
        for file in (f"telemetry/{name}.json", "runtime_snapshot.json"):
            validate(file, read_json(run.exports / file))


def test_a_silent_twitch_server_is_detected_within_the_keepalive_and_recovers(
    tmp_path: Path, launch: Callable[..., Running]
) -> None:
    import queue
    import threading

    import trio

    from tests.fakes.twitch_irc import FakeTwitchIrc

    ready: queue.Queue[FakeTwitchIrc] = queue.Queue()
    stop = threading.Event()

    def serve() -> None:
        async def main() -> None:
            fake = FakeTwitchIrc()
            async with trio.open_nursery() as nursery:
                await nursery.start(fake.serve)
                ready.put(fake)
                await trio.to_thread.run_sync(stop.wait)
                nursery.cancel_scope.cancel()

        trio.run(main)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        fake = ready.get(timeout=10)
        keepalive = "keepalive_seconds = 2\nkeepalive_timeout_seconds = 1"
        run = launch(write_config(tmp_path / "site", twitch_config(fake.url, keepalive=keepalive)))

        def status() -> dict[str, Any]:
            return httpx.get(f"{run.base_url}/status", timeout=5).json()

        wait_for(lambda: status()["status"] == "ok", 30, "/status ok once twitch joined")
        fake.stall()
        stalled_at = time.monotonic()
        reason = wait_for(lambda: twitch_reason(run), 30, "/status degraded after the stall")
        # keepalive_seconds + keepalive_timeout_seconds (3 s), plus the process's own latency.
        assert time.monotonic() - stalled_at < 3 + 2.5
        assert reason == "no traffic for 3 s"
        fake.stall(False)
        wait_for(lambda: status()["status"] == "ok", 30, "/status ok after the reconnect")
        assert fake.connections >= 2
        assert httpx.get(f"{run.base_url}/readyz", timeout=5).status_code == 200
    finally:
        stop.set()
        thread.join(timeout=10)


def _resolves(host: str) -> bool:
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        return False
    return True


@pytest.mark.skipif(
    _resolves("irc-ws.chat.twitch.tv"), reason="needs a machine without internet (issue #11)"
)
def test_the_starter_config_without_internet_is_degraded_naming_twitch_within_30_s(
    tmp_path: Path, launch: Callable[..., Running]
) -> None:
    from config.render import starter_config

    text = starter_config().replace('data_dir = "var"', 'data_dir = "data"')
    run = launch(write_config(tmp_path / "site", text))
    path = "root/creators/creator:my_channel/twitch"

    def reason() -> str | None:
        body = httpx.get(f"{run.base_url}/status", timeout=5).json()
        return next((d["reason"] for d in body["degraded"] if d["path"] == path), None)

    found = wait_for(reason, 30, "/status degraded naming twitch")
    assert found is not None and "irc-ws.chat.twitch.tv" in found

    def entry() -> dict[str, Any] | None:
        snapshot = read_json(run.exports / "runtime_snapshot.json")
        twitch = next(p for p in snapshot["platforms"] if p["platform"] == "twitch")
        return twitch if twitch["status"] == "error" and twitch["error"] == found else None

    wait_for(entry, 30, "the twitch entry failing with the reason")
    rows = wait_for(
        lambda: read_json(run.exports / "telemetry/errors.json")["errors"], 30, "an error row"
    )
    assert any("irc-ws.chat.twitch.tv" in r["message"] and r["active"] for r in rows)
