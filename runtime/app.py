"""Boot, run and stop the runtime process.

`boot` does everything that can fail before the tree starts, each failure mapped to its exit
code with a message that names what is wrong: configuration (1), data folder or database (2),
another instance (3). `serve` runs the tree until a signal, then stops it in reverse order
within the shutdown deadline (`runtime.shutdown`); a second signal cancels what is left.
"""

from __future__ import annotations

import os
import secrets as _secrets
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import structlog
import trio

from actors.accounts.store import TokenStore
from actors.secret_masking import register_secret
from config.models import Config
from config.secrets import Secret
from config.secrets import iter_secrets as _walk_secrets
from exports.files import RUNTIME_VERSION
from runtime.announce import HttpAnnouncement
from runtime.collector import Collector
from runtime.exit_codes import ExitCode, InitError, StartupError
from runtime.heap import release_free_memory_every
from runtime.http_api import HTTP_ID, HttpServerStatistics
from runtime.logging_setup import configure_logging, shutdown_lines
from runtime.pidfile import PidFile
from runtime.shutdown import Backstop, StopPlan, exit_now, not_stopped, stop_tree
from runtime.tree import STATE_CHILDREN, RuntimePaths, build_tree
from state import StoreError, open_database
from state.creators import get_meta, set_meta
from supervisors import Supervisor, SupervisorGaveUp

# Lines from the process itself carry a path too, like every actor's. The path is an initial
# value of the lazy proxy, not `.bind()`: binding at import would build the logger from the
# default configuration (stdout, unmasked), before `configure_logging` runs.
log = structlog.get_logger("runtime", path="process")


@attrs.frozen(kw_only=True)
class Booted:
    """What `boot` prepared for `serve`."""

    config: Config
    paths: RuntimePaths
    pid_file: PidFile
    pseudonym_key: bytes
    secrets: frozenset[str]
    instance: str = attrs.field(factory=lambda: _secrets.token_hex(8))  # this process's id
    #: The garbage collector's policy (`runtime.collector`). `serve` leaves it paused after a
    #: stop, for the exit; `collector.reset()` puts it back as it was.
    collector: Collector = attrs.field(factory=Collector, eq=False)


def iter_secrets(config: Config) -> Iterator[Secret]:
    """Every resolved secret of the configuration (to mask in logs and exports), found by
    walking it (`config.secrets.iter_secrets`), so no secret field can be left unregistered."""
    return _walk_secrets(config)


