"""Clips with a real ffmpeg: capture a live HLS stream, cut, encode, publish, survive kill -9.

Needs ffmpeg and ffprobe on PATH (CI: `apt-get install -y ffmpeg`); skipped otherwise.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import apsw
import pytest
import trio

from actors.clips import (
    ClipAccepted,
    ClipJobs,
    CreatorClips,
    FolderDestination,
    HttpUploadDestination,
    RequestClip,
)
from actors.clips.snapshot import write_snapshot
from actors.store import Read, StateStore
from config import loads_config
from config.models import ClipsConfig, CreatorClipsConfig
from state import clips as clip_state
from state import open_database
from supervisors import Backoff, ChildSpec, Supervisor
from tests.fakes.http_upload import FakeUploadServer
from tests.fakes.live_hls import LiveHls

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
        reason="ffmpeg/ffprobe not installed (CI: apt-get install -y ffmpeg)",
    ),
]

FAST = ClipsConfig(
    workers=2, preset="ultrafast", max_attempts=2, retry_seconds=0.05, poll_seconds=0.2
)


def probe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_name,codec_type",
         "-of", "json", str(path)],
        capture_output=True, check=True, text=True,
    ).stdout  # fmt: skip
    return json.loads(out)


def config_text(data: Path, *, capture: str | None, ffmpeg: str = "ffmpeg", extra: str = "") -> str:
    capture_line = f'capture_url = "{capture}"' if capture else ""
    return f"""
[clips]
workers = 2
preset = "ultrafast"
ffmpeg = "{ffmpeg}"
max_attempts = 2
retry_seconds = 0.05
poll_seconds = 0.2

[[creators]]
id = "c"
display_name = "Cee"

[creators.clips]
{capture_line}
segment_seconds = 1
buffer_seconds = 20
min_duration_seconds = 1
max_duration_seconds = 10
default_duration_seconds = 2
cooldown_user_seconds = 0
cooldown_creator_seconds = 0
max_concurrent = 2
{extra}

