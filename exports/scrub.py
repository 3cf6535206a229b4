"""Keeping secrets and raw user ids out of export files.

Three layers, because a leak in a public file cannot be recalled:

- views for public files have no field for a secret or a platform user id at all;
- every string of every file is scrubbed of the known secret values (``ExportContext.secrets``)
  and of secret-looking tokens (stream keys, OAuth tokens, credentials in URLs);
- signal files replace user ids with a keyed hash (:func:`pseudonymize`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from typing import Any

import orjson

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "certainly_clean",
    "pseudonymize",
    "redact_text",
    "scrub",
    "scrub_document",
]

MASK = "[redacted]"

# Secret-looking tokens, matched anywhere in free text (error messages, titles, log lines). One
# alternation, so each string is scanned once. A ``kN`` group is a label kept in front of the mask
# ("token=", "rtmp://host/app/") so the text stays useful for debugging.
_SECRET_RE = re.compile(
    "|".join(
        (
            # Twitch stream keys.
            r"live_\d+_[a-z0-9]{10,}",
            # IRC/Twitch style oauth tokens; bearer and bot tokens in header form.
            r"oauth:[a-z0-9]{8,}",
            r"(?P<k1>\b(?:bearer|bot|oauth) )[a-z0-9._~+/=-]{8,}",
            # RTMP(S) ingest paths: everything after the application name is the stream key.
            r"(?P<k2>rtmps?://[^/\s]+/[^/\s]+/)[^\s\"']+",
            # user:password@ in URLs.
            r"(?P<k3>://)[^/\s:@]+:[^/\s@]+(?=@)",
            # key=value credentials in query strings, configs and command lines.
            r"(?P<k4>\b(?:access_|refresh_|id_|api_|client_|stream_|bot_)?"
            r"(?:token|secret|key|password|passwd|pwd|signature|sig)=)[^\s&\"',;]+",
            # Discord webhook tokens: the path segment after the webhook id (full URL or path).
            r"(?P<k5>/webhooks/\d{15,25}/)[a-z0-9_-]{20,}",
            # Discord bot tokens (three dot-separated base64url parts).
            r"\b[a-z0-9_-]{23,28}\.[a-z0-9_-]{6,7}\.[a-z0-9_-]{27,}\b",
        )
    ),
    re.IGNORECASE,
)


def _mask(match: re.Match[str], mask: str = MASK) -> str:
    for label in ("k1", "k2", "k3", "k4", "k5"):
        kept = match.group(label)
        if kept is not None:
            return kept + mask
    return mask


#: Known secrets shorter than this are not searched for: masking every "1" or "abc" would mangle
#: ids and timestamps, and a value that short is not a real credential anyway.
MIN_SECRET_LENGTH = 8


def _known(secrets: Iterable[str]) -> tuple[str, ...]:
    # Longest first, so a secret containing another secret is masked whole.
    found = {s for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET_LENGTH}
    return tuple(sorted(found, key=lambda s: (-len(s), s)))


# Substrings without which no pattern above can match: most strings (ids, timestamps, titles)
# skip the regex scan entirely.
_MARKERS = ("live_", "oauth", "bearer ", "bot ", "://", "=", "webhooks/")
_TOKEN_MIN_LENGTH = 59  # the shortest Discord-token-shaped string


def _may_hold_secret(text: str) -> bool:
    lowered = text.lower()
    if any(marker in lowered for marker in _MARKERS):
        return True
    return len(text) >= _TOKEN_MIN_LENGTH and "." in text


def _redact(text: str, known: tuple[str, ...], mask: str = MASK) -> str:
    for secret in known:
        if secret in text:
            text = text.replace(secret, mask)
    if _may_hold_secret(text):
        text = _SECRET_RE.sub(lambda m: _mask(m, mask), text)
    return text


def redact_text(text: str, secrets: Iterable[str] = (), *, mask: str = MASK) -> str:
    """``text`` with every known secret value and every secret-looking token masked."""
    return _redact(text, _known(secrets), mask)


def scrub(obj: Any, secrets: Iterable[str] = ()) -> Any:
    """A copy of a JSON-like value with :func:`redact_text` applied to every string value.

    Keys are left alone: they are field names chosen by the builders, never data.
    """
    known = _known(secrets)

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return _redact(value, known)
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [walk(v) for v in value]
        return value

    return walk(obj)


# What the regex could still match in a string without any of ``_MARKERS``: a Discord-token
# shape (only looked for in long strings with a dot) and "live_" spelled with a character that
# IGNORECASE folds to "i" but ``str.lower`` does not (dotless i, dotted capital I). Without the
# word boundaries, so a match inside any string is also a match in that string's JSON text.
_UNMARKED_LIVE_RE = re.compile(r"live_\d+_[a-z0-9]{10,}", re.IGNORECASE)
_UNMARKED_TOKEN_RE = re.compile(
    r"[a-z0-9_-]{23,28}\.[a-z0-9_-]{6,7}\.[a-z0-9_-]{27,}", re.IGNORECASE
)
# Cheap necessary conditions for the two above (each match contains one): a scan for a run of
# token characters at every position is slow, a scan anchored on "." is not.
_TOKEN_MIDDLE_RE = re.compile(r"\.[a-z0-9_-]{6,7}\.", re.IGNORECASE)


def _has_marker(lowered: str) -> bool:
    """``any(marker in lowered for marker in _MARKERS)`` for a long text: the markers with a
    space or a slash are only looked for when the text has one (a one-character search runs
    far faster than one for several characters, and long texts often have neither)."""
    if any(marker in lowered for marker in _UNSPACED_MARKERS):
        return True
    if " " in lowered and any(marker in lowered for marker in _SPACED_MARKERS):
        return True
    return "/" in lowered and any(marker in lowered for marker in _SLASHED_MARKERS)


# `_MARKERS` by what `_has_marker` looks for first (derived: one list of markers).
_SPACED_MARKERS = tuple(m for m in _MARKERS if " " in m)
_SLASHED_MARKERS = tuple(m for m in _MARKERS if "/" in m and " " not in m)
_UNSPACED_MARKERS = tuple(m for m in _MARKERS if " " not in m and "/" not in m)


def _json_fragment(text: str) -> str:
    try:
        return orjson.dumps(text)[1:-1].decode("utf-8")
    except orjson.JSONEncodeError:  # a lone surrogate: json can still write it escaped
        return json.dumps(text, ensure_ascii=False)[1:-1]


def _certainly_clean(obj: Any, known: tuple[str, ...]) -> bool:
    """True only when :func:`scrub` would return ``obj`` unchanged (as JSON).

    Works on the compact JSON text of the whole value (the C encoder, one pass) instead of on
    each string. JSON escaping maps every character on its own, and no marker, secret-shape or
    token character is ever escaped, so whatever ``_redact`` would find in a string is also
    found in the text: a text without any known secret (escaped the same way), any marker and
    any match of the ``_UNMARKED_*`` patterns holds no string that ``_redact`` would change.
    Keys are in the text too: they can only make this answer False (then the full walk runs).
    """
    try:
        text = orjson.dumps(obj).decode("utf-8")
    except (TypeError, ValueError, RecursionError):
        return False  # not plain JSON: let the full walk (and the canonical check) see it
    if any(_json_fragment(secret) in text for secret in known):
        return False
    lowered = text.lower()
    if _has_marker(lowered):
        return False
    if "ve_" in lowered and _UNMARKED_LIVE_RE.search(text):
        return False  # no special case folding for "v", "e": every "live_" match lowers to "ve_"
    return not (_TOKEN_MIDDLE_RE.search(text) and _UNMARKED_TOKEN_RE.search(text))


def certainly_clean(value: Any, secrets: Iterable[str] = ()) -> bool:
    """True only when :func:`scrub` would return ``value`` (any JSON-like value) unchanged:
    a caller that knows which strings its documents hold can prove them clean as a list."""
    return _certainly_clean(value, _known(secrets))


def scrub_document(obj: dict[str, Any], secrets: Iterable[str] = ()) -> dict[str, Any]:
    """:func:`scrub` for a freshly built document dict, equal in output and much cheaper.

    When the document provably holds nothing to redact it is returned as it is (not copied:
    the caller owns it); otherwise this is :func:`scrub`.
    """
    known = _known(secrets)
    if _certainly_clean(obj, known):
        return obj
    result: dict[str, Any] = scrub(obj, known)
    return result


def pseudonymize(user_id: str, key: bytes) -> str:
    """A stable pseudonym for a platform user id: ``"u_"`` + 16 hex digits of HMAC-SHA256.

    Keyed, so nobody without the key can test a guessed id against it; stable for a given key,
    so the dashboard can still tell that two signals came from the same person.
    """
    if not isinstance(key, bytes | bytearray) or len(key) < 16:
        raise ValueError("pseudonymization key must be at least 16 bytes")
    if not isinstance(user_id, str):
        raise TypeError(f"user_id must be a string, got {type(user_id).__name__}")
    digest = hmac.new(bytes(key), user_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return "u_" + digest[:16]
