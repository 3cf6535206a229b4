"""Tests of runtime.http: routing, auth, limits and errors over a real hypercorn server."""

from __future__ import annotations

import errno
import socket
from collections.abc import AsyncIterator
from functools import partial

import httpx
import pytest
import structlog
import trio

from runtime.exit_codes import StartupError
from runtime.http import (
    JSON_CONTENT_TYPE,
    BadRequest,
    HttpApp,
    HttpError,
    Request,
    Response,
    json_response,
    serve_http,
)

TOKEN = "control-token-0123456789abcdef"


async def _status(request: Request) -> Response:
    return json_response({"ok": True, "query": dict(request.query)})


async def _restart(request: Request) -> Response:
    return json_response({"restarting": request.params["path"]}, status=202)


async def _clip(request: Request) -> Response:
    return json_response({"clip": request.params["clip_id"]})


async def _echo(request: Request) -> Response:
    return json_response({"got": request.json(), "client": list(request.client or ())})


async def _boom(request: Request) -> Response:
    raise RuntimeError("handler exploded with oauth:abcdef123456")


async def _teapot(request: Request) -> Response:
    raise HttpError(418, "short and stout")


async def _bad_param(request: Request) -> Response:
    raise BadRequest("limit must be a number")


async def _raw(request: Request) -> Response:
    return Response(status=200, body=b"plain", content_type="text/plain", headers={"X-Extra": "1"})


def _build_app(token: str | None = TOKEN, max_body: int = 1_000) -> HttpApp:
    app = HttpApp(token=token, max_body=max_body)
    app.route("GET", "/status", _status, auth=False)
    app.route("POST", "/actors/{path:path}/restart", _restart, auth=True)
    app.route("GET", "/clips/{clip_id}", _clip, auth=True)
    app.route("DELETE", "/clips/{clip_id}", _clip, auth=True)
    app.route("POST", "/echo", _echo, auth=False)
    app.route("GET", "/boom", _boom, auth=False)
    app.route("GET", "/teapot", _teapot, auth=False)
    app.route("GET", "/bad", _bad_param, auth=False)
    app.route("GET", "/raw", _raw, auth=False)
    return app


async def _start(nursery: trio.Nursery, app: HttpApp) -> httpx.AsyncClient:
    port = await nursery.start(partial(serve_http, app, host="127.0.0.1", port=0))
    assert isinstance(port, int) and port > 0
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10)


@pytest.fixture
async def client(nursery: trio.Nursery) -> AsyncIterator[httpx.AsyncClient]:
    async with await _start(nursery, _build_app()) as http_client:
        yield http_client


def _auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_json_route(client: httpx.AsyncClient) -> None:
    response = await client.get("/status", params={"verbose": "1"})
    assert response.status_code == 200
    assert response.headers["content-type"] == JSON_CONTENT_TYPE
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {"ok": True, "query": {"verbose": "1"}}


async def test_path_params_with_slashes(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/actors/root/creators/creator:daniel/twitch/restart", headers=_auth()
    )
    assert response.status_code == 202
    assert response.json() == {"restarting": "root/creators/creator:daniel/twitch"}


async def test_single_segment_param(client: httpx.AsyncClient) -> None:
    response = await client.get("/clips/abc-123", headers=_auth())
    assert response.json() == {"clip": "abc-123"}
    # A single-segment placeholder does not swallow slashes.
    assert (await client.get("/clips/abc/123", headers=_auth())).status_code == 404


async def test_raw_response_with_extra_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/raw")
    assert response.content == b"plain"
    assert response.headers["content-type"] == "text/plain"
    assert response.headers["x-extra"] == "1"


async def test_missing_token_is_401_and_logged(client: httpx.AsyncClient) -> None:
    with structlog.testing.capture_logs() as logs:
        response = await client.get("/clips/1")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"] == "unauthorized"
    (entry,) = [e for e in logs if e["event"] == "unauthorized request"]
    assert entry["method"] == "GET"
    assert entry["path"] == "/clips/1"
    assert entry["client"].startswith("127.0.0.1:")


