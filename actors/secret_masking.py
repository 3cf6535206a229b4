"""Masking of secrets in log lines and error messages.

Secrets are kept out of logs by construction (config `Secret` values render masked); this is
the second line of defence for text we do not control, such as an exception message that
quotes a URL or a header. The patterns are those of `exports.scrub` (one definition of what
looks like a secret); this module adds the process-wide set of known secret values, which
the runtime registers once the configuration is resolved.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from exports.scrub import redact_text

MASK = "***"

_known: set[str] = set()


#: A URL's path segments and query values at least this long are credentials in their own
#: right (a Discord webhook token, a Rumble API key) and are masked also when quoted alone.
_URL_PART_MIN_LENGTH = 16


def _url_credentials(value: str) -> set[str]:
    try:
        parts = urlsplit(value)
    except ValueError:
        return set()
    if not (parts.scheme and parts.netloc):
        return set()
    pieces = parts.path.split("/") + [v for _, v in parse_qsl(parts.query)]
    return {p for p in pieces if len(p) >= _URL_PART_MIN_LENGTH and not p.isdigit()}


def register_secret(value: str) -> None:
    """Mask this exact value wherever it appears from now on (resolved config secrets).

    A secret that is a URL (webhook URLs, API URLs with a key) also masks its long path
    segments and query values on their own: a log line may quote the token without the URL.
    """
    if value:
        _known.add(value)
        _known.update(_url_credentials(value))


def mask_secrets(text: str) -> str:
    """Return `text` with known secrets and anything that looks like a secret masked."""
    return redact_text(text, _known, mask=MASK)
