"""Shared fixtures for the exports tests: a fixed clock and realistic builder inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from exports.builders import ExportInputs
from exports.files import ExportContext
from exports.views import (
    ActorStatus,
    ClipView,
    CreatorView,
    DiscordView,
    ErrorView,
    FilterView,
    GiveawayView,
    GiveawayWinner,
    GuildView,
    IntegrationView,
    JobView,
    PermissionView,
    PlatformStatus,
    PointsView,
    PollOption,
    PollView,
    QuotaView,
    QuoteView,
    RateLimitView,
    RateMetric,
    ReplayView,
    RestartIntent,
    RuntimeView,
    ScoreboardView,
    ScoreEntry,
    SignalRow,
    TallyView,
    TelemetryEvent,
    TimerView,
    TriggerView,
)

NOW = datetime(2026, 11, 21, 18, 30, 5, 120_456, tzinfo=UTC)
BOOT = NOW - timedelta(hours=2)
KEY = b"0123456789abcdef0123456789abcdef"


def _t(seconds_ago: float) -> datetime:
    return NOW - timedelta(seconds=seconds_ago)


def realistic_inputs() -> ExportInputs:
    """A small but complete state: two creators, every kind of row."""
    platforms = (
        PlatformStatus(
            platform="twitch",
            creator_id="daniel",
            enabled=True,
            status="running",
            last_heartbeat=_t(3),
            last_event_at=_t(4),
            messages=120,
            triggers=7,
            actions=5,
            errors=0,
        ),
        PlatformStatus(
            platform="twitch",
            creator_id="alice",
            enabled=True,
            status="error",
            last_heartbeat=_t(8),
            error="irc: connection reset",
            messages=30,
        ),
        PlatformStatus(
            platform="youtube",
            creator_id="daniel",
            enabled=True,
            status="paused",
            paused_reason="quota buffer reached",
            last_heartbeat=_t(9),
        ),
        PlatformStatus(platform="kick", enabled=False, status="disabled"),
        PlatformStatus(platform="rumble", creator_id="daniel", enabled=True, status="inactive"),
    )
    creators = (
        CreatorView(
            creator_id="daniel",
            display_name="Daniel",
            enabled=True,
            platforms={"twitch": True, "youtube": True, "kick": False},
            created_at=_t(86_400 * 30),
            updated_at=_t(3_600),
        ),
        CreatorView(
            creator_id="alice",
            display_name="Alice ✨",
            enabled=False,
            platforms={"twitch": True},
            status="disabled",
            created_at=_t(86_400 * 3),
        ),
    )
    actors = (
        ActorStatus(path="root", kind="supervisor", state="running", started_at=BOOT),
        ActorStatus(
            path="creators/creator:daniel/twitch",
            kind="actor",
            state="running",
            restarts=2,
            last_error="ConnectionResetError: peer closed",
            started_at=_t(600),
            mailbox_depth=3,
            mailbox_peak=40,
            handled=1234,
        ),
        ActorStatus(path="clips", kind="supervisor", state="running", started_at=BOOT),
        ActorStatus(path="publisher", kind="actor", state="restarting", restarts=1),
    )
    runtime = RuntimeView(
        version="0.1.0",
        build="abc1234",
        platforms=platforms,
        creators=creators,
        actors=actors,
        restart_intent=RestartIntent(triggers=True, notes=("triggers.toml changed",)),
        replay=ReplayView(available=True, event_count=12, last_event_at=_t(100)),
    )
    clips = (
        ClipView(
            clip_id="Ab3xYz",
            creator_id="daniel",
            creator_name="Daniel",
            title="Huge play - 11/21/26 clip by viewer1 [Ab3xYz]",
            platform="twitch",
            state="published",
            created_at=_t(900),
            updated_at=_t(700),
            published_at=_t(700),
            duration_seconds=30.0,
            requested_by="viewer1",
            progress=1.0,
            destination_platform="youtube",
            destination_channel_url="https://youtube.com/@daniel",
            url="https://youtu.be/xyz",
            thumbnail_url="https://i.ytimg.com/vi/xyz/0.jpg",
        ),
        ClipView(
            clip_id="Qw9rTy",
            creator_id="daniel",
            title="Second clip",
            platform="kick",
            state="encoding",
            created_at=_t(60),
            updated_at=_t(30),
            progress=0.42,
        ),
        ClipView(
            clip_id="Zz0000",
            creator_id="alice",
            title="Broken",
            platform="twitch",
            state="failed",
            created_at=_t(3_000),
            updated_at=_t(2_900),
            last_error="ffmpeg exited with status 1",
        ),
    )
    polls = (
        PollView(
            poll_id="poll-000001",
            creator_id="daniel",
            question="Next game?",
            state="closed",
            opened_at=_t(7_200),
            closed_at=_t(6_900),
            options=(
                PollOption(option_id="poll-000001-option-2", label="Beta", votes=1, position=1),
                PollOption(option_id="poll-000001-option-1", label="Alpha", votes=3, position=0),
            ),
        ),
        PollView(
            poll_id="poll-000002",
            creator_id="daniel",
            question="Snack?",
            state="open",
            opened_at=_t(120),
            updated_at=_t(10),
            options=(
                PollOption(option_id="a", label="Chips", votes=10),
                PollOption(option_id="b", label="Fruit", votes=2, position=1),
            ),
        ),
    )
    tallies = (
        TallyView(
            tally_id="tally-000002",
            creator_id="daniel",
            label="Deaths",
            count=17,
            updated_at=_t(40),
        ),
        TallyView(
            tally_id="tally-000001",
            creator_id="alice",
            label="Hype",
            count=-3,
            updated_at=_t(4_000),
        ),
    )
    scoreboards = (
        ScoreboardView(
            scoreboard_id="scoreboard-000001",
            creator_id="daniel",
            title="Trivia",
            updated_at=_t(50),
            entries=(
                ScoreEntry(position=2, label="bob", score=7),
                ScoreEntry(position=1, label="carol", score=9.5),
            ),
        ),
    )
    jobs = (
        JobView(
            id="job-2",
            type="notification",
            creator_id="daniel",
            status="running",
            created_at=_t(20),
            updated_at=_t(15),
        ),
        JobView(
            id="job-1",
            type="clip",
            creator_id="daniel",
            status="failed",
            created_at=_t(900),
            updated_at=_t(800),
            reason="ffmpeg exited with status 1",
        ),
    )
    discord = DiscordView(
        running=True,
        connected=True,
        started_at=BOOT,
        last_heartbeat=_t(12),
        task_count=4,
        status_text="Watching chat",
        status_emoji="👀",
        guilds=(
            GuildView(
                guild_id="1234567890123456789",
                guild_name="Big guild",
                authorized_for_user=True,
                authorization_reason="admin_override",
                notifications_enabled=True,
                general_channel_id="1111111111111111111",
            ),
            GuildView(guild_id="987654321098765432", guild_name="Small guild"),
        ),
    )
    events = (
        TelemetryEvent(timestamp=_t(5), severity="info", source="twitch", message="connected"),
        TelemetryEvent(
            timestamp=_t(50), severity="warning", source="youtube", message="quota buffer reached"
        ),
        TelemetryEvent(
            timestamp=_t(500),
            severity="error",
            source="clips",
            message="ffmpeg exited with status 1",
        ),
    )
    errors = (
        ErrorView(subsystem="twitch", message="connection reset", last_seen=_t(8)),
        ErrorView(subsystem="clips", message="ffmpeg failed", last_seen=_t(500), active=False),
    )
    metrics = (
        RateMetric(key="messages.twitch", label="Twitch messages", value=42, unit="msg/min"),
        RateMetric(key="actions", label="Actions", value=1.5, unit="per min"),
    )
    chat = (
        SignalRow(
            timestamp=_t(4),
            type="chat_message",
            source="twitch",
            subject_id="msg-1",
            summary="{user}: hello",
            creator_id="daniel",
            user_id="44322889",
        ),
        SignalRow(
            timestamp=_t(2),
            type="chat_message",
            source="kick",
            subject_id="msg-2",
            summary="{user}: gg",
            creator_id="daniel",
            user_id="1009",
        ),
    )
    votes = (
        SignalRow(
            timestamp=_t(10),
            type="vote",
            source="twitch",
            subject_id="poll-000002",
            summary="{user} voted Chips",
            user_id="44322889",
        ),
    )
    tally_events = (
        SignalRow(
            timestamp=_t(40),
            type="increment",
            source="twitch",
            subject_id="tally-000002",
            summary="+1 by {user}",
            user_id="44322889",
        ),
    )
    score_events = (
        SignalRow(
            timestamp=_t(50),
            type="score",
            source="discord",
            subject_id="scoreboard-000001",
            summary="carol +2",
        ),
    )
    triggers = (
        TriggerView(
            trigger_id="t-clip",
            creator_id="daniel",
            phrase="!clip",
            module="command",
            cooldown_seconds=120,
            last_fired_at=_t(900),
        ),
        TriggerView(
            trigger_id="t-gg", creator_id="alice", phrase="gg", module="keyword", enabled=False
        ),
        TriggerView(
            trigger_id="t-re",
            creator_id="daniel",
            phrase=r"^!so\s+@?(\w+)$",
            module="regex",
            updated_at=_t(7_000),
        ),
    )
    rate_limits = (
        RateLimitView(scope="creator:daniel/twitch/chat", limit=20, window_seconds=30, used=3),
        RateLimitView(
            scope="system/discord/notifications",
            limit=5,
            window_seconds=5.0,
            status="limited",
            used=5,
            updated_at=_t(1),
        ),
    )
    integrations = (
        IntegrationView(
            integration_id="twitch:daniel",
            provider="twitch",
            scope="creator:daniel",
            status="connected",
            created_at=_t(86_400),
            last_attempt_at=_t(300),
            token_expires_at=NOW + timedelta(hours=3),
        ),
        IntegrationView(
            integration_id="discord:bot",
            provider="discord",
            scope="system",
            status="error",
            last_error="401 Unauthorized",
            token_expires_at=_t(10),
        ),
    )
    permissions = (
        PermissionView(
            principal="discord:123456789012345678",
            role="admin",
            grants=("clips.manage", "admin.all", "clips.manage"),
            created_at=_t(5_000),
        ),
        PermissionView(principal="role:moderators", role="operator", status="revoked"),
    )
    quotas = (
        QuotaView(
            platform="youtube",
            creator_id="daniel",
            used=9_700,
            max=10_000,
            buffer=500,
            reset_at=NOW.replace(hour=0, minute=0, second=0, microsecond=0),
            updated_at=_t(9),
        ),
        QuotaView(platform="youtube", creator_id="alice", used=4_321, max=10_000, buffer=500),
    )
    return ExportInputs(
        runtime=runtime,
        quotas=quotas,
        jobs=jobs,
        clips=clips,
        polls=polls,
        tallies=tallies,
        scoreboards=scoreboards,
        discord=discord,
        telemetry_events=events,
        telemetry_errors=errors,
        rate_metrics=metrics,
        rates_measured_at=_t(1),
        chat_events=chat,
        poll_votes=votes,
        tally_events=tally_events,
        score_events=score_events,
        creators=creators,
        triggers=triggers,
        rate_limits=rate_limits,
        integrations=integrations,
        permissions=permissions,
        points=(
            PointsView(
                creator_id="daniel",
                platform="twitch",
                display_name="PixelPanda",
                balance=120,
                updated_at=_t(30),
            ),
            PointsView(
                creator_id="daniel",
                platform="youtube",
                display_name="Sam",
                balance=80,
                updated_at=_t(40),
            ),
        ),
        quotes=(
            QuoteView(
                creator_id="daniel",
                number=2,
                text="The lava was a surprise",
                added_by="Mod",
                platform="twitch",
                added_at=_t(500),
            ),
        ),
        giveaways=(
            GiveawayView(
                giveaway_id="daniel-1",
                creator_id="daniel",
                prize="A mug",
                state="closed",
                entry_cost=5,
                subscribers_only=False,
                subscriber_tickets=3,
                entrants=2,
                tickets=4,
                winners=(
                    GiveawayWinner(draw=1, display_name="Sam", platform="youtube", drawn_at=_t(60)),
                ),
                opened_at=_t(900),
                closed_at=_t(50),
                updated_at=_t(50),
            ),
        ),
        timers=(
            TimerView(
                timer_id="socials",
                creator_id="daniel",
                interval_minutes=15,
                min_chat_lines=5,
                messages=2,
                platforms=("twitch",),
                enabled=True,
                posts=3,
                last_posted_at=_t(70),
            ),
        ),
        filters=(
            FilterView(
                filter_id="links",
                creator_id="daniel",
                kind="links",
                action="delete",
                exempt=("moderator",),
                enabled=True,
                hits=1,
                last_hit_at=_t(80),
            ),
        ),
    )


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def ctx() -> ExportContext:
    return ExportContext(now=NOW, started_at=BOOT, version="0.1.0")


@pytest.fixture
def key() -> bytes:
    return KEY


@pytest.fixture
def inputs() -> ExportInputs:
    return realistic_inputs()
