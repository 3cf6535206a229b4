"""The runtime's own tree with a Twitch creator on the fake Twitch IRC server.

Built by `runtime.tree.build_tree` exactly as `python -m runtime run` builds it (store,
quotas, publisher, creators; HTTP off), run in-process so the test can drive the fake server.
Real clock: the store and the publisher work in threads.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trio

from actors.publisher import PublishNow
from config.loading import loads_config
from exports.schemas import validate
from runtime.app import check_database
from runtime.tree import RuntimePaths, build_tree
from supervisors import Supervisor
from tests.fakes.twitch_irc import FakeTwitchIrc

pytestmark = pytest.mark.integration

CONFIG = """
[runtime]
data_dir = "data"
[http]
enabled = false

[[creators]]
id = "daniel"
display_name = "Daniel"
[creators.twitch]
channel = "daniel"
nick = "danielbot"
token = {{ env = "TWITCH_TOKEN_DANIEL" }}
server = "{server}"

[[creators.tallies]]
id = "deaths"
label = "Deaths"

[[creators.triggers]]
id = "ping"
pattern = "!ping"
response = "pong, {{user}}!"

[[creators.triggers]]
id = "poll-open"
pattern = "!poll"
permission = "moderator"
action = "poll_open"
response = "Poll: {{question}} {{options}}"

[[creators.triggers]]
id = "poll-vote"
pattern = "!vote"
action = "poll_vote"

[[creators.triggers]]
id = "poll-close"
pattern = "!endpoll"
permission = "moderator"
action = "poll_close"
response = "{{winner}} wins with {{votes}} votes"

[[creators.triggers]]
id = "death"
pattern = "!death"
action = "tally_increment"
tally = "deaths"
response = "Deaths: {{count}}"
"""

_serial = 0


def line(
    login: str, user_id: str, text: str, *, mod: bool = False, msg_id: str | None = None
) -> str:
    """A PRIVMSG as Twitch sends it, tags and all."""
    global _serial
    _serial += 1
    badges = "moderator/1" if mod else ""
    ident = msg_id or f"00000000-0000-4000-8000-{_serial:012d}"
    return (
        f"@badge-info=;badges={badges};color=;display-name={login.title()};emotes=;"
        f"first-msg=0;flags=;id={ident};mod={int(mod)};room-id=1000;subscriber=0;"
        f"tmi-sent-ts=1763750000000;turbo=0;user-id={user_id};user-type= "
        f":{login}!{login}@{login}.tmi.twitch.tv PRIVMSG #daniel :{text}"
    )


async def start_runtime(
    nursery: trio.Nursery, tmp_path: Path, fake: FakeTwitchIrc
) -> tuple[Supervisor, RuntimePaths]:
    source = tmp_path / "runtime.toml"
    config = loads_config(
        CONFIG.format(server=fake.url),
        source=source,
        environ={"TWITCH_TOKEN_DANIEL": "fake-token-0123456789abcdef"},
    )
    paths = RuntimePaths.from_config(config)
    paths.database.parent.mkdir(parents=True)
    paths.exports.mkdir(parents=True)
    key = check_database(paths.database, config)
    root = build_tree(
        config,
        paths,
        started_at=datetime.now(UTC),
        pseudonym_key=key,
        secrets=frozenset(),
        version="test",
    )
    await nursery.start(root.run)
    return root, paths


async def replies(fake: FakeTwitchIrc, count: int) -> list[str]:
    received = await fake.wait_lines("PRIVMSG", count, give_up_after=20)
    return [r.line.split(" :", 1)[1] for r in received]


async def publish(root: Supervisor, paths: RuntimePaths, name: str) -> dict:
    await root.lookup("publisher").call(PublishNow(), timeout=20)
    doc = json.loads((paths.exports / name).read_text(encoding="utf-8"))
    validate(name, doc)
    return doc


async def test_ping_and_a_poll_run_end_to_end_into_polls_json(nursery, tmp_path: Path) -> None:
    fake = await nursery.start(FakeTwitchIrc().serve)
    root, paths = await start_runtime(nursery, tmp_path, fake)
    await fake.wait_lines("JOIN", 1, give_up_after=20)

    await fake.inject(line("viewer", "501", "!ping"))
    assert (await replies(fake, 1))[-1] == "pong, Viewer!"

    await fake.inject(line("modder", "502", "!poll Best boss? | Hydra | Kraken", mod=True))
    assert (await replies(fake, 2))[-1].startswith("Poll: Best boss?")
    for login, uid, vote in [("ann", "601", "1"), ("bob", "602", "2"), ("cat", "603", "2")]:
        await fake.inject(line(login, uid, f"!vote {vote}"))
    await fake.inject(line("ann", "601", "!vote 2"))  # a changed vote, still one vote
    await fake.inject(line("modder", "502", "!endpoll", mod=True))
    assert (await replies(fake, 3))[-1] == "Kraken wins with 3 votes"

    doc = await publish(root, paths, "polls.json")
    (poll,) = doc["polls"]
    assert poll["state"] == "closed" and poll["total_votes"] == 3
    assert {o["label"]: o["votes"] for o in poll["options"]} == {"Hydra": 0, "Kraken": 3}
    text = (paths.exports / "polls.json").read_text(encoding="utf-8")
    for identity in ("601", "602", "603", "ann", "bob", "cat"):
        assert f'"{identity}"' not in text and f"{identity} " not in text
    snapshot = await publish(root, paths, "runtime_snapshot.json")
    (twitch,) = [p for p in snapshot["platforms"] if p["platform"] == "twitch"]
    assert twitch["status"] == "running" and twitch["counters"]["messages"] >= 7
    await root.stop()


async def test_a_drop_reconnects_and_a_replayed_message_counts_once(
    nursery, tmp_path: Path
) -> None:
    fake = await nursery.start(FakeTwitchIrc().serve)
    root, paths = await start_runtime(nursery, tmp_path, fake)
    await fake.wait_lines("JOIN", 1, give_up_after=20)
    first = line("viewer", "501", "!death", msg_id="11111111-1111-4111-8111-111111111111")
    await fake.inject(first)
    assert (await replies(fake, 1))[-1] == "Deaths: 1"
    await fake.drop()
    await fake.wait_lines("JOIN", 2, give_up_after=20)  # reconnected and rejoined
    await fake.inject(first)  # the same message again (a replay after reconnect)
    await fake.inject(line("viewer", "501", "!death"))
    assert (await replies(fake, 2))[-1] == "Deaths: 2"
    doc = await publish(root, paths, "tallies.json")
    assert [(t["tally_id"], t["count"]) for t in doc["tallies"]] == [("deaths", 2)]
    await root.stop()


async def test_a_refused_login_is_an_error_state_not_a_reconnect_loop(
    nursery, tmp_path: Path
) -> None:
    fake = FakeTwitchIrc()
    fake.refuse_logins(True)
    await nursery.start(fake.serve)
    root, paths = await start_runtime(nursery, tmp_path, fake)
    await fake.wait_for(lambda f: f.connections >= 1, give_up_after=20)
    await trio.sleep(2)
    snapshot = await publish(root, paths, "runtime_snapshot.json")
    (twitch,) = [p for p in snapshot["platforms"] if p["platform"] == "twitch"]
    assert twitch["status"] == "error" and "login" in (twitch["error"] or "").lower()
    assert fake.connections == 1  # the next try waits for the auth backoff (30 s and up)
    await root.stop()
