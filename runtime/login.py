"""`login`, `logout` and `accounts`: getting a token once, forgetting it, listing accounts.

The flows (the protocol is in `actors.accounts.oauth`; this module does the I/O):

- Device flow (Twitch, YouTube): prints the verification address and the user code, then
  polls at the server's `interval` (5 s more after each `slow_down`) until the person
  approved, refused, or the code expired. Nothing is read from the terminal, so it works
  over SSH, in a service manager or with no terminal at all.
- Authorization code with PKCE (Kick; Twitch with `--flow code` for confidential clients):
  prints the consent address and waits for the browser's redirect on
  `http://localhost:<redirect_port>/callback`, served on the loopback interface.

The pair is stored (token store) before the command reports success; no token is printed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

import httpx
import structlog
import trio

from actors.accounts import oauth
from actors.accounts.scopes import needed_scopes, requested_scopes
from actors.accounts.store import StoredToken, TokenStore
from config.models import AccountConfig, Config

log = structlog.get_logger("runtime.login")

#: How long the loopback redirect is waited for.
CALLBACK_TIMEOUT = 600.0
#: Failures of the identity server tolerated in a row while polling.
MAX_POLL_ERRORS = 10


class LoginFailed(Exception):
    """The login did not produce a token; the message says why and what to do."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def find_account(config: Config, account_id: str) -> AccountConfig:
    """The `[[accounts]]` entry, or `LoginFailed` naming the declared ids."""
    for account in config.accounts:
        if account.id == account_id:
            return account
    declared = ", ".join(a.id for a in config.accounts) or "none"
    raise LoginFailed(f"no account {account_id!r} in [[accounts]] (declared: {declared})")


def _client(account: AccountConfig) -> oauth.Client:
    secret = account.client_secret.reveal() if account.client_secret is not None else None
    return oauth.Client(client_id=account.client_id, client_secret=secret)


async def _send(http: httpx.AsyncClient, request: oauth.OAuthRequest) -> httpx.Response:
    return await http.request(
        request.method,
        request.url,
        data=dict(request.form) if request.form else None,
        headers=dict(request.headers),
    )


async def device_flow(
    http: httpx.AsyncClient,
    endpoints: oauth.Endpoints,
    client: oauth.Client,
    scopes: frozenset[str],
    *,
    out: Callable[[str], None],
    clock: Callable[[], datetime] = _utc_now,
) -> oauth.TokenGrant:
    """RFC 8628 with the platforms' deviations; returns the grant or raises `LoginFailed`."""
    try:
        response = await _send(http, oauth.device_start(endpoints, client, scopes))
        device = oauth.parse_device_start(response.status_code, response.content, now=clock())
    except oauth.OAuthError as exc:
        raise LoginFailed(f"the identity server refused to start the login: {exc}") from None
    except httpx.HTTPError as exc:
        raise LoginFailed(f"the identity server is unreachable: {type(exc).__name__}") from None
    out(f"To log in, open {device.verification_uri} and enter the code {device.user_code}")
    out(f"(waiting until {device.expires_at:%H:%M:%S} UTC)")
    interval = device.interval
    errors = 0
    while True:
        await trio.sleep(interval)
        if clock() >= device.expires_at:
            raise LoginFailed("the code expired before it was approved; run login again")
        try:
            response = await _send(http, oauth.device_poll(endpoints, client, device.device_code))
            return oauth.parse_token(response.status_code, response.content, now=clock())
        except oauth.OAuthError as exc:
            if exc.kind is oauth.ErrorKind.PENDING:
                continue
            if exc.kind is oauth.ErrorKind.SLOW_DOWN:
                interval += 5  # RFC 8628 §3.5
                continue
            if exc.kind is oauth.ErrorKind.TRANSIENT and errors < MAX_POLL_ERRORS:
                errors += 1
                continue
            if exc.kind is oauth.ErrorKind.DENIED:
                raise LoginFailed("the login was refused in the browser") from None
            raise LoginFailed(f"the login failed: {exc}") from None
        except httpx.HTTPError as exc:
            errors += 1
            if errors > MAX_POLL_ERRORS:
                raise LoginFailed(
                    f"the identity server is unreachable: {type(exc).__name__}"
                ) from None


