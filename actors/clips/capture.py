"""`ClipCapture`: one creator's rolling buffer of the live stream, cut into segments by ffmpeg.

ffmpeg copies the stream (no re-encode: cheap while idle) from the configured URL into
`<folder>/r<run>_NNNNNN.ts` segments and a CSV list. The actor reads the list, places segments
on the wall clock (`ring.SegmentRing`), deletes what fell out of the buffer, and persists the
ring (`ring.json`) so a restarted process can still cut clips requested before it died.

Liveness: ffmpeg has a socket timeout, and the actor restarts it when no segment has completed
for `stall_seconds`. Every ffmpeg run is one session of `actors.connection.Lifecycle`: it
reconnects with exponential backoff and jitter after every exit (starting over once a run
produced footage), and its health says why the capture is not running.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import trio

from actors import Actor
from actors.clips.ffmpeg import StderrTail, capture_command, capture_failure, stop_ffmpeg
from actors.clips.messages import Snapshot, SnapshotFailed, TakeSnapshot
from actors.clips.ring import NotBuffered, Segment, SegmentRing, parse_segment_list
from actors.clips.snapshot import write_snapshot
from actors.clips.statistics import ClipCaptureStatistics
from actors.connection import ConnectionHealth, Lifecycle, SessionEnded
from supervisors import Backoff

RING_FILE = "ring.json"
_SEGMENT_NAME = re.compile(r"r(\d+)_\d{6}\.ts")


class ClipCapture(Actor):
    """Keeps the last `buffer_seconds` of `url` in `folder`; answers `TakeSnapshot`.

    `url` is a zero-argument callable so a secret URL is revealed only where ffmpeg gets it;
    it never appears in logs or snapshots (ffmpeg's messages are scrubbed of it).
    """

    def __init__(
        self,
        *,
        creator_id: str,
        url: Callable[[], str],
        folder: Path,
        ffmpeg: str = "ffmpeg",
        segment_seconds: float = 2.0,
        buffer_seconds: float = 120.0,
        poll_seconds: float = 0.25,
        stall_seconds: float | None = None,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.creator_id = creator_id
        self._url = url
        self.folder = folder
        self.ffmpeg = ffmpeg
        self.segment_seconds = segment_seconds
        self.buffer_seconds = buffer_seconds
        self.poll_seconds = poll_seconds
        self.stall_seconds = stall_seconds or max(4 * segment_seconds, 20.0)
        self._clock = clock
        self.lifecycle = Lifecycle(
            "capture",
            creator_id=creator_id,
            target="the capture URL",  # never the URL itself: it may hold a stream key
            backoff=Backoff(initial=backoff_initial, maximum=backoff_max, jitter=0.2),
            person_backoff=Backoff(initial=30.0, maximum=300.0, jitter=0.2),
            max_person_failures=None,  # ffmpeg installed or a secret set later is picked up
            stable_after=0.0,  # a run that produced footage starts the backoff over
        )
        self.ring = SegmentRing(buffer_seconds=buffer_seconds, segment_seconds=segment_seconds)
        self._lock = trio.Lock()
        self._new_segment = trio.Event()
        self.ffmpeg_pid: int | None = None
        self.restarts = 0
        self.segments_seen = 0
        self.snapshots = 0
        self.snapshot_failures = 0
        self.last_segment_at: float | None = None
        self._next_run = 1

    # ------------------------------------------------------------------ start and ring file

    async def on_start(self) -> None:
        await trio.to_thread.run_sync(self._restore)

    def _restore(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        runs = [0]
        kept: list[Segment] = []
        try:
            data = json.loads((self.folder / RING_FILE).read_text(encoding="utf-8"))
            runs.append(int(data.get("next_run", 1)) - 1)
            for item in data.get("segments", []):
                seg = Segment(
                    name=str(item["name"]),
                    run=int(item["run"]),
                    wall_start=float(item["wall_start"]),
                    wall_end=float(item["wall_end"]),
                )
                if _SEGMENT_NAME.fullmatch(seg.name) and (self.folder / seg.name).is_file():
                    kept.append(seg)
        except (OSError, ValueError, KeyError, TypeError):
            pass  # no ring yet, or unreadable: start empty (the files are swept below)
        for path in self.folder.iterdir():
            match = _SEGMENT_NAME.fullmatch(path.name)
            if match:
                runs.append(int(match.group(1)))
        self._next_run = max(runs) + 1
        self.ring.restore(kept)
        self._sweep(self._clock())

    def _sweep(self, now: float) -> None:
        """Prune the ring and delete every segment file and list the ring does not hold."""
        self.ring.prune(now)
        keep = {s.name for s in self.ring.segments}
        for path in self.folder.iterdir():
            stale_segment = _SEGMENT_NAME.fullmatch(path.name) and path.name not in keep
            old_list = path.suffix == ".csv" and path.stem != f"r{self._next_run - 1}"
            if stale_segment or old_list:
                try:
                    path.unlink()
                except OSError:
                    pass  # in use on Windows: next sweep

    def _persist(self) -> None:
        data = {
            "next_run": self._next_run,
            "segments": [
                {"name": s.name, "run": s.run, "wall_start": s.wall_start, "wall_end": s.wall_end}
                for s in self.ring.segments
            ],
        }
        tmp = self.folder / (RING_FILE + ".part")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, self.folder / RING_FILE)

    # ------------------------------------------------------------------ the ffmpeg loop

    @property
    def status(self) -> str:
        """connecting | running | reconnecting | failed (the capture's own words)."""
        state = self.lifecycle.state.value
        return "running" if state == "connected" else state

    @property
    def error(self) -> str | None:
        """Why the last ffmpeg run ended (kept after recovery; the health says if it is current)."""
        return self.lifecycle.last_error

    async def run(self) -> None:
        await self.lifecycle.run(self._session, log=self.log)

    async def _session(self) -> None:
        run = self._next_run
        self._next_run += 1
        try:
            await self._run_ffmpeg(run)
        finally:
            self.restarts += 1
            self.ffmpeg_pid = None

    async def _run_ffmpeg(self, run: int) -> None:
        """One ffmpeg run until it exits or stalls; raises why it ended."""
        list_size = int(self.buffer_seconds / self.segment_seconds) + 4
        try:
            url = self._url()
        except Exception as exc:  # a secret that cannot be revealed: keep trying later
            raise SessionEnded(
                f"capture URL unavailable: {type(exc).__name__}", needs_person=True
            ) from None
        cmd = capture_command(
            self.ffmpeg,
            url,
            folder=self.folder,
            run=run,
            segment_seconds=self.segment_seconds,
            list_size=list_size,
        )
        tail = StderrTail()
        async with trio.open_nursery() as nursery:
            try:
                process: trio.Process = await nursery.start(
                    partial(
                        trio.run_process,
                        cmd,
                        stdin=subprocess.PIPE,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE,
                        check=False,
                        deliver_cancel=stop_ffmpeg,
                    )
                )
            except OSError as exc:
                raise SessionEnded(
                    f"ffmpeg could not be started ({self.ffmpeg!r}): {exc.strerror or exc}",
                    needs_person=True,
                ) from None
            self.ffmpeg_pid = process.pid
            nursery.start_soon(_drain, process.stderr, tail)
            stalled = await self._watch_until_exit(run, process, nursery)
        if not stalled:
            # ffmpeg's last words as a sentence naming only host:port (refused, DNS, HTTP).
            host, target = _where(url)
            known = capture_failure(tail.lines(), host=host, target=target)
            if known is not None:
                raise SessionEnded(known.reason, needs_person=known.needs_person)
        reason = stalled or self._scrub(
            tail.last() or f"ffmpeg exited with code {process.returncode}"
        )
        raise SessionEnded(f"capture stopped: {reason}")

    async def _watch_until_exit(
        self, run: int, process: trio.Process, nursery: trio.Nursery
    ) -> str | None:
        """Serve the run until ffmpeg exits; the stall reason when we stopped it."""
        stalled: list[str] = []
        nursery.start_soon(self._watch, run, process, stalled)
        await process.wait()
        nursery.cancel_scope.cancel()
        return stalled[0] if stalled else None

    async def _watch(self, run: int, process: trio.Process, stalled: list[str]) -> None:
        list_path = self.folder / f"r{run}.csv"
        last_progress = self._clock()
        while True:
            await trio.sleep(self.poll_seconds)
            now = self._clock()
            try:
                text = await trio.to_thread.run_sync(_read_text, list_path)
            except OSError:
                text = ""
            async with self._lock:
                added = self.ring.observe(run, parse_segment_list(text), now)
                dropped = self.ring.prune(now)
                if added or dropped:
                    await trio.to_thread.run_sync(self._drop_and_persist, dropped)
            if added:
                last_progress = now
                self.segments_seen += len(added)
                self.last_segment_at = now
                self.lifecycle.saw_traffic()
                self.lifecycle.mark_connected(f"{len(self.ring.segments)} segments buffered")
                self._new_segment.set()
                self._new_segment = trio.Event()
            elif now - last_progress > self.stall_seconds:
                self.log.warning("capture stalled", seconds=round(now - last_progress, 1))
                stalled.append(f"no footage for {now - last_progress:.0f} s")  # before it exits
                await stop_ffmpeg(process)
                return

    def _drop_and_persist(self, dropped: list[Segment]) -> None:
        for seg in dropped:
            try:
                (self.folder / seg.name).unlink()
            except OSError:
                pass
        self._persist()

    def _scrub(self, text: str) -> str:
        try:
            url = self._url()
        except Exception:
            return text
        return text.replace(url, "<capture url>") if url else text

    # ------------------------------------------------------------------ snapshots

    async def handle(self, message: Any) -> Any:
        if isinstance(message, TakeSnapshot):
            return await self._snapshot(message)
        raise TypeError(f"ClipCapture takes TakeSnapshot, got {type(message).__name__}")

    async def _snapshot(self, msg: TakeSnapshot) -> Snapshot | SnapshotFailed:
        # Wait (bounded) for the segment that holds the requested end to complete.
        # Wait only while footage is arriving: with the stream down, nothing newer will come
        # (a clip of an ended stream is cut from what is there, at once).
        wait = msg.wait_seconds if self.lifecycle.is_connected else 0.0
        with trio.move_on_after(wait):
            while (self.ring.newest_end or 0.0) < msg.end:
                await self._new_segment.wait()
        async with self._lock:
            try:
                window = self.ring.window(end=msg.end, length=msg.length)
            except NotBuffered as exc:
                self.snapshot_failures += 1
                state = f"; capture: {self.error}" if self.error else ""
                return SnapshotFailed(reason=f"{exc}{state}")
            parts = [self.folder / s.name for s in window.segments]
            try:
                snap = await trio.to_thread.run_sync(
                    partial(
                        write_snapshot,
                        msg.folder,
                        parts,
                        offset=window.offset,
                        duration=window.duration,
                    )
                )
            except OSError as exc:
                self.snapshot_failures += 1
                return SnapshotFailed(reason=f"could not copy the footage: {exc}")
        self.snapshots += 1
        return snap

    def health(self) -> ConnectionHealth:
        """The capture's health: connected while footage arrives."""
        return self.lifecycle.health(errors=self.snapshot_failures)

    def snapshot(self) -> ClipCaptureStatistics:
        return ClipCaptureStatistics(
            creator_id=self.creator_id,
            status=self.status,
            buffered_seconds=round(self.ring.buffered_seconds, 3),
            segments=len(self.ring.segments),
            segments_seen=self.segments_seen,
            restarts=self.restarts,
            snapshots=self.snapshots,
            snapshot_failures=self.snapshot_failures,
            last_segment_at=(
                None
                if self.last_segment_at is None
                else datetime.fromtimestamp(self.last_segment_at, UTC)
            ),
            ffmpeg_pid=self.ffmpeg_pid,
            error=self.error,
        )


def _where(url: str) -> tuple[str | None, str | None]:
    """(host, host:port) of the capture URL (never its path or query: they may hold keys)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None, None
    host = parts.hostname
    if host is None:
        return None, None
    default = {"http": 80, "https": 443, "rtmp": 1935, "rtmps": 443, "rtsp": 554}
    port = port or default.get(parts.scheme)
    return host, f"{host}:{port}" if port else host


def _read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


async def _drain(stream: trio.abc.ReceiveStream | None, tail: StderrTail) -> None:
    if stream is None:
        return
    async for chunk in stream:
        tail.feed(chunk)
