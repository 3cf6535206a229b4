"""`SnapshotPublisher`: state -> export files, on change (debounced) and on a heartbeat.

The publisher reads and writes in worker threads, so these tests run on the real clock with
short heartbeats and debounces.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import apsw
import attrs
import pytest
import trio
import trio.testing

from actors import SnapshotFailed, TreeRow
from actors.accounts.actor import AccountHealth
from actors.clips.statistics import ClipCaptureStatistics
from actors.connection import ConnectionHealth, ConnectionState
from actors.discord.statistics import DiscordBotStatistics, GuildStatistics
from actors.kick.chat import KickChatStatistics
from actors.publisher import (
    PublisherStatistics,
    PublishNow,
    PublishSummary,
    SnapshotPublisher,
    _activity_by_creator,
    _feeds_runtime_files,
    actor_rows,
    discord_view,
    trigger_rows,
)
from actors.quotas.registry import QuotaRegistryStatistics
from actors.replay.actor import ReplayStatistics
from actors.rumble.chat import RumbleChatStatistics
from actors.store import Changed, StoreStatistics
from actors.triggers.engine import TriggerEngineStatistics
from actors.twitch.statistics import EventSubStatistics, TwitchChatStatistics
from actors.youtube.chat import YouTubeChatStatistics
from config.models import CreatorConfig, TallyConfig, TriggerConfig
from exports.files import FILES
from exports.health import status_report, telemetry_errors
from exports.schemas import validate
from exports.views import DiscordView
from runtime.http_api import HttpServerStatistics
from state import counters, open_database
from supervisors import Backoff, ChildSpec, Supervisor

CREATOR = CreatorConfig(
    id="daniel", display_name="Daniel", tallies=(TallyConfig(id="deaths", label="Deaths"),)
)
STARTED = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)


class Clock:
    """A wall clock the test moves by hand (exports never show a time in the future)."""

    def __init__(self) -> None:
        self.now = STARTED + timedelta(minutes=1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def set_deaths(database: Path, value: int, at: datetime) -> None:
    """Commit a value of the `deaths` tally, as the store would."""
    db = open_database(str(database))
    try:
        with db.transaction() as conn:
            counters.set_tally(
                conn,
                creator_id="daniel",
                tally_id="deaths",
                value=value,
                label="Deaths",
                now=int(at.timestamp() * 1000),
            )
    finally:
        db.close()


def read(root: Path, name: str) -> dict[str, Any]:
    return json.loads((root / name).read_text("utf-8"))


async def eventually(predicate: Callable[[], Any], within: float = 3.0) -> None:
    """Wait (polling the files) until `predicate()` is true; fail after `within` seconds."""
    with trio.fail_after(within):
        while True:
            if predicate():
                return
            await trio.sleep(0.02)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "state" / "runtime.sqlite3"
    path.parent.mkdir()
    open_database(str(path)).close()
    return path


@pytest.fixture
def exports(tmp_path: Path) -> Path:
    return tmp_path / "exports"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def start(nursery: trio.Nursery, database: Path, exports: Path, clock: Clock) -> Callable[..., Any]:
    """Start a publisher under a supervisor; returns the supervisor."""

    async def go(**kwargs: Any) -> Supervisor:
        sup: Supervisor

        def make() -> SnapshotPublisher:
            options: dict[str, Any] = {
                "heartbeat_seconds": 10.0,
                "debounce_seconds": 0.05,
                "clock": clock,
                **kwargs,
            }
            return SnapshotPublisher(
                database=database,
                root=exports,
                mirrors=[],
                creators=[CREATOR],
                tree=sup.tree,
                root_name="root",
                started_at=STARTED,
                pseudonym_key=b"k" * 32,
                **options,
            )

        sup = Supervisor("root", [ChildSpec("publisher", make)], backoff=Backoff(initial=0))
        await nursery.start(sup.run)
        return sup

    return go


async def test_start_publishes_every_export_file_valid(start, exports):
    sup = await start()
    for entry in FILES:
        path = exports / entry.path
        assert path.is_file(), entry.path
        validate(entry.path, json.loads(path.read_text("utf-8")))
    await sup.stop()


async def test_the_publishers_reader_keeps_each_statements_plan(start):
    # Like the store's connections (`state.database.plan_once`): its ranked and limited reads
    # are not prepared again at every execution.
    sup = await start()
    publisher = sup._by_id["publisher"].run.instance  # test-only peek
    assert publisher._conn.config(apsw.SQLITE_DBCONFIG_ENABLE_QPSG, -1) == 1
    await sup.stop()


async def test_unchanged_content_is_not_rewritten(start, exports):
    sup = await start()
    publisher = sup.lookup("publisher")
    await publisher.call(PublishNow())
    mtimes = {p: p.stat().st_mtime_ns for p in exports.rglob("*.json")}
    summary = await publisher.call(PublishNow())
    assert isinstance(summary, PublishSummary)
    # Same state, same clock: only the snapshot, which shows the publisher's own message
    # count, may differ.
    assert summary.written <= 1
    assert summary.written + summary.skipped == len(FILES)
    assert summary.errors == 0
    now = {p: p.stat().st_mtime_ns for p in exports.rglob("*.json")}
    changed = [p.name for p in mtimes if now[p] != mtimes[p]]
    assert changed in ([], ["runtime_snapshot.json"])
    await sup.stop()


async def test_heartbeat_republishes_only_the_runtime_snapshot_and_telemetry(start, exports, clock):
    sup = await start(heartbeat_seconds=0.3)
    before = {p.relative_to(exports).as_posix(): p.read_bytes() for p in exports.rglob("*.json")}
    heartbeat = read(exports, "runtime_snapshot.json")["heartbeat"]
    rates_at = read(exports, "telemetry/rates.json")["generated_at"]
    clock.advance(5)
    await eventually(lambda: read(exports, "runtime_snapshot.json")["heartbeat"] != heartbeat)
    # Written in path order: the last telemetry file moving means the publish is complete.
    await eventually(lambda: read(exports, "telemetry/rates.json")["generated_at"] != rates_at)
    after = {p.relative_to(exports).as_posix(): p.read_bytes() for p in exports.rglob("*.json")}
    changed = sorted(name for name in before if before[name] != after[name])
    # Telemetry's generated_at moves with every heartbeat (the dashboard's freshness rule).
    assert changed == [
        "runtime_snapshot.json",
        "telemetry/errors.json",
        "telemetry/events.json",
        "telemetry/rates.json",
    ]
    await sup.stop()


@pytest.fixture
def inline_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Worker-thread calls run inline, so trio's MockClock sees every wait of the publisher."""

    async def run_sync(fn: Callable[..., Any], *args: Any, **_kwargs: Any) -> Any:
        return fn(*args)

    monkeypatch.setattr(trio.to_thread, "run_sync", run_sync)


