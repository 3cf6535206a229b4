"""Conformance: real YouTube Data API bodies (tests/conformance/data/youtube.jsonl).

One case per record. Every `expect` key is either compared against the parser's output or
listed in NOT_CHECKED with the reason; an unknown key fails the case.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from actors.events import ChatEvent, PaidMessageEvent
from actors.youtube.livechat import (
    ErrorAction,
    error_action,
    parse_active_chat_id,
    parse_broadcasts,
    parse_error,
    parse_live_streaming_details,
    parse_messages,
    parse_time,
)

DATA = Path(__file__).parent / "data" / "youtube.jsonl"
RECORDS = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line]

# Keys this suite deliberately does not compare, and why.
NOT_CHECKED = {
    # Response `kind` strings identify the resource type; the parsers are chosen by the call
    # that was made, so they do not read or keep them.
    "kind": "resource kind is implied by the call; not kept by the parsers",
    # Video metadata the chat actor does not use (it needs only liveStreamingDetails).
    "title@video": "video title is not used by the chat actor",
    "channel_id@video": "video owner is not used by the chat actor (known from config)",
    "live_broadcast_content": "liveStreamingDetails.activeLiveChatId is the liveness signal",
    "etag@video": "per-video etags are not used (no conditional requests)",
    # Error records carry no HTTP status in `context`; error.code stands in for it below.
    "error_status": "not present in the records; error.code is used as the status",
}

LIST_KEYS = {
    "etag",
    "next_page_token",
    "polling_interval_millis",
    "total_results",
    "results_per_page",
    "items_count",
    "items",
    "offline_at",
}


def _id(record: dict[str, Any]) -> str:
    return f"{record.get('kind')}:{record.get('test') or record['source']}"


def _ignored(key: str, where: str) -> bool:
    return key in NOT_CHECKED or f"{key}@{where}" in NOT_CHECKED


@pytest.mark.parametrize("record", RECORDS, ids=[_id(r) for r in RECORDS])
def test_record(record: dict[str, Any]) -> None:
    expect = record["expect"]
    body = json.loads(record["raw"])
    kind = record.get("kind", "")
    if kind == "error" or "error_code" in expect:
        _check_error(body, expect)
    elif kind.startswith("liveBroadcasts"):
        _check_broadcasts(body, expect)
    elif kind.startswith("videos"):
        _check_video(body, expect)
    elif kind.startswith("liveChatMessages") or body.get("kind", "").startswith(
        "youtube#liveChatMessage"
    ):
        _check_messages(body, expect)
    else:
        pytest.fail(f"no checker for record kind {kind!r}")


def _check_error(body: dict[str, Any], expect: dict[str, Any]) -> None:
    checked = {"error_code", "error_message", "reasons", "domains"}
    unknown = {k for k in expect if k not in checked and not _ignored(k, "error")}
    assert not unknown, f"expect keys neither checked nor listed: {unknown}"
    err = parse_error(expect["error_code"], body)
    assert err.status == expect["error_code"]
    assert err.code == expect["error_code"]
    assert err.message == expect["error_message"]
    assert list(err.reasons) == expect["reasons"]
    assert list(err.domains) == expect["domains"]
    assert err.reason == (expect["reasons"][0] if expect["reasons"] else None)
    assert err.domain == (expect["domains"][0] if expect["domains"] else None)
    assert isinstance(error_action(err), ErrorAction)


def _check_broadcasts(body: dict[str, Any], expect: dict[str, Any]) -> None:
    unknown = {k for k in expect if k not in LIST_KEYS and not _ignored(k, "broadcasts")}
    assert not unknown, f"expect keys neither checked nor listed: {unknown}"
    result = parse_broadcasts(body)
    assert result.etag == expect["etag"]
    assert result.total_results == expect["total_results"]
    assert result.results_per_page == expect["results_per_page"]
    assert len(result.items) == expect["items_count"]
    assert len(result.items) == len(expect["items"])
    for got, want in zip(result.items, expect["items"], strict=True):
        for key, value in want.items():
            actual = getattr(got, key)
            if key.endswith("_time"):
                assert actual == parse_time(value)
            else:
                assert actual == value, key


def _check_video(body: dict[str, Any], expect: dict[str, Any]) -> None:
    checked = {"id", "live_streaming_details"}
    unknown = {k for k in expect if k not in checked and not _ignored(k, "video")}
    assert not unknown, f"expect keys neither checked nor listed: {unknown}"
    details = parse_live_streaming_details(body)
    raw = expect["live_streaming_details"]
    if raw is None:
        assert details is None
        assert parse_active_chat_id(body) is None
        return
    assert details is not None
    assert details.video_id == expect["id"]
    assert details.active_live_chat_id == raw.get("activeLiveChatId")
    assert parse_active_chat_id(body) == raw.get("activeLiveChatId")
    for wire, attr in [
        ("actualStartTime", "actual_start_time"),
        ("actualEndTime", "actual_end_time"),
        ("scheduledStartTime", "scheduled_start_time"),
    ]:
        assert getattr(details, attr) == parse_time(raw.get(wire))
    viewers = raw.get("concurrentViewers")
    assert details.concurrent_viewers == (None if viewers is None else int(viewers))
    # The same body wrapped as a videos.list response gives the same answer.
    assert parse_active_chat_id({"items": [body]}) == raw.get("activeLiveChatId")


# Item keys of liveChatMessages records (see corpus README) and how they are compared.
_ITEM_CHECKED = {
    "message_id",
    "type",
    "live_chat_id",
    "author_channel_id",
    "published_at",
    "text",
    "super_chat",
    "author",
}
_ITEM_NOT_CHECKED = {
    "has_display_content": "not kept in normalized events",
    "display_message": "only used as text for notices; the typed details are compared instead",
    # Sub-keys: super_chat.tier and author.is_verified / channel_id have no normalized field
    # (author.channel_id duplicates author_channel_id, which is compared).
}


def _check_messages(body: dict[str, Any], expect: dict[str, Any]) -> None:
    if "items" not in body and "snippet" in body:
        # A single liveChatMessage resource rather than a list response.
        body = {"items": [body]}
        if "items" not in expect:
            item_keys = {
                k: v for k, v in expect.items() if k in _ITEM_CHECKED | set(_ITEM_NOT_CHECKED)
            }
            expect = {k: v for k, v in expect.items() if k not in item_keys}
            expect["items"] = [item_keys]
    unknown = {k for k in expect if k not in LIST_KEYS and not _ignored(k, "messages")}
    assert not unknown, f"expect keys neither checked nor listed: {unknown}"
    page = parse_messages(body)
    if "next_page_token" in expect:
        assert page.next_page_token == expect["next_page_token"]
    if "polling_interval_millis" in expect:
        assert page.polling_interval_ms == expect["polling_interval_millis"]
    if "etag" in expect:
        assert page.etag == expect["etag"]
    if "total_results" in expect:
        assert page.total_results == expect["total_results"]
    if "results_per_page" in expect:
        assert page.results_per_page == expect["results_per_page"]
    if "offline_at" in expect:
        assert page.offline_at == parse_time(expect["offline_at"])
    items = expect.get("items", [])
    if "items_count" in expect:
        assert len(page.events) + page.skipped == expect["items_count"]
    assert len(page.events) == len(items)
    for event, want in zip(page.events, items, strict=True):
        unknown = set(want) - _ITEM_CHECKED - set(_ITEM_NOT_CHECKED)
        assert not unknown, f"item keys neither checked nor listed: {unknown}"
        assert event.message_id == want["message_id"]
        assert event.raw_type == want["type"]
        assert event.channel == want["live_chat_id"]
        if want.get("published_at") is not None:
            assert event.sent_at == parse_time(want["published_at"])
        if "author_channel_id" in want:
            assert getattr(event, "user_id", None) == want["author_channel_id"]
        if "text" in want and want["text"] is not None:
            assert isinstance(event, ChatEvent)
            assert event.text == want["text"]
        if want.get("super_chat"):
            sc = want["super_chat"]
            assert isinstance(event, PaidMessageEvent)
            assert event.amount_micros == int(sc["amount_micros"])
            assert event.currency == sc["currency"]
            assert event.amount_display == sc.get("amount_display_string")
            assert event.text == sc.get("user_comment")
        if want.get("author"):
            author = want["author"]
            assert event.display_name == author["display_name"]
            roles = getattr(event, "roles", None)
            if roles is not None:
                assert ("broadcaster" in roles) == bool(author.get("is_chat_owner"))
                assert ("moderator" in roles) == bool(author.get("is_chat_moderator"))
                assert ("member" in roles) == bool(author.get("is_chat_sponsor"))
