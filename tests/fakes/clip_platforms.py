"""Fake Discord webhook and Twitch Helix clip endpoints (one threaded HTTP server, 127.0.0.1).

- `POST /webhooks/<id>/<token>?wait=true`: JSON or multipart (`payload_json` + `files[0]`);
  answers 200 with a message object (`attachments[0].url` when a file came), or `webhook_status`.
- `POST /helix/clips?broadcaster_id=…`: 202 `{"data":[{"id","edit_url"}]}` (or `create_status`).
- `GET /helix/clips?id=…`: `{"data":[]}` for the first `pending_polls` calls, then the clip.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class FakeClipPlatforms:
    """Records every request in `requests` (method, path, query, headers, body)."""

    def __init__(self) -> None:
        self.webhook_status = 200
        self.create_status = 202
        self.pending_polls = 1
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, status: int, obj: Any) -> None:
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _record(self) -> tuple[str, dict[str, list[str]], bytes]:
                parts = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                query = parse_qs(parts.query)
                server.requests.append(
                    {
                        "method": self.command,
                        "path": parts.path,
                        "query": query,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                    }
                )
                return parts.path, query, body

            def do_POST(self) -> None:
                path, _query, body = self._record()
                if path.startswith("/webhooks/"):
                    if server.webhook_status >= 300:
                        self._reply(server.webhook_status, {"message": "refused", "code": 0})
                        return
                    attachments = []
                    if b'name="files[0]"' in body:
                        attachments = [
                            {"url": "https://cdn.discordapp.example/attachments/1/clip.mp4"}
                        ]
                    self._reply(200, {"id": "1", "attachments": attachments})
                elif path == "/helix/clips":
                    if server.create_status >= 300:
                        self._reply(
                            server.create_status,
                            {"error": "Forbidden", "status": server.create_status, "message": "no"},
                        )
                        return
                    self._reply(202, {"data": [{"id": "FakeClip1", "edit_url": "https://e/1"}]})
                else:
                    self._reply(404, {"message": "not found"})

            def do_GET(self) -> None:
                path, query, _ = self._record()
                if path == "/helix/clips":
                    polls = sum(1 for r in server.requests if r["method"] == "GET")
                    if polls <= server.pending_polls:
                        self._reply(200, {"data": []})
                        return
                    clip_id = query.get("id", [""])[0]
                    self._reply(
                        200,
                        {
                            "data": [
                                {
                                    "id": clip_id,
                                    "url": f"https://clips.twitch.example/{clip_id}",
                                    "broadcaster_id": "123",
                                    "title": "t",
                                    "duration": 30.0,
                                }
                            ]
                        },
                    )
                else:
                    self._reply(404, {"message": "not found"})

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self.webhook_url = f"{self.base}/webhooks/42/tok3n"
        self.helix_base = f"{self.base}/helix"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeClipPlatforms:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
