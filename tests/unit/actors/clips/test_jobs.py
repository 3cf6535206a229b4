"""ClipJobs without ffmpeg: requests, cooldowns, the HTTP routes, Twitch-native clips, Discord,
recovery of interrupted jobs."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import trio

import actors.clips.twitch as native
from actors.clips import (
    ClipAccepted,
    ClipCapture,
    ClipJobs,
    ClipRejected,
    CreatorClips,
    DiscordWebhookDestination,
    FolderDestination,
    PublishError,
    PublishItem,
    RequestClip,
    RumbleDestination,
    SnapshotFailed,
    TakeSnapshot,
    register_clip_routes,
)
from actors.clips.statistics import (
    ClipCaptureStatistics,
    ClipDestinationStatus,
    ClipJobsStatistics,
)
from actors.connection import ConnectionState
from actors.store import Read, StateStore, write
from config.models import ClipsConfig, CreatorClipsConfig, TwitchClipsConfig
from config.secrets import Secret, SecretRef
from runtime.http import HttpApp, Request, Response, serve_http
from state import clips as clip_state
from supervisors import Backoff, ChildSpec, Supervisor
from tests.fakes.clip_platforms import FakeClipPlatforms

SETTINGS = ClipsConfig(max_attempts=2, retry_seconds=0.01, poll_seconds=0.1)


def secret(value: str) -> Secret:
    return Secret(SecretRef(env="X"), value=value)


def creator_cfg(**kwargs: Any) -> CreatorClipsConfig:
    defaults: dict[str, Any] = {
        "min_duration_seconds": 1,
        "max_duration_seconds": 10,
        "default_duration_seconds": 5,
        "cooldown_creator_seconds": 0,
        "cooldown_user_seconds": 60,
    }
    return CreatorClipsConfig(**{**defaults, **kwargs})


async def start(
    nursery: trio.Nursery,
    tmp_path: Path,
    creators: dict[str, CreatorClips],
    settings: ClipsConfig = SETTINGS,
):
    root: Supervisor = Supervisor(
        "root",
        [
            ChildSpec("store", lambda: StateStore(tmp_path / "state.sqlite3")),
            ChildSpec(
                "jobs",
                lambda: ClipJobs(
                    store=lambda: root.ref("store"),
                    data_dir=tmp_path,
                    creators=creators,
                    capture=lambda _c: None,
                    settings=settings,
                ),
            ),
        ],
        backoff=Backoff(initial=0),
    )
    await nursery.start(root.run)
    return root


async def final(root: Supervisor, clip_id: str) -> clip_state.Clip:
    with trio.fail_after(10):
        while True:
            clip = await root.ref("store").call(Read(fn=lambda c: clip_state.get_clip(c, clip_id)))
            if clip.state in ("published", "failed"):
                return clip
            await trio.sleep(0.02)


async def test_requests_are_checked_and_cooldowns_apply(nursery, tmp_path: Path) -> None:
    root = await start(
        nursery,
        tmp_path,
        {"c": CreatorClips(creator_id="c", display_name="C", config=creator_cfg())},
    )
    jobs = root.ref("jobs")
    assert (await jobs.call(RequestClip(creator_id="x"))).status == 404
    too_long = await jobs.call(RequestClip(creator_id="c", duration_seconds=99))
    assert isinstance(too_long, ClipRejected) and "between 1 and 10" in too_long.reason
    first = await jobs.call(RequestClip(creator_id="c", requested_by="ann"))
    assert isinstance(first, ClipAccepted)
    again = await jobs.call(RequestClip(creator_id="c", requested_by="ann"))
    assert isinstance(again, ClipRejected) and again.status == 429 and again.retry_after
    other = await jobs.call(RequestClip(creator_id="c", requested_by="bob"))
    assert isinstance(other, ClipAccepted) and other.clip_id != first.clip_id
    await root.stop()


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
async def test_a_job_without_a_capture_fails_naming_capture_url(nursery, tmp_path: Path) -> None:
    root = await start(
        nursery,
        tmp_path,
        {"c": CreatorClips(creator_id="c", display_name="C", config=creator_cfg())},
    )
    accepted = await root.ref("jobs").call(RequestClip(creator_id="c", requested_by="ann"))
    assert isinstance(accepted, ClipAccepted)
    clip = await final(root, accepted.clip_id)
    assert clip.state == "failed" and "capture_url" in (clip.last_error or "")
    await root.stop()


async def test_a_job_without_ffmpeg_fails_naming_the_setting(nursery, tmp_path: Path) -> None:
    root = await start(
        nursery,
        tmp_path,
        {"c": CreatorClips(creator_id="c", display_name="C", config=creator_cfg())},
        settings=attrs.evolve(SETTINGS, ffmpeg=str(tmp_path / "no-such-ffmpeg")),
    )
    accepted = await root.ref("jobs").call(RequestClip(creator_id="c", requested_by="ann"))
    assert isinstance(accepted, ClipAccepted)
    clip = await final(root, accepted.clip_id)
    assert clip.state == "failed" and "set [clips] ffmpeg" in (clip.last_error or "")
    await root.stop()


async def test_http_routes(nursery, tmp_path: Path) -> None:
    root = await start(
        nursery,
        tmp_path,
        {"c": CreatorClips(creator_id="c", display_name="C", config=creator_cfg())},
    )
    app = HttpApp(token="t0ken")
    register_clip_routes(app, lambda: root.ref("jobs"), lambda: root.ref("store"))
    port = await nursery.start(partial(serve_http, app, host="127.0.0.1", port=0))
    auth = {"Authorization": "Bearer t0ken"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
        assert (await http.post("/clips", json={"creator_id": "c"})).status_code == 401
        bad = await http.post(
            "/clips", json={"creator_id": "c", "duration_seconds": "x"}, headers=auth
        )
        assert bad.status_code == 400
        made = await http.post(
            "/clips",
            json={"creator_id": "c", "duration_seconds": 3, "title": "Boss fight"},
            headers=auth,
        )
        assert made.status_code == 202
        clip_id = made.json()["clip_id"]
        assert made.json()["title"].startswith("Boss fight · ")
        cooled = await http.post("/clips", json={"creator_id": "c"}, headers=auth)
        assert cooled.status_code == 429 and int(cooled.headers["retry-after"]) >= 1
        got = await http.get(f"/clips/{clip_id}", headers=auth)
        assert got.status_code == 200 and got.json()["clip_id"] == clip_id
        assert got.json()["state"] in ("queued", "encoding", "failed")
        assert (await http.get("/clips/zzzzzz", headers=auth)).status_code == 404
    await root.stop()


async def test_twitch_native_clip_is_published_and_announced(
    nursery, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(native, "POLL_INTERVAL_SECONDS", 0.02)
    with FakeClipPlatforms() as fake:
        cfg = creator_cfg(
            twitch=TwitchClipsConfig(
                broadcaster_id="123",
                client_id="cid",
                token=secret("usertoken"),
                api_base=fake.helix_base,
            )
        )
        discord = DiscordWebhookDestination(lambda: fake.webhook_url, max_upload_bytes=1000)
        creators = {
            "c": CreatorClips(creator_id="c", display_name="C", config=cfg, destinations=(discord,))
        }
        root = await start(nursery, tmp_path, creators)

        def chat_request(conn):  # what the trigger engine writes for `!clip` on Twitch
            return clip_state.create_clip(
                conn, creator_id="c", title="C clip", platform="twitch", duration_seconds=20,
                requested_by="p-1", source="twitch:cee",
            )  # fmt: skip

        (clip,) = await write(root.ref("store"), chat_request, topic="clips")
        done = await final(root, clip.clip_id)
        await root.stop()
    assert done.state == "published", done.last_error
    assert done.url == "https://clips.twitch.example/FakeClip1"
    create = fake.requests[0]
    assert create["query"]["broadcaster_id"] == ["123"] and create["query"]["duration"] == ["10"]
    assert create["headers"]["authorization"] == "Bearer usertoken"
    announce = [r for r in fake.requests if r["path"].startswith("/webhooks/")]
    assert len(announce) == 1 and b"clips.twitch.example/FakeClip1" in announce[0]["body"]
    assert announce[0]["query"]["wait"] == ["true"]


async def test_twitch_refusal_fails_with_reason(nursery, tmp_path: Path) -> None:
    with FakeClipPlatforms() as fake:
        fake.create_status = 403
        cfg = creator_cfg(
            twitch=TwitchClipsConfig(
                broadcaster_id="123", client_id="cid", token=secret("t"), api_base=fake.helix_base
            )
        )
        root = await start(
            nursery, tmp_path, {"c": CreatorClips(creator_id="c", display_name="C", config=cfg)}
        )
        (clip,) = await write(
            root.ref("store"),
            lambda conn: clip_state.create_clip(
                conn,
                creator_id="c",
                title="t",
                platform="twitch",
                duration_seconds=20,
                requested_by="p",
                source="twitch:cee",
            ),
            topic="clips",
        )
        done = await final(root, clip.clip_id)
        await root.stop()
    assert done.state == "failed" and "HTTP 403" in (done.last_error or "")
    assert "clips:edit" in (done.last_error or "")


async def test_discord_uploads_small_files_and_links_large_ones(tmp_path: Path) -> None:
    file = tmp_path / "abc234.mp4"
    file.write_bytes(b"\x00" * 100)
    with FakeClipPlatforms() as fake:
        dest = DiscordWebhookDestination(lambda: fake.webhook_url, max_upload_bytes=100)
        item = PublishItem(clip_id="abc234", creator_id="c", title="T", file=file, size=100)
        assert await dest.publish(item) == "https://cdn.discordapp.example/attachments/1/clip.mp4"
        big = PublishItem(
            clip_id="abc234",
            creator_id="c",
            title="T",
            file=file,
            size=101,
            urls=("https://x/abc234.mp4",),
        )
        assert await dest.publish(big) is None
        fake.webhook_status = 404
        with pytest.raises(PublishError) as info:
            await dest.publish(item)
    upload, link = fake.requests[0], fake.requests[1]
    assert upload["headers"]["content-type"].startswith("multipart/form-data")
    assert b'name="payload_json"' in upload["body"] and b'filename="abc234.mp4"' in upload["body"]
    assert (
        link["headers"]["content-type"] == "application/json"
        and b"https://x/abc234.mp4" in link["body"]
    )
    assert not info.value.transient and "tok3n" not in info.value.reason


async def test_rumble_is_paused() -> None:
    rumble = RumbleDestination()
    assert rumble.paused and "no clip upload API" in (rumble.paused_reason or "")


def test_jobs_snapshot_is_typed_and_frozen(tmp_path: Path) -> None:
    folder = FolderDestination(tmp_path / "public", name="local")
    creator = CreatorClips(
        creator_id="c",
        display_name="C",
        config=creator_cfg(),
        destinations=(folder, RumbleDestination()),
    )
    jobs = ClipJobs(
        store=lambda: pytest.fail("the snapshot reads no store"),
        data_dir=tmp_path,
        creators={"c": creator},
        capture=lambda _c: None,
        settings=SETTINGS,
    )
    snap = jobs.snapshot()
    assert type(snap) is ClipJobsStatistics
    assert (snap.status, snap.enabled, snap.workers) == ("starting", True, SETTINGS.workers)
    assert (snap.running, snap.waiting_retry, snap.video_codec) == ((), (), None)
    assert snap.destinations == (
        ClipDestinationStatus(creator_id="c", name="local", kind="folder", status="active"),
        ClipDestinationStatus(
            creator_id="c",
            name="rumble",
            kind="rumble",
            status="paused",
            paused_reason="Rumble has no clip upload API",
        ),
    )
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        snap.status = "running"  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        snap.destinations[0].status = "paused"  # type: ignore[misc]


def test_capture_snapshot_is_typed_and_frozen(tmp_path: Path) -> None:
    capture = ClipCapture(creator_id="c", url=lambda: "http://x/sk_SECRET", folder=tmp_path)
    snap = capture.snapshot()
    assert type(snap) is ClipCaptureStatistics
    assert (snap.creator_id, snap.status, snap.enabled) == ("c", "connecting", True)
    assert (snap.buffered_seconds, snap.segments, snap.segments_seen) == (0.0, 0, 0)
    assert (snap.last_segment_at, snap.ffmpeg_pid, snap.error) == (None, None, None)
    assert "SECRET" not in repr(snap)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        snap.segments_seen = 1  # type: ignore[misc]
    # The wall time of the last segment (kept in Unix seconds) shows as a UTC time.
    capture.last_segment_at = 1_795_000_000.5
    assert capture.snapshot().last_segment_at == datetime(2026, 11, 18, 11, 6, 40, 500000, UTC)


async def test_interrupted_jobs_are_repaired_at_start(nursery, tmp_path: Path) -> None:
    """A crash mid-encode (no file) requeues; a crash after the rename keeps the file."""
    from state import open_database

    db = open_database(str(tmp_path / "state.sqlite3"))

    def make(conn, state_path):
        clip = clip_state.create_clip(
            conn, creator_id="zz", title="t", platform="api", duration_seconds=2,
            requested_by="u", source="s",
        )  # fmt: skip
        clip_state.transition_clip(conn, clip_id=clip.clip_id, to_state="encoding")
        return clip.clip_id

    (a, b) = [o.value for o in db.batch([lambda c: make(c, None), lambda c: make(c, None)])]
    db.close()
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / f"{b}.mp4").write_bytes(b"done")
    (tmp_path / "clips" / f".{a}.mp4.part").write_bytes(b"half")
    root = await start(nursery, tmp_path, {})
    clip_a, clip_b = await final(root, a), await final(root, b)
    await root.stop()
    history_a = [h.to_state for h in await _history(tmp_path, a)]
    history_b = [h.to_state for h in await _history(tmp_path, b)]
    assert history_a[:3] == ["queued", "encoding", "queued"] and clip_a.state == "failed"
    assert history_b[:3] == ["queued", "encoding", "encoded"]
    assert not (tmp_path / "clips" / f".{a}.mp4.part").exists()
    assert clip_b.state == "published" and clip_b.url and clip_b.url.startswith("file://")


async def _history(tmp_path: Path, clip_id: str):
    from state import open_database

    db = await trio.to_thread.run_sync(open_database, str(tmp_path / "state.sqlite3"))
    try:
        return clip_state.clip_history(db.connection, clip_id)
    finally:
        db.close()


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
async def test_capture_of_a_dead_source_retries_and_never_shows_the_url(
    nursery, tmp_path: Path
) -> None:
    with trio.socket.socket() as sock:
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/live/sk_SECRET123.m3u8"
    capture = ClipCapture(
        creator_id="c", url=lambda: url, folder=tmp_path / "buf", segment_seconds=1,
        buffer_seconds=10, backoff_initial=0.01, backoff_max=0.05,
    )  # fmt: skip
    root = Supervisor("root", [ChildSpec("capture", lambda: capture)])
    await nursery.start(root.run)
    with trio.fail_after(20):
        while capture.restarts < 1:  # noqa: ASYNC110 (an actor counter, not an event)
            await trio.sleep(0.05)
    reply = await root.ref("capture").call(
        TakeSnapshot(clip_id="abc234", end=1e12, length=5, folder=tmp_path / "w", wait_seconds=30)
    )
    await root.stop()
    assert isinstance(reply, SnapshotFailed) and "nothing is buffered" in reply.reason
    text = repr(capture.snapshot()) + reply.reason
    assert "SECRET123" not in text
    assert capture.snapshot().status in ("connecting", "reconnecting")
    assert capture.error == f"connection refused by 127.0.0.1:{port}"
    assert capture.health().state is ConnectionState.RECONNECTING


@pytest.mark.parametrize(
    "content",
    [
        b"[" * 200_000 + b"]" * 200_000,
        b'{"creator_id": "c", "n": ' + b"9" * 5000 + b"}",
        b'{"creator_id": "c", "duration_seconds": ' + b"9" * 400 + b"}",
        b'{"creator_id": "c", "duration_seconds": 1e308}',
    ],
    ids=["nested-200000", "int-5000-digits", "duration-400-digits", "duration-1e308"],
)
async def test_hostile_clip_requests_are_4xx(nursery, tmp_path: Path, content: bytes) -> None:
    root = await start(
        nursery,
        tmp_path,
        {"c": CreatorClips(creator_id="c", display_name="C", config=creator_cfg())},
    )
    app = HttpApp(token="t0ken", max_body=1_000_000)
    register_clip_routes(app, lambda: root.ref("jobs"), lambda: root.ref("store"))
    port = await nursery.start(partial(serve_http, app, host="127.0.0.1", port=0))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
        response = await http.post(
            "/clips", content=content, headers={"Authorization": "Bearer t0ken"}
        )
    assert 400 <= response.status_code < 500, response.text
    await root.stop()


# --- capture health on the shared lifecycle: DNS, HTTP 401/5xx, silent server ---------------


async def capture_of(nursery: trio.Nursery, tmp_path: Path, url: str, **kw: Any) -> ClipCapture:
    capture = ClipCapture(
        creator_id="c", url=lambda: url, folder=tmp_path / "buf", segment_seconds=1,
        buffer_seconds=10, backoff_initial=0.05, backoff_max=0.1, **kw,
    )  # fmt: skip
    root = Supervisor("root", [ChildSpec("capture", lambda: capture)])
    await nursery.start(root.run)
    return capture


async def wait_until(predicate: Callable[[], bool]) -> None:
    with trio.fail_after(20):
        while not predicate():  # noqa: ASYNC110 (an actor's state, not an event)
            await trio.sleep(0.05)


async def answering_server(nursery: trio.Nursery, status: int) -> int:
    async def answer(request: Request) -> Response:
        return Response(status=status, body=b"no", headers={})

    app = HttpApp(token=None)
    app.route("GET", "/live/{name}", answer, auth=False)
    return await nursery.start(
        lambda task_status: serve_http(app, host="127.0.0.1", port=0, task_status=task_status)
    )


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
async def test_capture_dns_failure_names_the_host(nursery, tmp_path: Path) -> None:
    capture = await capture_of(nursery, tmp_path, "http://stream.invalid/live/sk_SECRET.m3u8")
    await wait_until(lambda: capture.health().connect_failures >= 1)
    health = capture.health()
    assert health.state is ConnectionState.RECONNECTING
    assert health.last_error == "DNS lookup failed for stream.invalid"
    assert "SECRET" not in repr(capture.snapshot())


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
async def test_capture_http_401_needs_a_person(nursery, tmp_path: Path) -> None:
    port = await answering_server(nursery, 401)
    capture = await capture_of(nursery, tmp_path, f"http://127.0.0.1:{port}/live/x.m3u8")
    await wait_until(lambda: capture.health().state is ConnectionState.FAILED)
    assert capture.health().last_error == "HTTP 401 from 127.0.0.1"
    assert capture.snapshot().status == "failed"


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
async def test_capture_http_5xx_is_retried(nursery, tmp_path: Path) -> None:
    port = await answering_server(nursery, 503)
    capture = await capture_of(nursery, tmp_path, f"http://127.0.0.1:{port}/live/x.m3u8")
    await wait_until(lambda: capture.health().connect_failures >= 2)
    health = capture.health()
    assert health.state is ConnectionState.RECONNECTING
    assert health.last_error == "HTTP 5xx from 127.0.0.1"


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
async def test_capture_of_a_silent_server_hits_the_deadline(nursery, tmp_path: Path) -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    held: list[trio.SocketStream] = []

    async def hold() -> None:
        while True:  # accept and never answer
            held.append(await listeners[0].accept())

    nursery.start_soon(hold)
    url = f"http://127.0.0.1:{port}/live/x.m3u8"
    capture = await capture_of(nursery, tmp_path, url, stall_seconds=1.0)
    await wait_until(lambda: capture.health().connect_failures >= 1)
    health = capture.health()
    assert health.state is ConnectionState.RECONNECTING
    assert health.last_error == "capture stopped: no footage for 1 s"
    assert capture.ffmpeg_pid is None or capture.restarts >= 1
