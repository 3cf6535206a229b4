"""The sans-IO EventSub WebSocket pieces: session machine, subscriptions, close codes, typed
events from real payloads (../shared/corpus/eventsub.jsonl), rewards planning, event triggers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from actors.events import FollowEvent, GiftEvent, PaidMessageEvent, RaidEvent, RedemptionEvent
from actors.triggers.actions import ScoreAdd, TallyChange
from actors.triggers.channel_events import (
    ChannelEvent,
    build_event_action,
    events_used,
    matching_triggers,
    redemption_decision,
    template_fields,
)
from actors.twitch.eventsub import parse_ws_frame, to_channel_event
from actors.twitch.eventsub_ws import (
    CLOSE_CODES,
    EVENT_NAMES,
    LinkDead,
    Notified,
    ReconnectRequested,
    Rejected,
    Revoked,
    SocketSession,
    Welcomed,
    channel_subscriptions,
    chat_subscription,
    classify_subscribe,
    describe_close,
    session_url,
)
from actors.twitch.helix import CustomReward
from actors.twitch.rewards import plan_rewards
from config.models import (
    TWITCH_EVENTS,
    CreatorConfig,
    TallyConfig,
    TriggerConfig,
    TwitchConfig,
    TwitchRewardConfig,
)

CORPUS = Path(__file__).resolve().parents[3] / "conformance" / "data" / "eventsub.jsonl"


def _corpus() -> list[dict[str, Any]]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]


def _corpus_body(sub_type: str) -> dict[str, Any]:
    for row in _corpus():
        body = json.loads(row["raw"])
        if (body.get("subscription") or {}).get("type") == sub_type and "event" in body:
            return body
    raise LookupError(sub_type)


def _corpus_frame(message_type: str) -> str:
    for row in _corpus():
        body = json.loads(row["raw"])
        if (body.get("metadata") or {}).get("message_type") == message_type:
            return row["raw"]
    raise LookupError(message_type)


def frame(payload: dict[str, Any], *, message_id: str = "m-1") -> str:
    """A WebSocket notification frame around a corpus payload (subscription + event)."""
    sub = payload["subscription"]
    return json.dumps(
        {
            "metadata": {
                "message_id": message_id,
                "message_type": "notification",
                "message_timestamp": "2026-12-06T07:00:00.123456789Z",
                "subscription_type": sub["type"],
                "subscription_version": sub["version"],
            },
            "payload": payload,
        }
    )


def welcomed(keepalive: int = 10, *, now: float = 0.0) -> SocketSession:
    session = SocketSession(now=now)
    text = _corpus_frame("session_welcome").replace(
        '"keepalive_timeout_seconds": 10', f'"keepalive_timeout_seconds": {keepalive}'
    )
    assert isinstance(session.receive(text, now=now), Welcomed)
    return session


# ------------------------------------------------------------------ session machine


def test_the_real_welcome_opens_the_session_with_its_id_and_keepalive():
    session = SocketSession(now=0.0)
    result = session.receive(_corpus_frame("session_welcome"), now=0.5)
    assert result == Welcomed(
        session_id="AQoQILE98gtqShGmLD7AM6yJThAB", keepalive_seconds=10, handover=False
    )
    assert session.deadline() == 0.5 + 10 + 3


def test_keepalive_silence_past_timeout_plus_three_seconds_is_a_dead_link():
    session = welcomed(10, now=100.0)
    assert session.check(113.0) is None
    dead = session.check(113.01)
    assert isinstance(dead, LinkDead) and "13.0 s" in dead.reason


def test_a_keepalive_moves_the_deadline():
    session = welcomed(10, now=0.0)
    keepalive = json.dumps(
        {
            "metadata": {
                "message_id": "k1",
                "message_type": "session_keepalive",
                "message_timestamp": "2026-12-06T07:00:00Z",
            },
            "payload": {},
        }
    )
    assert session.receive(keepalive, now=12.0) is None
    assert session.check(20.0) is None and session.check(25.5) is not None


def test_no_welcome_in_time_is_a_dead_link():
    session = SocketSession(now=0.0, welcome_timeout=10)
    assert session.check(10.5) == LinkDead(reason="no welcome within 10 s of connecting")


def test_a_handover_socket_reports_its_welcome_as_handover():
    session = SocketSession(now=0.0, handover=True)
    result = session.receive(_corpus_frame("session_welcome"), now=0.0)
    assert isinstance(result, Welcomed) and result.handover


def test_notifications_revocations_and_reconnects_are_told_apart():
    session = welcomed()
    note = session.receive(frame(_corpus_body("channel.raid")), now=1.0)
    assert isinstance(note, Notified) and note.frame.subscription_type == "channel.raid"
    revoked = session.receive(_corpus_frame("revocation"), now=1.0)
    assert isinstance(revoked, Revoked)
    assert revoked.revocation.status == "authorization_revoked"
    assert revoked.revocation.action == "reauthorize"
    reconnect = json.dumps(
        {
            "metadata": {
                "message_id": "r1",
                "message_type": "session_reconnect",
                "message_timestamp": "2026-12-06T07:00:00Z",
            },
            "payload": {
                "session": {
                    "id": "s",
                    "status": "reconnecting",
                    "keepalive_timeout_seconds": None,
                    "reconnect_url": "wss://eventsub.wss.twitch.tv/ws?x=1",
                    "connected_at": "2026-12-06T07:00:00Z",
                }
            },
        }
    )
    assert session.receive(reconnect, now=2.0) == ReconnectRequested(
        url="wss://eventsub.wss.twitch.tv/ws?x=1"
    )


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        '{"metadata": {}}',
        "{" * 5000,
        '{"metadata": {"message_id": "x", "message_type": "notification",'
        ' "message_timestamp": "yesterday"}, "payload": {}}',
    ],
)
def test_garbage_frames_are_rejected_not_raised(text):
    session = welcomed()
    assert isinstance(session.receive(text, now=1.0), Rejected)


def test_a_frame_before_the_welcome_is_rejected():
    session = SocketSession(now=0.0)
    assert isinstance(session.receive(frame(_corpus_body("channel.raid")), now=0.1), Rejected)


def test_a_reconnect_to_a_non_websocket_url_is_rejected():
    session = welcomed()
    bad = json.dumps(
        {
            "metadata": {
                "message_id": "r",
                "message_type": "session_reconnect",
                "message_timestamp": "2026-12-06T07:00:00Z",
            },
            "payload": {"session": {"id": "s", "reconnect_url": "http://evil.example/"}},
        }
    )
    assert isinstance(session.receive(bad, now=1.0), Rejected)


# ------------------------------------------------------------------ subscriptions and codes


def test_every_close_code_4000_to_4007_has_a_sentence():
    assert sorted(CLOSE_CODES) == list(range(4000, 4008))
    assert "no subscription was created in time" in describe_close(4003)
    assert "4007" in describe_close(4007)
    assert "without a close code" in describe_close(None)


def test_config_event_names_are_the_subscription_names():
    assert tuple(EVENT_NAMES) == TWITCH_EVENTS


def test_subscriptions_use_the_documented_types_versions_and_conditions():
    specs = {s.type: s for s in channel_subscriptions(TWITCH_EVENTS, "1337")}
    follow = specs["channel.follow"]
    assert follow.version == "2"
    assert dict(follow.condition) == {"broadcaster_user_id": "1337", "moderator_user_id": "1337"}
    assert dict(specs["channel.raid"].condition) == {"to_broadcaster_user_id": "1337"}
    body = specs["stream.online"].body("sess")
    assert body["transport"] == {"method": "websocket", "session_id": "sess"}
    chat = chat_subscription("1337", "42")
    assert chat.type == "channel.chat.message"
    assert dict(chat.condition) == {"broadcaster_user_id": "1337", "user_id": "42"}


@pytest.mark.parametrize(
    ("status", "kind", "active", "retry"),
    [
        (202, "created", True, False),
        (409, "exists", True, False),
        (429, "limit", False, True),
        (401, "unauthorized", False, True),
        (403, "forbidden", False, False),
        (400, "invalid", False, False),
        (503, "error", False, True),
    ],
)
def test_subscribe_answers_are_classified(status, kind, active, retry):
    (spec,) = channel_subscriptions(["cheer"], "1")
    outcome = classify_subscribe(spec, status, {"message": "why"})
    assert (outcome.kind, outcome.active, outcome.retry_later) == (kind, active, retry)
    assert "channel.cheer" in outcome.sentence


def test_the_keepalive_is_asked_for_in_the_url_query():
    assert session_url("wss://h/ws", 30) == "wss://h/ws?keepalive_timeout_seconds=30"
    assert session_url("ws://h/ws?a=1&keepalive_timeout_seconds=9", 10).endswith(
        "a=1&keepalive_timeout_seconds=10"
    )
    with pytest.raises(ValueError):
        session_url("wss://h/ws", 5)


# ------------------------------------------------------------------ typed events from payloads


def _ws(sub_type: str, event: dict[str, Any]) -> Any:
    payload = {"subscription": {"type": sub_type, "version": "1"}, "event": event}
    return parse_ws_frame(frame(payload))


def test_the_real_follow_and_raid_payloads_become_typed_events():
    follow = to_channel_event(parse_ws_frame(frame(_corpus_body("channel.follow"))))
    assert isinstance(follow, FollowEvent)
    assert (follow.user_id, follow.display_name, follow.channel) == (
        "1234",
        "Cool_User",
        "cooler_user",
    )
    raid = to_channel_event(parse_ws_frame(frame(_corpus_body("channel.raid"))))
    assert isinstance(raid, RaidEvent)
    assert (raid.login, raid.viewer_count, raid.channel) == ("cool_user", 9001, "cooler_user")


BROADCASTER = {
    "broadcaster_user_id": "1337",
    "broadcaster_user_login": "daniel",
    "broadcaster_user_name": "Daniel",
}
VIEWER = {"user_id": "9001", "user_login": "cooler_user", "user_name": "Cooler_User"}


def test_a_redemption_carries_reward_and_input():
    event = to_channel_event(
        _ws(
            "channel.channel_points_custom_reward_redemption.add",
            {
                "id": "1234",
                **BROADCASTER,
                **VIEWER,
                "user_input": "pogchamp",
                "status": "unfulfilled",
                "reward": {"id": "9001", "title": "title", "cost": 100, "prompt": "p"},
                "redeemed_at": "2020-07-15T17:16:03.17106713Z",
            },
        )
    )
    assert isinstance(event, RedemptionEvent)
    assert (event.redemption_id, event.reward_id, event.input, event.cost) == (
        "1234",
        "9001",
        "pogchamp",
        100,
    )


def test_an_anonymous_cheer_and_gift_hide_the_user():
    cheer = to_channel_event(
        _ws(
            "channel.cheer",
            {**BROADCASTER, **VIEWER, "is_anonymous": True, "message": "hi", "bits": 250},
        )
    )
    assert isinstance(cheer, PaidMessageEvent)
    assert (cheer.user_id, cheer.currency, cheer.amount_micros) == (None, "BITS", 250_000_000)
    gift = to_channel_event(
        _ws(
            "channel.subscription.gift",
            {**BROADCASTER, **VIEWER, "total": 5, "tier": "1000", "is_anonymous": True},
        )
    )
    assert isinstance(gift, GiftEvent) and gift.count == 5 and gift.anonymous


@pytest.mark.parametrize(
    "event",
    [
        {"bits": True, **BROADCASTER},
        {"bits": 10**30, **BROADCASTER},
        {"bits": "100", **BROADCASTER},
        {"bits": 5},
    ],
)
def test_hostile_cheers_raise_value_error(event):
    with pytest.raises(ValueError):
        to_channel_event(_ws("channel.cheer", event))


def test_other_types_are_not_channel_events():
    body = _corpus_body("channel.update")
    assert to_channel_event(parse_ws_frame(frame(body))) is None


# ------------------------------------------------------------------ event triggers


def _trigger(**kw: Any) -> TriggerConfig:
    return TriggerConfig(kind="event", action="reply", response="{user}", **kw)


def test_conditions_are_at_least_comparisons():
    cheer = to_channel_event(
        _ws("channel.cheer", {**BROADCASTER, **VIEWER, "is_anonymous": False, "bits": 100})
    )
    assert cheer is not None
    big = _trigger(id="big", event="cheer", min_bits=500)
    any_ = _trigger(id="any", event="cheer", min_bits=100)
    fired = matching_triggers([big, any_], ChannelEvent(event=cheer))
    assert [t.id for t in fired] == ["any"]
    fields = template_fields(cheer)
    assert (fields["user"], fields["bits"]) == ("Cooler_User", 100)


def test_a_redemption_trigger_matches_our_reward_by_config_id_and_hand_made_by_title():
    event = RedemptionEvent(
        platform="twitch",
        channel="daniel",
        message_id="m",
        sent_at=datetime.now(UTC),
        raw_type="channel.channel_points_custom_reward_redemption.add",
        user_id="1",
        login="a",
        display_name="A",
        redemption_id="r",
        reward_id="tw-1",
        reward_title="Hydrate!",
    )
    ours = _trigger(id="ours", event="redemption", reward="hydrate")
    by_title = _trigger(id="title", event="redemption", reward="hydrate!")
    assert [t.id for t in matching_triggers([ours, by_title], ChannelEvent(event=event))] == [
        "title"
    ]
    mine = ChannelEvent(event=event, reward_key="hydrate", manageable=True)
    assert [t.id for t in matching_triggers([ours, by_title], mine)] == ["ours"]


def test_redemption_decision_refunds_on_failure_and_leaves_hand_made_rewards_alone():
    fulfil = _trigger(id="f", event="redemption", redemption="fulfil")
    assert redemption_decision([fulfil], {}, manageable=True) == "fulfil"
    assert redemption_decision([fulfil], {"f": True}, manageable=True) == "refund"
    assert redemption_decision([fulfil], {}, manageable=False) is None
    assert redemption_decision([], {}, manageable=True) is None


def test_event_actions_credit_the_viewer_who_acted():
    raid = to_channel_event(parse_ws_frame(frame(_corpus_body("channel.raid"))))
    assert raid is not None
    tally = TriggerConfig(
        id="t", kind="event", event="raid", action="tally_increment", tally="raids"
    )
    action = build_event_action(tally, raid, "daniel")
    assert isinstance(action, TallyChange) and action.display_name == "Cool_User"
    score = TriggerConfig(
        id="s", kind="event", event="raid", action="score_add", scoreboard="b", points=5
    )
    scored = build_event_action(score, raid, "daniel")
    assert isinstance(scored, ScoreAdd) and (scored.label, scored.points) == ("Cool_User", 5)


def test_a_creator_subscribes_to_its_events_and_those_its_triggers_use():
    creator = CreatorConfig(
        id="daniel",
        twitch=TwitchConfig(channel="daniel", events=("follow", "raid")),
        tallies=(TallyConfig(id="water", label="Water"),),
        triggers=(
            TriggerConfig(
                id="h", kind="event", event="redemption", action="tally_increment", tally="water"
            ),
            TriggerConfig(id="r", kind="event", event="raid", response="hi {user}"),
        ),
    )
    assert events_used(creator) == ("follow", "raid", "redemption")


# ------------------------------------------------------------------ rewards


def _cfg(key: str, title: str, cost: int = 100, **kw: Any) -> TwitchRewardConfig:
    return TwitchRewardConfig(id=key, title=title, cost=cost, **kw)


def _reward(rid: str, title: str, cost: int = 100, enabled: bool = True) -> CustomReward:
    return CustomReward(id=rid, title=title, cost=cost, prompt="", is_enabled=enabled)


def test_rewards_are_created_updated_and_disabled_never_deleted():
    plan = plan_rewards(
        [_cfg("hydrate", "Hydrate!", 500), _cfg("new", "New one")],
        known={"hydrate": "r1", "gone": "r2"},
        existing=[_reward("r1", "Hydrate!", 100), _reward("r2", "Old")],
        manageable={"r1", "r2"},
    )
    assert [r.id for r in plan.create] == ["new"]
    assert plan.update == (("hydrate", "r1", {"cost": 500}),)
    assert plan.disable == (("gone", "r2"),)
    assert plan.conflicts == ()


def test_a_hand_made_reward_holding_the_title_is_a_conflict_and_untouched():
    plan = plan_rewards(
        [_cfg("hydrate", "Hydrate!")],
        known={},
        existing=[_reward("hand", "hydrate!")],
        manageable=set(),
    )
    assert plan.create == () and plan.update == () and plan.disable == ()
    assert len(plan.conflicts) == 1 and "made by hand" in plan.conflicts[0]


def test_our_reward_is_adopted_by_title_when_the_store_lost_its_id():
    plan = plan_rewards(
        [_cfg("hydrate", "Hydrate!")],
        known={},
        existing=[_reward("r1", "Hydrate!")],
        manageable={"r1"},
    )
    assert plan.adopt == (("hydrate", "r1"),) and plan.keep == {"hydrate": "r1"}
    assert plan.create == ()


@pytest.mark.parametrize(
    "row", [r for r in _corpus() if "event" in json.loads(r["raw"])], ids=lambda r: r["test"]
)
def test_every_corpus_notification_becomes_a_typed_event_or_none(row):
    body = json.loads(row["raw"])
    session = welcomed()
    result = session.receive(frame(body, message_id="c"), now=1.0)
    assert isinstance(result, Notified)
    event = to_channel_event(result.frame)
    sub_type = body["subscription"]["type"]
    if sub_type in ("channel.follow", "channel.raid"):
        assert event is not None and event.channel == "cooler_user"
    else:
        assert event is None  # a type the runtime does not subscribe to