async def test_changed_triggers_a_publish_after_the_debounce(
    autojump_clock, inline_threads, start, exports, database, clock
):
    sup = await start(debounce_seconds=0.2)
    assert read(exports, "tallies.json")["tallies"] == []
    set_deaths(database, 3, clock.now)
    publisher = sup.lookup("publisher")
    t0 = trio.current_time()
    publisher.cast(Changed(topic="tallies"))
    publisher.cast(Changed(topic="tallies"))  # a burst is coalesced into one publish
    await eventually(lambda: read(exports, "tallies.json")["tallies"])
    assert trio.current_time() - t0 >= 0.2
    (tally,) = read(exports, "tallies.json")["tallies"]
    assert tally["count"] == 3
    await trio.sleep(5.0)  # mock time: many debounces, short of the 10 s heartbeat
    detail = {r.path: r.detail for r in sup.tree() if r.detail}["root/publisher"]
    assert isinstance(detail, PublisherStatistics)
    assert detail.publishes == 2  # the first one at start, one for the burst
    await sup.stop()


async def test_a_write_error_is_counted_and_the_publisher_keeps_running(start, exports, database):
    sup = await start()
    target = exports / "tallies.json"
    target.unlink()
    target.mkdir()  # os.replace onto a folder fails: the write error of one file
    (target / "keep").write_text("x")
    set_deaths(database, 1, STARTED + timedelta(minutes=1))
    summary = await sup.lookup("publisher").call(PublishNow())
    assert summary.errors == 1
    assert summary.written >= 1  # the other files (tally_events.json, ...) still publish
    (row,) = [r for r in sup.tree() if r.path == "root/publisher"]
    assert row.state == "running" and row.restarts == 0
    # Once the obstacle is gone, the next publish writes the file.
    (target / "keep").unlink()
    target.rmdir()
    summary = await sup.lookup("publisher").call(PublishNow())
    assert summary.errors == 0
    assert read(exports, "tallies.json")["tallies"][0]["count"] == 1
    await sup.stop()


