"""Clip titles: source title, date, clipper and clip id within 120 characters."""

from __future__ import annotations

from datetime import datetime

MAX_TITLE_LENGTH = 120
_SEPARATOR = " · "
_ELLIPSIS = "…"


def clip_title(
    *, source_title: str, at: datetime, clipper: str, clip_id: str, limit: int = MAX_TITLE_LENGTH
) -> str:
    """`"<source title> · 2026-11-21 · <clipper> · <clip id>"`, at most `limit` characters.

    The source title is shortened first (it is the longest and least useful part for finding a
    clip again); only if the fixed parts alone exceed the limit is the clipper shortened too.
    """
    source = " ".join(source_title.split()) or "clip"
    clipper = " ".join(clipper.split()) or "someone"
    tail = _SEPARATOR.join((at.strftime("%Y-%m-%d"), clipper, clip_id))
    room = limit - len(tail) - len(_SEPARATOR)
    if room >= 1:
        if len(source) > room:
            source = source[: room - 1].rstrip() + _ELLIPSIS if room > 1 else _ELLIPSIS
        return f"{source}{_SEPARATOR}{tail}"
    # Pathological clipper names: keep the id and date, shorten the clipper.
    fixed = _SEPARATOR.join((at.strftime("%Y-%m-%d"), clip_id))
    room = limit - len(fixed) - len(_SEPARATOR)
    clipper = clipper[: max(room - 1, 0)] + _ELLIPSIS if room >= 1 else ""
    title = _SEPARATOR.join(p for p in (at.strftime("%Y-%m-%d"), clipper, clip_id) if p)
    return title[:limit]
