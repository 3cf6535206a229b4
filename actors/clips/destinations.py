"""Where finished clips go: a local folder, a Discord webhook, a generic HTTP upload, Rumble.

Every destination is idempotent enough to be retried after a crash (the folder and HTTP
uploads replace the same name; a Discord post may be repeated, the only visible duplicate).
A failure raises `PublishError`: `transient` ones are retried with backoff, others fail the job.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import attrs
import httpx
import trio

from config.untrusted_json import loads_untrusted

#: Upload deadline (connect, send, answer) per HTTP request.
UPLOAD_TIMEOUT_SECONDS = 120.0


class PublishError(Exception):
    """A destination did not take the clip. `transient`: worth retrying later."""

    def __init__(self, reason: str, *, transient: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.retry_after = retry_after


@attrs.frozen(slots=True, kw_only=True)
class PublishItem:
    """What a destination gets: the finished file and its metadata."""

    clip_id: str
    creator_id: str
    title: str
    file: Path
    size: int
    #: URLs given by the destinations before this one (a link for Discord when too large).
    urls: tuple[str, ...] = ()


class Destination(Protocol):
    """A place to publish to. `name` is shown in snapshots; `paused` ones are skipped."""

    name: str
    kind: str
    paused: bool

    @property
    def paused_reason(self) -> str | None:
        """Why it is paused (None when it is not): read only, so a destination that is always
        paused may keep a plain `str` here."""
        ...

    async def publish(self, item: PublishItem) -> str | None:
        """Publish; return the clip's URL there (None when it has none)."""
        ...


# --------------------------------------------------------------------------- folder


def _os_error_reason(exc: OSError, where: str) -> PublishError:
    if exc.errno == errno.ENOSPC:
        return PublishError(f"{where}: disk full (no space left on device)", transient=False)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return PublishError(f"{where}: permission denied ({exc.strerror})", transient=False)
    return PublishError(f"{where}: {exc.strerror or exc}", transient=True)


class FolderDestination:
    """Copies the clip into `folder` (temporary name, then rename); URL = `public_url` + name."""

    kind = "folder"
    paused = False
    paused_reason: str | None = None

    def __init__(
        self, folder: Path, public_url: str | None = None, *, name: str = "folder"
    ) -> None:
        self.folder = folder
        self.public_url = public_url
        self.name = name

    async def publish(self, item: PublishItem) -> str | None:
        target = self.folder / f"{item.clip_id}.mp4"
        try:
            await trio.to_thread.run_sync(self._copy, item.file, target)
        except OSError as exc:
            raise _os_error_reason(exc, f"copy to {self.folder}") from None
        if self.public_url:
            return self.public_url.rstrip("/") + "/" + target.name
        return target.resolve().as_uri()

    def _copy(self, source: Path, target: Path) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if source.resolve() == target.resolve():
            return  # the clips folder itself is the public folder
        tmp = target.with_name(f".{target.name}.part")
        try:
            with open(source, "rb") as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
                dst.flush()
                os.fsync(dst.fileno())
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


# --------------------------------------------------------------------------- http


def _http_error(where: str, response: httpx.Response) -> PublishError:
    status = response.status_code
    retry_after = None
    try:
        retry_after = float(response.headers.get("retry-after", ""))
    except ValueError:
        pass
    transient = status >= 500 or status in (408, 425, 429)
    return PublishError(
        f"{where} answered HTTP {status}", transient=transient, retry_after=retry_after
    )


