"""End to end: a Twitch creator's `!ping` answered through the fake Twitch IRC server.

The real trigger engine with a real `StateStore` on a temporary database, the `TwitchChat`
actor, and `FakeTwitchIrc` on loopback, wired like the runtime's `creator:<id>` subtree
(rest_for_one: triggers first, then the platform). Real clock: the store works in a thread.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from actors import ActorRef
from actors.store import StateStore
from actors.triggers.engine import TriggerEngine
from actors.twitch.chat import TwitchChat
from config.models import CreatorConfig, TriggerConfig, TwitchConfig
from config.secrets import Secret, SecretRef
from supervisors import ChildSpec, Strategy, Supervisor
from tests.fakes.twitch_irc import FakeTwitchIrc

pytestmark = pytest.mark.integration

PING = (
    "@badge-info=;badges=;color=#1E90FF;display-name=Viewer;emotes=;first-msg=0;flags=;"
    "id=0b6a5c1e-7f0e-4d8e-9a51-3c1d8f0e2a77;mod=0;room-id=22484632;subscriber=0;"
    "tmi-sent-ts=1763750000000;turbo=0;user-id=467684514;user-type= "
    ":viewer!viewer@viewer.tmi.twitch.tv PRIVMSG #daniel :!ping"
)


async def test_a_ping_command_is_answered_through_twitch(nursery, tmp_path: Path) -> None:
    fake: FakeTwitchIrc = await nursery.start(FakeTwitchIrc().serve)
    creator = CreatorConfig(
        id="daniel",
        twitch=TwitchConfig(
            channel="daniel",
            nick="danielbot",
            token=Secret(SecretRef(env="TWITCH_TOKEN_DANIEL"), value="tok"),
            server=fake.url,
        ),
        triggers=(TriggerConfig(id="ping", pattern="!ping", response="pong, {user}!"),),
    )
    assert creator.twitch is not None
    twitch_config = creator.twitch
    base = "creators/creator:daniel"

    def lookup(path: str) -> ActorRef:
        return root.lookup(path)

    creator_sup = ChildSpec(
        "creator:daniel",
        lambda: Supervisor(
            "creator:daniel",
            [
                ChildSpec(
                    "triggers",
                    lambda: TriggerEngine(
                        creator,
                        store=lambda: lookup("store"),
                        platform=lambda name: lookup(f"{base}/{name}"),
                        pseudonym_key=b"k" * 32,
                        self_logins=frozenset({"danielbot"}),
                    ),
                ),
                ChildSpec(
                    "twitch",
                    lambda: TwitchChat(
                        creator_id="daniel",
                        config=twitch_config,
                        triggers=lambda: lookup(f"{base}/triggers"),
                    ),
                ),
            ],
            strategy=Strategy.REST_FOR_ONE,
        ),
    )
    root = Supervisor(
        "root",
        [
            ChildSpec("store", lambda: StateStore(tmp_path / "runtime.sqlite3")),
            ChildSpec("creators", lambda: Supervisor("creators", [creator_sup])),
        ],
    )
    await nursery.start(root.run)
    with trio.fail_after(10):
        await fake.wait_lines("JOIN")
        await fake.inject(PING)
        [reply] = await fake.wait_lines("PRIVMSG")
    assert reply.line == (
        "@reply-parent-msg-id=0b6a5c1e-7f0e-4d8e-9a51-3c1d8f0e2a77 PRIVMSG #daniel :pong, Viewer!"
    )
    # The connection was logged in with the configured server and token.
    assert [r.line for r in fake.received[:3]][1:] == ["PASS oauth:tok", "NICK danielbot"]
    await root.stop()
