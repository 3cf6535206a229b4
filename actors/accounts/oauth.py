"""OAuth 2.0 for Twitch, Google (YouTube) and Kick, sans-IO.

Request builders return `OAuthRequest` values (method, URL, headers, form fields); response
parsers take an HTTP status and body bytes and return typed values. Nothing here does I/O or
reads a clock: the caller sends the request (httpx) and passes `now` where a time is needed.

The platforms differ from RFC 6749/8628 in documented ways, all handled here:

- Twitch puts the error reason in `message`, not `error`
  (`{"status":400,"message":"authorization_pending"}`), returns `scope` as a JSON array, and
  answers a spent refresh token with `Invalid refresh token`.
- Google answers a pending device poll with HTTP 428 and names the verification page
  `verification_url` (not `_uri`); its refresh responses carry no new refresh token.
- Kick has no device flow; it uses the authorization code with PKCE.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import json
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import attrs

PLATFORMS = ("twitch", "youtube", "kick")
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"

DEFAULT_AUTH_URLS = {
    "twitch": "https://id.twitch.tv",
    "youtube": "https://oauth2.googleapis.com",
    "kick": "https://id.kick.com",
}
DEFAULT_API_URLS = {
    "twitch": "https://api.twitch.tv/helix",
    "youtube": "https://www.googleapis.com/youtube/v3",
    "kick": "https://api.kick.com/public/v1",
}
#: Google's consent page lives on another host than its token endpoint.
GOOGLE_AUTHORIZE_URL = "https://accounts.google.com/o/oauth2/v2/auth"


@attrs.frozen(kw_only=True)
class Endpoints:
    """Where one platform's identity server answers (built from `auth_url`)."""

    platform: str
    token: str
    revoke: str
    device: str | None  # None: the platform has no device flow (Kick)
    authorize: str
    validate: str | None  # None: no validation endpoint (Google, Kick)

    @classmethod
    def for_platform(cls, platform: str, auth_url: str | None = None) -> Endpoints:
        """The endpoints of `platform` below `auth_url` (its default when `None`)."""
        if platform not in PLATFORMS:
            raise ValueError(f"unknown platform {platform!r}")
        base = (auth_url or DEFAULT_AUTH_URLS[platform]).rstrip("/")
        if platform == "twitch":
            return cls(
                platform=platform,
                token=f"{base}/oauth2/token",
                revoke=f"{base}/oauth2/revoke",
                device=f"{base}/oauth2/device",
                authorize=f"{base}/oauth2/authorize",
                validate=f"{base}/oauth2/validate",
            )
        if platform == "youtube":
            default = base == DEFAULT_AUTH_URLS["youtube"]
            return cls(
                platform=platform,
                token=f"{base}/token",
                revoke=f"{base}/revoke",
                device=f"{base}/device/code",
                authorize=GOOGLE_AUTHORIZE_URL if default else f"{base}/authorize",
                validate=None,
            )
        return cls(
            platform=platform,
            token=f"{base}/oauth/token",
            revoke=f"{base}/oauth/revoke",
            device=None,
            authorize=f"{base}/oauth/authorize",
            validate=None,
        )


@attrs.frozen(kw_only=True)
class Client:
    """The registered application: its id and, for confidential clients, its secret."""

    client_id: str
    client_secret: str | None = attrs.field(default=None, repr=False)


@attrs.frozen(kw_only=True)
class OAuthRequest:
    """One HTTP request to send. `form` is sent `application/x-www-form-urlencoded`.

    `repr` hides the form and headers: they carry codes, tokens and secrets.
    """

    method: str
    url: str
    form: tuple[tuple[str, str], ...] = attrs.field(default=(), repr=False)
    headers: tuple[tuple[str, str], ...] = attrs.field(default=(), repr=False)


@attrs.frozen(kw_only=True)
class TokenGrant:
    """A successful token response. Scopes are `None` when the server did not list them."""

    access_token: str = attrs.field(repr=False)
    refresh_token: str | None = attrs.field(repr=False)
    expires_at: datetime | None
    scopes: frozenset[str] | None


@attrs.frozen(kw_only=True)
class DeviceAuthorization:
    """The answer to a device-flow start: what to show the person, and how to poll."""

    device_code: str = attrs.field(repr=False)
    user_code: str
    verification_uri: str
    expires_at: datetime
    interval: float


