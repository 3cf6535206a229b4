"""`EventSubStatistics` and its `TelemetryNote`s, as the publisher reads them (`telemetry_rows`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal, get_args

import pytest

from actors import TreeRow
from actors.connection import ConnectionState
from actors.publisher import telemetry_rows
from actors.store import StoreStatistics
from actors.telemetry import Severity, TelemetryNote
from actors.twitch.statistics import EventSubStatistics
from exports.views import SEVERITIES, TelemetryEvent

AT = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)


def note(message: str, *, severity: Severity = "info", at: datetime = AT) -> TelemetryNote:
    return TelemetryNote(
        timestamp=at, severity=severity, source="twitch-events:daniel:events", message=message
    )


def statistics(
    *notes: TelemetryNote, role: Literal["events", "chat"] = "events"
) -> EventSubStatistics:
    return EventSubStatistics(
        role=role,
        creator_id="daniel",
        channel="daniel",
        status="running",
        state=ConnectionState.CONNECTED,
        since=AT,
        connected=True,
        telemetry_events=notes,
    )


def test_a_note_takes_the_severities_the_telemetry_export_takes() -> None:
    assert frozenset(get_args(Severity)) == SEVERITIES


@pytest.mark.parametrize(
    "fields",
    [
        {"timestamp": AT.replace(tzinfo=None)},  # naive: the export needs an aware time
        {"severity": "fatal"},
        {"source": ""},
    ],
)
def test_a_note_the_export_would_refuse_is_refused_when_made(fields: dict[str, object]) -> None:
    values: dict[str, object] = {
        "timestamp": AT,
        "severity": "info",
        "source": "twitch-events:daniel:events",
        "message": "hello",
        **fields,
    }
    with pytest.raises(ValueError):
        TelemetryNote(**values)  # type: ignore[arg-type]


def test_telemetry_rows_turn_every_eventsub_actors_notes_into_events_in_order() -> None:
    first = note("EventSub connected: 3 subscriptions")
    second = note("Twitch revoked channel.follow", severity="error", at=AT + timedelta(seconds=1))
    chat = note("handover socket failed: OSError", severity="warning")
    tree = [
        TreeRow(
            path="root/creators/daniel/twitch-events",
            kind="actor",
            state="running",
            detail=statistics(first, second),
        ),
        # Rows of other actors (other statistics, none at all) list no notes.
        TreeRow(
            path="root/store",
            kind="actor",
            state="running",
            detail=StoreStatistics(writes=0, commits=0, failed_ops=0, file_size=None),
        ),
        TreeRow(path="root/creators", kind="supervisor", state="running"),
        TreeRow(
            path="root/creators/daniel/twitch",
            kind="actor",
            state="running",
            detail=statistics(chat, role="chat"),
        ),
    ]
    assert telemetry_rows(tree) == tuple(
        TelemetryEvent(
            timestamp=n.timestamp, severity=n.severity, source=n.source, message=n.message
        )
        for n in (first, second, chat)
    )
