"""`HelixClient`: live-stream lookups over httpx, on top of the sans-IO `actors.twitch.helix`.

It owns the app access token (client-credentials grant; fetched on first use, renewed a minute
before it expires and at once on a 401) and the rate-limit bucket: every response's
``Ratelimit-*`` headers are kept, and while ``Ratelimit-Remaining`` is 0 requests wait until
``Ratelimit-Reset``; a 429 waits for the reset and retries. A watchlist is split into requests
of at most 100 values (`streams_requests`) and every page is followed (`next_page`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

import attrs
import httpx
import structlog
import trio

from actors.ratelimit import RateLimit
from actors.twitch.helix import (
    HELIX_BASE,
    OAUTH_BASE,
    HelixApiError,
    HelixRequest,
    Stream,
    app_token_request,
    next_page,
    parse_app_token,
    parse_error,
    parse_rate_limit,
    parse_streams_page,
    rebase_url,
    streams_requests,
)

__all__ = ["HelixClient", "HelixTokenRefused", "LiveScan"]

log = structlog.get_logger("actors.twitch.app_helix")

_TOKEN_MARGIN = 60.0  # renew this long before Twitch says the token expires
_MAX_RETRIES = 3
_DEFAULT_429_WAIT = 1.0


class HelixTokenRefused(HelixApiError):
    """The OAuth server refused the app credentials (not a Helix API answer)."""


@attrs.frozen(kw_only=True)
class LiveScan:
    """One complete scan: every live stream found and how many requests it took."""

    streams: tuple[Stream, ...]
    requests: int
    pages: int


class HelixClient:
    """Twitch Helix for live status, with an app token. Base URLs are overridable (fakes)."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        helix_base: str = HELIX_BASE,
        oauth_base: str = OAUTH_BASE,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        concurrency: int = 4,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret are required")
        self._client_id = client_id
        self._client_secret = client_secret
        self._helix_base = helix_base.rstrip("/")
        self._oauth_base = oauth_base.rstrip("/")
        self._http = httpx.AsyncClient(transport=transport, timeout=timeout)
        self._limiter = trio.CapacityLimiter(max(1, concurrency))
        self._token_lock = trio.Lock()
        self._wall = wall_clock
        self._token: str | None = None
        self._token_expires = 0.0  # trio time
        self.rate_limit: RateLimit | None = None
        self._in_flight = 0
        self._answered = trio.Event()
        self.requests = 0
        self.token_fetches = 0
        self.rate_limit_waits = 0

    @property
    def helix_host(self) -> str:
        """The Helix API's host (as failure sentences name it)."""
        return urlsplit(self._helix_base).hostname or "api.twitch.tv"

    @property
    def oauth_host(self) -> str:
        """The OAuth server's host."""
        return urlsplit(self._oauth_base).hostname or "id.twitch.tv"

    def __repr__(self) -> str:
        return f"<HelixClient requests={self.requests} token={'set' if self._token else 'none'}>"

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    # ------------------------------------------------------------------ token

    def _rebase(self, request: HelixRequest) -> str:
        return rebase_url(request.url, helix_base=self._helix_base, oauth_base=self._oauth_base)

    async def _app_token(self, *, stale: str | None = None) -> str:
        async with self._token_lock:
            # Another task may have renewed it while this one waited for the lock.
            fresh = self._token is not None and trio.current_time() < self._token_expires
            if fresh and self._token != stale:
                assert self._token is not None
                return self._token
            request = app_token_request(self._client_id, self._client_secret)
            response = await self._http.post(self._rebase(request), data=dict(request.form or ()))
            self.requests += 1
            try:
                token = parse_app_token(response.status_code, response.headers, response.content)
            except HelixApiError as exc:
                raise HelixTokenRefused(exc.error) from None
            self.token_fetches += 1
            self._token = token.access_token
            self._token_expires = trio.current_time() + max(0.0, token.expires_in - _TOKEN_MARGIN)
            return self._token

    # ------------------------------------------------------------------ requests

    async def _acquire(self) -> None:
        """Take one point of the bucket, waiting while it is (or may be) exhausted.

        Points in flight are counted against ``Ratelimit-Remaining``; before the first answer
        nothing is known, so only one request goes out until it has told us the bucket.
        """
        while True:
            limit = self.rate_limit
            if limit is None:
                if self._in_flight == 0:
                    break
            elif limit.remaining - self._in_flight > 0:
                break
            elif self._in_flight == 0:
                wait = limit.wait_seconds(self._wall())
                if wait > 0:
                    self.rate_limit_waits += 1
                    log.info("helix bucket empty: waiting for its reset", wait=round(wait, 3))
                    await trio.sleep(wait)
                self.rate_limit = None  # refilled; the next answer says how much is left
                continue
            await self._answered.wait()
        self._in_flight += 1

    def _release(self) -> None:
        self._in_flight -= 1
        self._answered.set()
        self._answered = trio.Event()

    async def _get(self, request: HelixRequest) -> httpx.Response:
        token = await self._app_token()
        for _attempt in range(_MAX_RETRIES + 1):
            await self._acquire()
            try:
                response = await self._http.get(
                    self._rebase(request),
                    params=list(request.params),
                    headers={"Authorization": f"Bearer {token}", "Client-Id": self._client_id},
                )
                self.requests += 1
                limit = parse_rate_limit(response.headers)
                if limit is not None:
                    self.rate_limit = limit
            finally:
                self._release()
            if response.status_code == 401:
                token = await self._app_token(stale=token)
                continue
            if response.status_code == 429:
                # `_acquire` waits for the reset the 429 announced (remaining is 0).
                if limit is None:
                    self.rate_limit_waits += 1
                    await trio.sleep(_DEFAULT_429_WAIT)
                continue
            return response
        raise HelixApiError(parse_error(response.status_code, response.content))

    async def _scan_one(self, first: HelixRequest, out: list[Stream], counts: list[int]) -> None:
        request: HelixRequest | None = first
        while request is not None:
            async with self._limiter:
                response = await self._get(request)
            page = parse_streams_page(response.status_code, response.headers, response.content)
            counts[0] += 1
            out.extend(page.streams)
            request = next_page(request, page.cursor)

    async def live_streams(
        self,
        *,
        logins: Iterable[str] = (),
        user_ids: Iterable[str] = (),
        game_ids: Iterable[str] = (),
    ) -> LiveScan:
        """Every live stream of the watched logins, user ids and games (all pages).

        Raises `HelixApiError`/`HelixParseError`/`httpx.HTTPError` when any request fails, so
        a partial scan is never mistaken for "everyone else went offline".
        """
        logins, user_ids, game_ids = list(logins), list(user_ids), list(game_ids)
        if not (logins or user_ids or game_ids):
            return LiveScan(streams=(), requests=0, pages=0)
        # The token in the descriptions is replaced per request (it may be renewed meanwhile).
        requests = streams_requests(
            client_id=self._client_id,
            token="-",
            user_logins=logins,
            user_ids=user_ids,
            game_ids=game_ids,
        )
        before = self.requests
        streams: list[Stream] = []
        counts = [0]
        async with trio.open_nursery() as nursery:
            for request in requests:
                nursery.start_soon(self._scan_one, request, streams, counts)
        return LiveScan(streams=tuple(streams), requests=self.requests - before, pages=counts[0])