class HttpUploadDestination:
    """Sends the file as the request body (`POST` or `PUT`) to `url`/<clip_id>.mp4 for PUT, or
    `url` for POST (with `X-Clip-Id`). The clip URL is the answer's JSON `url`, else its
    `Location` header."""

    kind = "http"
    paused = False
    paused_reason: str | None = None

    def __init__(
        self,
        url: str,
        *,
        method: str = "POST",
        token: Callable[[], str] | None = None,
        name: str = "http",
        client: Callable[[], httpx.AsyncClient] | None = None,
    ) -> None:
        self.url = url
        self.method = method
        self._token = token
        self.name = name
        self._client = client or (lambda: httpx.AsyncClient(timeout=UPLOAD_TIMEOUT_SECONDS))

    async def publish(self, item: PublishItem) -> str | None:
        target = self.url.rstrip("/") + f"/{item.clip_id}.mp4" if self.method == "PUT" else self.url
        headers = {"Content-Type": "video/mp4", "X-Clip-Id": item.clip_id}
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token()}"
        body = await trio.to_thread.run_sync(item.file.read_bytes)
        try:
            async with self._client() as client:
                response = await client.request(self.method, target, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise PublishError(f"upload failed: {type(exc).__name__}", transient=True) from None
        if not 200 <= response.status_code < 300:
            raise _http_error("upload", response)
        try:
            data = loads_untrusted(response.content)
            if isinstance(data, dict) and isinstance(data.get("url"), str):
                return data["url"]
        except ValueError:
            pass
        return response.headers.get("location")


# --------------------------------------------------------------------------- discord


class DiscordWebhookDestination:
    """Announces the clip through a webhook: the file itself when it fits the upload limit
    (multipart `payload_json` + `files[0]`), a link from an earlier destination otherwise."""

    kind = "discord"
    paused = False
    paused_reason: str | None = None

    def __init__(
        self,
        webhook_url: Callable[[], str],
        *,
        max_upload_bytes: int,
        name: str = "discord",
        client: Callable[[], httpx.AsyncClient] | None = None,
    ) -> None:
        self._webhook_url = webhook_url
        self.max_upload_bytes = max_upload_bytes
        self.name = name
        self._client = client or (lambda: httpx.AsyncClient(timeout=UPLOAD_TIMEOUT_SECONDS))

    async def publish(self, item: PublishItem) -> str | None:
        url = self._webhook_url()
        url += ("&" if "?" in url else "?") + "wait=true"  # answer with the message object
        title = item.title[:200]
        try:
            async with self._client() as client:
                if item.size <= self.max_upload_bytes:
                    filename = f"{item.clip_id}.mp4"
                    payload = {
                        "content": f"🎬 {title}",
                        "attachments": [{"id": 0, "filename": filename}],
                        "allowed_mentions": {"parse": []},
                    }
                    body = await trio.to_thread.run_sync(item.file.read_bytes)
                    response = await client.post(
                        url,
                        data={"payload_json": json.dumps(payload)},
                        files={"files[0]": (filename, body, "video/mp4")},
                    )
                else:
                    link = item.urls[0] if item.urls else None
                    text = f"🎬 {title}: {link}" if link else f"🎬 {title} (too large to upload)"
                    response = await client.post(
                        url, json={"content": text, "allowed_mentions": {"parse": []}}
                    )
        except httpx.HTTPError as exc:
            # Never the exception text: it may hold the webhook URL (its token).
            raise PublishError(f"webhook failed: {type(exc).__name__}", transient=True) from None
        if not 200 <= response.status_code < 300:
            raise _http_error("webhook", response)
        try:
            message = loads_untrusted(response.content)
        except ValueError:
            message = None
        attachments = message.get("attachments") if isinstance(message, dict) else None
        first = attachments[0] if isinstance(attachments, list) and attachments else None
        if isinstance(first, dict) and isinstance(first.get("url"), str):
            return first["url"]
        return None


# --------------------------------------------------------------------------- rumble


class RumbleDestination:
    """Rumble has no clip upload API: configurable, always shown as paused, never used."""

    kind = "rumble"
    paused = True

    def __init__(self, *, name: str = "rumble", reason: str | None = None) -> None:
        self.name = name
        self.paused_reason = reason or "Rumble has no clip upload API"

    async def publish(self, item: PublishItem) -> str | None:
        raise PublishError(self.paused_reason or "paused", transient=False)


def ordered(destinations: Sequence[Destination]) -> list[Destination]:
    """Active destinations, Discord last (so it can link what the others published)."""
    active = [d for d in destinations if not d.paused]
    return [d for d in active if d.kind != "discord"] + [d for d in active if d.kind == "discord"]
