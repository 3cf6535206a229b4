"""The file registry, the meta block and the build context."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from exports.files import (
    FILES,
    ExportContext,
    Visibility,
    build_meta,
    get_file,
    source_string,
)

# The table of docs/exports.md, verbatim.
EXPECTED = {
    "runtime_snapshot.json": "dashboard-only",
    "quotas.json": "dashboard-only",
    "jobs.json": "dashboard-only",
    "clips.json": "public",
    "polls.json": "public",
    "tallies.json": "public",
    "points.json": "public",
    "quotes.json": "public",
    "giveaways.json": "dashboard-only",
    "scoreboards.json": "public",
    "discord/runtime.json": "dashboard-only",
    "telemetry/events.json": "dashboard-only",
    "telemetry/errors.json": "dashboard-only",
    "telemetry/rates.json": "dashboard-only",
    "chat_events.json": "dashboard-only",
    "poll_votes.json": "dashboard-only",
    "tally_events.json": "dashboard-only",
    "score_events.json": "dashboard-only",
    "creators.json": "dashboard-only",
    "chat_triggers.json": "dashboard-only",
    "rate_limits.json": "dashboard-only",
    "integrations.json": "internal-only",
    "permissions.json": "internal-only",
    "meta.json": "public",
}


def test_registry_matches_the_documented_table() -> None:
    assert {f.path: str(f.visibility) for f in FILES} == EXPECTED


def test_registry_is_sorted_and_unique() -> None:
    paths = [f.path for f in FILES]
    assert paths == sorted(paths)
    assert len({f.schema for f in FILES}) == len(FILES)
    assert len({f.scope for f in FILES}) == len(FILES)
    assert len({f.schema_filename for f in FILES}) == len(FILES)


def test_schema_names_and_descriptions() -> None:
    for f in FILES:
        assert re.fullmatch(r"streamsuites\.[a-z_]+\.v1", f.schema), f
        assert f.description
    assert get_file("clips.json").schema == "streamsuites.clips.v1"
    assert get_file("clips.json").scope == "clips"
    assert get_file("discord/runtime.json").schema_filename == "discord_runtime.schema.json"


def test_get_file_unknown() -> None:
    with pytest.raises(KeyError, match="unknown export file"):
        get_file("secrets.json")


def test_build_meta(ctx: ExportContext, now: datetime) -> None:
    meta = build_meta(get_file("clips.json"), ctx, now - timedelta(seconds=5))
    assert meta == {
        "schema": "streamsuites.clips.v1",
        "generated_at": "2026-11-21T18:30:00.120Z",
        "source": "streamsuites-runtime/0.1.0",
        "visibility": "public",
        "scope": "clips",
    }
    assert type(meta["visibility"]) is str  # plain str, not the enum


def test_build_meta_never_in_the_future(ctx: ExportContext, now: datetime) -> None:
    meta = build_meta(get_file("jobs.json"), ctx, now + timedelta(days=1))
    assert meta["generated_at"] == "2026-11-21T18:30:05.120Z"


def test_source_string() -> None:
    assert source_string("1.2.3") == "streamsuites-runtime/1.2.3"


def test_context_validation(now: datetime) -> None:
    with pytest.raises(ValueError):
        ExportContext(now=now.replace(tzinfo=None), started_at=now)
    with pytest.raises(ValueError):
        ExportContext(now=now, started_at=now + timedelta(seconds=1))
    ctx = ExportContext(now=now, started_at=now, secrets=["a", "b"])
    assert ctx.secrets == frozenset({"a", "b"})


def test_visibility_values() -> None:
    assert [v.value for v in Visibility] == ["public", "dashboard-only", "internal-only"]


def test_context_secrets_must_not_be_a_lone_string(now: datetime) -> None:
    with pytest.raises(TypeError):
        ExportContext(now=now, started_at=now, secrets="a-long-secret-token")
