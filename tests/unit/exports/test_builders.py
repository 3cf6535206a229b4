"""Every builder: schema-valid from empty and realistic inputs, sorted, deterministic."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from exports import builders as b
from exports.builders import ExportInputs, build_all
from exports.canonical import TIMESTAMP_PATTERN, canonical_bytes, parse_timestamp
from exports.files import FILES, ExportContext
from exports.schemas import validate
from exports.views import (
    ClipView,
    DiscordView,
    GuildView,
    PlatformStatus,
    PollView,
    QuotaView,
    RuntimeView,
    SignalRow,
    TelemetryEvent,
)

TS = re.compile(TIMESTAMP_PATTERN)


def _walk(value: Any, path: str = "$") -> Iterator[tuple[str, Any]]:
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")


def _shuffled(inputs: ExportInputs, seed: int) -> ExportInputs:
    rng = random.Random(seed)
    changes: dict[str, Any] = {}
    for field in attrs.fields(ExportInputs):
        value = getattr(inputs, field.name)
        if isinstance(value, tuple):
            items = list(value)
            rng.shuffle(items)
            changes[field.name] = tuple(items)
    return attrs.evolve(inputs, **changes)


def test_every_file_builds_from_empty_inputs(ctx: ExportContext, key: bytes) -> None:
    docs = build_all(ctx, ExportInputs(), pseudonym_key=key)
    assert set(docs) == {f.path for f in FILES}
    for path, doc in docs.items():
        validate(path, doc)
        # Nothing changed yet: the file reflects the boot.
        if path not in {"runtime_snapshot.json"}:
            assert doc["generated_at"] == "2026-11-21T16:30:05.120Z", path


def test_every_file_validates_from_realistic_inputs(
    ctx: ExportContext, key: bytes, inputs: ExportInputs
) -> None:
    docs = build_all(ctx, inputs, pseudonym_key=key)
    assert set(docs) == {f.path for f in FILES}
    for path, doc in docs.items():
        validate(path, doc)
        assert doc["meta"]["visibility"] == str(next(f for f in FILES if f.path == path).visibility)


def test_documents_are_canonical_and_deterministic(
    ctx: ExportContext, key: bytes, inputs: ExportInputs
) -> None:
    first = {p: canonical_bytes(d) for p, d in build_all(ctx, inputs, pseudonym_key=key).items()}
    for seed in range(5):
        again = build_all(ctx, _shuffled(inputs, seed), pseudonym_key=key)
        assert {p: canonical_bytes(d) for p, d in again.items()} == first


def test_no_epoch_numbers_no_future_and_string_ids(
    ctx: ExportContext, key: bytes, inputs: ExportInputs, now: datetime
) -> None:
    for path, doc in build_all(ctx, inputs, pseudonym_key=key).items():
        for where, value in _walk(doc):
            name = where.rsplit(".", 1)[-1]
            is_time = name.endswith(("_at", "_ts")) or name in {"timestamp", "last_seen"}
            if is_time or (name == "heartbeat" and not isinstance(value, dict)):
                assert value is None or TS.match(value), (path, where, value)
            if name == "id" or name.endswith("_id"):
                assert value is None or isinstance(value, str), (path, where, value)
            if isinstance(value, str) and TS.match(value):
                assert parse_timestamp(value) <= now, (path, where, value)


def test_generated_at_is_the_newest_change(
    ctx: ExportContext, key: bytes, inputs: ExportInputs
) -> None:
    docs = build_all(ctx, inputs, pseudonym_key=key)
    assert docs["clips.json"]["generated_at"] == "2026-11-21T18:29:35.120Z"  # newest updated_at
    assert docs["telemetry/events.json"]["generated_at"] == "2026-11-21T18:30:00.120Z"
    assert docs["chat_events.json"]["generated_at"] == "2026-11-21T18:30:03.120Z"
    assert docs["telemetry/rates.json"]["generated_at"] == "2026-11-21T18:30:04.120Z"
    for doc in docs.values():
        assert doc["generated_at"] == doc["meta"]["generated_at"]


def test_explicit_changed_at_wins_and_is_clamped(
    ctx: ExportContext, key: bytes, inputs: ExportInputs, now: datetime
) -> None:
    changed = {
        "clips.json": now - timedelta(days=1),
        "polls.json": now + timedelta(hours=1),  # a skewed clock must not leak into a file
    }
    docs = build_all(ctx, attrs.evolve(inputs, changed_at=changed), pseudonym_key=key)
    assert docs["clips.json"]["meta"]["generated_at"] == "2026-11-20T18:30:05.120Z"
    assert docs["polls.json"]["meta"]["generated_at"] == "2026-11-21T18:30:05.120Z"


def test_future_row_timestamps_are_clamped(ctx: ExportContext, now: datetime) -> None:
    clip = ClipView(
        clip_id="c1",
        creator_id="d",
        title="t",
        platform="twitch",
        state="queued",
        created_at=now + timedelta(minutes=5),
        updated_at=now + timedelta(minutes=5),
    )
    doc = b.build_clips(ctx, [clip])
    assert doc["clips"][0]["created_at"] == "2026-11-21T18:30:05.120Z"
    assert doc["generated_at"] == "2026-11-21T18:30:05.120Z"


# --- runtime_snapshot.json -------------------------------------------------------------------


def test_runtime_snapshot_shape(ctx: ExportContext, inputs: ExportInputs, now: datetime) -> None:
    assert inputs.runtime is not None
    doc = b.build_runtime_snapshot(ctx, inputs.runtime, heartbeat=now)
    assert doc["heartbeat"] == doc["timestamp"] == "2026-11-21T18:30:05.120Z"
    assert doc["runtime"] == {
        "project": "streamsuites-runtime",
        "version": "0.1.0",
        "build": "abc1234",
    }
    assert doc["system"] == {"platform_polling_enabled": True}
    assert [p["platform"] for p in doc["platforms"]] == ["kick", "rumble", "twitch", "youtube"]
    twitch = doc["platforms"][2]
    assert twitch["name"] == "Twitch"
    assert twitch["status"] == "error"  # one creator in error shows the platform in error
    assert twitch["error"] == "irc: connection reset"
    assert twitch["counters"] == {
        "messages": 150,
        "triggers": 7,
        "actions": 5,
        "errors": 0,
        "connects": 0,
        "disconnects": 0,
    }
    assert twitch["last_heartbeat"] == "2026-11-21T18:30:02.120Z"  # latest of the two
    youtube = doc["platforms"][3]
    assert youtube["status"] == "paused" and youtube["paused_reason"] == "quota buffer reached"
    kick = doc["platforms"][0]
    assert kick["enabled"] is False and kick["status"] == "disabled"
    assert [c["creator_id"] for c in doc["creators"]] == ["alice", "daniel"]
    assert doc["creators"][1]["platforms"] == {"kick": False, "twitch": True, "youtube": True}
    assert [a["path"] for a in doc["actors"]] == sorted(a["path"] for a in doc["actors"])
    actor = next(a for a in doc["actors"] if a["path"] == "creators/creator:daniel/twitch")
    assert actor["mailbox"] == {"depth": 3, "peak": 40}
    assert doc["restart_intent"] == {
        "required": True,
        "pending": {"system": False, "creators": False, "triggers": True, "platforms": False},
        "notes": ["triggers.toml changed"],
    }
    assert doc["replay"]["event_count"] == 12


def test_runtime_snapshot_heartbeat_changes_but_generated_at_does_not(
    ctx: ExportContext, inputs: ExportInputs, now: datetime
) -> None:
    assert inputs.runtime is not None
    later = attrs.evolve(ctx, now=now + timedelta(seconds=10))
    a = b.build_runtime_snapshot(ctx, inputs.runtime)
    c = b.build_runtime_snapshot(later, inputs.runtime)
    assert a["generated_at"] == c["generated_at"]
    assert a["heartbeat"] != c["heartbeat"]
    assert c["heartbeat"] == "2026-11-21T18:30:15.120Z"


def test_platform_status_enum_is_enforced() -> None:
    with pytest.raises(ValueError):
        PlatformStatus(platform="twitch", enabled=True, status="connected")
    with pytest.raises(ValueError):
        PlatformStatus(
            platform="twitch", enabled=True, status="running", last_heartbeat=datetime(2026, 1, 1)
        )  # naive
    with pytest.raises(TypeError):
        PlatformStatus(platform="twitch", enabled=1, status="running")  # type: ignore[arg-type]


def test_runtime_view_defaults_build(ctx: ExportContext) -> None:
    doc = b.build_runtime_snapshot(ctx, RuntimeView(version="9.9"))
    validate("runtime_snapshot.json", doc)
    assert doc["platforms"] == [] and doc["restart_intent"]["required"] is False


# --- quotas.json -----------------------------------------------------------------------------


def test_quota_status_rules() -> None:
    def q(used: int, mx: int = 100, buf: int = 10) -> QuotaView:
        return QuotaView(platform="youtube", creator_id="d", used=used, max=mx, buffer=buf)

    assert q(0).status == "ok"
    assert q(89).status == "ok"
    assert q(90).status == "buffer"
    assert q(100).status == "exhausted"
    assert q(0, mx=0).status == "exhausted"
    assert q(150).remaining == 0 and q(30).remaining == 70


def test_quotas_both_forms(ctx: ExportContext, inputs: ExportInputs) -> None:
    doc = b.build_quotas(ctx, inputs.quotas)
    # Summary: the most constrained quota, at the top level (Overview bar).
    assert (doc["platform"], doc["creator_id"], doc["used"], doc["max"], doc["status"]) == (
        "youtube",
        "daniel",
        9_700,
        10_000,
        "buffer",
    )
    # Array form (YouTube view), stable order.
    assert [(r["platform"], r["creator_id"]) for r in doc["platforms"]] == [
        ("youtube", "alice"),
        ("youtube", "daniel"),
    ]
    daniel = doc["platforms"][1]
    assert daniel["remaining"] == 300 and daniel["scope"] == "creator"
    assert daniel["window"] == "daily" and daniel["reset_at"] == "2026-11-21T00:00:00.000Z"


def test_quotas_empty_summary(ctx: ExportContext) -> None:
    doc = b.build_quotas(ctx, [])
    assert (doc["platform"], doc["used"], doc["max"], doc["status"]) == ("youtube", 0, 0, "ok")
    assert doc["platforms"] == []


def test_quotas_exhausted_beats_fuller_ratio(ctx: ExportContext) -> None:
    rows = [
        QuotaView(platform="youtube", creator_id="a", used=95, max=100, buffer=0),
        QuotaView(platform="twitch", creator_id="b", used=10, max=10),
    ]
    assert b.build_quotas(ctx, rows)["platform"] == "twitch"


# --- public entity files ---------------------------------------------------------------------


def test_clips_newest_first_with_items(ctx: ExportContext, inputs: ExportInputs) -> None:
    doc = b.build_clips(ctx, inputs.clips)
    assert [c["clip_id"] for c in doc["clips"]] == ["Qw9rTy", "Ab3xYz", "Zz0000"]
    assert [i["id"] for i in doc["items"]] == ["Qw9rTy", "Ab3xYz", "Zz0000"]
    published = doc["clips"][1]
    assert published["destination"] == {
        "platform": "youtube",
        "channel_url": "https://youtube.com/@daniel",
    }
    assert published["creator"] == "Daniel"
    assert doc["clips"][0]["creator"] == "daniel"  # falls back to the id
    assert doc["clips"][0]["destination"] == {"platform": None, "channel_url": None}
    assert all(i["public"] is True for i in doc["items"])


def test_clip_progress_range(now: datetime) -> None:
    with pytest.raises(ValueError):
        ClipView(
            clip_id="c",
            creator_id="d",
            title="t",
            platform="twitch",
            state="queued",
            created_at=now,
            updated_at=now,
            progress=1.5,
        )
    with pytest.raises(ValueError):
        ClipView(
            clip_id="c",
            creator_id="d",
            title="t",
            platform="twitch",
            state="done",
            created_at=now,
            updated_at=now,
        )


def test_polls_sorted_with_totals(ctx: ExportContext, inputs: ExportInputs) -> None:
    doc = b.build_polls(ctx, inputs.polls)
    assert [p["poll_id"] for p in doc["polls"]] == ["poll-000002", "poll-000001"]
    closed = doc["polls"][1]
    assert [o["label"] for o in closed["options"]] == ["Alpha", "Beta"]
    assert closed["total_votes"] == 4
    assert closed["updated_at"] == closed["closed_at"]
    assert doc["polls"][0]["updated_at"] == "2026-11-21T18:29:55.120Z"
    assert doc["items"][0]["question"] == "Snack?"


def test_poll_without_options(ctx: ExportContext, now: datetime) -> None:
    poll = PollView(poll_id="p", creator_id="d", question="?", state="open", opened_at=now)
    doc = b.build_polls(ctx, [poll])
    validate("polls.json", doc)
    assert doc["polls"][0]["total_votes"] == 0


def test_tallies_and_scoreboards(ctx: ExportContext, inputs: ExportInputs) -> None:
    tallies = b.build_tallies(ctx, inputs.tallies)
    assert [t["tally_id"] for t in tallies["tallies"]] == ["tally-000001", "tally-000002"]
    assert tallies["tallies"][0]["count"] == -3
    boards = b.build_scoreboards(ctx, inputs.scoreboards)
    entries = boards["scoreboards"][0]["entries"]
    assert entries == [
        {"position": 1, "label": "carol", "score": 9.5},
        {"position": 2, "label": "bob", "score": 7},
    ]


# --- jobs, discord, telemetry ----------------------------------------------------------------


def test_jobs_in_creation_order(ctx: ExportContext, inputs: ExportInputs) -> None:
    doc = b.build_jobs(ctx, inputs.jobs)
    assert [j["id"] for j in doc["jobs"]] == ["job-1", "job-2"]
    assert doc["jobs"][0]["reason"] == "ffmpeg exited with status 1"
    assert doc["items"][1]["state"] == "running"


def test_discord_runtime(ctx: ExportContext, inputs: ExportInputs) -> None:
    doc = b.build_discord_runtime(ctx, inputs.discord)
    # Numeric order of snowflakes, ids kept as strings.
    assert [g["guild_id"] for g in doc["guilds"]] == ["987654321098765432", "1234567890123456789"]
    assert doc["guild_count"] == 2 and doc["task_count"] == doc["tasks"] == 4
    assert doc["running"] is True and doc["connected"] is True
    assert doc["status"] == {"text": "Watching chat", "emoji": "👀"}
    assert doc["heartbeat"]["last_tick_at"] == doc["last_heartbeat_ts"]
    big = doc["guilds"][1]
    assert big["authorization_reason"] == "admin_override"
    assert big["notifications"] == {
        "enabled": True,
        "general": {"channel_id": "1111111111111111111"},
    }


def test_discord_not_running(ctx: ExportContext) -> None:
    doc = b.build_discord_runtime(ctx, DiscordView())
    validate("discord/runtime.json", doc)
    assert doc["running"] is False and doc["guilds"] == [] and doc["started_at"] is None


def test_guild_reason_enum() -> None:
    with pytest.raises(ValueError):
        GuildView(guild_id="1", guild_name="g", authorization_reason="owner")


def test_telemetry_events_bounded_newest_last(ctx: ExportContext, now: datetime) -> None:
    events = [
        TelemetryEvent(
            timestamp=now - timedelta(seconds=s), severity="info", source="x", message=f"e{s}"
        )
        for s in range(10)
    ]
    doc = b.build_telemetry_events(ctx, events, limit=3)
    assert [e["message"] for e in doc["events"]] == ["e2", "e1", "e0"]


def test_telemetry_errors_and_rates(ctx: ExportContext, inputs: ExportInputs) -> None:
    errors = b.build_telemetry_errors(ctx, inputs.telemetry_errors)
    assert [e["subsystem"] for e in errors["errors"]] == ["clips", "twitch"]
    assert errors["errors"][1]["active"] is True
    rates = b.build_telemetry_rates(ctx, inputs.rate_metrics)
    assert rates["window"] == "60s"
    assert [m["key"] for m in rates["metrics"]] == ["actions", "messages.twitch"]


# --- signals ---------------------------------------------------------------------------------


def test_signals_newest_last_and_bounded(ctx: ExportContext, key: bytes, now: datetime) -> None:
    rows = [
        SignalRow(
            timestamp=now - timedelta(seconds=s),
            type="chat_message",
            source="twitch",
            subject_id=f"m{s}",
            summary="{user}: hi",
            user_id=f"user{s % 2}",
        )
        for s in range(6)
    ]
    doc = b.build_chat_events(ctx, rows, key=key, limit=4)
    assert [i["entity_id"] for i in doc["items"]] == ["m3", "m2", "m1", "m0"]
    assert doc["generated_at"] == "2026-11-21T18:30:05.120Z"
    users = {i["user"] for i in doc["items"]}
    assert len(users) == 2 and all(u.startswith("u_") for u in users)
    assert all(
        i["summary"].endswith(": hi") and i["summary"].startswith("u_") for i in doc["items"]
    )


@pytest.mark.parametrize(
    ("builder", "id_field"),
    [
        (b.build_chat_events, "entity_id"),
        (b.build_poll_votes, "poll_id"),
        (b.build_tally_events, "tally_id"),
        (b.build_score_events, "scoreboard_id"),
    ],
)
def test_signal_files_use_their_id_field(
    builder: Any, id_field: str, ctx: ExportContext, key: bytes, now: datetime
) -> None:
    row = SignalRow(timestamp=now, type="t", source="twitch", subject_id="s-1", summary="x")
    doc = builder(ctx, [row], key=key)
    assert doc["items"][0][id_field] == "s-1"
    assert doc["items"][0]["user"] is None


# --- configuration files ---------------------------------------------------------------------


def test_creators_triggers_rate_limits(ctx: ExportContext, inputs: ExportInputs) -> None:
    creators = b.build_creators(ctx, inputs.creators)
    alice = creators["creators"][0]
    assert alice["creator_id"] == "alice" and alice["disabled"] is True
    assert alice["platforms_enabled"] == {"twitch": True}
    triggers = b.build_chat_triggers(ctx, inputs.triggers)
    assert [(t["creator"], t["trigger_id"]) for t in triggers["items"]] == [
        ("alice", "t-gg"),
        ("daniel", "t-clip"),
        ("daniel", "t-re"),
    ]
    limits = b.build_rate_limits(ctx, inputs.rate_limits)
    assert limits["items"][0] == {
        "scope": "creator:daniel/twitch/chat",
        "limit": 20,
        "window": 30,
        "used": 3,
        "status": "ok",
    }


def test_integrations_report_token_status_not_expiry(
    ctx: ExportContext, inputs: ExportInputs
) -> None:
    doc = b.build_integrations(ctx, inputs.integrations)
    assert {i["id"]: i["token_status"] for i in doc["items"]} == {
        "discord:bot": "expired",
        "twitch:daniel": "expiring",
    }


def test_permissions_grants_sorted_unique(ctx: ExportContext, inputs: ExportInputs) -> None:
    doc = b.build_permissions(ctx, inputs.permissions)
    assert doc["items"][0]["grants"] == ["admin.all", "clips.manage"]


def test_manifest_lists_every_file(ctx: ExportContext) -> None:
    doc = b.build_manifest(ctx)
    assert [r["file"] for r in doc["exports"]] == [f.path for f in FILES]
    assert doc["files"] == doc["exports"]
    row = next(r for r in doc["exports"] if r["file"] == "integrations.json")
    assert row == {
        "file": "integrations.json",
        "visibility": "internal-only",
        "schema": "streamsuites.integrations.v1",
        "description": "Integration status (no credentials).",
    }
    assert doc["generated_at"] == "2026-11-21T16:30:05.120Z"


def test_version_goes_into_source(key: bytes, now: datetime) -> None:
    ctx = ExportContext(now=now, started_at=now, version="2.0.0-rc1")
    docs = build_all(ctx, ExportInputs(), pseudonym_key=key)
    assert {d["meta"]["source"] for d in docs.values()} == {"streamsuites-runtime/2.0.0-rc1"}
    assert docs["runtime_snapshot.json"]["runtime"]["version"] == "2.0.0-rc1"


def test_same_clock_other_instant_zone_same_bytes(key: bytes, inputs: ExportInputs) -> None:
    from datetime import timezone

    base = datetime(2026, 11, 21, 18, 30, 5, 120_456, tzinfo=UTC)
    other = base.astimezone(timezone(timedelta(hours=-5)))
    a = build_all(
        ExportContext(now=base, started_at=base - timedelta(hours=2)), inputs, pseudonym_key=key
    )
    c = build_all(
        ExportContext(now=other, started_at=other - timedelta(hours=2)), inputs, pseudonym_key=key
    )
    assert {p: canonical_bytes(d) for p, d in a.items()} == {
        p: canonical_bytes(d) for p, d in c.items()
    }


def test_telemetry_liveness_stamp_is_opt_in(
    ctx: ExportContext, key: bytes, inputs: ExportInputs
) -> None:
    plain = build_all(ctx, inputs, pseudonym_key=key)
    stamped = build_all(ctx, inputs, pseudonym_key=key, telemetry_heartbeat=True)
    for path in ("telemetry/events.json", "telemetry/errors.json", "telemetry/rates.json"):
        assert "timestamp" not in plain[path]
        assert stamped[path]["timestamp"] == "2026-11-21T18:30:05.120Z"
        assert stamped[path]["generated_at"] == plain[path]["generated_at"]
        validate(path, stamped[path])


def test_short_raw_ids_never_corrupt_the_pseudonym(
    ctx: ExportContext, key: bytes, now: datetime
) -> None:
    from exports.scrub import pseudonymize

    row = SignalRow(
        timestamp=now,
        type="vote",
        source="kick",
        subject_id="p",
        summary="{user} (a) voted",
        user_id="a",
    )
    doc = b.build_poll_votes(ctx, [row], key=key)
    pseudonym = pseudonymize("a", key)
    assert doc["items"][0]["summary"] == f"{pseudonym} ({pseudonym}) voted"
