"""`ClipJobs`: the clip job scheduler and its encoder workers.

Jobs live in the database (`state.clips`): this actor holds no job state that matters after a
crash. At start it repairs what a crash interrupted (an `encoding` job goes back to `queued`,
or on to `encoded` when its finished file is already there; an `uploading` job goes back to
`encoded`) and deletes half-written `.part` files; then it polls the unfinished jobs (and is
woken by `RequestClip`, `Rescan` or the store's `Changed`) and runs up to `workers` of them at a
time, at most `max_concurrent` per creator, each as a task in its nursery. A worker task walks
one job through queued -> encoding -> encoded -> uploading -> published; a transient failure
puts it back one step with a backoff, a permanent one (or too many attempts) fails it with a
reason. Cancelling the actor cancels the tasks, which stops ffmpeg with `q`.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import apsw
import attrs
import trio

from actors import Actor, ActorFailed, ActorRef, CallTimeout
from actors.clips.destinations import Destination, PublishError, PublishItem, ordered
from actors.clips.encoder import PART_SUFFIX, EncodeError, encode_clip
from actors.clips.ffmpeg import (
    EncodeSettings,
    FfmpegNotFound,
    available_encoders,
    choose_video_codec,
    resolve_ffmpeg,
)
from actors.clips.limits import Refused, check_cooldowns, check_duration, clamp_duration
from actors.clips.messages import (
    ClipAccepted,
    ClipRejected,
    RequestClip,
    Rescan,
    Snapshot,
    SnapshotFailed,
    TakeSnapshot,
)
from actors.clips.snapshot import read_snapshot
from actors.clips.statistics import ClipDestinationStatus, ClipJobsStatistics
from actors.clips.titles import clip_title
from actors.clips.twitch import NativeClipError, create_twitch_clip
from actors.store import Changed, Read, write
from config.models import ClipsConfig, CreatorClipsConfig
from state import clips as clip_state
from state.errors import InvalidTransition, RecordExists

PROGRESS_EVERY_SECONDS = 0.5


@attrs.frozen(kw_only=True)
class CreatorClips:
    """One creator's clip settings as the jobs actor uses them."""

    creator_id: str
    display_name: str
    config: CreatorClipsConfig
    destinations: tuple[Destination, ...] = ()


class _Retry(Exception):
    def __init__(self, delay: float) -> None:
        super().__init__(delay)
        self.delay = delay