async def test_a_file_that_cannot_be_written_shows_in_status_and_telemetry_until_written(
    start, exports, database, clock
):
    # The error was only in the log: /status said "ok" while tallies.json stopped changing.
    sup = await start()
    assert status_report(sup.tree()).ok
    target = exports / "tallies.json"
    target.unlink()
    target.mkdir()  # os.replace onto a folder fails
    (target / "keep").write_text("x")
    set_deaths(database, 1, clock.now)
    await sup.lookup("publisher").call(PublishNow())
    report = status_report(sup.tree())
    (failing,) = report.degraded
    assert failing.path == "root/publisher" and failing.health is not None
    assert "tallies.json" in (failing.health.error or "")
    (error,) = telemetry_errors(sup.tree(), root_name="root", now=clock.now)
    assert error.active and "tallies.json" in error.message
    # The file's own successful write clears it.
    (target / "keep").unlink()
    target.rmdir()
    await sup.lookup("publisher").call(PublishNow())
    assert status_report(sup.tree()).ok
    (error,) = telemetry_errors(sup.tree(), root_name="root", now=clock.now)
    assert not error.active  # shown as cleared
    await sup.stop()


async def test_a_change_after_a_publish_now_is_published_without_waiting_for_the_heartbeat(
    start, exports, database, clock
):
    sup = await start(heartbeat_seconds=10.0, debounce_seconds=0.05)
    publisher = sup.lookup("publisher")
    await trio.testing.wait_all_tasks_blocked()  # the publisher's loop waits for a change
    await publisher.call(PublishNow())
    set_deaths(database, 2, clock.now)
    publisher.cast(Changed(topic="tallies"))
    await eventually(lambda: read(exports, "tallies.json")["tallies"])
    await sup.stop()


async def test_a_steady_flow_of_changes_publishes_once_per_interval_and_the_tree_at_the_beat(
    start, exports, database, clock
):
    # A thousand chatting creators send Changed all the time: the publishes stay an interval
    # apart, and the tree files (a walk of every actor) wait for the heartbeat.
    sup = await start(heartbeat_seconds=1.5, debounce_seconds=0.01, min_interval_seconds=0.3)
    publisher = sup.lookup("publisher")
    instance = sup._slots[0].run.instance  # the running SnapshotPublisher
    await trio.sleep(0.05)
    first = instance.publishes
    rebuilt: list[tuple[float, frozenset[str]]] = []
    t0 = trio.current_time()
    for n in range(60):  # 1.2 s of changes, one every 20 ms
        set_deaths(database, n + 1, clock.now)
        publisher.cast(Changed(topic="tallies"))
        await trio.sleep(0.02)
        if instance.publishes != first + len(rebuilt):
            rebuilt.append((trio.current_time() - t0, frozenset(instance.last_rebuilt)))
    elapsed = trio.current_time() - t0
    published = instance.publishes - first
    assert 2 <= published <= elapsed / 0.3 + 1  # coalesced, never one per change
    tree_publishes = [at for at, files in rebuilt if "runtime_snapshot.json" in files]
    assert len(tree_publishes) <= 1  # at most the one heartbeat within 1.2 s of 1.5 s beats
    await eventually(lambda: read(exports, "tallies.json")["tallies"][0]["count"] == 60)
    await sup.stop()


#: Publisher options under which tallies.json (a few hundred bytes) is held for seconds, with
#: the heartbeat an hour away: only a change or a hold's end publishes.
HOLDING: dict[str, float] = {
    "heartbeat_seconds": 3600.0,
    "debounce_seconds": 0.01,
    "min_interval_seconds": 0.1,
    "file_bytes_per_second": 100.0,
}


