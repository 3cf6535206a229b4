"""A real OAuth 2.0 authorization server for tests: Authlib's, with its RFC 8628 device grant
and its refresh-token grant (rotating, single-use refresh tokens), served over HTTP on
127.0.0.1 from a thread by the standard library's `ThreadingHTTPServer`.

It answers on Google's routes (`/device/code`, `/token`: RFC field names, so an `[[accounts]]`
entry with `platform = "youtube"` and `auth_url = server.url` talks to it) and on Twitch's
and Kick's token routes. A device login is
approved by the "person" once it was polled `approve_after` times.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from authlib.common.security import generate_token
from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, OAuth2Request
from authlib.oauth2.rfc6749.grants import RefreshTokenGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc8628 import (
    DeviceAuthorizationEndpoint,
    DeviceCodeGrant,
    DeviceCredentialDict,
)


class _Client(ClientMixin):
    def __init__(self, client_id: str) -> None:
        self.client_id = client_id

    def get_client_id(self) -> str:
        return self.client_id

    # The `type: ignore[override]`s below: types-Authlib describes Authlib 1.8 and is narrower
    # than what Authlib's own code accepts (it tests these results for "not found" / falsy).
    def get_default_redirect_uri(self) -> str | None:  # type: ignore[override]
        return None

    def get_allowed_scope(self, scope: str) -> str:  # type: ignore[override]  # always a str
        return scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return False

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "none"  # a public client, like a Twitch device-flow app

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in (DeviceCodeGrant.GRANT_TYPE, "refresh_token")


class _Token(dict):
    """A stored token row with the methods Authlib's refresh grant asks of it."""

    def check_client(self, client: _Client) -> bool:
        return self["client_id"] == client.get_client_id()

    def get_scope(self) -> str:
        return self.get("scope", "")

    def get_expires_in(self) -> int:
        return int(self.get("expires_in", 0))

    def is_expired(self) -> bool:
        return False

    def is_revoked(self) -> bool:
        return False


class _Request(OAuth2Request):
    def __init__(self, method: str, uri: str, headers: dict[str, str], form: dict[str, str]):
        super().__init__(method, uri, headers=headers)
        self.payload = BasicOAuth2Payload(form)
        self._form = form

    @property
    def args(self) -> dict[str, str | None]:
        return {}

    @property
    def form(self) -> dict[str, str]:
        return self._form


class AuthlibIdentity:
    """The server state (tokens, device codes) and its Authlib wiring."""

    def __init__(self, *, client_id: str = "test-client", approve_after: int = 1) -> None:
        self.client = _Client(client_id)
        self.approve_after = approve_after
        self.devices: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}  # refresh token -> token row
        self.spent_refresh: set[str] = set()
        self.lock = threading.Lock()
        self.url = ""
        identity = self

        class Server(AuthorizationServer):
            def query_client(self, client_id: str) -> _Client | None:  # type: ignore[override]
                return identity.client if client_id == identity.client.client_id else None

            def save_token(self, token: dict[str, Any], request: Any) -> None:
                row = _Token(token, user=request.user, client_id=request.client.get_client_id())
                if token.get("refresh_token"):
                    identity.tokens[token["refresh_token"]] = row

            def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
                return None

            def create_oauth2_request(self, request: Any) -> OAuth2Request:
                return request

            def handle_response(self, status: int, body: Any, headers: Any) -> Any:
                return status, body, headers

        class Endpoint(DeviceAuthorizationEndpoint):
            INTERVAL = 1  # the client must honour it; 1 s keeps the test short

            def get_verification_uri(self) -> str:
                return f"{identity.url}/activate"

            def save_device_credential(self, client_id: str, scope: str, data: dict) -> None:
                identity.devices[data["device_code"]] = dict(
                    data, client_id=client_id, scope=scope, polls=0, issued_at=time.time()
                )

        class DeviceGrant(DeviceCodeGrant):
            def query_device_credential(self, device_code: str) -> DeviceCredentialDict | None:
                row = identity.devices.get(device_code)
                return None if row is None else DeviceCredentialDict(row)

            def query_user_grant(self, user_code: str) -> tuple[str, bool] | None:
                for row in identity.devices.values():
                    if row["user_code"] == user_code:
                        row["polls"] += 1
                        if row["polls"] > identity.approve_after:
                            return "daniel", True
                return None

            def should_slow_down(self, credential: Any) -> bool:
                return False

        class Refresh(RefreshTokenGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["none"]
            INCLUDE_NEW_REFRESH_TOKEN = True  # rotate: each refresh token is single-use

            def authenticate_refresh_token(  # type: ignore[override]  # a dict row, or None
                self, refresh_token: str
            ) -> dict | None:
                return identity.tokens.get(refresh_token)

            def authenticate_user(self, credential: dict) -> str:
                return credential["user"]

            def revoke_old_credential(self, credential: dict) -> None:  # type: ignore[override]
                identity.spent_refresh.add(credential["refresh_token"])
                identity.tokens.pop(credential["refresh_token"], None)

        self.server = Server()

        def random_token(*_args: Any, **_kwargs: Any) -> str:
            return generate_token(40)

        self.server.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=random_token, refresh_token_generator=random_token
            ),
        )
        self.server.register_grant(DeviceGrant)
        self.server.register_grant(Refresh)
        # Authlib 1.9's DeviceAuthorizationEndpoint is no longer an `Endpoint` subclass; the
        # stubs (1.8) still ask for one.
        self.server.register_endpoint(Endpoint)  # type: ignore[arg-type]

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple:
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
        request = _Request(method, f"{self.url}{path}", headers, form)
        with self.lock:
            if path in ("/oauth2/device", "/device/code"):
                return self.server.create_endpoint_response("device_authorization", request)
            if path in ("/oauth2/token", "/oauth/token", "/token"):
                return self.server.create_token_response(request)
        return 404, {"error": "not_found"}, []


@contextmanager
def running_identity(**kwargs: Any) -> Iterator[AuthlibIdentity]:
    """Serve an `AuthlibIdentity` on 127.0.0.1 (a free port) for the `with` block."""
    identity = AuthlibIdentity(**kwargs)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            status, payload, headers = identity.handle(
                "POST", self.path, dict(self.headers.items()), body
            )
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            for name, value in headers:
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: Any) -> None:
            return None

    previous = os.environ.get("AUTHLIB_INSECURE_TRANSPORT")
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # plain HTTP on loopback only
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    identity.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield identity
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
        if previous is None:
            os.environ.pop("AUTHLIB_INSECURE_TRANSPORT", None)
        else:
            os.environ["AUTHLIB_INSECURE_TRANSPORT"] = previous
