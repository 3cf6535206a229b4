"""`Supervisor`: runs children, applies OTP restart strategies, stops them in order."""

from __future__ import annotations

import random
import sys
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import attrs
import structlog
import trio

from actors._actor import Actor, InstanceStats, PathLogger, serve_actor
from actors._errors import describe, unwrap_failure
from actors._mailbox import Mailbox
from actors._ref import ActorRef
from actors._registry import Registry
from actors._timer import CallTimer
from actors._tree import (
    NO_DETAIL,
    NO_MAILBOX,
    Detail,
    MailboxFigures,
    SnapshotFailed,
    TreeRow,
)
from supervisors._spec import Backoff, ChildSpec, Restart, Strategy, SupervisorGaveUp

log = structlog.get_logger("supervisors")

STARTING, RUNNING, RESTARTING, STOPPING, STOPPED, FAILED = (
    "starting",
    "running",
    "restarting",
    "stopping",
    "stopped",
    "failed",
)


@attrs.frozen(kw_only=True)
class ChildInfo:
    """One row of `which_children()`."""

    id: str
    kind: str
    state: str
    restarts: int
    ref: ActorRef
    last_error: str | None
    started_at: datetime | None


class _Run:
    """One instance of a child, from its start to its exit."""

    __slots__ = (
        "_waiters",
        "error",
        "exited",
        "expected",
        "instance",
        "scope",
        "settled",
        "started",
        "stop_deadline",
    )

    def __init__(self, instance: Actor | Supervisor) -> None:
        self.instance = instance
        self.scope = trio.CancelScope()
        self.exited = False
        self.settled = False  # started, or exited before starting
        # Made only while someone waits for `settled` or `exited` (a start, a stop): a
        # thousand idle children keep no event each.
        self._waiters: trio.Event | None = None
        self.started = False
        self.expected = False  # the supervisor stopped it on purpose
        self.error: BaseException | None = None
        self.stop_deadline: float | None = None

    def settle(self) -> None:
        """The instance started (or failed to)."""
        self.settled = True
        self._wake()

    def exit(self) -> None:
        """The instance is gone."""
        self.exited = self.settled = True
        self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, None
        if waiters is not None:
            waiters.set()

    async def wait_settled(self) -> None:
        """Wait for `settle` (or `exit`); a checkpoint like `trio.Event.wait`."""
        if self.settled:
            await trio.lowlevel.checkpoint()
        while not self.settled:
            await self._wait()

    async def wait_exited(self) -> None:
        """Wait for `exit`; a checkpoint like `trio.Event.wait`."""
        if self.exited:
            await trio.lowlevel.checkpoint()
        while not self.exited:
            await self._wait()

    async def _wait(self) -> None:
        if self._waiters is None:
            self._waiters = trio.Event()
        await self._waiters.wait()


class _Slot:
    """A child position in the supervisor: outlives its instances."""

    __slots__ = (
        "consecutive",
        "kind",
        "last_error",
        "last_start",
        "path",
        "removed",
        "restarts",
        "run",
        "spec",
        "started_at",
        "state",
        "stats",
    )

    def __init__(self, spec: ChildSpec, path: str) -> None:
        self.spec = spec
        self.path = path
        self.kind = "unknown"
        self.state = STOPPED
        self.restarts = 0
        self.consecutive = 0
        self.last_start: float | None = None
        self.last_error: str | None = None
        self.started_at: datetime | None = None
        self.run: _Run | None = None
        self.removed = False
        self.stats = InstanceStats()


class _TaskStatus:
    """Adapts a callback to trio's `task_status.started()` protocol."""

    def __init__(self, callback: Any) -> None:
        self._callback = callback

    def started(self, value: object = None) -> None:
        self._callback()


_STOP_SIGNAL = object()


class _RestartRequest:
    """An operator's restart of one child, carried out by the supervisor's own task."""

    __slots__ = ("child_id", "done", "error")

    def __init__(self, child_id: str) -> None:
        self.child_id = child_id
        self.done = trio.Event()
        self.error: BaseException | None = None

    def finish(self, error: BaseException | None = None) -> None:
        if not self.done.is_set():
            self.error = error
            self.done.set()


#: The backoff jitter of the supervisors given no `rng`.
_JITTER = random.Random()


