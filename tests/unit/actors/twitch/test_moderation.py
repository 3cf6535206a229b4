"""A filter's `Moderate` reaching `TwitchChat` is carried out through Helix (`FakeHelix`):
delete and timeout with the right broadcaster and moderator ids, a 403 refused with the scope
named, a 401 reported to the token source, a 429 waited out. Real loopback sockets, the real
clock, every wait bounded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import trio
from structlog.testing import capture_logs

from actors.accounts import StaticTokenSource
from actors.chat import Moderate
from actors.store import StateStore
from actors.triggers.engine import TriggerEngine
from actors.twitch import helix
from actors.twitch.chat import TwitchChat
from actors.twitch.moderation import TwitchModerator
from config.models import CreatorConfig, FilterConfig, TwitchConfig
from config.secrets import Secret, SecretRef
from supervisors import ChildSpec, Supervisor
from tests.fakes.helix import FakeHelix
from tests.fakes.twitch_irc import FakeTwitchIrc

BROADCASTER_TOKEN = "broadcaster-token"
MOD_TOKEN = "mod-token"


async def eventually(predicate: Callable[[], bool]) -> None:
    """Poll `predicate` (the actor's counters have no event to wait on), for 10 s at most."""
    with trio.fail_after(10):
        while True:
            if predicate():
                return
            await trio.sleep(0.01)


@pytest.fixture
async def fake(nursery) -> FakeHelix:
    fake = FakeHelix()
    fake.add_user("daniel", "1337", BROADCASTER_TOKEN)
    fake.add_user("streambot", "42", MOD_TOKEN)
    return await nursery.start(fake.serve)


def tokens(token: str, login: str, user_id: str) -> StaticTokenSource:
    return StaticTokenSource(token, login=login, user_id=user_id, warn=False)


async def start_chat(
    nursery: trio.Nursery, fake: FakeHelix, source: StaticTokenSource | None
) -> tuple[TwitchChat, Any]:
    """A `TwitchChat` under a supervisor; its IRC side is disabled (moderation needs none)."""
    made: list[TwitchChat] = []

    def make() -> TwitchChat:
        moderator = (
            TwitchModerator(
                channel="daniel",
                client_id=fake.client_id,
                tokens=source,
                helix_base=fake.helix_base,
            )
            if source is not None
            else None
        )
        chat = TwitchChat(
            creator_id="daniel",
            config=TwitchConfig(channel="daniel", enabled=False),
            triggers=lambda: root.lookup("triggers"),
            moderator=moderator,
        )
        made.append(chat)
        return chat

    root = Supervisor("root", [ChildSpec("twitch", make)])
    await nursery.start(root.run)
    return made[-1], root.lookup("twitch")


def delete(message_id: str = "msg-1") -> Moderate:
    return Moderate(
        action="delete",
        message_id=message_id,
        user_id="777",
        login="spammer",
        reason="links: a link",
        filter_id="links",
    )


def timeout(seconds: int = 600) -> Moderate:
    return Moderate(
        action="timeout",
        message_id="msg-2",
        user_id="777",
        login="spammer",
        seconds=seconds,
        reason="caps: shouting",
        filter_id="caps",
    )


async def test_a_filtered_link_is_deleted_through_helix_as_the_broadcaster(nursery, fake):
    chat, ref = await start_chat(nursery, fake, tokens(BROADCASTER_TOKEN, "daniel", "1337"))
    ref.cast(delete("abc-123"))
    await eventually(lambda: chat.moderation.counts["done"] == 1)
    assert fake.moderation == [
        {
            "method": "DELETE",
            "path": "/helix/moderation/chat",
            "broadcaster_id": "1337",
            "moderator_id": "1337",
            "message_id": "abc-123",
        }
    ]
    # The broadcaster's own token names the channel: no user lookup was needed.
    assert fake.calls("/helix/users") == []


async def test_a_timeout_filter_bans_for_its_seconds_as_a_moderator_account(nursery, fake):
    chat, ref = await start_chat(nursery, fake, tokens(MOD_TOKEN, "streambot", "42"))
    ref.cast(timeout(600))
    await eventually(lambda: chat.moderation.counts["done"] == 1)
    assert fake.moderation == [
        {
            "method": "POST",
            "path": "/helix/moderation/bans",
            "broadcaster_id": "1337",  # looked up by the channel's login
            "moderator_id": "42",  # the token's user
            "user_id": "777",
            "duration": 600,
            "reason": "caps: shouting",
        }
    ]
    ref.cast(timeout(30))
    await eventually(lambda: chat.moderation.counts["done"] == 2)
    assert len(fake.calls("/helix/users")) == 1  # the channel's id is remembered


async def test_a_403_is_counted_and_logged_with_the_scope(nursery, fake):
    chat, ref = await start_chat(nursery, fake, tokens(MOD_TOKEN, "streambot", "42"))
    fake.moderation_answers = [403, 403]
    with capture_logs() as logs:
        ref.cast(delete())
        ref.cast(timeout())
        await eventually(lambda: chat.moderation.counts["refused"] == 2)
    assert fake.moderation == []
    warnings = [e["event"] for e in logs if e.get("outcome") == "refused"]
    assert len(warnings) == 2
    assert "moderator:manage:chat_messages" in warnings[0]
    assert "moderator:manage:banned_users" in warnings[1]
    assert "streambot" in warnings[1]
    assert "moderator:manage:banned_users" in (chat.snapshot().moderation.last_error or "")
    # The actor lives on and moderates again once Twitch agrees.
    ref.cast(delete("later"))
    await eventually(lambda: chat.moderation.counts["done"] == 1)


async def test_a_401_is_reported_to_the_token_source_and_retried(nursery, fake):
    source = tokens(BROADCASTER_TOKEN, "daniel", "1337")
    chat, ref = await start_chat(nursery, fake, source)
    fake.moderation_answers = [401]
    ref.cast(delete())
    await eventually(lambda: chat.moderation.counts["done"] == 1)
    assert source.unauthorized_reports == 1
    assert len(fake.moderation) == 1


async def test_a_429_waits_for_the_bucket_then_moderates(nursery, fake):
    chat, ref = await start_chat(nursery, fake, tokens(BROADCASTER_TOKEN, "daniel", "1337"))
    fake.moderation_answers = [429]
    fake.moderation_reset_in = 1.0
    started = trio.current_time()
    ref.cast(delete())
    await eventually(lambda: chat.moderation.counts["done"] == 1)
    assert [c.status for c in fake.calls("/helix/moderation/chat")] == [429, 204]
    assert trio.current_time() - started >= 0.05  # it waited before trying again


async def test_without_a_moderation_account_the_request_is_counted_unsupported(nursery, fake):
    chat, ref = await start_chat(nursery, fake, None)
    with capture_logs() as logs:
        await ref.call(delete())
    assert chat.moderation.counts["unsupported"] == 1
    assert any("broadcaster_account" in e["event"] for e in logs)
    assert fake.moderation == []


def test_the_moderation_requests_are_built_as_helix_documents() -> None:
    deleted = helix.delete_chat_message_request("1", "2", "m", client_id="c", token="t")
    assert (deleted.method, deleted.url) == ("DELETE", helix.HELIX_BASE + "/moderation/chat")
    assert deleted.params == (("broadcaster_id", "1"), ("moderator_id", "2"), ("message_id", "m"))
    banned = helix.ban_user_request(
        "1", "2", "9", client_id="c", token="tok-secret", duration_seconds=60, reason="r"
    )
    assert banned.method == "POST"
    assert banned.params == (("broadcaster_id", "1"), ("moderator_id", "2"))
    assert banned.json == {"data": {"user_id": "9", "duration": 60, "reason": "r"}}
    assert "tok-secret" not in repr(banned)
    with pytest.raises(ValueError):
        helix.ban_user_request("1", "2", "9", client_id="c", token="t", duration_seconds=0)
    with pytest.raises(ValueError):
        helix.ban_user_request(
            "1", "2", "9", client_id="c", token="t", duration_seconds=helix.BAN_MAX_SECONDS + 1
        )


async def test_a_link_in_twitch_chat_is_deleted_through_helix(nursery, fake, tmp_path):
    """The whole path: an IRC PRIVMSG with a link, the engine's links filter, the `Moderate`
    it casts to `TwitchChat`, and Helix's DELETE with the channel's and the account's ids."""
    irc = await nursery.start(FakeTwitchIrc().serve)
    twitch = TwitchConfig(
        channel="daniel",
        nick="daniel",
        token=Secret(SecretRef(env="TWITCH_TOKEN"), value="irc-token"),
        server=irc.url,
    )
    links = FilterConfig(id="links", kind="links", allow=("twitch.tv",), action="delete")
    creator = CreatorConfig(id="daniel", twitch=twitch, filters=(links,))
    source = tokens(BROADCASTER_TOKEN, "daniel", "1337")
    root: Supervisor
    root = Supervisor(
        "root",
        [
            ChildSpec("store", lambda: StateStore(tmp_path / "runtime.sqlite3")),
            ChildSpec(
                "triggers",
                lambda: TriggerEngine(
                    creator,
                    store=lambda: root.lookup("store"),
                    platform=lambda name: root.lookup(name),
                    pseudonym_key=b"k" * 32,
                ),
            ),
            ChildSpec(
                "twitch",
                lambda: TwitchChat(
                    creator_id="daniel",
                    config=twitch,
                    triggers=lambda: root.lookup("triggers"),
                    moderator=TwitchModerator(
                        channel="daniel",
                        client_id=fake.client_id,
                        tokens=source,
                        helix_base=fake.helix_base,
                    ),
                ),
            ),
        ],
    )
    await nursery.start(root.run)
    await irc.wait_lines("JOIN", give_up_after=10)
    viewer = "@badges=;display-name=Spammer;id={id};mod=0;room-id=1337;tmi-sent-ts=1;user-id=777"
    prefix = ":spammer!spammer@spammer.tmi.twitch.tv PRIVMSG #daniel :"
    await irc.inject(viewer.format(id="ok-1") + " " + prefix + "clips at twitch.tv/daniel")
    await irc.inject(
        viewer.format(id="spam-1") + " " + prefix + "cheap followers at https://spam.example/buy"
    )
    await eventually(lambda: len(fake.moderation) == 1)
    assert fake.moderation == [
        {
            "method": "DELETE",
            "path": "/helix/moderation/chat",
            "broadcaster_id": "1337",
            "moderator_id": "1337",
            "message_id": "spam-1",
        }
    ]
    await root.stop()
