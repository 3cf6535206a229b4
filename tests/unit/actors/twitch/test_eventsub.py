"""Unit tests for actors.twitch.eventsub (sans-IO EventSub)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.events import StreamEnded, StreamStarted
from actors.twitch.eventsub import (
    EventSubMessage,
    EventSubParseError,
    EventSubRejected,
    MessageIdCache,
    ack_response,
    challenge_response,
    compute_signature,
    parse_revocation,
    parse_subscription_body,
    parse_timestamp,
    parse_ws_frame,
    to_stream_event,
    verify_webhook,
)

SECRET = b"s3cret-for-tests"
TS = "2026-11-21T20:00:00.123456789Z"
NOW = datetime(2026, 11, 21, 20, 0, 1, tzinfo=UTC)


def _sub(type_: str = "stream.online", status: str = "enabled") -> dict:
    return {
        "id": "sub-1",
        "status": status,
        "type": type_,
        "version": "1",
        "cost": 0,
        "condition": {"broadcaster_user_id": "1337"},
        "transport": {"method": "webhook", "callback": "https://example.test/eventsub"},
        "created_at": "2026-11-21T19:00:00.5Z",
    }


ONLINE_EVENT = {
    "id": "9001",
    "broadcaster_user_id": "1337",
    "broadcaster_user_login": "cool_user",
    "broadcaster_user_name": "Cool_User",
    "type": "live",
    "started_at": "2026-11-21T19:59:58.987654321Z",
}


def signed(
    body: bytes,
    *,
    message_type: str = "notification",
    ts: str = TS,
    msg_id: str = "msg-1",
    secret: bytes = SECRET,
    sub_type: str | None = "stream.online",
) -> dict[str, str]:
    headers = {
        "Twitch-Eventsub-Message-Id": msg_id,
        "Twitch-Eventsub-Message-Retry": "0",
        "Twitch-Eventsub-Message-Type": message_type,
        "Twitch-Eventsub-Message-Signature": compute_signature(secret, msg_id, ts, body),
        "Twitch-Eventsub-Message-Timestamp": ts,
    }
    if sub_type:
        headers["Twitch-Eventsub-Subscription-Type"] = sub_type
        headers["Twitch-Eventsub-Subscription-Version"] = "1"
    return headers


def online_body() -> bytes:
    return json.dumps({"subscription": _sub(), "event": ONLINE_EVENT}).encode()


def rejected(headers: dict[str, str], body: bytes, *, now: datetime = NOW) -> str:
    with pytest.raises(EventSubRejected) as info:
        verify_webhook(headers, body, SECRET, now=now)
    assert isinstance(info.value, ValueError)
    return info.value.reason


# --------------------------------------------------------------------------- verify_webhook


def test_valid_notification_verifies_and_decodes_everything() -> None:
    body = online_body()
    msg = verify_webhook(signed(body), body, SECRET, now=NOW)
    assert msg.message_id == "msg-1"
    assert msg.message_type == "notification"
    assert msg.subscription_type == "stream.online"
    assert msg.subscription_version == "1"
    assert msg.timestamp == datetime(2026, 11, 21, 20, 0, 0, 123456, tzinfo=UTC)
    assert msg.payload == json.loads(body)
    assert msg.challenge is None and msg.retry == 0
    assert msg.event == ONLINE_EVENT
    assert msg.subscription is not None and msg.subscription.transport_method == "webhook"


@pytest.mark.parametrize("case", [str.lower, str.upper, str.swapcase])
def test_header_names_are_matched_in_any_case(case) -> None:
    body = online_body()
    headers = {case(k): v for k, v in signed(body).items()}
    assert verify_webhook(headers, body, SECRET, now=NOW).message_id == "msg-1"


def test_subscription_type_falls_back_to_the_body_when_the_header_is_absent() -> None:
    body = online_body()
    msg = verify_webhook(signed(body, sub_type=None), body, SECRET, now=NOW)
    assert msg.subscription_type == "stream.online" and msg.subscription_version == "1"


def test_message_older_than_ten_minutes_is_rejected_as_stale() -> None:
    body = online_body()
    sent = parse_timestamp(TS)
    assert rejected(signed(body), body, now=sent + timedelta(minutes=10, microseconds=1)) == "stale"
    # Exactly ten minutes is still inside the window.
    verify_webhook(signed(body), body, SECRET, now=sent + timedelta(minutes=10))


def test_message_from_the_far_future_is_rejected_small_skew_is_not() -> None:
    body = online_body()
    sent = parse_timestamp(TS)
    assert rejected(signed(body), body, now=sent - timedelta(minutes=5)) == "future"
    verify_webhook(signed(body), body, SECRET, now=sent - timedelta(seconds=30))


def test_forged_body_is_rejected_as_bad_signature() -> None:
    body = online_body()
    headers = signed(body)
    assert rejected(headers, body.replace(b"cool_user", b"evil_user")) == "bad_signature"


def test_signature_with_another_secret_is_rejected() -> None:
    body = online_body()
    assert rejected(signed(body, secret=b"another-secret"), body) == "bad_signature"


def test_signed_timestamp_cannot_be_swapped_for_a_fresh_one() -> None:
    body = online_body()
    headers = signed(body, ts="2026-11-21T19:00:00Z")  # signed an hour ago
    headers["Twitch-Eventsub-Message-Timestamp"] = TS  # replayed with a fresh timestamp
    assert rejected(headers, body) == "bad_signature"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda sig: sig.removeprefix("sha256="),  # prefix is required
        lambda sig: "sha1=" + sig.removeprefix("sha256="),
        lambda sig: sig[:-1],  # too short
        lambda sig: sig[:-1] + "g",  # not hex
        lambda sig: sig + "00",
    ],
    ids=["no-prefix", "other-algorithm", "short", "non-hex", "long"],
)
def test_malformed_signature_header_is_rejected_as_bad_signature(mutate) -> None:
    body = online_body()
    headers = signed(body)
    headers["Twitch-Eventsub-Message-Signature"] = mutate(
        headers["Twitch-Eventsub-Message-Signature"]
    )
    assert rejected(headers, body) == "bad_signature"


def test_uppercase_hex_signature_is_accepted() -> None:
    body = online_body()
    headers = signed(body)
    sig = headers["Twitch-Eventsub-Message-Signature"]
    headers["Twitch-Eventsub-Message-Signature"] = "sha256=" + sig[7:].upper()
    verify_webhook(headers, body, SECRET, now=NOW)


@pytest.mark.parametrize(
    "name",
    [
        "Twitch-Eventsub-Message-Id",
        "Twitch-Eventsub-Message-Timestamp",
        "Twitch-Eventsub-Message-Signature",
        "Twitch-Eventsub-Message-Type",
    ],
)
def test_missing_or_empty_required_header_is_rejected(name: str) -> None:
    body = online_body()
    headers = signed(body)
    del headers[name]
    assert rejected(headers, body) == "missing_header"
    headers[name] = ""
    assert rejected(headers, body) == "missing_header"


def test_two_spellings_of_a_signed_header_are_rejected() -> None:
    body = online_body()
    headers = signed(body)
    headers["twitch-eventsub-message-id"] = "other"
    assert rejected(headers, body) == "duplicate_header"


@pytest.mark.parametrize("ts", ["yesterday", "2026-02-30T00:00:00Z", "2026-11-21T20:00:00"])
def test_unparseable_signed_timestamp_is_rejected_as_bad_timestamp(ts: str) -> None:
    body = online_body()
    assert rejected(signed(body, ts=ts), body) == "bad_timestamp"


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"\xff\xfe", b""])
def test_signed_body_that_is_not_a_json_object_is_rejected(body: bytes) -> None:
    assert rejected(signed(body), body) == "malformed_body"


def test_verification_request_without_challenge_is_rejected() -> None:
    body = json.dumps({"subscription": _sub()}).encode()
    headers = signed(body, message_type="webhook_callback_verification")
    assert rejected(headers, body) == "malformed_body"


def test_naive_now_raises_plain_value_error() -> None:
    body = online_body()
    with pytest.raises(ValueError) as info:
        verify_webhook(signed(body), body, SECRET, now=datetime(2026, 11, 21, 20, 0, 1))
    assert not isinstance(info.value, EventSubRejected)


def test_aware_non_utc_now_is_accepted() -> None:
    body = online_body()
    cet = NOW.astimezone(timezone(timedelta(hours=1)))
    verify_webhook(signed(body), body, SECRET, now=cet)


def test_verify_does_not_dedupe() -> None:
    body = online_body()
    headers = signed(body)
    first = verify_webhook(headers, body, SECRET, now=NOW)
    assert verify_webhook(headers, body, SECRET, now=NOW) == first


def test_documented_derived_vector_verifies() -> None:
    # platforms.md §3.3 [derived] vector.
    ts = "2019-11-16T10:11:12.634234626Z"
    body = b'{"challenge":"pogchamp-kappa-360noscope-vohiyo"}'
    headers = {
        "twitch-eventsub-message-id": "e76c6bd4-55c9-4987-8304-da1588d8988b",
        "twitch-eventsub-message-timestamp": ts,
        "twitch-eventsub-message-type": "webhook_callback_verification",
        "twitch-eventsub-message-signature": "sha256=0a6a5996fe58183ff8b65551c70dfe5bde1ae37a4"
        "32eddda4669e65696fe85ff",
    }
    msg = verify_webhook(headers, body, b"0123456789abcdef", now=parse_timestamp(ts))
    assert challenge_response(msg) == (200, "text/plain", b"pogchamp-kappa-360noscope-vohiyo")


# --------------------------------------------------------------------------- responses


def test_challenge_response_is_the_raw_challenge_as_text_plain() -> None:
    body = json.dumps({"challenge": "abc-123", "subscription": _sub()}).encode()
    headers = signed(body, message_type="webhook_callback_verification")
    msg = verify_webhook(headers, body, SECRET, now=NOW)
    assert msg.challenge == "abc-123"
    assert challenge_response(msg) == (200, "text/plain", b"abc-123")


def test_challenge_response_refuses_a_notification() -> None:
    body = online_body()
    msg = verify_webhook(signed(body), body, SECRET, now=NOW)
    with pytest.raises(ValueError):
        challenge_response(msg)
    assert ack_response()[0] == 204


@pytest.mark.parametrize(
    ("status", "action"),
    [
        ("authorization_revoked", "reauthorize"),
        ("user_removed", "drop"),
        ("notification_failures_exceeded", "resubscribe"),
        ("version_removed", "upgrade"),
        ("something_new", "investigate"),
    ],
)
def test_revocation_is_classified_by_status(status: str, action: str) -> None:
    body = json.dumps({"subscription": _sub(status=status)}).encode()
    msg = verify_webhook(signed(body, message_type="revocation"), body, SECRET, now=NOW)
    rev = parse_revocation(msg)
    assert (rev.status, rev.action, rev.subscription_id) == (status, action, "sub-1")
    assert rev.condition == {"broadcaster_user_id": "1337"}
    assert parse_subscription_body(body).message_type == "revocation"


def test_revocation_classification_refuses_other_messages() -> None:
    body = online_body()
    with pytest.raises(ValueError):
        parse_revocation(verify_webhook(signed(body), body, SECRET, now=NOW))


# --------------------------------------------------------------------------- dedupe cache


def test_cache_reports_new_ids_once() -> None:
    cache = MessageIdCache(max_size=10, ttl=60)
    assert cache.remember("a", now=0) is True
    assert cache.remember("a", now=1) is False
    assert cache.seen("a", now=2) and not cache.seen("b", now=2)


def test_cache_forgets_ids_after_ttl_and_duplicates_do_not_extend_it() -> None:
    cache = MessageIdCache(max_size=10, ttl=60)
    cache.remember("a", now=0)
    assert cache.remember("a", now=59) is False  # duplicate: expiry stays at 60
    assert cache.seen("a", now=59.9)
    assert not cache.seen("a", now=60)
    assert len(cache) == 0
    assert cache.remember("a", now=61) is True


def test_cache_is_bounded_and_evicts_the_oldest() -> None:
    cache = MessageIdCache(max_size=3, ttl=600)
    for i in range(5):
        cache.remember(f"id{i}", now=i)
    assert len(cache) == 3
    assert not cache.seen("id0", now=5) and not cache.seen("id1", now=5)
    assert all(cache.seen(f"id{i}", now=5) for i in (2, 3, 4))


def test_cache_forget_lets_a_failed_message_be_processed_again() -> None:
    cache = MessageIdCache()
    cache.remember("a", now=0)
    cache.forget("a")
    cache.forget("never-seen")
    assert cache.remember("a", now=1) is True


@pytest.mark.parametrize("kwargs", [{"max_size": 0}, {"ttl": 0}])
def test_cache_rejects_nonsense_limits(kwargs) -> None:
    with pytest.raises(ValueError):
        MessageIdCache(**kwargs)


# --------------------------------------------------------------------------- timestamps


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2019-11-16T10:11:12.634234626Z", datetime(2019, 11, 16, 10, 11, 12, 634234, UTC)),
        ("2019-11-16T10:11:12Z", datetime(2019, 11, 16, 10, 11, 12, tzinfo=UTC)),
        ("2019-11-16T10:11:12.5z", datetime(2019, 11, 16, 10, 11, 12, 500000, UTC)),
        ("2019-11-16T12:11:12.999999999+02:00", datetime(2019, 11, 16, 10, 11, 12, 999999, UTC)),
        ("2019-12-31T23:59:59.9999999999Z", datetime(2019, 12, 31, 23, 59, 59, 999999, UTC)),
    ],
)
def test_timestamps_with_any_fraction_parse_to_aware_utc(raw: str, expected: datetime) -> None:
    parsed = parse_timestamp(raw)
    assert parsed == expected and parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "2019-11-16",
        "2019-11-16T10:11:12",
        "2019-11-16T25:00:00Z",
        "2019-11-16T10:11:12+24:00",
        "\uff10\uff12\uff1019-11-16T10:11:12Z",
        "0000-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
    ],
)
def test_bad_timestamps_raise_value_error(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(raw)


# --------------------------------------------------------------------------- stream events


def test_stream_online_notification_becomes_stream_started() -> None:
    body = online_body()
    event = to_stream_event(verify_webhook(signed(body), body, SECRET, now=NOW))
    assert isinstance(event, StreamStarted)
    assert (event.platform, event.channel, event.message_id, event.raw_type) == (
        "twitch",
        "cool_user",
        "msg-1",
        "stream.online",
    )
    assert event.sent_at == datetime(2026, 11, 21, 19, 59, 58, 987654, UTC)


def test_stream_offline_notification_becomes_stream_ended_keyed_by_id_without_login() -> None:
    event_obj = {"broadcaster_user_id": "1337"}
    body = json.dumps({"subscription": _sub("stream.offline"), "event": event_obj}).encode()
    msg = verify_webhook(signed(body, sub_type="stream.offline"), body, SECRET, now=NOW)
    event = to_stream_event(msg)
    assert isinstance(event, StreamEnded)
    assert event.channel == "1337" and event.sent_at == msg.timestamp


def test_other_notifications_and_revocations_are_not_stream_events() -> None:
    body = json.dumps({"subscription": _sub("channel.raid"), "event": {}}).encode()
    assert (
        to_stream_event(
            verify_webhook(signed(body, sub_type="channel.raid"), body, SECRET, now=NOW)
        )
        is None
    )
    body = json.dumps({"subscription": _sub(status="user_removed")}).encode()
    msg = verify_webhook(signed(body, message_type="revocation"), body, SECRET, now=NOW)
    assert to_stream_event(msg) is None


def test_stream_notification_without_broadcaster_raises() -> None:
    body = json.dumps({"subscription": _sub(), "event": {"id": "1"}}).encode()
    with pytest.raises(ValueError):
        to_stream_event(verify_webhook(signed(body), body, SECRET, now=NOW))


# --------------------------------------------------------------------------- websocket


def _frame(message_type: str, payload: dict, **meta: str) -> str:
    metadata = {
        "message_id": "m1",
        "message_type": message_type,
        "message_timestamp": "2026-11-21T20:00:00.000000001Z",
        **meta,
    }
    return json.dumps({"metadata": metadata, "payload": payload})


def test_keepalive_frame_has_an_empty_payload() -> None:
    frame = parse_ws_frame(_frame("session_keepalive", {}))
    assert frame.message_type == "session_keepalive"
    assert frame.session is None and frame.subscription is None and frame.event is None


def test_reconnect_frame_carries_the_reconnect_url() -> None:
    session = {
        "id": "S1",
        "status": "reconnecting",
        "keepalive_timeout_seconds": None,
        "reconnect_url": "wss://eventsub.wss.twitch.tv/ws?x=1",
        "connected_at": "2026-11-21T19:00:00Z",
    }
    frame = parse_ws_frame(_frame("session_reconnect", {"session": session}))
    assert frame.session is not None
    assert frame.session.reconnect_url == "wss://eventsub.wss.twitch.tv/ws?x=1"
    assert frame.session.keepalive_timeout_seconds is None


def test_websocket_notification_becomes_a_stream_event() -> None:
    text = _frame(
        "notification",
        {"subscription": _sub(), "event": ONLINE_EVENT},
        subscription_type="stream.online",
        subscription_version="1",
    )
    frame = parse_ws_frame(text.encode())
    assert frame.subscription is not None and frame.subscription.id == "sub-1"
    event = to_stream_event(frame)
    assert isinstance(event, StreamStarted) and event.message_id == "m1"


@pytest.mark.parametrize(
    "text",
    [
        "nope",
        "[]",
        json.dumps({"payload": {}}),
        json.dumps({"metadata": {"message_type": "session_keepalive"}, "payload": {}}),
        _frame("session_keepalive", {}, message_timestamp="later"),
        _frame("session_welcome", {}),
        json.dumps({"metadata": json.loads(_frame("x", {}))["metadata"], "payload": [1]}),
    ],
    ids=["not-json", "array", "no-metadata", "no-id", "bad-ts", "welcome-no-session", "payload"],
)
def test_malformed_websocket_frames_raise_parse_error(text: str) -> None:
    with pytest.raises(EventSubParseError):
        parse_ws_frame(text)


def test_batched_webhook_body_is_a_notification_with_events() -> None:
    body = parse_subscription_body({"subscription": _sub(), "events": [ONLINE_EVENT, 5]})
    assert body.message_type == "notification" and body.events == (ONLINE_EVENT,)


def test_subscription_body_without_subscription_raises() -> None:
    with pytest.raises(EventSubParseError):
        parse_subscription_body(b'{"event": {}}')


# --------------------------------------------------------------------------- fuzz

_HEADER_NAMES = st.sampled_from(
    [
        "Twitch-Eventsub-Message-Id",
        "twitch-eventsub-message-timestamp",
        "TWITCH-EVENTSUB-MESSAGE-SIGNATURE",
        "Twitch-Eventsub-Message-Type",
        "Twitch-Eventsub-Message-Retry",
        "Twitch-Eventsub-Subscription-Type",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    headers=st.dictionaries(st.one_of(_HEADER_NAMES, st.text(max_size=20)), st.text(max_size=80)),
    body=st.binary(max_size=200),
    now=st.one_of(st.just(NOW), st.datetimes(timezones=st.none() | st.just(UTC))),
)
def test_fuzz_verify_raises_only_rejections(
    headers: dict[str, str], body: bytes, now: datetime
) -> None:
    try:
        result = verify_webhook(headers, body, SECRET, now=now)
    except EventSubRejected as exc:
        assert exc.reason
    except ValueError:
        assert now.tzinfo is None  # the only plain ValueError: a naive `now`
    else:  # pragma: no cover - only with a forged-by-chance signature
        assert isinstance(result, EventSubMessage)


@settings(max_examples=300, deadline=None)
@given(
    field=st.sampled_from(["id", "ts", "type", "sig", "body"]),
    value=st.text(max_size=60),
    now_offset=st.integers(min_value=-(10**6), max_value=10**6),
)
def test_fuzz_mutating_one_part_of_a_valid_request(field: str, value: str, now_offset: int) -> None:
    body = online_body()
    headers = signed(body)
    key = {
        "id": "Twitch-Eventsub-Message-Id",
        "ts": "Twitch-Eventsub-Message-Timestamp",
        "type": "Twitch-Eventsub-Message-Type",
        "sig": "Twitch-Eventsub-Message-Signature",
    }.get(field)
    if key:
        headers[key] = value
    else:
        body = value.encode("utf-8", "surrogatepass")
    now = NOW + timedelta(seconds=now_offset)
    try:
        verify_webhook(headers, body, SECRET, now=now)
    except EventSubRejected as exc:
        assert exc.reason in {
            "missing_header",
            "bad_signature",
            "bad_timestamp",
            "stale",
            "future",
            "malformed_body",
            "bad_header",
        }


@given(st.text(max_size=60))
def test_fuzz_parse_timestamp_raises_only_value_error(text: str) -> None:
    try:
        parsed = parse_timestamp(text)
    except ValueError:
        return
    assert parsed.tzinfo is UTC


@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_fuzz_parse_ws_frame_raises_only_parse_error(text: str | bytes) -> None:
    try:
        parse_ws_frame(text)
    except EventSubParseError:
        pass


def test_a_4300_digit_retry_header_is_no_retry_count_not_a_crash() -> None:
    # The retry header is not signed: anyone on the path can make it huge.
    body = online_body()
    headers = signed(body) | {"Twitch-Eventsub-Message-Retry": "9" * 4300}
    assert verify_webhook(headers, body, SECRET, now=NOW).retry is None


@pytest.mark.parametrize(
    "body",
    [b'{"event": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", b'{"n": ' + b"9" * 5000 + b"}"],
    ids=["nested-100000", "int-5000-digits"],
)
def test_a_signed_hostile_body_is_rejected_as_malformed(body: bytes) -> None:
    assert rejected(signed(body), body) == "malformed_body"