async def code_flow(
    http: httpx.AsyncClient,
    endpoints: oauth.Endpoints,
    client: oauth.Client,
    scopes: frozenset[str],
    *,
    redirect_port: int,
    out: Callable[[str], None],
    clock: Callable[[], datetime] = _utc_now,
    wait_seconds: float = CALLBACK_TIMEOUT,
    on_listening: Callable[[str], None] | None = None,
) -> oauth.TokenGrant:
    """Authorization code with PKCE and a loopback redirect; returns the grant."""
    from runtime.http import HttpApp, Request, Response, serve_http

    pkce = oauth.make_pkce()
    redirect_uri = f"http://localhost:{redirect_port}/callback"
    url = oauth.authorize_url(endpoints, client, scopes, redirect_uri, pkce)
    got: list[str] = []
    failed: list[str] = []
    done = trio.Event()

    async def callback(request: Request) -> Response:
        try:
            got.append(oauth.parse_callback(request.query, pkce))
            text = "Logged in. You can close this tab."
        except oauth.CallbackError as exc:
            failed.append(str(exc))
            text = f"Login failed: {exc}"
        done.set()
        return Response(status=200, body=text.encode(), content_type="text/plain; charset=utf-8")

    app = HttpApp(token=None)
    app.route("GET", "/callback", callback, auth=False)
    stop = trio.Event()  # a graceful stop: the browser still gets its answer
    async with trio.open_nursery() as nursery:
        await nursery.start(
            partial(
                serve_http, app, host="127.0.0.1", port=redirect_port, shutdown_trigger=stop.wait
            )
        )
        out(f"To log in, open this address in a browser on this machine:\n{url}")
        if on_listening is not None:
            on_listening(url)
        with trio.move_on_after(wait_seconds):
            await done.wait()
        stop.set()
    if failed:
        raise LoginFailed(failed[0])
    if not got:
        raise LoginFailed(f"no redirect arrived within {wait_seconds:.0f} s; run login again")
    try:
        request = oauth.code_exchange(endpoints, client, got[0], redirect_uri, pkce)
        response = await _send(http, request)
        return oauth.parse_token(response.status_code, response.content, now=clock())
    except oauth.OAuthError as exc:
        raise LoginFailed(f"the code exchange was refused: {exc}") from None
    except httpx.HTTPError as exc:
        raise LoginFailed(f"the identity server is unreachable: {type(exc).__name__}") from None


async def login(
    config: Config,
    account_id: str,
    store: TokenStore,
    *,
    flow: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    out: Callable[[str], None] = print,
    clock: Callable[[], datetime] = _utc_now,
    on_listening: Callable[[str], None] | None = None,
) -> StoredToken:
    """Log `account_id` in and store its pair; returns what was stored."""
    account = find_account(config, account_id)
    endpoints = oauth.Endpoints.for_platform(account.platform, account.auth_url)
    client = _client(account)
    scopes = requested_scopes(config, account_id)
    chosen = flow or ("code" if endpoints.device is None else "device")
    if chosen == "device" and endpoints.device is None:
        raise LoginFailed(f"{account.platform} has no device flow; use --flow code")
    async with httpx.AsyncClient(transport=transport, timeout=15.0) as http:
        if chosen == "device":
            grant = await device_flow(http, endpoints, client, scopes, out=out, clock=clock)
        else:
            grant = await code_flow(
                http,
                endpoints,
                client,
                scopes,
                redirect_port=account.redirect_port,
                out=out,
                clock=clock,
                on_listening=on_listening,
            )
        login_name = user_id = None
        granted = grant.scopes
        validated = None
        if endpoints.validate is not None:
            try:
                response = await _send(http, oauth.validate(endpoints, grant.access_token))
                check = oauth.parse_validate(response.status_code, response.content, now=clock())
                login_name, user_id, validated = check.login, check.user_id, clock()
                granted = check.scopes if granted is None else granted
            except (oauth.OAuthError, httpx.HTTPError):
                pass  # the account actor validates at start anyway
    now = clock()
    stored = StoredToken(
        access_token=grant.access_token,
        refresh_token=grant.refresh_token,
        expires_at=grant.expires_at,
        scopes=granted if granted is not None else scopes,
        obtained_at=now,
        user_id=user_id,
        login=login_name,
        last_validation=validated,
    )
    await trio.to_thread.run_sync(store.save, account_id, stored)
    needed = needed_scopes(config).get(account_id, frozenset())
    missing = needed - stored.scopes
    who = f" as {login_name}" if login_name else ""
    out(f"account {account_id} logged in{who}; token stored")
    if grant.refresh_token is None:
        out("warning: no refresh token was granted; this login will not last")
    if missing:
        out(f"warning: scopes not granted: {' '.join(sorted(missing))}")
    return stored