[[creators.clips.destinations]]
kind = "folder"
path = "{data / "public"}"
public_url = "https://clips.example/c/"
"""


async def start_tree(nursery: trio.Nursery, data: Path, config_toml: str) -> Supervisor:
    from actors.clips import ClipSupervisor

    config = loads_config(config_toml, environ={})
    root: Supervisor = Supervisor(
        "root",
        [
            ChildSpec("store", lambda: StateStore(data / "state.sqlite3")),
            ChildSpec(
                "clips",
                lambda: ClipSupervisor(
                    config=config, data_dir=data, store=lambda: root.ref("store")
                ),
            ),
        ],
        backoff=Backoff(initial=0),
    )
    await nursery.start(root.run)
    return root


async def wait_final(root: Supervisor, clip_id: str) -> clip_state.Clip:
    store = root.ref("store")
    with trio.fail_after(40):
        while True:
            clip = await store.call(Read(fn=lambda c: clip_state.get_clip(c, clip_id)))
            if clip.state in ("published", "failed"):
                return clip
            await trio.sleep(0.1)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


async def test_capture_request_encode_publish(tmp_path: Path, data: Path, nursery) -> None:
    with LiveHls(tmp_path / "hls") as hls:
        root = await start_tree(nursery, data, config_text(data, capture=hls.url))
        ring = data / "clips" / "buffer" / "c" / "ring.json"
        with trio.fail_after(30):
            while True:
                await trio.sleep(0.2)
                if ring.exists() and len(json.loads(ring.read_text())["segments"]) >= 2:
                    break
        reply = await root.lookup("clips/jobs").call(
            RequestClip(creator_id="c", duration_seconds=2.0, requested_by="tester", title="Show")
        )
        assert isinstance(reply, ClipAccepted)
        assert len(reply.clip_id) == 6 and reply.title.endswith(f"tester · {reply.clip_id}")
        clip = await wait_final(root, reply.clip_id)
        await root.stop()
    assert clip.state == "published", clip.last_error
    assert clip.url == f"https://clips.example/c/{clip.clip_id}.mp4"
    published = data / "public" / f"{clip.clip_id}.mp4"
    info = probe(published)
    assert abs(float(info["format"]["duration"]) - 2.0) < 0.6
    assert {s["codec_name"] for s in info["streams"]} >= {"h264", "aac"}
    assert not list((data / "clips").glob(".*.part"))
    history = [h.to_state for h in _history(data, clip.clip_id)]
    assert history == ["queued", "encoding", "encoded", "uploading", "published"]


def _history(data: Path, clip_id: str) -> list[clip_state.ClipStateChange]:
    conn = apsw.Connection(str(data / "state.sqlite3"), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        return clip_state.clip_history(conn, clip_id)
    finally:
        conn.close()


def make_source(path: Path, seconds: float = 3.0) -> None:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050", "-t", str(seconds),
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-c:a", "aac", "-f", "mpegts",
         str(path)],
        check=True,
    )  # fmt: skip


def queued_clip(data: Path, source: Path, *, duration: float = 2.5) -> str:
    """A queued clip whose footage is already snapshotted (no capture needed)."""
    db = open_database(str(data / "state.sqlite3"))
    try:
        (outcome,) = db.batch(
            [
                lambda conn: clip_state.create_clip(
                    conn,
                    creator_id="c",
                    title="t",
                    platform="api",
                    duration_seconds=duration,
                    requested_by="tester",
                    source="capture:c",
                    params={"admitted": True},
                )
            ]
        )
        clip = outcome.value
        assert clip is not None, outcome.error
    finally:
        db.close()
    write_snapshot(data / "clips" / "work" / clip.clip_id, [source], offset=0.0, duration=duration)
    return clip.clip_id


def read_clip(data: Path, clip_id: str) -> clip_state.Clip:
    conn = apsw.Connection(str(data / "state.sqlite3"), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        return clip_state.get_clip(conn, clip_id)
    finally:
        conn.close()


def test_kill_9_during_encoding_then_restart_completes_once(tmp_path: Path, data: Path) -> None:
    source = tmp_path / "source.ts"
    make_source(source)
    clip_id = queued_clip(data, source)
    config = tmp_path / "config.toml"
    config.write_text(config_text(data, capture=None), encoding="utf-8")
    script = Path(__file__).resolve().parents[1] / "fakes" / "clip_runtime.py"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path.cwd()), *sys.path])}

    def spawn(*extra: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, str(script), str(config), str(data), *extra],
            start_new_session=True,  # its own process group: ffmpeg dies with it
            env=env,
            stdout=subprocess.DEVNULL,
        )

    slow = spawn("--slow")
    try:
        deadline = time.monotonic() + 30
        part = data / "clips" / f".{clip_id}.mp4.part"
        while True:
            assert time.monotonic() < deadline, "the encode never started"
            clip = read_clip(data, clip_id) if (data / "state.sqlite3").exists() else None
            if clip is not None and clip.state == "encoding" and part.exists():
                break
            time.sleep(0.05)
        os.killpg(slow.pid, signal.SIGKILL)  # the whole group, ffmpeg included
        slow.wait(10)
    finally:
        if slow.poll() is None:
            os.killpg(slow.pid, signal.SIGKILL)
    assert read_clip(data, clip_id).state == "encoding"
    assert not (data / "clips" / f"{clip_id}.mp4").exists()

    again = spawn()
    try:
        deadline = time.monotonic() + 40
        while read_clip(data, clip_id).state not in ("published", "failed"):
            assert time.monotonic() < deadline, "the resumed job did not finish"
            time.sleep(0.1)
    finally:
        os.killpg(again.pid, signal.SIGKILL)
        again.wait(10)
    clip = read_clip(data, clip_id)
    assert clip.state == "published", clip.last_error
    assert [p.name for p in (data / "clips").glob("*.mp4*")] == [f"{clip_id}.mp4"]
    assert not list((data / "clips").glob(".*"))
    assert [p.name for p in (data / "public").iterdir()] == [f"{clip_id}.mp4"]
    states = [h.to_state for h in _history(data, clip_id)]
    assert states == [
        "queued",
        "encoding",
        "queued",
        "encoding",
        "encoded",
        "uploading",
        "published",
    ]
    assert abs(float(probe(data / "public" / f"{clip_id}.mp4")["format"]["duration"]) - 2.5) < 0.6


async def test_missing_ffmpeg_fails_the_clip_and_the_runtime_keeps_running(
    data: Path, nursery
) -> None:
    toml = config_text(data, capture="http://127.0.0.1:9/live.m3u8", ffmpeg="/nonexistent/ffmpeg")
    root = await start_tree(nursery, data, toml)
    reply = await root.lookup("clips/jobs").call(RequestClip(creator_id="c", duration_seconds=2))
    clip = await wait_final(root, reply.clip_id)
    assert clip.state == "failed"
    assert "ffmpeg not found" in (clip.last_error or "")
    # Still serving: another request is accepted and the capture keeps retrying.
    again = await root.lookup("clips/jobs").call(RequestClip(creator_id="c", duration_seconds=2))
    assert isinstance(again, ClipAccepted)
    await root.stop()


async def test_source_gone_fails_with_reason(data: Path, nursery) -> None:
    with trio.socket.socket() as sock:  # a port nobody listens on
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = await start_tree(
        nursery, data, config_text(data, capture=f"http://127.0.0.1:{port}/x.m3u8")
    )
    reply = await root.lookup("clips/jobs").call(RequestClip(creator_id="c", duration_seconds=2))
    clip = await wait_final(root, reply.clip_id)
    await root.stop()
    assert clip.state == "failed"
    assert "no footage" in (clip.last_error or ""), clip.last_error


class FullDisk(FolderDestination):
    def _copy(self, source: Path, target: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")


async def run_jobs_with(nursery, data: Path, destination: Any) -> Supervisor:
    cfg = CreatorClipsConfig(
        min_duration_seconds=1, max_duration_seconds=10, default_duration_seconds=2,
        cooldown_user_seconds=0, cooldown_creator_seconds=0, buffer_seconds=20,
    )  # fmt: skip
    creators = {
        "c": CreatorClips(creator_id="c", display_name="C", config=cfg, destinations=(destination,))
    }
    root: Supervisor = Supervisor(
        "root",
        [
            ChildSpec("store", lambda: StateStore(data / "state.sqlite3")),
            ChildSpec(
                "jobs",
                lambda: ClipJobs(
                    store=lambda: root.ref("store"),
                    data_dir=data,
                    creators=creators,
                    capture=lambda _c: None,
                    settings=FAST,
                ),
            ),
        ],
        backoff=Backoff(initial=0),
    )
    await nursery.start(root.run)
    return root


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One short source for the destination tests (each test snapshots its own copy)."""
    path = tmp_path_factory.mktemp("source") / "source.ts"
    make_source(path, 1.5)
    return path


