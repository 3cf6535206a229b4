"""The runtime's HTTP surface: a tiny router over raw ASGI, served by hypercorn.

hypercorn parses HTTP (the webhook endpoints face the internet, so no hand-written parsing);
this module only routes ASGI requests to handlers, enforces the bearer token of the control
API, bounds request bodies and turns failures into JSON errors. It has no dependency beyond
hypercorn, trio, attrs and structlog.

    app = HttpApp(token=secret.reveal())
    app.route("GET", "/status", status_handler, auth=False)
    app.route("POST", "/actors/{path:path}/restart", restart_handler, auth=True)
    port = await nursery.start(partial(serve_http, app, host="127.0.0.1", port=8080))

Patterns: `{name}` matches one path segment, `{name:path}` matches one or more segments
(slashes included). Handlers are `async def handler(request: Request) -> Response`.
"""

from __future__ import annotations

import errno
import hmac
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

import attrs
import orjson
import structlog
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve

from config.untrusted_json import UntrustedJSONError, loads_untrusted
from runtime.exit_codes import StartupError

log = structlog.get_logger("runtime.http")

JSON_CONTENT_TYPE = "application/json; charset=utf-8"

# Header values travel as latin-1 in HTTP/1.1 (RFC 9110 allows opaque bytes); decoding with it
# never fails and round-trips every byte.
_HEADER_CODEC = "latin-1"
_SEGMENT = "[^/]+"
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::(path))?\}")
_METHOD = re.compile(r"[A-Z]+")


