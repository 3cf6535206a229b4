"""ffmpeg: command lines, `-progress` parsing, codec detection, and stopping it politely.

Command builders and the progress parser are pure. `stop_ffmpeg` is the `deliver_cancel` for
`trio.run_process`: it sends `q` on stdin first (ffmpeg then finishes the file and exits, on
every OS), then `terminate()` (TerminateProcess on Windows), then `kill()`.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import attrs
import trio

#: How long ffmpeg gets to act on `q` before it is terminated, then killed.
STOP_GRACE_SECONDS = 3.0
#: Socket read/write timeout for capture inputs (ffmpeg takes microseconds).
CAPTURE_IO_TIMEOUT_US = 15_000_000


class FfmpegNotFound(Exception):
    """The configured ffmpeg program does not exist or cannot be run."""


def resolve_ffmpeg(program: str) -> str:
    """The absolute path of `program` (a name on PATH or a path); `FfmpegNotFound` otherwise."""
    found = shutil.which(program)
    if found is None:
        raise FfmpegNotFound(f"ffmpeg not found: {program!r} (set [clips] ffmpeg to its path)")
    return found


def available_encoders(ffmpeg: str) -> frozenset[str]:
    """Names of the video/audio encoders this ffmpeg has (blocking: run it in a thread).

    Cached per program file and modification time (an upgraded ffmpeg is asked again)."""
    path = shutil.which(ffmpeg) or ffmpeg
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise FfmpegNotFound(f"ffmpeg could not be run: {ffmpeg!r} ({exc.strerror})") from None
    return _encoders(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _encoders(ffmpeg: str, _mtime: int, _size: int) -> frozenset[str]:
    try:
        out = subprocess.run(
            [ffmpeg, "-hide_banner", "-encoders"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
            stdin=subprocess.DEVNULL,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise FfmpegNotFound(f"ffmpeg could not be run: {ffmpeg!r} ({exc})") from None
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) == 6 and parts[0][0] in "VAS":
            names.add(parts[1])
    return frozenset(names)


def choose_video_codec(configured: str, encoders: frozenset[str]) -> str:
    """`configured`, or for `auto` libx264 when present, else mpeg4 (in every ffmpeg build)."""
    if configured != "auto":
        return configured
    return "libx264" if "libx264" in encoders else "mpeg4"


def capture_command(
    ffmpeg: str,
    url: str,
    *,
    folder: Path,
    run: int,
    segment_seconds: float,
    list_size: int,
) -> list[str]:
    """Copy the stream (no re-encode) into `r<run>_NNNNNN.ts` segments with a CSV list."""
    cmd = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostats"]
    if url.startswith(("http://", "https://", "rtmp://", "rtmps://", "tcp://", "rtsp://")):
        # A stalled server must not hang the capture forever.
        cmd += ["-rw_timeout", str(CAPTURE_IO_TIMEOUT_US)]
    cmd += [
        "-i",
        url,
        "-map",
        "0:v?",
        "-map",
        "0:a?",
        "-c",
        "copy",
        "-f",
        "segment",
        "-segment_time",
        f"{segment_seconds:g}",
        "-segment_format",
        "mpegts",
        "-segment_list",
        str(folder / f"r{run}.csv"),
        "-segment_list_type",
        "csv",
        "-segment_list_size",
        str(list_size),
        str(folder / f"r{run}_%06d.ts"),
    ]
    return cmd


@attrs.frozen(kw_only=True)
class EncodeSettings:
    """How clips are encoded."""

    video_codec: str = "libx264"
    preset: str = "veryfast"
    audio_codec: str = "aac"


def encode_command(
    ffmpeg: str,
    source: Path,
    output: Path,
    *,
    offset: float,
    duration: float,
    settings: EncodeSettings,
    extra_input_args: Sequence[str] = (),
) -> list[str]:
    """Cut `[offset, offset + duration]` of `source` into an MP4 at `output`, with progress
    key=value lines on stdout."""
    video = ["-c:v", settings.video_codec]
    if settings.video_codec in ("libx264", "libx265"):
        video += ["-preset", settings.preset, "-pix_fmt", "yuv420p"]
    elif settings.video_codec == "mpeg4":
        video += ["-q:v", "5"]
    return [
        ffmpeg,
        "-hide_banner",
        "-loglevel",
        "error",
        "-nostats",
        "-y",
        *extra_input_args,
        "-ss",
        f"{offset:.3f}",
        "-i",
        str(source),
        "-t",
        f"{duration:.3f}",
        "-map",
        "0:v:0?",
        "-map",
        "0:a:0?",
        *video,
        "-c:a",
        settings.audio_codec,
        "-b:a",
        "128k",
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        "-progress",
        "pipe:1",
        str(output),
    ]


class ProgressParser:
    """Feed bytes of ffmpeg's `-progress` output; `fraction` is 0..1 of `duration` done."""

    def __init__(self, duration: float) -> None:
        self.duration = max(duration, 1e-6)
        self.out_time = 0.0
        self.ended = False
        self.blocks = 0
        self._partial = b""

    def feed(self, data: bytes | bytearray) -> bool:
        """Take more output; True when a progress block completed (time to report)."""
        self._partial += data
        *lines, self._partial = self._partial.split(b"\n")
        block_done = False
        for raw in lines:
            key, sep, value = raw.decode("utf-8", "replace").strip().partition("=")
            if not sep:
                continue
            if key in ("out_time_us", "out_time_ms"):  # both are microseconds (ffmpeg quirk)
                try:
                    self.out_time = max(self.out_time, int(value) / 1_000_000)
                except ValueError:
                    pass  # "N/A" before the first frame
            elif key == "progress":
                self.blocks += 1
                block_done = True
                if value == "end":
                    self.ended = True
        return block_done

    @property
    def fraction(self) -> float:
        if self.ended:
            return 1.0
        return min(max(self.out_time / self.duration, 0.0), 1.0)