def prepare_folder(folder: Path) -> None:
    """Create `folder` and prove it is writable, or raise `InitError` naming it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InitError(f"data folder {folder} is not usable: {reason}") from exc


def boot(config: Config, *, console: Any = sys.stderr) -> Booted:
    """Logging, folders, PID file and database check; raises `InitError`/`StartupError`."""
    paths = RuntimePaths.from_config(config)
    for folder in (paths.data_dir, paths.database.parent, paths.logs.parent, paths.exports):
        prepare_folder(folder)
    values = frozenset(s.reveal() for s in iter_secrets(config))
    for value in values:
        register_secret(value)
    configure_logging(
        level=config.runtime.log_level,
        log_file=paths.logs,
        max_bytes=config.runtime.log_file_max_bytes,
        backups=config.runtime.log_file_backups,
        console=console,
    )
    check_token_store(config)
    pid_file = PidFile(paths.pid_file)
    pid_file.acquire()
    try:
        key = check_database(paths.database, config)
    except BaseException:
        pid_file.release()
        raise
    return Booted(config=config, paths=paths, pid_file=pid_file, pseudonym_key=key, secrets=values)


def check_token_store(config: Config) -> None:
    """With `[[accounts]]`, the token store must open (right key, readable file, a usable
    keyring) before anything starts: a `ConfigError` (exit 1) naming `token_store` if not.
    Static tokens still work; each gets a warning that nothing will refresh it."""
    for index, creator in enumerate(config.creators):
        static = [
            ("twitch", "token", creator.twitch and creator.twitch.token, creator.twitch),
            ("kick", "token", creator.kick and creator.kick.token, creator.kick),
            (
                "youtube",
                "oauth_token",
                creator.youtube and creator.youtube.oauth_token,
                creator.youtube,
            ),
        ]
        for table, key, secret, section in static:
            if secret is not None and getattr(section, "account", None) is None:
                log.warning(
                    "static token: it will not be refreshed; configure [[accounts]] and run "
                    "python -m runtime login",
                    key=f"creators[{index}].{table}.{key}",
                )
    if config.accounts:
        open_token_store_checked(config)


def open_token_store_checked(config: Config) -> TokenStore:
    """The configured token store, proven usable; else a `ConfigError` naming `token_store`."""
    from actors.accounts.store import TokenStoreError, open_token_store
    from config.loading import ConfigError, ConfigProblem

    try:
        store = open_token_store(config.token_store, config.runtime.data_dir)
        store.check()
    except TokenStoreError as exc:
        label = str(config.source) if config.source is not None else "<config>"
        raise ConfigError([ConfigProblem(label, "token_store", str(exc))]) from None
    return store


def check_database(path: Path, config: Config) -> bytes:
    """Open (and migrate) the database once before the tree starts, so a corrupt or newer
    database stops start-up with exit 2 instead of a restart loop; returns the key that
    pseudonymizes user ids in exports (configured, or generated once and kept)."""
    try:
        db = open_database(str(path))
    except StoreError as exc:
        raise InitError(str(exc)) from exc
    try:
        if config.exports.pseudonym_key is not None:
            return config.exports.pseudonym_key.reveal().encode()
        stored = get_meta(db.connection, "pseudonym_key")
        if stored is None:
            stored = _secrets.token_hex(32)
            with db.transaction() as conn:
                set_meta(conn, "pseudonym_key", stored)
        return stored.encode()
    finally:
        db.close()


def _find_cause(exc: BaseException | None, kind: type[BaseException]) -> BaseException | None:
    seen = 0
    while exc is not None and seen < 50:
        if isinstance(exc, kind):
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def _stamp_arrivals(signums: Sequence[int]) -> dict[int, float]:
    """Wrap the installed handlers of `signums` (trio's) so that each signal's first arrival
    time (`time.perf_counter`) is kept in the returned dict: a Python handler runs at once,
    between two bytecodes, where the task receiving the signal waits for its turn. Leaving
    `open_signal_receiver` puts back the handlers it found, which drops these."""
    arrived: dict[int, float] = {}
    for signum in signums:
        handler = signal.getsignal(signum)
        if not callable(handler):
            continue

        def stamp(number: int, frame: Any, handler: Callable[[int, Any], Any] = handler) -> None:
            arrived.setdefault(number, time.perf_counter())
            handler(number, frame)

        signal.signal(signum, stamp)
    return arrived


def http_port(root: Supervisor) -> int | None:
    """The bound port of the HTTP server, once it runs."""
    for row in root.tree():
        if row.path == f"{root.name}/{HTTP_ID}":
            detail = row.detail
            return detail.port if isinstance(detail, HttpServerStatistics) else None
    return None


async def serve(
    booted: Booted,
    *,
    on_ready: Callable[[Supervisor], None] | None = None,
    exit_at_deadline: bool = False,
) -> ExitCode:
    """Run the tree until SIGINT/SIGTERM (or Ctrl-Break), then stop it within the deadline.

    With `exit_at_deadline` (the process is the runtime, `python -m runtime run`), a stop
    still unwinding when the deadline (from the signal's arrival) is over ends the process
    there, with code 0, once the logs are flushed and the PID file and http.json removed.
    """
    config, paths = booted.config, booted.paths
    started_at = datetime.now(UTC)
    announce = HttpAnnouncement(
        paths.http_file, host=config.http.host, pid=os.getpid(), instance=booted.instance
    )
    root = build_tree(
        config,
        paths,
        started_at=started_at,
        pseudonym_key=booted.pseudonym_key,
        secrets=booted.secrets,
        version=RUNTIME_VERSION,
        announce=announce,
        instance=booted.instance,
    )
    deadline = config.runtime.shutdown_deadline
    collector = booted.collector
    failure: list[SupervisorGaveUp] = []
    stopped = trio.Event()
    entered = trio.Event()  # the tree's `run` began: `stop_tree` can stop it, started or not
    stopping: list[str] = []  # the signal that started a shutdown
    forced: list[str] = []  # why the stop was forced (the deadline, a second signal)
    cut_before: list[int] = []  # on_stops cut off before the shutdown (restarts, crashes)
    force = trio.CancelScope()

    def exit_now_at_deadline() -> None:  # (in the backstop's thread)
        registry = root.registry  # (counts read from this thread: plain ints)
        log.warning(
            "shutdown deadline over: exiting while the tree still unwinds",
            dead_letters=registry.dead_letters.count if registry is not None else 0,
        )
        announce.remove()
        booted.pid_file.release()
        exit_now(ExitCode.OK)

    backstop = Backstop(exit_now_at_deadline)

    async def supervise(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        started = False

        class Started:
            def started(self, value: object = None) -> None:
                nonlocal started
                started = True
                task_status.started(value)

        try:
            with force:
                entered.set()  # `root.run` is registered before its first checkpoint
                await root.run(task_status=Started())
        except SupervisorGaveUp as exc:
            if not started:
                raise
            failure.append(exc)
        finally:
            stopped.set()

    def force_stop() -> None:
        """Cancel the tree, cut every `on_stop` (shielded ones too) and close every mailbox:
        an `on_stop` that calls a sibling (the trigger engine flushing to the store) fails at
        once instead of waiting out its grace period for an actor that was cancelled too."""
        if root.registry is not None:
            root.registry.bound_stops(trio.current_time())
        force.cancel()
        if root.registry is not None:
            root.registry.close_all()

    async def shutdown(reason: str, began: float) -> None:
        stopping.append(reason)
        cut_before.append(root.registry.stops_cut_off if root.registry is not None else 0)
        collector.pause()  # for the rest of the process's life (see `Booted.collector`)
        shutdown_lines.start()  # a line per actor of a big tree would take the deadline
        if exit_at_deadline:
            exit_by = StopPlan.within(deadline, now=began).exit_by
            backstop.start(exit_by - trio.current_time())
        log.info("shutting down", reason=reason, deadline_seconds=deadline)
        await entered.wait()  # a signal at the very first moment: the tree is about to run
        if not await stop_tree(root, deadline, state_children=STATE_CHILDREN, began=began):
            log.warning("shutdown deadline passed: cancelling what is left", left=not_stopped(root))
            forced.append("the shutdown deadline passed")
            force_stop()

    async def watch_signals(
        nursery: trio.Nursery, task_status: Any = trio.TASK_STATUS_IGNORED
    ) -> None:
        wanted = [signal.SIGINT, signal.SIGTERM]
        if hasattr(signal, "SIGBREAK"):  # Ctrl-Break on Windows
            wanted.append(signal.SIGBREAK)
        with trio.open_signal_receiver(*wanted) as received:
            arrived = _stamp_arrivals(wanted)
            task_status.started()  # the handlers are installed from here on
            count = 0
            async for signum in received:
                count += 1
                if count == 1:
                    # The deadline runs from the signal's arrival: on a busy event loop this
                    # task runs a scheduling round (a second and more at 10,000 creators)
                    # later, and the task it starts one more.
                    late = time.perf_counter() - arrived.get(signum, time.perf_counter())
                    began = trio.current_time() - max(0.0, late)
                    nursery.start_soon(shutdown, signal.Signals(signum).name, began)
                else:
                    log.warning("second signal: stopping now")
                    if not stopped.is_set():
                        forced.append("a second signal")
                    force_stop()

    try:
        async with trio.open_nursery() as nursery:
            collector.pause()
            # Signals are handled and the HTTP server is announced before the creators have
            # started: a big tree takes a while, and `/status` answers meanwhile (the
            # supervisors still starting show as degraded), and SIGTERM stops the start in
            # order. Whoever reads http.json may send SIGTERM at once: handled by then.
            await nursery.start(watch_signals, nursery)
            await announce.enable()
            try:
                await nursery.start(supervise)
            except SupervisorGaveUp as exc:
                cause = _find_cause(exc, StartupError)
                message = str(cause) if cause is not None else str(exc.__cause__ or exc)
                log.error("start-up failed", error=message)
                if not stopping:
                    collector.resume()
                nursery.cancel_scope.cancel()  # the signal watcher
                return ExitCode.STARTUP
            if not stopping:  # (a signal during the start keeps the collector paused)
                collector.settle()  # the start's objects live as long as the process
                collector.resume()
                port = announce.port
                log.info(
                    "runtime started",
                    version=RUNTIME_VERSION,
                    creators=sum(1 for c in config.creators if c.enabled),  # started ones only
                    http=f"{config.http.host}:{port}" if port else None,
                    exports=str(paths.exports),
                )
                if on_ready is not None:
                    on_ready(root)
                nursery.start_soon(release_free_memory_every)
            await stopped.wait()
            nursery.cancel_scope.cancel()
    finally:
        announce.remove()
        shutdown_lines.report()
        backstop.cancel()
    if failure:
        log.error("the supervision tree gave up", error=str(failure[0].__cause__ or failure[0]))
        return ExitCode.FAILED
    # Only the stop's own: an on_stop cut off at a restart hours ago was logged then.
    cut_off = 0
    if cut_before and root.registry is not None:
        cut_off = root.registry.stops_cut_off - cut_before[0]
    if forced or cut_off:
        # What the cut stops and the cancelled actors would have finished (a flush, the last
        # commit) is lost: the warnings above name them; this says the stop was not clean.
        log.warning(
            "stopped, but not cleanly",
            forced_by=forced[0] if forced else None,
            on_stop_cut_off=cut_off,
        )
    else:
        log.info("stopped cleanly")
    return ExitCode.OK
