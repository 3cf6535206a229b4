"""`TwitchEvents` against the local fakes: `FakeEventSub` (WebSocket) and `FakeHelix`, with a real
`StateStore` and `TriggerEngine`. Real sockets and a worker-thread store: the real clock, with
every wait bounded and driven by events the test observes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import apsw
import attrs
import pytest
import trio

from actors import Actor
from actors.accounts.source import AccessToken
from actors.chat import SendChat
from actors.connection import ConnectionState
from actors.publisher import telemetry_rows
from actors.store import Read, StateStore
from actors.triggers.engine import SIGNAL_FLUSH_SECONDS, TriggerEngine
from actors.twitch.events_actor import TwitchEvents
from actors.twitch.statistics import EventSubStatistics
from actors.watch import LiveMonitor, LiveMonitorStatistics
from config.models import (
    CreatorConfig,
    TallyConfig,
    TriggerConfig,
    TwitchConfig,
    TwitchRewardConfig,
)
from state import counters
from supervisors import Backoff, ChildSpec, Supervisor
from tests.fakes.eventsub_ws import FakeEventSub
from tests.fakes.helix import FakeHelix

CORPUS = Path(__file__).resolve().parents[3] / "conformance" / "data" / "eventsub.jsonl"
BROADCASTER = {
    "broadcaster_user_id": "1337",
    "broadcaster_user_login": "daniel",
    "broadcaster_user_name": "Daniel",
}
HYDRATE = TwitchRewardConfig(id="hydrate", title="Hydrate!", cost=500, prompt="Make me drink water")
TRIGGERS = (
    TriggerConfig(
        id="hydrate",
        kind="event",
        event="redemption",
        reward="hydrate",
        action="tally_increment",
        tally="water",
        response="{user} says drink! ({count} today)",
        redemption="fulfil",
    ),
    TriggerConfig(
        id="cheer", kind="event", event="cheer", min_bits=100, response="{user} cheered {bits}"
    ),
    TriggerConfig(
        id="raid",
        kind="event",
        event="raid",
        min_viewers=5,
        response="raid by {user} with {viewers}",
    ),
    TriggerConfig(id="follow", kind="event", event="follow", response="thanks {user}"),
    TriggerConfig(id="live", kind="event", event="online", response="we are live"),
)


def creator(
    *, rewards: tuple[TwitchRewardConfig, ...] = (HYDRATE,), triggers=TRIGGERS
) -> CreatorConfig:
    return CreatorConfig(
        id="daniel",
        twitch=TwitchConfig(channel="daniel", events=("offline",), rewards=rewards),
        tallies=(TallyConfig(id="water", label="Water"),),
        triggers=triggers,
    )


def corpus_event(sub_type: str) -> dict[str, Any]:
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        body = json.loads(json.loads(line)["raw"])
        if (body.get("subscription") or {}).get("type") == sub_type and "event" in body:
            return body["event"]
    raise LookupError(sub_type)


class Tokens:
    """A token source with one fixed token (the accounts' StaticTokenSource shape)."""

    def __init__(self, value: str, user_id: str, login: str) -> None:
        self._token = AccessToken(
            account_id=login,
            value=value,
            user_id=user_id,
            login=login,
            scopes=frozenset(),
            expires_at=None,
        )
        self.unauthorized_reports = 0

    async def token(self) -> AccessToken:
        return self._token

    async def unauthorized(self, token: AccessToken) -> None:
        self.unauthorized_reports += 1


class Platform(Actor):
    """Records the replies (`SendChat`) the engine sends; `"get"` answers their texts."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def handle(self, message: Any) -> Any:
        if message == "get":
            return list(self.texts)
        assert isinstance(message, SendChat)
        self.texts.append(message.text)
        return None


@attrs.define
class Harness:
    root: Supervisor
    eventsub: FakeEventSub
    helix: FakeHelix

    def events_actor(self) -> TwitchEvents:
        return self.root.lookup("twitch-events")._actor()  # type: ignore[attr-defined]

    def stats(self, name: str = "twitch-events") -> EventSubStatistics:
        """The EventSub actor's typed statistics (its tree row's `detail`)."""
        detail = {r.path: r for r in self.root.tree()}[f"root/{name}"].detail
        assert isinstance(detail, EventSubStatistics), detail
        return detail

    def watch(self) -> LiveMonitorStatistics:
        """The live monitor's typed statistics (its tree row's `detail`)."""
        detail = {r.path: r for r in self.root.tree()}["root/watch"].detail
        assert isinstance(detail, LiveMonitorStatistics), detail
        return detail

    def health(self, name: str = "twitch-events") -> Any:
        """The actor's typed `ConnectionHealth` (the tree row's `health`)."""
        return {r.path: r for r in self.root.tree()}[f"root/{name}"].health

    async def replies(self) -> list[str]:
        return await self.root.lookup("twitch").call("get")

    async def read(self, fn: Callable[[apsw.Connection], Any]) -> Any:
        return await self.root.lookup("store").call(Read(fn=fn), timeout=10)


async def wait_for(predicate: Callable[[], Any], *, within: float = 10.0) -> None:
    """Wait until `predicate()` is true (polls: the fakes and actors run beside the test)."""
    with trio.fail_after(within):
        while not predicate():  # noqa: ASYNC110 - test polling of another task's state
            await trio.sleep(0.01)


async def wait_replies(h: Harness, count: int) -> list[str]:
    with trio.fail_after(10):
        while True:
            texts = await h.replies()
            if len(texts) >= count:
                return texts
            await trio.sleep(0.01)


def start_harness(
    nursery: trio.Nursery,
    tmp_path: Path,
    *,
    config: CreatorConfig | None = None,
    role: str = "events",
    eventsub: FakeEventSub | None = None,
    helix: FakeHelix | None = None,
    limit_retry_seconds: float = 30.0,
    monitor: bool = False,
    actor: dict[str, Any] | None = None,
) -> Any:
    async def start() -> Harness:
        es = eventsub or await nursery.start(FakeEventSub().serve)
        hx = helix or await nursery.start(FakeHelix().serve)
        hx.eventsub = es
        hx.add_user("daniel", "1337", "broadcaster-token")
        hx.add_user("danielbot", "4242", "bot-token")
        cfg = config or creator()
        root: Supervisor
        tokens = (
            Tokens("broadcaster-token", "1337", "daniel")
            if role == "events"
            else Tokens("bot-token", "4242", "danielbot")
        )
        children = [
            ChildSpec("store", lambda: StateStore(tmp_path / "runtime.sqlite3")),
            ChildSpec("twitch" if role == "events" else "replies", Platform),
            ChildSpec(
                "triggers",
                lambda: TriggerEngine(
                    cfg,
                    store=lambda: root.lookup("store"),
                    platform=lambda name: root.lookup(name if role == "events" else "twitch"),
                    pseudonym_key=b"k" * 32,
                ),
            ),
            *(
                [ChildSpec("watch", lambda: LiveMonitor(store=lambda: root.lookup("store")))]
                if monitor
                else []
            ),
            ChildSpec(
                "twitch-events" if role == "events" else "twitch",
                lambda: TwitchEvents(
                    creator=cfg,
                    role=role,
                    client_id=hx.client_id,
                    tokens=tokens,
                    triggers=lambda: root.lookup("triggers"),
                    store=lambda: root.lookup("store"),
                    url=es.url,
                    helix_base=hx.helix_base,
                    backoff=Backoff(initial=0.05, maximum=0.2, jitter=0),
                    limit_retry_seconds=limit_retry_seconds,
                    monitor=(lambda: root.lookup("watch")) if monitor else None,
                    **(actor or {}),
                ),
            ),
        ]
        root = Supervisor("root", children, backoff=Backoff(initial=0))
        await nursery.start(root.run)
        return Harness(root=root, eventsub=es, helix=hx)

    return start()


@pytest.fixture
async def h(nursery: trio.Nursery, tmp_path: Path) -> AsyncIterator[Harness]:
    harness = await start_harness(nursery, tmp_path)
    await wait_for(lambda: harness.stats().state is ConnectionState.CONNECTED)
    yield harness
    await harness.root.stop()


def our_reward(h: Harness) -> str:
    (reward_id,) = [rid for rid, r in h.helix.rewards.items() if r["title"] == "Hydrate!"]
    return reward_id


async def water(h: Harness) -> int:
    tally = await h.read(lambda conn: counters.get_tally(conn, "daniel", "water"))
    return tally.count if tally else 0


# ------------------------------------------------------------------ the happy paths


async def test_it_subscribes_to_its_events_and_those_its_triggers_use(h: Harness):
    types = sorted(s.type for s in h.eventsub.enabled())
    assert types == sorted(
        [
            "channel.channel_points_custom_reward_redemption.add",
            "channel.cheer",
            "channel.raid",
            "channel.follow",
            "stream.online",
            "stream.offline",
        ]
    )
    assert h.stats().subscriptions["channel.follow"] == "created"


async def test_a_redemption_fires_its_trigger_and_is_fulfilled(h: Harness):
    event = h.helix.redeem(our_reward(h), user_id="9001", login="viewer", user_input="now!")
    await h.eventsub.notify("channel.channel_points_custom_reward_redemption.add", event)
    assert await wait_replies(h, 1) == ["Viewer says drink! (1 today)"]
    await wait_for(lambda: h.helix.redemptions[event["id"]]["status"] == "FULFILLED")
    assert await water(h) == 1
    assert h.stats().redemptions == {"fulfilled": 1}


async def test_a_redemption_held_by_a_user_cooldown_is_refunded_and_not_answered(
    nursery: trio.Nursery, tmp_path: Path
):
    hydrate = attrs.evolve(TRIGGERS[0], cooldown_user=600)
    h = await start_harness(nursery, tmp_path, config=creator(triggers=(hydrate,)))
    await wait_for(lambda: h.stats().state is ConnectionState.CONNECTED)
    first = h.helix.redeem(our_reward(h), user_id="9001", login="viewer")
    again = h.helix.redeem(our_reward(h), user_id="9001", login="viewer")
    other = h.helix.redeem(our_reward(h), user_id="9002", login="other")
    for event in (first, again, other):
        await h.eventsub.notify("channel.channel_points_custom_reward_redemption.add", event)
    await wait_for(lambda: h.stats().messages == 3)
    assert await wait_replies(h, 2) == [
        "Viewer says drink! (1 today)",
        "Other says drink! (2 today)",
    ]
    statuses = [h.helix.redemptions[e["id"]]["status"] for e in (first, again, other)]
    assert statuses == ["FULFILLED", "CANCELED", "FULFILLED"]
    assert h.stats().redemptions == {"fulfilled": 2, "refunded": 1}
    assert await water(h) == 2
    await h.root.stop()


async def test_a_cheer_a_raid_and_a_follow_each_fire_once_and_show_in_the_exports(h: Harness):
    viewer = {"user_id": "77", "user_login": "fan", "user_name": "Fan"}
    await h.eventsub.notify(
        "channel.cheer", {**BROADCASTER, **viewer, "is_anonymous": False, "bits": 50}
    )
    await h.eventsub.notify(
        "channel.cheer", {**BROADCASTER, **viewer, "is_anonymous": False, "bits": 150}
    )
    await h.eventsub.notify("channel.raid", corpus_event("channel.raid"))
    await h.eventsub.notify("channel.follow", corpus_event("channel.follow"))
    texts = await wait_replies(h, 3)
    await wait_for(lambda: h.stats().messages == 4)
    assert sorted(await h.replies()) == sorted(
        ["Fan cheered 150", "raid by Cool_User with 9001", "thanks Cool_User"]
    )
    assert len(texts) == 3

    def signals(conn: apsw.Connection) -> list[str]:
        return [r[0] for r in conn.execute("SELECT type FROM signals WHERE kind = 'chat'")]

    with trio.fail_after(SIGNAL_FLUSH_SECONDS + 5):  # the engine flushes within that
        while len(await h.read(signals)) < 4:  # noqa: ASYNC110 - polling the database
            await trio.sleep(0.05)
    assert sorted(await h.read(signals)) == ["cheer", "cheer", "follow", "raid"]
    # telemetry/events.json is built from these rows
    telemetry = [e for e in telemetry_rows(h.root.tree()) if e.source.startswith("twitch-events")]
    assert any(e.message.startswith("raid: fired 1") for e in telemetry)
    assert any(e.message.startswith("follow: fired 1") for e in telemetry)


async def test_a_handover_mid_burst_of_100_applies_each_exactly_once(h: Harness):
    sent = []
    for i in range(100):
        if i == 50:
            await h.eventsub.reconnect()
        event = {**BROADCASTER, "user_id": str(i), "user_login": f"u{i}", "user_name": f"U{i}"}
        event["followed_at"] = "2026-12-06T07:00:00Z"
        sent.append((await h.eventsub.notify("channel.follow", event), event))
    await wait_for(lambda: h.stats().handovers == 1)
    # Twitch delivers at least once: redeliveries (same id, same event) are dropped.
    for message_id, event in sent[45:55]:
        await h.eventsub.notify("channel.follow", event, message_id=message_id)
    await wait_for(lambda: h.stats().duplicates >= 10)
    texts = await wait_replies(h, 100)
    assert sorted(texts) == sorted(f"thanks U{i}" for i in range(100))
    await wait_for(lambda: h.stats().messages == 100)
    assert h.stats().connections == 2
    assert 4004 not in h.eventsub.close_codes  # the client closed the old socket itself
    await wait_for(lambda: len(h.eventsub.active_sessions()) == 1)
    assert len(h.eventsub.enabled()) == 6  # subscriptions carried over, none made again


async def test_a_gap_is_reconciled_from_helix(h: Harness):
    h.helix.page_size = 2  # three redemptions: two pages
    await h.eventsub.notify("stream.offline", BROADCASTER)
    await wait_for(lambda: h.stats().messages == 1)
    await h.eventsub.close(4006, "network error")
    missed = [
        h.helix.redeem(our_reward(h), user_id=str(n), login=f"late{n}")["id"] for n in range(3)
    ]
    h.helix.go_live("daniel", user_id="1337")
    await wait_for(lambda: h.stats().reconciliations == 1)
    await wait_for(lambda: all(h.helix.redemptions[r]["status"] == "FULFILLED" for r in missed))
    texts = await wait_replies(h, 4)
    assert sorted(texts) == [
        "Late0 says drink! (1 today)",
        "Late1 says drink! (2 today)",
        "Late2 says drink! (3 today)",
        "we are live",
    ]
    assert await water(h) == 3
    stats = h.stats()
    assert stats.reconciled == 4 and stats.close_codes == {"4006": 1}
    assert h.eventsub.connections == 2


async def test_the_live_monitor_leaves_the_channel_to_eventsub_until_a_revocation(
    nursery: trio.Nursery, tmp_path: Path
):
    h = await start_harness(nursery, tmp_path, monitor=True)
    await wait_for(lambda: h.stats().state is ConnectionState.CONNECTED)
    await wait_for(lambda: h.watch().eventsub.channels == ("daniel",))
    assert h.stats().live_monitor == "eventsub"
    await h.eventsub.notify(
        "stream.online",
        {**BROADCASTER, "id": "s1", "type": "live", "started_at": "2026-12-06T08:00:00Z"},
    )
    await wait_for(lambda: h.watch().started == 1)
    await h.eventsub.revoke("stream.online", "authorization_revoked")
    await wait_for(lambda: h.watch().eventsub.channels == ())
    (resumed,) = h.watch().eventsub.resumed
    assert resumed.channel == "daniel" and "revoked stream.online" in resumed.reason
    assert h.stats().live_monitor == "polling"
    await h.root.stop()


async def test_a_failed_eventsub_link_hands_the_channel_back_to_polling(
    nursery: trio.Nursery, tmp_path: Path
):
    h = await start_harness(nursery, tmp_path, monitor=True)
    await wait_for(lambda: h.watch().eventsub.channels == ("daniel",))
    await h.eventsub.close(4006, "network error")
    await wait_for(lambda: h.watch().eventsub.resumed)
    assert "link ended" in h.watch().eventsub.resumed[0].reason
    # Reconnected and subscribed again: EventSub reports the channel again.
    await wait_for(lambda: h.watch().eventsub.channels == ("daniel",))
    await h.root.stop()


# ------------------------------------------------------------------ failures, visible


async def test_keepalive_silence_is_detected_within_timeout_plus_five_seconds(
    nursery: trio.Nursery, tmp_path: Path
):
    eventsub = await nursery.start(FakeEventSub(keepalive_override=1).serve)
    h = await start_harness(nursery, tmp_path, eventsub=eventsub)
    await wait_for(lambda: h.stats().state is ConnectionState.CONNECTED)
    eventsub.silence = True
    silent_from = trio.current_time()
    await wait_for(lambda: h.stats().state is not ConnectionState.CONNECTED, within=1 + 5)
    assert trio.current_time() - silent_from <= 1 + 5
    assert "no EventSub message or keepalive" in h.health().last_error
    eventsub.silence = False
    await wait_for(lambda: h.stats().state is ConnectionState.CONNECTED)
    await h.root.stop()


async def test_close_4003_is_explained_and_the_link_is_rebuilt(h: Harness):
    await h.eventsub.close(4003, "connection unused")
    await wait_for(lambda: h.health().last_error is not None)
    assert "no subscription was created in time" in h.health().last_error
    assert h.stats().close_codes == {"4003": 1}
    await wait_for(
        lambda: h.stats().state is ConnectionState.CONNECTED and h.eventsub.connections == 2
    )
    assert len(h.eventsub.enabled()) == 6


async def test_an_unsubscribed_session_is_closed_4003_by_the_fake(nursery: trio.Nursery):
    eventsub = await nursery.start(FakeEventSub(keepalive_override=1, unused_timeout=0.2).serve)
    import trio_websocket

    async with trio_websocket.open_websocket_url(eventsub.url) as ws:
        await ws.get_message()  # the welcome
        with pytest.raises(trio_websocket.ConnectionClosed) as closed:
            await ws.get_message()
    assert closed.value.reason.code == 4003


async def test_a_revocation_is_visible_in_the_status(h: Harness):
    await h.eventsub.revoke("channel.follow", "authorization_revoked")
    await wait_for(lambda: h.stats().revocations)
    stats = h.stats()
    assert stats.subscriptions["channel.follow"] == "revoked"
    assert "log in again" in stats.subscription_errors["channel.follow"]
    (revocation,) = stats.revocations
    assert revocation.subscription_type == "channel.follow"
    assert revocation.status == "authorization_revoked" and revocation.action == "reauthorize"
    assert "channel.follow" in (stats.detail or "")


async def test_limits_429_end_the_link_and_wait_instead_of_looping(
    nursery: trio.Nursery, tmp_path: Path
):
    eventsub = await nursery.start(FakeEventSub().serve)
    # Three other sockets of this user already hold subscriptions: the transport limit.
    for n in range(3):
        eventsub.subscriptions.append(
            _stale(f"other-{n}", user_id="1337", session_id=f"elsewhere-{n}")
        )
    h = await start_harness(nursery, tmp_path, eventsub=eventsub, limit_retry_seconds=30)
    await wait_for(lambda: h.stats().state is ConnectionState.RECONNECTING)
    assert "limit is reached" in h.health().last_error
    assert h.health().next_retry_at is not None
    subscribe_calls = len(h.helix.calls("/helix/eventsub/subscriptions"))
    assert subscribe_calls == 6  # each once, none retried
    await trio.sleep(0.5)  # a loop would have reconnected many times by now
    assert eventsub.connections == 1
    assert len(h.helix.calls("/helix/eventsub/subscriptions")) == subscribe_calls
    await h.root.stop()


async def test_subscriptions_that_already_exist_409_count_as_subscribed(
    nursery: trio.Nursery, tmp_path: Path
):
    eventsub = await nursery.start(FakeEventSub().serve)
    for sub_type, condition in [("channel.follow", None), ("stream.offline", None)]:
        del condition
        eventsub.subscriptions.append(_stale(sub_type, user_id="1337", session_id="stale"))
    h = await start_harness(nursery, tmp_path, eventsub=eventsub)
    await wait_for(lambda: h.stats().state is ConnectionState.CONNECTED)
    subs = h.stats().subscriptions
    assert subs["channel.follow"] == "exists" and subs["stream.offline"] == "exists"
    assert subs["channel.cheer"] == "created"
    assert eventsub.connections == 1
    await h.root.stop()


def _stale(sub_type: str, *, user_id: str, session_id: str) -> Any:
    from tests.fakes.eventsub_ws import FakeSubscription

    condition = {"broadcaster_user_id": "1337"}
    if sub_type == "channel.follow":
        condition["moderator_user_id"] = "1337"
    return FakeSubscription(
        id=f"stale-{sub_type}",
        type=sub_type,
        version="2" if sub_type == "channel.follow" else "1",
        condition=condition,
        user_id=user_id,
        session_id=session_id,
    )


# ------------------------------------------------------------------ rewards


async def test_a_hand_made_reward_holding_our_title_is_an_error_and_untouched(
    nursery: trio.Nursery, tmp_path: Path
):
    helix = await nursery.start(FakeHelix().serve)
    hand = helix.hand_made_reward("Hydrate!", cost=5)
    h = await start_harness(nursery, tmp_path, helix=helix)
    await wait_for(lambda: h.stats().state is ConnectionState.CONNECTED)
    assert "made by hand" in h.stats().reward_errors[0]
    assert list(helix.rewards) == [hand] and helix.rewards[hand]["cost"] == 5
    await h.root.stop()


async def test_a_trigger_on_a_hand_made_reward_fires_but_never_settles_it(
    nursery: trio.Nursery, tmp_path: Path
):
    helix = await nursery.start(FakeHelix().serve)
    hand = helix.hand_made_reward("Hug", cost=5)
    hug = TriggerConfig(
        id="hug",
        kind="event",
        event="redemption",
        reward="Hug",
        redemption="fulfil",
        response="{user} hugs: {input}",
    )
    h = await start_harness(
        nursery, tmp_path, helix=helix, config=creator(triggers=(*TRIGGERS, hug))
    )
    await wait_for(lambda: h.stats().state is ConnectionState.CONNECTED)
    assert "did not create" in h.stats().reward_warnings[0]
    event = h.helix.redeem(hand, user_id="5", login="kind", user_input="everyone")
    await h.eventsub.notify("channel.channel_points_custom_reward_redemption.add", event)
    assert await wait_replies(h, 1) == ["Kind hugs: everyone"]
    await wait_for(lambda: h.stats().messages == 1)
    assert h.helix.redemptions[event["id"]]["status"] == "UNFULFILLED"
    assert not [c for c in h.helix.requests if c.method == "PATCH" and "redemptions" in c.path]
    await h.root.stop()


async def test_rewards_are_updated_and_ours_that_left_the_config_disabled_across_restarts(
    nursery: trio.Nursery, tmp_path: Path
):
    helix = await nursery.start(FakeHelix().serve)
    eventsub = await nursery.start(FakeEventSub().serve)
    stretch = TwitchRewardConfig(id="stretch", title="Stretch", cost=100)
    first = await start_harness(
        nursery,
        tmp_path,
        helix=helix,
        eventsub=eventsub,
        config=creator(rewards=(HYDRATE, stretch)),
    )
    await wait_for(lambda: first.stats().state is ConnectionState.CONNECTED)
    seen_id = await eventsub.notify("stream.offline", BROADCASTER)
    await wait_for(lambda: first.stats().messages == 1)
    await first.root.stop()
    assert len(helix.rewards) == 2

    cheaper = attrs.evolve(HYDRATE, cost=250)
    second = await start_harness(
        nursery, tmp_path, helix=helix, eventsub=eventsub, config=creator(rewards=(cheaper,))
    )
    await wait_for(lambda: second.stats().state is ConnectionState.CONNECTED)
    by_title = {r["title"]: r for r in helix.rewards.values()}
    assert len(helix.rewards) == 2  # nothing created again, nothing deleted
    assert by_title["Hydrate!"]["cost"] == 250 and by_title["Hydrate!"]["is_enabled"]
    assert by_title["Stretch"]["is_enabled"] is False
    # The restarted actor remembers what it applied: the same message id is dropped.
    await eventsub.notify("stream.offline", BROADCASTER, message_id=seen_id)
    await wait_for(lambda: second.stats().duplicates == 1)
    assert second.stats().messages == 0
    await second.root.stop()


# ------------------------------------------------------------------ chat over EventSub


def chat(message_id: str, text: str, **extra: Any) -> dict[str, Any]:
    """A `channel.chat.message` event in daniel's channel from the viewer Fan."""
    return {
        **BROADCASTER,
        "chatter_user_id": "77",
        "chatter_user_login": "fan",
        "chatter_user_name": "Fan",
        "message_id": message_id,
        "message": {"text": text, "fragments": []},
        "message_type": "text",
        "badges": [],
        "cheer": None,
        "color": "",
        "reply": None,
        **extra,
    }


