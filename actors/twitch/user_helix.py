"""`UserHelix`: Helix calls made with a user's token, over httpx.

The token comes from a `TokenSource` at every call (the account actor keeps it valid); a 401
is reported to the source and the call is tried once more with the token it gives then. A 429
waits for the bucket's ``Ratelimit-Reset`` (bounded) and retries once, except where the caller
says a 429 is an answer, not a pause (EventSub limits: retrying would loop). Request bodies are
built by the sans-IO `actors.twitch.helix` builders; tokens never reach a log line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import attrs
import httpx
import trio

from actors.accounts import AccessToken, TokenSource
from actors.twitch.helix import (
    HELIX_BASE,
    HelixRequest,
    parse_rate_limit,
    rebase_url,
)

__all__ = ["HelixAnswer", "UserHelix"]

#: The longest a 429 makes a call wait for the bucket to refill.
MAX_RATE_LIMIT_WAIT = 60.0


@attrs.frozen(kw_only=True)
class HelixAnswer:
    """A response: status, decoded JSON body (None when empty or not JSON), headers."""

    status: int
    body: Any = attrs.field(repr=False)
    headers: httpx.Headers = attrs.field(repr=False)
    content: bytes = attrs.field(repr=False)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class UserHelix:
    """Helix with one account's user token. `helix_base` is overridable (fakes)."""

    def __init__(
        self,
        *,
        client_id: str,
        tokens: TokenSource,
        helix_base: str = HELIX_BASE,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if not client_id:
            raise ValueError("client_id is required")
        self.client_id = client_id
        self.tokens = tokens
        self._helix_base = helix_base
        self._http = httpx.AsyncClient(transport=transport, timeout=timeout)
        self._wall = wall_clock
        self.requests = 0
        self.unauthorized = 0
        self.rate_limited = 0

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def token(self) -> AccessToken:
        """The account's current token (raises what the token source raises)."""
        return await self.tokens.token()

    async def call(
        self, build: Callable[[str], HelixRequest], *, retry_429: bool = True
    ) -> HelixAnswer:
        """Send the request `build(token)` describes; see the module docs for retries.

        Raises `httpx.HTTPError` for transport failures and what the token source raises.
        """
        token = await self.tokens.token()
        answer = await self._send(build(token.value))
        if answer.status == 401:
            self.unauthorized += 1
            await self.tokens.unauthorized(token)
            token = await self.tokens.token()
            answer = await self._send(build(token.value))
        if answer.status == 429 and retry_429:
            self.rate_limited += 1
            limit = parse_rate_limit(answer.headers)
            wait = limit.wait_seconds(self._wall()) if limit is not None else 1.0
            await trio.sleep(min(MAX_RATE_LIMIT_WAIT, max(wait, 0.05)))
            answer = await self._send(build(token.value))
        return answer

    async def _send(self, request: HelixRequest) -> HelixAnswer:
        response = await self._http.request(
            request.method,
            rebase_url(request.url, helix_base=self._helix_base),
            params=list(request.params),
            headers=dict(request.headers),
            json=request.json,
        )
        self.requests += 1
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        return HelixAnswer(
            status=response.status_code,
            body=body,
            headers=response.headers,
            content=response.content,
        )
