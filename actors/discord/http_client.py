"""`DiscordRest`: Discord's REST API over httpx, driven by its rate-limit answers.

Buckets are learned from responses (`actors.discord.rest_protocol.parse_rate_limit`): before a
request the route's bucket is consulted and, when it is exhausted, the request waits for its
reset; a 429 waits `retry_after` (the body's float seconds) and retries, up to
`max_429_retries` times; a global 429 pauses every route. Waits longer than `max_wait` are not
slept here: they raise `RateLimited` so a caller with a durable queue (the notification outbox)
can reschedule.

Secrets: the bot token is a header, webhook and interaction tokens are path segments. None of
them is logged: routes are logged by `bucket_key`, which hashes tokens out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs
import httpx
import structlog
import trio

from actors.discord.rest_protocol import RateLimitInfo, bucket_key, parse_rate_limit
from config.untrusted_json import loads_untrusted

__all__ = ["DEFAULT_API_BASE", "DiscordHttpError", "DiscordRest", "RateLimited", "RestResult"]

DEFAULT_API_BASE = "https://discord.com/api/v10"
USER_AGENT = "DiscordBot (https://github.com/streamsuites/runtime, 1.0)"

log = structlog.get_logger("actors.discord.http_client")


class RateLimited(Exception):
    """A 429 (or an exhausted bucket) asks for a wait longer than the caller allows."""

    def __init__(self, route: str, wait: float) -> None:
        super().__init__(f"{route}: rate limited for {wait:.3f} s")
        self.route = route
        self.wait = wait


class DiscordHttpError(Exception):
    """Discord answered with a non-2xx status (other than a 429 that was waited out)."""

    def __init__(self, route: str, status: int, message: str) -> None:
        super().__init__(f"{route}: HTTP {status} {message}".rstrip())
        self.route = route
        self.status = status
        self.message = message

    @property
    def permanent(self) -> bool:
        """A 4xx other than 429: retrying the same request cannot succeed."""
        return 400 <= self.status < 500 and self.status != 429


@attrs.frozen(kw_only=True)
class RestResult:
    """A 2xx answer: status, decoded JSON body (None when empty or not JSON)."""

    status: int
    body: Any
    rate_limit: RateLimitInfo


@attrs.define
class _Bucket:
    remaining: int | None = None
    reset_at: float = 0.0  # trio time


class DiscordRest:
    """Rate-limited Discord REST client (one per bot token; webhooks need no token).

    `base_url` and `transport` are overridable for tests (a local fake). `clock` is the trio
    clock by default; buckets are kept per `bucket_key` route and per Discord bucket id.
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        base_url: str = DEFAULT_API_BASE,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        max_429_retries: int = 3,
        max_wait: float = 30.0,
    ) -> None:
        self._token = token
        self.base_url = base_url.rstrip("/")
        self._base_path = urlsplit(self.base_url).path.rstrip("/")
        self._client = httpx.AsyncClient(transport=transport, timeout=timeout)
        self.max_429_retries = max_429_retries
        self.max_wait = max_wait
        self._routes: dict[str, _Bucket] = {}
        self._route_bucket: dict[str, str] = {}  # route key -> Discord's bucket id
        self._global_until = 0.0
        self.requests = 0
        self.rate_limited = 0

    def __repr__(self) -> str:
        return f"<DiscordRest base={self.base_url!r} requests={self.requests}>"

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    # ------------------------------------------------------------------ requests

    def _url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return self.base_url + (path_or_url if path_or_url.startswith("/") else "/" + path_or_url)

    def _route(self, method: str, url: str) -> str:
        path = urlsplit(url).path
        if self._base_path and path.startswith(self._base_path):
            path = path[len(self._base_path) :]
        elif "/api/" in path:
            # `bucket_key` drops `/api` and an optional `/v<N>`: webhook URLs as Discord shows
            # them (`/api/webhooks/<id>/<token>`) have no version, and their token is hashed.
            path = "/api/" + path.split("/api/", 1)[1]
        return bucket_key(method, path)

    def _bucket(self, route: str) -> _Bucket:
        shared = self._route_bucket.get(route)
        key = f"bucket:{shared}" if shared else route
        found = self._routes.get(key)
        if found is None:
            found = self._routes[key] = _Bucket()
        return found

    async def _wait_for(self, route: str) -> None:
        now = trio.current_time()
        bucket = self._bucket(route)
        wait = max(self._global_until - now, 0.0)
        if bucket.remaining == 0 and bucket.reset_at > now:
            wait = max(wait, bucket.reset_at - now)
        if wait > self.max_wait:
            raise RateLimited(route, wait)
        if wait > 0:
            await trio.sleep(wait)

    def _learn(self, route: str, info: RateLimitInfo) -> None:
        now = trio.current_time()
        if info.bucket:
            self._route_bucket[route] = info.bucket
        bucket = self._bucket(route)
        if info.remaining is not None:
            bucket.remaining = info.remaining
        if info.reset_after is not None:
            bucket.reset_at = now + info.reset_after
        if info.limited and info.is_global:
            self._global_until = now + info.wait_seconds
        elif info.limited:
            bucket.remaining = 0
            bucket.reset_at = max(bucket.reset_at, now + info.wait_seconds)

    async def request(
        self,
        method: str,
        path_or_url: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        auth: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> RestResult:
        """Send one request, waiting out buckets and 429s; return the 2xx result.

        Raises `RateLimited` (a wait above `max_wait`, or 429s beyond the retries),
        `DiscordHttpError` (other non-2xx), `httpx.HTTPError` (transport failures).
        """
        url = self._url(path_or_url)
        route = self._route(method, url)
        sent_headers = {"User-Agent": USER_AGENT, **(headers or {})}
        if auth:
            if not self._token:
                raise ValueError("this DiscordRest has no bot token")
            sent_headers["Authorization"] = f"Bot {self._token}"
        attempt = 0
        while True:
            await self._wait_for(route)
            self.requests += 1
            response = await self._client.request(
                method, url, json=json, params=params, headers=sent_headers
            )
            info = parse_rate_limit(response.status_code, response.headers, response.content)
            self._learn(route, info)
            if info.limited:
                self.rate_limited += 1
                wait = info.wait_seconds
                attempt += 1
                log.info("discord rate limited", route=route, wait=wait, is_global=info.is_global)
                too_long = wait > self.max_wait or not math.isfinite(wait)
                if attempt > self.max_429_retries or too_long:
                    raise RateLimited(route, wait)
                continue  # `_wait_for` sleeps the learned wait
            if not 200 <= response.status_code < 300:
                message = ""
                try:
                    body = loads_untrusted(response.content)
                    if isinstance(body, dict) and isinstance(body.get("message"), str):
                        message = body["message"][:200]
                except ValueError:
                    pass
                raise DiscordHttpError(route, response.status_code, message)
            try:
                body = loads_untrusted(response.content) if response.content else None
            except ValueError:
                body = None
            return RestResult(status=response.status_code, body=body, rate_limit=info)
