"""Transport failures as sentences a person understands, and whether retrying can help."""

from __future__ import annotations

import errno
import socket
import ssl

import attrs
import httpx
import trio
import trio_websocket

from actors._errors import leaves, unwrap_failure
from actors.secret_masking import mask_secrets

__all__ = ["Failure", "HttpStatusError", "SessionEnded", "describe_failure", "host_of"]

#: HTTP answers that mean the credentials are refused: a person must act.
NEEDS_PERSON_STATUSES = frozenset({401, 403})


class SessionEnded(Exception):
    """Raised by a session (or the liveness watchdog) to end one connection with a reason.

    `immediate`: the server asked us to reconnect now (Twitch RECONNECT, Pusher 4200-4299).
    `needs_person`: retrying soon cannot help (login refused, banned, revoked): state `failed`.
    `min_delay`: wait at least this long before the next attempt (Pusher 4100-4199).
    """

    def __init__(
        self,
        reason: str,
        *,
        immediate: bool = False,
        needs_person: bool = False,
        min_delay: float = 0.0,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.immediate = immediate
        self.needs_person = needs_person
        self.min_delay = min_delay


class HttpStatusError(Exception):
    """An HTTP API answered with a status that ends this attempt (`host` only, never a URL:
    URLs may carry keys). `needs_person` defaults to 401/403."""

    def __init__(
        self, status: int, host: str, *, detail: str | None = None, needs_person: bool | None = None
    ) -> None:
        self.status = status
        self.host = host
        self.detail = detail
        self.needs_person = (
            status in NEEDS_PERSON_STATUSES if needs_person is None else needs_person
        )
        text = f"HTTP {status} from {host}"
        super().__init__(f"{text}: {detail}" if detail else text)


@attrs.frozen(kw_only=True)
class Failure:
    """Why an attempt ended: a sentence, and what the lifecycle should do next."""

    reason: str
    needs_person: bool = False
    immediate: bool = False
    min_delay: float = 0.0


def host_of(target: str | None) -> str | None:
    """`host` of a `host:port` target (IPv6 in brackets kept whole)."""
    if target is None:
        return None
    if target.startswith("["):
        return target.split("]", 1)[0] + "]"
    head, sep, tail = target.rpartition(":")
    return head if sep and tail.isdigit() else target


def describe_failure(exc: BaseException, *, target: str | None = None) -> Failure | None:
    """A `Failure` for an exception that ended a connection attempt, or None when `exc` is not
    a transport failure at all (a bug: the caller lets it crash the actor).

    `target` (`host:port`) names the peer in the sentence: `DNS lookup failed for
    irc-ws.chat.twitch.tv`, `connection refused by 127.0.0.1:9`, `TLS handshake failed: ...`,
    `HTTP 401 from id.twitch.tv`. Exception groups are unwrapped on purpose: our own
    `SessionEnded` wins over whatever closing the socket raised afterwards.
    """
    if isinstance(exc, BaseExceptionGroup):
        ours = [leaf for leaf in leaves(exc) if isinstance(leaf, SessionEnded)]
        picked = ours[0] if ours else unwrap_failure(exc)
        if picked is None or isinstance(picked, BaseExceptionGroup):
            return None
        exc = picked
    failure = _describe(exc, target)
    if failure is None:
        return None
    return attrs.evolve(failure, reason=mask_secrets(failure.reason))


def _describe(exc: BaseException, target: str | None) -> Failure | None:
    if isinstance(exc, SessionEnded):
        return Failure(
            reason=exc.reason,
            needs_person=exc.needs_person,
            immediate=exc.immediate,
            min_delay=exc.min_delay,
        )
    if isinstance(exc, HttpStatusError):
        return Failure(reason=str(exc), needs_person=exc.needs_person)
    peer = target or "the server"
    if isinstance(exc, trio_websocket.ConnectionRejected):
        status = exc.status_code
        return Failure(
            reason=f"HTTP {status} from {host_of(target) or 'the server'}",
            needs_person=status in NEEDS_PERSON_STATUSES,
        )
    if isinstance(exc, trio_websocket.ConnectionTimeout):
        return Failure(reason=f"timed out opening the connection to {peer}")
    if isinstance(exc, trio_websocket.DisconnectionTimeout):
        return Failure(reason=f"timed out closing the connection to {peer}")
    if isinstance(exc, trio_websocket.ConnectionClosed):
        return Failure(reason=_closed_sentence(exc, peer))
    if isinstance(exc, httpx.TimeoutException):
        return Failure(reason=f"no answer from {_httpx_host(exc) or peer} in time ({_kind(exc)})")
    if isinstance(exc, trio.TooSlowError):
        return Failure(reason=f"no answer from {peer} in time")
    if not isinstance(exc, _TRANSPORT):
        return None  # a bug, or an answer the caller should describe itself
    host_target = target
    if isinstance(exc, httpx.RequestError):
        host_target = _httpx_host(exc) or target
    cause = _network_cause(exc)
    if cause is not None:
        return Failure(reason=_os_sentence(cause, host_target))
    if isinstance(exc, trio.ClosedResourceError):
        return Failure(reason=f"the connection to {host_target or 'the server'} was closed")
    if isinstance(exc, trio.BrokenResourceError | EOFError):
        return Failure(reason=f"the connection to {host_target or 'the server'} broke")
    text = str(exc)
    return Failure(
        reason=f"network error talking to {host_target or 'the server'}: "
        f"{type(exc).__name__}{': ' + text if text else ''}"
    )


def _closed_sentence(exc: trio_websocket.ConnectionClosed, peer: str) -> str:
    reason = exc.reason
    if reason is None:
        return f"connection closed by {peer}"
    text = f"connection closed by {peer} (code {reason.code}"
    return text + (f": {reason.reason})" if reason.reason else ")")


_TIMEOUT_KINDS: dict[type[BaseException], str] = {
    httpx.ConnectTimeout: "connect",
    httpx.ReadTimeout: "read",
    httpx.WriteTimeout: "write",
    httpx.PoolTimeout: "pool",
}


def _kind(exc: BaseException) -> str:
    return _TIMEOUT_KINDS.get(type(exc), "timeout")


def _httpx_host(exc: httpx.RequestError) -> str | None:
    try:
        return exc.request.url.host or None
    except RuntimeError:  # no request attached
        return None


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc`, its causes and contexts, and the leaves of any group among them (in order)."""
    out: list[BaseException] = []
    todo = [exc]
    seen: set[int] = set()
    while todo and len(out) < 64:
        item = todo.pop(0)
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, BaseExceptionGroup):
            todo.extend(item.exceptions)
        else:
            out.append(item)
        for nxt in (item.__cause__, item.__context__):
            if nxt is not None:
                todo.append(nxt)
    return out


_TRANSPORT: tuple[type[BaseException], ...] = (
    httpx.TransportError,
    trio_websocket.HandshakeError,
    OSError,
    trio.BrokenResourceError,
    trio.ClosedResourceError,
    EOFError,
)

_SPECIFIC: tuple[type[BaseException], ...] = (
    socket.gaierror,
    ssl.SSLError,
    ssl.CertificateError,
    ConnectionRefusedError,
    ConnectionResetError,
    ConnectionAbortedError,
    TimeoutError,
)


def _network_cause(exc: BaseException) -> OSError | None:
    """The most telling OS-level error behind `exc` (DNS, TLS, refused, reset, ...)."""
    chain = _chain(exc)
    for kind in _SPECIFIC:
        for item in chain:
            if isinstance(item, kind):
                assert isinstance(item, OSError)
                return item
    for item in chain:
        if isinstance(item, OSError) and item.errno is not None:
            return item
    for item in chain:
        if isinstance(item, OSError):
            return item
    return None


def _os_sentence(err: OSError, target: str | None) -> str:
    peer = target or "the server"
    if isinstance(err, socket.gaierror):
        return f"DNS lookup failed for {host_of(target) or 'the server'}"
    if isinstance(err, ssl.SSLCertVerificationError):
        why = err.verify_message or err.reason or "certificate not trusted"
        return f"TLS handshake failed: {why}"
    if isinstance(err, ssl.SSLError | ssl.CertificateError):
        why = getattr(err, "reason", None) or err.strerror or str(err) or type(err).__name__
        return f"TLS handshake failed: {why}"
    if isinstance(err, ConnectionRefusedError) or err.errno == errno.ECONNREFUSED:
        return f"connection refused by {peer}"
    if isinstance(err, ConnectionResetError) or err.errno == errno.ECONNRESET:
        return f"connection reset by {peer} (RST)"
    if isinstance(err, ConnectionAbortedError):
        return f"connection to {peer} aborted"
    if isinstance(err, TimeoutError):
        return f"no answer from {peer} in time"
    if err.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return f"no route to {peer} ({err.strerror})"
    text = err.strerror or str(err) or type(err).__name__
    return f"network error talking to {peer}: {text}"
