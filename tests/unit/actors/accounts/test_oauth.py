"""The sans-IO OAuth module: requests per platform and the platforms' documented answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from actors.accounts import oauth
from actors.accounts.oauth import ErrorKind, OAuthError

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CLIENT = oauth.Client(client_id="cid", client_secret="shh-secret")
PUBLIC = oauth.Client(client_id="cid")
TWITCH = oauth.Endpoints.for_platform("twitch")
GOOGLE = oauth.Endpoints.for_platform("youtube")
KICK = oauth.Endpoints.for_platform("kick")


def body(obj: object) -> bytes:
    return json.dumps(obj).encode()


def test_twitch_device_start_sends_client_id_and_space_separated_scopes_field():
    request = oauth.device_start(TWITCH, PUBLIC, frozenset({"chat:read", "chat:edit"}))
    assert request.url == "https://id.twitch.tv/oauth2/device"
    assert dict(request.form) == {"client_id": "cid", "scopes": "chat:edit chat:read"}


def test_google_device_start_uses_the_scope_field_and_its_own_endpoint():
    request = oauth.device_start(
        GOOGLE, CLIENT, frozenset({"https://www.googleapis.com/auth/youtube"})
    )
    assert request.url == "https://oauth2.googleapis.com/device/code"
    assert dict(request.form)["scope"] == "https://www.googleapis.com/auth/youtube"


def test_kick_has_no_device_flow():
    with pytest.raises(ValueError, match="no device flow"):
        oauth.device_start(KICK, CLIENT, frozenset())


def test_twitch_device_answer_is_parsed_from_the_real_capture():
    answer = body(
        {
            "device_code": "OFqYhSrUmA",
            "expires_in": 1800,
            "interval": 5,
            "user_code": "JLLKTXWJ",
            "verification_uri": "https://www.twitch.tv/activate?device-code=JLLKTXWJ",
        }
    )
    device = oauth.parse_device_start(200, answer, now=NOW)
    assert device.user_code == "JLLKTXWJ"
    assert device.interval == 5
    assert device.expires_at == NOW + timedelta(seconds=1800)
    assert "OFqYhSrUmA" not in repr(device)


def test_google_device_answer_names_verification_url():
    answer = body(
        {
            "device_code": "dc",
            "user_code": "XXXX-XXXX",
            "expires_in": 1800,
            "interval": 5,
            "verification_url": "https://www.google.com/device",
        }
    )
    assert oauth.parse_device_start(200, answer, now=NOW).verification_uri.endswith("/device")


@pytest.mark.parametrize(
    ("status", "answer", "kind"),
    [
        (400, {"status": 400, "message": "authorization_pending"}, ErrorKind.PENDING),
        (
            428,
            {"error": "authorization_pending", "error_description": "Precondition Required"},
            ErrorKind.PENDING,
        ),
        (400, {"error": "slow_down"}, ErrorKind.SLOW_DOWN),
        (400, {"status": 400, "message": "slow_down"}, ErrorKind.SLOW_DOWN),
        (400, {"error": "access_denied"}, ErrorKind.DENIED),
        (400, {"error": "expired_token"}, ErrorKind.EXPIRED),
        (400, {"status": 400, "message": "Invalid refresh token"}, ErrorKind.INVALID_GRANT),
        (
            400,
            {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
            ErrorKind.INVALID_GRANT,
        ),
        (400, {"status": 400, "message": "missing client secret"}, ErrorKind.CLIENT),
        (400, {"status": 400, "message": "invalid device code"}, ErrorKind.PENDING),
        (503, {"status": 503, "message": "busy"}, ErrorKind.TRANSIENT),
        (429, {"status": 429, "message": "slow"}, ErrorKind.TRANSIENT),
    ],
)
def test_token_errors_are_classified_per_platform_dialect(status, answer, kind):
    with pytest.raises(OAuthError) as caught:
        oauth.parse_token(status, body(answer), now=NOW)
    assert caught.value.kind is kind


def test_garbage_from_the_token_endpoint_is_transient_not_a_crash():
    for junk in (b"<html>bad gateway</html>", b"", b"[" * 100_000, b'{"access_token": 5}'):
        with pytest.raises(OAuthError) as caught:
            oauth.parse_token(200, junk, now=NOW)
        assert caught.value.kind is ErrorKind.TRANSIENT


def test_twitch_scope_array_and_google_scope_string_both_parse():
    twitch = oauth.parse_token(
        200,
        body(
            {
                "access_token": "a",
                "refresh_token": "r",
                "expires_in": 14542,
                "scope": ["chat:read"],
                "token_type": "bearer",
            }
        ),
        now=NOW,
    )
    google = oauth.parse_token(
        200, body({"access_token": "a", "expires_in": 3599, "scope": "x y"}), now=NOW
    )
    assert twitch.scopes == {"chat:read"}
    assert twitch.expires_at == NOW + timedelta(seconds=14542)
    assert google.scopes == {"x", "y"} and google.refresh_token is None


def test_refresh_sends_the_secret_only_for_confidential_clients():
    assert "client_secret" in dict(oauth.refresh(TWITCH, CLIENT, "r").form)
    assert "client_secret" not in dict(oauth.refresh(TWITCH, PUBLIC, "r").form)


def test_validate_uses_the_oauth_scheme_and_401_means_invalid_token():
    request = oauth.validate(TWITCH, "tok")
    assert dict(request.headers) == {"Authorization": "OAuth tok"}
    with pytest.raises(OAuthError) as caught:
        oauth.parse_validate(401, body({"status": 401, "message": "invalid access token"}), now=NOW)
    assert caught.value.kind is ErrorKind.INVALID_TOKEN
    ok = oauth.parse_validate(
        200,
        body({"client_id": "c", "login": "l", "user_id": "1", "scopes": None, "expires_in": 60}),
        now=NOW,
    )
    assert ok.scopes == frozenset() and ok.login == "l"


def test_requests_never_show_tokens_or_secrets_in_repr():
    text = repr(oauth.refresh(TWITCH, CLIENT, "refresh-value")) + repr(CLIENT)
    assert "refresh-value" not in text and "shh-secret" not in text


def test_pkce_challenge_is_the_s256_of_the_verifier_and_the_callback_checks_state():
    pkce = oauth.make_pkce(b"\x01" * 32, b"\x02" * 16)
    # RFC 7636 appendix B style: base64url(sha256(verifier)) without padding
    import base64
    import hashlib

    expected = base64.urlsafe_b64encode(hashlib.sha256(pkce.verifier.encode()).digest())
    assert pkce.challenge == expected.rstrip(b"=").decode()
    url = oauth.authorize_url(
        KICK, CLIENT, frozenset({"chat:write"}), "http://localhost:3000/callback", pkce
    )
    assert url.startswith("https://id.kick.com/oauth/authorize?")
    assert "code_challenge_method=S256" in url
    assert oauth.parse_callback({"code": "abc", "state": pkce.state}, pkce) == "abc"
    with pytest.raises(oauth.CallbackError, match="state"):
        oauth.parse_callback({"code": "abc", "state": "forged"}, pkce)
    with pytest.raises(oauth.CallbackError, match="refused"):
        oauth.parse_callback({"error": "access_denied", "state": pkce.state}, pkce)


def test_kick_revoke_puts_the_token_in_the_query_with_its_hint_name():
    request = oauth.revoke(KICK, CLIENT, "tok", hint="refresh_token")
    assert request.url.endswith("/oauth/revoke?token=tok&token_hint_type=refresh_token")
