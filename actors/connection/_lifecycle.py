"""`Lifecycle`: the one reconnect loop every network actor runs.

A platform actor supplies only its protocol mapping: an async `session` callable that connects,
logs in and serves until the connection ends (returning, or raising a transport error or
`SessionEnded`), and calls `mark_connected()` once it is really serving and `saw_traffic()` for
every frame received; optionally a `ping` hook the liveness watchdog calls after
`keepalive_seconds` of silence. The lifecycle owns everything else: state transitions, attempt
counting, backoff with jitter (reset once a connection stayed up `stable_after`), the liveness
deadline (`keepalive_seconds` of silence, a ping, then `keepalive_timeout_seconds` more: the
link is dead), the events and log line of every transition, and the typed `ConnectionHealth`.

Timing uses trio's clock only (exact under `MockClock`); `clock` gives the wall times shown.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import structlog
import trio

from actors._errors import unwrap_failure
from actors.connection._failures import Failure, SessionEnded, describe_failure
from actors.connection._health import (
    ConnectionHealth,
    ConnectionState,
    LifecycleEvent,
    LifecycleEventKind,
)
from supervisors import Backoff

__all__ = ["DEFAULT_BACKOFF", "DEFAULT_PERSON_BACKOFF", "Lifecycle"]

DEFAULT_BACKOFF: Final = Backoff(initial=1.0, maximum=60.0, jitter=0.2)
"""Transient failures: 1 s doubling to 60 s, +-20 %."""

DEFAULT_PERSON_BACKOFF: Final = Backoff(initial=30.0, maximum=300.0, jitter=0.2)
"""Refusals that need a person: retried slowly (a token may be fixed meanwhile)."""

Session = Callable[[], Awaitable[None]]
Ping = Callable[[], Awaitable[None]]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Lifecycle:
    """Connection lifecycle of one component (see the module docs).

    `max_person_failures`: refusals that need a person (`SessionEnded(needs_person=True)`,
    HTTP 401/403) in a row before giving up until restarted (None: never give up).
    `on_event` is called with every `LifecycleEvent` (telemetry); the last `history` events
    are also kept in the health value.
    """

    def __init__(
        self,
        component: str,
        *,
        enabled: bool = True,
        creator_id: str | None = None,
        target: str | None = None,
        backoff: Backoff = DEFAULT_BACKOFF,
        person_backoff: Backoff = DEFAULT_PERSON_BACKOFF,
        max_person_failures: int | None = 5,
        stable_after: float = 60.0,
        keepalive_seconds: float | None = None,
        keepalive_timeout_seconds: float = 10.0,
        clock: Callable[[], datetime] = _utc_now,
        rng: random.Random | None = None,
        on_event: Callable[[LifecycleEvent], None] | None = None,
        history: int = 20,
    ) -> None:
        self.component = component
        self.enabled = enabled
        self.creator_id = creator_id
        self.target = target
        self.backoff = backoff
        self.person_backoff = person_backoff
        self.max_person_failures = max_person_failures
        self.stable_after = stable_after
        self.keepalive_seconds = keepalive_seconds
        self.keepalive_timeout_seconds = keepalive_timeout_seconds
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._on_event = on_event
        self.log: Any = structlog.get_logger("actors.connection").bind(component=component)

        self.state = ConnectionState.CONNECTING if enabled else ConnectionState.DISABLED
        self.since = clock()
        self.attempts = 0  # the backoff's count of consecutive failures
        self.person_failures = 0
        self.next_retry_at: datetime | None = None
        self.last_error: str | None = None
        self.last_error_at: datetime | None = None
        self.paused_reason: str | None = None
        self.detail: str | None = None
        self.idle = False
        self.connects = 0
        self.disconnects = 0
        self.connect_failures = 0
        self.give_ups = 0
        self.connected_at: datetime | None = None
        self.recent: deque[LifecycleEvent] = deque(maxlen=history)
        self._connected_mono: float | None = None  # trio time the current connection opened
        self._open = False  # the current session called mark_connected
        self._traffic = 0
        self._last_traffic: float | None = None  # trio time of the last frame received
        self._last_immediate = -math.inf
        self._traffic_wall: tuple[float | None, datetime | None] = (None, None)

    # ------------------------------------------------------------------ hooks for sessions

    def mark_connected(self, detail: str | None = None, *, idle: bool = False) -> None:
        """The session is serving (logged in, subscribed, or a poll succeeded). Idempotent.
        `idle`: reachable, but nothing to serve right now (no live stream), with `detail`."""
        self.detail = detail
        self.idle = idle
        if self._open and self.state is ConnectionState.CONNECTED:
            return
        self._open = True
        self._connected_mono = trio.current_time()
        self.connected_at = self._clock()
        self.person_failures = 0
        self.paused_reason = None
        self.next_retry_at = None
        self.connects += 1
        self._set(ConnectionState.CONNECTED, LifecycleEventKind.CONNECTED)
        self.log.info(f"{self.component} connected", target=self.target, connects=self.connects)

    def saw_traffic(self) -> None:
        """A frame (or answer) arrived: the link is alive; moves the liveness deadline."""
        self._traffic += 1
        self._last_traffic = trio.current_time()

    def pause(self, reason: str) -> None:
        """Deliberately idle (quota exhausted, paused in the configuration)."""
        self.paused_reason = reason
        self._open = False
        if self.state is not ConnectionState.PAUSED:
            self._set(ConnectionState.PAUSED, LifecycleEventKind.PAUSED, reason=reason)
            self.log.info(f"{self.component} paused", reason=reason)

    async def give_up(self, reason: str) -> None:
        """Fail for good (a configuration that can never work) and wait to be restarted."""
        self._record_error(reason)
        self.give_ups += 1
        self.next_retry_at = None
        self._set(ConnectionState.FAILED, LifecycleEventKind.GAVE_UP, reason=reason)
        self.log.error(f"{self.component} gave up", reason=reason)
        await trio.sleep_forever()

    # ------------------------------------------------------------------ the loop

    async def run(self, session: Session, *, ping: Ping | None = None, log: Any = None) -> None:
        """Run `session` again and again, forever (until cancelled). Exceptions that are not
        transport failures (bugs) propagate: the supervisor restarts the actor."""
        if log is not None:
            self.log = log
        if not self.enabled:
            self._set(ConnectionState.DISABLED)
            await trio.sleep_forever()
        while True:
            failure = await self._attempt(session, ping)
            await self._after(failure)

    async def _attempt(self, session: Session, ping: Ping | None) -> Failure:
        self._open = False
        self._traffic = 0
        self._last_traffic = trio.current_time()
        bug: BaseException | None = None
        try:
            async with trio.open_nursery() as nursery:
                if self.keepalive_seconds is not None:
                    nursery.start_soon(self._watchdog, ping)
                await session()
                nursery.cancel_scope.cancel()
        except BaseException as exc:
            failure = describe_failure(exc, target=self.target)
            if failure is not None:
                return failure
            bug = unwrap_failure(exc)
            if bug is None or bug is exc:
                raise
        if bug is not None:
            raise bug  # the bug itself, not the nursery's group around it
        return Failure(reason=f"connection closed by {self.target or 'the server'}")

    async def _after(self, failure: Failure) -> None:
        """Bookkeeping, log line and waiting after one attempt ended."""
        now = trio.current_time()
        was_open = self._open
        self._open = False
        if (
            was_open
            and self._connected_mono is not None
            and now - self._connected_mono >= self.stable_after
        ):
            self.attempts = 0  # a stable connection: the backoff starts over
        kind, verb = self._count_end(failure.reason, was_open)

        if failure.needs_person:
            self.person_failures += 1
            self._set(ConnectionState.FAILED, kind, reason=failure.reason)
            limit = self.max_person_failures
            if limit is not None and self.person_failures >= limit:
                n = self.person_failures
                self._record_error(
                    f"{failure.reason} (giving up until restarted after {n} "
                    f"attempt{'s' if n != 1 else ''})"
                )
                self.give_ups += 1
                self.next_retry_at = None
                self._set(ConnectionState.FAILED, LifecycleEventKind.GAVE_UP, reason=failure.reason)
                self.log.error(
                    f"{self.component} {verb}; needs a person, giving up until restarted",
                    reason=failure.reason,
                    attempt=self.person_failures,
                )
                await trio.sleep_forever()
            delay = self.person_backoff.delay(self.person_failures, self._rng)
            self._event(LifecycleEventKind.NEEDS_PERSON, failure.reason)
            self.log.error(
                f"{self.component} {verb}; needs a person",
                reason=failure.reason,
                attempt=self.person_failures,
                retry_in=round(delay, 3),
            )
            await self._wait(delay)
            return

        if failure.immediate and was_open and now - self._last_immediate >= self.stable_after:
            # The server asked for it on an open connection; but only once per `stable_after`,
            # so a server that keeps asking cannot make us reconnect flat out.
            self._last_immediate = now
            self._set(ConnectionState.RECONNECTING, kind, reason=failure.reason)
            self.log.info(f"{self.component} reconnecting now", reason=failure.reason)
            return
        self.attempts += 1
        delay = max(self.backoff.delay(self.attempts, self._rng), failure.min_delay)
        self._set(ConnectionState.RECONNECTING, kind, reason=failure.reason)
        self.log.warning(
            f"{self.component} {verb}",
            reason=failure.reason,
            target=self.target,
            attempt=self.attempts,
            retry_in=round(delay, 3),
        )
        await self._wait(delay)

    def _count_end(self, reason: str, was_open: bool) -> tuple[LifecycleEventKind, str]:
        """Count an attempt that ended: a lost connection, or one that never opened."""
        self._record_error(reason)
        if was_open:
            self.disconnects += 1
            return LifecycleEventKind.DISCONNECTED, "connection lost"
        self.connect_failures += 1
        return LifecycleEventKind.CONNECT_FAILED, "connect failed"

    def note_failure(self, reason: str, *, needs_person: bool = False) -> None:
        """Record a failed attempt whose retry is scheduled elsewhere (a durable outbox): the
        same state, counters, event and log line as the loop's, without waiting."""
        was_open = self._open
        self._open = False
        kind, verb = self._count_end(reason, was_open)
        if needs_person:
            self.person_failures += 1
            self._set(ConnectionState.FAILED, kind, reason=reason)
            self._event(LifecycleEventKind.NEEDS_PERSON, reason)
            self.log.error(f"{self.component} {verb}; needs a person", reason=reason)
            return
        self.attempts += 1
        self._set(ConnectionState.RECONNECTING, kind, reason=reason)
        self.log.warning(f"{self.component} {verb}", reason=reason, attempt=self.attempts)

    async def _wait(self, delay: float) -> None:
        self.next_retry_at = self._clock() + timedelta(seconds=delay)
        try:
            await trio.sleep(delay)
        finally:
            self.next_retry_at = None

    async def _watchdog(self, ping: Ping | None) -> None:
        keepalive = self.keepalive_seconds
        assert keepalive is not None
        while True:
            assert self._last_traffic is not None
            idle_until = self._last_traffic + keepalive
            if trio.current_time() < idle_until:
                await trio.sleep_until(idle_until)
                continue  # traffic may have moved the deadline meanwhile
            seen = self._traffic
            if ping is not None:
                await ping()
            await trio.sleep(self.keepalive_timeout_seconds)
            if self._traffic == seen:
                silent = keepalive + self.keepalive_timeout_seconds
                raise SessionEnded(f"no traffic for {silent:g} s")

    # ------------------------------------------------------------------ state

    def _record_error(self, reason: str) -> None:
        self.last_error = reason
        self.last_error_at = self._clock()

    def _set(
        self,
        state: ConnectionState,
        kind: LifecycleEventKind | None = None,
        *,
        reason: str | None = None,
    ) -> None:
        if state is not self.state:
            self.state = state
            self.since = self._clock()
        if kind is not None:
            self._event(kind, reason)

    def _event(self, kind: LifecycleEventKind, reason: str | None) -> None:
        event = LifecycleEvent(
            component=self.component,
            kind=kind,
            at=self._clock(),
            state=self.state,
            reason=reason,
            attempt=self.attempts,
        )
        self.recent.append(event)
        if self._on_event is not None:
            self._on_event(event)

    @property
    def is_connected(self) -> bool:
        """True while the current session is serving."""
        return self.state is ConnectionState.CONNECTED

    def health(self, **counters: Any) -> ConnectionHealth:
        """The current health value; `counters` adds the actor's own figures (`messages`,
        `actions`, `errors`, `dropped`, `last_event_at`)."""
        last_traffic_at = None
        if self._last_traffic is not None and self._traffic:
            if self._traffic_wall[0] != self._last_traffic:
                # Converted once per frame time (frames only record trio time, which is
                # cheap), so the value is stable between frames: same state, same bytes.
                try:
                    age = trio.current_time() - self._last_traffic
                except RuntimeError:  # outside trio (a snapshot taken after the run)
                    age = 0.0
                wall = self._clock() - timedelta(seconds=max(age, 0.0))
                self._traffic_wall = (self._last_traffic, wall)
            last_traffic_at = self._traffic_wall[1]
        return ConnectionHealth(
            component=self.component,
            state=self.state,
            since=self.since,
            enabled=self.enabled,
            creator_id=self.creator_id,
            target=self.target,
            attempts=self.attempts,
            next_retry_at=self.next_retry_at,
            last_error=self.last_error,
            last_error_at=self.last_error_at,
            paused_reason=self.paused_reason,
            detail=self.detail,
            idle=self.idle,
            connects=self.connects,
            disconnects=self.disconnects,
            connect_failures=self.connect_failures,
            give_ups=self.give_ups,
            connected_at=self.connected_at,
            last_traffic_at=last_traffic_at,
            recent=tuple(self.recent),
            **counters,
        )
