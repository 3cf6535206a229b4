"""Opening, checking, transactions, batches, readers and statistics of the Database."""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import os
import pathlib
import weakref

import apsw
import pytest
import trio

from state import (
    LATEST_VERSION,
    DatabaseClosed,
    DatabaseCorrupt,
    DatabaseTooNew,
    DatabaseUnavailable,
    InvalidArgument,
    StoreError,
    WriteFailed,
    open_database,
)
from state.creators import get_meta, list_creators, set_meta, upsert_creator
from state.database import WAL_AUTOCHECKPOINT_PAGES
from state.errors import Refused
from state.migrations import schema_dump, user_version

T0 = 1_795_000_000_000  # fixed Unix-ms instant: tests never read the clock


def digest(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sidecars(path: pathlib.Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name != path.name)


# --- opening ------------------------------------------------------------------------------------


def test_open_creates_missing_parent_folders_and_applies_every_migration(tmp_path):
    path = tmp_path / "a" / "b" / "store.db"
    with open_database(path) as db:
        assert path.is_file()
        assert user_version(db.connection) == LATEST_VERSION
        assert db.applied_migrations == tuple(range(1, LATEST_VERSION + 1))
        assert db.path == str(path)


def test_open_sets_wal_full_sync_foreign_keys_and_busy_timeout(db_path):
    with open_database(db_path) as db:
        pragma = db.connection.pragma
        assert pragma("journal_mode") == "wal"
        assert pragma("synchronous") == 2  # FULL
        assert pragma("foreign_keys") == 1
        assert pragma("busy_timeout") == 5000


def test_open_checkpoints_the_wal_only_once_it_holds_many_pages(db_path):
    # SQLite's default (1,000 pages) made every commit under load pay for a checkpoint.
    with open_database(db_path) as db:
        assert db.connection.pragma("wal_autocheckpoint") == WAL_AUTOCHECKPOINT_PAGES
        assert WAL_AUTOCHECKPOINT_PAGES > 1000


def test_writer_and_readers_keep_each_statements_plan_whatever_its_bound_values(db):
    # Without it, apsw's STAT4 build prepares a statement with an ORDER BY, LIMIT or min/max
    # next to a `?` again at every execution (a cached statement costing as much as a new one).
    qpsg = apsw.SQLITE_DBCONFIG_ENABLE_QPSG
    assert db.connection.config(qpsg, -1) == 1
    with db.read_connection() as reader:
        assert reader.connection.config(qpsg, -1) == 1


def test_synchronous_normal_can_be_chosen(db_path):
    with open_database(db_path, synchronous="normal") as db:
        assert db.connection.pragma("synchronous") == 1


def test_reopen_is_idempotent_and_keeps_data(db_path):
    with open_database(db_path) as db:
        with db.transaction() as conn:
            set_meta(conn, "k", "v")
        before = schema_dump(db.connection)
    with open_database(db_path) as db:
        assert schema_dump(db.connection) == before
        assert db.applied_migrations == ()
        assert get_meta(db.connection, "k") == "v"
        assert db.statistics().transactions == 0  # nothing to migrate, nothing written


def test_memory_and_uri_paths_are_refused():
    with pytest.raises(InvalidArgument):
        open_database(":memory:")
    with pytest.raises(InvalidArgument):
        open_database("file:x.db?mode=memory")


def _raw_database(path: pathlib.Path, *, version: int) -> None:
    conn = apsw.Connection(str(path))
    conn.execute("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
    conn.execute(f"PRAGMA user_version = {version}")
    conn.close()


def test_newer_user_version_is_refused_and_file_left_untouched(tmp_path):
    path = tmp_path / "store.db"
    _raw_database(path, version=LATEST_VERSION + 7)
    before = digest(path)
    with pytest.raises(DatabaseTooNew) as info:
        open_database(path)
    message = str(info.value)
    assert str(LATEST_VERSION + 7) in message and str(LATEST_VERSION) in message
    assert str(path) in message
    assert info.value.found == LATEST_VERSION + 7
    assert digest(path) == before
    assert sidecars(path) == []  # no -wal/-shm: we never switched the file to WAL


def test_garbage_file_is_corrupt_and_left_untouched(tmp_path):
    path = tmp_path / "store.db"
    path.write_bytes(b"this is not a database\n" * 500)
    before = digest(path)
    with pytest.raises(DatabaseCorrupt) as info:
        open_database(path)
    assert str(path) in str(info.value)
    assert "not modified" in str(info.value)
    assert isinstance(info.value, StoreError)
    assert digest(path) == before
    assert sidecars(path) == []


def test_truncated_sqlite_header_is_corrupt_and_left_untouched(tmp_path):
    path = tmp_path / "store.db"
    path.write_bytes(b"SQLite format 3\x00\x10\x00")
    before = digest(path)
    with pytest.raises(DatabaseCorrupt):
        open_database(path)
    assert digest(path) == before


def test_damaged_pages_fail_the_integrity_check_and_file_is_left_untouched(tmp_path):
    path = tmp_path / "store.db"
    with open_database(path) as db:
        with db.transaction() as conn:
            for i in range(400):
                upsert_creator(conn, creator_id=f"c{i:04d}", display_name="x" * 200, now=T0)
    # Switch back to a self-contained rollback-journal file, then scribble over interior pages.
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 10 * page
    for n in range(3, len(data) // page - 1, 2):
        data[n * page : n * page + 64] = b"\xa5" * 64
    path.write_bytes(bytes(data))
    before = digest(path)
    with pytest.raises(DatabaseCorrupt) as info:
        open_database(path)
    assert "not modified" in str(info.value)
    assert digest(path) == before


def test_empty_existing_file_is_initialised(tmp_path):
    # A zero-byte file is a valid empty SQLite database (e.g. created by `touch`).
    path = tmp_path / "store.db"
    path.touch()
    with open_database(path) as db:
        assert user_version(db.connection) == LATEST_VERSION


def test_parent_that_is_a_regular_file_is_unavailable(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    path = blocker / "store.db"
    with pytest.raises(DatabaseUnavailable) as info:
        open_database(path)
    assert str(blocker) in str(info.value)
    assert "Errno" in str(info.value)
    assert blocker.read_text() == "x"


def test_path_that_is_a_directory_is_unavailable(tmp_path):
    path = tmp_path / "store.db"
    path.mkdir()
    with pytest.raises(DatabaseUnavailable) as info:
        open_database(path)
    assert str(path) in str(info.value)


def _chmod_is_effective(tmp_path: pathlib.Path) -> bool:
    probe = tmp_path / "probe"
    probe.write_text("x")
    probe.chmod(0)
    try:
        probe.read_text()
    except PermissionError:
        return True
    finally:
        probe.chmod(0o600)
    return False  # running as root (or on a filesystem ignoring modes)


def test_unreadable_file_is_unavailable_and_names_the_os_error(tmp_path):
    if not _chmod_is_effective(tmp_path):
        pytest.skip("file modes are not enforced for this user (root)")
    path = tmp_path / "store.db"
    with open_database(path):
        pass
    path.chmod(0)
    try:
        with pytest.raises(DatabaseUnavailable) as info:
            open_database(path)
        assert str(path) in str(info.value)
        assert "Permission denied" in str(info.value)
    finally:
        path.chmod(0o600)


def test_read_only_folder_is_unavailable(tmp_path):
    if not _chmod_is_effective(tmp_path):
        pytest.skip("file modes are not enforced for this user (root)")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(DatabaseUnavailable) as info:
            open_database(folder / "store.db")
        assert "Permission denied" in str(info.value)
    finally:
        folder.chmod(0o700)


# --- transactions -------------------------------------------------------------------------------


def test_transaction_commits_on_success_and_rolls_back_on_exception(db):
    with db.transaction() as conn:
        set_meta(conn, "a", "1")
    with pytest.raises(RuntimeError), db.transaction() as conn:
        set_meta(conn, "a", "2")
        set_meta(conn, "b", "2")
        raise RuntimeError("boom")
    assert get_meta(db.connection, "a") == "1"
    assert get_meta(db.connection, "b") is None
    stats = db.statistics()
    assert (stats.transactions, stats.rollbacks, stats.writes) == (1, 1, 1)
    assert stats.last_error == "RuntimeError: boom"


def test_nested_transaction_is_a_savepoint(db):
    with db.transaction() as conn:
        set_meta(conn, "outer", "1")
        with pytest.raises(KeyError), db.transaction() as inner:
            set_meta(inner, "inner", "1")
            raise KeyError("x")
        set_meta(conn, "after", "1")
    assert get_meta(db.connection, "outer") == "1"
    assert get_meta(db.connection, "inner") is None
    assert get_meta(db.connection, "after") == "1"


def test_writes_outside_a_transaction_are_refused(db):
    with pytest.raises(StoreError, match="outside a transaction"):
        set_meta(db.connection, "a", "1")


def test_batch_commits_all_items_in_one_transaction_and_isolates_a_failing_item(db):
    def failing(conn):
        set_meta(conn, "half", "written")
        raise ValueError("refused")

    outcomes = db.batch(
        [
            lambda c: set_meta(c, "x", "1"),
            failing,
            lambda c: upsert_creator(c, creator_id="d", display_name="Daniel", now=T0),
        ]
    )
    assert [o.ok for o in outcomes] == [True, False, True]
    assert isinstance(outcomes[1].error, ValueError)
    with pytest.raises(ValueError):
        outcomes[1].unwrap()
    assert outcomes[2].unwrap().display_name == "Daniel"
    assert get_meta(db.connection, "x") == "1"
    assert get_meta(db.connection, "half") is None  # the failing item's own write is undone
    assert [c.creator_id for c in list_creators(db.connection)] == ["d"]
    stats = db.statistics()
    assert (stats.transactions, stats.writes, stats.failed_writes) == (1, 2, 1)
    assert stats.rows_changed == 2


class Held:
    """A batch item holding a payload that only the batch references (weakly observable)."""

    def __init__(self, fn):
        self.fn = fn
        self.payload = Payload()

    def __call__(self, conn):
        return self.fn(conn)


class Payload:
    pass


@contextlib.contextmanager
def collector_paused():
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def test_a_refused_item_keeps_no_traceback_and_frees_the_batch_without_the_collector(db):
    def refuse(conn):
        raise Refused("you are already in the giveaway")

    items = [Held(lambda c: set_meta(c, "x", "1")), Held(refuse)]
    payloads = [weakref.ref(i.payload) for i in items]
    with collector_paused():
        outcomes = db.batch(items)
        error = outcomes[1].error
        assert isinstance(error, Refused) and error.message == "you are already in the giveaway"
        assert error.__traceback__ is None
        assert outcomes[0].ok and get_meta(db.connection, "x") == "1"
        del items, outcomes, error
        # Reference counting alone frees the batch: no cycle through the refusal.
        assert [p() for p in payloads] == [None, None]


def test_an_unexpected_item_error_keeps_its_traceback_from_the_failing_callable_on(db):
    def broken(conn):
        table: dict[str, int] = {}
        return table["missing"]

    outcomes = db.batch([broken])
    tb = outcomes[0].error.__traceback__
    assert isinstance(outcomes[0].error, KeyError)
    assert tb is not None and tb.tb_frame.f_code is broken.__code__


class Counted:
    """A batch item that counts its runs (a batch runs items again only after a failure
    that left changes behind)."""

    def __init__(self, fn):
        self.fn = fn
        self.runs = 0

    def __call__(self, conn):
        self.runs += 1
        return self.fn(conn)


def test_a_failing_item_that_wrote_nothing_costs_no_savepoint_and_no_second_run(db):
    def refuse(conn):
        raise ValueError("refused before writing")

    def duplicate(conn):
        # One failing statement: SQLite undoes it by itself.
        conn.execute("INSERT INTO meta (key, value) VALUES ('x', 'again')")

    items = [
        Counted(lambda c: set_meta(c, "x", "1")),
        Counted(refuse),
        Counted(duplicate),
        Counted(lambda c: set_meta(c, "y", "2")),
    ]
    outcomes = db.batch(items)
    assert [o.ok for o in outcomes] == [True, False, False, True]
    assert isinstance(outcomes[2].error, apsw.ConstraintError)
    assert [i.runs for i in items] == [1, 1, 1, 1]
    assert (get_meta(db.connection, "x"), get_meta(db.connection, "y")) == ("1", "2")
    stats = db.statistics()
    assert (stats.transactions, stats.writes, stats.failed_writes, stats.rows_changed) == (
        1,
        2,
        2,
        2,
    )


def test_an_item_failing_after_writing_is_undone_alone_by_running_the_batch_again(db):
    def half(conn):
        set_meta(conn, "half", "written")
        raise ValueError("failed halfway")

    def new_table_then_fail(conn):
        conn.execute("CREATE TABLE scratch (k)")
        raise ValueError("failed after changing the schema")

    for failing in (half, new_table_then_fail):
        items = [Counted(lambda c: set_meta(c, "a", "1")), Counted(failing)]
        items.append(Counted(lambda c: set_meta(c, "b", "2")))
        outcomes = db.batch(items)
        assert [o.ok for o in outcomes] == [True, False, True]
        assert [i.runs for i in items] == [2, 2, 1]  # the first run stopped at the failure
        assert get_meta(db.connection, "half") is None
        assert (
            db.connection.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'scratch'").get
            == 0
        )
        assert (get_meta(db.connection, "a"), get_meta(db.connection, "b")) == ("1", "2")
    stats = db.statistics()
    assert (stats.transactions, stats.rollbacks, stats.writes, stats.failed_writes) == (2, 0, 4, 2)
    assert stats.rows_changed == 4  # "a" and "b" in each batch: the undone runs not counted


def test_batch_with_base_exception_rolls_back_everything(db):
    def interrupt(conn):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        db.batch([lambda c: set_meta(c, "x", "1"), interrupt])
    assert get_meta(db.connection, "x") is None
    # The database stays usable afterwards.
    db.batch([lambda c: set_meta(c, "y", "1")])
    assert get_meta(db.connection, "y") == "1"


def test_batch_aborted_by_sqlite_raises_write_failed(db):
    def abort_all(conn):
        conn.execute("ROLLBACK")  # simulates SQLite rolling back the whole transaction
        raise apsw.FullError("database or disk is full")

    with pytest.raises(WriteFailed):
        db.batch([lambda c: set_meta(c, "x", "1"), abort_all])
    assert get_meta(db.connection, "x") is None
    assert "FullError" in (db.statistics().last_error or "")


def test_batch_inside_transaction_is_refused(db):
    with db.transaction(), pytest.raises(InvalidArgument):
        db.batch([])


def test_empty_batch_is_a_noop(db):
    assert db.batch([]) == []


def test_closed_database_refuses_use_and_close_is_idempotent(db):
    db.close()
    db.close()
    assert db.closed
    with pytest.raises(DatabaseClosed), db.transaction():
        pass
    with pytest.raises(DatabaseClosed):
        db.statistics()


# --- readers, statistics, backup ----------------------------------------------------------------


def test_read_connection_is_read_only(db):
    with db.read_connection() as reader:
        with pytest.raises(apsw.Error):
            reader.connection.execute("INSERT INTO meta VALUES ('k', 'v')")
        assert reader.connection.readonly("main")


def test_read_snapshot_is_stable_while_the_writer_commits(db):
    with db.transaction() as conn:
        set_meta(conn, "k", "old")
    with db.read_connection() as reader:
        with reader.snapshot() as rconn:
            assert get_meta(rconn, "k") == "old"
            with db.transaction() as conn:
                set_meta(conn, "k", "new")
            assert get_meta(rconn, "k") == "old"  # same snapshot
        assert get_meta(reader.connection, "k") == "new"


def test_statistics_report_sizes_and_version(db):
    stats = db.statistics()
    assert stats.user_version == LATEST_VERSION
    assert stats.file_size > 0
    assert stats.path == db.path
    assert stats.last_error is None


def test_backup_writes_an_openable_standalone_copy(db, tmp_path):
    with db.transaction() as conn:
        set_meta(conn, "k", "v")
    target = tmp_path / "backups" / "copy.db"
    db.backup(target)
    assert sidecars(target) == []  # no temp file left behind
    with open_database(target) as copy:
        assert get_meta(copy.connection, "k") == "v"
    with pytest.raises(InvalidArgument):
        db.backup(db.path)


def test_open_does_not_leave_the_file_locked(db_path):
    first = open_database(db_path)
    first.close()
    second = open_database(db_path)
    with second.transaction() as conn:
        set_meta(conn, "k", "v")
    second.close()
    assert os.path.getsize(db_path) > 0


# Root ignores file modes, so the two chmod tests above skip there; these simulate the OS
# refusals instead, so the mapping to DatabaseUnavailable is exercised under any user.


def test_simulated_permission_error_on_the_file_is_unavailable(tmp_path, monkeypatch):
    import state.database as database_module

    path = tmp_path / "store.db"
    with open_database(path):
        pass
    before = digest(path)

    def refuse(file, mode="r", *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(file))

    monkeypatch.setattr(database_module, "open", refuse, raising=False)
    with pytest.raises(DatabaseUnavailable) as info:
        open_database(path)
    assert "[Errno 13] Permission denied" in str(info.value)
    assert str(path) in str(info.value)
    monkeypatch.undo()
    assert digest(path) == before


def test_simulated_read_only_folder_is_unavailable(tmp_path, monkeypatch):
    import state.database as database_module

    monkeypatch.setattr(database_module.os, "access", lambda *a, **k: False)
    with pytest.raises(DatabaseUnavailable) as info:
        open_database(tmp_path / "store.db")
    assert "Permission denied" in str(info.value) and str(tmp_path) in str(info.value)
    assert not (tmp_path / "store.db").exists()


def test_read_connection_works_with_uri_special_characters_in_the_path(tmp_path):
    path = tmp_path / "odd ? # % name" / "store.db"
    with open_database(path) as db:
        with db.transaction() as conn:
            set_meta(conn, "k", "v")
        with db.read_connection() as reader:
            assert get_meta(reader.connection, "k") == "v"


async def test_engine_is_driven_from_trio_worker_threads_as_the_store_actor_will(db):
    limiter = trio.CapacityLimiter(1)  # the store's dedicated single writer thread
    for i in range(10):
        outcomes = await trio.to_thread.run_sync(
            db.batch, [functools.partial(set_meta, key=f"k{i}", value=str(i))], limiter=limiter
        )
        assert outcomes[0].ok
    reader = await trio.to_thread.run_sync(db.read_connection)
    try:
        count = await trio.to_thread.run_sync(
            lambda: reader.connection.execute("SELECT count(*) FROM meta").fetchone()[0]
        )
    finally:
        reader.close()
    assert count == 10
    assert db.statistics().transactions == 10


def test_callables_returning_none_or_a_small_count_share_outcomes_others_get_their_own(db):
    values = [None, 7, 7, 64, "x", True, -1]
    outcomes = db.batch([lambda c: set_meta(c, "a", "1")] + [lambda c, v=v: v for v in values])
    assert outcomes[0] is outcomes[1]  # frozen: one value for every None, none built per item
    assert outcomes[2] is outcomes[3]  # and one per small count
    assert [o.value for o in outcomes] == [None, *values]
    assert all(o.ok for o in outcomes)
    assert outcomes[6].value is True  # a bool is not a count
