"""Control API routes: `POST /clips` (request a clip) and `GET /clips/{clip_id}` (its state)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import apsw

from actors import ActorFailed, ActorRef, CallTimeout
from actors.clips.messages import ClipAccepted, ClipRejected, RequestClip
from actors.http_routes import BadRequest, HttpError, Request, Response, RouteTable, json_response
from actors.store import Read
from state import clips as clip_state
from state.errors import RecordNotFound
from state.timeutil import iso_ms


def clip_json(clip: clip_state.Clip) -> dict[str, Any]:
    """The public JSON of a clip job (no file paths)."""
    return {
        "clip_id": clip.clip_id,
        "creator_id": clip.creator_id,
        "title": clip.title,
        "platform": clip.platform,
        "state": clip.state,
        "progress": clip.progress,
        "duration_seconds": clip.duration_seconds,
        "url": clip.url,
        "last_error": clip.last_error,
        "attempts": clip.attempts,
        "created_at": iso_ms(clip.created_at),
        "updated_at": iso_ms(clip.updated_at),
    }


def register_clip_routes(
    app: RouteTable,
    clips_ref_getter: Callable[[], ActorRef],
    store_ref_getter: Callable[[], ActorRef],
) -> None:
    """Add the clip routes (both need the control token).

    `POST /clips` with `{creator_id, duration_seconds?, title?, requested_by?}` answers 202
    `{clip_id, state: "queued", title}`, or 400/404/409, or 429 with `Retry-After` during a
    cooldown. `GET /clips/{clip_id}` answers the clip (404 when unknown).
    """

    async def request_clip(request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            raise BadRequest("expected a JSON object")
        creator_id = body.get("creator_id")
        if not isinstance(creator_id, str) or not creator_id:
            raise BadRequest("creator_id must be a non-empty string")
        duration = body.get("duration_seconds")
        if duration is not None and (
            isinstance(duration, bool)
            or not isinstance(duration, int | float)
            or not math.isfinite(duration)
        ):
            raise BadRequest("duration_seconds must be a number")
        title = body.get("title")
        if title is not None and not isinstance(title, str):
            raise BadRequest("title must be a string")
        requested_by = body.get("requested_by", "api")
        if not isinstance(requested_by, str) or not requested_by.strip():
            raise BadRequest("requested_by must be a non-empty string")
        message = RequestClip(
            creator_id=creator_id,
            duration_seconds=None if duration is None else float(duration),
            title=title,
            requested_by=requested_by.strip()[:64],
        )
        try:
            reply = await clips_ref_getter().call(message, timeout=30.0)
        except (ActorFailed, CallTimeout, KeyError):
            raise HttpError(503, "the clip service is not available") from None
        if isinstance(reply, ClipAccepted):
            return json_response(
                {"clip_id": reply.clip_id, "state": "queued", "title": reply.title}, 202
            )
        assert isinstance(reply, ClipRejected)
        headers = {}
        if reply.retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(reply.retry_after)))
        return json_response(
            {"error": reply.reason, "status": reply.status}, reply.status, headers=headers
        )

    async def get_clip(request: Request) -> Response:
        clip_id = request.params["clip_id"]

        def read(conn: apsw.Connection) -> clip_state.Clip | None:
            try:  # a Read must not raise: that would crash the store
                return clip_state.get_clip(conn, clip_id)
            except RecordNotFound:
                return None

        try:
            clip = await store_ref_getter().call(Read(fn=read), timeout=10.0)
        except (ActorFailed, CallTimeout, KeyError):
            raise HttpError(503, "the state store is not available") from None
        if clip is None:
            raise HttpError(404, f"no clip {clip_id!r}")
        return json_response(clip_json(clip))

    app.route("POST", "/clips", request_clip, auth=True)
    app.route("GET", "/clips/{clip_id}", get_clip, auth=True)