async def test_a_held_file_is_published_when_its_hold_ends_with_no_further_change(
    autojump_clock, inline_threads, start, exports, database, clock
):
    sup = await start(**HOLDING)
    publisher = sup.lookup("publisher")
    set_deaths(database, 1, clock.now)
    publisher.cast(Changed(topic="tallies"))
    await eventually(lambda: read(exports, "tallies.json")["tallies"])
    written_at = trio.current_time()
    hold = (exports / "tallies.json").stat().st_size / 100.0
    set_deaths(database, 2, clock.now)
    publisher.cast(Changed(topic="tallies"))
    await trio.sleep(0.5)  # mock time: several publish intervals
    assert read(exports, "tallies.json")["tallies"][0]["count"] == 1  # held back
    detail = {r.path: r.detail for r in sup.tree() if r.detail}["root/publisher"]
    assert isinstance(detail, PublisherStatistics)
    assert "tallies.json" in detail.held
    # Nothing else changes and the heartbeat is an hour away: the hold's end publishes it.
    await eventually(
        lambda: read(exports, "tallies.json")["tallies"][0]["count"] == 2, within=hold + 1.0
    )
    assert trio.current_time() >= written_at + hold - 0.1
    await sup.stop()


async def test_a_held_file_whose_write_fails_is_not_retried_in_a_loop(
    autojump_clock, inline_threads, start, exports, database, clock
):
    sup = await start(**HOLDING)
    publisher = sup.lookup("publisher")
    instance = sup._slots[0].run.instance  # the running SnapshotPublisher
    set_deaths(database, 1, clock.now)
    publisher.cast(Changed(topic="tallies"))
    await eventually(lambda: read(exports, "tallies.json")["tallies"])
    target = exports / "tallies.json"
    target.unlink()
    target.mkdir()  # os.replace onto a folder fails: every later write of the file fails
    (target / "keep").write_text("x")
    set_deaths(database, 2, clock.now)
    publisher.cast(Changed(topic="tallies"))
    before = instance.publishes
    await trio.sleep(30.0)  # mock time: the hold ends, the write fails, nothing changes
    assert instance.publishes - before <= 3  # the release's publish (and a change's), no loop
    assert instance.last.errors == 1
    await sup.stop()


async def test_a_stop_publishes_once_more_so_the_files_match_the_database(
    start, database, exports, clock
):
    # Neither the debounce nor the heartbeat comes before the stop: only the stop publishes.
    sup = await start(heartbeat_seconds=3600.0, debounce_seconds=3600.0)
    assert read(exports, "tallies.json")["tallies"] == []
    set_deaths(database, 7, clock.now)
    sup.lookup("publisher").cast(Changed(topic="tallies"))
    await sup.stop()
    (tally,) = read(exports, "tallies.json")["tallies"]
    assert tally["count"] == 7


def test_event_triggers_stay_out_of_chat_triggers():
    # An event trigger has no phrase and no chat module: listing it failed every publish.
    chat = TriggerConfig(id="hello", kind="command", pattern="!hello", response="hi")
    raid = TriggerConfig(id="raid", kind="event", event="raid", response="welcome raiders")
    creator = CreatorConfig(id="daniel", triggers=(chat, raid))
    rows = trigger_rows([creator], {})
    assert [(r.trigger_id, r.phrase, r.module) for r in rows] == [("hello", "!hello", "command")]


def test_trigger_activity_is_taken_per_creator_and_merged_when_engines_overlap() -> None:
    at = STARTED
    later = STARTED + timedelta(minutes=1)
    one = TriggerEngineStatistics(fired_at={("a", "ping"): at}, timers={("a", "t"): (1, at)})
    two = TriggerEngineStatistics(filters={("b", "links"): (2, at)})
    other = ReplayStatistics(creator_id="a", status="running")  # not an engine: no activity
    # One engine per creator: each engine's maps as they are (no copy).
    found = _activity_by_creator([one, SnapshotFailed(error="x"), None, other, two])
    assert set(found) == {"a", "b"}
    assert found["a"][0] is one.fired_at and found["a"][1] is one.timers
    assert found["b"][2] == {("b", "links"): (2, at)}
    # A creator reported twice (a restart's old and new engine): merged, the later key wins.
    again = TriggerEngineStatistics(fired_at={("a", "ping"): later, ("a", "gg"): later})
    merged = _activity_by_creator([one, two, again])
    assert merged["a"][0] == {("a", "ping"): later, ("a", "gg"): later}
    assert merged["a"][1] == {("a", "t"): (1, at)}
    assert merged["b"][2] == {("b", "links"): (2, at)}
    # One engine whose maps name two creators: split between them.
    mixed = TriggerEngineStatistics(fired_at={("a", "ping"): at, ("b", "ping"): later})
    split = _activity_by_creator([mixed])
    assert split["a"][0] == {("a", "ping"): at} and split["b"][0] == {("b", "ping"): later}


