"""How actors get a user token: ask a `TokenSource` each time, never keep one.

`AccountTokenSource` asks the account actor (which refreshes ahead of expiry and stores the
new pair before handing it out); `StaticTokenSource` wraps a token pasted into the
configuration, which nothing can refresh. Consumers call `await source.token()` when they
connect or send, and `await source.unauthorized(token)` when an API answered 401 to it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

import attrs
import structlog

if TYPE_CHECKING:
    from actors import ActorRef

log = structlog.get_logger("accounts")

#: How long a consumer waits for the account actor (a refresh in progress included).
TOKEN_CALL_TIMEOUT = 20.0


@attrs.frozen(kw_only=True)
class AccessToken:
    """A user access token and what it is for. `repr` never shows the value."""

    account_id: str
    value: str = attrs.field(repr=False)
    user_id: str | None
    login: str | None
    scopes: frozenset[str]
    expires_at: datetime | None  # aware UTC; None: unknown (a static token)


class TokenUnavailable(Exception):
    """No usable token right now (a refresh keeps failing); retry later."""


class NeedsLogin(TokenUnavailable):
    """The account has no usable token until someone runs `python -m runtime login <id>`."""

    def __init__(self, account_id: str, reason: str) -> None:
        self.account_id = account_id
        self.reason = reason
        super().__init__(
            f"account {account_id!r} needs a new login ({reason}): "
            f"run python -m runtime login {account_id} --config <file>"
        )


class TokenSource(Protocol):
    """Where an actor gets its current token."""

    async def token(self) -> AccessToken:
        """The current valid token (refreshed first if needed); raises `TokenUnavailable`."""
        ...

    async def unauthorized(self, token: AccessToken) -> None:
        """An API answered 401 to `token`."""
        ...


@attrs.frozen(kw_only=True)
class GetToken:
    """Message to the account actor: reply with `AccessToken` or `TokenRefused`."""


@attrs.frozen(kw_only=True)
class TokenRefused:
    """The account actor's reply when it has no token to give."""

    account_id: str
    reason: str
    needs_login: bool


@attrs.frozen(kw_only=True)
class ReportUnauthorized:
    """Message to the account actor: an API answered 401 to the token with this value."""

    value: str = attrs.field(repr=False)


class StaticTokenSource:
    """A token from the configuration. It is never refreshed (a warning says so, once)."""

    def __init__(
        self,
        value: str,
        *,
        account_id: str = "static",
        login: str | None = None,
        user_id: str | None = None,
        scopes: frozenset[str] = frozenset(),
        warn: bool = True,
    ) -> None:
        self._token = AccessToken(
            account_id=account_id,
            value=value,
            user_id=user_id,
            login=login,
            scopes=scopes,
            expires_at=None,
        )
        self._warned = not warn
        self.unauthorized_reports = 0

    async def token(self) -> AccessToken:
        if not self._warned:
            self._warned = True
            log.warning(
                "static token configured: it will not be refreshed; configure an account "
                "and run python -m runtime login",
                account=self._token.account_id,
            )
        return self._token

    async def unauthorized(self, token: AccessToken) -> None:
        self.unauthorized_reports += 1
        log.error(
            "the static token was refused (HTTP 401); replace it or configure an account",
            account=self._token.account_id,
        )


class AccountTokenSource:
    """Asks the account actor reached through `ref_factory` (a path-bound ref, looked up
    each time so it follows restarts)."""

    def __init__(
        self, ref_factory: Callable[[], ActorRef], *, timeout: float = TOKEN_CALL_TIMEOUT
    ) -> None:
        self._ref = ref_factory
        self._timeout = timeout

    async def token(self) -> AccessToken:
        from actors import ActorFailed, CallTimeout

        try:
            reply = await self._ref().call(GetToken(), timeout=self._timeout)
        except CallTimeout:
            raise TokenUnavailable("the account actor did not answer in time") from None
        except ActorFailed as exc:
            raise TokenUnavailable(f"the account actor failed: {type(exc).__name__}") from None
        if isinstance(reply, AccessToken):
            return reply
        if isinstance(reply, TokenRefused):
            if reply.needs_login:
                raise NeedsLogin(reply.account_id, reply.reason)
            raise TokenUnavailable(f"account {reply.account_id!r}: {reply.reason}")
        raise TypeError(f"unexpected reply {type(reply).__name__}")

    async def unauthorized(self, token: AccessToken) -> None:
        from actors import MailboxFull

        try:
            self._ref().cast(ReportUnauthorized(value=token.value))
        except MailboxFull:
            log.warning("account actor busy: 401 report dropped", account=token.account_id)
