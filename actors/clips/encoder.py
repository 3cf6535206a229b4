"""Run one encode: ffmpeg cuts a snapshot into `<clip_id>.mp4`, reporting progress.

The output is written to a temporary name in the same folder, flushed to disk and renamed
only after ffmpeg exited successfully: a published file is never half-written, and a crash at
any moment leaves either the complete file or a `.part` file the next start deletes.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from pathlib import Path

import trio

from actors.clips.ffmpeg import (
    EncodeSettings,
    ProgressParser,
    StderrTail,
    encode_command,
    stop_ffmpeg,
)
from actors.clips.messages import Snapshot

PART_SUFFIX = ".part"


class EncodeError(Exception):
    """The encode failed; `transient` ones are worth another attempt."""

    def __init__(self, reason: str, *, transient: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


def part_path(final: Path) -> Path:
    """The temporary name of `final` while ffmpeg writes it (hidden, same folder)."""
    return final.with_name(f".{final.name}{PART_SUFFIX}")


def _finish(tmp: Path, final: Path) -> None:
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, final)
    if os.name != "nt":
        fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


async def encode_clip(
    ffmpeg: str,
    snapshot: Snapshot,
    final: Path,
    *,
    settings: EncodeSettings,
    on_progress: Callable[[float], Awaitable[None]] | None = None,
    extra_input_args: Sequence[str] = (),
) -> None:
    """Encode `snapshot` into `final`; raises `EncodeError`. Cancelling stops ffmpeg with `q`."""
    tmp = part_path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    cmd = encode_command(
        ffmpeg,
        snapshot.source,
        tmp,
        offset=snapshot.offset,
        duration=snapshot.duration,
        settings=settings,
        extra_input_args=extra_input_args,
    )
    parser = ProgressParser(snapshot.duration)
    tail = StderrTail()
    start_error: OSError | None = None
    async with trio.open_nursery() as nursery:
        try:
            process: trio.Process = await nursery.start(
                partial(
                    trio.run_process,
                    cmd,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    check=False,
                    deliver_cancel=stop_ffmpeg,
                )
            )
        except OSError as exc:
            start_error = exc
        if start_error is None:
            nursery.start_soon(_drain_stderr, process.stderr, tail)
            assert process.stdout is not None
            async for chunk in process.stdout:
                if parser.feed(chunk) and on_progress is not None:
                    await on_progress(parser.fraction)
            await process.wait()
    if start_error is not None:
        # Raised outside the nursery: from its body it would arrive wrapped in a group.
        reason = start_error.strerror or str(start_error)
        raise EncodeError(f"ffmpeg could not be started ({ffmpeg!r}): {reason}", transient=False)
    if process.returncode != 0:
        tmp.unlink(missing_ok=True)
        detail = tail.last() or "no error output"
        raise EncodeError(
            f"ffmpeg failed (exit code {process.returncode}): {detail}", transient=True
        )
    try:
        if tmp.stat().st_size == 0:
            raise EncodeError("ffmpeg produced an empty file", transient=True)
        await trio.to_thread.run_sync(_finish, tmp, final)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise EncodeError(
            f"could not finish the file: {exc.strerror or exc}", transient=True
        ) from None


async def _drain_stderr(stream: trio.abc.ReceiveStream | None, tail: StderrTail) -> None:
    if stream is None:
        return
    async for chunk in stream:
        tail.feed(chunk)
