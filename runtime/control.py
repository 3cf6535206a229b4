"""The status endpoint and the local control API, and the actor that serves them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import trio

from actors import Actor
from exports.health import status_report
from runtime.http import HttpApp, HttpError, Request, Response, json_response, serve_http
from supervisors import Supervisor


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        if isinstance(value, datetime):
            value = value.isoformat().replace("+00:00", "Z")
        elif isinstance(value, dict):
            value = _jsonable(value)
        out[key] = value
    return out


def tree_rows(root: Supervisor) -> list[dict[str, Any]]:
    """The whole actor tree as JSON-able rows (without per-actor detail)."""
    return [
        _jsonable({k: v for k, v in row.items() if k not in ("detail", "health")})
        for row in root.tree()
    ]


def build_app(
    root: Supervisor, *, token: str | None, version: str, watch_secret: str | None = None
) -> HttpApp:
    """`GET /status`, `/livez` and `/readyz` (open, loopback by default), the token-protected
    control API, and the Twitch EventSub webhook when watching is configured with a secret.

    `/status` answers 200 while the process serves: `ok` when every enabled component is
    connected or running, else `degraded` naming each component and why (`exports.health`).
    `/livez` is 200 while the tree runs; `/readyz` is 200 only when `ok`, else 503."""
    app = HttpApp(token=token)
    # Feature routes are imported only when the feature is configured.
    if watch_secret is not None:
        from actors.watch import register_watch_routes

        register_watch_routes(app, lambda: root.lookup("watch"), watch_secret)
    if root.registry is None or root.registry.kind(f"{root.name}/clips") is not None:
        from actors.clips import register_clip_routes

        register_clip_routes(app, lambda: root.lookup("clips/jobs"), lambda: root.lookup("store"))

    async def status(_request: Request) -> Response:
        report = status_report(root.tree())
        return json_response(report.body(version=version))

    async def livez(_request: Request) -> Response:
        alive = root.statistics()["state"] == "running"
        return json_response(
            {"status": "alive" if alive else root.statistics()["state"]},
            status=200 if alive else 503,
        )

    async def readyz(_request: Request) -> Response:
        report = status_report(root.tree())
        body = {
            "status": report.status,
            "degraded": [{"path": c.path, "reason": c.reason} for c in report.degraded],
        }
        return json_response(body, status=200 if report.ok else 503)

    async def actors(_request: Request) -> Response:
        return json_response({"actors": tree_rows(root)})

    async def restart(request: Request) -> Response:
        path = request.params["path"].strip("/")
        prefix = root.name + "/"
        if path.startswith(prefix):
            path = path[len(prefix) :]
        parent, _, child = path.rpartition("/")
        try:
            supervisor = root.find_supervisor(parent)
            await supervisor.restart_child(child)
        except KeyError:
            raise HttpError(404, f"no child at {path!r}") from None
        except RuntimeError as exc:
            raise HttpError(409, str(exc)) from None
        return json_response({"restarted": f"{root.name}/{path}"})

    app.route("GET", "/status", status, auth=False)
    app.route("GET", "/livez", livez, auth=False)
    app.route("GET", "/readyz", readyz, auth=False)
    app.route("GET", "/actors", actors, auth=True)
    app.route("POST", "/actors/{path:path}/restart", restart, auth=True)
    return app


class HttpServer(Actor):
    """Serves an `HttpApp`; `on_start` returns once the port is bound (so a port in use is a
    start failure the supervisor and the process see)."""

    def __init__(self, app_factory: Callable[[], HttpApp], *, host: str, port: int) -> None:
        self._app_factory = app_factory
        self.host = host
        self.requested_port = port
        self.port: int | None = None

    async def on_start(self) -> None:
        self.port = await self.nursery.start(
            lambda task_status: serve_http(
                self._app_factory(),
                host=self.host,
                port=self.requested_port,
                task_status=task_status,
            )
        )
        self.log.info("http listening", host=self.host, port=self.port)

    async def run(self) -> None:
        await trio.sleep_forever()

    def snapshot(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port}
