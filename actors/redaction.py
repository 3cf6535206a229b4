"""Masking of secrets in free text (error messages, log lines).

Secrets are kept out of logs by construction (config `Secret` values render masked); this is
the second line of defence for text we do not control, such as an exception message that
quotes a URL or a header.
"""

from __future__ import annotations

import re

MASK = "***"

_PATTERNS: tuple[re.Pattern[str], ...] = (
    # Twitch IRC passwords and OAuth tokens.
    re.compile(r"(?i)\boauth:[a-z0-9]+"),
    # Authorization headers: Bearer / Bot / OAuth / Basic schemes.
    re.compile(r"(?i)\b(bearer|bot|oauth|basic)\s+[A-Za-z0-9._~+/=-]{8,}"),
    # key=value pairs whose key names a secret, in query strings, forms or prose.
    re.compile(
        r"(?i)\b([a-z_]*(?:token|secret|password|passwd|api[_-]?key|key|signature|auth))"
        r"(\s*[=:]\s*)(\"?)[^\s&\"',;]+"
    ),
    # Discord bot tokens (three dot-separated base64url parts).
    re.compile(r"\b[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,40}\b"),
    # Webhook URLs carry their secret in the path.
    re.compile(r"(?i)(/api/webhooks/\d+/)[A-Za-z0-9_-]+"),
)

_extra: set[str] = set()


def register_secret(value: str) -> None:
    """Mask this exact value wherever it appears from now on (resolved config secrets)."""
    if value and len(value) >= 4:
        _extra.add(value)


def mask_secrets(text: str) -> str:
    """Return `text` with anything that looks like a secret replaced by `***`."""
    for value in _extra:
        if value in text:
            text = text.replace(value, MASK)
    text = _PATTERNS[0].sub(MASK, text)
    text = _PATTERNS[1].sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _PATTERNS[2].sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}{MASK}", text)
    text = _PATTERNS[3].sub(MASK, text)
    text = _PATTERNS[4].sub(lambda m: f"{m.group(1)}{MASK}", text)
    return text