PING = TriggerConfig(id="ping", pattern="!ping", response="pong {user}")


def chat_config(*triggers: TriggerConfig) -> CreatorConfig:
    return CreatorConfig(
        id="daniel",
        twitch=TwitchConfig(channel="daniel", transport="eventsub"),
        triggers=triggers or (PING,),
    )


async def test_chat_over_eventsub_replies_through_helix_and_counts_drops(
    nursery: trio.Nursery, tmp_path: Path
):
    h = await start_harness(nursery, tmp_path, config=chat_config(), role="chat")
    await wait_for(lambda: h.stats("twitch").state is ConnectionState.CONNECTED)
    (sub,) = h.eventsub.enabled()
    assert sub.type == "channel.chat.message"
    assert sub.condition == {"broadcaster_user_id": "1337", "user_id": "4242"}

    await h.eventsub.notify("channel.chat.message", chat("c1", "!ping"))
    await wait_for(lambda: len(h.helix.chat_messages) == 1)
    sent = h.helix.chat_messages[0]
    assert sent["message"] == "pong Fan" and sent["sender_id"] == "4242"
    assert sent["reply_parent_message_id"] == "c1"
    h.helix.drop_next = {"code": "msg_duplicate", "message": "duplicate message"}
    await h.eventsub.notify("channel.chat.message", chat("c2", "!ping"))
    await wait_for(lambda: h.stats("twitch").dropped == 1)
    assert h.stats("twitch").dropped_reasons == {"msg_duplicate": 1}
    assert h.stats("twitch").sent == 1
    # EventSub echoes the bot's own messages: never fed back to the triggers.
    echo = {**chat("c3", "!ping"), "chatter_user_id": "4242", "chatter_user_login": "danielbot"}
    await h.eventsub.notify("channel.chat.message", echo)
    await wait_for(lambda: h.stats("twitch").own_messages == 1)
    assert len(h.helix.chat_messages) == 2
    await h.root.stop()