@attrs.frozen(kw_only=True)
class Validation:
    """Twitch's `/oauth2/validate` answer for a live token."""

    client_id: str | None
    login: str | None
    user_id: str | None
    scopes: frozenset[str]
    expires_at: datetime | None


class ErrorKind(enum.Enum):
    """What an OAuth error means for the caller."""

    PENDING = "pending"  # device flow: the person has not acted yet; poll again
    SLOW_DOWN = "slow_down"  # device flow: poll less often
    DENIED = "denied"  # the person refused
    EXPIRED = "expired"  # the device code (or grant) timed out
    INVALID_GRANT = "invalid_grant"  # refresh token spent, revoked or expired: log in again
    INVALID_TOKEN = "invalid_token"  # the access token is not valid (validate 401)
    CLIENT = "client"  # the application is misconfigured (client id/secret, redirect, scope)
    TRANSIENT = "transient"  # 5xx, 429, garbage: retry later, keep the tokens


@attrs.frozen(kw_only=True)
class OAuthError(Exception):
    """An OAuth error response, classified. `message` is the server's reason (never a token)."""

    kind: ErrorKind
    status: int
    message: str

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.message} ({self.kind.value})"

    @property
    def needs_login(self) -> bool:
        """True when only a new login fixes it."""
        return self.kind in (ErrorKind.INVALID_GRANT, ErrorKind.DENIED, ErrorKind.EXPIRED)


# --- request builders ------------------------------------------------------------------------


def _form(**fields: str | None) -> tuple[tuple[str, str], ...]:
    return tuple((k, v) for k, v in fields.items() if v is not None)


def device_start(endpoints: Endpoints, client: Client, scopes: frozenset[str]) -> OAuthRequest:
    """Start the device flow (Twitch: form field `scopes`; Google: `scope`)."""
    if endpoints.device is None:
        raise ValueError(f"{endpoints.platform} has no device flow")
    scope_text = " ".join(sorted(scopes))
    if endpoints.platform == "twitch":
        form = _form(client_id=client.client_id, scopes=scope_text)
    else:
        form = _form(client_id=client.client_id, scope=scope_text)
    return OAuthRequest(method="POST", url=endpoints.device, form=form)


def device_poll(endpoints: Endpoints, client: Client, device_code: str) -> OAuthRequest:
    """One poll of the token endpoint for a device code (Google needs the client secret)."""
    return OAuthRequest(
        method="POST",
        url=endpoints.token,
        form=_form(
            client_id=client.client_id,
            client_secret=client.client_secret,
            device_code=device_code,
            grant_type=DEVICE_GRANT,
        ),
    )


def refresh(endpoints: Endpoints, client: Client, refresh_token: str) -> OAuthRequest:
    """Exchange a refresh token for a new pair (the secret only for confidential clients)."""
    return OAuthRequest(
        method="POST",
        url=endpoints.token,
        form=_form(
            client_id=client.client_id,
            client_secret=client.client_secret,
            grant_type="refresh_token",
            refresh_token=refresh_token,
        ),
    )


def validate(endpoints: Endpoints, access_token: str) -> OAuthRequest:
    """Twitch's validation call (`Authorization: OAuth <token>`)."""
    if endpoints.validate is None:
        raise ValueError(f"{endpoints.platform} has no validation endpoint")
    return OAuthRequest(
        method="GET",
        url=endpoints.validate,
        headers=(("Authorization", f"OAuth {access_token}"),),
    )


def revoke(endpoints: Endpoints, client: Client, token: str, *, hint: str) -> OAuthRequest:
    """Revoke a token (`hint` is `access_token` or `refresh_token`)."""
    if endpoints.platform == "kick":
        # Kick takes the token in the query string and names the hint `token_hint_type`.
        query = urlencode({"token": token, "token_hint_type": hint})
        return OAuthRequest(method="POST", url=f"{endpoints.revoke}?{query}")
    if endpoints.platform == "youtube":
        return OAuthRequest(method="POST", url=endpoints.revoke, form=_form(token=token))
    return OAuthRequest(
        method="POST",
        url=endpoints.revoke,
        form=_form(client_id=client.client_id, token=token),
    )


