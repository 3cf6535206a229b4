"""The SQLite database engine of the store: opening, checking, migrating, transactions.

Threading: a :class:`Database` is synchronous and single-writer. The store actor owns it and
calls it from its own thread only (the store's writer thread), so the event loop never waits
on SQLite and no other thread ever touches the writing connection; even
:meth:`Database.statistics` belongs on that thread (it reports counters that thread keeps).
Snapshot readers get their own read-only connection through :meth:`Database.read_connection`.

Durability choice: WAL with ``synchronous=FULL`` by default. In WAL mode FULL costs one fsync
of the WAL per commit, and NORMAL none (only at checkpoints). Both survive a *process* crash,
but with NORMAL a power loss or OS crash can drop the last commits, and the design promises
that clip jobs, votes, outbox entries and cooldowns are durable once acknowledged. Since the
actor commits once per batch, the fsync is amortized over the whole batch. ``normal`` stays
available for benchmarks and tests.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pathlib
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Literal

import apsw
import attrs

from ._sql import one_row
from .errors import (
    DatabaseClosed,
    DatabaseCorrupt,
    DatabaseTooNew,
    DatabaseUnavailable,
    InvalidArgument,
    StoreError,
    WriteFailed,
)
from .migrations import MIGRATIONS, Migration, migrate, user_version
from .timeutil import now_ms

__all__ = [
    "BatchOutcome",
    "Combined",
    "Database",
    "ReadConnection",
    "Statistics",
    "open_database",
    "plan_once",
]

_SQLITE_MAGIC = b"SQLite format 3\x00"

#: Pages in the WAL that make a commit checkpoint it (see `open_database`).
WAL_AUTOCHECKPOINT_PAGES = 10_000


Synchronous = Literal["full", "normal"]
IntegrityCheck = Literal["quick", "full", "off"]


@attrs.frozen(slots=True, kw_only=True)
class Statistics:
    """Counters of one open :class:`Database` (for status reports and the runtime snapshot)."""

    path: str
    user_version: int
    transactions: int  # committed transactions (a batch is one)
    rollbacks: int  # transactions rolled back as a whole
    writes: int  # committed write units: batch items and transaction() bodies
    failed_writes: int  # write units that raised (their changes were rolled back)
    rows_changed: int  # rows inserted/updated/deleted by committed writes
    last_error: str | None  # "ExceptionType: message" of the newest failure
    last_error_at: int | None  # Unix ms
    file_size: int  # bytes of the main database file
    wal_size: int  # bytes of the -wal file (0 when absent)


@attrs.frozen(slots=True, kw_only=True)
class BatchOutcome:
    """Result of one callable of :meth:`Database.batch`: its return value or its exception."""

    value: Any = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        """True when the callable returned normally (its writes are committed)."""
        return self.error is None

    def unwrap(self) -> Any:
        """Return the value, or raise the captured exception."""
        if self.error is not None:
            raise self.error
        return self.value


@attrs.frozen(slots=True, kw_only=True)
class Combined:
    """Several batch callables (`parts`) that `run` does as one, returning one value per part
    (what each part would have returned), for one outcome each as if they had run in turn.

    `run` must leave the rows that running the parts in turn leaves, and fail before changing
    anything when a part would fail: then the parts run one by one in its place, and the
    failing part fails alone. When `run` fails after changing rows, the batch runs again
    with the parts one by one, each in a savepoint, like any callable failing halfway.
    """

    run: Callable[[apsw.Connection], Sequence[Any]]
    parts: tuple[Callable[[apsw.Connection], Any], ...]


#: One item of `Database.batch`: a callable, or callables run as one.
BatchItem = Callable[[apsw.Connection], Any] | Combined

#: The outcomes of batch callables that returned None (most store commands) or a small count
#: (appended signals, credited viewers): shared values (they are frozen), not one built per
#: callable (an attrs instance costs about as much to build as a store command's Python).
_RETURNED_NONE = BatchOutcome()
_RETURNED_COUNT = tuple(BatchOutcome(value=n) for n in range(64))


def _returned(value: Any) -> BatchOutcome:
    if value is None:
        return _RETURNED_NONE
    if type(value) is int and 0 <= value < 64:
        return _RETURNED_COUNT[value]
    return BatchOutcome(value=value)


def _kept(exc: Exception) -> Exception:
    """A batch item's exception as its outcome keeps it: a deliberate answer of the store (a
    `StoreError`: refused, not found, closed) without its traceback, any other (a bug, rare)
    with its traceback from the failing callable on.

    Why: every frame of a traceback links to its caller's frame (`f_back`), up through
    `Database._run_batch`, whose locals hold the batch's outcomes and callables; so outcome,
    exception, traceback and frames form a cycle that keeps the whole batch (every command of
    every creator in that transaction) until the collector's oldest generation is walked,
    minutes later. Refusals come with ordinary chat (a second `!join`): at 300 creators, four
    minutes in, such cycles held 9.4 MB (31 KiB per creator; with the trigger engine's, which
    re-raises the refusal), measured. A refusal's traceback says nothing its message does not.
    """
    if isinstance(exc, StoreError):
        return exc.with_traceback(None)
    tb = exc.__traceback__
    return exc.with_traceback(tb.tb_next if tb else None)


def _os_reason(exc: OSError) -> str:
    return f"[Errno {exc.errno}] {exc.strerror or exc}" if exc.errno else str(exc)


def _probe_existing_file(path: str) -> None:
    """Check an existing file with plain OS calls before SQLite touches it.

    Why: this yields the real OS error for unreadable files, and rejects a non-SQLite file
    by its header without letting SQLite (or a WAL switch) write anything to it.
    """
    if os.path.isdir(path):
        raise DatabaseUnavailable(path, f"[Errno {errno.EISDIR}] Is a directory")
    try:
        with open(path, "rb") as fh:
            header = fh.read(100)
        # Opening for update writes nothing but fails on a read-only file, naming the OS error.
        with open(path, "r+b"):
            pass
    except OSError as exc:
        raise DatabaseUnavailable(path, _os_reason(exc)) from exc
    if header and not header.startswith(_SQLITE_MAGIC):
        raise DatabaseCorrupt(path, "file is not a database: SQLite header missing")
    if header and len(header) < 100:
        raise DatabaseCorrupt(path, f"file is truncated: {len(header)}-byte header")


def _probe_folder(path: str) -> None:
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise DatabaseUnavailable(
            path, f"cannot create its folder {folder!r}: {_os_reason(exc)}"
        ) from exc
    if not os.path.isdir(folder):
        raise DatabaseUnavailable(path, f"{folder!r}: [Errno {errno.ENOTDIR}] Not a directory")
    # WAL needs to create the -wal and -shm files beside the database.
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DatabaseUnavailable(
            path, f"folder {folder!r} is not writable: [Errno {errno.EACCES}] Permission denied"
        )


def _classify(path: str, exc: apsw.Error) -> Exception:
    if isinstance(exc, apsw.NotADBError | apsw.CorruptError):
        return DatabaseCorrupt(path, str(exc))
    if isinstance(
        exc,
        apsw.CantOpenError
        | apsw.PermissionsError
        | apsw.ReadOnlyError
        | apsw.IOError
        | apsw.FullError
        | apsw.AuthError
        | apsw.BusyError
        | apsw.LockedError,
    ):
        return DatabaseUnavailable(path, f"{type(exc).__name__}: {exc}")
    return exc


class ReadConnection:
    """A read-only connection (``mode=ro`` URI) for snapshot readers.

    Use :meth:`snapshot` to run several queries against one consistent view of the data;
    WAL lets it read while the writer commits. Not shared between threads concurrently.
    """

    def __init__(self, connection: apsw.Connection) -> None:
        self._conn = connection

    @property
    def connection(self) -> apsw.Connection:
        """The underlying apsw connection (pass it to the query functions)."""
        return self._conn

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[apsw.Connection]:
        """Yield the connection inside one read transaction (a stable snapshot)."""
        self._conn.execute("BEGIN DEFERRED")
        try:
            yield self._conn
        finally:
            if not self._conn.get_autocommit():
                self._conn.execute("COMMIT")

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._conn.close()

    def __enter__(self) -> ReadConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Database:
    """An open, checked and migrated store database with exactly one writing connection.

    Create it with :func:`open_database`. All writes go through :meth:`transaction` or
    :meth:`batch`; the query modules (``state.polls``, ``state.clips``, ...) take the
    connection these yield.
    """

    def __init__(
        self, connection: apsw.Connection, path: str, applied_migrations: Sequence[int] = ()
    ) -> None:
        self._conn: apsw.Connection | None = connection
        self._path = path
        #: Versions migrated by this open (empty when the schema was already current).
        self.applied_migrations: tuple[int, ...] = tuple(applied_migrations)
        # Only migrations change it, and they run before this object exists: read it once, so
        # statistics never need to query the connection.
        self._user_version = user_version(connection)
        self._depth = 0
        self._transactions = 0
        self._rollbacks = 0
        self._writes = 0
        self._failed_writes = 0
        self._last_error: str | None = None
        self._last_error_at: int | None = None
        self._rows_changed = 0
        self._batch_changes_before = 0

    # --- basics ---------------------------------------------------------------------------

    @property
    def path(self) -> str:
        """Absolute path of the database file."""
        return self._path

    @property
    def connection(self) -> apsw.Connection:
        """The writer connection, for reads outside a transaction on the writer thread."""
        return self._require_open()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._conn is None

    def _require_open(self) -> apsw.Connection:
        if self._conn is None:
            raise DatabaseClosed(f"database {self._path!r} is closed")
        return self._conn

    def _record_error(self, exc: BaseException) -> None:
        self._last_error = f"{type(exc).__name__}: {exc}"
        self._last_error_at = now_ms()

    # --- transactions ---------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[apsw.Connection]:
        """Run the body in one write transaction; commit on success, roll back on exception.

        Nested use becomes a savepoint of the enclosing transaction. A failed commit raises
        :class:`WriteFailed` (nothing was committed).
        """
        conn = self._require_open()
        if self._depth:
            with self._savepoint(conn):
                yield conn
            return
        # IMMEDIATE takes the write lock up front: no deadlock-prone read-to-write upgrade.
        conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        changes_before = conn.total_changes()
        try:
            try:
                yield conn
            except BaseException as exc:
                self._failed_writes += 1
                self._rollback(conn, exc)
                raise
            changed = conn.total_changes() - changes_before
            self._commit(conn)
            self._writes += 1
            self._rows_changed += changed
        finally:
            self._depth = 0

    @contextlib.contextmanager
    def _savepoint(self, conn: apsw.Connection) -> Iterator[None]:
        name = f"sp_{self._depth}"
        conn.execute(f"SAVEPOINT {name}")
        self._depth += 1
        try:
            yield
        except BaseException:
            if not conn.get_autocommit():
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
            raise
        else:
            conn.execute(f"RELEASE {name}")
        finally:
            self._depth -= 1

    def _rollback(self, conn: apsw.Connection, exc: BaseException) -> None:
        self._rollbacks += 1
        self._record_error(exc)
        # SQLite may already have rolled back by itself (e.g. after SQLITE_FULL).
        if not conn.get_autocommit():
            conn.execute("ROLLBACK")

    def _commit(self, conn: apsw.Connection) -> None:
        try:
            conn.execute("COMMIT")
        except apsw.Error as exc:
            self._rollback(conn, exc)
            raise WriteFailed(f"commit to {self._path!r} failed: {exc}") from exc
        self._transactions += 1

    def batch(self, fns: Iterable[BatchItem]) -> list[BatchOutcome]:
        """Run write callables in ONE transaction; a failing one changes nothing.

        Each callable gets the connection. One that raises an ``Exception`` has only its own
        changes rolled back; its exception is returned in its :class:`BatchOutcome` and the
        others still commit, so a queue of independent requests can share one commit (and one
        fsync). When SQLite aborts the whole transaction or the commit fails, nothing is
        committed and :class:`WriteFailed` is raised.

        Savepoints cost two statements per callable, and almost every callable either
        succeeds or fails before it changed a row (a refused argument, a failing statement,
        which SQLite undoes by itself). So the callables run without them; only when one
        fails after changing rows (or the schema) is the transaction rolled back and the batch
        run again with a savepoint around each callable. A callable must therefore be a
        function of the connection: it may run twice, the first run leaving no trace.

        A `Combined` item gives one outcome per part, in order (its parts run one by one when
        it fails).
        """
        fns = list(fns)
        conn = self._require_open()
        if self._depth:
            raise InvalidArgument("batch() cannot run inside transaction()")
        if not fns:
            return []
        conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            outcomes = self._run_batch(conn, fns, isolate=False)
            if outcomes is None:  # a callable failed halfway: again, each in a savepoint
                conn.execute("ROLLBACK")
                conn.execute("BEGIN IMMEDIATE")
                outcomes = self._run_batch(conn, fns, isolate=True)
                assert outcomes is not None
        except BaseException as exc:
            if not isinstance(exc, WriteFailed):
                self._rollback(conn, exc)
            self._depth = 0
            raise
        changed = conn.total_changes() - self._batch_changes_before
        try:
            self._commit(conn)
        finally:
            self._depth = 0
        self._rows_changed += changed
        failed = sum(1 for o in outcomes if o.error is not None)
        self._writes += len(outcomes) - failed
        self._failed_writes += failed
        return outcomes

    def _run_batch(
        self, conn: apsw.Connection, fns: list[BatchItem], *, isolate: bool
    ) -> list[BatchOutcome] | None:
        """Run `fns` in the open transaction. Without `isolate` (no savepoints), None when one
        failed after changing something (the caller rolls back and runs them isolated);
        with it, each `Combined` runs as its parts, one by one."""
        if isolate:
            fns = [p for fn in fns for p in (fn.parts if type(fn) is Combined else (fn,))]
        outcomes: list[BatchOutcome] = []
        append = outcomes.append
        total_changes = conn.total_changes
        self._batch_changes_before = start = total_changes()
        schema = None if isolate else _schema_version(conn)
        undone = 0  # changes of failed callables, rolled back to their savepoint
        at = 0
        while at < len(fns):
            fn = fns[at]
            at += 1
            before = total_changes()
            if isolate:
                conn.execute("SAVEPOINT batch_item")
            try:
                if isinstance(fn, Combined):
                    outcomes.extend(map(_returned, fn.run(conn)))
                    continue
                value = fn(conn)
            except Exception as exc:
                if conn.get_autocommit():
                    # SQLite rolled back the whole transaction: earlier items are gone too.
                    self._record_error(exc)
                    self._rollbacks += 1
                    raise WriteFailed(f"batch on {self._path!r} aborted by SQLite: {exc}") from exc
                if isolate:
                    self._record_error(exc)
                    undone += total_changes() - before
                    conn.execute("ROLLBACK TO batch_item")
                    conn.execute("RELEASE batch_item")
                elif total_changes() != before or _schema_version(conn) != schema:
                    self._record_error(exc)
                    return None
                elif type(fn) is Combined:
                    # A part would fail, and nothing changed: the parts one by one instead,
                    # so that part fails alone.
                    fns = [*fns[:at], *fn.parts, *fns[at:]]
                    continue
                else:
                    self._record_error(exc)
                append(BatchOutcome(error=_kept(exc)))
            else:
                if isolate:
                    conn.execute("RELEASE batch_item")
                append(_returned(value))
        self._batch_changes_before = start + undone
        return outcomes

    # --- readers, maintenance -------------------------------------------------------------

    def read_connection(self, *, busy_timeout_ms: int = 5000) -> ReadConnection:
        """Open a separate read-only connection (``mode=ro`` URI) to the same file."""
        self._require_open()
        uri = pathlib.Path(self._path).as_uri() + "?mode=ro"
        try:
            conn = apsw.Connection(uri, flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI)
            conn.set_busy_timeout(busy_timeout_ms)
            conn.execute("PRAGMA query_only = ON")
            plan_once(conn)
        except apsw.Error as exc:
            raise _classify(self._path, exc) from exc
        return ReadConnection(conn)

    def statistics(self) -> Statistics:
        """Return the current counters and file sizes (no query: the connection is not used)."""
        self._require_open()

        def size(p: str) -> int:
            try:
                return os.path.getsize(p)
            except OSError:
                return 0

        return Statistics(
            path=self._path,
            user_version=self._user_version,
            transactions=self._transactions,
            rollbacks=self._rollbacks,
            writes=self._writes,
            failed_writes=self._failed_writes,
            rows_changed=self._rows_changed,
            last_error=self._last_error,
            last_error_at=self._last_error_at,
            file_size=size(self._path),
            wal_size=size(self._path + "-wal"),
        )

    def backup(self, destination: str | os.PathLike[str]) -> None:
        """Write a consistent copy of the database to ``destination`` atomically.

        Uses SQLite's online backup API into a temporary file in the destination folder,
        fsyncs it, then renames it over ``destination``.
        """
        conn = self._require_open()
        if self._depth:
            raise InvalidArgument("backup() cannot run inside a transaction")
        dest = os.path.abspath(os.fspath(destination))
        if dest == self._path:
            raise InvalidArgument("backup destination is the database itself")
        folder = os.path.dirname(dest)
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".backup-", suffix=".tmp", dir=folder)
        os.close(fd)
        try:
            target = apsw.Connection(tmp)
            try:
                with target.backup("main", conn, "main") as step:
                    while not step.done:
                        step.step(1024)
                # A standalone copy: rollback journal, so the file alone is the whole backup.
                target.execute("PRAGMA journal_mode = DELETE")
            finally:
                target.close()
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def close(self) -> None:
        """Close the writer connection (idempotent). SQLite checkpoints the WAL on close."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_database(
    path: str | os.PathLike[str],
    *,
    synchronous: Synchronous = "full",
    busy_timeout_ms: int = 5000,
    integrity_check: IntegrityCheck = "quick",
    migrations: Sequence[Migration] = MIGRATIONS,
) -> Database:
    """Open (creating if absent), check and migrate the store database at ``path``.

    Order matters: nothing is written to an existing file before it has been identified as
    an SQLite database of a schema version we know and has passed the integrity check, so a
    refused file is left byte-for-byte unchanged. Raises :class:`DatabaseUnavailable`,
    :class:`DatabaseCorrupt`, :class:`DatabaseTooNew` or :class:`MigrationFailed`.
    """
    raw = os.fspath(path)
    if not raw or raw == ":memory:" or raw.startswith("file:"):
        raise InvalidArgument(f"open_database needs a file path, got {raw!r}")
    if synchronous not in ("full", "normal"):
        raise InvalidArgument(f"synchronous must be 'full' or 'normal', got {synchronous!r}")
    abspath = os.path.abspath(raw)
    _probe_folder(abspath)
    existed = os.path.lexists(abspath)
    if existed:
        _probe_existing_file(abspath)
    try:
        conn = apsw.Connection(abspath, flags=apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE)
    except apsw.Error as exc:
        raise _classify(abspath, exc) from exc
    try:
        conn.set_busy_timeout(busy_timeout_ms)
        newest = migrations[-1].version if migrations else 0
        found = user_version(conn)  # first read: NotADBError surfaces here
        if found > newest:
            raise DatabaseTooNew(abspath, found, newest)
        if integrity_check != "off":
            _check_integrity(conn, abspath, integrity_check)
        mode = str(one_row(conn.execute("PRAGMA journal_mode = WAL"))[0]).lower()
        if mode != "wal":
            raise DatabaseUnavailable(abspath, f"WAL journal mode refused (got {mode!r})")
        conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
        conn.execute("PRAGMA foreign_keys = ON")
        plan_once(conn)
        # Truncate the WAL back to 64 MiB after checkpoints so a burst cannot keep it huge.
        conn.execute("PRAGMA journal_size_limit = 67108864")
        # Checkpoint (in the committing thread) once the WAL holds this many pages (~40 MiB),
        # not SQLite's 1,000: many creators dirty the same pages commit after commit, and a
        # checkpoint copies each page once however often it was rewritten since the last one
        # (at 1,000 creators: a third less commit CPU).
        conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
        # The page cache stays at SQLite's default (2,000 KiB). An 8 MiB one cost 6 MiB of RSS
        # at 1,000 creators and, measured again once writes were grouped as they are now, saved
        # no CPU (the load, a process 300 s old: 139.9 us per chat message with it,
        # 134.3 without, both at once; the writer thread 33 vs 32 us).
        applied = migrate(conn, path=abspath, migrations=migrations)
    except apsw.Error as exc:
        conn.close()
        raise _classify(abspath, exc) from exc
    except BaseException:
        conn.close()
        raise
    return Database(conn, abspath, applied)