def test_discord_view_is_made_from_the_bots_typed_statistics() -> None:
    bot = DiscordBotStatistics(
        status="running",
        enabled=True,
        running=True,
        connected=True,
        started_at=STARTED,
        last_heartbeat=STARTED + timedelta(seconds=40),
        task_count=2,
        guilds=(
            GuildStatistics(
                guild_id="81384788765712384",
                guild_name="Test Guild",
                bot_present=True,
                authorized_for_user=True,
                authorization_reason="admin_override",
                notifications_enabled=True,
                notifications_channel_id="645027906669510667",
            ),
        ),
    )
    other = TreeRow(
        path="root/store",
        kind="actor",
        state="running",
        detail=StoreStatistics(writes=1, commits=1, failed_ops=0, file_size=None),
    )
    row = TreeRow(path="root/discord", kind="actor", state="running", detail=bot)
    view = discord_view([other, row])
    assert view.running and view.connected and view.status_text == "running"
    assert (view.started_at, view.last_heartbeat) == (bot.started_at, bot.last_heartbeat)
    assert view.task_count == 2
    (guild,) = view.guilds
    assert (guild.guild_id, guild.guild_name, guild.authorization_reason) == (
        "81384788765712384",
        "Test Guild",
        "admin_override",
    )
    assert guild.bot_present and guild.authorized_for_user and guild.notifications_enabled
    assert guild.general_channel_id == "645027906669510667"
    # Running only while its actor runs (a restarting bot's last statistics say otherwise).
    restarting = TreeRow(path="root/discord", kind="actor", state="restarting", detail=bot)
    assert not discord_view([restarting]).running
    # No bot (a bot's row whose snapshot failed is not one): the empty view.
    broken = TreeRow(
        path="root/discord",
        kind="actor",
        state="running",
        detail=SnapshotFailed(error="RuntimeError: boom"),
    )
    assert discord_view([other, broken]) == discord_view([]) == DiscordView()


def test_the_statistics_read_for_the_runtime_files_are_handed_to_them_and_no_others() -> None:
    # What discord_view, quota_rows, rate_limit_rows, account_integrations, telemetry_rows and
    # the telemetry errors read: a type missing here would leave its file silently empty.
    for fed in (
        DiscordBotStatistics,
        QuotaRegistryStatistics,
        RumbleChatStatistics,
        YouTubeChatStatistics,
        AccountHealth,
        EventSubStatistics,
        HttpServerStatistics,
        SnapshotFailed,
    ):
        assert _feeds_runtime_files(fed), fed
    # Every creator's actors (a thousand of each) and the rest feed none of them.
    for other in (
        TriggerEngineStatistics,
        ReplayStatistics,
        TwitchChatStatistics,
        KickChatStatistics,
        ClipCaptureStatistics,
        PublisherStatistics,
        StoreStatistics,
    ):
        assert not _feeds_runtime_files(other), other


def test_an_actor_that_cannot_connect_shows_its_error_in_its_export_row() -> None:
    failing = ConnectionHealth(
        component="watch",
        state=ConnectionState.RECONNECTING,
        since=STARTED,
        attempts=2,
        last_error="connection refused by 127.0.0.1",
        last_error_at=STARTED,
    )
    recovered = attrs.evolve(failing, state=ConnectionState.CONNECTED, attempts=0)
    rows = [
        TreeRow(path="root/watch", kind="actor", state="running", health=failing),
        TreeRow(path="root/kick", kind="actor", state="running", health=recovered),
        TreeRow(path="root/store", kind="actor", state="restarting", restarts=1, last_error="boom"),
    ]
    errors = {r.path: r.last_error for r in actor_rows(rows, "root")}
    # Running but failing: the connection's error. Connected again: its old error is history
    # (telemetry/errors.json keeps it, cleared). A crash: the crash.
    assert errors == {"watch": "connection refused by 127.0.0.1", "kick": None, "store": "boom"}
