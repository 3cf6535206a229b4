"""`FakeTwitchIrc`: a local Twitch IRC-over-WebSocket server for tests.

It speaks what `../shared/docs/platforms.md` section 1 documents: CAP ACK, the 001..376 welcome
for a valid PASS or a `justinfan` nick, `NOTICE * :Login authentication failed` (then close)
for a refused token, the JOIN echo followed by ROOMSTATE and USERSTATE, PING/PONG both ways,
USERSTATE after each PRIVMSG, and "drop + NOTICE" for messages over the send rate limit or
identical to the previous one within 30 s.

Test controls: `inject(line)` (to every open connection), `send_reconnect()`, `drop()`
(abrupt close, no close handshake), `stall()` (stop answering and sending, keep the TCP
connection open), `refuse_logins(True)`, `ping_clients()`. Every line a client sends is
recorded in `received` with its trio time; `wait_for(...)` waits for one.

Run it with `fake = await nursery.start(FakeTwitchIrc().serve)`; `fake.url` is then the
`ws://127.0.0.1:<port>` to connect to.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import attrs
import trio
import trio_websocket

from actors.twitch.irc import IrcParseError, parse_irc_line, split_frame

SERVER = "tmi.twitch.tv"


@attrs.frozen(kw_only=True)
class Received:
    """One line a client sent: when (trio time), on which connection (1-based), what."""

    at: float
    connection: int
    line: str

    @property
    def command(self) -> str:
        try:
            return parse_irc_line(self.line).command.upper()
        except IrcParseError:
            return ""


class _Client:
    """Server-side state of one connection."""

    def __init__(self, number: int, ws: trio_websocket.WebSocketConnection) -> None:
        self.number = number
        self.ws = ws
        self.password: str | None = None
        self.nick: str | None = None
        self.caps: list[str] = []
        self.logged_in = False
        self.channels: set[str] = set()
        self.closed = False


class FakeTwitchIrc:
    """A fake `irc-ws.chat.twitch.tv` on 127.0.0.1 (see the module docs)."""

    def __init__(
        self,
        *,
        valid_tokens: set[str] | None = None,
        refused_tokens: set[str] | None = None,
        moderator: bool = False,
        enforce_limits: bool = True,
    ) -> None:
        self.valid_tokens = valid_tokens  # None: any `oauth:` token is accepted
        self.refused_tokens = set(refused_tokens or ())
        self.moderator = moderator
        self.enforce_limits = enforce_limits
        self.received: list[Received] = []
        self.connections = 0
        self.port = 0
        self._clients: list[_Client] = []
        self._refuse = False
        self._stalled = False
        self._changed = trio.Event()
        self._sends: dict[str, deque[float]] = {}
        self._last_text: dict[str, tuple[str, float]] = {}

    # ------------------------------------------------------------------ serving

    async def serve(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Listen on 127.0.0.1:0; reports `self` as started (with `port` set)."""
        async with trio.open_nursery() as nursery:
            server = await nursery.start(
                trio_websocket.serve_websocket,
                self._handler,
                "127.0.0.1",
                0,
                None,  # ssl_context: plain ws://
            )
            self.port = server.port
            task_status.started(self)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def _handler(self, request: trio_websocket.WebSocketRequest) -> None:
        ws = await request.accept()
        self.connections += 1
        client = _Client(self.connections, ws)
        self._clients.append(client)
        self._notify()
        try:
            while not client.closed:
                frame = await ws.get_message()
                text = frame.decode() if isinstance(frame, bytes) else frame
                for line in split_frame(text):
                    self.received.append(
                        Received(at=trio.current_time(), connection=client.number, line=line)
                    )
                    self._notify()
                    if not self._stalled:
                        await self._on_line(client, line)
        except (
            trio_websocket.ConnectionClosed,
            trio.BrokenResourceError,
            trio.ClosedResourceError,
        ):
            pass
        finally:
            client.closed = True
            if client in self._clients:
                self._clients.remove(client)
            self._notify()

    async def _send(self, client: _Client, *lines: str) -> None:
        if self._stalled or client.closed:
            return
        try:
            # Several lines in one frame, as Twitch does: the client must split on CRLF.
            await client.ws.send_message("".join(f"{line}\r\n" for line in lines))
        except (
            trio_websocket.ConnectionClosed,
            trio.BrokenResourceError,
            trio.ClosedResourceError,
        ):
            client.closed = True

    async def _on_line(self, client: _Client, line: str) -> None:
        try:
            msg = parse_irc_line(line)
        except IrcParseError:
            return
        command, params = msg.command.upper(), msg.params
        if command == "CAP" and len(params) >= 2 and params[0] == "REQ":
            client.caps = params[-1].split()
            await self._send(client, f":{SERVER} CAP * ACK :{params[-1]}")
        elif command == "PASS" and params:
            client.password = params[0]
        elif command == "NICK" and params:
            client.nick = params[0]
            await self._login(client)
        elif command == "PING":
            argument = params[-1] if params else SERVER
            await self._send(client, f":{SERVER} PONG {SERVER} :{argument}")
        elif not client.logged_in:
            return
        elif command == "JOIN" and params:
            for channel in params[0].split(","):
                await self._join(client, channel.lstrip("#"))
        elif command == "PART" and params:
            channel = params[0].lstrip("#")
            client.channels.discard(channel)
            nick = client.nick
            await self._send(client, f":{nick}!{nick}@{nick}.tmi.twitch.tv PART #{channel}")
        elif command == "PRIVMSG" and len(params) >= 2:
            await self._privmsg(client, params[0].lstrip("#"), params[-1])

    async def _login(self, client: _Client) -> None:
        nick = client.nick or ""
        anonymous = nick.startswith("justinfan") and nick[9:].isdigit()
        token = (
            client.password[6:]
            if client.password and client.password.startswith("oauth:")
            else None
        )
        if anonymous:
            ok = not self._refuse
        elif token is None:
            await self._send(client, f":{SERVER} NOTICE * :Improperly formatted auth")
            await self._close(client)
            return
        else:
            ok = (
                not self._refuse
                and token not in self.refused_tokens
                and (self.valid_tokens is None or token in self.valid_tokens)
            )
        if not ok:
            await self._send(client, f":{SERVER} NOTICE * :Login authentication failed")
            await self._close(client)
            return
        client.logged_in = True
        welcome = [
            f":{SERVER} 001 {nick} :Welcome, GLHF!",
            f":{SERVER} 002 {nick} :Your host is tmi.twitch.tv",
            f":{SERVER} 003 {nick} :This server is rather new",
            f":{SERVER} 004 {nick} :-",
            f":{SERVER} 375 {nick} :-",
            f":{SERVER} 372 {nick} :You are in a maze of twisty passages, all alike.",
            f":{SERVER} 376 {nick} :>",
        ]
        if "twitch.tv/commands" in client.caps:
            welcome.append(
                f"@badge-info=;badges=;color=;display-name={nick};emote-sets=0;user-id=1;"
                f"user-type= :{SERVER} GLOBALUSERSTATE"
            )
        await self._send(client, *welcome)

    def _userstate(self, client: _Client, channel: str) -> str:
        badges, mod = ("moderator/1", "1") if self.moderator else ("", "0")
        return (
            f"@badge-info=;badges={badges};color=;display-name={client.nick};emote-sets=0;"
            f"mod={mod};subscriber=0;user-type={'mod' if self.moderator else ''} "
            f":{SERVER} USERSTATE #{channel}"
        )

    async def _join(self, client: _Client, channel: str) -> None:
        client.channels.add(channel)
        nick = client.nick
        await self._send(
            client,
            f":{nick}!{nick}@{nick}.tmi.twitch.tv JOIN #{channel}",
            f":{nick}.tmi.twitch.tv 353 {nick} = #{channel} :{nick}",
            f":{nick}.tmi.twitch.tv 366 {nick} #{channel} :End of /NAMES list",
            f"@emote-only=0;followers-only=-1;r9k=0;room-id=1;slow=0;subs-only=0 "
            f":{SERVER} ROOMSTATE #{channel}",
            self._userstate(client, channel),
        )

    async def _privmsg(self, client: _Client, channel: str, text: str) -> None:
        if not self.enforce_limits:
            await self._send(client, self._userstate(client, channel))
            return
        now = trio.current_time()
        key = client.nick or ""
        window = self._sends.setdefault(key, deque())
        while window and window[0] <= now - 30:
            window.popleft()
        limit = 100 if self.moderator else 20
        if len(window) >= limit:
            await self._send(
                client,
                f"@msg-id=msg_ratelimit :{SERVER} NOTICE #{channel} :Your message was not sent "
                "because you are sending messages too quickly.",
            )
            return
        previous = self._last_text.get(key)
        if previous is not None and previous[0] == text and now - previous[1] < 30:
            await self._send(
                client,
                f"@msg-id=msg_duplicate :{SERVER} NOTICE #{channel} :Your message was not sent "
                "because it is identical to the previous one you sent, less than 30 seconds ago.",
            )
            return
        window.append(now)
        self._last_text[key] = (text, now)
        await self._send(client, self._userstate(client, channel))

    async def _close(self, client: _Client) -> None:
        client.closed = True
        with trio.move_on_after(1):
            await client.ws.aclose()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    # ------------------------------------------------------------------ controls

    @property
    def open_connections(self) -> int:
        return len(self._clients)

    async def inject(self, line: str) -> None:
        """Send `line` (without CRLF) to every open, logged-in connection."""
        for client in list(self._clients):
            if client.logged_in:
                await self._send(client, line)

    async def send_reconnect(self) -> None:
        """`:tmi.twitch.tv RECONNECT`: the client should reconnect now."""
        await self.inject(f":{SERVER} RECONNECT")

    async def ping_clients(self, argument: str = SERVER) -> None:
        """A server PING; the client must answer PONG."""
        await self.inject(f"PING :{argument}")

    async def drop(self) -> None:
        """Close every connection abruptly: the TCP stream goes, no WebSocket close frame."""
        for client in list(self._clients):
            client.closed = True
            # trio-websocket has no public "abort"; closing the stream underneath is one.
            await client.ws._stream.aclose()

    def stall(self, stalled: bool = True) -> None:
        """Stop answering and sending (the TCP connection stays open), or resume."""
        self._stalled = stalled

    def refuse_logins(self, refuse: bool = True) -> None:
        """Answer every later login with `NOTICE * :Login authentication failed`."""
        self._refuse = refuse

    # ------------------------------------------------------------------ queries

    def lines(self, command: str | None = None) -> list[Received]:
        """Received lines, optionally only those of one command (e.g. "PRIVMSG")."""
        if command is None:
            return list(self.received)
        return [r for r in self.received if r.command == command.upper()]

    async def wait_for(
        self, predicate: Callable[[FakeTwitchIrc], bool], *, give_up_after: float = 600.0
    ) -> None:
        """Wait until `predicate(self)` holds (re-checked whenever something happens).

        `give_up_after` (trio seconds) turns a test that would hang into a `TooSlowError`.
        """
        with trio.fail_after(give_up_after):
            while not predicate(self):
                await self._changed.wait()

    async def wait_lines(
        self, command: str, count: int = 1, *, give_up_after: float = 600.0
    ) -> list[Received]:
        """Wait until at least `count` lines of `command` were received; return them."""
        await self.wait_for(lambda s: len(s.lines(command)) >= count, give_up_after=give_up_after)
        return self.lines(command)