class HttpError(Exception):
    """Raise from a handler to answer with `status` and a JSON error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class BadRequest(HttpError):
    """The request is malformed (invalid JSON body, bad parameter): answered with 400."""

    def __init__(self, message: str) -> None:
        super().__init__(400, message)


@attrs.frozen(kw_only=True)
class Request:
    """One HTTP request, fully read, as handlers see it.

    `headers` maps lower-case names to values; a header sent several times is joined with
    ", " (the HTTP combination rule). `query` maps each parameter to its last value;
    `query_items` keeps every pair in order. `client` is `(host, port)` when known.
    """

    method: str
    path: str
    params: Mapping[str, str] = attrs.field(factory=dict)
    query: Mapping[str, str] = attrs.field(factory=dict)
    query_items: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = attrs.field(factory=dict)
    body: bytes = b""
    client: tuple[str, int] | None = None

    def json(self) -> Any:
        """The body decoded as JSON; raises `BadRequest` (answered with 400) when it is not."""
        if not self.body.strip():
            raise BadRequest("request body must be JSON, got an empty body")
        try:
            return loads_untrusted(self.body)
        except UntrustedJSONError as err:
            raise BadRequest(f"request body is not valid JSON: {err}") from None


@attrs.frozen(kw_only=True)
class Response:
    """What a handler returns: status, body bytes with their content type, extra headers."""

    status: int = 200
    body: bytes = b""
    content_type: str = JSON_CONTENT_TYPE
    headers: Mapping[str, str] = attrs.field(factory=dict)
    #: Called once the response was handed to the server (or could not be): work that must
    #: not start before the client has its answer, such as restarting this very server.
    after_send: Callable[[], None] | None = None


def json_response(
    obj: Any,
    status: int = 200,
    *,
    headers: Mapping[str, str] | None = None,
    after_send: Callable[[], None] | None = None,
) -> Response:
    """A JSON response (UTF-8, compact, keys sorted so output is stable)."""
    body = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return Response(status=status, body=body, headers=dict(headers or {}), after_send=after_send)


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return json_response({"error": message, "status": status}, status, headers=headers)


Handler = Callable[[Request], Awaitable[Response]]


@attrs.frozen(kw_only=True)
class _Route:
    method: str
    pattern: str
    regex: re.Pattern[str]
    handler: Handler
    auth: bool


def _compile(pattern: str) -> re.Pattern[str]:
    if not pattern.startswith("/"):
        raise ValueError(f"route pattern must start with '/': {pattern!r}")
    parts: list[str] = []
    names: set[str] = set()
    position = 0
    for match in _PLACEHOLDER.finditer(pattern):
        name, kind = match.group(1), match.group(2)
        if name in names:
            raise ValueError(f"parameter {name!r} appears twice in {pattern!r}")
        names.add(name)
        parts.append(re.escape(pattern[position : match.start()]))
        parts.append(f"(?P<{name}>{'.+' if kind == 'path' else _SEGMENT})")
        position = match.end()
    rest = pattern[position:]
    if "{" in rest or "}" in rest:
        raise ValueError(f"malformed placeholder in route pattern {pattern!r}")
    parts.append(re.escape(rest))
    return re.compile("".join(parts))


class _BodyTooLarge(Exception):
    pass


class _ClientGone(Exception):
    pass


class HttpApp:
    """An ASGI application: routes, bearer-token auth, bounded bodies, JSON errors.

    `token` protects the routes registered with `auth=True`; when it is `None` (or empty)
    those routes answer 403, so a runtime without a configured token never exposes control.
    Request bodies larger than `max_body` bytes are refused with 413. `on_unauthorized` is
    called with the reason ("missing bearer token", "wrong token") of every 401.
    """

    def __init__(
        self,
        *,
        token: str | None,
        max_body: int = 1_000_000,
        on_unauthorized: Callable[[str], None] | None = None,
    ) -> None:
        self._token = token.encode("utf-8") if token else None
        self._max_body = max_body
        self._on_unauthorized = on_unauthorized
        self._routes: list[_Route] = []

    def route(self, method: str, pattern: str, handler: Handler, *, auth: bool) -> None:
        """Register `handler` for `method` (GET, POST, ...) on paths matching `pattern`."""
        method = method.upper()
        if not _METHOD.fullmatch(method):
            raise ValueError(f"invalid HTTP method {method!r}")
        for existing in self._routes:
            if existing.method == method and existing.pattern == pattern:
                raise ValueError(f"route {method} {pattern} is already registered")
        self._routes.append(
            _Route(
                method=method, pattern=pattern, regex=_compile(pattern), handler=handler, auth=auth
            )
        )

    async def __call__(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[dict[str, Any]]],
        send: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        """ASGI entry point."""
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            # No websocket endpoints: closing before accepting answers 403.
            await send({"type": "websocket.close", "code": 1008})

    @staticmethod
    async def _lifespan(
        receive: Callable[[], Awaitable[dict[str, Any]]],
        send: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[dict[str, Any]]],
        send: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        method: str = scope["method"].upper()
        path: str = scope["path"]
        client = tuple(scope["client"]) if scope.get("client") else None
        headers = _headers(scope.get("headers", ()))
        try:
            response = await self._dispatch(method, path, client, headers, scope, receive)
        except _ClientGone:
            return
        try:
            await _send_response(send, response)
        finally:
            if response.after_send is not None:
                response.after_send()

    async def _dispatch(
        self,
        method: str,
        path: str,
        client: tuple[Any, ...] | None,
        headers: dict[str, str],
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[dict[str, Any]]],
    ) -> Response:
        allowed: set[str] = set()
        found: tuple[_Route, dict[str, str]] | None = None
        for candidate in self._routes:
            match = candidate.regex.fullmatch(path)
            if match is None:
                continue
            allowed.add(candidate.method)
            if candidate.method == method and found is None:
                found = (candidate, match.groupdict())
        if found is None:
            if allowed:
                return _error(405, "method not allowed", {"Allow": ", ".join(sorted(allowed))})
            return _error(404, "not found")
        route, params = found

        if route.auth:
            refusal = self._check_auth(headers, method, path, client)
            if refusal is not None:
                return refusal

        # Refuse an announced oversize body before reading any of it.
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_body:
            return _error(413, f"request body exceeds {self._max_body} bytes")
        try:
            body = await self._read_body(receive)
        except _BodyTooLarge:
            return _error(413, f"request body exceeds {self._max_body} bytes")

        query_items = tuple(
            parse_qsl(scope.get("query_string", b"").decode(_HEADER_CODEC), keep_blank_values=True)
        )
        request = Request(
            method=method,
            path=path,
            params=params,
            query=dict(query_items),
            query_items=query_items,
            headers=headers,
            body=body,
            client=(str(client[0]), int(client[1])) if client and len(client) >= 2 else None,
        )
        try:
            response = await route.handler(request)
        except HttpError as err:
            return _error(err.status, err.message)
        except Exception:
            # Contained: one failing handler must never take the server (or the actor) down.
            log.exception("http handler failed", method=method, path=path, route=route.pattern)
            return _error(500, "internal server error")
        if not isinstance(response, Response):
            log.error(
                "http handler returned a non-Response",
                method=method,
                path=path,
                route=route.pattern,
                returned=type(response).__name__,
            )
            return _error(500, "internal server error")
        return response

    def _check_auth(
        self,
        headers: Mapping[str, str],
        method: str,
        path: str,
        client: tuple[Any, ...] | None,
    ) -> Response | None:
        if self._token is None:
            return _error(403, "control API disabled: no token configured")
        scheme, _, presented = headers.get("authorization", "").partition(" ")
        presented = presented.strip()
        if scheme.lower() == "bearer" and presented:
            # Constant time: the comparison must not reveal how much of a guess was right.
            if hmac.compare_digest(presented.encode(_HEADER_CODEC, "replace"), self._token):
                return None
            reason = "wrong token"
        else:
            reason = "missing bearer token"
        if self._on_unauthorized is not None:
            self._on_unauthorized(reason)
        # Never log what was presented: a wrong token is often a real token for something else.
        log.warning(
            "unauthorized request",
            method=method,
            path=path,
            client=_format_client(client),
            reason=reason,
        )
        return _error(401, "unauthorized", {"WWW-Authenticate": "Bearer"})

    async def _read_body(self, receive: Callable[[], Awaitable[dict[str, Any]]]) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                # Stop reading at once: the rest of an oversize body is never buffered.
                raise _BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _headers(raw: Any) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in raw:
        key = bytes(name).decode(_HEADER_CODEC).lower()
        text = bytes(value).decode(_HEADER_CODEC)
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers


def _format_client(client: tuple[Any, ...] | None) -> str | None:
    if not client:
        return None
    host = str(client[0])
    if len(client) < 2:
        return host
    return f"[{host}]:{client[1]}" if ":" in host else f"{host}:{client[1]}"


async def _send_response(
    send: Callable[[dict[str, Any]], Awaitable[None]], response: Response
) -> None:
    header_list: list[tuple[bytes, bytes]] = [
        (b"content-type", response.content_type.encode(_HEADER_CODEC)),
        (b"content-length", str(len(response.body)).encode("ascii")),
        # Status and control answers are live data: no caching by browsers or proxies.
        (b"cache-control", b"no-store"),
    ]
    reserved = {"content-type", "content-length"}
    for name, value in response.headers.items():
        if name.lower() in reserved:
            continue
        header_list.append((name.lower().encode(_HEADER_CODEC), value.encode(_HEADER_CODEC)))
    await send({"type": "http.response.start", "status": response.status, "headers": header_list})
    await send({"type": "http.response.body", "body": response.body, "more_body": False})


def _addr_in_use(exc: BaseException) -> OSError | None:
    """The EADDRINUSE error inside `exc`, looking through exception groups and causes."""
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _addr_in_use(inner)
            if found is not None:
                return found
        return None
    if isinstance(exc, OSError) and exc.errno in _ADDR_IN_USE:
        return exc
    return None


# POSIX errno, and Windows' WSAEADDRINUSE (10048) which socket errors carry there.
_ADDR_IN_USE = {errno.EADDRINUSE, 10048}


def _bind_string(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def _port_from_bind(bind: str) -> int:
    # hypercorn reports binds as "http://127.0.0.1:8080" or "http://[::1]:8080".
    return int(bind.rsplit(":", 1)[1])


async def serve_http(
    app: HttpApp,
    *,
    host: str,
    port: int,
    shutdown_trigger: Callable[[], Awaitable[None]] | None = None,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve `app` with hypercorn on `host:port` until cancelled.

    `port=0` picks a free port; `task_status.started(port)` reports the bound port once the
    socket listens. Cancelling the caller's scope stops the server (open requests are
    cancelled); `shutdown_trigger`, when given, is awaited and its return starts hypercorn's
    graceful shutdown instead. A port already in use raises `StartupError` (exit code 3).
    """
    config = HypercornConfig()
    config.bind = [_bind_string(host, port)]
    # Our logging owns the output: errors go through the stdlib logger our handlers serve,
    # and the per-request access log stays off (the runtime logs what matters itself).
    config.errorlog = logging.getLogger("hypercorn.error")
    config.accesslog = None
    config.include_server_header = False
    config.graceful_timeout = 3.0

    async def run(*, task_status: trio.TaskStatus[int]) -> None:
        async with trio.open_nursery() as nursery:
            binds: list[str] = await nursery.start(
                lambda task_status: hypercorn_serve(
                    app,  # type: ignore[arg-type]  # hypercorn's ASGI protocol typing is narrower
                    config,
                    shutdown_trigger=shutdown_trigger,
                    task_status=task_status,
                    mode="asgi",
                )
            )
            bound = _port_from_bind(binds[0])
            log.info("http server listening", host=host, port=bound)
            task_status.started(bound)

    try:
        await run(task_status=task_status)
    except BaseException as err:
        in_use = _addr_in_use(err)
        if in_use is None:
            raise
        raise StartupError(f"port {port} on {host} is in use") from in_use
    finally:
        log.debug("http server stopped", host=host, port=port)


__all__ = [
    "JSON_CONTENT_TYPE",
    "BadRequest",
    "Handler",
    "HttpApp",
    "HttpError",
    "Request",
    "Response",
    "json_response",
    "serve_http",
]
