"""`login`, `logout` and `accounts`: device flows per dialect under MockClock, the loopback
authorization-code flow with PKCE, revocation, and listings that never show a token."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import trio

from config import loads_config
from runtime.login import LoginFailed, describe_accounts, format_rows, login, logout
from tests.fakes.identity import FakeIdentity
from tests.fakes.token_store import MemoryTokenStore

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def fake_now() -> datetime:
    return EPOCH + timedelta(seconds=trio.current_time())


def config_for(platform: str, *, port: int = 3000, scopes: str | None = None):
    scope_line = f"scopes = {scopes}" if scopes else ""
    creator = {
        "twitch": '[creators.twitch]\nchannel = "daniel"\naccount = "bot"',
        "youtube": '[creators.youtube]\nvideo_id = "v"\napi_key = { env = "K" }\naccount = "bot"',
        "kick": '[creators.kick]\nchannel = "daniel"\naccount = "bot"',
    }[platform]
    return loads_config(
        f"""
[[accounts]]
id = "bot"
platform = "{platform}"
client_id = "client-1"
auth_url = "https://id.example.test"
redirect_port = {port}
{scope_line}

[[creators]]
id = "daniel"
{creator}
""",
        environ={"K": "api-key"},
    )


async def test_twitch_device_login_polls_at_the_interval_and_stores_the_pair(autojump_clock):
    identity = FakeIdentity(trio.current_time, dialect="twitch", pending_polls=2)
    store = MemoryTokenStore()
    printed: list[str] = []
    stored = await login(
        config_for("twitch"),
        "bot",
        store,
        transport=identity.transport(),
        out=printed.append,
        clock=fake_now,
    )
    assert "https://example.test/activate" in printed[0] and "ABCD-EFGH" in printed[0]
    assert identity.poll_times == [5.0, 10.0, 15.0]  # two pending answers, then the token
    assert store.tokens["bot"] == stored
    assert stored.scopes == {"chat:read", "chat:edit"}  # what the Twitch chat feature needs
    assert stored.login == "daniel_bot" and stored.user_id == "4242"  # from /oauth2/validate
    assert identity.check(stored.access_token) is None
    assert all(stored.access_token not in line for line in printed)


async def test_google_428_pending_is_waited_out(autojump_clock):
    identity = FakeIdentity(trio.current_time, dialect="google", pending_polls=3)
    store = MemoryTokenStore()
    stored = await login(
        config_for("youtube"),
        "bot",
        store,
        transport=identity.transport(),
        out=lambda _t: None,
        clock=fake_now,
    )
    assert identity.device_polls == 4
    assert stored.scopes == {"https://www.googleapis.com/auth/youtube"}


async def test_slow_down_adds_five_seconds_to_the_interval(autojump_clock):
    identity = FakeIdentity(trio.current_time, dialect="google", pending_polls=2, min_poll_gap=7.0)
    await login(
        config_for("youtube"),
        "bot",
        MemoryTokenStore(),
        transport=identity.transport(),
        out=lambda _t: None,
        clock=fake_now,
    )
    gaps = [b - a for a, b in zip(identity.poll_times, identity.poll_times[1:], strict=False)]
    assert gaps[0] == 5.0  # answered slow_down
    assert all(gap == 10.0 for gap in gaps[1:])


async def test_the_device_login_gives_up_when_the_code_expires(autojump_clock):
    identity = FakeIdentity(trio.current_time, pending_polls=10**6)
    with pytest.raises(LoginFailed, match="expired"):
        await login(
            config_for("twitch"),
            "bot",
            MemoryTokenStore(),
            transport=identity.transport(),
            out=lambda _t: None,
            clock=fake_now,
        )
    assert trio.current_time() == pytest.approx(1800, abs=5)
    assert 355 <= identity.device_polls <= 360


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_kick_login_uses_pkce_and_the_loopback_redirect(nursery):
    identity = FakeIdentity(trio.current_time, dialect="kick")
    port = free_port()
    store = MemoryTokenStore()
    answers: list[int] = []

    async def browser(url: str) -> None:
        assert url.startswith("https://id.example.test/oauth/authorize?")
        assert f"redirect_uri=http%3A%2F%2Flocalhost%3A{port}%2Fcallback" in url
        query = identity.approve(url)
        async with httpx.AsyncClient() as client:
            answer = await client.get(f"http://127.0.0.1:{port}/callback", params=query)
            answers.append(answer.status_code)

    stored = await login(
        config_for("kick", port=port),
        "bot",
        store,
        transport=identity.transport(),
        out=lambda _t: None,
        on_listening=lambda url: nursery.start_soon(browser, url),
    )
    assert answers == [200]
    assert stored.scopes == {"user:read", "chat:write"}
    assert identity.check(stored.access_token) is None


async def test_a_forged_redirect_state_fails_the_login(nursery):
    identity = FakeIdentity(trio.current_time, dialect="kick")
    port = free_port()

    async def attacker(url: str) -> None:
        query = identity.approve(url)
        async with httpx.AsyncClient() as client:
            await client.get(
                f"http://127.0.0.1:{port}/callback", params={**query, "state": "forged"}
            )

    with pytest.raises(LoginFailed, match="state"):
        await login(
            config_for("kick", port=port),
            "bot",
            MemoryTokenStore(),
            transport=identity.transport(),
            out=lambda _t: None,
            on_listening=lambda url: nursery.start_soon(attacker, url),
        )


async def test_logout_revokes_and_forgets(autojump_clock):
    identity = FakeIdentity(trio.current_time, pending_polls=0)
    store = MemoryTokenStore()
    config = config_for("twitch")
    stored = await login(
        config, "bot", store, transport=identity.transport(), out=lambda _t: None, clock=fake_now
    )
    await logout(config, "bot", store, transport=identity.transport(), out=lambda _t: None)
    assert "bot" not in store.tokens
    assert identity.check(stored.access_token) == "revoked"


async def test_accounts_lists_state_and_scopes_but_never_a_token(autojump_clock):
    identity = FakeIdentity(trio.current_time, pending_polls=0)
    store = MemoryTokenStore()
    config = config_for("twitch", scopes='["chat:read"]')
    rows = describe_accounts(config, store, now=fake_now())
    assert rows[0]["state"] == "not_logged_in"
    stored = await login(
        config, "bot", store, transport=identity.transport(), out=lambda _t: None, clock=fake_now
    )
    text = format_rows(describe_accounts(config, store, now=fake_now()))
    assert "missing_scopes" in text  # chat:edit is needed by the chat feature
    assert "daniel_bot" in text and "4242" in text
    assert stored.access_token not in text and str(stored.refresh_token) not in text


async def test_an_unknown_account_names_the_declared_ones():
    with pytest.raises(LoginFailed, match="declared: bot"):
        await login(config_for("twitch"), "nobody", MemoryTokenStore(), out=lambda _t: None)