class StderrTail:
    """Keeps the last lines ffmpeg wrote to stderr, for failure reasons."""

    def __init__(self, lines: int = 8) -> None:
        self._lines: list[str] = []
        self._max = lines
        self._partial = b""

    def feed(self, data: bytes | bytearray) -> None:
        self._partial += data
        *lines, self._partial = self._partial.split(b"\n")
        for raw in lines:
            text = raw.decode("utf-8", "replace").strip()
            if text:
                self._lines = [*self._lines, text][-self._max :]

    def lines(self) -> list[str]:
        """The kept lines, oldest first (the unfinished last one included)."""
        tail = self._partial.decode("utf-8", "replace").strip()
        return [*self._lines, tail] if tail else list(self._lines)

    def last(self) -> str | None:
        lines = self.lines()
        return lines[-1] if lines else None


_SERVER_RETURNED = re.compile(r"Server returned (\d)(\d\d|XX)\b")
_DNS_FAILED = ("Failed to resolve hostname", "Name or service not known", "name resolution")
_NEEDS_PERSON_STATUSES = ("401", "403")


def capture_failure(
    lines: Sequence[str], *, host: str | None, target: str | None
) -> CaptureExit | None:
    """Why a capture run ended, from ffmpeg's last stderr lines, as a sentence a person
    understands (`connection refused by host:port`, `DNS lookup failed for host`,
    `HTTP 401 from host`); None when the lines say nothing we recognise."""
    text = "\n".join(lines)
    peer, name = target or host or "the stream server", host or "the stream server"
    if "Connection refused" in text:
        return CaptureExit(reason=f"connection refused by {peer}")
    if any(marker in text for marker in _DNS_FAILED):
        return CaptureExit(reason=f"DNS lookup failed for {name}")
    match = _SERVER_RETURNED.search(text)
    if match:
        status = match.group(1) + match.group(2).lower()  # ffmpeg says "5XX" for any 5xx
        return CaptureExit(
            reason=f"HTTP {status} from {name}", needs_person=status in _NEEDS_PERSON_STATUSES
        )
    if "Connection reset" in text:
        return CaptureExit(reason=f"connection reset by {peer} (RST)")
    if "timed out" in text.lower():
        return CaptureExit(reason=f"no answer from {peer} in time")
    return None


@attrs.frozen(kw_only=True)
class CaptureExit:
    """A capture run's end as the lifecycle needs it."""

    reason: str
    needs_person: bool = False


async def stop_ffmpeg(process: trio.Process, grace: float = STOP_GRACE_SECONDS) -> None:
    """Ask ffmpeg to quit (`q`), then terminate, then kill; returns once it has exited."""
    if process.stdin is not None:
        try:
            await process.stdin.send_all(b"q")
            await process.stdin.aclose()
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass  # already gone or stdin closed: fall through to terminate
    with trio.move_on_after(grace):
        await process.wait()
        return
    process.terminate()
    with trio.move_on_after(grace):
        await process.wait()
        return
    process.kill()
    await process.wait()
