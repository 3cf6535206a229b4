"""TwitchChat logs in with the account's current token at every connect (MockClock)."""

from __future__ import annotations

import random
from typing import Any

import trio

from actors import Actor
from actors.accounts import AccountTokenSource
from actors.accounts.actor import AccountActor, AccountHealth
from config.models import AccountConfig, TwitchConfig
from supervisors import Backoff, ChildSpec, Supervisor
from tests.fakes.identity import FakeIdentity
from tests.fakes.token_store import MemoryTokenStore
from tests.fakes.twitch_irc import FakeTwitchIrc
from tests.unit.actors.accounts.test_actor import SCOPES, fake_now, inline, stored_from


class LiveTokens:
    """What the fake IRC server accepts: tokens the identity server says are live now."""

    def __init__(self, identity: FakeIdentity) -> None:
        self.identity = identity
        self.checked = 0

    def __contains__(self, value: object) -> bool:
        self.checked += 1
        return isinstance(value, str) and self.identity.check(value) is None


class Sink(Actor):
    async def handle(self, message: Any) -> Any:
        return None


async def start_tree(nursery: trio.Nursery, identity: FakeIdentity, irc: FakeTwitchIrc):
    from actors.twitch.chat import TwitchChat

    store = MemoryTokenStore()
    store.tokens["bot"] = stored_from(identity, SCOPES)
    account = AccountConfig(id="bot", platform="twitch", client_id="c", auth_url="https://id.test")
    chats: list[TwitchChat] = []

    def chat() -> TwitchChat:
        instance = TwitchChat(
            creator_id="daniel",
            config=TwitchConfig(channel="daniel", account="bot"),
            triggers=lambda: root.lookup("triggers"),
            url=irc.url,
            rng=random.Random(3),
            token_source=AccountTokenSource(lambda: root.lookup("bot")),
            stable_after=5.0,
            backoff_maximum=3.0,
        )
        chats.append(instance)
        return instance

    root = Supervisor(
        "root",
        [
            ChildSpec(
                "bot",
                lambda: AccountActor(
                    account=account,
                    store=store,
                    required_scopes=frozenset(SCOPES),
                    transport=identity.transport(),
                    clock=fake_now,
                    blocking=inline,
                ),
            ),
            ChildSpec("triggers", Sink),
            ChildSpec("twitch", chat),
        ],
        backoff=Backoff(initial=0),
    )
    await nursery.start(root.run)
    return root, chats, store


async def test_ten_minutes_of_reconnects_log_in_with_live_tokens_only(autojump_clock, nursery):
    identity = FakeIdentity(trio.current_time, lifetime=40, single_use_refresh=True)
    live = LiveTokens(identity)
    irc = await nursery.start(FakeTwitchIrc(valid_tokens=live).serve)  # type: ignore[arg-type]
    root, chats, _store = await start_tree(nursery, identity, irc)
    started = trio.current_time()
    while trio.current_time() - started < 600:
        await trio.sleep(13)
        await irc.drop()  # every reconnect must log in with the token valid right now
    await irc.wait_lines("JOIN", 20)
    assert identity.presented_bad == []
    assert chats[-1].lifecycle.person_failures == 0
    assert live.checked >= 20
    assert not any(grant.revoked for grant in identity.grants)
    assert len(irc.lines("PASS")) >= 20
    await root.stop()


async def test_a_revoked_grant_refused_by_irc_makes_the_account_needs_login(
    autojump_clock, nursery
):
    identity = FakeIdentity(trio.current_time, lifetime=4 * 3600)
    irc = await nursery.start(FakeTwitchIrc(valid_tokens=LiveTokens(identity)).serve)  # type: ignore[arg-type]
    root, chats, store = await start_tree(nursery, identity, irc)
    await irc.wait_lines("JOIN", 1)
    identity.revoke_all()
    revoked_at = trio.current_time()
    before = identity.refresh_requests
    await irc.drop()
    with trio.fail_after(60):
        for _ in range(60):
            if store.tokens["bot"].needs_login is not None:
                break
            await trio.sleep(1)
    assert trio.current_time() - revoked_at < 60
    await trio.sleep(600)  # nothing loops: at most 2 refresh attempts in all
    assert identity.refresh_requests - before <= 2
    assert chats[-1].status != "running"
    detail = next(r for r in root.tree() if r.path == "root/bot").detail
    assert isinstance(detail, AccountHealth)
    assert detail.state == "needs_login"
    assert detail.error is not None and "python -m runtime login bot" in detail.error
    await root.stop()