async def logout(
    config: Config,
    account_id: str,
    store: TokenStore,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    out: Callable[[str], None] = print,
) -> None:
    """Revoke the account's tokens (best effort) and forget them."""
    account = find_account(config, account_id)
    stored = await trio.to_thread.run_sync(store.load, account_id)
    if stored is None:
        out(f"account {account_id} is not logged in")
        return
    endpoints = oauth.Endpoints.for_platform(account.platform, account.auth_url)
    client = _client(account)
    async with httpx.AsyncClient(transport=transport, timeout=15.0) as http:
        pairs = [(stored.refresh_token, "refresh_token"), (stored.access_token, "access_token")]
        for value, hint in pairs:
            if not value:
                continue
            try:
                response = await _send(http, oauth.revoke(endpoints, client, value, hint=hint))
                if response.status_code >= 400:
                    out(f"the platform did not revoke the {hint} (HTTP {response.status_code})")
            except httpx.HTTPError as exc:
                out(f"could not reach the platform to revoke the {hint}: {type(exc).__name__}")
    await trio.to_thread.run_sync(store.delete, account_id)
    out(f"account {account_id} logged out; its tokens are forgotten")


def describe_accounts(
    config: Config, store: TokenStore, *, now: datetime | None = None
) -> list[dict[str, str]]:
    """One row per configured account (never a token) for `python -m runtime accounts`."""
    now = now or _utc_now()
    needed = needed_scopes(config)
    rows = []
    for account in config.accounts:
        stored = store.load(account.id)

        def ts(value: datetime | None) -> str:
            return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")

        if stored is None:
            state = "not_logged_in"
        elif stored.needs_login is not None:
            state = "needs_login"
        elif needed.get(account.id, frozenset()) - stored.scopes:
            state = "missing_scopes"
        elif stored.expires_at is not None and stored.expires_at <= now:
            state = "expired (refreshed when the runtime runs)"
        else:
            state = "logged_in"
        rows.append(
            {
                "account": account.id,
                "platform": account.platform,
                "login": (stored.login if stored else None) or "-",
                "user_id": (stored.user_id if stored else None) or "-",
                "scopes": " ".join(sorted(stored.scopes)) if stored else "-",
                "expires_at": ts(stored.expires_at if stored else None),
                "last_refresh": ts(stored.last_refresh if stored else None),
                "last_validation": ts(stored.last_validation if stored else None),
                "state": state,
            }
        )
    return rows


def format_rows(rows: list[dict[str, str]]) -> str:
    """`key: value` blocks, one per account."""
    if not rows:
        return "no [[accounts]] configured"
    blocks = []
    for row in rows:
        width = max(len(k) for k in row)
        blocks.append("\n".join(f"{k.ljust(width)}  {v}" for k, v in row.items()))
    return "\n\n".join(blocks)


__all__ = [
    "LoginFailed",
    "code_flow",
    "describe_accounts",
    "device_flow",
    "find_account",
    "format_rows",
    "login",
    "logout",
]
