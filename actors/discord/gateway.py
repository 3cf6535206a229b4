"""Discord gateway v10 as a sans-IO state machine (in the manner of h11).

The actor owns the WebSocket and the clock; this module owns the protocol. Feed it what
happened and it answers with what to do:

- ``receive(frame, now=...)`` for every frame received (a dict, or the JSON text),
- ``tick(now)`` whenever ``next_deadline`` has passed (heartbeats, zombie detection),
- ``connection_closed(code, now=...)`` when the socket closed,

each returning a list of outputs: `Send` (a payload to send as JSON), `Dispatch` (an op 0
event for the application), `Reconnect` (close this socket with `close_code`, wait `delay`,
connect to `url`; the next HELLO continues with RESUME or IDENTIFY as `resume` says) and
`Fatal` (stop: retrying cannot help, e.g. a bad token or disallowed intents).

Facts used (../shared/docs/platforms.md §7.1): HELLO carries ``heartbeat_interval``; the first
heartbeat goes after ``interval * jitter`` then every interval with the last sequence; no ACK
since the previous heartbeat means a zombie connection (reconnect, resume, closing with a code
other than 1000/1001 so the session survives); op 7 means reconnect and resume; op 9 ``d=true``
resume, ``d=false`` new session; op 1 from the server asks for a heartbeat now; close codes 4004
and 4010-4014 are fatal, 4007/4009 need a new session.

REST helpers live in `actors.discord.rest_protocol` and are re-exported here.
"""

from __future__ import annotations

import enum
import random
import sys
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs

from actors.discord.rest_protocol import (
    ADMINISTRATOR,
    MANAGE_GUILD,
    DiscordError,
    DiscordParseError,
    Interaction,
    InteractionOption,
    RateLimitInfo,
    bucket_key,
    has_admin,
    parse_error,
    parse_interaction,
    parse_rate_limit,
)
from config.untrusted_json import describe, loads_untrusted

__all__ = [
    "ADMINISTRATOR",
    "DEFAULT_GATEWAY_URL",
    "FATAL_CLOSE_CODES",
    "MANAGE_GUILD",
    "NEW_SESSION_CLOSE_CODES",
    "DiscordError",
    "DiscordParseError",
    "Dispatch",
    "Fatal",
    "Gateway",
    "GatewayFrame",
    "GatewayProtocolError",
    "GatewayState",
    "Intents",
    "Interaction",
    "InteractionOption",
    "Op",
    "Output",
    "RateLimitInfo",
    "Reconnect",
    "Send",
    "bucket_key",
    "gateway_url",
    "has_admin",
    "parse_error",
    "parse_frame",
    "parse_interaction",
    "parse_rate_limit",
]

DEFAULT_GATEWAY_URL = "wss://gateway.discord.gg"
API_VERSION = 10


class Op(enum.IntEnum):
    """Gateway opcodes."""

    DISPATCH = 0
    HEARTBEAT = 1
    IDENTIFY = 2
    PRESENCE_UPDATE = 3
    VOICE_STATE_UPDATE = 4
    RESUME = 6
    RECONNECT = 7
    REQUEST_GUILD_MEMBERS = 8
    INVALID_SESSION = 9
    HELLO = 10
    HEARTBEAT_ACK = 11


class Intents(enum.IntFlag):
    """Gateway intents used by the control plane (a slash-command bot needs only GUILDS)."""

    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1  # privileged
    GUILD_MESSAGES = 1 << 9
    DIRECT_MESSAGES = 1 << 12
    MESSAGE_CONTENT = 1 << 15  # privileged


