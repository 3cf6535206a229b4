"""`AccountActor`: owns one account's token and keeps it valid.

- Refreshes at `refresh_ratio` (75 %) of each token's lifetime, and whenever a consumer asks
  for a token that is about to expire. One refresh at a time: every refresh runs under one
  lock and first checks that the token it was asked to replace is still the current one, so
  two triggers never spend a (single-use) refresh token twice.
- The new pair is written to the token store before anyone gets it. If the write fails, the
  pair stays in memory and the write is retried; the old access token serves meanwhile.
- Twitch: `/oauth2/validate` at start and every `validate_every` seconds (Twitch requires
  hourly); the granted scopes are checked against what the features need.
- A 401 report for the current token: Twitch validates it first (a valid token refused by an
  API is a scope problem, not a dead token); otherwise one refresh. A refused refresh
  (`Invalid refresh token`, `invalid_grant`) makes the account `needs_login`: consumers get
  `NeedsLogin`, `snapshot()` says so, and nothing retries until a new login is found in the
  store (checked every `reload_every` seconds).
- Timeouts, 5xx and 429 on the identity server are retried with backoff; the token is kept.

Timing uses `trio.sleep` (exact under `MockClock`); token times come from the wall `clock`.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import httpx
import trio

from actors import Actor, ActorStatistics
from actors.accounts import oauth
from actors.accounts.source import (
    AccessToken,
    GetToken,
    ReportUnauthorized,
    TokenRefused,
)
from actors.accounts.store import StoredToken, TokenStore, TokenStoreError
from actors.connection import ConnectionHealth, ConnectionState
from actors.secret_masking import register_secret
from config.models import AccountConfig

#: States of an account (`AccountHealth.state`).
NOT_LOGGED_IN = "not_logged_in"
LOGGED_IN = "logged_in"
REFRESHING = "refreshing"
REFRESH_FAILING = "refresh_failing"
MISSING_SCOPES = "missing_scopes"
NEEDS_LOGIN = "needs_login"
STORE_FAILING = "store_failing"
HEALTHY_STATES = frozenset({LOGGED_IN, REFRESHING})
# How each account state reads in the shared lifecycle (GET /status, telemetry, admin alerts):
# a person must act on the failed ones; the reconnecting ones retry by themselves.
_CONNECTION_STATE = {
    LOGGED_IN: ConnectionState.CONNECTED,
    REFRESHING: ConnectionState.CONNECTED,
    REFRESH_FAILING: ConnectionState.RECONNECTING,
    STORE_FAILING: ConnectionState.RECONNECTING,
    NOT_LOGGED_IN: ConnectionState.FAILED,
    MISSING_SCOPES: ConnectionState.FAILED,
    NEEDS_LOGIN: ConnectionState.FAILED,
}


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _mask(stored: StoredToken | None) -> None:
    """Second line of defence: log lines and error texts mask these values from now on."""
    if stored is not None:
        register_secret(stored.access_token)
        if stored.refresh_token:
            register_secret(stored.refresh_token)


@attrs.frozen(kw_only=True)
class AccountHealth(ActorStatistics):
    """What `GET /status`, `integrations.json` and `accounts` say about one account (the
    account actor's `snapshot()`).

    Never holds a token. `ok` is False for every state a person must act on (or wait out).
    """

    account_id: str
    platform: str
    state: str
    login: str | None = None
    user_id: str | None = None
    scopes: frozenset[str] = frozenset()
    missing_scopes: frozenset[str] = frozenset()
    expires_at: datetime | None = None
    last_refresh: datetime | None = None
    last_validation: datetime | None = None
    refresh_attempts: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.state in HEALTHY_STATES


class AccountActor(Actor):
    """One account (`accounts/<id>` in the tree). Messages: `GetToken`, `ReportUnauthorized`."""

    def __init__(
        self,
        *,
        account: AccountConfig,
        store: TokenStore,
        required_scopes: frozenset[str] = frozenset(),
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] = _utc_now,
        rng: random.Random | None = None,
        refresh_ratio: float = 0.75,
        validate_every: float = 3600.0,
        reload_every: float = 60.0,
        request_timeout: float = 10.0,
        retry_initial: float = 1.0,
        retry_maximum: float = 60.0,
        token_wait: float = 15.0,
        blocking: Callable[..., Awaitable[Any]] | None = None,
    ) -> None:
        self.account = account
        self.account_id = account.id
        self.platform = account.platform
        self.endpoints = oauth.Endpoints.for_platform(account.platform, account.auth_url)
        self.client = oauth.Client(
            client_id=account.client_id,
            client_secret=(
                account.client_secret.reveal() if account.client_secret is not None else None
            ),
        )
        self.required_scopes = required_scopes
        self._store = store
        self._transport = transport
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self.refresh_ratio = refresh_ratio
        self.validate_every = validate_every
        self.reload_every = reload_every
        self.request_timeout = request_timeout
        self.retry_initial = retry_initial
        self.retry_maximum = retry_maximum
        self.token_wait = token_wait
        # How blocking store calls run: a worker thread (tests under MockClock run them inline,
        # since autojump would move the clock while a thread works).
        self._blocking = blocking if blocking is not None else trio.to_thread.run_sync

        self._stored: StoredToken | None = None
        self.state = NOT_LOGGED_IN
        self.error: str | None = None
        self._state_since = self._clock()
        self._last_error: str | None = None
        self._last_error_at: datetime | None = None
        self.refresh_attempts = 0
        self.refreshes = 0
        self.validations = 0
        self._lock = trio.Lock()
        self._changed = trio.Event()
        self._wake = trio.Event()
        self._http: httpx.AsyncClient | None = None
        # The access token a 401-driven refresh produced: a 401 for it too is a dead grant.
        self._after_401: str | None = None

    # ------------------------------------------------------------------ lifecycle

    async def on_start(self) -> None:
        self._http = httpx.AsyncClient(transport=self._transport, timeout=self.request_timeout)
        try:
            stored = await self._blocking(self._store.load, self.account_id)
        except TokenStoreError as exc:
            self._set_state(STORE_FAILING, str(exc))
            self.log.error("token store unusable", error=str(exc))
            return
        self._adopt(stored)

    async def on_stop(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    def _adopt(self, stored: StoredToken | None) -> None:
        self._stored = stored
        _mask(stored)
        if stored is None:
            self._set_state(
                NOT_LOGGED_IN,
                f"not logged in: run python -m runtime login {self.account_id} --config <file>",
            )
            self.log.warning("account not logged in", account=self.account_id)
        elif stored.needs_login is not None:
            self._set_state(NEEDS_LOGIN, self._login_sentence(stored.needs_login))
        else:
            self._set_state(LOGGED_IN, None)
            self._check_scopes(stored.scopes, source="stored")

    async def run(self) -> None:
        if self.state == LOGGED_IN and self.endpoints.validate is not None:
            await self._validate()
        while True:
            if self.state in (NOT_LOGGED_IN, NEEDS_LOGIN, STORE_FAILING):
                await self._wait_for_login()
                continue
            stored = self._stored
            assert stored is not None
            now = self._clock()
            due = self._refresh_due(stored)
            wait = (due - now).total_seconds() if due is not None else float("inf")
            validate_at = self._validate_due(stored)
            if validate_at is not None:
                wait = min(wait, (validate_at - now).total_seconds())
            if wait > 0:
                with trio.move_on_after(wait):
                    await self._wake.wait()
                self._wake = trio.Event()
                continue
            now = self._clock()
            if due is not None and now >= due:
                await self._refresh(stored.access_token, "scheduled")
            elif validate_at is not None and now >= validate_at:
                await self._validate()

    async def _wait_for_login(self) -> None:
        """Nothing loops on a dead account: look for a new login in the store, slowly."""
        with trio.move_on_after(self.reload_every):
            await self._wake.wait()
        self._wake = trio.Event()
        try:
            stored = await self._blocking(self._store.load, self.account_id)
        except TokenStoreError as exc:
            self._set_state(STORE_FAILING, str(exc))
            return
        if stored is not None and stored.needs_login is None:
            if self._stored is None or stored.access_token != self._stored.access_token:
                self.log.info("new login found", account=self.account_id)
                self._after_401 = None
                self._adopt(stored)
                self._notify()
        elif self.state == STORE_FAILING:
            self._adopt(stored)

    def _refresh_due(self, stored: StoredToken) -> datetime | None:
        if stored.expires_at is None:
            return None
        lifetime = stored.expires_at - stored.obtained_at
        if lifetime <= timedelta(0):
            return stored.obtained_at
        return stored.obtained_at + lifetime * self.refresh_ratio

    def _validate_due(self, stored: StoredToken) -> datetime | None:
        if self.endpoints.validate is None:
            return None
        last = stored.last_validation or stored.obtained_at
        return last + timedelta(seconds=self.validate_every)

    # ------------------------------------------------------------------ messages

    async def handle(self, message: Any) -> Any:
        if isinstance(message, GetToken):
            return await self._get_token()
        if isinstance(message, ReportUnauthorized):
            self.nursery.start_soon(self._on_unauthorized, message.value)
            return None
        raise TypeError(f"AccountActor takes no {type(message).__name__}")

    def _margin(self, stored: StoredToken) -> timedelta:
        """A token closer than this to expiry is not handed out (it would die in use)."""
        if stored.expires_at is None:
            return timedelta(0)
        lifetime = stored.expires_at - stored.obtained_at
        return min(timedelta(seconds=60), lifetime * 0.1)

    def _usable(self, stored: StoredToken) -> bool:
        if stored.expires_at is None:
            return True
        return stored.expires_at - self._clock() > self._margin(stored)

    async def _get_token(self) -> AccessToken | TokenRefused:
        with trio.move_on_after(self.token_wait):
            while True:
                stored = self._stored
                if self.state in (NOT_LOGGED_IN, NEEDS_LOGIN) or stored is None:
                    return self._refused(needs_login=True)
                if self._usable(stored):
                    return self._access(stored)
                changed = self._changed
                if not self._lock.locked():
                    self.nursery.start_soon(self._refresh, stored.access_token, "expiring")
                await changed.wait()
        stored = self._stored
        if stored is not None and self._usable(stored):
            return self._access(stored)
        return self._refused(needs_login=self.state in (NOT_LOGGED_IN, NEEDS_LOGIN))

    def _refused(self, *, needs_login: bool) -> TokenRefused:
        return TokenRefused(
            account_id=self.account_id,
            reason=self.error or "no valid token yet (refreshing)",
            needs_login=needs_login,
        )

    def _access(self, stored: StoredToken) -> AccessToken:
        return AccessToken(
            account_id=self.account_id,
            value=stored.access_token,
            user_id=stored.user_id,
            login=stored.login,
            scopes=stored.scopes,
            expires_at=stored.expires_at,
        )

    async def _on_unauthorized(self, value: str) -> None:
        stored = self._stored
        if stored is None or stored.access_token != value or self.state == NEEDS_LOGIN:
            return  # an old token: it was replaced already
        self.log.warning("token refused by an API (401)", account=self.account_id)
        if self.endpoints.validate is not None:
            valid = await self._validate()
            if valid:
                self.log.warning(
                    "an API refused a token that validates: check the granted scopes",
                    account=self.account_id,
                )
                return
            return  # _validate already refreshed (or marked needs_login)
        if self._after_401 == value:
            await self._needs_login("the platform refused the token again right after a refresh")
            return
        if await self._refresh(value, "401"):
            current = self._stored
            self._after_401 = current.access_token if current is not None else None

    # ------------------------------------------------------------------ refresh and validate

    async def _request(self, request: oauth.OAuthRequest) -> httpx.Response:
        assert self._http is not None
        return await self._http.request(
            request.method,
            request.url,
            data=dict(request.form) if request.form else None,
            headers=dict(request.headers),
        )

    def _retry_delay(self, attempt: int) -> float:
        base = min(self.retry_maximum, self.retry_initial * 2 ** min(attempt - 1, 32))
        return base * self._rng.uniform(0.9, 1.1)

    async def _refresh(self, replacing: str, reason: str) -> bool:
        """Replace the token whose value is `replacing` (no-op when it was replaced already).

        Returns True when a new pair is current and stored."""
        async with self._lock:
            stored = self._stored
            if stored is None or stored.access_token != replacing or self.state == NEEDS_LOGIN:
                return stored is not None and self.state != NEEDS_LOGIN
            if stored.refresh_token is None:
                await self._needs_login("no refresh token was granted")
                return False
            failures = 0
            while True:
                self.refresh_attempts += 1
                if self.state != REFRESH_FAILING:
                    self._set_state(
                        REFRESHING, self.error if self.state == MISSING_SCOPES else None
                    )
                request = oauth.refresh(self.endpoints, self.client, stored.refresh_token)
                try:
                    response = await self._request(request)
                    grant = oauth.parse_token(
                        response.status_code, response.content, now=self._clock()
                    )
                except oauth.OAuthError as exc:
                    if exc.kind is oauth.ErrorKind.TRANSIENT:
                        failures += 1
                        await self._transient(f"refresh failed: {exc}", failures)
                        continue
                    self.log.error("refresh refused", account=self.account_id, reason=exc.message)
                    await self._needs_login(f"the refresh was refused: {exc.message}")
                    return False
                except httpx.HTTPError as exc:
                    failures += 1
                    await self._transient(f"refresh failed: {type(exc).__name__}", failures)
                    continue
                now = self._clock()
                new = attrs.evolve(
                    stored,
                    access_token=grant.access_token,
                    # Google does not rotate refresh tokens; Twitch and Kick do.
                    refresh_token=grant.refresh_token or stored.refresh_token,
                    expires_at=grant.expires_at,
                    scopes=grant.scopes if grant.scopes is not None else stored.scopes,
                    obtained_at=now,
                    last_refresh=now,
                )
                _mask(new)
                await self._save(new)
                self._stored = new
                self.refreshes += 1
                self._after_401 = None
                self._set_state(LOGGED_IN, None)
                self._check_scopes(new.scopes, source="refresh")
                self.log.info(
                    "token refreshed", account=self.account_id, reason=reason, attempts=failures + 1
                )
                self._notify()
                return True

    async def _transient(self, message: str, failures: int) -> None:
        delay = self._retry_delay(failures)
        self._set_state(REFRESH_FAILING, f"{message}; retrying in {delay:.0f} s")
        self.log.warning("identity server unavailable", account=self.account_id, error=message)
        self._notify()
        await trio.sleep(delay)

    async def _save(self, token: StoredToken) -> None:
        """Store `token` durably; retried until it works (the old refresh token is spent)."""
        failures = 0
        while True:
            try:
                await self._blocking(self._store.save, self.account_id, token)
                return
            except TokenStoreError as exc:
                failures += 1
                self._set_state(STORE_FAILING, f"cannot store the new token: {exc}")
                self.log.error("token store write failed", account=self.account_id, error=str(exc))
                await trio.sleep(self._retry_delay(failures))

    async def _needs_login(self, reason: str) -> None:
        stored = self._stored
        self._set_state(NEEDS_LOGIN, self._login_sentence(reason))
        self.log.error("account needs a new login", account=self.account_id, reason=reason)
        if stored is not None:
            marked = attrs.evolve(stored, needs_login=reason)
            self._stored = marked
            try:
                await self._blocking(self._store.save, self.account_id, marked)
            except TokenStoreError as exc:
                self.log.error("token store write failed", account=self.account_id, error=str(exc))
        self._notify()

    def _login_sentence(self, reason: str) -> str:
        return f"{reason}; run python -m runtime login {self.account_id} --config <file>"

    async def _validate(self) -> bool:
        """Twitch validation; True when the token is valid. A refused token is refreshed."""
        stored = self._stored
        if stored is None:
            return False
        now = self._clock()
        try:
            response = await self._request(oauth.validate(self.endpoints, stored.access_token))
            result = oauth.parse_validate(response.status_code, response.content, now=now)
        except oauth.OAuthError as exc:
            if exc.kind is oauth.ErrorKind.INVALID_TOKEN:
                self.log.warning("validation refused the token", account=self.account_id)
                if self._stored is not None and self._stored.access_token == stored.access_token:
                    await self._refresh(stored.access_token, "validation refused the token")
                return False
            self._postpone_validation(stored, f"validation failed: {exc}")
            return True
        except httpx.HTTPError as exc:
            self._postpone_validation(stored, f"validation failed: {type(exc).__name__}")
            return True
        self.validations += 1
        current = self._stored
        if current is None or current.access_token != stored.access_token:
            return True
        updated = attrs.evolve(
            current,
            login=result.login or current.login,
            user_id=result.user_id or current.user_id,
            scopes=result.scopes,
            expires_at=current.expires_at or result.expires_at,
            last_validation=now,
        )
        self._stored = updated
        self._check_scopes(result.scopes, source="validation")
        try:
            await self._blocking(self._store.save, self.account_id, updated)
        except TokenStoreError as exc:
            self.log.error("token store write failed", account=self.account_id, error=str(exc))
        self._notify()
        return True

    def _postpone_validation(self, stored: StoredToken, message: str) -> None:
        # Try again in five minutes, not in a tight loop: move last_validation forward.
        self.log.warning("token validation unavailable", account=self.account_id, error=message)
        retry_at = self._clock() - timedelta(seconds=max(0.0, self.validate_every - 300))
        if self._stored is stored:
            self._stored = attrs.evolve(stored, last_validation=retry_at)

    def _check_scopes(self, granted: frozenset[str], *, source: str) -> None:
        missing = self.required_scopes - granted
        if missing and self.state in (LOGGED_IN, REFRESHING, MISSING_SCOPES):
            listed = " ".join(sorted(missing))
            self._set_state(
                MISSING_SCOPES,
                f"the token lacks scopes {listed}; log in again to grant them: "
                f"python -m runtime login {self.account_id} --config <file>",
            )
            self.log.error(
                "account lacks scopes", account=self.account_id, missing=sorted(missing), via=source
            )
        elif not missing and self.state == MISSING_SCOPES:
            self._set_state(LOGGED_IN, None)

    def _set_state(self, state: str, error: str | None) -> None:
        if state != self.state:
            self._state_since = self._clock()
        self.state = state
        self.error = error
        if error is not None:
            self._last_error, self._last_error_at = f"{state}: {error}", self._clock()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()
        self._wake.set()

    # ------------------------------------------------------------------ status

    def health(self) -> ConnectionHealth:
        """The account as a component of the runtime: failed while it needs a person (a new
        login, missing scopes), reconnecting while a refresh keeps failing."""
        stored = self._stored
        return ConnectionHealth(
            component="account",
            state=_CONNECTION_STATE.get(self.state, ConnectionState.FAILED),
            since=self._state_since,
            target=self.account_id,
            attempts=self.refresh_attempts,
            last_error=self._last_error,
            last_error_at=self._last_error_at,
            connected_at=stored.last_refresh if stored else None,
            detail=self.state,
        )

    def account_health(self) -> AccountHealth:
        """The account's own view (integrations.json, `accounts`): never a token."""
        stored = self._stored
        return AccountHealth(
            account_id=self.account_id,
            platform=self.platform,
            state=self.state,
            login=stored.login if stored else None,
            user_id=stored.user_id if stored else None,
            scopes=stored.scopes if stored else frozenset(),
            missing_scopes=(self.required_scopes - stored.scopes) if stored else frozenset(),
            expires_at=stored.expires_at if stored else None,
            last_refresh=stored.last_refresh if stored else None,
            last_validation=stored.last_validation if stored else None,
            refresh_attempts=self.refresh_attempts,
            error=self.error,
        )

    def snapshot(self) -> AccountHealth:
        return self.account_health()