async def test_wrong_token_is_401_and_never_logged(client: httpx.AsyncClient) -> None:
    presented = "guessed-token-SHOULD-NOT-APPEAR-42"
    with structlog.testing.capture_logs() as logs:
        response = await client.post("/actors/root/store/restart", headers=_auth(presented))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    (entry,) = [e for e in logs if e["event"] == "unauthorized request"]
    assert entry["method"] == "POST"
    assert entry["path"] == "/actors/root/store/restart"
    assert presented not in repr(logs)
    assert TOKEN not in repr(logs)


async def test_other_auth_schemes_are_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/clips/1", headers={"Authorization": f"Basic {TOKEN}"})
    assert response.status_code == 401
    response = await client.get("/clips/1", headers={"Authorization": f"bearer {TOKEN}"})
    assert response.status_code == 200  # the scheme is case-insensitive


async def test_no_token_configured_is_403(nursery: trio.Nursery) -> None:
    async with await _start(nursery, _build_app(token=None)) as client:
        response = await client.get("/clips/1", headers=_auth())
        assert response.status_code == 403
        assert response.json()["error"] == "control API disabled: no token configured"
        # Open routes keep working.
        assert (await client.get("/status")).status_code == 200


async def test_unknown_path_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/nope")
    assert response.status_code == 404
    assert response.json() == {"error": "not found", "status": 404}


async def test_wrong_method_is_405_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.put("/clips/7", headers=_auth())
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, HEAD"
    assert response.json() == {"error": "method not allowed", "status": 405}
    assert (await client.post("/status")).headers["allow"] == "GET, HEAD"


async def test_head_is_answered_by_the_get_route_without_a_body(
    client: httpx.AsyncClient,
) -> None:
    response = await client.head("/status")
    assert response.status_code == 200
    assert response.headers["content-type"] == JSON_CONTENT_TYPE
    assert response.content == b""
    # The GET route's token applies to HEAD as well.
    assert (await client.head("/clips/1")).status_code == 401
    assert (await client.head("/clips/1", headers=_auth())).status_code == 200


async def test_trailing_slash_is_404_not_a_redirect(client: httpx.AsyncClient) -> None:
    response = await client.get("/status/")
    assert response.status_code == 404
    assert response.json() == {"error": "not found", "status": 404}
    assert response.headers["cache-control"] == "no-store"


async def test_oversize_body_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post("/echo", content=b"[" + b"1," * 1_000 + b"1]")
    assert response.status_code == 413
    assert response.json()["error"] == "request body exceeds 1000 bytes"


async def test_oversize_streamed_body_is_413(client: httpx.AsyncClient) -> None:
    # No Content-Length (chunked): the limit is enforced while reading.
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"x" * 400

    response = await client.post("/echo", content=chunks())
    assert response.status_code == 413