#: Close codes after which reconnecting cannot help (4004 authentication failed, 4010 invalid
#: shard, 4011 sharding required, 4012 invalid API version, 4013 invalid intents, 4014
#: disallowed intents).
FATAL_CLOSE_CODES = frozenset({4004, 4010, 4011, 4012, 4013, 4014})
#: Close codes after which the session is gone: reconnect with a fresh IDENTIFY.
NEW_SESSION_CLOSE_CODES = frozenset({4007, 4009})
_FATAL_REASONS = {
    4004: "authentication failed (bad token)",
    4010: "invalid shard",
    4011: "sharding required",
    4012: "invalid API version",
    4013: "invalid intents",
    4014: "disallowed intents (privileged intent not enabled)",
}
# The code we close with when we intend to resume: anything but 1000/1001, which would end
# the session.
RESUME_CLOSE_CODE = 4000


class GatewayState(enum.Enum):
    """Where the connection stands."""

    DISCONNECTED = "disconnected"  # no socket, or waiting for HELLO on a new one
    IDENTIFYING = "identifying"  # IDENTIFY sent, waiting for READY
    RESUMING = "resuming"  # RESUME sent, waiting for RESUMED (or the replay)
    CONNECTED = "connected"  # READY or RESUMED received
    FATAL = "fatal"  # stop; see `fatal`


class GatewayProtocolError(ValueError):
    """The server sent something the protocol does not allow (bad JSON, HELLO without an
    interval, ...). The actor should reconnect; the state machine is unchanged."""


@attrs.frozen(kw_only=True)
class GatewayFrame:
    """A decoded gateway payload ``{op, d, s, t}``; absent members are None."""

    op: int
    d: Any
    s: int | None
    t: str | None


@attrs.frozen(kw_only=True)
class Send:
    """Send `payload` as a JSON text frame."""

    payload: Mapping[str, Any] = attrs.field(repr=False)  # IDENTIFY/RESUME carry the token

    @property
    def op(self) -> int:
        """The opcode being sent."""
        return int(self.payload["op"])


@attrs.frozen(kw_only=True)
class Dispatch:
    """An op 0 event for the application."""

    t: str
    d: Any
    s: int | None


@attrs.frozen(kw_only=True)
class Reconnect:
    """Close the socket with `close_code`, wait `delay` seconds, connect to `url`."""

    url: str
    resume: bool
    delay: float
    close_code: int
    reason: str


@attrs.frozen(kw_only=True)
class Fatal:
    """Stop for good: a person has to fix the configuration (token, intents, shards)."""

    code: int | None
    reason: str


Output = Send | Dispatch | Reconnect | Fatal


def gateway_url(base: str, *, version: int = API_VERSION, encoding: str = "json") -> str:
    """`base` with ``?v=<version>&encoding=<encoding>`` unless it already has a query."""
    if urlsplit(base).query:
        return base
    return f"{base.rstrip('/')}/?v={version}&encoding={encoding}"


def parse_frame(frame: Mapping[str, Any] | str | bytes) -> GatewayFrame:
    """Decode one gateway payload. Raises `GatewayProtocolError`."""
    if isinstance(frame, bytes | bytearray):
        try:
            frame = bytes(frame).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise GatewayProtocolError(f"frame is not UTF-8: {exc}") from None
    if isinstance(frame, str):
        try:
            frame = loads_untrusted(frame)
        except ValueError as exc:
            raise GatewayProtocolError(f"frame is not JSON: {exc}") from None
    if not isinstance(frame, Mapping):
        raise GatewayProtocolError("frame is not a JSON object")
    op = frame.get("op")
    if not isinstance(op, int) or isinstance(op, bool):
        raise GatewayProtocolError(f"frame has no integer op: {describe(op)}")
    s, t = frame.get("s"), frame.get("t")
    return GatewayFrame(
        op=op,
        d=frame.get("d"),
        s=s if isinstance(s, int) and not isinstance(s, bool) else None,
        t=t if isinstance(t, str) else None,
    )


