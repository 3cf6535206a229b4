"""ffmpeg is asked to quit with `q` (portable) before any signal; a cancelled encode publishes
nothing."""

from __future__ import annotations

import shutil
import subprocess
from functools import partial
from pathlib import Path

import pytest
import trio

from actors.clips.encoder import EncodeError, encode_clip, part_path
from actors.clips.ffmpeg import EncodeSettings, stop_ffmpeg
from actors.clips.messages import Snapshot

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")

ENDLESS = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i",
           "testsrc=size=64x48:rate=5", "-f", "null", "-"]  # fmt: skip


async def test_stop_uses_q_and_ffmpeg_exits_cleanly(nursery) -> None:
    process = await nursery.start(
        partial(trio.run_process, ENDLESS, stdin=subprocess.PIPE, check=False)
    )
    await trio.sleep(0.3)
    await stop_ffmpeg(process, grace=30)
    # 0: ffmpeg read `q` and finished; a signal would give 255 (SIGTERM) or -9 (SIGKILL).
    assert process.returncode == 0


async def test_cancelled_encode_leaves_no_final_file(tmp_path: Path) -> None:
    source = tmp_path / "in.ts"
    await trio.run_process(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
         "testsrc=size=64x48:rate=10", "-t", "3", "-c:v", "libx264", "-preset", "ultrafast",
         "-f", "mpegts", str(source)],
    )  # fmt: skip
    final = tmp_path / "out" / "abc234.mp4"
    progressed = trio.Event()

    async def on_progress(_fraction: float) -> None:
        progressed.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            partial(
                encode_clip,
                "ffmpeg",
                Snapshot(source=source, offset=0, duration=3),
                final,
                settings=EncodeSettings(preset="ultrafast"),
                on_progress=on_progress,
                extra_input_args=["-readrate", "0.5"],  # slow: 6 s for 3 s of footage
            )
        )
        await progressed.wait()
        nursery.cancel_scope.cancel()
    assert not final.exists()
    part_path(final).unlink(missing_ok=True)  # swept at the next start in the runtime


async def test_missing_program_is_a_permanent_error(tmp_path: Path) -> None:
    with pytest.raises(EncodeError) as info:
        await encode_clip(
            str(tmp_path / "no-ffmpeg"),
            Snapshot(source=tmp_path / "x.ts", offset=0, duration=1),
            tmp_path / "o.mp4",
            settings=EncodeSettings(),
        )
    assert not info.value.transient and "could not be started" in info.value.reason