async def test_shared_chat_messages_from_another_channel_are_skipped_and_counted(
    nursery: trio.Nursery, tmp_path: Path
):
    h = await start_harness(nursery, tmp_path, config=chat_config(), role="chat")
    await wait_for(lambda: h.stats("twitch").state is ConnectionState.CONNECTED)
    elsewhere = {
        "source_broadcaster_user_id": "5555",
        "source_broadcaster_user_login": "partner",
        "source_broadcaster_user_name": "Partner",
        "source_message_id": "p1",
    }
    await h.eventsub.notify("channel.chat.message", chat("s1", "!ping", **elsewhere))
    await wait_for(lambda: h.stats("twitch").shared_chat_skipped == 1)
    # Our own channel's message in a shared session (source = us) is ours to answer.
    ours = {**elsewhere, "source_broadcaster_user_id": "1337", "source_message_id": "s2"}
    await h.eventsub.notify("channel.chat.message", chat("s2", "!ping", **ours))
    await wait_for(lambda: len(h.helix.chat_messages) == 1)
    assert h.helix.chat_messages[0]["reply_parent_message_id"] == "s2"
    await wait_for(lambda: h.stats("twitch").messages == 1)
    assert h.stats("twitch").shared_chat_skipped == 1
    await h.root.stop()