@attrs.frozen(kw_only=True)
class Pkce:
    """An RFC 7636 verifier and its S256 challenge, with the `state` of one authorization."""

    verifier: str = attrs.field(repr=False)
    challenge: str
    state: str = attrs.field(repr=False)


def make_pkce(entropy: bytes | None = None, state: bytes | None = None) -> Pkce:
    """A fresh PKCE pair and state (pass bytes to make it deterministic in tests)."""
    raw = entropy if entropy is not None else secrets.token_bytes(32)
    verifier = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    digest = hashlib.sha256(verifier.encode()).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    state_raw = state if state is not None else secrets.token_bytes(16)
    return Pkce(
        verifier=verifier,
        challenge=challenge,
        state=base64.urlsafe_b64encode(state_raw).rstrip(b"=").decode(),
    )


def authorize_url(
    endpoints: Endpoints,
    client: Client,
    scopes: frozenset[str],
    redirect_uri: str,
    pkce: Pkce,
) -> str:
    """The consent page to open in a browser (authorization code with PKCE)."""
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(sorted(scopes)),
        "state": pkce.state,
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
    }
    if endpoints.platform == "youtube":
        query["access_type"] = "offline"  # Google hands out a refresh token only if asked
    return f"{endpoints.authorize}?{urlencode(query)}"


def code_exchange(
    endpoints: Endpoints, client: Client, code: str, redirect_uri: str, pkce: Pkce
) -> OAuthRequest:
    """Exchange the authorization code (the same `redirect_uri` again, and the verifier)."""
    return OAuthRequest(
        method="POST",
        url=endpoints.token,
        form=_form(
            client_id=client.client_id,
            client_secret=client.client_secret,
            grant_type="authorization_code",
            code=code,
            redirect_uri=redirect_uri,
            code_verifier=pkce.verifier,
        ),
    )


class CallbackError(ValueError):
    """The redirect did not carry a usable code (refused, wrong state, missing code)."""


def parse_callback(query: Mapping[str, str], pkce: Pkce) -> str:
    """The authorization code from the redirect's query parameters (`code`, `state`)."""
    if "error" in query:
        reason = query.get("error_description") or query["error"]
        raise CallbackError(f"the authorization was refused: {reason[:200]}")
    state = query.get("state", "")
    if not secrets.compare_digest(state.encode(), pkce.state.encode()):
        raise CallbackError("the redirect's state does not match this login attempt")
    code = query.get("code", "")
    if not code:
        raise CallbackError("the redirect carried no authorization code")
    return code


# --- response parsers ------------------------------------------------------------------------


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except (ValueError, RecursionError):
        return None


def _reason(obj: Any) -> str:
    """The error reason: RFC `error`, else Twitch's `message`."""
    if not isinstance(obj, dict):
        return ""
    for key in ("error", "message"):
        value = obj.get(key)
        if isinstance(value, str) and value:
            # Twitch sends both `error` ("Bad Request") and `message` (the reason).
            if key == "error" and isinstance(obj.get("message"), str) and obj.get("message"):
                if value.lower().replace(" ", "_") in ("bad_request", "unauthorized"):
                    continue
            return value
    return ""


_PENDING = {"authorization_pending"}
_SLOW = {"slow_down"}
_DENIED = {"access_denied"}
_EXPIRED = {"expired_token"}
_GRANT = {"invalid_grant", "invalid refresh token", "invalid_refresh_token"}
_CLIENT = {
    "invalid_client",
    "unauthorized_client",
    "invalid_scope",
    "missing client secret",
    "invalid client",
    "invalid_request",
    "invalid request",
}