class _Fail(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ClipJobs(Actor):
    """Schedules and runs clip jobs. Takes `RequestClip` (reply `ClipAccepted`/`ClipRejected`),
    `Rescan`, and the store's `Changed`."""

    def __init__(
        self,
        *,
        store: Callable[[], ActorRef],
        data_dir: Path,
        creators: Mapping[str, CreatorClips],
        capture: Callable[[str], ActorRef | None],
        settings: ClipsConfig | None = None,
        extra_input_args: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self.data_dir = data_dir
        self.clips_dir = data_dir / "clips"
        self.work_dir = data_dir / "clips" / "work"
        self.creators = dict(creators)
        self._capture = capture
        self.settings = settings or ClipsConfig()
        self._extra_input_args = tuple(extra_input_args)
        self._clock = clock
        self._rng = rng or random.Random()
        self.ffmpeg_path: str | None = None
        self.ffmpeg_error: str | None = None
        self.encode_settings = EncodeSettings()
        self._running: dict[str, str] = {}  # clip_id -> creator_id
        self._not_before: dict[str, float] = {}
        self._upload_attempts: dict[str, int] = {}
        self._published_urls: dict[str, dict[str, str | None]] = {}
        self._wake = trio.Event()
        self.status = "starting"
        self.published = 0
        self.failed = 0
        self.retries = 0
        self.rejected = 0
        self.recovered = 0
        self.last_error: str | None = None

    # ------------------------------------------------------------------ start and recovery

    async def on_start(self) -> None:
        await trio.to_thread.run_sync(self._detect_ffmpeg)
        await trio.to_thread.run_sync(self._sweep_parts)
        await self._recover()
        self.status = "running" if self.ffmpeg_path else "error"

    def _detect_ffmpeg(self) -> None:
        try:
            path = resolve_ffmpeg(self.settings.ffmpeg)
            encoders = available_encoders(path)
        except FfmpegNotFound as exc:
            self.ffmpeg_path, self.ffmpeg_error = None, str(exc)
            return
        self.ffmpeg_path, self.ffmpeg_error = path, None
        self.encode_settings = EncodeSettings(
            video_codec=choose_video_codec(self.settings.codec, encoders),
            preset=self.settings.preset,
            audio_codec=self.settings.audio_codec,
        )

    def _sweep_parts(self) -> None:
        """Delete half-written outputs and snapshots left by a crash."""
        self.clips_dir.mkdir(parents=True, exist_ok=True)
        for path in self.clips_dir.glob(f".*{PART_SUFFIX}"):
            path.unlink(missing_ok=True)
        if self.work_dir.is_dir():
            for path in self.work_dir.glob(f"*/*{PART_SUFFIX}"):
                path.unlink(missing_ok=True)

    def final_path(self, clip_id: str) -> Path:
        """Where the finished clip is written."""
        return self.clips_dir / f"{clip_id}.mp4"

    async def _recover(self) -> None:
        unfinished = await self._read(clip_state.list_unfinished_clips)
        for clip in unfinished:
            if clip.state == "encoding":
                if self.final_path(clip.clip_id).is_file():
                    # Crashed after the rename, before the state change: the file is complete.
                    await self._transition(
                        clip.clip_id,
                        "encoded",
                        expected="encoding",
                        output_path=str(self.final_path(clip.clip_id)),
                        detail="recovered after restart",
                    )
                else:
                    await self._transition(
                        clip.clip_id, "queued", expected="encoding", detail="interrupted; retrying"
                    )
                self.recovered += 1
            elif clip.state == "uploading":
                await self._transition(
                    clip.clip_id, "encoded", expected="uploading", detail="interrupted; retrying"
                )
                self.recovered += 1
        if unfinished:
            self.log.info("clip jobs to resume", count=len(unfinished), recovered=self.recovered)

    # ------------------------------------------------------------------ store helpers

    async def _read(self, fn: Callable[[apsw.Connection], Any]) -> Any:
        return await self._store().call(Read(fn=fn), timeout=30.0)

    async def _transition(
        self, clip_id: str, to: clip_state.ClipState, **kwargs: Any
    ) -> clip_state.Clip:
        expected = kwargs.pop("expected", None)
        op = partial(
            clip_state.transition_clip,
            clip_id=clip_id,
            to_state=to,
            expected_state=expected,
            **kwargs,
        )
        (clip,) = await write(self._store(), op, topic="clips")
        return clip

    # ------------------------------------------------------------------ messages

    async def handle(self, message: Any) -> Any:
        if isinstance(message, RequestClip):
            return await self._request(message)
        if isinstance(message, Rescan | Changed):
            if not isinstance(message, Changed) or message.topic in ("clips", "state"):
                self._wake.set()
            return None
        raise TypeError(f"ClipJobs takes RequestClip or Rescan, got {type(message).__name__}")

    async def _request(self, msg: RequestClip) -> ClipAccepted | ClipRejected:
        creator = self.creators.get(msg.creator_id)
        if creator is None:
            self.rejected += 1
            return ClipRejected(reason=f"no clips for creator {msg.creator_id!r}", status=404)
        cfg = creator.config
        if not cfg.enabled:
            self.rejected += 1
            return ClipRejected(reason="clips are disabled for this creator", status=409)
        duration = (
            cfg.default_duration_seconds if msg.duration_seconds is None else msg.duration_seconds
        )
        try:
            check_duration(duration, cfg)
        except Refused as exc:
            self.rejected += 1
            return ClipRejected(reason=exc.reason, status=exc.status)
        at_ms = int(self._clock() * 1000)
        source_title = (msg.title or "").strip() or f"{creator.display_name} live"

        def create(conn: apsw.Connection) -> clip_state.Clip:
            earlier = clip_state.list_clips(conn, creator_id=msg.creator_id, limit=200)
            check_cooldowns(requested_by=msg.requested_by, at_ms=at_ms, earlier=earlier, config=cfg)
            for _ in range(20):
                clip_id = clip_state.new_clip_id()
                title = clip_title(
                    source_title=source_title,
                    at=datetime.fromtimestamp(at_ms / 1000, UTC),
                    clipper=msg.requested_by,
                    clip_id=clip_id,
                )
                try:
                    return clip_state.create_clip(
                        conn,
                        creator_id=msg.creator_id,
                        title=title,
                        platform=msg.platform,
                        duration_seconds=duration,
                        requested_by=msg.requested_by,
                        source=f"capture:{msg.creator_id}",
                        params={"admitted": True, "pre_roll_seconds": cfg.pre_roll_seconds},
                        clip_id=clip_id,
                        now=at_ms,
                    )
                except RecordExists:
                    continue
            raise RecordExists("no free clip id")

        try:
            (clip,) = await write(self._store(), create, topic="clips")
        except Refused as exc:
            self.rejected += 1
            return ClipRejected(reason=exc.reason, status=exc.status, retry_after=exc.retry_after)
        self._wake.set()
        return ClipAccepted(clip_id=clip.clip_id, title=clip.title)

    # ------------------------------------------------------------------ scheduling

    async def run(self) -> None:
        while True:
            await self._dispatch()
            with trio.move_on_after(self.settings.poll_seconds):
                await self._wake.wait()
            self._wake = trio.Event()

    async def _dispatch(self) -> None:
        unfinished = await self._read(clip_state.list_unfinished_clips)
        now = self._clock()
        for clip in unfinished:
            if len(self._running) >= self.settings.workers:
                return
            if clip.clip_id in self._running or self._not_before.get(clip.clip_id, 0) > now:
                continue
            creator = self.creators.get(clip.creator_id)
            limit = creator.config.max_concurrent if creator is not None else 1
            busy = sum(1 for c in self._running.values() if c == clip.creator_id)
            if busy >= limit:
                continue
            self._running[clip.clip_id] = clip.creator_id
            self.nursery.start_soon(self._job, clip.clip_id)

    async def _job(self, clip_id: str) -> None:
        try:
            await self._walk(clip_id)
            self._not_before.pop(clip_id, None)
        except _Retry as retry:
            self.retries += 1
            self._not_before[clip_id] = self._clock() + retry.delay
        except InvalidTransition as exc:
            # Someone else moved the job (a manual retry, a second instance): leave it be.
            self.log.warning("clip changed under the worker", clip_id=clip_id, error=str(exc))
        finally:
            self._running.pop(clip_id, None)
            self._wake.set()

    async def _walk(self, clip_id: str) -> None:
        while True:
            clip = await self._read(partial(clip_state.get_clip, clip_id=clip_id))
            try:
                if clip.state == "queued":
                    await self._encode(clip)
                elif clip.state == "encoded":
                    await self._upload(clip)
                elif clip.state == "encoding":
                    await self._transition(
                        clip_id, "queued", expected="encoding", detail="requeued"
                    )
                elif clip.state == "uploading":
                    await self._transition(
                        clip_id, "encoded", expected="uploading", detail="requeued"
                    )
                else:
                    return
            except _Fail as fail:
                await self._fail(clip_id, fail.reason)
                return

    async def _fail(self, clip_id: str, reason: str) -> None:
        clip = await self._read(partial(clip_state.get_clip, clip_id=clip_id))
        if clip.state in ("published", "failed"):
            return
        await self._transition(clip_id, "failed", expected=clip.state, error=reason[:500])
        self.failed += 1
        self.last_error = reason[:500]
        self._upload_attempts.pop(clip_id, None)
        self._published_urls.pop(clip_id, None)
        self.log.warning("clip failed", clip_id=clip_id, reason=reason[:500])

    def _backoff(self, attempt: int, floor: float | None = None) -> float:
        base = self.settings.retry_seconds * 2 ** max(attempt - 1, 0)
        delay = min(base, 300.0) * self._rng.uniform(0.8, 1.2)
        return max(delay, floor or 0.0)

    # ------------------------------------------------------------------ encoding

    async def _admit(self, clip: clip_state.Clip, cfg: CreatorClipsConfig) -> None:
        """Cooldowns for clips created elsewhere (chat triggers) that were not checked yet."""
        if clip.params.get("admitted") is True:
            return

        def check(conn: apsw.Connection) -> Refused | None:
            # A Read must not raise (that would crash the store): return the refusal.
            earlier = clip_state.list_clips(conn, creator_id=clip.creator_id, limit=200)
            try:
                check_cooldowns(
                    requested_by=clip.requested_by,
                    at_ms=clip.created_at,
                    earlier=earlier,
                    config=cfg,
                    exclude=clip.clip_id,
                )
            except Refused as exc:
                return exc
            return None

        refused = await self._read(check)
        if refused is not None:
            raise _Fail(refused.reason)

    async def _encode(self, clip: clip_state.Clip) -> None:
        creator = self.creators.get(clip.creator_id)
        if creator is None:
            raise _Fail(f"clips are not configured for creator {clip.creator_id!r}")
        cfg = creator.config
        if not cfg.enabled:
            raise _Fail("clips are disabled for this creator")
        await self._admit(clip, cfg)
        if cfg.twitch is not None and cfg.twitch.enabled and clip.platform == "twitch":
            await self._native(clip, cfg)
            return
        if self.ffmpeg_path is None:
            await trio.to_thread.run_sync(self._detect_ffmpeg)  # installed since?
            if self.ffmpeg_path is None:
                raise _Fail(self.ffmpeg_error or "ffmpeg not found")
        clip = await self._transition(clip.clip_id, "encoding", expected="queued")
        final = self.final_path(clip.clip_id)
        if final.is_file():
            await self._encoded(clip, final)
            return
        snapshot = await self._snapshot(clip, cfg)
        last_report = -PROGRESS_EVERY_SECONDS

        async def progress(fraction: float) -> None:
            nonlocal last_report
            now = trio.current_time()
            if now - last_report < PROGRESS_EVERY_SECONDS or fraction >= 1.0:
                return
            last_report = now
            op = partial(clip_state.update_clip_progress, clip_id=clip.clip_id, progress=fraction)
            try:
                await write(self._store(), op, topic="clips")
            except Exception as exc:  # progress is cosmetic; the state change is what counts
                self.log.debug("progress not recorded", clip_id=clip.clip_id, error=str(exc))

        assert self.ffmpeg_path is not None
        try:
            await encode_clip(
                self.ffmpeg_path,
                snapshot,
                final,
                settings=self.encode_settings,
                on_progress=progress,
                extra_input_args=self._extra_input_args,
            )
        except EncodeError as exc:
            if not exc.transient or clip.attempts >= self.settings.max_attempts:
                suffix = "" if not exc.transient else f" (after {clip.attempts} attempts)"
                raise _Fail(exc.reason + suffix) from None
            await self._transition(clip.clip_id, "queued", expected="encoding", detail=exc.reason)
            raise _Retry(self._backoff(clip.attempts)) from None
        await self._encoded(clip, final)

    async def _native(self, clip: clip_state.Clip, cfg: CreatorClipsConfig) -> None:
        """A Twitch clip made by Twitch: `encoding` while Twitch makes it, `encoded` with its
        URL (no local file), then published (and announced) like the others."""
        assert cfg.twitch is not None
        clip = await self._transition(clip.clip_id, "encoding", expected="queued")
        try:
            url = await create_twitch_clip(
                cfg.twitch, title=clip.title, duration=clamp_duration(clip.duration_seconds, cfg)
            )
        except NativeClipError as exc:
            if not exc.transient or clip.attempts >= self.settings.max_attempts:
                suffix = "" if not exc.transient else f" (after {clip.attempts} attempts)"
                raise _Fail(exc.reason + suffix) from None
            await self._transition(clip.clip_id, "queued", expected="encoding", detail=exc.reason)
            raise _Retry(self._backoff(clip.attempts)) from None
        await self._transition(
            clip.clip_id, "encoded", expected="encoding", url=url, detail="made by Twitch"
        )

    async def _encoded(self, clip: clip_state.Clip, final: Path) -> None:
        await self._transition(clip.clip_id, "encoded", expected="encoding", output_path=str(final))
        # The snapshot served its purpose; the finished file is the job's data from now on.
        await trio.to_thread.run_sync(_remove_tree, self.work_dir / clip.clip_id)

    async def _snapshot(self, clip: clip_state.Clip, cfg: CreatorClipsConfig) -> Snapshot:
        folder = self.work_dir / clip.clip_id
        existing = await trio.to_thread.run_sync(read_snapshot, folder)
        if existing is not None:
            return existing  # resumed: the footage was copied before the crash
        capture = self._capture(clip.creator_id)
        if capture is None:
            raise _Fail(
                "no capture for this creator: set [creators.clips] capture_url "
                "(or capture_url_secret)"
            )
        duration = clamp_duration(clip.duration_seconds, cfg)
        pre_roll = float(clip.params.get("pre_roll_seconds", cfg.pre_roll_seconds))
        wait = 2 * cfg.segment_seconds + 5
        request = TakeSnapshot(
            clip_id=clip.clip_id,
            end=clip.created_at / 1000,
            length=duration + pre_roll,
            folder=folder,
            wait_seconds=wait,
        )
        try:
            reply = await capture.call(request, timeout=wait + 60)
        except (ActorFailed, CallTimeout) as exc:
            if clip.attempts >= self.settings.max_attempts:
                raise _Fail(f"the capture did not answer: {exc}") from None
            await self._transition(
                clip.clip_id, "queued", expected="encoding", detail="capture unavailable"
            )
            raise _Retry(self._backoff(clip.attempts)) from None
        if isinstance(reply, SnapshotFailed):
            raise _Fail(f"no footage: {reply.reason}")
        return reply

    # ------------------------------------------------------------------ publishing

    async def _upload(self, clip: clip_state.Clip) -> None:
        creator = self.creators.get(clip.creator_id)
        destinations = ordered(creator.destinations) if creator is not None else []
        if clip.output_path is None and clip.url:
            await self._announce_native(clip, [d for d in destinations if d.kind == "discord"])
            return
        final = Path(clip.output_path) if clip.output_path else self.final_path(clip.clip_id)
        if not final.is_file():
            raise _Fail(f"the encoded file is missing: {final.name}")
        if not destinations:
            await self._transition(
                clip.clip_id, "published", expected="encoded", url=final.resolve().as_uri()
            )
            self.published += 1
            return
        await self._transition(clip.clip_id, "uploading", expected="encoded")
        done = self._published_urls.setdefault(clip.clip_id, {})
        size = final.stat().st_size
        for dest in destinations:
            if dest.name in done:
                continue  # succeeded in an earlier attempt of this process
            item = PublishItem(
                clip_id=clip.clip_id,
                creator_id=clip.creator_id,
                title=clip.title,
                file=final,
                size=size,
                urls=tuple(u for u in done.values() if u),
            )
            try:
                done[dest.name] = await dest.publish(item)
            except PublishError as exc:
                attempts = self._upload_attempts.get(clip.clip_id, 0) + 1
                self._upload_attempts[clip.clip_id] = attempts
                reason = f"{dest.name}: {exc.reason}"
                if not exc.transient or attempts >= self.settings.max_attempts:
                    suffix = f" (after {attempts} attempts)" if exc.transient else ""
                    raise _Fail(reason + suffix) from None
                self.log.info("clip upload retry", clip_id=clip.clip_id, reason=reason)
                await self._transition(clip.clip_id, "encoded", expected="uploading", detail=reason)
                raise _Retry(self._backoff(attempts, exc.retry_after)) from None
        urls = [u for u in done.values() if u]
        url = urls[0] if urls else final.resolve().as_uri()
        await self._transition(clip.clip_id, "published", expected="uploading", url=url)
        self.published += 1
        self._upload_attempts.pop(clip.clip_id, None)
        self._published_urls.pop(clip.clip_id, None)
        self.log.info("clip published", clip_id=clip.clip_id, url=url)

    async def _announce_native(self, clip: clip_state.Clip, announcers: list[Destination]) -> None:
        """A Twitch-made clip has no file: Discord gets its link; nothing else to upload."""
        assert clip.url is not None
        if announcers:
            await self._transition(clip.clip_id, "uploading", expected="encoded")
            item = PublishItem(
                clip_id=clip.clip_id,
                creator_id=clip.creator_id,
                title=clip.title,
                file=Path(),
                size=sys.maxsize,  # never uploaded: always a link
                urls=(clip.url,),
            )
            for dest in announcers:
                try:
                    await dest.publish(item)
                except PublishError as exc:
                    # The clip exists on Twitch: a failed announcement does not fail it.
                    self.log.warning(
                        "clip announcement failed", clip_id=clip.clip_id, reason=exc.reason
                    )
            expected = "uploading"
        else:
            expected = "encoded"
        await self._transition(clip.clip_id, "published", expected=expected, url=clip.url)
        self.published += 1

    # ------------------------------------------------------------------ status

    def snapshot(self) -> ClipJobsStatistics:
        return ClipJobsStatistics(
            status=self.status,
            workers=self.settings.workers,
            running=tuple(sorted(self._running)),
            waiting_retry=tuple(sorted(self._not_before)),
            published=self.published,
            failed=self.failed,
            retries=self.retries,
            rejected=self.rejected,
            recovered=self.recovered,
            video_codec=self.encode_settings.video_codec if self.ffmpeg_path else None,
            ffmpeg_error=self.ffmpeg_error,
            last_error=self.last_error,
            destinations=tuple(
                ClipDestinationStatus(
                    creator_id=c.creator_id,
                    name=d.name,
                    kind=d.kind,
                    status="paused" if d.paused else "active",
                    paused_reason=d.paused_reason,
                )
                for c in self.creators.values()
                for d in c.destinations
            ),
        )


def _remove_tree(folder: Path) -> None:
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        path.unlink(missing_ok=True)
    folder.rmdir()