class Gateway:
    """The gateway protocol for one bot session, across reconnects.

    `random` supplies fractions in [0, 1): the first-heartbeat jitter and the 1-5 s wait after
    INVALID_SESSION. Pass a constant function in tests for deterministic schedules.
    """

    def __init__(
        self,
        *,
        token: str,
        intents: int = Intents.GUILDS,
        properties: Mapping[str, str] | None = None,
        url: str = DEFAULT_GATEWAY_URL,
        shard: tuple[int, int] | None = None,
        random: Callable[[], float] = random.random,
    ) -> None:
        if not token:
            raise ValueError("token is required")
        self._token = token
        self.intents = int(intents)
        self.properties = dict(
            properties or {"os": sys.platform, "browser": "streamsuites", "device": "streamsuites"}
        )
        self.base_url = gateway_url(url)
        self.shard = shard
        self._random = random

        self.state = GatewayState.DISCONNECTED
        self.session_id: str | None = None
        self.resume_gateway_url: str | None = None
        self.sequence: int | None = None
        self.heartbeat_interval: float | None = None  # seconds
        self.fatal: Fatal | None = None
        self.last_heartbeat_sent: float | None = None
        self.last_ack: float | None = None
        self.latency: float | None = None  # seconds between the last heartbeat and its ACK
        self._next_heartbeat: float | None = None
        self._awaiting_ack = False
        self._resume_next = False  # whether the next HELLO answers with RESUME

    def __repr__(self) -> str:  # the token must never reach a log line
        return (
            f"<Gateway state={self.state.value} session={self.session_id!r} seq={self.sequence!r}>"
        )

    # ------------------------------------------------------------------ inspection

    @property
    def next_deadline(self) -> float | None:
        """When `tick` must next be called (None: no timer is running)."""
        return self._next_heartbeat

    @property
    def connect_url(self) -> str:
        """Where the next connection should go."""
        if self._resume_next and self.resume_gateway_url:
            return gateway_url(self.resume_gateway_url)
        return self.base_url

    # ------------------------------------------------------------------ inputs

    def receive(self, frame: Mapping[str, Any] | str | bytes, *, now: float) -> list[Output]:
        """Feed one received frame. Raises `GatewayProtocolError` for a malformed frame."""
        if self.state is GatewayState.FATAL:
            return []
        f = parse_frame(frame)
        if f.op == Op.HELLO:
            return self._on_hello(f, now)
        if self.state is GatewayState.DISCONNECTED:
            return []  # leftovers from a socket we already gave up on
        if f.op == Op.DISPATCH:
            return self._on_dispatch(f)
        if f.op == Op.HEARTBEAT_ACK:
            self._awaiting_ack = False
            self.last_ack = now
            if self.last_heartbeat_sent is not None:
                self.latency = now - self.last_heartbeat_sent
            return []
        if f.op == Op.HEARTBEAT:
            # The server asks for a heartbeat now; the regular schedule is unchanged.
            return [self._heartbeat(now)]
        if f.op == Op.RECONNECT:
            reason = "server asked to reconnect (op 7)"
            return [self._reconnect(resume=True, delay=0.0, reason=reason)]
        if f.op == Op.INVALID_SESSION:
            # Discord asks clients to wait 1-5 s before the next IDENTIFY/RESUME.
            delay = 1.0 + 4.0 * self._fraction()
            if f.d is True:
                reason = "Discord invalidated the session (op 9, resumable)"
                return [self._reconnect(resume=True, delay=delay, reason=reason)]
            self._forget_session()
            reason = "Discord invalidated the session (op 9)"
            return [self._reconnect(resume=False, delay=delay, reason=reason)]
        return []  # opcodes a client does not receive, or new ones: ignore

    def tick(self, now: float) -> list[Output]:
        """Run due timers: send the heartbeat, or declare the connection a zombie."""
        if self._next_heartbeat is None or now < self._next_heartbeat:
            return []
        if self._awaiting_ack:
            assert self.heartbeat_interval is not None
            reason = f"no heartbeat ACK within {self.heartbeat_interval:g} s (zombie connection)"
            return [self._reconnect(resume=True, delay=0.0, reason=reason)]
        out = self._heartbeat(now)
        assert self.heartbeat_interval is not None
        self._next_heartbeat = now + self.heartbeat_interval
        return [out]

    def connection_closed(self, code: int | None, *, now: float) -> list[Output]:
        """The socket closed (`code` None when there was no close frame)."""
        if self.state is GatewayState.FATAL:
            return []
        if code in FATAL_CLOSE_CODES:
            return [self._fail(code, _FATAL_REASONS[code])]
        if code in NEW_SESSION_CLOSE_CODES:
            self._forget_session()
            return [self._reconnect(resume=False, delay=0.0, reason=f"closed with {code}")]
        return [self._reconnect(resume=True, delay=0.0, reason=f"closed with {code}")]

    # ------------------------------------------------------------------ internals

    def _fraction(self) -> float:
        value = float(self._random())
        return min(max(value, 0.0), 1.0)  # a bad random source must not yield a negative wait

    def _on_hello(self, f: GatewayFrame, now: float) -> list[Output]:
        d = f.d if isinstance(f.d, Mapping) else {}
        interval_ms = d.get("heartbeat_interval")
        if (
            not isinstance(interval_ms, int | float)
            or isinstance(interval_ms, bool)
            or not 0 < interval_ms < 10**9
        ):
            raise GatewayProtocolError(
                f"HELLO without a valid heartbeat_interval: {describe(interval_ms)}"
            )
        self.heartbeat_interval = interval_ms / 1000.0
        self._next_heartbeat = now + self.heartbeat_interval * self._fraction()
        self._awaiting_ack = False
        if self._resume_next and self.session_id is not None:
            self.state = GatewayState.RESUMING
            return [
                Send(
                    payload={
                        "op": int(Op.RESUME),
                        "d": {
                            "token": self._token,
                            "session_id": self.session_id,
                            "seq": self.sequence,
                        },
                    }
                )
            ]
        self.state = GatewayState.IDENTIFYING
        d_identify: dict[str, Any] = {
            "token": self._token,
            "intents": self.intents,
            "properties": dict(self.properties),
        }
        if self.shard is not None:
            d_identify["shard"] = list(self.shard)
        return [Send(payload={"op": int(Op.IDENTIFY), "d": d_identify})]

    def _on_dispatch(self, f: GatewayFrame) -> list[Output]:
        if f.s is not None:
            self.sequence = f.s
        if f.t == "READY" and isinstance(f.d, Mapping):
            session_id = f.d.get("session_id")
            resume_url = f.d.get("resume_gateway_url")
            self.session_id = session_id if isinstance(session_id, str) else None
            self.resume_gateway_url = resume_url if isinstance(resume_url, str) else None
            self.state = GatewayState.CONNECTED
        elif f.t == "RESUMED":
            self.state = GatewayState.CONNECTED
        if f.t is None:
            return []
        return [Dispatch(t=f.t, d=f.d, s=f.s)]

    def _heartbeat(self, now: float) -> Send:
        self._awaiting_ack = True
        self.last_heartbeat_sent = now
        return Send(payload={"op": int(Op.HEARTBEAT), "d": self.sequence})

    def _reconnect(self, *, resume: bool, delay: float, reason: str) -> Reconnect:
        self._resume_next = resume and self.session_id is not None
        self.state = GatewayState.DISCONNECTED
        self._next_heartbeat = None
        self._awaiting_ack = False
        return Reconnect(
            url=self.connect_url,
            resume=self._resume_next,
            delay=delay,
            close_code=RESUME_CLOSE_CODE if self._resume_next else 1000,
            reason=reason,
        )

    def _forget_session(self) -> None:
        self.session_id = None
        self.sequence = None
        self._resume_next = False

    def _fail(self, code: int | None, reason: str) -> Fatal:
        self.fatal = Fatal(code=code, reason=reason)
        self.state = GatewayState.FATAL
        self._next_heartbeat = None
        return self.fatal
