"""The status endpoint and the local control API, and the actor that serves them."""

from __future__ import annotations

import enum
import os
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import attrs
import trio

from actors import Actor, ErrorsReported, TreeRow
from exports.health import status_report
from exports.scrub import scrub
from exports.views import ErrorView
from runtime.announce import HttpAnnouncement
from runtime.http import HttpApp, HttpError, Request, Response, json_response, serve_http
from supervisors import Supervisor

if TYPE_CHECKING:
    from actors.watch.webhook import WebhookStats

#: The id of the HTTP server's child in the root supervisor.
HTTP_ID = "http"


@attrs.frozen(kw_only=True)
class RequestRejections:
    """What the HTTP endpoints refused since the process started (a statistics value)."""

    webhook_rejected: int = 0
    webhook_reasons: tuple[tuple[str, int], ...] = ()  # sorted by reason
    webhook_last_at: datetime | None = None
    unauthorized: int = 0
    unauthorized_reasons: tuple[tuple[str, int], ...] = ()  # sorted by reason
    unauthorized_last_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        """The counters as `GET /status` shows them."""
        return {
            "webhook": {"total": self.webhook_rejected, "by_reason": dict(self.webhook_reasons)},
            "unauthorized": {
                "total": self.unauthorized,
                "by_reason": dict(self.unauthorized_reasons),
            },
        }

    def errors(self) -> tuple[ErrorView, ...]:
        """Rows for `telemetry/errors.json`: one per kind of refused request seen."""
        rows = []
        if self.webhook_rejected and self.webhook_last_at is not None:
            reasons = ", ".join(f"{name}: {count}" for name, count in self.webhook_reasons)
            rows.append(
                ErrorView(
                    subsystem="http/webhooks/twitch",
                    message=f"{self.webhook_rejected} EventSub webhook requests rejected "
                    f"({reasons}); check the EventSub secret and the sender",
                    last_seen=self.webhook_last_at,
                    active=False,
                )
            )
        if self.unauthorized and self.unauthorized_last_at is not None:
            reasons = ", ".join(f"{name}: {count}" for name, count in self.unauthorized_reasons)
            rows.append(
                ErrorView(
                    subsystem="http/control",
                    message=f"{self.unauthorized} control API requests refused as unauthorized "
                    f"({reasons}); check the clients' bearer token",
                    last_seen=self.unauthorized_last_at,
                    active=False,
                )
            )
        return tuple(rows)


