"""The notification path: monitor -> outbox (same transaction) -> dispatcher -> Discord webhook.

`FakeDiscord` records every webhook POST and deduplicates nothing, so "exactly once" below is
the outbox's doing.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import trio

from actors.connection import ConnectionState
from actors.discord.http_client import DiscordRest
from actors.events import StreamStarted
from actors.notify import NotificationDispatcher, NotifyRule, job_view
from actors.notify.dispatcher import NotificationDispatcherStatistics
from actors.notify.rules import dedupe_key, render_payload
from actors.store import Read, StateStore
from actors.watch import LiveMonitor
from state import outbox
from state.timeutil import to_datetime
from supervisors import Backoff, ChildSpec, Supervisor
from tests.fakes.discord import FakeDiscord

AT = datetime(2026, 11, 21, 20, 0, tzinfo=UTC)
AT_MS = int(AT.timestamp() * 1000)


def live(channel: str = "daniel") -> StreamStarted:
    return StreamStarted(
        platform="twitch",
        channel=channel,
        message_id="m1" if channel == "daniel" else f"m1-{channel}",  # ids are unique
        sent_at=AT,
        raw_type="stream.online",
        title="Speedruns",
        game="Celeste",
    )


async def until(predicate: Any) -> None:
    with trio.fail_after(15):
        while not predicate():  # noqa: ASYNC110 - actor state has no event to wait on
            await trio.sleep(0.01)


async def tree(
    nursery: trio.Nursery, tmp_path: Path, rules: list[NotifyRule], **kwargs: Any
) -> tuple[Supervisor, list[NotificationDispatcher]]:
    made: list[NotificationDispatcher] = []

    def dispatcher() -> NotificationDispatcher:
        made.append(NotificationDispatcher(store=lambda: sup.ref("store"), rules=rules, **kwargs))
        return made[-1]

    sup = Supervisor(
        "root",
        [
            ChildSpec("store", lambda: StateStore(tmp_path / "state.sqlite3")),
            ChildSpec("notify", dispatcher),
            ChildSpec(
                "watch",
                lambda: LiveMonitor(
                    store=lambda: sup.ref("store"),
                    notifier=lambda: sup.ref("notify"),
                    rules=rules,
                ),
            ),
        ],
        backoff=Backoff(initial=0),
    )
    await nursery.start(sup.run)
    return sup, made


async def entries(sup: Supervisor) -> list[outbox.OutboxEntry]:
    return await sup.ref("store").call(Read(fn=outbox.list_outbox))


async def test_crash_between_insert_and_send_delivers_exactly_once(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    fake: FakeDiscord = await nursery.start(FakeDiscord().serve)
    rule = NotifyRule(id="live", webhook_url=fake.webhook_url(), embed=True)
    crashed: list[int] = []

    def crash_once(step: str, entry: outbox.OutboxEntry) -> None:
        if step == "claimed" and not crashed:
            crashed.append(entry.id)
            raise RuntimeError("killed between the outbox insert and the send")

    sup, made = await tree(nursery, tmp_path, [rule], on_step=crash_once)
    assert await sup.ref("watch").call(live()) is True
    # Twitch redelivers and the poll sees the same stream: still one notification.
    assert await sup.ref("watch").call(live()) is False
    await until(lambda: len(made) == 2 and made[-1].delivered == 1)
    # Another stream goes live: the dispatcher delivering it has looked at the outbox again,
    # where a (wrong) second POST of the first notification would have come from.
    assert await sup.ref("watch").call(live("other")) is True
    await until(lambda: made[-1].delivered == 2)
    posts = [p for p in fake.calls("POST", "/webhooks/") if "daniel" in p.body["content"]]
    assert len(posts) == 1 and crashed
    assert posts[0].query == {"wait": "true"}
    assert (
        posts[0].body["content"]
        == "daniel is live on twitch: Speedruns https://www.twitch.tv/daniel"
    )
    assert posts[0].body["allowed_mentions"] == {"parse": []}
    assert posts[0].body["embeds"][0]["fields"][0]["value"] == "Celeste"
    entry, _other = sorted(await entries(sup), key=lambda e: e.id)
    assert entry.state == "delivered" and entry.attempts == 1
    assert entry.dedupe_key == f"twitch:daniel:{AT_MS}:live"
    assert job_view(entry).status == "completed"
    await sup.stop()


async def test_crash_after_enqueue_before_any_claim(nursery: trio.Nursery, tmp_path: Path) -> None:
    fake: FakeDiscord = await nursery.start(FakeDiscord().serve)
    rule = NotifyRule(id="live", webhook_url=fake.webhook_url())
    sup, made = await tree(nursery, tmp_path, [rule])
    await until(lambda: len(made) == 1)
    await sup.terminate_child("notify")  # the dispatcher is down when the stream goes live
    assert await sup.ref("watch").call(live()) is True
    assert fake.calls("POST") == []

    def again() -> NotificationDispatcher:
        made.append(NotificationDispatcher(store=lambda: sup.ref("store"), rules=[rule]))
        return made[-1]

    await sup.start_child(ChildSpec("notify", again))
    await until(lambda: len(made) == 2 and made[-1].delivered == 1)
    assert len(fake.calls("POST", "/webhooks/")) == 1
    await sup.stop()


async def test_429_is_waited_out(nursery: trio.Nursery, tmp_path: Path) -> None:
    fake: FakeDiscord = await nursery.start(FakeDiscord().serve)
    fake.fail_next("/webhooks/", retry_after=0.2)
    rule = NotifyRule(id="live", webhook_url=fake.webhook_url())
    sup, made = await tree(nursery, tmp_path, [rule])
    await sup.ref("watch").call(live())
    await until(lambda: made[-1].delivered == 1)
    first, second = fake.calls("POST", "/webhooks/")
    assert first.status == 429 and second.status == 200
    health = made[-1].health()  # a rate limit waited out is no failure
    assert (health.state.value, health.connect_failures, health.idle) == ("connected", 0, False)
    assert second.at - first.at >= 0.2  # retry_after from the body, not the header's 1 s
    [entry] = await entries(sup)
    assert entry.state == "delivered" and entry.attempts == 1
    await sup.stop()


async def test_dead_letter_after_n_attempts_with_the_reason(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    fake: FakeDiscord = await nursery.start(FakeDiscord().serve)
    fake.fail_next("/webhooks/", status=500, count=100)
    rule = NotifyRule(id="live", webhook_url=fake.webhook_url())
    sup, made = await tree(nursery, tmp_path, [rule], max_attempts=3, initial_backoff_ms=20)
    await sup.ref("watch").call(live())
    await until(lambda: made[-1].dead == 1)
    assert len(fake.calls("POST", "/webhooks/")) == 3
    [entry] = await entries(sup)
    assert entry.state == "dead" and entry.attempts == 3
    assert entry.last_error == "gave up after 3 attempts: HTTP 500 fake failure"
    view = job_view(entry)
    assert view.status == "failed" and view.reason == entry.last_error
    assert "wh-secret" not in repr(made[-1].snapshot())
    await sup.stop()


async def test_a_deleted_webhook_is_dead_at_once(nursery: trio.Nursery, tmp_path: Path) -> None:
    fake: FakeDiscord = await nursery.start(FakeDiscord().serve)
    fake.fail_next("/webhooks/", status=404)
    rule = NotifyRule(id="live", webhook_url=fake.webhook_url())
    sup, made = await tree(nursery, tmp_path, [rule], max_attempts=5)
    await sup.ref("watch").call(live())
    await until(lambda: made[-1].dead == 1)
    [entry] = await entries(sup)
    assert entry.attempts == 1 and entry.last_error == "HTTP 404 fake failure"
    # A dead-lettered notification needs a person: the dispatcher's health says so.
    health = made[-1].health()
    assert (health.state.value, health.error) == ("failed", "HTTP 404 from 127.0.0.1: fake failure")
    await sup.stop()


def test_snapshot_is_typed_and_frozen() -> None:
    dispatcher = NotificationDispatcher(
        store=lambda: pytest.fail("the snapshot reads no store"), rules=[]
    )
    dispatcher.delivered, dispatcher.last_delivery_at = 2, AT_MS
    snap = dispatcher.snapshot()
    assert type(snap) is NotificationDispatcherStatistics
    assert (snap.delivered, snap.retried, snap.dead, snap.rate_limited) == (2, 0, 0, 0)
    assert (snap.recovered, snap.last_error) == (0, None)
    assert snap.last_delivery_at == to_datetime(AT_MS)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        snap.delivered = 3  # type: ignore[misc]


def test_rule_matching_and_rendering() -> None:
    rule = NotifyRule(
        id="r",
        platform="twitch",
        channels=frozenset({"daniel"}),
        webhook_url="x",
        template="{channel}: {title} ({viewers})",
    )
    event = live()
    assert rule.matches(event) and not rule.matches(live("other"))
    assert render_payload(rule, event, AT_MS)["content"] == "daniel: Speedruns ()"
    assert dedupe_key(rule, event, AT_MS) == f"twitch:daniel:{AT_MS}:r"
    assert "x" not in rule.destination.replace("webhook:", "")


# --- health on the shared lifecycle: refused, DNS, HTTP 401/5xx, silent server ---------------


async def failing_delivery(
    nursery: trio.Nursery, tmp_path: Path, webhook_url: str, **kwargs: Any
) -> tuple[Supervisor, NotificationDispatcher]:
    rule = NotifyRule(id="live", webhook_url=webhook_url)
    sup, made = await tree(
        nursery, tmp_path, [rule], initial_backoff_ms=20, max_backoff_ms=100, **kwargs
    )
    assert not made[-1].health().failing  # nothing failed yet
    await sup.ref("watch").call(live())
    return sup, made[-1]


async def test_refused_webhook_host_reads_reconnecting(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    url = "http://127.0.0.1:9/api/webhooks/1/wh-secret"
    sup, dispatcher = await failing_delivery(nursery, tmp_path, url)
    await until(lambda: dispatcher.health().disconnects >= 1)
    health = dispatcher.health()
    assert health.state is ConnectionState.RECONNECTING
    assert health.last_error == "connection refused by 127.0.0.1"
    assert dispatcher.health().status == "error"
    assert "wh-secret" not in repr(dispatcher.snapshot()) + repr(health)
    await sup.stop()


async def test_dns_failure_names_discord(nursery: trio.Nursery, tmp_path: Path) -> None:
    def no_dns(request: httpx.Request) -> httpx.Response:
        try:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        except socket.gaierror as exc:
            raise httpx.ConnectError("name resolution", request=request) from exc

    rest = DiscordRest(transport=httpx.MockTransport(no_dns))
    url = "https://discord.com/api/webhooks/1/wh-secret"
    sup, dispatcher = await failing_delivery(nursery, tmp_path, url, rest=rest)
    await until(lambda: dispatcher.health().disconnects >= 1)
    assert dispatcher.health().last_error == "DNS lookup failed for discord.com"
    await sup.stop()


async def test_5xx_reads_reconnecting_then_connected_once_delivered(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    fake: FakeDiscord = await nursery.start(FakeDiscord().serve)
    fake.fail_next("/webhooks/", status=502, count=2)
    sup, dispatcher = await failing_delivery(nursery, tmp_path, fake.webhook_url())
    await until(lambda: dispatcher.health().disconnects >= 1)
    assert dispatcher.health().last_error == "HTTP 502 from 127.0.0.1: fake failure"
    await until(lambda: dispatcher.delivered == 1)
    health = dispatcher.health()
    assert health.state is ConnectionState.CONNECTED and health.error is None
    await sup.stop()


async def test_refused_bot_token_needs_a_person(nursery: trio.Nursery, tmp_path: Path) -> None:
    fake: FakeDiscord = await nursery.start(FakeDiscord().serve)
    fake.fail_next("/channels/", status=401, count=100)
    rule = NotifyRule(id="live", channel_id="123456789012345678")
    bot = DiscordRest(token="bot-token", base_url=fake.api_base)
    sup, made = await tree(nursery, tmp_path, [rule], bot_rest=bot, initial_backoff_ms=20)
    await sup.ref("watch").call(live())
    await until(lambda: made[-1].health().state is ConnectionState.FAILED)
    assert made[-1].health().error == "HTTP 401 from 127.0.0.1: fake failure"
    [entry] = await entries(sup)
    assert entry.state == "dead"  # refused for good: not retried in a loop
    await sup.stop()


async def test_silent_discord_is_a_timeout(nursery: trio.Nursery, tmp_path: Path) -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    held: list[trio.SocketStream] = []

    async def hold() -> None:
        while True:  # accept and never answer
            held.append(await listeners[0].accept())

    nursery.start_soon(hold)
    url = f"http://127.0.0.1:{port}/api/webhooks/1/wh-secret"
    sup, dispatcher = await failing_delivery(nursery, tmp_path, url, rest=DiscordRest(timeout=0.2))
    await until(lambda: dispatcher.health().disconnects >= 1)
    health = dispatcher.health()
    assert health.state is ConnectionState.RECONNECTING
    assert health.last_error == "no answer from 127.0.0.1 in time (read)"
    await sup.stop()
