"""Messages every chat platform actor understands."""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class SendChat:
    """Post `text` in the creator's chat on this platform (optionally as a reply)."""

    text: str
    reply_to: str | None = None
    trigger_id: str | None = None
