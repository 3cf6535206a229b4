"""What an HTTP route is, for the actors that offer one: request and response values, errors,
and the registration interface.

Feature packages (clips, the EventSub webhook) describe their endpoints with these values and
register them on any `RouteTable`; the process layer (`runtime.http.HttpApp`) is one, and
serves them. Nothing here does I/O or knows the web framework underneath.

    def register_clip_routes(app: RouteTable, ...) -> None:
        app.route("GET", "/clips/{clip_id}", get_clip, auth=True)

Patterns: `{name}` matches one path segment, `{name:path}` matches the rest of the path
(slashes included). Handlers are `async def handler(request: Request) -> Response`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import attrs
import orjson

from config.untrusted_json import UntrustedJSONError, loads_untrusted

JSON_CONTENT_TYPE = "application/json; charset=utf-8"


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
    `query_items` keeps every pair in order. `body` is the raw bytes as received (a signature
    check sees exactly what was signed). `client` is `(host, port)` when known.
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
    #: Called once the response was handed to the server: work that must not start before
    #: the client has its answer, such as restarting this very server.
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


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    """The JSON error every endpoint answers with: `{"error": message, "status": status}`."""
    return json_response({"error": message, "status": status}, status, headers=headers)


Handler = Callable[[Request], Awaitable[Response]]


class RouteTable(Protocol):
    """Where routes are registered (`runtime.http.HttpApp` is one)."""

    def route(self, method: str, pattern: str, handler: Handler, *, auth: bool) -> None:
        """Serve `handler` for `method` on paths matching `pattern`; `auth=True` requires the
        control API's bearer token."""


__all__ = [
    "JSON_CONTENT_TYPE",
    "BadRequest",
    "Handler",
    "HttpError",
    "Request",
    "Response",
    "RouteTable",
    "error_response",
    "json_response",
]
