"""`DiscordGateway`: the control-plane bot, an actor around the sans-IO `Gateway`.

The actor owns the WebSocket and the clock; `actors.discord.gateway.Gateway` decides what to
send and when: HELLO -> IDENTIFY (intents: GUILDS only, a slash-command bot needs no more) or
RESUME, heartbeats with the first one jittered, op 7 -> resume, op 9 -> resume or identify
anew. The connection lifecycle (states, attempts, backoff with jitter, the typed health, log
lines and events) is `actors.connection.Lifecycle`; this module supplies the protocol mapping:

- liveness is the gateway's own: a heartbeat not ACKed before the next one is due means a
  zombie connection, so the session ends ("no heartbeat ACK within N s") and the next one
  RESUMEs; a connection that sends no HELLO within `hello_timeout` is dropped;
- a close code that retrying cannot fix (4004 bad token, 4010-4014, e.g. disallowed intents)
  needs a person: the lifecycle is `failed` at once and stops connecting (no retry loop
  against a revoked token) until the actor is restarted;
- everything else (refused, DNS, TLS, drops, server closes) reconnects with backoff.

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
from random import Random
from typing import Any

import httpx
import trio
import trio_websocket

from actors import Actor
from actors.connection import (
    ConnectionHealth,
    ConnectionState,
    Connector,
    Lifecycle,
    SessionEnded,
    WebSocketTarget,
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
from actors.discord.restclient import (
    DEFAULT_API_BASE,
    DiscordHttpError,
    DiscordRest,
    RateLimited,
)
from supervisors import Backoff

__all__ = ["DiscordGateway"]

_EPHEMERAL = 64
_CHANNEL_MESSAGE, _DEFERRED = 4, 5
_APPLICATION_COMMAND = 2
_MAX_FRAME = 4 * 1024 * 1024  # READY of a large bot can be big; anything bigger is hostile


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


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
        backoff_jitter: float = 0.2,
        connect_timeout: float = 10.0,
        connector: Connector | None = None,
        enabled: bool = True,
        random: Callable[[], float] = random.random,
        rng: Random | None = None,
        clock: Callable[[], datetime] = _utc_now,
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
        self.connect_timeout = connect_timeout
        self._connector = connector
        self.enabled = enabled
        self._clock = clock
        self.lifecycle = Lifecycle(
            "discord",
            enabled=enabled,
            target=WebSocketTarget.parse(gateway_url).address,
            backoff=Backoff(initial=backoff_initial, maximum=backoff_max, jitter=backoff_jitter),
            # A refused token or intents will not heal: failed at once, no retry loop.
            max_person_failures=1,
            clock=clock,
            rng=rng,
        )
        self._random = random
        self._gw: Gateway | None = None
        # guild id -> {"name": str, "present": bool}
        self.guilds: dict[str, dict[str, Any]] = {
            g: {"name": "", "present": False} for g in guild_ids
        }
        self.notify_channels: dict[str, str] = {}
        self.registered: set[str] = set()
        self.started_at: datetime | None = None
        self.last_heartbeat: datetime | None = None
        self.last_event_at: datetime | None = None
        self.connects = 0
        self.identifies = 0
        self.resumes = 0
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
        self.started_at = self._clock()

    async def on_stop(self) -> None:
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

    # ------------------------------------------------------------------ connection

    async def run(self) -> None:
        await self.lifecycle.run(self._connect_once, log=self.log)

    async def _connect_once(self) -> None:
        """One connection: HELLO, IDENTIFY or RESUME, then serve until it ends (raising)."""
        gw = self._gw
        assert gw is not None
        target = WebSocketTarget.parse(gw.connect_url)
        self.lifecycle.target = target.address
        self.connects += 1
        try:
            async with open_websocket(
                target,
                connector=self._connector,
                connect_timeout=self.connect_timeout,
                close_timeout=2.0,
                max_message_size=_MAX_FRAME,
            ) as ws:
                await self._serve(ws, target)
        except trio_websocket.ConnectionClosed as exc:
            code = exc.reason.code if exc.reason is not None else None
            for out in gw.connection_closed(code, now=trio.current_time()):
                if isinstance(out, Fatal):
                    raise SessionEnded(
                        f"Discord refused the bot: {out.reason} (close code {out.code})",
                        needs_person=True,
                    ) from exc
            raise
        finally:
            if gw.state not in (GatewayState.DISCONNECTED, GatewayState.FATAL):
                # Ended without the machine knowing (network error, cancel): resume if it can.
                gw.connection_closed(None, now=trio.current_time())

    async def _serve(self, ws: trio_websocket.WebSocketConnection, target: WebSocketTarget) -> None:
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
                    raise SessionEnded(
                        f"no HELLO from {target.address} within {self.hello_timeout:g} s"
                    )
                outs = gw.tick(now)
            else:
                self.lifecycle.saw_traffic()
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
                    raise SessionEnded(out.reason, immediate=out.delay <= 0, min_delay=out.delay)
                elif isinstance(out, Fatal):
                    raise SessionEnded(
                        f"Discord refused the bot: {out.reason} (close code {out.code})",
                        needs_person=True,
                    )

    async def _send(self, ws: trio_websocket.WebSocketConnection, out: Send) -> None:
        if out.op == Op.HEARTBEAT:
            self.last_heartbeat = self._clock()
        elif out.op == Op.IDENTIFY:
            self.identifies += 1
        elif out.op == Op.RESUME:
            self.resumes += 1
        await ws.send_message(json.dumps(dict(out.payload), separators=(",", ":")))

    # ------------------------------------------------------------------ dispatches

    def _dispatch(self, event: Dispatch) -> None:
        self.last_event_at = self._clock()
        d = event.d if isinstance(event.d, dict) else {}
        if event.t in ("READY", "RESUMED"):
            assert self._gw is not None
            self.lifecycle.mark_connected(f"gateway session {event.t.lower()}")
        if event.t == "READY":
            app = d.get("application")
            if (
                self.application_id is None
                and isinstance(app, dict)
                and isinstance(app.get("id"), str)
            ):
                self.application_id = app["id"]
            for guild in d.get("guilds") or []:
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

    @property
    def status(self) -> str:
        """running | inactive | error | disabled (the dashboard's words)."""
        return self.health().status

    def health(self) -> ConnectionHealth:
        """The gateway connection's health with this actor's counters."""
        return self.lifecycle.health(
            messages=self.interactions,
            actions=self.answered,
            errors=self.errors + self.bad_frames,
            last_event_at=self.last_event_at,
        )

    def snapshot(self) -> dict[str, Any]:
        """discord/runtime.json fields (see `exports.views.DiscordView`/`GuildView`)."""
        configured = set(self.guild_ids)
        guilds = []
        for guild_id in sorted(self.guilds):
            info = self.guilds[guild_id]
            authorized = not configured or guild_id in configured
            channel = self.notify_channels.get(guild_id)
            guilds.append(
                {
                    "guild_id": guild_id,
                    "guild_name": info.get("name", ""),
                    "bot_present": bool(info.get("present", False)),
                    "authorized_for_user": authorized,
                    "authorization_reason": "admin_override" if authorized else "none",
                    "notifications_enabled": channel is not None,
                    "notifications_channel_id": channel,
                    "commands_registered": guild_id in self.registered,
                }
            )
        gw = self._gw
        health = self.health()
        return {
            "platform": "discord",
            "status": health.status,
            "state": health.state.value,
            "enabled": self.enabled,
            # Truthful for discord/runtime.json: only a connected session is running.
            "running": health.state is ConnectionState.CONNECTED,
            "connected": self.connected and health.state is ConnectionState.CONNECTED,
            "started_at": _iso(self.started_at),
            "last_heartbeat": _iso(self.last_heartbeat),
            "last_event_at": _iso(self.last_event_at),
            "task_count": self.active_tasks,
            "guilds": guilds,
            "gateway_state": gw.state.value if gw is not None else "disconnected",
            "latency_ms": round(gw.latency * 1000, 1) if gw is not None and gw.latency else None,
            "connects": self.connects,
            "identifies": self.identifies,
            "resumes": self.resumes,
            "interactions": self.interactions,
            "answered": self.answered,
            "deferred": self.deferred,
            "refused": self.refused,
            "bad_frames": self.bad_frames,
            "errors": self.errors,
            "error": health.error,
            "last_error": health.last_error,
            "attempts": health.attempts,
            "next_retry_at": _iso(health.next_retry_at),
        }
