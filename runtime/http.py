"""The runtime's HTTP surface: Starlette routing served by hypercorn (on trio, through anyio).

hypercorn parses HTTP (the webhook endpoints face the internet, so no hand-written parsing)
and Starlette matches paths and methods; this module adds what the runtime needs on top: the
bearer token of the control API, bounded request bodies, JSON errors, and handlers that take
and return the plain values of `actors.http_routes` (so feature packages never import this
process layer, nor Starlette).

    app = HttpApp(token=secret.reveal())
    app.route("GET", "/status", status_handler, auth=False)
    app.route("POST", "/actors/{path:path}/restart", restart_handler, auth=True)
    port = await nursery.start(partial(serve_http, app, host="127.0.0.1", port=8080))

Patterns: `{name}` matches one path segment, `{name:path}` matches the rest of the path
(slashes included). A GET route also answers HEAD (Starlette's rule; the server sends no body).
"""

from __future__ import annotations

import errno
import hmac
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from contextlib import aclosing
from functools import partial
from typing import Any

import attrs
import structlog
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response as StarletteResponse
from starlette.routing import Route

from actors.http_routes import (
    JSON_CONTENT_TYPE,
    BadRequest,
    Handler,
    HttpError,
    Request,
    Response,
    error_response,
    json_response,
)
from runtime.exit_codes import StartupError

log = structlog.get_logger("runtime.http")

# Header values travel as latin-1 in HTTP/1.1 (RFC 9110 allows opaque bytes); decoding with it
# never fails and round-trips every byte.
_HEADER_CODEC = "latin-1"
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::path)?\}")
_METHOD = re.compile(r"[A-Z]+")
# Set from the body itself; a handler's own value would contradict it.
_RESERVED_HEADERS = frozenset({"content-type", "content-length"})


@attrs.frozen(kw_only=True)
class _Route:
    handler: Handler
    auth: bool
    pattern: str


def _check_pattern(pattern: str) -> None:
    if not pattern.startswith("/"):
        raise ValueError(f"route pattern must start with '/': {pattern!r}")
    names = _PLACEHOLDER.findall(pattern)
    if len(set(names)) != len(names):
        raise ValueError(f"a parameter appears twice in {pattern!r}")
    rest = _PLACEHOLDER.sub("", pattern)
    if "{" in rest or "}" in rest:
        raise ValueError(f"malformed placeholder in route pattern {pattern!r}")


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
        self._patterns: dict[str, dict[str, _Route]] = {}  # pattern -> method -> route
        self._app: Starlette | None = None

    def route(self, method: str, pattern: str, handler: Handler, *, auth: bool) -> None:
        """Register `handler` for `method` (GET, POST, ...) on paths matching `pattern`."""
        method = method.upper()
        if not _METHOD.fullmatch(method):
            raise ValueError(f"invalid HTTP method {method!r}")
        _check_pattern(pattern)
        methods = self._patterns.setdefault(pattern, {})
        if method in methods:
            raise ValueError(f"route {method} {pattern} is already registered")
        methods[method] = _Route(handler=handler, auth=auth, pattern=pattern)
        self._app = None  # built again, with this route, for the next request

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
        send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ) -> None:
        """ASGI entry point."""
        if self._app is None:
            self._app = self._build()
        await self._app(scope, receive, send)

    def _build(self) -> Starlette:
        routes = [
            Route(pattern, partial(self._endpoint, methods), methods=list(methods), name=pattern)
            for pattern, methods in self._patterns.items()
        ]
        app = Starlette(
            routes=routes,
            exception_handlers={404: _not_found, 405: _method_not_allowed},
        )
        app.router.redirect_slashes = False  # `/status/` is not `/status`: 404, not a redirect
        return app

    async def _endpoint(
        self, methods: Mapping[str, _Route], request: StarletteRequest
    ) -> StarletteResponse:
        # Starlette lets through only the registered methods, and HEAD where GET is.
        route = methods.get(request.method) or methods["GET"]
        return _starlette(await self._respond(route, request))

    async def _respond(self, route: _Route, request: StarletteRequest) -> Response:
        method, path = request.method, request.scope["path"]
        client = (str(request.client.host), int(request.client.port)) if request.client else None
        if route.auth:
            refusal = self._check_auth(request.headers, method, path, client)
            if refusal is not None:
                return refusal
        try:
            body = await self._read_body(request)
        except ClientDisconnect:
            return error_response(400, "the client closed the connection")  # read by nobody
        if body is None:
            return error_response(413, f"request body exceeds {self._max_body} bytes")
        headers = request.headers
        try:
            response = await route.handler(
                Request(
                    method=method,
                    path=path,
                    params=dict(request.path_params),
                    query=dict(request.query_params),
                    query_items=tuple(request.query_params.multi_items()),
                    headers={name: ", ".join(headers.getlist(name)) for name in headers},
                    body=body,
                    client=client,
                )
            )
        except HttpError as err:
            return error_response(err.status, err.message)
        except Exception:
            # Contained: one failing handler must never take the server (or the actor) down.
            log.exception("http handler failed", method=method, path=path, route=route.pattern)
            return error_response(500, "internal server error")
        if not isinstance(response, Response):
            log.error(
                "http handler returned a non-Response",
                method=method,
                path=path,
                route=route.pattern,
                returned=type(response).__name__,
            )
            return error_response(500, "internal server error")
        return response

    def _check_auth(
        self,
        headers: Mapping[str, str],
        method: str,
        path: str,
        client: tuple[str, int] | None,
    ) -> Response | None:
        if self._token is None:
            return error_response(403, "control API disabled: no token configured")
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
        return error_response(401, "unauthorized", {"WWW-Authenticate": "Bearer"})

    async def _read_body(self, request: StarletteRequest) -> bytes | None:
        """The body, or `None` when it is larger than allowed."""
        # Refuse an announced oversize body before reading any of it.
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_body:
            return None
        chunks: list[bytes] = []
        size = 0
        async with aclosing(request.stream()) as stream:
            async for chunk in stream:
                size += len(chunk)
                if size > self._max_body:
                    # Stop reading at once: the rest of an oversize body is never buffered.
                    return None
                chunks.append(chunk)
        return b"".join(chunks)


def _starlette(response: Response) -> StarletteResponse:
    after_send = response.after_send
    return StarletteResponse(
        response.body,
        status_code=response.status,
        headers={
            "content-type": response.content_type,
            # Status and control answers are live data: no caching by browsers or proxies.
            "cache-control": "no-store",
            **{k: v for k, v in response.headers.items() if k.lower() not in _RESERVED_HEADERS},
        },
        background=None if after_send is None else BackgroundTask(_call, after_send),
    )


async def _not_found(_request: StarletteRequest, _exc: Exception) -> StarletteResponse:
    return _starlette(error_response(404, "not found"))


async def _method_not_allowed(_request: StarletteRequest, exc: Exception) -> StarletteResponse:
    allowed = (exc.headers or {}).get("Allow", "") if isinstance(exc, HTTPException) else ""
    allow = ", ".join(sorted(m.strip() for m in allowed.split(",") if m.strip()))
    return _starlette(error_response(405, "method not allowed", {"Allow": allow}))


async def _call(after_send: Callable[[], None]) -> None:
    # A coroutine, so Starlette runs it here on the trio thread, not in a worker thread.
    after_send()


def _format_client(client: tuple[str, int] | None) -> str | None:
    if not client:
        return None
    host, port = client
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


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
