"""The JSON Schemas: present for every file, valid, and strict enough to catch mistakes."""

from __future__ import annotations

import copy
from importlib import resources
from typing import Any

import jsonschema
import pytest

from exports import views
from exports.builders import ExportInputs, build_all
from exports.files import FILES, ExportContext, get_file
from exports.schemas import load_schema, validate


@pytest.fixture
def docs(ctx: ExportContext, key: bytes, inputs: ExportInputs) -> dict[str, dict[str, Any]]:
    return build_all(ctx, inputs, pseudonym_key=key)


def test_one_schema_per_file_and_nothing_else() -> None:
    shipped = {
        p.name
        for p in resources.files("exports.schemas").iterdir()
        if p.name.endswith(".schema.json")
    }
    assert shipped == {f.schema_filename for f in FILES}


@pytest.mark.parametrize("file", FILES, ids=lambda f: f.path)
def test_schema_is_valid_draft_2020_12(file: Any) -> None:
    schema = load_schema(file)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["meta"]["properties"]["schema"] == {"const": file.schema}
    assert {"meta", "generated_at"} <= set(schema["required"])


def test_load_schema_by_path_or_entry_returns_fresh_copies() -> None:
    a = load_schema("discord/runtime.json")
    a["title"] = "changed"
    assert load_schema(get_file("discord/runtime.json"))["title"] != "changed"
    with pytest.raises(KeyError):
        load_schema("nope.json")


def _mutations() -> list[tuple[str, str, Any]]:
    """(file, description, mutator) triples that must each fail validation."""

    def drop(*path: Any) -> Any:
        def mutate(doc: dict) -> None:
            target = doc
            for part in path[:-1]:
                target = target[part]
            del target[path[-1]]

        return mutate

    def put(value: Any, *path: Any) -> Any:
        def mutate(doc: dict) -> None:
            target = doc
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] = value

        return mutate

    return [
        ("clips.json", "unknown clip state", put("done", "clips", 0, "state")),
        ("clips.json", "epoch timestamp", put(1_763_749_805, "clips", 0, "created_at")),
        ("clips.json", "second precision", put("2026-11-21T18:30:05Z", "clips", 0, "created_at")),
        (
            "clips.json",
            "offset instead of Z",
            put("2026-11-21T18:30:05.120+00:00", "clips", 0, "updated_at"),
        ),
        ("clips.json", "progress above 1", put(1.5, "clips", 0, "progress")),
        ("clips.json", "missing title", drop("clips", 0, "title")),
        ("clips.json", "wrong visibility", put("dashboard-only", "meta", "visibility")),
        ("clips.json", "missing meta.source", drop("meta", "source")),
        ("clips.json", "bad source", put("StreamSuites runtime", "meta", "source")),
        ("clips.json", "missing generated_at", drop("generated_at")),
        ("quotas.json", "used as string", put("12", "used")),
        ("quotas.json", "missing summary platform", drop("platform")),
        ("quotas.json", "bad status", put("warning", "platforms", 0, "status")),
        (
            "runtime_snapshot.json",
            "polling flag as object",
            put({"enabled": True}, "system", "platform_polling_enabled"),
        ),
        (
            "runtime_snapshot.json",
            "unknown platform status",
            put("connected", "platforms", 0, "status"),
        ),
        ("runtime_snapshot.json", "missing heartbeat", drop("heartbeat")),
        (
            "discord/runtime.json",
            "integer guild id",
            put(1234567890123456789, "guilds", 0, "guild_id"),
        ),
        (
            "discord/runtime.json",
            "bad authorization reason",
            put("owner", "guilds", 0, "authorization_reason"),
        ),
        ("telemetry/events.json", "bad severity", put("critical", "events", 0, "severity")),
        ("telemetry/rates.json", "value as string", put("42", "metrics", 0, "value")),
        ("polls.json", "negative votes", put(-1, "polls", 0, "options", 0, "votes")),
        ("jobs.json", "bad job status", put("done", "jobs", 0, "status")),
        (
            "chat_events.json",
            "raw user id instead of pseudonym",
            put("44322889", "items", 0, "user"),
        ),
        (
            "creators.json",
            "platform flag as string",
            put({"twitch": "yes"}, "creators", 0, "platforms_enabled"),
        ),
        ("permissions.json", "duplicate grants", put(["a", "a"], "items", 0, "grants")),
        ("meta.json", "empty manifest", put([], "exports")),
        ("tallies.json", "extra field", put("x", "tallies", 0, "user_id")),
    ]


@pytest.mark.parametrize(
    ("path", "mutate"),
    [(p, m) for p, _, m in _mutations()],
    ids=[f"{p}: {d}" for p, d, _ in _mutations()],
)
def test_schema_rejects(path: str, mutate: Any, docs: dict[str, dict[str, Any]]) -> None:
    doc = copy.deepcopy(docs[path])
    validate(path, doc)  # valid before the mutation
    mutate(doc)
    with pytest.raises(jsonschema.ValidationError):
        validate(path, doc)


def test_top_level_generated_at_must_match_meta(docs: dict[str, dict[str, Any]]) -> None:
    doc = copy.deepcopy(docs["polls.json"])
    doc["generated_at"] = "2026-01-01T00:00:00.000Z"
    with pytest.raises(ValueError, match="differs"):
        validate("polls.json", doc)


def _enum(schema: dict, *path: str) -> set[str]:
    node: Any = schema
    for part in path:
        node = node[part]
    return set(node["enum"])


def test_schema_enums_match_the_views() -> None:
    snap = load_schema("runtime_snapshot.json")["properties"]
    assert _enum(snap, "platforms", "items", "properties", "status") == views.PLATFORM_STATUSES
    assert _enum(snap, "actors", "items", "properties", "state") == views.ACTOR_STATES
    clips = load_schema("clips.json")["properties"]
    assert _enum(clips, "clips", "items", "properties", "state") == views.CLIP_STATES
    jobs = load_schema("jobs.json")["properties"]
    assert _enum(jobs, "jobs", "items", "properties", "status") == views.JOB_STATUSES
    guilds = load_schema("discord/runtime.json")["properties"]["guilds"]["items"]["properties"]
    assert set(guilds["authorization_reason"]["enum"]) == views.AUTHORIZATION_REASONS