class RequestCounters:
    """Counts refused HTTP requests across restarts of the `http` actor (made once per tree)."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._clock = clock
        self.webhook: WebhookStats | None = None  # set when the webhook route is registered
        self.unauthorized: Counter[str] = Counter()
        self.unauthorized_last_at: datetime | None = None

    def count_unauthorized(self, reason: str) -> None:
        """Record one 401 of the control API (the `HttpApp` callback)."""
        self.unauthorized[reason] += 1
        self.unauthorized_last_at = self._clock()

    def statistics(self) -> RequestRejections:
        """The counters now, as a frozen value."""
        webhook = self.webhook
        return RequestRejections(
            webhook_rejected=webhook.rejected_total if webhook else 0,
            webhook_reasons=tuple(sorted(webhook.rejected.items())) if webhook else (),
            webhook_last_at=webhook.last_rejected_at if webhook else None,
            unauthorized=sum(self.unauthorized.values()),
            unauthorized_reasons=tuple(sorted(self.unauthorized.items())),
            unauthorized_last_at=self.unauthorized_last_at,
        )


def tree_rows(root: Supervisor) -> list[dict[str, Any]]:
    """The whole actor tree as JSON-able rows (without per-actor detail)."""
    return [row.as_json() for row in root.tree()]


def actor_json(row: TreeRow) -> dict[str, Any]:
    """One tree row with what the actor shows of itself: its `snapshot()` (`detail`) and its
    connection `health`, as JSON values (times in UTC ISO 8601, enums as their values), with
    anything that looks like a secret masked (snapshots hold none; a second line of
    defence)."""
    body = row.as_json()
    body["detail"] = _jsonable(row.detail)
    body["health"] = _jsonable(row.health)
    scrubbed: dict[str, Any] = scrub(body)
    return scrubbed


def _jsonable(value: Any) -> Any:
    """`value` as plain JSON values: attrs instances and mappings as objects (a tuple key
    joined with "/"), sets sorted, datetimes as UTC ISO 8601, enums as their values."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, enum.Enum):
        return _jsonable(value.value)
    if attrs.has(type(value)):
        return {f.name: _jsonable(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, Mapping):
        return {
            "/".join(map(str, k)) if isinstance(k, tuple) else str(k): _jsonable(v)
            for k, v in value.items()
        }
    if isinstance(value, set | frozenset):
        return sorted((_jsonable(v) for v in value), key=str)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def build_app(
    root: Supervisor,
    *,
    token: str | None,
    version: str,
    watch_secret: str | None = None,
    counters: RequestCounters | None = None,
    instance: str = "",
) -> HttpApp:
    """`GET /status`, `/livez` and `/readyz` (open, loopback by default), the token-protected
    control API, and the Twitch EventSub webhook when watching is configured with a secret.

    `/status` answers 200 while the process serves: `ok` when every enabled component is
    connected or running, else `degraded` naming each component and why (`exports.health`).
    `/livez` is 200 while the tree runs; `/readyz` is 200 only when `ok`, else 503. Refused
    requests are counted in `counters` (shown in `/status` under `rejected_requests`).
    `/status` names the process (`pid`) and its `instance` id, which `http.json` repeats, so
    `runtime status` can tell this instance from another process answering on the same port."""
    counters = counters if counters is not None else RequestCounters()
    app = HttpApp(token=token, on_unauthorized=counters.count_unauthorized)
    # Feature routes are imported only when the feature is configured.
    if watch_secret is not None:
        from actors.watch import register_watch_routes
        from actors.watch.webhook import WebhookStats

        counters.webhook = counters.webhook or WebhookStats()
        register_watch_routes(
            app, lambda: root.lookup("watch"), watch_secret, stats=counters.webhook
        )
    if root.registry is None or root.registry.kind(f"{root.name}/clips") is not None:
        from actors.clips import register_clip_routes

        register_clip_routes(app, lambda: root.lookup("clips/jobs"), lambda: root.lookup("store"))

    async def status(_request: Request) -> Response:
        body = status_report(root.tree(details=False)).body(version=version)
        body.update(
            instance=instance,
            pid=os.getpid(),
            rejected_requests=counters.statistics().as_json(),
        )
        return json_response(body)

    async def livez(_request: Request) -> Response:
        alive = root.statistics()["state"] == "running"
        return json_response(
            {"status": "alive" if alive else root.statistics()["state"]},
            status=200 if alive else 503,
        )

    async def readyz(_request: Request) -> Response:
        report = status_report(root.tree(details=False))
        body = {
            "status": report.status,
            "degraded": [{"path": c.path, "reason": c.reason} for c in report.degraded],
        }
        return json_response(body, status=200 if report.ok else 503)

    async def actors(_request: Request) -> Response:
        return json_response({"actors": tree_rows(root)})

    async def actor(request: Request) -> Response:
        # As the restart route: a path with or without the root's name.
        path = request.params["path"].strip("/").removeprefix(root.name + "/")
        full = root.name if path == root.name else f"{root.name}/{path}"
        # One snapshot taken: a walk with every actor's would take some thousands of them at
        # 1,000 creators.
        for row in root.tree(details=False, detail_of=full):
            if row.path == full:
                return json_response(actor_json(row))
        raise HttpError(404, f"no actor or supervisor at {path!r}")

    async def restart(request: Request) -> Response:
        path = request.params["path"].strip("/")
        prefix = root.name + "/"
        if path.startswith(prefix):
            path = path[len(prefix) :]
        parent, _, child = path.rpartition("/")
        try:
            supervisor = root.find_supervisor(parent)
            supervisor.ref(child)  # KeyError when unknown
            if f"{HTTP_ID}/".startswith(f"{path}/"):
                # This handler runs inside the server being restarted, which stopping it
                # cancels: answer first, and have the supervisor restart it once the answer
                # is sent.
                return json_response(
                    {"restarting": f"{root.name}/{path}"},
                    status=202,
                    after_send=lambda: _request_restart(supervisor, child),
                )
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
    app.route("GET", "/actors/{path:path}", actor, auth=True)
    app.route("POST", "/actors/{path:path}/restart", restart, auth=True)
    return app


def _request_restart(supervisor: Supervisor, child: str) -> None:
    try:
        supervisor.request_restart(child)
    except (KeyError, RuntimeError) as exc:  # gone or stopping since the answer: nothing to do
        supervisor.log.warning("restart not carried out", child=child, error=str(exc))


@attrs.frozen(kw_only=True, slots=True)
class HttpServerStatistics(ErrorsReported):
    """What the HTTP server shows in the tree (`HttpServer.snapshot`): where it listens (the
    port it bound, once it runs), and the kinds of requests it refused as error rows."""

    host: str
    port: int | None


class HttpServer(Actor):
    """Serves an `HttpApp`; `on_start` returns once the port is bound (so a port in use is a
    start failure the supervisor and the process see). `announce`, when given, names the
    bound port while the server listens, and nothing once it stopped."""

    def __init__(
        self,
        app_factory: Callable[[], HttpApp],
        *,
        host: str,
        port: int,
        announce: HttpAnnouncement | None = None,
        counters: RequestCounters | None = None,
    ) -> None:
        self._app_factory = app_factory
        self.counters = counters
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self._announce = announce

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
        if self._announce is not None:
            await self._announce.listening(self.port)

    async def on_stop(self) -> None:
        if self._announce is not None:
            await self._announce.closed()

    async def run(self) -> None:
        await trio.sleep_forever()

    def snapshot(self) -> HttpServerStatistics:
        rejections = self.counters.statistics() if self.counters else RequestRejections()
        return HttpServerStatistics(
            host=self.host, port=self.port, telemetry_errors=rejections.errors()
        )