class Supervisor:
    """A supervisor with Erlang/OTP semantics; run it with `await nursery.start(sup.run)`."""

    log: Any = PathLogger()

    def __init__(
        self,
        name: str,
        children: Iterable[ChildSpec] = (),
        *,
        strategy: Strategy = Strategy.ONE_FOR_ONE,
        max_restarts: int = 3,
        max_seconds: float = 5.0,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        independent: bool = False,
    ) -> None:
        if not name or "/" in name:
            raise ValueError(f"supervisor name must be non-empty without '/', got {name!r}")
        if max_restarts < 0 or not max_seconds > 0:
            raise ValueError("max_restarts must be >= 0 and max_seconds > 0")
        if independent and strategy is not Strategy.ONE_FOR_ONE:
            raise ValueError("independent children need the one_for_one strategy")
        self.name = name
        self.strategy = strategy
        self.max_restarts = max_restarts
        self.max_seconds = max_seconds
        self.backoff = backoff if backoff is not None else Backoff()
        # Children that do not depend on each other (a thousand creators) start together and
        # stop together: a start or a stop then takes as long as the slowest child, not the sum.
        self.independent = independent
        # Without a generator of its own, the backoff jitter of every supervisor comes from
        # one shared one: a `random.Random` is ~2.9 KiB (a thousand creator supervisors).
        self._rng = rng or _JITTER
        self._specs = list(children)
        seen: set[str] = set()
        for spec in self._specs:
            if spec.id in seen:
                raise ValueError(f"duplicate child id {spec.id!r} in supervisor {name!r}")
            seen.add(spec.id)
        self.path = name
        self._registry: Registry[ChildSpec] | None = None
        self._slots: list[_Slot] = []
        self._by_id: dict[str, _Slot] = {}
        self._restart_times: deque[float] | None = None  # made at the first restart
        self._state = STOPPED
        self._last_error: str | None = None
        self._started_at: datetime | None = None
        self._ran = False
        self._stop_requested = False
        self._nursery: trio.Nursery | None = None
        self._work_scope: trio.CancelScope | None = None
        self._lock: trio.Lock | None = None
        # Exits of children and operator requests, for the supervisor's own task: a mailbox
        # (a deque and one waiting task) costs a fraction of a memory channel pair.
        self._exits: Mailbox | None = None
        self._stopped: trio.Event | None = None
        self._restart_requests: list[_RestartRequest] = []

    # ------------------------------------------------------------------ running

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Start the children in order, report started, supervise until `stop()`.

        Raises `SupervisorGaveUp` when restart intensity runs out (from `nursery.start`
        if that happens before every child has started).
        """
        if self._ran:
            raise RuntimeError("a Supervisor instance runs once; give ChildSpec a factory")
        self._ran = True
        registry = self._registry
        is_root = registry is None
        if registry is None:
            registry = self._registry = Registry()
            registry.register(self.path, "supervisor")
        self._lock = trio.Lock()
        self._stopped = trio.Event()
        self._exits = Mailbox(f"{self.path} (exits)", sys.maxsize)
        self._adopt_children()
        gave_up: SupervisorGaveUp | None = None
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                timer_scope = trio.CancelScope()
                if is_root:
                    nursery.start_soon(self._run_timer, timer_scope)
                try:
                    self._state = STARTING
                    with trio.CancelScope() as self._work_scope:
                        async with self._lock:
                            await self._start_in_order(list(self._slots))
                    self._state = RUNNING
                    self._started_at = datetime.now(UTC)
                    task_status.started()
                    if not self._stop_requested:
                        await self._supervise()
                except SupervisorGaveUp as exc:
                    gave_up = exc
                if gave_up is None:
                    self._state = STOPPING
                    await self._stop_all()
                timer_scope.cancel()
        finally:
            self._state = FAILED if gave_up is not None else STOPPED
            for request in self._restart_requests:
                request.finish(RuntimeError(f"{self.path} stopped before the restart"))
            self._restart_requests.clear()
            self._stopped.set()
            if is_root:
                registry.close_all()
                registry.report_cut_offs()
                registry.dead_letters.report()
        if gave_up is not None:
            raise gave_up

    async def _run_timer(self, scope: trio.CancelScope) -> None:
        assert self._registry is not None
        timer = self._registry.timer = CallTimer()
        with scope:
            await timer.run()

    def _adopt_children(self) -> None:
        """Create the slots: static specs, then those added by `start_child` to an earlier
        instance at this path (the registry remembers them across restarts)."""
        registry = self._registry
        assert registry is not None
        dynamic = registry.dynamic.setdefault(self.path, {})
        for spec in [*self._specs, *(s for s in dynamic.values() if s.id not in self._by_id)]:
            if spec.id in self._by_id:
                continue
            self._add_slot(spec)

    def _add_slot(self, spec: ChildSpec) -> _Slot:
        assert self._registry is not None
        slot = _Slot(spec, f"{self.path}/{spec.id}")
        self._registry.register(slot.path)
        self._slots.append(slot)
        self._by_id[spec.id] = slot
        return slot

    async def _supervise(self) -> None:
        assert self._exits is not None and self._lock is not None
        while True:
            item = await self._exits.get()
            if item is _STOP_SIGNAL or self._stop_requested:
                return
            if isinstance(item, _RestartRequest):
                await self._operator_restart(item)
                continue
            assert isinstance(item, tuple)
            slot, run = item
            if run is not slot.run or run.expected or slot.removed:
                continue  # stale: the slot was restarted or stopped since
            async with self._lock:
                with trio.CancelScope() as self._work_scope:
                    await self._handle_exit(slot, run)
            if self._stop_requested:
                return

    async def _handle_exit(self, slot: _Slot, run: _Run) -> None:
        restart = slot.spec.restart
        if restart is Restart.TEMPORARY:
            self._remove_slot(slot)
            return
        if run.error is None and restart is Restart.TRANSIENT:
            slot.state = STOPPED
            return
        await self._restart(slot, run.error)

    async def _restart(self, slot: _Slot, error: BaseException | None) -> None:
        """One restart decision: counts once toward intensity, however many children."""
        await self._count_restart(error)
        group = await self._stop_group(slot)
        delay = self._backoff_delay(slot)
        for member in group:
            member.state = RESTARTING
        if delay > 0:
            await trio.sleep(delay)
        await self._start_in_order(group)

    async def _stop_group(self, slot: _Slot) -> list[_Slot]:
        """Stop the siblings the strategy restarts with `slot` (reverse order) and return
        the slots to start again, in start order."""
        live = [s for s in self._slots if not s.removed]
        if self.strategy is Strategy.ONE_FOR_ONE:
            return [slot]
        if self.strategy is Strategy.ONE_FOR_ALL:
            group = live
        else:
            group = live[live.index(slot) :]
        restart: list[_Slot] = []
        for sibling in reversed(group):
            if sibling is slot:
                continue
            was_running = sibling.run is not None and not sibling.run.exited
            await self._stop_slot(sibling)
            if sibling.spec.restart is Restart.TEMPORARY:
                self._remove_slot(sibling)
            elif was_running or sibling.state == RESTARTING:
                restart.append(sibling)
        return sorted([slot, *restart], key=self._slots.index)

    async def _count_restart(self, error: BaseException | None) -> None:
        now = trio.current_time()
        times = self._restart_times
        if times is None:
            times = self._restart_times = deque()
        times.append(now)
        while times and times[0] < now - self.max_seconds:
            times.popleft()
        if len(times) > self.max_restarts:
            await self._give_up(error)

    async def _give_up(self, error: BaseException | None) -> None:
        self._state = FAILED
        self._last_error = describe(error)
        self.log.error(
            "supervisor gave up",
            max_restarts=self.max_restarts,
            max_seconds=self.max_seconds,
            last_error=self._last_error,
        )
        with trio.CancelScope(shield=True):
            await self._stop_all()
        exc = SupervisorGaveUp(self.path, self.max_restarts, self.max_seconds)
        raise exc from error

    def _backoff_delay(self, slot: _Slot) -> float:
        now = trio.current_time()
        if slot.last_start is not None and now - slot.last_start >= self.backoff.maximum:
            slot.consecutive = 0
        slot.consecutive += 1
        return self.backoff.delay(slot.consecutive, self._rng)

    async def _start_in_order(self, slots: list[_Slot]) -> None:
        """Start `slots` in order; a failed start is a crash handled by the strategy.

        With independent children, every slot is first started at once; those that failed
        then go through the ordered path (retries, backoff, intensity) one by one.
        """
        pending = slots
        if self.independent and len(slots) > 1:
            failed: dict[_Slot, BaseException] = {}

            async def attempt(slot: _Slot) -> None:
                if slot.removed:
                    return
                error = await self._start_one(slot)
                if error is not None:
                    failed[slot] = error

            async with trio.open_nursery() as starting:
                for slot in slots:
                    starting.start_soon(attempt, slot)
            retry: list[_Slot] = []
            delay = 0.0
            for slot in sorted(failed, key=self._slots.index):
                if slot.spec.restart is Restart.TEMPORARY:
                    self._remove_slot(slot)
                    continue
                await self._count_restart(failed[slot])  # may give up, as in order
                delay = max(delay, self._backoff_delay(slot))
                retry.append(slot)
            if not retry:
                return
            if delay > 0:
                await trio.sleep(delay)
            pending = retry
        i = 0
        while i < len(pending):
            slot = pending[i]
            if slot.removed:
                i += 1
                continue
            error = await self._start_one(slot)
            if error is None:
                i += 1
                continue
            if slot.spec.restart is Restart.TEMPORARY:
                self._remove_slot(slot)
                i += 1
                continue
            await self._count_restart(error)
            group = await self._stop_group(slot)
            delay = self._backoff_delay(slot)
            merged = {*group, *pending[i:]}
            pending = sorted((s for s in merged if not s.removed), key=self._slots.index)
            for member in pending:
                member.state = RESTARTING
            i = 0
            if delay > 0:
                await trio.sleep(delay)

    async def _start_one(self, slot: _Slot) -> BaseException | None:
        """Start one instance; None once its `on_start` returned, else the failure."""
        assert self._nursery is not None and self._registry is not None
        if slot.run is not None:
            slot.restarts += 1
        slot.state = STARTING
        try:
            instance = slot.spec.start()
            if not isinstance(instance, Actor | Supervisor):
                raise TypeError(
                    f"ChildSpec {slot.spec.id!r} start() returned {type(instance).__name__}, "
                    "expected an Actor or a Supervisor"
                )
        except Exception as exc:
            self._record_crash(slot, exc, "child factory failed")
            run = _Run(_FAILED_FACTORY)
            run.error = exc
            run.exit()
            slot.run = run
            slot.state = RESTARTING
            return exc
        run = _Run(instance)
        slot.run = run
        if isinstance(instance, Supervisor):
            slot.kind = "supervisor"
            self._registry.register(slot.path, "supervisor")
            instance._attach(slot.path, self._registry)
        else:
            slot.kind = "actor"
            self._registry.register(slot.path, "actor")
            box = self._registry.mailbox(slot.path, type(instance).mailbox_size)
            box.stop_requested = False
            instance.path = slot.path
            instance.ref = ActorRef(self._registry, slot.path)
        self._nursery.start_soon(self._child_main, slot, run)
        await run.wait_settled()
        if run.started:
            return None
        slot.state = RESTARTING
        return run.error or RuntimeError(f"{slot.path} exited before it started")

    def _attach(self, path: str, registry: Registry[ChildSpec]) -> None:
        self.path = path
        self._registry = registry
        self.__dict__.pop("log", None)  # bound again, to the new path, when next used

    async def _child_main(self, slot: _Slot, run: _Run) -> None:
        """Run one instance inside its cancel scope, then report how it ended."""
        instance = run.instance

        def started() -> None:
            # Bookkeeping happens here, synchronously: the instance may handle queued
            # messages before the supervisor task runs again.
            run.started = True
            slot.state = RUNNING
            slot.started_at = datetime.now(UTC)
            slot.last_start = trio.current_time()
            run.settle()

        try:
            try:
                with run.scope:
                    if isinstance(instance, Supervisor):
                        await instance.run(task_status=_TaskStatus(started))
                    else:
                        assert self._registry is not None
                        box = self._registry.existing_mailbox(slot.path)
                        assert box is not None
                        await serve_actor(instance, box, slot.stats, started)
            except BaseException as exc:
                failure = unwrap_failure(exc)
                if failure is None or isinstance(failure, KeyboardInterrupt | SystemExit):
                    raise  # cancelled from outside, or the process is exiting: not a crash
                run.error = failure
            finally:
                if isinstance(instance, Actor):
                    await self._call_on_stop(slot, run, instance)
        finally:
            self._after_exit(slot, run)

    async def _call_on_stop(self, slot: _Slot, run: _Run, actor: Actor) -> None:
        assert self._registry is not None
        deadline = run.stop_deadline
        if deadline is None:
            deadline = trio.current_time() + slot.spec.shutdown
        # Shielded: on_stop must run even when the instance was cancelled, bounded by grace
        # and by the tree's shutdown deadline (which may come later, and cuts it then too).
        with trio.CancelScope(deadline=deadline, shield=True) as scope:
            self._registry.stopping(scope, slot.path)
            try:
                await actor.on_stop()
            except Exception as exc:
                actor.log.error("on_stop failed", error=describe(exc))
            finally:
                self._registry.stopped(scope)
        if scope.cancelled_caught and self._registry.cut_off(slot.path):
            actor.log.warning("on_stop cut off at the end of the grace period")

    def _after_exit(self, slot: _Slot, run: _Run) -> None:
        assert self._registry is not None
        self._registry.stopped(run.scope)
        if run.error is not None:
            self._record_crash(slot, run.error, "child crashed")
        in_flight = slot.stats.current
        if in_flight is not None:
            slot.stats.current = None
            reason = "handler crashed" if run.error is not None else "stopped while handling"
            # A batching actor was handling a list of messages: each is a dead letter.
            for item in in_flight if isinstance(in_flight, list) else [in_flight]:
                self._registry.dead_letters.record(slot.path, item, reason, run.error)
        if slot.run is run and not slot.removed:
            slot.state = STOPPED if run.expected or run.error is None else RESTARTING
        run.exit()
        if run.started and not run.expected and self._exits is not None:
            self._exits.put_nowait((slot, run))

    def _record_crash(self, slot: _Slot, error: BaseException, event: str) -> None:
        slot.last_error = describe(error)
        log.error(event, path=slot.path, error=slot.last_error)

    def _remove_slot(self, slot: _Slot) -> None:
        assert self._registry is not None
        slot.removed = True
        slot.state = STOPPED
        self._slots.remove(slot)
        del self._by_id[slot.spec.id]
        self._registry.dynamic.get(self.path, {}).pop(slot.spec.id, None)
        self._registry.remove(slot.path)

    # ----------------------------------------------------------------- stopping

    async def _stop_slot(self, slot: _Slot) -> None:
        """Ask one child to stop; cancel it when its grace period ends; wait for it."""
        run = slot.run
        if run is None or run.exited:
            return
        run.expected = True
        slot.state = STOPPING
        if run.stop_deadline is None:
            assert self._registry is not None
            run.stop_deadline = min(
                trio.current_time() + slot.spec.shutdown, self._registry.stop_deadline(slot.path)
            )
            run.scope.deadline = run.stop_deadline
            self._registry.stopping(run.scope, slot.path)
            instance = run.instance
            if isinstance(instance, Supervisor):
                instance._request_stop()
            else:
                box = self._registry.existing_mailbox(slot.path)
                if box is not None:
                    box.request_stop()
        await run.wait_exited()
        slot.state = STOPPED

    async def _stop_all(self) -> None:
        """Stop every child in reverse start order (independent ones all at once), each
        within its grace period."""
        slots = list(reversed(list(self._slots)))
        if self.independent:
            async with trio.open_nursery() as stopping:
                for slot in slots:
                    stopping.start_soon(self._stop_slot, slot)
        for slot in slots:
            if not self.independent:
                await self._stop_slot(slot)
            slot.state = STOPPED

    def _request_stop(self) -> None:
        self._stop_requested = True
        if self._work_scope is not None:
            self._work_scope.cancel()
        if self._exits is not None:
            self._exits.put_nowait(_STOP_SIGNAL)

    async def stop(self) -> None:
        """Stop the children in reverse order; returns when they are stopped (`run` then
        returns normally)."""
        if not self._ran or self._stopped is None:
            raise RuntimeError(f"{self.path} is not running")
        self._request_stop()
        await self._stopped.wait()

    # --------------------------------------------------------- dynamic children

    async def start_child(self, spec: ChildSpec) -> ActorRef:
        """Add a child after the others and start it; the registry remembers it so a
        restarted supervisor at this path starts it again."""
        if self._lock is None or self._stopped is None or self._stopped.is_set():
            raise RuntimeError(f"{self.path} is not running")
        async with self._lock:
            if spec.id in self._by_id:
                raise ValueError(f"{self.path} already has a child {spec.id!r}")
            assert self._registry is not None
            self._registry.dynamic.setdefault(self.path, {})[spec.id] = spec
            slot = self._add_slot(spec)
            with trio.CancelScope() as self._work_scope:
                await self._start_in_order([slot])
        return ActorRef(self._registry, slot.path)

    async def terminate_child(self, child_id: str) -> None:
        """Stop the child and forget its spec, its path and its mailbox."""
        if self._lock is None:
            raise RuntimeError(f"{self.path} is not running")
        async with self._lock:
            slot = self._by_id.get(child_id)
            if slot is None:
                raise KeyError(child_id)
            await self._stop_slot(slot)
            self._remove_slot(slot)

    async def restart_child(self, child_id: str) -> None:
        """Stop a child (within its grace period) and start a fresh instance; returns once
        the new instance has started.

        An operator's restart: not a crash, so it does not count toward restart intensity.
        The supervisor's own task carries it out (see `request_restart`), so it completes
        even when the caller is cancelled, as a caller inside the child itself is. A fresh
        instance that fails to start is a crash like any other: visible as `restarting` with
        its error, and retried with backoff within the restart intensity.
        """
        request = self._queue_restart(child_id)
        await request.done.wait()
        if request.error is not None:
            raise request.error

    def request_restart(self, child_id: str) -> None:
        """Ask for `restart_child(child_id)` without waiting for it; `KeyError` when no such
        child is known, `RuntimeError` when this supervisor is not running."""
        self._queue_restart(child_id)

    def _queue_restart(self, child_id: str) -> _RestartRequest:
        if self._exits is None or self._stopped is None or self._stopped.is_set():
            raise RuntimeError(f"{self.path} is not running")
        if child_id not in self._by_id:
            raise KeyError(child_id)
        request = _RestartRequest(child_id)
        self._restart_requests.append(request)
        self._exits.put_nowait(request)
        return request

    async def _operator_restart(self, request: _RestartRequest) -> None:
        assert self._lock is not None
        try:
            async with self._lock:
                slot = self._by_id.get(request.child_id)
                if slot is None:
                    request.finish(KeyError(request.child_id))
                    return
                with trio.CancelScope() as self._work_scope:
                    await self._stop_slot(slot)
                    await self._start_in_order([slot])
            if self._work_scope.cancelled_caught:
                request.finish(RuntimeError(f"{self.path} stopped before the restart"))
            request.finish()
        except BaseException as exc:  # the supervisor gave up: the caller hears why
            request.finish(RuntimeError(f"restart of {self.path}/{request.child_id} failed: {exc}"))
            raise
        finally:
            self._restart_requests.remove(request)

    def find_supervisor(self, path: str) -> Supervisor:
        """The live supervisor at `path` below this one ("" for this one); `KeyError` if none."""
        node: Supervisor = self
        for part in [p for p in path.strip("/").split("/") if p]:
            node = node.child_supervisor(part)
        return node

    # ------------------------------------------------------------------ registry

    def ref(self, child_id: str) -> ActorRef:
        """A ref to a direct child (`KeyError` when unknown)."""
        if child_id not in self._by_id or self._registry is None:
            raise KeyError(child_id)
        return ActorRef(self._registry, f"{self.path}/{child_id}")

    def lookup(self, path: str) -> ActorRef:
        """A ref for a path of child ids below this supervisor, through nested supervisors
        (`"creators/creator:daniel/twitch"`); `KeyError` when no such child is known."""
        if self._registry is None:
            raise KeyError(path)
        full = f"{self.path}/{path.strip('/')}"
        if self._registry.kind(full) is None:
            raise KeyError(path)
        return ActorRef(self._registry, full)

    def which_children(self) -> list[ChildInfo]:
        """The children in start order with their state and restart count."""
        registry = self._registry
        if registry is None:  # not running yet: children exist only once it runs
            assert not self._slots
            return []
        return [
            ChildInfo(
                id=s.spec.id,
                kind=s.kind,
                state=s.state,
                restarts=s.restarts,
                ref=ActorRef(registry, s.path),
                last_error=s.last_error,
                started_at=s.started_at,
            )
            for s in self._slots
        ]

    def child_supervisor(self, child_id: str) -> Supervisor:
        """The live instance of a supervisor child (to call `start_child` on a dynamic one)."""
        slot = self._by_id.get(child_id)
        instance = slot.run.instance if slot is not None and slot.run is not None else None
        if not isinstance(instance, Supervisor):
            raise KeyError(f"{child_id} is not a running supervisor child of {self.path}")
        return instance

    @property
    def registry(self) -> Registry[ChildSpec] | None:
        """The tree's registry (shared by every supervisor of the tree), once running."""
        return self._registry

    # ---------------------------------------------------------------- statistics

    def statistics(self) -> dict[str, Any]:
        """This supervisor's own status."""
        return {
            "path": self.path,
            "kind": "supervisor",
            "state": self._state,
            "strategy": self.strategy.value,
            "children": len(self._slots),
            "recent_restarts": len(self._restart_times or ()),
            "last_error": self._last_error,
            "started_at": self._started_at,
        }

    def tree(self, *, details: bool = True, detail_of: str | None = None) -> list[TreeRow]:
        """Every actor and supervisor below (and including) this one, depth first (an actor's
        row carries its `snapshot()` as `detail`, unless `details` is false, and its
        `health()` value as `health`). Without details a walk of a thousand creators is
        cheap enough for every `GET /status`; `detail_of` (a full path) still takes that one
        actor's snapshot."""
        rows = [
            TreeRow(
                path=self.path,
                kind="supervisor",
                state=self._state,
                last_error=self._last_error,
                started_at=self._started_at,
            )
        ]
        for slot in self._slots:
            instance = slot.run.instance if slot.run is not None else None
            if isinstance(instance, Supervisor) and slot.state != STOPPED:
                sub = instance.tree(details=details, detail_of=detail_of)
                sub[0] = attrs.evolve(
                    sub[0], restarts=slot.restarts, state=slot.state, last_error=slot.last_error
                )
                rows.extend(sub)
                continue
            box: Mailbox | None = None
            if self._registry is not None and slot.kind != "supervisor":
                box = self._registry.existing_mailbox(slot.path)
            detail: Detail = NO_DETAIL
            health = None
            if isinstance(instance, Actor) and slot.state == RUNNING:
                try:
                    if details or slot.path == detail_of:
                        detail = instance.snapshot()
                except Exception as exc:  # a broken snapshot must not break the export
                    detail = SnapshotFailed(error=describe(exc) or type(exc).__name__)
                try:
                    health = instance.health()
                except Exception:  # a broken health value reads as no value, never a crash
                    health = None
            rows.append(
                TreeRow(
                    path=slot.path,
                    kind=slot.kind,
                    state=slot.state,
                    restarts=slot.restarts,
                    last_error=slot.last_error,
                    started_at=slot.started_at,
                    mailbox=_mailbox_figures(box),
                    handled=slot.stats.handled,
                    detail=detail,
                    health=health,
                )
            )
        return rows


class _NeverStarted(Actor):
    """Placeholder instance for a run whose factory raised."""


_FAILED_FACTORY = _NeverStarted()


def _mailbox_figures(box: Mailbox | None) -> MailboxFigures:
    """A mailbox's figures for the tree: depth, peak, capacity, the messages it refused
    because it was full and the senders it kept waiting for room (each with how long ago
    the last one was, in seconds)."""
    if box is None:
        return NO_MAILBOX
    if box.refused_at is None and box.held_back_at is None:
        return MailboxFigures(depth=box.depth, peak=box.peak, capacity=box.capacity)
    now = trio.current_time()
    return MailboxFigures(
        depth=box.depth,
        peak=box.peak,
        capacity=box.capacity,
        refused=box.refused,
        refused_ago=None if box.refused_at is None else max(0.0, now - box.refused_at),
        held_back=box.held_back,
        held_back_ago=None if box.held_back_at is None else max(0.0, now - box.held_back_at),
    )
