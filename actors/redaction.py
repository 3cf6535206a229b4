"""Masking of secrets in log lines and error messages.

Secrets are kept out of logs by construction (config `Secret` values render masked); this is
the second line of defence for text we do not control, such as an exception message that
quotes a URL or a header. The patterns are those of `exports.redact` (one definition of what
looks like a secret); this module adds the process-wide set of known secret values, which
the runtime registers once the configuration is resolved.
"""

from __future__ import annotations

from exports.redact import redact_text

MASK = "***"

_known: set[str] = set()


def register_secret(value: str) -> None:
    """Mask this exact value wherever it appears from now on (resolved config secrets)."""
    if value:
        _known.add(value)


def mask_secrets(text: str) -> str:
    """Return `text` with known secrets and anything that looks like a secret masked."""
    return redact_text(text, _known, mask=MASK)
