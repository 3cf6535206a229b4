"""Twitch-native clips: Helix Create Clip, then poll Get Clips until the clip exists.

The protocol is `actors.twitch.helix` (sans-IO); this module only performs the requests.
Creation is asynchronous: a clip still missing from `GET /clips` after
`helix.CLIP_POLL_TIMEOUT_SECONDS` has failed (Twitch's documented rule).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import attrs
import httpx
import trio

from actors.twitch import helix
from config.models import TwitchClipsConfig

POLL_INTERVAL_SECONDS = 1.0
REQUEST_TIMEOUT_SECONDS = 10.0


class NativeClipError(Exception):
    """Twitch did not make the clip; `transient` ones are worth another attempt."""

    def __init__(self, reason: str, *, transient: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


def _with_base(request: helix.HelixRequest, base: str | None) -> helix.HelixRequest:
    if base is None or not request.url.startswith(helix.HELIX_BASE):
        return request
    return attrs.evolve(request, url=base.rstrip("/") + request.url[len(helix.HELIX_BASE) :])


async def _send(client: httpx.AsyncClient, request: helix.HelixRequest) -> httpx.Response:
    try:
        return await client.request(
            request.method,
            request.url,
            params=list(request.params),
            headers=list(request.headers),
        )
    except httpx.HTTPError as exc:
        raise NativeClipError(f"Twitch unreachable: {type(exc).__name__}", transient=True) from None


def _api_error(exc: helix.HelixApiError) -> NativeClipError:
    status = exc.status
    transient = status == 429 or status >= 500
    hint = {
        401: " (token invalid or expired)",
        403: " (token lacks clips:edit)",
        404: " (broadcaster offline?)",
    }.get(status, "")
    return NativeClipError(f"Twitch refused the clip: HTTP {status}{hint}", transient=transient)


async def create_twitch_clip(
    config: TwitchClipsConfig,
    *,
    title: str | None,
    duration: float | None,
    client: Callable[[], httpx.AsyncClient] | None = None,
    clock: Callable[[], float] = trio.current_time,
) -> str:
    """Create a clip of the live broadcast and return its URL once Twitch lists it."""
    if duration is not None:
        duration = min(max(duration, helix.CLIP_MIN_SECONDS), helix.CLIP_MAX_SECONDS)
        duration = float(math.floor(duration))
    make = client or (lambda: httpx.AsyncClient(timeout=REQUEST_TIMEOUT_SECONDS))
    token = config.token.reveal()
    create = _with_base(
        helix.create_clip_request(
            config.broadcaster_id,
            client_id=config.client_id,
            token=token,
            title=title[:100] if title and title.strip() else None,
            duration=duration,
        ),
        config.api_base,
    )
    async with make() as http:
        response = await _send(http, create)
        try:
            created = helix.parse_create_clip(
                response.status_code, dict(response.headers), response.content
            )
        except helix.HelixApiError as exc:
            raise _api_error(exc) from None
        except helix.HelixParseError as exc:
            raise NativeClipError(f"unexpected Create Clip answer: {exc}", transient=True) from None
        requested_at = clock()
        poll = _with_base(
            helix.get_clips_request([created.id], client_id=config.client_id, token=token),
            config.api_base,
        )
        while True:
            await trio.sleep(POLL_INTERVAL_SECONDS)
            response = await _send(http, poll)
            try:
                found = helix.parse_clips(
                    response.status_code, dict(response.headers), response.content
                )
            except helix.HelixApiError as exc:
                raise _api_error(exc) from None
            except helix.HelixParseError:
                found = ()
            for clip in found:
                if clip.id == created.id and clip.url:
                    return clip.url
            if helix.clip_is_overdue(requested_at, clock()):
                raise NativeClipError(
                    f"Twitch did not publish clip {created.id} within "
                    f"{helix.CLIP_POLL_TIMEOUT_SECONDS:g} s",
                    transient=False,
                )
