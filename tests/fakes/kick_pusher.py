"""`FakePusher`: a small Pusher-protocol websocket server standing in for Kick's chat (tests).

It speaks what `../shared/docs/platforms.md` sections 6.2 and 8 document, the way soketi does:
`pusher:connection_established` (data a JSON string with `socket_id` and `activity_timeout`),
`pusher_internal:subscription_succeeded` without a `data` field, `pusher:pong` with an object,
`pusher:error` `{code, message}` then a close with the same code for an unknown app key.

Test controls: `trigger(channel, event, data)` (to every subscribed connection, data sent as a
JSON string like Kick), `send_raw(text)`, `error_and_close(code, message)`, `close_all(code)`,
and flags `answer_pings` (False: a silent server) and `handshake` (False: never sends
connection_established). Every frame a client sends is recorded in `received` with its trio
time and connection number; `wait_for(event, count)` waits for them.

Run it with `fake = await nursery.start(FakePusher(app_key="key").serve)`; `fake.url` is the
`ws://127.0.0.1:<port>/app/<key>?protocol=7...` to connect to (`url_for(key)` for another key).
"""

from __future__ import annotations

import json
from typing import Any

import attrs
import trio
import trio_websocket


@attrs.frozen(kw_only=True)
class Frame:
    """One frame a client sent: when (trio time), on which connection (1-based), what."""

    at: float
    connection: int
    event: str | None
    data: Any
    text: str


class _Client:
    def __init__(self, number: int, ws: trio_websocket.WebSocketConnection) -> None:
        self.number = number
        self.ws = ws
        self.channels: set[str] = set()


class FakePusher:
    """A fake Pusher websocket server on 127.0.0.1 (see the module docs)."""

    def __init__(self, *, app_key: str = "app-key", activity_timeout: int = 120) -> None:
        self.app_key = app_key
        self.activity_timeout = activity_timeout
        self.answer_pings = True
        self.handshake = True
        self.port = 0
        self.connections = 0
        self.received: list[Frame] = []
        self._clients: dict[int, _Client] = {}
        self._changed = trio.Event()

    @property
    def url(self) -> str:
        """The websocket URL for the configured app key."""
        return self.url_for(self.app_key)

    def url_for(self, key: str) -> str:
        """The websocket URL for `key` (an unknown key gets `pusher:error` 4001)."""
        return (
            f"ws://127.0.0.1:{self.port}/app/{key}?protocol=7&client=js&version=8.4.0&flash=false"
        )

    async def serve(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Listen on an ephemeral port until cancelled."""
        async with trio.open_nursery() as nursery:
            server = await nursery.start(
                trio_websocket.serve_websocket, self._handler, "127.0.0.1", 0, None
            )
            self.port = server.port
            task_status.started(self)

    # ------------------------------------------------------------------ controls

    async def trigger(self, channel: str, event: str, data: Any) -> int:
        """Broadcast an application event; returns how many connections got it."""
        text = json.dumps(
            {
                "event": event,
                "channel": channel,
                "data": data if isinstance(data, str) else json.dumps(data),
            }
        )
        count = 0
        for client in list(self._clients.values()):
            if channel in client.channels:
                await self._send(client, text)
                count += 1
        return count

    async def send_raw(self, text: str) -> None:
        """Send `text` as is to every open connection."""
        for client in list(self._clients.values()):
            await self._send(client, text)

    async def error_and_close(self, code: int, message: str = "error") -> None:
        """`pusher:error` with `code`, then a close with the same code, on every connection."""
        await self.send_raw(
            json.dumps({"event": "pusher:error", "data": {"code": code, "message": message}})
        )
        await self.close_all(code, message)

    async def close_all(self, code: int = 1000, reason: str | None = None) -> None:
        """Close every open connection with `code`."""
        for client in list(self._clients.values()):
            try:
                await client.ws.aclose(code, reason)
            except trio_websocket.ConnectionClosed:
                pass

    def subscribed(self, channel: str) -> int:
        """How many open connections are subscribed to `channel`."""
        return sum(channel in c.channels for c in self._clients.values())

    def frames(self, event: str) -> list[Frame]:
        """Every recorded client frame with this event name."""
        return [f for f in self.received if f.event == event]

    async def wait_for(self, event: str, count: int = 1) -> list[Frame]:
        """Wait until `count` client frames named `event` were received."""
        while len(self.frames(event)) < count:
            await self._wait_change()
        return self.frames(event)

    async def wait_subscribed(self, channel: str, count: int = 1) -> None:
        """Wait until `count` open connections are subscribed to `channel`."""
        while self.subscribed(channel) < count:
            await self._wait_change()

    # ------------------------------------------------------------------ server side

    async def _wait_change(self) -> None:
        event = self._changed
        await event.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def _send(self, client: _Client, text: str) -> None:
        try:
            await client.ws.send_message(text)
        except trio_websocket.ConnectionClosed:
            pass

    async def _handler(self, request: trio_websocket.WebSocketRequest) -> None:
        path = request.path.split("?", 1)[0]
        ws = await request.accept()
        self.connections += 1
        client = _Client(self.connections, ws)
        key = path.rsplit("/", 1)[-1]
        try:
            if key != self.app_key:
                data = {"code": 4001, "message": f"App key {key} does not exist."}
                await ws.send_message(json.dumps({"event": "pusher:error", "data": data}))
                await ws.aclose(4001, "unknown app key")
                return
            self._clients[client.number] = client
            self._notify()
            if self.handshake:
                info = {
                    "socket_id": f"{client.number}.{client.number * 7}",
                    "activity_timeout": self.activity_timeout,
                }
                await ws.send_message(
                    json.dumps({"event": "pusher:connection_established", "data": json.dumps(info)})
                )
            while True:
                text = await ws.get_message()
                await self._on_frame(client, text)
        except trio_websocket.ConnectionClosed:
            pass
        finally:
            self._clients.pop(client.number, None)
            self._notify()

    async def _on_frame(self, client: _Client, text: str | bytes) -> None:
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        try:
            frame = json.loads(text)
        except ValueError:
            frame = {}
        event = frame.get("event") if isinstance(frame, dict) else None
        data = frame.get("data") if isinstance(frame, dict) else None
        self.received.append(
            Frame(
                at=trio.current_time(), connection=client.number, event=event, data=data, text=text
            )
        )
        if event == "pusher:subscribe" and isinstance(data, dict):
            channel = data.get("channel")
            if isinstance(channel, str):
                client.channels.add(channel)
                await self._send(
                    client,
                    json.dumps(
                        {"event": "pusher_internal:subscription_succeeded", "channel": channel}
                    ),
                )
        elif event == "pusher:ping" and self.answer_pings:
            await self._send(client, json.dumps({"event": "pusher:pong", "data": {}}))
        self._notify()
