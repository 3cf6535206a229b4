"""`DiscordGateway`: the control-plane bot, an actor around the sans-IO `Gateway`.

The actor owns the WebSocket (trio-websocket) and the clock; `actors.discord.gateway.Gateway`
decides what to send and when: HELLO -> IDENTIFY (intents: GUILDS only, a slash-command bot
needs no more) or RESUME, heartbeats with the first one jittered, a missed ACK = a zombie
connection -> reconnect and RESUME, op 7 -> resume, op 9 -> resume or identify anew. A close
code that retrying cannot fix (4004 bad token, 4010-4014) fails the connection lifecycle
(`actors.connection.Lifecycle`, state `failed`) and it stops connecting: no retry loop against
a revoked token. Other failures reconnect with the lifecycle's backoff and jitter (at least
the delay the gateway machine asks for); a connection that sends no HELLO within
`hello_timeout` is dropped.

Slash commands (`actors.discord.commands`) are registered per configured guild (bulk
overwrite) after READY. Interactions arrive as INTERACTION_CREATE dispatches and each is served
in its own task: the caller must be an admin (Administrator or Manage Server in that channel,
or listed in `admin_user_ids`), and Discord wants an answer within 3 s, so a command not done
after `defer_after` seconds is deferred (callback type 5) and its result edited into the
original response later.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs
import httpx
import trio
import trio_websocket

from actors import Actor
from actors.connection import (
    ConnectionHealth,
    Connector,
    Lifecycle,
    SessionEnded,
    WebSocketTarget,
    describe_failure,
    open_websocket,
)
from actors.discord.commands import COMMANDS, CommandError, ControlPlane, run_command
from actors.discord.gateway import (
    DEFAULT_GATEWAY_URL,
    DiscordParseError,
    Dispatch,
    Fatal,
    Gateway,
    GatewayProtocolError,
    GatewayState,
    Intents,
    Interaction,
    Op,
    Reconnect,
    Send,
    has_admin,
    parse_interaction,
)
from actors.discord.http_client import (
    DEFAULT_API_BASE,
    DiscordHttpError,
    DiscordRest,
    RateLimited,
)
from actors.discord.statistics import DiscordBotStatistics, GuildStatistics
from exports.health import HealthAlerts, StatusReport
from supervisors import Backoff

__all__ = ["DiscordGateway"]

_EPHEMERAL = 64
_CHANNEL_MESSAGE, _DEFERRED = 4, 5
_APPLICATION_COMMAND = 2
_MAX_FRAME = 4 * 1024 * 1024  # READY of a large bot can be big; anything bigger is hostile


class DiscordGateway(Actor):
    """The Discord bot: gateway connection, slash commands, interactions. See module docs.

    `control` is the `ControlPlane` (or a callable returning it, resolved per command).
    `rest` defaults to a `DiscordRest` on `api_base` with the bot token (owned and closed
    here). `random` feeds the heartbeat jitter and the reconnect jitter.
    """

    def __init__(
        self,
        *,
        token: str,
        control: ControlPlane | Callable[[], ControlPlane],
        application_id: str | None = None,
        guild_ids: Sequence[str] = (),
        admin_user_ids: Sequence[str] = (),
        gateway_url: str = DEFAULT_GATEWAY_URL,
        api_base: str = DEFAULT_API_BASE,
        rest: DiscordRest | None = None,
        intents: int = Intents.GUILDS,
        defer_after: float = 2.0,
        command_timeout: float = 600.0,
        hello_timeout: float = 20.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        enabled: bool = True,
        random: Callable[[], float] = random.random,
        connector: Connector | None = None,
        health: Callable[[], StatusReport] | None = None,
        admin_channel_id: str | None = None,
        alert_after: float = 300.0,
        alert_check_seconds: float = 15.0,
    ) -> None:
        self._token = token
        self._control = control
        self.application_id = application_id
        self.guild_ids = tuple(guild_ids)
        self.admin_user_ids = frozenset(admin_user_ids)
        self._gateway_url = gateway_url
        self._api_base = api_base
        self._rest = rest
        self._owns_rest = rest is None
        self._intents = int(intents)
        self.defer_after = defer_after
        self.command_timeout = command_timeout
        self.hello_timeout = hello_timeout
        self.enabled = enabled
        self._random = random
        self._connector = connector
        self._health = health
        self.admin_channel_id = admin_channel_id
        self._alerts = HealthAlerts(after=alert_after)
        self.alert_check_seconds = alert_check_seconds
        self.alerts_posted = 0
        self._gw: Gateway | None = None
        try:
            target: str | None = WebSocketTarget.parse(gateway_url).address
        except ValueError:
            target = None
        self.lifecycle = Lifecycle(
            "discord",
            enabled=enabled,
            target=target,
            backoff=Backoff(initial=backoff_initial, maximum=backoff_max, jitter=0.5),
            max_person_failures=1,  # a refused token or intents do not heal by retrying
            stable_after=0.0,  # a session that reached READY starts the backoff over
        )
        # guild id -> {"name": str, "present": bool}
        self.guilds: dict[str, dict[str, Any]] = {
            g: {"name": "", "present": False} for g in guild_ids
        }
        self.notify_channels: dict[str, str] = {}
        self.registered: set[str] = set()
        self.running = False
        self.started_at: datetime | None = None
        self.last_heartbeat: datetime | None = None
        self.last_event_at: datetime | None = None
        self.connects = 0
        self.identifies = 0
        self.resumes = 0
        self.reconnects = 0
        self.bad_frames = 0
        self.interactions = 0
        self.answered = 0
        self.deferred = 0
        self.refused = 0
        self.errors = 0
        self.active_tasks = 0
        self._registering = False

    def __repr__(self) -> str:  # never the token
        return f"<DiscordGateway status={self.status} connects={self.connects}>"

    # ------------------------------------------------------------------ lifecycle

    async def on_start(self) -> None:
        self._gw = Gateway(
            token=self._token, intents=self._intents, url=self._gateway_url, random=self._random
        )
        if self._rest is None:
            self._rest = DiscordRest(token=self._token, base_url=self._api_base)
        self.started_at = datetime.now(UTC)

    async def on_stop(self) -> None:
        self.running = False
        if self._owns_rest and self._rest is not None:
            rest, self._rest = self._rest, None
            with trio.CancelScope(shield=True), trio.move_on_after(1):
                await rest.aclose()

    async def handle(self, message: Any) -> Any:
        self.errors += 1
        self.log.warning("unexpected message", type=type(message).__name__)
        return None

    @property
    def connected(self) -> bool:
        """Whether the gateway session is up (READY or RESUMED seen on this connection)."""
        return self._gw is not None and self._gw.state is GatewayState.CONNECTED

    # ------------------------------------------------------------------ connection loop

    @property
    def status(self) -> str:
        """running | error | disabled | inactive (the dashboard's words)."""
        return self.health().status

    @property
    def error(self) -> str | None:
        """Why the gateway is not connected, as a sentence (None while it is)."""
        return self.health().error

    async def run(self) -> None:
        if self.enabled:
            self.running = True
            if self._health is not None and self.admin_channel_id is not None:
                self.nursery.start_soon(self._tell_admins)
        try:
            await self.lifecycle.run(self._connect_once, log=self.log)
        finally:
            self.running = False

    async def _connect_once(self) -> None:
        """One connection to the gateway, served until it ends (always raises why)."""
        gw = self._gw
        assert gw is not None
        url = gw.connect_url
        self.connects += 1
        if self.connects > 1:
            self.reconnects += 1
        try:
            async with open_websocket(
                WebSocketTarget.parse(url),
                connector=self._connector,
                connect_timeout=10,
                max_message_size=_MAX_FRAME,
            ) as ws:
                outcome = await self._session(ws)
        except trio_websocket.ConnectionClosed as exc:
            outcome = self._closed(exc.reason.code if exc.reason is not None else None)
        except BaseException as exc:
            if describe_failure(exc) is not None:
                self._closed(None)  # the machine learns the link is gone; the lifecycle says why
            raise
        if isinstance(outcome, Fatal):
            self.running = False
            raise SessionEnded(
                f"discord gateway: {outcome.reason} (close code {outcome.code})",
                needs_person=True,
            )
        raise SessionEnded(outcome.reason, immediate=outcome.delay == 0, min_delay=outcome.delay)

    async def _tell_admins(self) -> None:
        """Post to the admin channel when a component stays failing, and when it recovers."""
        assert self._health is not None and self._rest is not None
        while True:
            await trio.sleep(self.alert_check_seconds)
            for alert in self._alerts.update(self._health(), trio.current_time()):
                path = f"/channels/{self.admin_channel_id}/messages"
                try:
                    await self._rest.request("POST", path, json={"content": alert.text()[:2000]})
                except (DiscordHttpError, RateLimited, httpx.HTTPError) as exc:
                    self.errors += 1
                    self._alerts.retry(alert)
                    self.log.warning("admin alert not posted", error=type(exc).__name__)
                else:
                    self.alerts_posted += 1
                    self.log.info(
                        "admins told",
                        component=alert.path,
                        recovered=alert.recovered,
                        removed=alert.removed,
                    )

    def _closed(self, code: int | None, reason: str | None = None) -> Reconnect | Fatal:
        assert self._gw is not None
        outs = self._gw.connection_closed(code, now=trio.current_time())
        for out in outs:
            if isinstance(out, Reconnect) and reason is not None:
                return attrs.evolve(out, reason=reason)  # ours says more than "closed with None"
            if isinstance(out, Fatal | Reconnect):
                return out
        # The machine was already disconnected (we closed first): resume if it can.
        return Reconnect(
            url=self._gw.connect_url,
            resume=True,
            delay=0.0,
            close_code=1000,
            reason=reason or "closed",
        )

    async def _session(self, ws: trio_websocket.WebSocketConnection) -> Reconnect | Fatal:
        gw = self._gw
        assert gw is not None
        hello_by = trio.current_time() + self.hello_timeout
        while True:
            deadline = gw.next_deadline if gw.next_deadline is not None else hello_by
            outs: list[Any]
            raw: str | bytes | None = None
            with trio.move_on_at(deadline):
                raw = await ws.get_message()
            now = trio.current_time()
            if raw is None:
                if gw.next_deadline is None:  # no HELLO in time: a dead or hostile server
                    outs = [self._closed(None, f"no HELLO within {self.hello_timeout:g} s")]
                else:
                    outs = gw.tick(now)
            else:
                try:
                    outs = gw.receive(raw, now=now)
                except GatewayProtocolError as exc:
                    self.bad_frames += 1
                    self.log.warning("bad gateway frame", error=str(exc)[:200])
                    continue
            for out in outs:
                if isinstance(out, Send):
                    await self._send(ws, out)
                elif isinstance(out, Dispatch):
                    self._dispatch(out)
                elif isinstance(out, Reconnect):
                    with trio.move_on_after(2):
                        await ws.aclose(code=out.close_code, reason=out.reason[:100])
                    return out
                elif isinstance(out, Fatal):
                    return out

    async def _send(self, ws: trio_websocket.WebSocketConnection, out: Send) -> None:
        if out.op == Op.HEARTBEAT:
            self.last_heartbeat = datetime.now(UTC)
        elif out.op == Op.IDENTIFY:
            self.identifies += 1
        elif out.op == Op.RESUME:
            self.resumes += 1
        await ws.send_message(json.dumps(dict(out.payload), separators=(",", ":")))

    # ------------------------------------------------------------------ dispatches

    def _dispatch(self, event: Dispatch) -> None:
        self.last_event_at = datetime.now(UTC)
        d = event.d if isinstance(event.d, dict) else {}
        if event.t in ("READY", "RESUMED"):
            self.lifecycle.mark_connected(f"session {event.t.lower()}")
        if event.t == "READY":
            app = d.get("application")
            if (
                self.application_id is None
                and isinstance(app, dict)
                and isinstance(app.get("id"), str)
            ):
                self.application_id = app["id"]
            guilds = d.get("guilds")
            for guild in guilds if isinstance(guilds, list) else ():
                if isinstance(guild, dict) and isinstance(guild.get("id"), str):
                    self.guilds.setdefault(guild["id"], {"name": "", "present": True})[
                        "present"
                    ] = True
            if not self._registering and set(self.guild_ids) - self.registered:
                self._registering = True
                self.nursery.start_soon(self._register_commands)
        elif event.t in ("GUILD_CREATE", "GUILD_UPDATE") and isinstance(d.get("id"), str):
            entry = self.guilds.setdefault(d["id"], {"name": "", "present": True})
            entry["present"] = True
            if isinstance(d.get("name"), str):
                entry["name"] = d["name"]
        elif event.t == "GUILD_DELETE" and isinstance(d.get("id"), str):
            if d.get("unavailable") is not True:  # an outage is not a removal
                self.guilds.setdefault(d["id"], {"name": ""})["present"] = False
        elif event.t == "INTERACTION_CREATE":
            self.nursery.start_soon(self._interaction, event.d)

    async def _register_commands(self) -> None:
        assert self._rest is not None
        try:
            if self.application_id is None:
                self.errors += 1
                self.log.warning("cannot register slash commands: no application id")
                return
            for guild_id in self.guild_ids:
                if guild_id in self.registered:
                    continue
                try:
                    await self._rest.request(
                        "PUT",
                        f"/applications/{self.application_id}/guilds/{guild_id}/commands",
                        json=list(COMMANDS),
                    )
                    self.registered.add(guild_id)
                except (DiscordHttpError, RateLimited, httpx.HTTPError) as exc:
                    self.errors += 1
                    self.log.warning(
                        "slash command registration failed", guild=guild_id, error=str(exc)[:200]
                    )
        finally:
            self._registering = False

    # ------------------------------------------------------------------ interactions

    def _allowed(self, it: Interaction) -> bool:
        if it.user_id is not None and it.user_id in self.admin_user_ids:
            return True
        return it.member_permissions is not None and has_admin(it.member_permissions)

    async def _interaction(self, d: Any) -> None:
        self.active_tasks += 1
        try:
            await self._serve_interaction(d)
        except (DiscordHttpError, RateLimited, httpx.HTTPError) as exc:
            self.errors += 1
            self.log.warning("interaction answer failed", error=str(exc)[:200])
        finally:
            self.active_tasks -= 1

    async def _serve_interaction(self, d: Any) -> None:
        try:
            it = parse_interaction(d)
        except DiscordParseError as exc:
            self.bad_frames += 1
            self.log.warning("bad interaction", error=str(exc))
            return
        if it.type != _APPLICATION_COMMAND:
            return  # components/autocomplete: none registered
        self.interactions += 1
        if not self._allowed(it):
            self.refused += 1
            self.log.info("slash command refused", command=it.command_name, user=it.user_id)
            await self._callback(
                it,
                _CHANNEL_MESSAGE,
                "You need the Administrator or Manage Server permission for this command.",
            )
            return
        result: list[str] = []
        done = trio.Event()

        async def work() -> None:
            result.append(await self._execute(it))
            done.set()

        self.nursery.start_soon(work)
        with trio.move_on_after(self.defer_after):
            await done.wait()
        if done.is_set():
            await self._callback(it, _CHANNEL_MESSAGE, result[0])
            self.answered += 1
            return
        # Discord drops an interaction not answered within 3 s: defer, then edit the answer in.
        await self._callback(it, _DEFERRED, None)
        self.deferred += 1
        await done.wait()
        app_id = it.application_id or self.application_id
        assert self._rest is not None
        await self._rest.request(
            "PATCH",
            f"/webhooks/{app_id}/{it.token}/messages/@original",
            json={"content": result[0], "allowed_mentions": {"parse": []}},
            auth=False,
        )
        self.answered += 1

    async def _execute(self, it: Interaction) -> str:
        control = self._control() if callable(self._control) else self._control
        if not hasattr(control, "status"):  # a factory returned nothing usable
            return "The runtime is not ready."
        try:
            with trio.fail_after(self.command_timeout):
                reply = await run_command(control, it)
        except CommandError as exc:
            return f"⚠️ {exc}"
        except KeyError as exc:
            return f"Unknown command {exc.args[0]!r}."
        except trio.TooSlowError:
            self.errors += 1
            return "The command took too long."
        except Exception as exc:
            # A failing command must not take the bot down; the user sees a short reason.
            self.errors += 1
            self.log.warning("slash command failed", command=it.command_name, error=repr(exc)[:300])
            return f"The command failed: {type(exc).__name__}."
        if it.command_path[:2] == ("notify", "channel") and it.guild_id is not None:
            channel = it.option("channel") or it.channel_id
            if isinstance(channel, str):
                self.notify_channels[it.guild_id] = channel
        return reply

    async def _callback(self, it: Interaction, kind: int, content: str | None) -> None:
        assert self._rest is not None
        body: dict[str, Any] = {"type": kind}
        if kind == _CHANNEL_MESSAGE:
            body["data"] = {
                "content": content or "done",
                "flags": _EPHEMERAL,
                "allowed_mentions": {"parse": []},
            }
        elif kind == _DEFERRED:
            body["data"] = {"flags": _EPHEMERAL}
        await self._rest.request(
            "POST", f"/interactions/{it.id}/{it.token}/callback", json=body, auth=False
        )

    # ------------------------------------------------------------------ snapshot

    def health(self) -> ConnectionHealth:
        """The gateway connection's health with the bot's counters."""
        return self.lifecycle.health(
            messages=self.interactions,
            actions=self.answered,
            errors=self.errors + self.bad_frames,
            last_event_at=self.last_event_at,
        )

    def snapshot(self) -> DiscordBotStatistics:
        """discord/runtime.json's fields (see `exports.views.DiscordView`/`GuildView`) and the
        counters."""
        configured = set(self.guild_ids)
        guilds = []
        for guild_id in sorted(self.guilds):
            info = self.guilds[guild_id]
            authorized = not configured or guild_id in configured
            channel = self.notify_channels.get(guild_id)
            guilds.append(
                GuildStatistics(
                    guild_id=guild_id,
                    guild_name=str(info.get("name") or ""),
                    bot_present=bool(info.get("present", False)),
                    authorized_for_user=authorized,
                    authorization_reason="admin_override" if authorized else "none",
                    notifications_enabled=channel is not None,
                    notifications_channel_id=channel,
                    commands_registered=guild_id in self.registered,
                )
            )
        gw = self._gw
        return DiscordBotStatistics(
            status=self.status,
            enabled=self.enabled,
            # Truthful for discord/runtime.json: running only while the session is up.
            running=self.running and self.lifecycle.is_connected,
            connected=self.connected,
            started_at=self.started_at,
            last_heartbeat=self.last_heartbeat,
            last_event_at=self.last_event_at,
            task_count=self.active_tasks,
            guilds=tuple(guilds),
            gateway_state=gw.state if gw is not None else GatewayState.DISCONNECTED,
            latency_ms=round(gw.latency * 1000, 1) if gw is not None and gw.latency else None,
            connects=self.connects,
            identifies=self.identifies,
            resumes=self.resumes,
            interactions=self.interactions,
            answered=self.answered,
            deferred=self.deferred,
            refused=self.refused,
            bad_frames=self.bad_frames,
            alerts_posted=self.alerts_posted,
            errors=self.errors,
            error=self.error,
        )
