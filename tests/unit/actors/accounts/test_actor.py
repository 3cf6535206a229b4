"""The account actor keeps tokens valid under MockClock: refresh timing, single-flight,
single-use refresh tokens, 401 handling, needs_login, validation schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import trio
from structlog.testing import capture_logs

from actors.accounts import AccountTokenSource, NeedsLogin
from actors.accounts.actor import (
    LOGGED_IN,
    MISSING_SCOPES,
    NEEDS_LOGIN,
    AccountActor,
    AccountHealth,
)
from actors.accounts.oauth import parse_token
from actors.accounts.store import StoredToken
from config.models import AccountConfig
from supervisors import Backoff, ChildSpec, Supervisor
from tests.fakes.identity import FakeIdentity
from tests.fakes.token_store import MemoryTokenStore

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
SCOPES = ["chat:read", "chat:edit"]


async def inline(fn, *args):
    return fn(*args)


def fake_now() -> datetime:
    return EPOCH + timedelta(seconds=trio.current_time())


def stored_from(fake: FakeIdentity, scopes: list[str]) -> StoredToken:
    import json

    grant = parse_token(200, json.dumps(fake.issue(scopes)).encode(), now=fake_now())
    return StoredToken(
        access_token=grant.access_token,
        refresh_token=grant.refresh_token,
        expires_at=grant.expires_at,
        scopes=grant.scopes or frozenset(),
        obtained_at=fake_now(),
    )


def account_detail(sup: Supervisor) -> AccountHealth:
    detail = next(row for row in sup.tree() if row.path.endswith("/bot")).detail
    assert isinstance(detail, AccountHealth)
    return detail


async def start_account(
    nursery: trio.Nursery,
    fake: FakeIdentity,
    store: MemoryTokenStore,
    *,
    platform: str = "twitch",
    required: frozenset[str] = frozenset(SCOPES),
    **kwargs,
) -> tuple[Supervisor, AccountTokenSource]:
    account = AccountConfig(
        id="bot", platform=platform, client_id="client-1", auth_url="https://id.example.test"
    )
    spec = ChildSpec(
        "bot",
        lambda: AccountActor(
            account=account,
            store=store,
            required_scopes=required,
            transport=fake.transport(),
            clock=fake_now,
            blocking=inline,
            **kwargs,
        ),
    )
    sup = Supervisor("accounts", [spec], backoff=Backoff(initial=0))
    await nursery.start(sup.run)
    return sup, AccountTokenSource(lambda: sup.ref("bot"))


async def test_ten_minutes_of_40_second_single_use_tokens_never_present_an_expired_or_reused_one(
    autojump_clock, nursery
):
    fake = FakeIdentity(trio.current_time, lifetime=40, single_use_refresh=True)
    store = MemoryTokenStore()
    store.tokens["bot"] = stored_from(fake, SCOPES)
    sup, source = await start_account(nursery, fake, store)
    presented = 0

    async def consumer(period: float) -> None:
        nonlocal presented
        while True:
            token = await source.token()
            assert fake.check(token.value) is None, fake.presented_bad
            presented += 1
            await trio.sleep(period)

    async with trio.open_nursery() as inner:
        for period in (0.7, 1.3, 3.1, 9.7):
            inner.start_soon(consumer, period)
        await trio.sleep(600)
        inner.cancel_scope.cancel()
    assert fake.presented_bad == []
    assert not any(g.revoked for g in fake.grants)  # a reused refresh token revokes the grant
    # ~600 s / (0.75 * 40 s) refreshes, each stored before use.
    assert 18 <= fake.refresh_requests <= 22
    assert presented > 1000
    assert store.tokens["bot"].access_token in fake.grants[0].access
    await sup.stop()


async def test_a_revoked_account_becomes_needs_login_within_a_minute_with_at_most_2_refreshes(
    autojump_clock, nursery
):
    fake = FakeIdentity(trio.current_time, lifetime=40)
    store = MemoryTokenStore()
    store.tokens["bot"] = stored_from(fake, SCOPES)
    sup, source = await start_account(nursery, fake, store)
    token = await source.token()
    await trio.sleep(5)
    fake.revoke_all()
    revoked_at = trio.current_time()
    before = fake.refresh_requests
    await source.unauthorized(token)  # the IRC server refused it
    while True:
        try:
            token = await source.token()
        except NeedsLogin as exc:
            assert "python -m runtime login bot" in str(exc)
            break
        assert fake.check(token.value) is not None  # revoked: nothing valid was handed out
        await trio.sleep(1)
    assert trio.current_time() - revoked_at < 60
    assert fake.refresh_requests - before <= 2
    await trio.sleep(300)  # nothing loops
    assert fake.refresh_requests - before <= 2
    assert store.tokens["bot"].needs_login is not None
    await sup.stop()


async def test_concurrent_requests_for_an_expiring_token_cause_one_refresh(autojump_clock, nursery):
    fake = FakeIdentity(trio.current_time, lifetime=40)
    store = MemoryTokenStore()
    store.tokens["bot"] = stored_from(fake, SCOPES)
    sup, source = await start_account(nursery, fake, store, refresh_ratio=0.99)
    await trio.sleep(38)  # inside the hand-out margin: every caller needs a new token
    results = []

    async def ask() -> None:
        results.append(await source.token())

    async with trio.open_nursery() as inner:
        for _ in range(10):
            inner.start_soon(ask)
    assert fake.refresh_requests == 1
    assert len({t.value for t in results}) == 1
    assert fake.check(results[0].value) is None
    await sup.stop()


async def test_twitch_tokens_are_validated_at_start_and_every_hour(autojump_clock, nursery):
    fake = FakeIdentity(trio.current_time, lifetime=4 * 3600)
    store = MemoryTokenStore()
    store.tokens["bot"] = stored_from(fake, SCOPES)
    sup, _source = await start_account(nursery, fake, store, refresh_ratio=0.99)
    await trio.sleep(1)
    assert fake.validate_requests == 1
    assert store.tokens["bot"].login == "daniel_bot"
    await trio.sleep(3600)
    assert fake.validate_requests == 2
    await trio.sleep(3600)
    assert fake.validate_requests == 3
    await sup.stop()


async def test_a_missing_scope_is_an_error_naming_the_scopes_and_the_login_command(
    autojump_clock, nursery
):
    fake = FakeIdentity(trio.current_time, lifetime=3600)
    store = MemoryTokenStore()
    store.tokens["bot"] = stored_from(fake, ["chat:read"])
    sup, source = await start_account(nursery, fake, store)
    await trio.sleep(1)
    snapshot = account_detail(sup)
    assert snapshot.state == MISSING_SCOPES
    error = snapshot.error or ""
    assert "chat:edit" in error
    assert "python -m runtime login bot" in error
    assert (await source.token()).value  # still served: reading chat may work
    await sup.stop()


async def test_server_errors_on_refresh_are_retried_and_keep_the_token(autojump_clock, nursery):
    fake = FakeIdentity(trio.current_time, lifetime=400)
    store = MemoryTokenStore()
    first = stored_from(fake, SCOPES)
    store.tokens["bot"] = first
    fake.fail_next = [503, 500, 502]
    sup, source = await start_account(nursery, fake, store, platform="kick", required=frozenset())
    await trio.sleep(300)  # the refresh at 75 % fails three times, then works
    await trio.sleep(20)
    assert fake.refresh_requests == 4
    token = await source.token()
    assert token.value != first.access_token
    assert fake.check(token.value) is None
    assert account_detail(sup).state == LOGGED_IN
    await sup.stop()


async def test_a_failed_store_write_keeps_the_new_pair_and_retries_before_handing_it_out(
    autojump_clock, nursery
):
    fake = FakeIdentity(trio.current_time, lifetime=40)
    store = MemoryTokenStore()
    first = stored_from(fake, SCOPES)
    store.tokens["bot"] = first
    sup, source = await start_account(nursery, fake, store, platform="kick", required=frozenset())
    store.fail_saves = 2
    await trio.sleep(31)  # refresh at 30 s; two failed writes (1 s, 2 s backoff)
    token = await source.token()
    assert store.tokens["bot"].access_token == token.value  # stored before handed out
    assert fake.refresh_requests == 1  # the spent refresh token was not used again
    assert fake.check(token.value) is None
    await sup.stop()


async def test_a_second_401_after_a_refresh_makes_a_kick_account_needs_login(
    autojump_clock, nursery
):
    fake = FakeIdentity(trio.current_time, lifetime=3600, dialect="kick")
    store = MemoryTokenStore()
    store.tokens["bot"] = stored_from(fake, ["chat:write"])
    sup, source = await start_account(nursery, fake, store, platform="kick", required=frozenset())
    token = await source.token()
    await source.unauthorized(token)
    await trio.sleep(1)
    token2 = await source.token()
    assert token2.value != token.value
    await source.unauthorized(token2)
    await trio.sleep(1)
    try:
        await source.token()
        raise AssertionError("expected NeedsLogin")
    except NeedsLogin:
        pass
    assert fake.refresh_requests == 1
    await sup.stop()


async def test_no_token_reaches_a_log_line_or_the_snapshot(autojump_clock, nursery):
    fake = FakeIdentity(trio.current_time, lifetime=40)
    store = MemoryTokenStore()
    store.tokens["bot"] = stored_from(fake, SCOPES)
    with capture_logs() as logs:
        sup, source = await start_account(nursery, fake, store)
        token = await source.token()
        await trio.sleep(100)
        fake.revoke_all()
        await source.unauthorized(await source.token())
        await trio.sleep(10)
        snapshot = repr(sup.tree())
        await sup.stop()
    text = repr(logs) + snapshot + repr(token)
    for grant in fake.grants:
        for value in grant.access:
            assert value not in text
        for refresh in grant.spent_refresh | {grant.live_refresh}:
            assert refresh is not None and refresh not in text
    assert "xyzzy" not in text and "plugh" not in text
    assert any(entry.get("event") == "account needs a new login" for entry in logs)
    assert NEEDS_LOGIN in snapshot
