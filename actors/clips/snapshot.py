"""A clip's private copy of its footage, so an encode can be redone after a crash.

`<work>/<clip_id>/source.ts` (the selected segments, concatenated: MPEG-TS concatenates
byte-wise) and `snapshot.json` (where to cut). Both are written to temporary names and renamed,
so a snapshot either exists completely or not at all.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from actors.clips.messages import Snapshot

SOURCE_NAME = "source.ts"
META_NAME = "snapshot.json"


def _fsync_dir(folder: Path) -> None:
    if os.name == "nt":  # directories cannot be opened for fsync on Windows
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_snapshot(
    folder: Path, parts: Sequence[Path], *, offset: float, duration: float
) -> Snapshot:
    """Concatenate `parts` into `folder/source.ts` and record the cut (blocking)."""
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / SOURCE_NAME
    tmp = folder / (SOURCE_NAME + ".part")
    with open(tmp, "wb") as out:
        for part in parts:
            with open(part, "rb") as f:
                while chunk := f.read(1 << 20):
                    out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, source)
    meta_tmp = folder / (META_NAME + ".part")
    meta_tmp.write_text(json.dumps({"offset": offset, "duration": duration}), encoding="utf-8")
    os.replace(meta_tmp, folder / META_NAME)
    _fsync_dir(folder)
    return Snapshot(source=source, offset=offset, duration=duration)


def read_snapshot(folder: Path) -> Snapshot | None:
    """The snapshot in `folder`, or None when there is no complete one (blocking)."""
    source = folder / SOURCE_NAME
    try:
        meta = json.loads((folder / META_NAME).read_text(encoding="utf-8"))
        offset, duration = float(meta["offset"]), float(meta["duration"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not source.is_file():
        return None
    return Snapshot(source=source, offset=offset, duration=duration)
