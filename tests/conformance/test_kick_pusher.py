"""Conformance: real Kick/Pusher frames (tests/conformance/data/kick_pusher.jsonl).

One case per record. Every `expect` key is either compared against the parser's output or
listed in NOT_CHECKED with the reason; an unknown key fails the case so that new corpus
conventions are noticed rather than silently ignored.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from actors.kick.pusher import (
    CloseAction,
    PusherConnection,
    PusherParseError,
    Reconnect,
    channel_id_from,
    chatroom_id_from,
    classify_error,
    parse_connection_established,
    parse_emotes,
    parse_frame,
    to_chat_event,
)

DATA = Path(__file__).parent / "data" / "kick_pusher.jsonl"
RECORDS = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line]

# Keys this suite deliberately does not compare, and why.
NOT_CHECKED = {
    # Kick public-API webhook bodies arrive over HTTP, not Pusher; their event type comes from
    # the Kick-Event-Type header and their fields are read by the webhook endpoint, not by
    # actors.kick.pusher. (Their emote positions and the RSA signature are checked below.)
    "kick_event_type": "webhook body: event type comes from an HTTP header, not this module",
    "fields": "webhook body: flattened JSON, not parsed by the Pusher module",
}

CHECKED = {
    "event",
    "channel",
    "data_is_string",
    "data",
    "data_raw",
    "chatroom_id",
    "channel_id",
    "message",
    "emotes",
    "error",
    "error_code",
    "action",
    "signature_valid",
    "signed_message",
}

# Kick badge type -> normalized role, as the spec asks (used to derive the expected roles).
BADGE_ROLES = {
    "broadcaster": "broadcaster",
    "moderator": "moderator",
    "vip": "vip",
    "subscriber": "subscriber",
    "og": "subscriber",
    "founder": "subscriber",
}


def _id(record: dict[str, Any]) -> str:
    return f"{record.get('kind')}:{record.get('test') or record['source']}"


def _emote_dicts(emotes: Any) -> list[dict[str, Any]]:
    return [{"id": e.id, "name": e.name, "start": e.start, "end": e.end} for e in emotes]


def _compare_emotes(actual: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        for key, value in want.items():
            key = {"emote_id": "id", "s": "start", "e": "end"}.get(key, key)
            assert key in got, f"emote key {key} not produced"
            if key == "id":
                assert str(got[key]) == str(value)  # ids may be written as numbers
            else:
                assert got[key] == value


@pytest.mark.parametrize("record", RECORDS, ids=[_id(r) for r in RECORDS])
def test_record(record: dict[str, Any]) -> None:
    expect = record["expect"]
    unknown = set(expect) - CHECKED - set(NOT_CHECKED)
    assert not unknown, f"expect keys neither checked nor listed as not checked: {unknown}"

    if record.get("kind") == "kick_webhook":
        _check_webhook(record)
        return

    if "event" not in expect:
        # Garbage that is not a frame at all: only PusherParseError may come out.
        assert "error" in expect
        with pytest.raises(PusherParseError):
            parse_frame(record["raw"])
        return

    frame = parse_frame(record["raw"])
    assert frame.event == expect["event"]
    assert frame.channel == expect.get("channel")
    if "data_is_string" in expect:
        assert frame.data_is_string is expect["data_is_string"]
    if "data" in expect:
        assert frame.data == expect["data"]
    if "data_raw" in expect:
        # A string `data` that is not JSON is kept verbatim.
        assert frame.data == expect["data_raw"]
    if "chatroom_id" in expect:
        assert chatroom_id_from(frame.channel) == expect["chatroom_id"]
    if "channel_id" in expect:
        assert channel_id_from(frame.channel) == expect["channel_id"]
    if "error_code" in expect:
        assert frame.data["code"] == expect["error_code"]
    if "action" in expect:
        action = classify_error(frame)
        assert action is not None
        assert action.value == expect["action"]
        # The state machine acts on the same classification.
        conn = PusherConnection()
        conn.connection_made(now=0.0)
        (out,) = conn.receive(frame, now=1.0)
        assert out == Reconnect(
            action=action, reason=frame.data["message"], code=frame.data["code"]
        )
    if "error" in expect:
        # The frame parses; the handshake it carries is what is rejected.
        assert frame.event == "pusher:connection_established"
        with pytest.raises(PusherParseError, match=expect["error"]):
            parse_connection_established(frame)
        conn = PusherConnection()
        conn.connection_made(now=0.0)
        (out,) = conn.receive(frame, now=1.0)
        assert isinstance(out, Reconnect)
        assert out.action is CloseAction.BACKOFF

    chat = to_chat_event(frame)
    if "message" not in expect and "emotes" not in expect:
        if not frame.event.endswith("ChatMessageEvent"):
            assert chat is None
    if "message" in expect:
        assert chat is not None
        msg = expect["message"]
        assert chat.platform == "kick"
        assert chat.message_id == msg["id"]
        assert chat.channel == str(msg["chatroom_id"])
        assert chat.text == msg["content"]
        assert (chat.reply_parent is not None) == (msg["type"] == "reply")
        assert chat.sent_at == _aware(msg["created_at"])
        assert chat.user_id == str(msg["sender_id"])
        assert chat.display_name == msg["sender_username"]
        assert chat.login == msg["sender_slug"]
        assert chat.color == msg["color"]
        expected_roles = {BADGE_ROLES[b["type"]] for b in msg["badges"] if b["type"] in BADGE_ROLES}
        assert chat.roles == expected_roles
    if "emotes" in expect:
        assert chat is not None
        _compare_emotes(_emote_dicts(chat.emotes), expect["emotes"])


def _aware(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# --- webhook records -------------------------------------------------------------------------


def _check_webhook(record: dict[str, Any]) -> None:
    body = json.loads(record["raw"])
    # The Kick webhook chat body lists emote positions; our inline-token parser must agree.
    if isinstance(body.get("emotes"), list) and isinstance(body.get("content"), str):
        expected = sorted(
            (str(e["emote_id"]), p["s"], p["e"]) for e in body["emotes"] for p in e["positions"]
        )
        got = sorted((e.id, e.start, e.end) for e in parse_emotes(body["content"]))
        assert got == expected
    expect = record["expect"]
    if "signed_message" in expect or "signature_valid" in expect:
        headers = record["context"]["headers"]
        signed = (
            f"{headers['Kick-Event-Message-Id']}.{headers['Kick-Event-Message-Timestamp']}."
            f"{record['raw']}"
        )
        if "signed_message" in expect:
            assert signed == expect["signed_message"]
        if "signature_valid" in expect:
            valid = _rsa_pkcs1v15_sha256_verify(
                record["context"]["public_key_pem"],
                signed.encode("utf-8"),
                base64.b64decode(headers["Kick-Event-Signature"]),
            )
            assert valid is expect["signature_valid"]


# RSA PKCS#1 v1.5 verification is a modular exponentiation plus a padding comparison, cheap
# with the stdlib, so the test does it rather than skipping the key or adding a crypto library.

_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def _der(data: bytes, pos: int) -> tuple[int, bytes, int]:
    """One DER TLV at `pos`: (tag, value, position after it)."""
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    return tag, data[pos : pos + length], pos + length


def _rsa_public_key(pem: str) -> tuple[int, int]:
    body = "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))
    der = base64.b64decode(body)
    tag, spki, _ = _der(der, 0)  # SubjectPublicKeyInfo SEQUENCE
    assert tag == 0x30
    _, _, pos = _der(spki, 0)  # AlgorithmIdentifier
    tag, bits, _ = _der(spki, pos)  # BIT STRING
    assert tag == 0x03 and bits[0] == 0  # no unused bits
    tag, rsa_key, _ = _der(bits[1:], 0)  # RSAPublicKey SEQUENCE
    assert tag == 0x30
    tag, n, pos = _der(rsa_key, 0)
    assert tag == 0x02
    tag, e, _ = _der(rsa_key, pos)
    assert tag == 0x02
    return int.from_bytes(n, "big"), int.from_bytes(e, "big")


def _rsa_pkcs1v15_sha256_verify(pem: str, message: bytes, signature: bytes) -> bool:
    n, e = _rsa_public_key(pem)
    k = (n.bit_length() + 7) // 8
    if len(signature) != k:
        return False
    em = pow(int.from_bytes(signature, "big"), e, n).to_bytes(k, "big")
    digest_info = _SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    expected = b"\x00\x01" + b"\xff" * (k - len(digest_info) - 3) + b"\x00" + digest_info
    return em == expected


def test_rsa_helper_rejects_a_tampered_body() -> None:
    """The stdlib verifier is not vacuous: one changed byte of the body fails."""
    (record,) = [r for r in RECORDS if "signature_valid" in r["expect"]]
    headers = record["context"]["headers"]
    signed = (
        f"{headers['Kick-Event-Message-Id']}.{headers['Kick-Event-Message-Timestamp']}."
        f"{record['raw'].replace('true', 'false', 1)}"
    )
    signature = base64.b64decode(headers["Kick-Event-Signature"])
    pem = record["context"]["public_key_pem"]
    assert not _rsa_pkcs1v15_sha256_verify(pem, signed.encode(), signature)
