"""A fake identity server speaking Twitch's, Google's or Kick's documented OAuth dialect.

It runs as an `httpx.MockTransport` handler (no socket, exact under trio's `MockClock`):
device flow (`authorization_pending` as Twitch's `{"status":400,"message":...}` or Google's
HTTP 428, `slow_down` when polled too fast), single-use refresh tokens (Twitch DCF: reusing a
spent one revokes the whole grant), `Invalid refresh token`, revocation, `/oauth2/validate`.
`check(value)` is what a resource server (IRC, Helix) would say about a presented token.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import attrs
import httpx


@attrs.define
class _Grant:
    scopes: list[str]
    access: dict[str, float] = attrs.Factory(dict)  # value -> expires at (fake time)
    live_refresh: str | None = None
    spent_refresh: set[str] = attrs.Factory(set)
    revoked: bool = False


class FakeIdentity:
    """One identity server. `now()` is fake time in seconds (e.g. `trio.current_time`)."""

    def __init__(
        self,
        now: Callable[[], float],
        *,
        dialect: str = "twitch",
        lifetime: float = 40.0,
        single_use_refresh: bool = True,
        pending_polls: int = 2,
        login: str = "daniel_bot",
        user_id: str = "4242",
        min_poll_gap: float = 5.0,
    ) -> None:
        self.now = now
        self.dialect = dialect
        self.lifetime = lifetime
        self.single_use_refresh = single_use_refresh
        self.pending_polls = pending_polls
        self.login = login
        self.user_id = user_id
        self.min_poll_gap = min_poll_gap
        self.grants: list[_Grant] = []
        self._ids = itertools.count(1)
        self.refresh_requests = 0
        self.validate_requests = 0
        self.device_polls = 0
        self.poll_times: list[float] = []
        self.fail_next: list[int] = []  # statuses to answer the next token requests with
        self.device: dict[str, dict] = {}
        self.codes: dict[str, dict[str, str]] = {}
        self.presented_bad: list[str] = []  # why presented tokens were refused

    # --- helpers for tests -------------------------------------------------------------

    def issue(self, scopes: list[str]) -> dict:
        """A grant made outside the flows (a completed login): its token response."""
        grant = _Grant(scopes=list(scopes))
        self.grants.append(grant)
        return self._tokens(grant)

    def approve(self, authorize_url: str) -> dict[str, str]:
        """The person approves on the consent page: the redirect's query (`code`, `state`)."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
        code = f"code-{next(self._ids)}"
        self.codes[code] = query
        return {"code": code, "state": query["state"]}

    def revoke_all(self) -> None:
        for grant in self.grants:
            grant.revoked = True

    def check(self, value: str) -> str | None:
        """None if `value` is a live access token, else why not (recorded)."""
        for grant in self.grants:
            if value in grant.access:
                if grant.revoked:
                    reason = "revoked"
                elif grant.access[value] <= self.now():
                    reason = "expired"
                else:
                    return None
                self.presented_bad.append(reason)
                return reason
        self.presented_bad.append("unknown")
        return "unknown"

    # --- wire ----------------------------------------------------------------------------

    def _tokens(self, grant: _Grant) -> dict:
        n = next(self._ids)
        access, refresh = f"at-{n:06d}-xyzzy", f"rt-{n:06d}-plugh"
        grant.access[access] = self.now() + self.lifetime
        grant.live_refresh = refresh
        scope: object = grant.scopes if self.dialect == "twitch" else " ".join(grant.scopes)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": int(self.lifetime),
            "scope": scope,
            "token_type": "bearer",
        }

    def _error(self, status: int, reason: str) -> httpx.Response:
        if self.dialect == "twitch":
            return httpx.Response(status, json={"status": status, "message": reason})
        return httpx.Response(status, json={"error": reason, "error_description": reason})

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        if path.endswith("/validate"):
            return self._validate(request)
        if path.endswith("/device") or path.endswith("/device/code"):
            return self._device_start(form)
        if path.endswith("/revoke"):
            return self._revoke(form)
        if path.endswith("/token"):
            if self.fail_next:
                if form.get("grant_type") == "refresh_token":
                    self.refresh_requests += 1
                return httpx.Response(self.fail_next.pop(0), text="upstream trouble")
            if form.get("grant_type") == "refresh_token":
                return self._refresh(form)
            if form.get("grant_type", "").endswith("device_code"):
                return self._device_poll(form)
            if form.get("grant_type") == "authorization_code":
                return self._code_exchange(form)
        return httpx.Response(404, json={"status": 404, "message": "not found"})

    def _validate(self, request: httpx.Request) -> httpx.Response:
        self.validate_requests += 1
        auth = request.headers.get("authorization", "")
        value = auth.removeprefix("OAuth ")
        for grant in self.grants:
            if value in grant.access and not grant.revoked and grant.access[value] > self.now():
                return httpx.Response(
                    200,
                    json={
                        "client_id": "client-1",
                        "login": self.login,
                        "user_id": self.user_id,
                        "scopes": grant.scopes,
                        "expires_in": int(grant.access[value] - self.now()),
                    },
                )
        return httpx.Response(401, json={"status": 401, "message": "invalid access token"})

    def _refresh(self, form: dict) -> httpx.Response:
        self.refresh_requests += 1
        token = form.get("refresh_token", "")
        for grant in self.grants:
            if token == grant.live_refresh and not grant.revoked:
                if self.single_use_refresh:
                    grant.spent_refresh.add(token)
                return httpx.Response(200, json=self._tokens(grant))
            if token in grant.spent_refresh:
                grant.revoked = True  # Twitch: reuse of a spent token kills the grant
                break
        reason = "Invalid refresh token" if self.dialect == "twitch" else "invalid_grant"
        return self._error(400, reason)

    def _code_exchange(self, form: dict) -> httpx.Response:
        asked = self.codes.pop(form.get("code", ""), None)
        if asked is None or asked.get("redirect_uri") != form.get("redirect_uri"):
            return self._error(400, "invalid_grant")
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if challenge != asked.get("code_challenge"):
            return self._error(400, "invalid_grant")
        grant = _Grant(scopes=asked.get("scope", "").split())
        self.grants.append(grant)
        return httpx.Response(200, json=self._tokens(grant))

    def _revoke(self, form: dict) -> httpx.Response:
        token = form.get("token", "")
        for grant in self.grants:
            if token in grant.access or token == grant.live_refresh:
                grant.revoked = True
                return httpx.Response(200)
        return self._error(400, "Invalid token")

    def _device_start(self, form: dict) -> httpx.Response:
        scopes = (form.get("scopes") or form.get("scope") or "").split()
        code = f"dc-{next(self._ids)}"
        self.device[code] = {"scopes": scopes, "polls": 0, "last": None}
        uri_key = "verification_uri" if self.dialect == "twitch" else "verification_url"
        return httpx.Response(
            200,
            json={
                "device_code": code,
                "user_code": "ABCD-EFGH",
                uri_key: "https://example.test/activate",
                "expires_in": 1800,
                "interval": 5,
            },
        )

    def _device_poll(self, form: dict) -> httpx.Response:
        self.device_polls += 1
        self.poll_times.append(self.now())
        entry = self.device.get(form.get("device_code", ""))
        if entry is None:
            return self._error(400, "invalid device code")
        last, entry["last"] = entry["last"], self.now()
        if last is not None and self.now() - last < self.min_poll_gap:
            return self._error(400, "slow_down")
        entry["polls"] += 1
        if entry["polls"] <= self.pending_polls:
            if self.dialect == "google":
                return httpx.Response(
                    428,
                    json={
                        "error": "authorization_pending",
                        "error_description": "Precondition Required",
                    },
                )
            return self._error(400, "authorization_pending")
        grant = _Grant(scopes=entry["scopes"])
        self.grants.append(grant)
        del self.device[form["device_code"]]
        return httpx.Response(200, content=json.dumps(self._tokens(grant)).encode())

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)
