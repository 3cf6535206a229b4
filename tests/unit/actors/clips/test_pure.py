"""Pure parts of the clips package: titles, the segment ring, progress, commands, cooldowns."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from actors.clips.ffmpeg import (
    EncodeSettings,
    ProgressParser,
    StderrTail,
    choose_video_codec,
    encode_command,
)
from actors.clips.limits import Refused, check_cooldowns, check_duration, clamp_duration
from actors.clips.ring import ListEntry, NotBuffered, SegmentRing, parse_segment_list
from actors.clips.titles import MAX_TITLE_LENGTH, clip_title
from actors.clips.views import job_view
from config.models import CreatorClipsConfig
from state.clips import Clip, ClipState

AT = datetime(2026, 11, 21, 20, 0, tzinfo=UTC)


def test_title_fits_and_truncates_the_source_title_first() -> None:
    short = clip_title(source_title="Speedrun", at=AT, clipper="ann", clip_id="abc234")
    assert short == "Speedrun · 2026-11-21 · ann · abc234"
    long = clip_title(source_title="x" * 300, at=AT, clipper="ann", clip_id="abc234")
    assert len(long) == MAX_TITLE_LENGTH
    assert long.endswith("… · 2026-11-21 · ann · abc234")
    huge_clipper = clip_title(source_title="s", at=AT, clipper="y" * 300, clip_id="abc234")
    assert len(huge_clipper) <= MAX_TITLE_LENGTH and "abc234" in huge_clipper


def test_segment_list_parsing_skips_garbage() -> None:
    text = (
        "r1_000000.ts,0.000000,1.000000\nbroken\n../x.ts,1,2\nr1_000001.ts,1.0,2.0\nr1_2.ts,a,b\n"
    )
    assert [e.name for e in parse_segment_list(text)] == ["r1_000000.ts", "r1_000001.ts"]


def entries(n: int, start: int = 0) -> list[ListEntry]:
    return [ListEntry(name=f"r1_{i:06d}.ts", start=i, end=i + 1) for i in range(start, start + n)]


def test_ring_anchors_to_the_earliest_sighting_and_cuts_windows() -> None:
    ring = SegmentRing(buffer_seconds=10, segment_seconds=1)
    ring.observe(1, entries(3), seen_at=1003.4)  # 3 segments seen 0.4 s late
    ring.observe(1, entries(4), seen_at=1004.1)  # a better anchor: 0.1 s late
    assert [round(s.wall_end, 2) for s in ring.segments] == [1001.1, 1002.1, 1003.1, 1004.1]
    window = ring.window(end=1003.6, length=2.0)
    assert [s.name for s in window.segments] == ["r1_000001.ts", "r1_000002.ts", "r1_000003.ts"]
    assert window.offset == pytest.approx(0.5) and window.duration == pytest.approx(2.0)
    # An end in the future is clamped to the newest footage.
    assert ring.window(end=2000, length=1).duration == pytest.approx(1.0)


def test_ring_prunes_and_refuses_moments_it_no_longer_holds() -> None:
    ring = SegmentRing(buffer_seconds=3, segment_seconds=1)
    ring.observe(1, entries(10), seen_at=1010.0)
    dropped = ring.prune(now=1010.0)
    assert len(dropped) == 5 and len(ring.segments) == 5  # buffer + one segment of slack
    with pytest.raises(NotBuffered, match="no longer buffered"):
        ring.window(end=1002.0, length=1.0)
    with pytest.raises(NotBuffered, match="nothing is buffered"):
        SegmentRing(buffer_seconds=3, segment_seconds=1).window(end=1, length=1)


def test_progress_parser_handles_split_blocks_and_na() -> None:
    parser = ProgressParser(duration=4.0)
    assert not parser.feed(b"frame=1\nout_time_us=N/A\nout_ti")
    assert parser.feed(b"me_us=1000000\nprogress=continue\n")
    assert parser.fraction == pytest.approx(0.25)
    assert parser.feed(b"out_time_ms=3000000\nprogress=end\n")
    assert parser.ended and parser.fraction == 1.0


def test_stderr_tail_keeps_the_last_line() -> None:
    tail = StderrTail()
    tail.feed(b"first\nsecond\nthi")
    assert tail.last() == "thi"


def test_codec_choice_and_encode_command() -> None:
    assert choose_video_codec("auto", frozenset({"libx264", "mpeg4"})) == "libx264"
    assert choose_video_codec("auto", frozenset({"mpeg4"})) == "mpeg4"
    assert choose_video_codec("libvpx", frozenset()) == "libvpx"
    from pathlib import Path

    cmd = encode_command(
        "ffmpeg", Path("in.ts"), Path("out.part"), offset=1.5, duration=2,
        settings=EncodeSettings(video_codec="mpeg4"),
    )  # fmt: skip
    assert cmd[cmd.index("-ss") + 1] == "1.500" and cmd[cmd.index("-t") + 1] == "2.000"
    assert "-q:v" in cmd and "-preset" not in cmd
    assert cmd[-3:] == ["-progress", "pipe:1", "out.part"] and "mp4" in cmd


def clip(clip_id: str, at: int, user: str = "u", state: ClipState = "published") -> Clip:
    return Clip(
        clip_id=clip_id, creator_id="c", title="t", platform="api", state=state,
        duration_seconds=2, requested_by=user, progress=0, destination_platform=None,
        destination_channel_url=None, output_path=None, url=None, thumbnail_url=None,
        last_error=None, created_at=at, updated_at=at, source="s", offset_seconds=0,
        params={}, attempts=0,
    )  # fmt: skip


def test_cooldowns_per_creator_and_per_user() -> None:
    cfg = CreatorClipsConfig(cooldown_creator_seconds=10, cooldown_user_seconds=60)
    earlier = [clip("aaaaaa", 0, user="ann")]
    with pytest.raises(Refused) as info:
        check_cooldowns(requested_by="bob", at_ms=5_000, earlier=earlier, config=cfg)
    assert info.value.status == 429 and info.value.retry_after == pytest.approx(5)
    with pytest.raises(Refused, match="you requested"):
        check_cooldowns(requested_by="ann", at_ms=30_000, earlier=earlier, config=cfg)
    check_cooldowns(requested_by="bob", at_ms=30_000, earlier=earlier, config=cfg)
    # Failed clips do not count; the clip itself and later ones do not count.
    check_cooldowns(
        requested_by="ann", at_ms=1, earlier=[clip("bbbbbb", 0, "ann", "failed")], config=cfg
    )
    same_ms = [clip("aaaaaa", 0), clip("bbbbbb", 0)]
    check_cooldowns(requested_by="u", at_ms=0, earlier=same_ms, config=cfg, exclude="aaaaaa")
    with pytest.raises(Refused):
        check_cooldowns(requested_by="u", at_ms=0, earlier=same_ms, config=cfg, exclude="bbbbbb")


def test_duration_limits() -> None:
    cfg = CreatorClipsConfig(min_duration_seconds=5, max_duration_seconds=60)
    check_duration(30, cfg)
    with pytest.raises(Refused, match="between 5 and 60"):
        check_duration(61, cfg)
    assert clamp_duration(300, cfg) == 60 and clamp_duration(1, cfg) == 5


def test_job_view_maps_states() -> None:
    assert job_view(clip("aaaaaa", 0, state="uploading")).status == "running"
    assert job_view(clip("aaaaaa", 0, state="queued")).status == "pending"


def test_capture_failure_says_what_ffmpeg_meant() -> None:
    from actors.clips.ffmpeg import capture_failure

    where = {"host": "live.example", "target": "live.example:443"}
    refused = ["[tcp @ 0x1] Connection to tcp://live.example:443 failed: Connection refused"]
    assert capture_failure(refused, **where).reason == "connection refused by live.example:443"
    dns = [
        "[tcp @ 0x1] Failed to resolve hostname live.example: Name or service not known",
        "https://live.example/x.m3u8: Input/output error",
    ]
    assert capture_failure(dns, **where).reason == "DNS lookup failed for live.example"
    denied = capture_failure(["Server returned 403 Forbidden (access denied)"], **where)
    assert denied.reason == "HTTP 403 from live.example" and denied.needs_person
    busy = capture_failure(["Server returned 5XX Server Error reply"], **where)
    assert busy.reason == "HTTP 5xx from live.example" and not busy.needs_person
    assert capture_failure(["something else entirely"], **where) is None
