"""Conformance: every record of discord.jsonl through actors.discord.gateway / .rest.

One case per record; every `expect` key is compared (../shared/corpus/README.md, "discord.jsonl
conventions"). Gateway frames also go through a `Gateway` state machine.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from actors.discord.gateway import (
    Dispatch,
    Gateway,
    GatewayState,
    Op,
    Send,
    parse_error,
    parse_frame,
    parse_interaction,
    parse_rate_limit,
)

DATA = Path(__file__).parent / "data" / "discord.jsonl"
RECORDS = [json.loads(line) for line in DATA.read_text("utf-8").splitlines() if line.strip()]

GATEWAY_KEYS = {"op", "t", "s", "d", "heartbeat_interval"}
INTERACTION_KEYS = {
    "type",
    "id",
    "application_id",
    "token",
    "guild_id",
    "channel_id",
    "locale",
    "guild_locale",
    "app_permissions",
    "command_id",
    "command_name",
    "command_type",
    "target_id",
    "options",
    "user_id",
    "username",
    "member_roles",
    "member_permissions",
}
RATE_LIMIT_KEYS = {
    "http_status",
    "message",
    "retry_after",
    "retry_after_header",
    "global",
    "scope",
    "bucket",
}
ERROR_KEYS = {"message", "code"}
# Keys deliberately not checked, per kind, with the reason. A key in neither the checked set
# nor here fails the test, so new corpus keys are noticed.
NOT_CHECKED: dict[str, dict[str, str]] = {
    "gateway": {},
    "interaction": {},
    "http_429": {},
    "http_error": {},
}
CHECKED = {
    "gateway": GATEWAY_KEYS,
    "interaction": INTERACTION_KEYS,
    "http_429": RATE_LIMIT_KEYS,
    "http_error": ERROR_KEYS,
}


def _gateway_after_hello(now: float = 0.0) -> Gateway:
    gw = Gateway(token="t0ken", random=lambda: 0.5)
    gw.receive({"op": 10, "d": {"heartbeat_interval": 45000}}, now=now)
    return gw


def _check_gateway(record: dict[str, Any]) -> None:
    expect = record["expect"]
    frame = parse_frame(record["raw"])
    assert (frame.op, frame.t, frame.s) == (expect["op"], expect["t"], expect["s"])
    if "d" in expect:
        assert frame.d == expect["d"]

    if frame.op == Op.HELLO:
        gw = Gateway(token="t0ken", random=lambda: 0.25)
        (out,) = gw.receive(record["raw"], now=100.0)
        assert isinstance(out, Send) and out.op == Op.IDENTIFY
        assert gw.heartbeat_interval == expect["heartbeat_interval"] / 1000
        assert gw.next_deadline == pytest.approx(100.0 + 0.25 * expect["heartbeat_interval"] / 1000)
    elif frame.op == Op.DISPATCH:
        gw = _gateway_after_hello()
        (out,) = gw.receive(record["raw"], now=1.0)
        assert out == Dispatch(t=expect["t"], d=frame.d, s=expect["s"])
        assert gw.sequence == expect["s"]
        # Per-event fields (README: taken from `d`; a member absent from `d` is null).
        for key in set(expect) - GATEWAY_KEYS:
            assert out.d.get(key) == expect[key], key
    elif frame.op == Op.HEARTBEAT_ACK:
        gw = _gateway_after_hello()
        gw.tick(gw.next_deadline)  # type: ignore[arg-type]
        assert gw.receive(record["raw"], now=30.0) == []
        assert gw.latency == pytest.approx(30.0 - 22.5)
        assert gw.state is GatewayState.IDENTIFYING


def _check_interaction(record: dict[str, Any]) -> None:
    expect = record["expect"]
    it = parse_interaction(json.loads(record["raw"]))
    for key in INTERACTION_KEYS - {
        "options",
        "member_roles",
        "app_permissions",
        "member_permissions",
    }:
        assert getattr(it, key) == expect[key], key
    assert list(it.member_roles) == expect["member_roles"]
    # Permission bitfields arrive as strings and are ints here.
    assert it.member_permissions == int(expect["member_permissions"])
    assert it.app_permissions == int(expect["app_permissions"])
    assert [{"type": o.type, "name": o.name, "value": o.value} for o in it.options] == expect[
        "options"
    ]


def _check_rate_limit(record: dict[str, Any]) -> None:
    expect, ctx = record["expect"], record["context"]
    info = parse_rate_limit(ctx["status"], ctx["headers"], record["raw"])
    assert info.status == expect["http_status"] and info.limited
    assert info.message == expect["message"]
    assert info.retry_after == expect["retry_after"]
    assert info.retry_after_header == float(expect["retry_after_header"])
    assert info.is_global is expect["global"]
    assert info.scope == expect["scope"]
    assert info.bucket == expect["bucket"]
    assert info.wait_seconds == expect["retry_after"]  # the body's float wins


def _check_error(record: dict[str, Any]) -> None:
    err = parse_error(401, record["raw"])
    assert err.message == record["expect"]["message"]
    assert err.code == record["expect"]["code"]


CHECKERS = {
    "gateway": _check_gateway,
    "interaction": _check_interaction,
    "http_429": _check_rate_limit,
    "http_error": _check_error,
}


@pytest.mark.parametrize(
    "record", RECORDS, ids=[f"{i:02d}-{r['kind']}-{r['test']}" for i, r in enumerate(RECORDS)]
)
def test_record(record: dict[str, Any]) -> None:
    kind = record["kind"]
    expect = record["expect"]
    allowed = CHECKED[kind] | set(NOT_CHECKED[kind])
    if kind == "gateway":
        allowed = allowed | set(expect)  # dispatch `d` fields, compared in _check_gateway
    unknown = set(expect) - allowed
    assert not unknown, f"expect keys neither checked nor excused: {unknown}"
    CHECKERS[kind](record)
