"""The supervision tree of the runtime process, built from the configuration."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import attrs

from actors import ActorRef
from actors.publisher import SnapshotPublisher
from actors.quotas.registry import QuotaRegistry
from actors.replay import ReplayChat
from actors.rumble.chat import RumbleChat
from actors.store import StateStore
from actors.triggers.engine import TriggerEngine
from actors.twitch.chat import TwitchChat
from actors.youtube.chat import YouTubeChat
from config.models import Config, CreatorConfig
from exports.publish import Mirror
from runtime.control import HttpServer, build_app
from supervisors import Backoff, ChildSpec, Strategy, Supervisor


@attrs.frozen(kw_only=True)
class RuntimePaths:
    """Where the process keeps its files, all under the data folder (exports may differ)."""

    data_dir: Path
    database: Path
    logs: Path
    pid_file: Path
    exports: Path

    @classmethod
    def from_config(cls, config: Config) -> RuntimePaths:
        data = config.runtime.data_dir
        return cls(
            data_dir=data,
            database=data / "state" / "runtime.sqlite3",
            logs=data / "logs" / "runtime.log",
            pid_file=data / "runtime.pid",
            exports=config.state_root,
        )


def _bot_logins(creator: CreatorConfig) -> frozenset[str]:
    """Logins whose messages are the bot's own. Twitch never echoes a connection's own
    messages, and a bot logged in as the broadcaster must still hear the broadcaster typing
    elsewhere, so only a separate bot account is listed."""
    twitch = creator.twitch
    if twitch is not None and twitch.nick and twitch.nick != twitch.channel:
        return frozenset({twitch.nick.lower()})
    return frozenset()


def creator_spec(
    lookup: Callable[[str], ActorRef], creator: CreatorConfig, *, pseudonym_key: bytes
) -> ChildSpec:
    """`creator:<id>`: rest_for_one over the trigger engine and the platform actors, so a
    restarted engine gets fresh platform connections that deliver to it."""
    base = f"creators/creator:{creator.id}"

    def platform(name: str) -> ActorRef:
        return lookup(f"{base}/{name}")

    def start() -> Supervisor:
        children = [
            ChildSpec(
                "triggers",
                lambda: TriggerEngine(
                    creator,
                    store=lambda: lookup("store"),
                    platform=platform,
                    pseudonym_key=pseudonym_key,
                    self_logins=_bot_logins(creator),
                ),
            )
        ]
        twitch = creator.twitch
        if twitch is not None and twitch.enabled:
            children.append(
                ChildSpec(
                    "twitch",
                    lambda: TwitchChat(
                        creator_id=creator.id,
                        config=twitch,
                        triggers=lambda: lookup(f"{base}/triggers"),
                    ),
                )
            )
        youtube = creator.youtube
        if youtube is not None and youtube.enabled:
            children.append(
                ChildSpec(
                    "youtube",
                    lambda: YouTubeChat(
                        creator_id=creator.id,
                        config=youtube,
                        triggers=lambda: lookup(f"{base}/triggers"),
                        quotas=lambda: lookup("quotas"),
                        store=lambda: lookup("store"),
                    ),
                )
            )
        rumble = creator.rumble
        if rumble is not None and rumble.enabled:
            children.append(
                ChildSpec(
                    "rumble",
                    lambda: RumbleChat(
                        creator_id=creator.id,
                        config=rumble,
                        triggers=lambda: lookup(f"{base}/triggers"),
                        store=lambda: lookup("store"),
                    ),
                )
            )
        replay = creator.replay
        if replay is not None and replay.enabled:
            children.append(
                ChildSpec(
                    "replay",
                    lambda: ReplayChat(
                        creator_id=creator.id,
                        file=replay.file,
                        triggers=lambda: lookup(f"{base}/triggers"),
                        speed=replay.speed,
                        loop=replay.loop,
                    ),
                )
            )
        return Supervisor(
            f"creator:{creator.id}",
            children,
            strategy=Strategy.REST_FOR_ONE,
            max_restarts=5,
            max_seconds=60,
        )

    return ChildSpec(f"creator:{creator.id}", start)


def build_tree(
    config: Config,
    paths: RuntimePaths,
    *,
    started_at: datetime,
    pseudonym_key: bytes,
    secrets: frozenset[str],
    version: str,
    http_port: int | None = None,
) -> Supervisor:
    """root (one_for_one): store, quotas, publisher, http, creators (one per creator)."""
    # The factories below look `root` up when they run, after it is assigned at the end.
    children: list[ChildSpec] = []
    mirrors = [
        Mirror(root=m.path, visibilities=frozenset(m.visibility), name=str(m.path))
        for m in config.exports.mirrors
    ]
    children.append(
        ChildSpec(
            "store",
            lambda: StateStore(paths.database, subscribers=[lambda: root.lookup("publisher")]),
            shutdown=30.0,  # let the last transaction commit
        )
    )
    children.append(
        ChildSpec(
            "quotas", lambda: QuotaRegistry(config.creators, store=lambda: root.lookup("store"))
        )
    )
    children.append(
        ChildSpec(
            "publisher",
            lambda: SnapshotPublisher(
                database=paths.database,
                root=paths.exports,
                mirrors=mirrors,
                creators=config.creators,
                tree=root.tree,
                root_name=root.name,
                started_at=started_at,
                pseudonym_key=pseudonym_key,
                secrets=secrets,
                heartbeat_seconds=config.exports.heartbeat_seconds,
            ),
        )
    )
    if config.http.enabled:
        token = config.http.token.reveal() if config.http.token is not None else None
        children.append(
            ChildSpec(
                "http",
                lambda: HttpServer(
                    lambda: build_app(root, token=token, version=version),
                    host=config.http.host,
                    port=config.http.port if http_port is None else http_port,
                ),
                shutdown=2.0,
            )
        )
    creators = [
        creator_spec(lambda p: root.lookup(p), c, pseudonym_key=pseudonym_key)
        for c in config.creators
        if c.enabled
    ]
    children.append(
        ChildSpec(
            "creators",
            lambda: Supervisor("creators", creators, max_restarts=10, max_seconds=60),
            shutdown=15.0,
        )
    )
    root = Supervisor(
        "root", children, max_restarts=5, max_seconds=30, backoff=Backoff(maximum=10.0)
    )
    return root