def plan_once(conn: apsw.Connection) -> None:
    """Make every cached statement keep the plan it was prepared with, whatever its bound
    values (SQLite's query planner stability guarantee). The store's connections get it from
    `open_database` and `Database.read_connection`; call it on any other connection that runs
    this package's queries (e.g. a publisher's own reader).

    Why: apsw's SQLite is built with STAT4, and then a statement whose plan looked at a bound
    value (any with an ORDER BY, LIMIT, min/max or partial index next to a `?`) is prepared
    again every time new values are bound: 3 to 5 us per execution, more than the query
    itself (`current_giveaway`, the cut of `prune_seen`, ...). Without `ANALYZE` data the
    values cannot change a plan anyway, and every query here spells its constants (the
    partial indexes' `balance > 0`, `ended_at IS NULL`) as literals.
    """
    conn.config(apsw.SQLITE_DBCONFIG_ENABLE_QPSG, 1)


def _schema_version(conn: apsw.Connection) -> int:
    return int(one_row(conn.execute("PRAGMA schema_version"))[0])


def _check_integrity(conn: apsw.Connection, path: str, kind: IntegrityCheck) -> None:
    pragma = "quick_check" if kind == "quick" else "integrity_check"
    rows = [str(r[0]) for r in conn.execute(f"PRAGMA {pragma}(20)")]
    if rows != ["ok"]:
        raise DatabaseCorrupt(path, f"{pragma} failed: " + "; ".join(rows[:5]))
    # Foreign keys are always enforced, so dangling rows mean damage; checking them reads
    # every child table, hence only on the full check.
    problems = conn.execute("PRAGMA foreign_key_check").fetchall() if kind == "full" else []
    if problems:
        raise DatabaseCorrupt(path, f"foreign_key_check found {len(problems)} dangling rows")
