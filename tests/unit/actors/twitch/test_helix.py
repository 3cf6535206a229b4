"""Unit tests for actors.twitch.helix (sans-IO Helix and OAuth helpers)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest

from actors.twitch.helix import (
    CLIP_MAX_SECONDS,
    CLIP_MIN_SECONDS,
    HelixApiError,
    HelixParseError,
    app_token_request,
    clip_is_overdue,
    create_clip_request,
    get_clips_request,
    helix_request,
    next_page,
    parse_app_token,
    parse_create_clip,
    parse_error,
    parse_rate_limit,
    parse_response,
    parse_send_chat_message,
    parse_streams_page,
    send_chat_message_request,
    streams_requests,
)

AUTH: dict[str, Any] = {"client_id": "cid123", "token": "tok-secret"}


def _values(request, name: str) -> list[str]:
    return [v for k, v in request.params if k == name]


# --------------------------------------------------------------------------- requests


def test_big_watchlist_is_batched_into_requests_of_100() -> None:
    logins = [f"User{i}" for i in range(250)]
    requests = streams_requests(user_logins=logins, **AUTH)
    assert [len(_values(r, "user_login")) for r in requests] == [100, 100, 50]
    assert _values(requests[0], "user_login")[0] == "user0"  # lowercased, order kept
    assert all(
        r.method == "GET" and r.url == "https://api.twitch.tv/helix/streams" for r in requests
    )
    assert _values(requests[0], "first") == ["100"]


def test_duplicates_are_dropped_and_each_request_has_one_filter_kind() -> None:
    requests = streams_requests(
        user_logins=["a", "A", "b"], user_ids=["1", "1"], game_ids=["509658"], **AUTH
    )
    kinds = [{k for k, _ in r.params} - {"first"} for r in requests]
    assert kinds == [{"user_login"}, {"user_id"}, {"game_id"}]
    assert _values(requests[0], "user_login") == ["a", "b"]
    assert _values(requests[1], "user_id") == ["1"]


def test_params_repeat_in_the_query_string() -> None:
    (request,) = streams_requests(user_ids=["11111", "44444"], **AUTH)
    assert request.full_url == (
        "https://api.twitch.tv/helix/streams?user_id=11111&user_id=44444&first=100"
    )


def test_no_filter_gives_one_unfiltered_request() -> None:
    (request,) = streams_requests(first=20, **AUTH)
    assert request.params == (("first", "20"),)


@pytest.mark.parametrize("bad", ["", "  ", "two words"])
def test_blank_or_spaced_login_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        streams_requests(user_logins=[bad], **AUTH)


def test_first_outside_1_to_100_is_refused() -> None:
    with pytest.raises(ValueError):
        streams_requests(first=101, **AUTH)


def test_requests_carry_client_id_and_bearer_but_never_show_the_token() -> None:
    (request,) = streams_requests(user_logins=["x"], **AUTH)
    assert dict(request.headers) == {"Authorization": "Bearer tok-secret", "Client-Id": "cid123"}
    assert "tok-secret" not in repr(request)


def test_next_page_sets_after_and_stops_without_cursor() -> None:
    (request,) = streams_requests(game_ids=["1"], **AUTH)
    page2 = next_page(request, "CURSOR1")
    assert page2 is not None and _values(page2, "after") == ["CURSOR1"]
    page3 = next_page(page2, "CURSOR2")
    assert page3 is not None and _values(page3, "after") == ["CURSOR2"]
    assert _values(page3, "game_id") == ["1"]
    assert next_page(page3, None) is None and next_page(page3, "") is None


# --------------------------------------------------------------------------- responses


def test_rate_limit_headers_are_read_in_any_case() -> None:
    rl = parse_rate_limit(
        {"RateLimit-Limit": "800", "ratelimit-remaining": "0", "RATELIMIT-RESET": "1700000060"}
    )
    assert rl is not None and (rl.limit, rl.remaining, rl.reset) == (800, 0, 1700000060)
    assert rl.wait_seconds(1700000000.0) == 60.0
    assert rl.wait_seconds(1700000100.0) == 0.0


def test_rate_limit_is_none_when_headers_are_missing_or_garbled() -> None:
    assert parse_rate_limit({}) is None
    garbled = {"Ratelimit-Limit": "800", "Ratelimit-Remaining": "x", "Ratelimit-Reset": "1"}
    assert parse_rate_limit(garbled) is None


def test_rate_limit_with_points_left_means_no_wait() -> None:
    rl = parse_rate_limit(
        {"Ratelimit-Limit": "800", "Ratelimit-Remaining": "5", "Ratelimit-Reset": "9999999999"}
    )
    assert rl is not None and rl.wait_seconds(0) == 0.0


def test_error_body_is_parsed_and_401_means_refresh() -> None:
    body = b'{"error":"Unauthorized","status":401,"message":"Invalid OAuth token"}'
    err = parse_error(401, body)
    assert (err.error, err.status, err.message) == ("Unauthorized", 401, "Invalid OAuth token")
    assert err.token_invalid and not err.rate_limited


def test_error_without_json_body_still_has_the_status() -> None:
    err = parse_error(502, b"<html>Bad Gateway</html>")
    assert (err.status, err.error, err.message) == (502, "", "")


def test_204_response_has_no_data() -> None:
    resp = parse_response(204, {}, b"")
    assert resp.ok and resp.data is None and resp.cursor is None


def test_2xx_body_that_is_not_an_object_raises() -> None:
    with pytest.raises(HelixParseError):
        parse_response(200, {}, b"[]")
    with pytest.raises(HelixParseError):
        parse_response(200, {}, b"{oops")


def test_streams_page_parses_streams_and_empty_cursor_means_last_page() -> None:
    body = {
        "data": [
            {
                "id": "1",
                "user_id": "2",
                "user_login": "a",
                "user_name": "A",
                "game_id": "3",
                "game_name": "G",
                "type": "live",
                "title": "t",
                "tags": ["x"],
                "viewer_count": 5,
                "started_at": "2026-11-21T19:00:00Z",
                "language": "en",
                "thumbnail_url": "u-{width}x{height}",
                "tag_ids": [],
                "is_mature": True,
            },
        ],
        "pagination": {"cursor": ""},
    }
    page = parse_streams_page(200, {}, json.dumps(body))
    assert page.cursor is None
    (stream,) = page.streams
    assert stream.user_login == "a" and stream.viewer_count == 5 and stream.is_mature
    assert stream.started_at == datetime(2026, 11, 21, 19, tzinfo=UTC)
    assert stream.tags == ("x",)


def test_streams_page_without_data_list_or_required_fields_raises() -> None:
    with pytest.raises(HelixParseError):
        parse_streams_page(200, {}, b'{"data": {}}')
    with pytest.raises(HelixParseError):
        parse_streams_page(200, {}, b'{"data": [{"id": "1"}]}')


def test_streams_page_error_status_raises_api_error() -> None:
    with pytest.raises(HelixApiError) as info:
        parse_streams_page(401, {}, b'{"error":"Unauthorized","status":401,"message":"x"}')
    assert info.value.status == 401 and info.value.error.token_invalid


# --------------------------------------------------------------------------- OAuth


def test_app_token_request_is_a_client_credentials_form_and_hides_the_secret() -> None:
    request = app_token_request("cid", "very-secret")
    assert request.method == "POST" and request.url == "https://id.twitch.tv/oauth2/token"
    assert dict(request.form or ()) == {
        "client_id": "cid",
        "client_secret": "very-secret",
        "grant_type": "client_credentials",
    }
    assert "very-secret" not in repr(request)


def test_app_token_response_is_parsed_and_hides_the_token() -> None:
    body = b'{"access_token":"jostpf5q0uzmxmkba9iyug38kjtgh","expires_in":5011271,"token_type":"bearer"}'  # noqa: E501
    token = parse_app_token(200, {}, body)
    assert token.expires_in == 5011271 and token.token_type == "bearer"
    assert token.expires_at(100.0) == 5011371.0
    assert "jostpf5q" not in repr(token)


def test_app_token_response_without_expiry_raises() -> None:
    with pytest.raises(HelixParseError):
        parse_app_token(200, {}, b'{"access_token":"x"}')


def test_create_clip_request_carries_documented_params() -> None:
    request = create_clip_request("1337", title="gg", duration=45, **AUTH)
    assert request.method == "POST" and request.url.endswith("/clips")
    assert request.params == (("broadcaster_id", "1337"), ("title", "gg"), ("duration", "45"))


@pytest.mark.parametrize("duration", [CLIP_MIN_SECONDS - 1, CLIP_MAX_SECONDS + 0.5, math.nan])
def test_clip_duration_outside_5_to_60_seconds_is_refused(duration: float) -> None:
    with pytest.raises(ValueError):
        create_clip_request("1337", duration=duration, **AUTH)


def test_create_clip_202_is_parsed_and_clip_is_overdue_after_15_seconds() -> None:
    body = (
        b'{"data":[{"id":"FiveWordsForClipSlug","edit_url":"https://clips.twitch.tv/Five/edit"}]}'
    )
    clip = parse_create_clip(202, {}, body)
    assert clip.id == "FiveWordsForClipSlug"
    assert not clip_is_overdue(10.0, 25.0) and clip_is_overdue(10.0, 25.5)
    assert _values(get_clips_request([clip.id], **AUTH), "id") == [clip.id]


def test_create_clip_when_offline_raises_api_error() -> None:
    with pytest.raises(HelixApiError):
        parse_create_clip(404, {}, b'{"error":"Not Found","status":404,"message":"offline"}')


def test_get_clips_request_refuses_more_than_100_ids() -> None:
    with pytest.raises(ValueError):
        get_clips_request([str(i) for i in range(101)], **AUTH)


# --------------------------------------------------------------------------- chat


def test_send_chat_message_request_is_json() -> None:
    request = send_chat_message_request("1", "2", "hello", reply_parent_message_id="p", **AUTH)
    assert request.json == {
        "broadcaster_id": "1",
        "sender_id": "2",
        "message": "hello",
        "reply_parent_message_id": "p",
    }
    assert ("Content-Type", "application/json") in request.headers


def test_dropped_chat_message_reports_its_reason_including_unknown_codes() -> None:
    body = {
        "data": [
            {
                "message_id": "",
                "is_sent": False,
                "drop_reason": {"code": "some_new_code", "message": "dropped"},
            }
        ]
    }
    result = parse_send_chat_message(200, {}, json.dumps(body))
    assert not result.is_sent
    assert (result.drop_code, result.drop_message) == ("some_new_code", "dropped")


def test_chat_message_answer_without_is_sent_raises() -> None:
    with pytest.raises(HelixParseError):
        parse_send_chat_message(200, {}, b'{"data":[{"message_id":"x"}]}')


def test_generic_request_refuses_relative_paths() -> None:
    with pytest.raises(ValueError):
        helix_request("GET", "streams", client_id="c", token="t")