async def test_helix_chat_sends_queue_boundedly_and_count_what_they_drop(
    nursery: trio.Nursery, tmp_path: Path
):
    # One message per minute: the second waits for the window, the queue holds two.
    limits = {"send_limit": 1, "send_period": 60.0, "send_queue_size": 2}
    h = await start_harness(nursery, tmp_path, config=chat_config(), role="chat", actor=limits)
    await wait_for(lambda: h.stats("twitch").state is ConnectionState.CONNECTED)
    await h.eventsub.notify("channel.chat.message", chat("c1", "!ping"))
    await wait_for(lambda: h.stats("twitch").sent == 1)
    for n in range(2, 6):
        await h.eventsub.notify("channel.chat.message", chat(f"c{n}", "!ping"))
    await wait_for(lambda: h.stats("twitch").dropped == 2)
    stats = h.stats("twitch")
    assert stats.dropped_reasons == {"queue_full": 2} and stats.queued == 2
    assert len(h.helix.chat_messages) == 1  # the window holds the rest
    await h.root.stop()


async def test_helix_chat_sends_keep_twitchs_chat_limit_and_moderators_get_more(
    nursery: trio.Nursery, tmp_path: Path
):
    limits = {"send_limit": 2, "send_limit_privileged": 10, "send_period": 0.5}
    h = await start_harness(nursery, tmp_path, config=chat_config(), role="chat", actor=limits)
    await wait_for(lambda: h.stats("twitch").state is ConnectionState.CONNECTED)
    for n in range(4):
        await h.eventsub.notify("channel.chat.message", chat(f"c{n}", "!ping"))
    await wait_for(lambda: len(h.helix.chat_messages) == 4)
    times = h.helix.chat_times
    assert times[2] - times[0] >= 0.5 - 0.01 and times[3] - times[1] >= 0.5 - 0.01
    assert h.stats("twitch").privileged is False
    # Our own echoed line wears a moderator badge: the higher limit applies from now on.
    mod = [{"set_id": "moderator", "id": "1", "info": ""}]
    echo = {**chat("e1", "pong"), "chatter_user_id": "4242", "chatter_user_login": "danielbot"}
    await h.eventsub.notify("channel.chat.message", {**echo, "badges": mod})
    await wait_for(lambda: h.stats("twitch").privileged)
    start = len(times)
    for n in range(4, 10):
        await h.eventsub.notify("channel.chat.message", chat(f"c{n}", "!ping"))
    await wait_for(lambda: len(h.helix.chat_messages) == 10)
    burst = h.helix.chat_times[start:]
    assert burst[-1] - burst[0] < 0.5  # six within one period: only a moderator may
    await h.root.stop()


