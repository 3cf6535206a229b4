"""No secret, token, stream key or raw user id where it must not be."""

from __future__ import annotations

from datetime import datetime

import attrs
import pytest

from exports.builders import ExportInputs, build_all
from exports.canonical import canonical_bytes
from exports.files import FILES, ExportContext, Visibility
from exports.schemas import validate
from exports.scrub import MASK, pseudonymize, redact_text, scrub
from exports.views import ActorStatus, ErrorView, SignalRow, TelemetryEvent

SECRET = "tok_Sup3rS3cretValue_0042"  # a configured secret (e.g. from { env = ... })
STREAM_KEY = "live_123456789_AbCdEfGhIjKlMnOpQrSt"  # not configured: caught by its shape
OAUTH = "oauth:abcdefghijklmnopqrstuvwxyz0123"
RAW_USER = "77777777123"


def _planted(inputs: ExportInputs, now: datetime) -> ExportInputs:
    """Put secrets in every free-text field a careless caller could fill."""
    leak = f"failed with {SECRET} using rtmp://live.twitch.tv/app/{STREAM_KEY} and {OAUTH}"
    clips = tuple(
        attrs.evolve(c, title=f"{c.title} {SECRET}", last_error=leak, requested_by=SECRET)
        for c in inputs.clips
    )
    polls = tuple(attrs.evolve(p, question=f"{p.question} {SECRET}") for p in inputs.polls)
    tallies = tuple(attrs.evolve(t, label=f"{t.label} {STREAM_KEY}") for t in inputs.tallies)
    jobs = tuple(attrs.evolve(j, reason=leak) for j in inputs.jobs)
    triggers = tuple(attrs.evolve(t, phrase=f"!say {SECRET}") for t in inputs.triggers)
    integrations = tuple(attrs.evolve(i, last_error=leak) for i in inputs.integrations)
    assert inputs.runtime is not None
    runtime = attrs.evolve(
        inputs.runtime,
        actors=(
            *inputs.runtime.actors,
            ActorStatus(path="leaky", kind="actor", state="failed", last_error=leak),
        ),
    )
    signal = SignalRow(
        timestamp=now,
        type="chat_message",
        source="twitch",
        subject_id="m-9",
        summary=f"{RAW_USER} said {SECRET}",
        user_id=RAW_USER,
    )
    return attrs.evolve(
        inputs,
        runtime=runtime,
        clips=clips,
        polls=polls,
        tallies=tallies,
        jobs=jobs,
        triggers=triggers,
        integrations=integrations,
        discord=attrs.evolve(inputs.discord, status_text=SECRET),
        telemetry_events=(
            *inputs.telemetry_events,
            TelemetryEvent(timestamp=now, severity="error", source="x", message=leak),
        ),
        telemetry_errors=(
            *inputs.telemetry_errors,
            ErrorView(subsystem="x", message=leak, last_seen=now),
        ),
        chat_events=(*inputs.chat_events, signal),
        poll_votes=(*inputs.poll_votes, attrs.evolve(signal, subject_id="poll-000002")),
        tally_events=(*inputs.tally_events, attrs.evolve(signal, subject_id="tally-000002")),
        score_events=(*inputs.score_events, attrs.evolve(signal, subject_id="scoreboard-000001")),
    )


@pytest.fixture
def files(inputs: ExportInputs, now: datetime, key: bytes) -> dict[str, bytes]:
    ctx = ExportContext(now=now, started_at=now, secrets={SECRET})
    docs = build_all(ctx, _planted(inputs, now), pseudonym_key=key)
    for path, doc in docs.items():
        validate(path, doc)  # scrubbing never breaks a file
    return {path: canonical_bytes(doc) for path, doc in docs.items()}


def test_secrets_appear_in_no_file(files: dict[str, bytes]) -> None:
    for path, data in files.items():
        text = data.decode()
        for needle in (SECRET, STREAM_KEY, OAUTH, "AbCdEfGhIjKlMnOpQrSt"):
            assert needle not in text, (path, needle)
    assert MASK in files["clips.json"].decode()


def test_masked_text_keeps_its_context(files: dict[str, bytes]) -> None:
    assert "rtmp://live.twitch.tv/app/" + MASK in files["jobs.json"].decode()


def test_no_raw_user_id_in_public_or_signal_files(files: dict[str, bytes]) -> None:
    signal_files = {"chat_events.json", "poll_votes.json", "tally_events.json", "score_events.json"}
    checked = 0
    for f in FILES:
        if f.visibility is Visibility.PUBLIC or f.path in signal_files:
            text = files[f.path].decode()
            for raw in (RAW_USER, "44322889", "1009"):
                assert raw not in text, (f.path, raw)
            checked += 1
    assert checked == 11


def test_signal_rows_carry_the_pseudonym(files: dict[str, bytes], key: bytes) -> None:
    text = files["chat_events.json"].decode()
    assert pseudonymize(RAW_USER, key) in text
    assert f"{pseudonymize(RAW_USER, key)} said {MASK}" in text


def test_a_stray_user_id_field_in_a_public_file_fails_its_schema(
    inputs: ExportInputs, ctx: ExportContext, key: bytes
) -> None:
    import jsonschema

    doc = build_all(ctx, inputs, pseudonym_key=key)["clips.json"]
    doc["clips"][0]["user_id"] = RAW_USER
    with pytest.raises(jsonschema.ValidationError):
        validate("clips.json", doc)


def test_pseudonymize_is_keyed_and_stable(key: bytes) -> None:
    a = pseudonymize("44322889", key)
    assert a == pseudonymize("44322889", key)
    assert a != pseudonymize("44322889", b"another key of 16+ bytes")
    assert a != pseudonymize("44322880", key)
    assert len(a) == 18 and a.startswith("u_")
    with pytest.raises(ValueError):
        pseudonymize("1", b"short")
    with pytest.raises(TypeError):
        pseudonymize(1234, key)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /x?access_token=abc123&y=1", f"GET /x?access_token={MASK}&y=1"),
        ("Authorization: Bearer abcdefghijkl", f"Authorization: Bearer {MASK}"),
        ("https://bob:hunter22@example.com/x", f"https://{MASK}@example.com/x"),
        (f"PASS {OAUTH}", f"PASS {MASK}"),
        ("client_secret=xyz", f"client_secret={MASK}"),
        ("nothing to see here", "nothing to see here"),
        ("2026-11-21T18:30:05.120Z", "2026-11-21T18:30:05.120Z"),
    ],
)
def test_redact_patterns(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_short_known_secrets_are_ignored() -> None:
    # Masking "abc" everywhere would mangle ids and timestamps; such a value is no credential.
    assert redact_text("abc and 2026", secrets=["abc", "2026"]) == "abc and 2026"


def test_scrub_walks_nested_values_and_keeps_keys() -> None:
    value = {"token": ["x " + SECRET, 3, None, {"k": SECRET}], "n": 1.5}
    assert scrub(value, [SECRET]) == {"token": [f"x {MASK}", 3, None, {"k": MASK}], "n": 1.5}


def test_the_marker_search_of_a_long_text_finds_what_a_search_for_each_marker_finds() -> None:
    import random

    from exports.scrub import _MARKERS, _has_marker

    rng = random.Random(11)
    pieces = [*_MARKERS, "bearer", "bot", ":/", "webhooks", "live", "oauth"[:4], " ", "/", "x"]
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(6)))
        assert _has_marker(text) == any(marker in text for marker in _MARKERS), text
