"""Conformance: every record of helix.jsonl through actors.twitch.helix.

One case per record; every `expect` key is compared (../shared/corpus/README.md, "helix.jsonl
conventions"). Records of endpoints with a dedicated parser also go through it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from actors.twitch.eventsub import parse_timestamp
from actors.twitch.helix import (
    HELIX_BASE,
    helix_request,
    parse_clips,
    parse_response,
    parse_send_chat_message,
    parse_streams_page,
)

DATA = Path(__file__).parent / "data" / "helix.jsonl"
RECORDS = [json.loads(line) for line in DATA.read_text("utf-8").splitlines() if line.strip()]

CHECKED = {
    "http_status",
    "request_uri",
    "data_count",
    "first",
    "data",
    "pagination_cursor",
    "total",
    "error",
    "status",
    "message",
    "empty_body",
}
# Keys deliberately not checked, with the reason. Empty: every corpus key is covered. A key
# in neither set fails the test, so new corpus keys are noticed.
NOT_CHECKED: dict[str, str] = {}

HEADERS = {"ratelimit-limit": "800", "RATELIMIT-REMAINING": "799", "Ratelimit-Reset": "1700000000"}


def flatten(obj: Any, depth: int) -> dict[str, Any]:
    """The corpus convention: dotted keys `depth` levels deep; lists as `.length` + 3 items."""
    out: dict[str, Any] = {}

    def emit(key: str, value: Any, level: int) -> None:
        if level > depth:
            return
        if isinstance(value, dict):
            for k, v in value.items():
                emit(f"{key}.{k}" if key else k, v, level + 1)
        elif isinstance(value, list):
            out[f"{key}.length"] = len(value)
            for i, item in enumerate(value[:3]):
                emit(f"{key}.{i}", item, level + 1)
        else:
            out[key] = value

    emit("", obj, 0)
    return out


@pytest.mark.parametrize(
    "record",
    RECORDS,
    ids=[f"{i:02d}-{urlsplit(r['expect']['request_uri']).path}" for i, r in enumerate(RECORDS)],
)
def test_record(record: dict[str, Any]) -> None:
    expect = record["expect"]
    unknown = set(expect) - CHECKED - set(NOT_CHECKED)
    assert not unknown, f"expect keys neither checked nor excused: {unknown}"
    status = expect["http_status"]
    raw = record["raw"].encode("utf-8")

    # request_uri: rebuilt by the request builder from its path and ordered params. The
    # source's URIs end in "?" when there are no params; ours have no "?" then.
    split = urlsplit(expect["request_uri"])
    path = split.path.removeprefix(urlsplit(HELIX_BASE).path)
    request = helix_request("GET", path, parse_qsl(split.query), client_id="cid", token="tok")
    assert request.full_url == expect["request_uri"].removesuffix("?")

    resp = parse_response(status, HEADERS, raw)
    assert resp.status == status
    assert resp.rate_limit is not None and resp.rate_limit.remaining == 799
    if expect.get("empty_body"):
        assert resp.data is None and resp.body is None and resp.error is None
    if "error" in expect:
        assert resp.error is not None and not resp.ok
        assert resp.error.error == expect["error"]
        assert resp.error.status == expect["status"]
        assert resp.error.message == expect["message"]
    if "data_count" in expect:
        assert isinstance(resp.data, list) and len(resp.data) == expect["data_count"]
    if "first" in expect:
        assert flatten(resp.data[0], 2) == expect["first"]  # type: ignore[index]
    if "data" in expect:
        assert flatten(resp.data, 2) == expect["data"]
    if "pagination_cursor" in expect:
        assert resp.cursor == expect["pagination_cursor"]
    if "total" in expect:
        assert resp.total == expect["total"]

    # Endpoint parsers.
    if path == "/streams":
        page = parse_streams_page(status, HEADERS, raw)
        assert len(page.streams) == expect["data_count"]
        assert page.cursor == expect.get("pagination_cursor")
        first, stream = expect["first"], page.streams[0]
        for key in (
            "id",
            "user_id",
            "user_login",
            "user_name",
            "game_id",
            "game_name",
            "type",
            "title",
            "viewer_count",
            "language",
            "thumbnail_url",
            "is_mature",
        ):
            assert getattr(stream, key) == first[key], key
        assert stream.started_at == parse_timestamp(first["started_at"])
        assert len(stream.tags) == first["tags.length"]
        assert stream.tags[0] == first["tags.0"]
    elif path == "/chat/messages":
        sent = parse_send_chat_message(status, HEADERS, raw)
        assert sent.message_id == expect["first"]["message_id"]
        assert sent.is_sent is expect["first"]["is_sent"]
        assert sent.drop_code is None
    elif path == "/clips":
        (clip,) = parse_clips(status, HEADERS, raw)
        first = expect["first"]
        assert (clip.id, clip.url, clip.broadcaster_id, clip.creator_id, clip.title) == (
            first["id"],
            first["url"],
            first["broadcaster_id"],
            first["creator_id"],
            first["title"],
        )
        assert clip.duration == first["duration"]
        assert clip.created_at == parse_timestamp(first["created_at"])
