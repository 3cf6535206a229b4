"""Where each creator's chat log replay stands, so a restarted replay resumes there.

Kept in the ``meta`` table under ``replay:<creator_id>`` as canonical JSON. ``pass_number``
counts the passes over a log (a looping replay, or a new file, starts the next one), so the
message ids of one pass differ from those of every other; ``lines_done`` is how many lines of
the current pass were delivered; ``digest`` identifies the file's content.
"""

from __future__ import annotations

import json

import apsw
import attrs

from ._sql import canonical_json, require_text
from .creators import get_meta, set_meta

__all__ = ["ReplayPosition", "get_replay_position", "set_replay_position"]


@attrs.frozen(slots=True, kw_only=True)
class ReplayPosition:
    """A replay's place: which file (by content), which pass, how many lines of it done."""

    digest: str
    pass_number: int = attrs.field(validator=attrs.validators.ge(1))
    lines_done: int = attrs.field(validator=attrs.validators.ge(0))


def _key(creator_id: str) -> str:
    return f"replay:{require_text('creator_id', creator_id)}"


def get_replay_position(conn: apsw.Connection, creator_id: str) -> ReplayPosition | None:
    """The stored position, or ``None`` when there is none or it is unreadable (the replay
    then starts from the top; the trigger engine's seen ids still keep a line from counting
    twice)."""
    raw = get_meta(conn, _key(creator_id))
    if raw is None:
        return None
    try:
        obj = json.loads(raw)
        return ReplayPosition(
            digest=str(obj["digest"]),
            pass_number=int(obj["pass_number"]),
            lines_done=int(obj["lines_done"]),
        )
    except (ValueError, TypeError, KeyError, RecursionError):
        return None


def set_replay_position(conn: apsw.Connection, creator_id: str, position: ReplayPosition) -> None:
    """Store the position (replacing the previous one)."""
    # The fields named here, not by `attrs.asdict` (which walks the class for them each time:
    # a replay saves its place every few seconds per creator).
    fields = {
        "digest": position.digest,
        "lines_done": position.lines_done,
        "pass_number": position.pass_number,
    }
    set_meta(conn, _key(creator_id), canonical_json(fields))