async def test_body_within_limit_is_read(client: httpx.AsyncClient) -> None:
    response = await client.post("/echo", json={"vote": "a", "n": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["got"] == {"vote": "a", "n": 3}
    assert body["client"][0] == "127.0.0.1"


@pytest.mark.parametrize("content", [b"{not json", b"", b"\xff\xfe"])
async def test_invalid_json_is_400(client: httpx.AsyncClient, content: bytes) -> None:
    response = await client.post("/echo", content=content)
    assert response.status_code == 400
    assert "JSON" in response.json()["error"]


async def test_http_errors_from_handlers(client: httpx.AsyncClient) -> None:
    assert (await client.get("/teapot")).status_code == 418
    response = await client.get("/bad")
    assert response.status_code == 400
    assert response.json()["error"] == "limit must be a number"


async def test_handler_exception_is_500_and_server_keeps_serving(
    client: httpx.AsyncClient,
) -> None:
    with structlog.testing.capture_logs() as logs:
        response = await client.get("/boom")
    assert response.status_code == 500
    assert response.json() == {"error": "internal server error", "status": 500}
    assert "exploded" not in response.text  # no internals leak to the client
    (entry,) = [e for e in logs if e["event"] == "http handler failed"]
    assert entry["path"] == "/boom"
    assert entry["exc_info"] is True
    for _ in range(3):
        assert (await client.get("/status")).status_code == 200


async def test_port_in_use_is_startup_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with trio.open_nursery() as nursery:
            # nursery.start raises the startup failure itself, unwrapped.
            with pytest.raises(StartupError, match=f"port {port} on 127.0.0.1 is in use") as caught:
                await nursery.start(partial(serve_http, _build_app(), host="127.0.0.1", port=port))
        assert isinstance(caught.value.__cause__, OSError)
        assert caught.value.__cause__.errno == errno.EADDRINUSE


async def test_server_stops_when_cancelled() -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(partial(serve_http, _build_app(), host="127.0.0.1", port=0))
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                assert (await client.get("/status")).status_code == 200
            nursery.cancel_scope.cancel()
    # The listening socket is gone: connecting is refused.
    with pytest.raises(OSError):
        await trio.open_tcp_stream("127.0.0.1", port)


async def test_graceful_shutdown_trigger() -> None:
    stop = trio.Event()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(
                partial(
                    serve_http, _build_app(), host="127.0.0.1", port=0, shutdown_trigger=stop.wait
                )
            )
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                assert (await client.get("/status")).status_code == 200
            stop.set()
        # serve_http returned on its own: the nursery closed without a cancel.


def test_route_validation() -> None:
    app = HttpApp(token=None)
    app.route("GET", "/a/{x}", _status, auth=False)
    with pytest.raises(ValueError, match="already registered"):
        app.route("get", "/a/{x}", _status, auth=False)
    with pytest.raises(ValueError, match="start with"):
        app.route("GET", "a", _status, auth=False)
    with pytest.raises(ValueError, match="twice"):
        app.route("GET", "/{x}/{x}", _status, auth=False)
    with pytest.raises(ValueError, match="malformed"):
        app.route("GET", "/{x-y}", _status, auth=False)


@pytest.mark.parametrize(
    "content",
    [
        b"[" * 200_000 + b"]" * 200_000,
        b'{"n": ' + b"9" * 5000 + b"}",
        b'{"duration_seconds": ' + b"9" * 400 + b"}",
        b"[NaN]",
        b"[1e400]",
    ],
    ids=["nested-200000", "int-5000-digits", "int-400-digits", "nan", "float-overflow"],
)
async def test_hostile_json_bodies_are_400_not_500(nursery: trio.Nursery, content: bytes) -> None:
    async with await _start(nursery, _build_app(max_body=1_000_000)) as http_client:
        response = await http_client.post("/echo", content=content)
    assert response.status_code == 400
    assert "JSON" in response.json()["error"]


async def test_repeated_headers_reach_the_handler_joined(nursery: trio.Nursery) -> None:
    seen: list[Request] = []

    async def record(request: Request) -> Response:
        seen.append(request)
        return json_response({})

    app = HttpApp(token=None)
    app.route("POST", "/record", record, auth=False)
    async with await _start(nursery, app) as http_client:
        response = await http_client.post(
            "/record?a=1&b=2&a=3",
            headers=[("X-Tag", "one"), ("x-tag", "two"), ("Content-Type", "text/plain")],
            content=b"\x00raw \xffbytes",
        )
    assert response.status_code == 200
    (request,) = seen
    assert request.headers["x-tag"] == "one, two"
    assert request.headers["content-type"] == "text/plain"
    assert request.body == b"\x00raw \xffbytes"  # untouched, as a signature check needs it
    assert request.query == {"a": "3", "b": "2"}
    assert request.query_items == (("a", "1"), ("b", "2"), ("a", "3"))


async def test_after_send_runs_on_the_trio_thread_once_answered(nursery: trio.Nursery) -> None:
    done = trio.Event()
    tokens: list[trio.lowlevel.TrioToken] = []

    def after() -> None:
        tokens.append(trio.lowlevel.current_trio_token())  # raises outside trio's thread
        done.set()

    async def answer(_request: Request) -> Response:
        return json_response({"restarting": True}, status=202, after_send=after)

    app = HttpApp(token=None)
    app.route("POST", "/answer", answer, auth=False)
    async with await _start(nursery, app) as http_client:
        response = await http_client.post("/answer")
        assert (response.status_code, response.json()) == (202, {"restarting": True})
        with trio.fail_after(5):
            await done.wait()
    assert tokens == [trio.lowlevel.current_trio_token()]