def classify_error(status: int, body: bytes) -> OAuthError:
    """Turn an error response of the token endpoints into an `OAuthError`."""
    obj = _json(body)
    reason = _reason(obj)
    key = reason.strip().lower()
    description = ""
    if isinstance(obj, dict) and isinstance(obj.get("error_description"), str):
        description = obj["error_description"]
    text = reason or f"unexpected answer (HTTP {status})"
    if description and description != reason:
        text = f"{text}: {description}"
    text = text[:300]
    if status == 428 or key in _PENDING:
        kind = ErrorKind.PENDING
    elif key in _SLOW:
        kind = ErrorKind.SLOW_DOWN
    elif key in _DENIED:
        kind = ErrorKind.DENIED
    elif key in _EXPIRED:
        kind = ErrorKind.EXPIRED
    elif status >= 500 or status == 429 or obj is None:
        kind = ErrorKind.TRANSIENT
    elif key in _GRANT or key == "invalid grant":
        kind = ErrorKind.INVALID_GRANT
    elif key == "invalid device code":
        # Twitch: one report says it came before the person acted and the code later
        # worked; the caller keeps polling until the code's own expiry.
        kind = ErrorKind.PENDING
    elif key in ("invalid access token", "invalid oauth token", "invalid_token"):
        kind = ErrorKind.INVALID_TOKEN
    elif key in _CLIENT or status in (400, 401, 403):
        kind = ErrorKind.CLIENT
    else:
        kind = ErrorKind.TRANSIENT
    return OAuthError(kind=kind, status=status, message=text)


def _scopes(value: Any) -> frozenset[str] | None:
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return frozenset(value)
    return None


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not 0 <= value <= 10 * 365 * 86_400:
        return None
    return float(value)


def parse_token(status: int, body: bytes, *, now: datetime) -> TokenGrant:
    """A token response (device poll, code exchange, refresh); raises `OAuthError`."""
    if status != 200:
        raise classify_error(status, body)
    obj = _json(body)
    if not isinstance(obj, dict):
        raise OAuthError(kind=ErrorKind.TRANSIENT, status=status, message="answer is not JSON")
    access = obj.get("access_token")
    if not isinstance(access, str) or not access:
        raise classify_error(400 if "error" in obj or "message" in obj else 502, body)
    refresh_token = obj.get("refresh_token")
    lifetime = _seconds(obj.get("expires_in"))
    return TokenGrant(
        access_token=access,
        refresh_token=refresh_token if isinstance(refresh_token, str) and refresh_token else None,
        expires_at=None if lifetime is None else now + timedelta(seconds=lifetime),
        scopes=_scopes(obj.get("scope")),
    )


def parse_device_start(status: int, body: bytes, *, now: datetime) -> DeviceAuthorization:
    """The device-flow start answer (Twitch `verification_uri`, Google `verification_url`)."""
    if status != 200:
        raise classify_error(status, body)
    obj = _json(body)
    if not isinstance(obj, dict):
        raise OAuthError(kind=ErrorKind.TRANSIENT, status=status, message="answer is not JSON")
    device_code, user_code = obj.get("device_code"), obj.get("user_code")
    uri = obj.get("verification_uri") or obj.get("verification_url")
    lifetime = _seconds(obj.get("expires_in"))
    if not all(isinstance(v, str) and v for v in (device_code, user_code, uri)):
        raise OAuthError(
            kind=ErrorKind.TRANSIENT, status=status, message="answer lacks the device code"
        )
    interval = _seconds(obj.get("interval"))
    return DeviceAuthorization(
        device_code=str(device_code),
        user_code=str(user_code),
        verification_uri=str(uri),
        expires_at=now + timedelta(seconds=lifetime if lifetime is not None else 600),
        interval=max(1.0, interval if interval is not None else 5.0),
    )


def parse_validate(status: int, body: bytes, *, now: datetime) -> Validation:
    """Twitch's validate answer; a 401 raises `OAuthError(INVALID_TOKEN)`."""
    if status == 401:
        error = classify_error(status, body)
        raise OAuthError(kind=ErrorKind.INVALID_TOKEN, status=status, message=error.message)
    if status != 200:
        raise classify_error(status, body)
    obj = _json(body)
    if not isinstance(obj, dict):
        raise OAuthError(kind=ErrorKind.TRANSIENT, status=status, message="answer is not JSON")

    def text(key: str) -> str | None:
        value = obj.get(key)
        return value if isinstance(value, str) and value else None

    lifetime = _seconds(obj.get("expires_in"))
    return Validation(
        client_id=text("client_id"),
        login=text("login"),
        user_id=text("user_id"),
        scopes=_scopes(obj.get("scopes")) or frozenset(),  # Twitch sends null for none
        expires_at=None if not lifetime else now + timedelta(seconds=lifetime),
    )


def form_pairs(request: OAuthRequest) -> Mapping[str, str]:
    """The form fields as a mapping (for an HTTP client's `data=`)."""
    return dict(request.form)
