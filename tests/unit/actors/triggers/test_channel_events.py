"""`decide`: event triggers honour `permission` and the cooldowns, as chat triggers do."""

from __future__ import annotations

from datetime import UTC, datetime

from actors.events import PaidMessageEvent, RaidEvent
from actors.triggers.channel_events import ChannelEvent, decide
from actors.triggers.cooldowns import CooldownTable
from config.models import TriggerConfig

AT = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def cheer(user_id: str | None, bits: int = 100) -> ChannelEvent:
    event = PaidMessageEvent(
        platform="twitch",
        channel="daniel",
        message_id=f"m-{user_id}",
        sent_at=AT,
        raw_type="channel.cheer",
        user_id=user_id,
        login=user_id,
        display_name=user_id,
        amount_micros=bits * 1_000_000,
        currency="BITS",
    )
    return ChannelEvent(event=event)


def fired(triggers: tuple[TriggerConfig, ...], event: ChannelEvent, table, now) -> list[str]:
    return [t.id for t in decide(triggers, event, table, now=now).fired]


def test_cooldown_user_is_keyed_by_the_viewer_who_acted():
    thanks = TriggerConfig(id="thanks", kind="event", event="cheer", cooldown_user=60, response="x")
    table = CooldownTable()
    assert fired((thanks,), cheer("a"), table, 0.0) == ["thanks"]
    held = decide((thanks,), cheer("a"), table, now=30.0)
    assert held.fired == () and held.blocked[0].reason == "cooldown"
    assert held.blocked[0].scope == "user" and held.blocked[0].remaining == 30.0
    assert fired((thanks,), cheer("b"), table, 30.0) == ["thanks"]  # another viewer
    assert fired((thanks,), cheer("a"), table, 60.0) == ["thanks"]  # expired


def test_cooldown_trigger_and_global_hold_every_viewer_and_start_durable_entries():
    alert = TriggerConfig(
        id="alert", kind="event", event="cheer", cooldown_trigger=30, response="x"
    )
    gate = TriggerConfig(id="gate", kind="event", event="cheer", cooldown_global=10, response="y")
    table = CooldownTable()
    first = decide((alert, gate), cheer("a"), table, now=0.0)
    assert [t.id for t in first.fired] == ["alert", "gate"]
    assert dict(first.cooldowns_started) == {"trigger:alert": 30.0, "global": 10.0}
    second = decide((alert, gate), cheer("b"), table, now=5.0)
    assert {(b.trigger_id, b.scope) for b in second.blocked} == {
        ("alert", "trigger"),
        ("gate", "global"),
    }
    assert fired((alert, gate), cheer("c"), table, 10.0) == ["gate"]


def test_anonymous_viewers_share_one_user_cooldown():
    thanks = TriggerConfig(id="thanks", kind="event", event="cheer", cooldown_user=60, response="x")
    table = CooldownTable()
    assert fired((thanks,), cheer(None), table, 0.0) == ["thanks"]
    assert fired((thanks,), cheer(None), table, 1.0) == []


def test_permission_broadcaster_fires_only_for_the_broadcaster_acting():
    own = TriggerConfig(
        id="own", kind="event", event="raid", permission="broadcaster", response="x"
    )
    raid = RaidEvent(
        platform="twitch",
        channel="daniel",
        message_id="r1",
        sent_at=AT,
        raw_type="channel.raid",
        user_id="5",
        login="raider",
        display_name="Raider",
        viewer_count=3,
    )
    table = CooldownTable()
    held = decide((own,), ChannelEvent(event=raid), table, now=0.0)
    assert held.fired == () and held.blocked[0].reason == "permission"
    mine = ChannelEvent(event=raid, roles=frozenset({"broadcaster"}))
    assert fired((own,), mine, table, 0.0) == ["own"]
