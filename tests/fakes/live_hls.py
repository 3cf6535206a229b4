"""A live HLS stream made by ffmpeg (test pattern + sine) and served on 127.0.0.1."""

from __future__ import annotations

import functools
import subprocess
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class LiveHls:
    """`with LiveHls(folder) as hls:` -> `hls.url` plays while the block runs."""

    def __init__(self, folder: Path, *, ffmpeg: str = "ffmpeg", size: str = "160x120") -> None:
        self.folder = folder
        self.ffmpeg = ffmpeg
        self.size = size
        self.process: subprocess.Popen[bytes] | None = None
        handler = functools.partial(_Quiet, directory=str(folder))
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/live.m3u8"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> LiveHls:
        self.folder.mkdir(parents=True, exist_ok=True)
        cmd = [
            self.ffmpeg, "-hide_banner", "-loglevel", "error", "-re",
            "-f", "lavfi", "-i", f"testsrc=size={self.size}:rate=10",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050",
            "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "32k",
            "-f", "hls", "-hls_time", "1", "-hls_list_size", "6",
            "-hls_flags", "delete_segments",
            str(self.folder / "live.m3u8"),
        ]  # fmt: skip
        self.process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not (self.folder / "live.m3u8").exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the HLS source did not start")
            time.sleep(0.1)
        return self

    def stop_source(self) -> None:
        """Stop producing (the playlist stays, so the stream looks stalled then ended)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def __exit__(self, *exc: object) -> None:
        self.stop_source()
        self._httpd.shutdown()
        self._httpd.server_close()