async def test_disk_full_destination_fails_with_reason(data: Path, source: Path, nursery) -> None:
    clip_id = queued_clip(data, source, duration=1.0)
    root = await run_jobs_with(nursery, data, FullDisk(data / "public"))
    clip = await wait_final(root, clip_id)
    await root.stop()
    assert clip.state == "failed"
    assert "disk full" in (clip.last_error or "")
    assert not (data / "public").exists() or not list((data / "public").iterdir())


@pytest.mark.parametrize(("status", "expected_requests"), [(500, 2), (403, 1)])
async def test_refusing_upload_server_is_retried_then_fails(
    data: Path, source: Path, nursery, status: int, expected_requests: int
) -> None:
    clip_id = queued_clip(data, source, duration=1.0)
    with FakeUploadServer(status) as server:
        root = await run_jobs_with(nursery, data, HttpUploadDestination(server.url))
        clip = await wait_final(root, clip_id)
        await root.stop()
    assert clip.state == "failed"
    assert f"HTTP {status}" in (clip.last_error or "")
    assert len(server.requests) == expected_requests
    # The encoded file stays (a manual retry can upload it without encoding again).
    assert (data / "clips" / f"{clip_id}.mp4").is_file()


async def test_upload_server_accepting_publishes_its_url(data: Path, source: Path, nursery) -> None:
    clip_id = queued_clip(data, source, duration=1.0)
    with FakeUploadServer(200) as server:
        root = await run_jobs_with(nursery, data, HttpUploadDestination(server.url))
        clip = await wait_final(root, clip_id)
        await root.stop()
    assert clip.state == "published", clip.last_error
    assert clip.url == f"https://cdn.example/{clip_id}.mp4"
    assert server.requests[0]["size"] == (data / "clips" / f"{clip_id}.mp4").stat().st_size