async def test_a_429_on_chat_waits_for_ratelimit_reset_and_sends_the_same_reply(
    nursery: trio.Nursery, tmp_path: Path
):
    h = await start_harness(nursery, tmp_path, config=chat_config(), role="chat")
    await wait_for(lambda: h.stats("twitch").state is ConnectionState.CONNECTED)
    h.helix.chat_limited = [1.0]
    asked_at = trio.current_time()
    await h.eventsub.notify("channel.chat.message", chat("c1", "!ping"))
    await wait_for(lambda: len(h.helix.chat_messages) == 1)
    assert h.helix.chat_times[0] - asked_at >= 0.9  # not before the bucket's reset
    assert h.helix.chat_messages[0]["reply_parent_message_id"] == "c1"
    assert h.stats("twitch").rate_limited == 1 and h.stats("twitch").dropped == 0
    # A limit that does not lift: the reply is dropped after a few tries, counted.
    h.helix.chat_limited = [0.0, 0.0, 0.0]
    await h.eventsub.notify("channel.chat.message", chat("c2", "!ping"))
    await wait_for(lambda: h.stats("twitch").dropped == 1)
    assert h.stats("twitch").dropped_reasons == {"rate_limited": 1}
    assert len(h.helix.chat_messages) == 1
    await h.root.stop()


def test_connection_state_values_are_the_lifecycle_states():
    assert {s.value for s in ConnectionState} >= {"connected", "reconnecting", "failed"}
