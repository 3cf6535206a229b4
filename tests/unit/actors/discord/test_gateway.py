"""Unit tests for actors.discord.gateway (sans-IO gateway) and its REST helpers."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.discord.gateway import (
    ADMINISTRATOR,
    FATAL_CLOSE_CODES,
    MANAGE_GUILD,
    DiscordParseError,
    Dispatch,
    Fatal,
    Gateway,
    GatewayProtocolError,
    GatewayState,
    Intents,
    Op,
    Reconnect,
    Send,
    bucket_key,
    gateway_url,
    has_admin,
    parse_interaction,
    parse_rate_limit,
)

TOKEN = "Bot.token.secret"
HELLO = {"op": 10, "d": {"heartbeat_interval": 40000}}  # 40 s
READY = {
    "op": 0,
    "t": "READY",
    "s": 1,
    "d": {
        "v": 10,
        "session_id": "sess-1",
        "resume_gateway_url": "wss://gateway-us-east1-b.discord.gg",
        "user": {"id": "1", "username": "bot"},
        "guilds": [],
    },
}
RESUME_URL = "wss://gateway-us-east1-b.discord.gg/?v=10&encoding=json"
BASE_URL = "wss://gateway.discord.gg/?v=10&encoding=json"


class Fraction:
    """A settable stand-in for random.random, so schedules are deterministic."""

    def __init__(self, value: float) -> None:
        self.value = value

    def __call__(self) -> float:
        return self.value


def make(fraction: float | Fraction = 0.25, **kwargs) -> Gateway:
    rand = fraction if isinstance(fraction, Fraction) else Fraction(fraction)
    return Gateway(token=TOKEN, random=rand, **kwargs)


def ready(rand: Fraction | None = None, now: float = 0.0) -> Gateway:
    gw = make(rand or Fraction(0.25))
    gw.receive(HELLO, now=now)
    gw.receive(READY, now=now + 0.5)
    return gw


# --------------------------------------------------------------------------- full sequence


def test_full_sequence_hello_identify_ready_heartbeats_zombie_resume() -> None:
    gw = make(fraction=0.25)
    assert gw.state is GatewayState.DISCONNECTED and gw.connect_url == BASE_URL
    assert gw.next_deadline is None

    # HELLO -> IDENTIFY, first heartbeat after interval * jitter.
    (identify,) = gw.receive(json.dumps(HELLO), now=100.0)
    assert isinstance(identify, Send) and identify.op == Op.IDENTIFY
    assert identify.payload["d"]["token"] == TOKEN
    assert identify.payload["d"]["intents"] == Intents.GUILDS == 1
    assert set(identify.payload["d"]["properties"]) == {"os", "browser", "device"}
    assert gw.state is GatewayState.IDENTIFYING
    assert gw.next_deadline == 110.0

    # READY stores the session.
    (dispatch,) = gw.receive(READY, now=101.0)
    assert isinstance(dispatch, Dispatch) and dispatch.t == "READY" and dispatch.s == 1
    assert (gw.session_id, gw.resume_gateway_url, gw.sequence) == (
        "sess-1",
        "wss://gateway-us-east1-b.discord.gg",
        1,
    )
    assert gw.state is GatewayState.CONNECTED

    # Nothing before the deadline; at the deadline a heartbeat with the last sequence.
    assert gw.tick(109.9) == []
    (hb,) = gw.tick(110.0)
    assert isinstance(hb, Send) and hb.payload == {"op": 1, "d": 1}
    assert gw.next_deadline == 150.0

    # ACK, then a dispatch moves the sequence, then the next heartbeat carries it.
    assert gw.receive({"op": 11}, now=110.2) == []
    assert gw.latency == pytest.approx(0.2)
    gw.receive({"op": 0, "t": "GUILD_CREATE", "s": 2, "d": {"id": "9"}}, now=120.0)
    (hb,) = gw.tick(150.0)
    assert hb.payload == {"op": 1, "d": 2}

    # No ACK before the next heartbeat is due: zombie -> reconnect and resume.
    (reconnect,) = gw.tick(190.0)
    assert isinstance(reconnect, Reconnect)
    assert reconnect.resume and reconnect.url == RESUME_URL and reconnect.delay == 0.0
    assert reconnect.close_code not in (1000, 1001)  # keeps the session resumable
    assert gw.state is GatewayState.DISCONNECTED and gw.next_deadline is None

    # New connection: HELLO -> RESUME with the session and last sequence.
    (resume,) = gw.receive(HELLO, now=191.0)
    assert resume.payload == {
        "op": 6,
        "d": {"token": TOKEN, "session_id": "sess-1", "seq": 2},
    }
    assert gw.state is GatewayState.RESUMING
    (resumed,) = gw.receive({"op": 0, "t": "RESUMED", "s": 3, "d": {}}, now=191.5)
    assert resumed.t == "RESUMED" and gw.state is GatewayState.CONNECTED and gw.sequence == 3


def test_heartbeat_before_any_dispatch_carries_null() -> None:
    gw = make(fraction=0.0)
    gw.receive(HELLO, now=0.0)
    (hb,) = gw.tick(0.0)
    assert hb.payload == {"op": 1, "d": None}


def test_server_heartbeat_request_is_answered_at_once_without_moving_the_schedule() -> None:
    gw = ready()
    deadline = gw.next_deadline
    (hb,) = gw.receive({"op": 1, "d": None}, now=3.0)
    assert isinstance(hb, Send) and hb.payload == {"op": 1, "d": 1}
    assert gw.next_deadline == deadline


def test_reconnect_opcode_means_reconnect_and_resume() -> None:
    gw = ready()
    (out,) = gw.receive({"op": 7, "d": None}, now=5.0)
    assert isinstance(out, Reconnect) and out.resume and out.url == RESUME_URL


def test_identify_uses_configured_intents_properties_and_shard() -> None:
    gw = Gateway(
        token=TOKEN,
        intents=Intents.GUILDS | Intents.GUILD_MESSAGES,
        properties={"os": "linux", "browser": "b", "device": "d"},
        shard=(0, 2),
        random=lambda: 0.0,
    )
    (identify,) = gw.receive(HELLO, now=0.0)
    d = identify.payload["d"]
    assert d["intents"] == 1 | 512 and d["shard"] == [0, 2]
    assert d["properties"] == {"os": "linux", "browser": "b", "device": "d"}


# --------------------------------------------------------------------------- invalid session


def test_invalid_session_resumable_reconnects_and_resumes_after_1_to_5_s() -> None:
    rand = Fraction(0.25)
    gw = ready(rand)
    rand.value = 0.5  # the wait is drawn when op 9 arrives
    (out,) = gw.receive({"op": 9, "d": True}, now=5.0)
    assert isinstance(out, Reconnect) and out.resume and out.delay == 3.0
    assert gw.session_id == "sess-1"
    (resume,) = gw.receive(HELLO, now=9.0)
    assert resume.op == Op.RESUME


def test_invalid_session_not_resumable_forgets_the_session_and_identifies_again() -> None:
    rand = Fraction(0.25)
    gw = ready(rand)
    rand.value = 1.0  # the wait is drawn when op 9 arrives
    (out,) = gw.receive({"op": 9, "d": False}, now=5.0)
    assert isinstance(out, Reconnect) and not out.resume
    assert out.delay == 5.0 and out.url == BASE_URL
    assert gw.session_id is None and gw.sequence is None
    (identify,) = gw.receive(HELLO, now=11.0)
    assert identify.op == Op.IDENTIFY


def test_invalid_session_wait_is_at_least_one_second() -> None:
    rand = Fraction(0.25)
    gw = ready(rand)
    rand.value = 0.0  # the wait is drawn when op 9 arrives
    (out,) = gw.receive({"op": 9, "d": False}, now=5.0)
    assert out.delay == 1.0


# --------------------------------------------------------------------------- close codes


@pytest.mark.parametrize("code", sorted(FATAL_CLOSE_CODES))
def test_fatal_close_codes_stop_for_good(code: int) -> None:
    gw = ready()
    (out,) = gw.connection_closed(code, now=5.0)
    assert isinstance(out, Fatal) and out.code == code and out.reason
    assert gw.state is GatewayState.FATAL and gw.fatal == out
    # No retry loop: nothing else produces output any more.
    assert gw.connection_closed(code, now=6.0) == []
    assert gw.receive(HELLO, now=7.0) == []
    assert gw.tick(1e9) == [] and gw.next_deadline is None


def test_authentication_failed_is_fatal_and_names_the_token() -> None:
    (out,) = ready().connection_closed(4004, now=1.0)
    assert isinstance(out, Fatal) and "authentication" in out.reason


@pytest.mark.parametrize("code", [4007, 4009])
def test_invalid_seq_and_session_timeout_reconnect_with_a_new_session(code: int) -> None:
    gw = ready()
    (out,) = gw.connection_closed(code, now=5.0)
    assert isinstance(out, Reconnect) and not out.resume and gw.session_id is None


@pytest.mark.parametrize("code", [None, 1001, 1006, 4000, 4001, 4002, 4003, 4005, 4008])
def test_other_closes_reconnect_and_resume(code: int | None) -> None:
    gw = ready()
    (out,) = gw.connection_closed(code, now=5.0)
    assert isinstance(out, Reconnect) and out.resume and out.url == RESUME_URL


def test_close_before_any_session_reconnects_to_the_base_url_to_identify() -> None:
    gw = make()
    gw.receive(HELLO, now=0.0)
    (out,) = gw.connection_closed(1006, now=1.0)
    assert isinstance(out, Reconnect) and not out.resume and out.url == BASE_URL


# --------------------------------------------------------------------------- robustness


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[]",
        '{"d": 1}',
        '{"op": "10"}',
        b"\xff",
        {"op": 10, "d": {}},
        {"op": 10, "d": {"heartbeat_interval": -1}},
        {"op": 10, "d": {"heartbeat_interval": True}},
    ],
)
def test_malformed_frames_raise_protocol_error(frame) -> None:
    with pytest.raises(GatewayProtocolError):
        make().receive(frame, now=0.0)


def test_frames_before_hello_are_ignored() -> None:
    gw = make()
    assert gw.receive(READY, now=0.0) == []
    assert gw.session_id is None


def test_unknown_opcodes_are_ignored() -> None:
    assert ready().receive({"op": 42, "d": None}, now=1.0) == []


def test_token_never_appears_in_reprs() -> None:
    gw = make()
    (identify,) = gw.receive(HELLO, now=0.0)
    assert TOKEN not in repr(gw) and TOKEN not in repr(identify)


def test_gateway_url_keeps_an_existing_query() -> None:
    assert gateway_url("wss://x.test/?v=10&encoding=json") == "wss://x.test/?v=10&encoding=json"
    assert gateway_url("wss://x.test/") == "wss://x.test/?v=10&encoding=json"


@given(
    st.one_of(
        st.text(max_size=100),
        st.binary(max_size=100),
        st.dictionaries(st.text(max_size=5), st.integers() | st.none(), max_size=4),
    )
)
def test_fuzz_receive_raises_only_protocol_error(frame) -> None:
    gw = ready()
    try:
        gw.receive(frame, now=2.0)
    except GatewayProtocolError:
        pass


# --------------------------------------------------------------------------- REST 429


def test_429_prefers_the_float_body_over_the_integer_header() -> None:
    headers = {
        "retry-after": "65",
        "x-ratelimit-bucket": "abcd1234",
        "X-RateLimit-Scope": "user",
        "X-RateLimit-Limit": "10",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "1470173023.123",
        "X-RateLimit-Reset-After": "64.57",
    }
    body = b'{"message": "You are being rate limited.", "retry_after": 64.57, "global": false}'
    info = parse_rate_limit(429, headers, body)
    assert info.limited and info.wait_seconds == 64.57
    assert (info.retry_after_header, info.bucket, info.scope) == (65.0, "abcd1234", "user")
    assert (info.limit, info.remaining, info.reset, info.reset_after) == (
        10,
        0,
        1470173023.123,
        64.57,
    )
    assert not info.is_global


def test_global_429_is_recognised_from_body_or_header() -> None:
    body = b'{"message": "You are being rate limited.", "retry_after": 1.5, "global": true}'
    assert parse_rate_limit(429, {}, body).is_global
    info = parse_rate_limit(
        429,
        {"X-RateLimit-Global": "true", "Retry-After": "2", "X-RateLimit-Scope": "global"},
        b"<html>",
    )
    assert info.is_global and info.scope == "global" and info.wait_seconds == 2.0


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "soon"])
def test_429_with_garbage_wait_values_never_yields_a_bad_sleep(value: str) -> None:
    info = parse_rate_limit(429, {"Retry-After": value}, json.dumps({"retry_after": value}))
    assert info.retry_after is None and info.retry_after_header is None
    assert info.wait_seconds == 1.0


def test_exhausted_bucket_without_429_waits_for_reset_after() -> None:
    info = parse_rate_limit(
        200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "2.5"}, None
    )
    assert not info.limited and info.wait_seconds == 2.5
    assert parse_rate_limit(200, {"X-RateLimit-Remaining": "3"}, None).wait_seconds == 0.0


def test_bucket_key_keeps_the_major_parameter_and_folds_minor_ids() -> None:
    a = bucket_key("post", "/channels/123456789012345678/messages")
    b = bucket_key("POST", "/channels/876543210987654321/messages")
    assert a != b and a == "POST /channels/123456789012345678/messages"
    assert bucket_key("DELETE", "/channels/123456789012345678/messages/223456789012345678") == (
        bucket_key("DELETE", "/channels/123456789012345678/messages/323456789012345678")
    )
    assert bucket_key("GET", "/api/v10/guilds/123456789012345678/members?limit=5") == (
        "GET /guilds/123456789012345678/members"
    )


def test_bucket_key_hides_webhook_and_interaction_tokens() -> None:
    key = bucket_key("POST", "/webhooks/123456789012345678/s3cr3t-webhook-token")
    assert "s3cr3t" not in key and key.startswith("POST /webhooks/123456789012345678/")
    assert key != bucket_key("POST", "/webhooks/123456789012345678/other-token")
    key = bucket_key("POST", "/interactions/123456789012345678/itoken/callback")
    assert key == "POST /interactions/{id}/{token}/callback"


# --------------------------------------------------------------------------- interactions


def test_interaction_in_a_guild_flattens_subcommands_and_reads_member() -> None:
    d = {
        "type": 2,
        "id": "786008729715212338",
        "application_id": "775799577604522054",
        "token": "itoken",
        "guild_id": "290926798626357999",
        "channel_id": "645027906669510667",
        "member": {
            "user": {"id": "53908232506183680", "username": "Mason"},
            "roles": ["539082325061836999"],
            "permissions": "40",
        },
        "data": {
            "id": "771825006014889984",
            "name": "poll",
            "type": 1,
            "options": [
                {
                    "name": "start",
                    "type": 1,
                    "options": [
                        {"name": "question", "type": 3, "value": "Pizza?"},
                        {"name": "minutes", "type": 4, "value": 5},
                    ],
                }
            ],
        },
    }
    it = parse_interaction(d)
    assert it.command_path == ("poll", "start") and it.command_name == "poll"
    assert [(o.name, o.value) for o in it.options] == [("question", "Pizza?"), ("minutes", 5)]
    assert it.option("minutes") == 5 and it.option("absent", "x") == "x"
    assert (it.user_id, it.username, it.member_roles) == (
        "53908232506183680",
        "Mason",
        ("539082325061836999",),
    )
    assert it.member_permissions == 40 and has_admin(it.member_permissions)
    assert "itoken" not in repr(it)


def test_interaction_in_a_dm_reads_the_top_level_user() -> None:
    it = parse_interaction(
        {
            "type": 2,
            "id": "1",
            "token": "t",
            "user": {"id": "7", "username": "dm"},
            "data": {"name": "status", "type": 1},
        }
    )
    assert (it.user_id, it.username, it.member_permissions, it.member_roles) == (
        "7",
        "dm",
        None,
        (),
    )


def test_interaction_without_token_raises() -> None:
    with pytest.raises(DiscordParseError):
        parse_interaction({"type": 2, "id": "1"})


@pytest.mark.parametrize(
    ("perms", "admin"),
    [
        (ADMINISTRATOR, True),
        (MANAGE_GUILD, True),
        (2147483647, True),
        (0, False),
        (1 << 4 | 1 << 6, False),
        (1 << 40 | ADMINISTRATOR, True),
    ],
)
def test_has_admin_needs_administrator_or_manage_guild(perms: int, admin: bool) -> None:
    assert has_admin(perms) is admin


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "frame",
    [
        '{"op": 0, "d": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"op": ' + "9" * 5000 + "}",
        {"op": 10**5000},
        {"op": _nested(100_000)},
        {"op": 10, "d": {"heartbeat_interval": 10**5000}},
        {"op": 10, "d": {"heartbeat_interval": _nested(100_000)}},
    ],
    ids=["nested-text", "op-text-5000", "op-int-5000", "op-nested", "hello-int", "hello-nested"],
)
def test_hostile_frames_raise_only_protocol_error(frame) -> None:
    # Also while formatting the error message: repr() of these values raises.
    try:
        make().receive(frame, now=0.0)
    except GatewayProtocolError:
        pass


@pytest.mark.parametrize(
    "kind", ["²", "9" * 5000, "٣"], ids=["superscript", "5000-digits", "arabic"]
)
def test_an_interaction_with_a_hostile_type_raises_only_the_parse_error(kind: str) -> None:
    with pytest.raises(DiscordParseError):
        parse_interaction({"type": kind, "id": "1", "token": "t"})
