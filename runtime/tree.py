"""The supervision tree of the runtime process, built from the configuration."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from actors import ActorRef
from actors.accounts import TokenSource
from actors.publisher import SnapshotPublisher
from actors.quotas.registry import QuotaRegistry
from actors.replay import ReplayChat
from actors.store import StateStore
from actors.triggers.engine import TriggerEngine
from actors.youtube.livechat import QUOTA_COSTS as YOUTUBE_QUOTA_COSTS
from config.loading import ConfigError, ConfigProblem
from config.models import AccountConfig, Config, CreatorConfig
from config.secrets import Secret
from exports.publish import ExportWriter, Mirror
from runtime.announce import HttpAnnouncement
from runtime.http_api import HTTP_ID, HttpServer, RequestCounters, build_app
from runtime.twitch_events import eventsub_chat_spec, twitch_events_spec
from supervisors import Backoff, ChildSpec, Strategy, Supervisor

if TYPE_CHECKING:
    from actors.twitch.moderation import TwitchModerator
    from actors.watch.webhook import WebhookStats


@attrs.frozen(kw_only=True)
class RuntimePaths:
    """Where the process keeps its files, all under the data folder (exports may differ)."""

    data_dir: Path
    database: Path
    logs: Path
    pid_file: Path
    http_file: Path  # `http.json`: the bound address, PID and instance id while serving
    exports: Path

    @classmethod
    def under(cls, data: Path, *, exports: Path | None = None) -> RuntimePaths:
        """The paths of a data folder (exports default to `<data>/exports/state`)."""
        return cls(
            data_dir=data,
            database=data / "state" / "runtime.sqlite3",
            logs=data / "logs" / "runtime.log",
            pid_file=data / "runtime.pid",
            http_file=data / "http.json",
            exports=exports if exports is not None else data / "exports" / "state",
        )

    @classmethod
    def from_config(cls, config: Config) -> RuntimePaths:
        return cls.under(config.runtime.data_dir, exports=config.state_root)


#: The root's children that keep and publish state: at a stop they get the last share of the
#: shutdown deadline, after everything that produces state has stopped (`runtime.shutdown`).
STATE_CHILDREN = frozenset({"store", "quotas", "publisher"})


def _bot_logins(creator: CreatorConfig) -> frozenset[str]:
    """Logins whose messages are the bot's own. Twitch never echoes a connection's own
    messages, and a bot logged in as the broadcaster must still hear the broadcaster typing
    elsewhere, so only a separate bot account is listed."""
    twitch = creator.twitch
    if twitch is not None and twitch.nick and twitch.nick != twitch.channel:
        return frozenset({twitch.nick.lower()})
    return frozenset()


def token_source(
    lookup: Callable[[str], ActorRef], account_id: str | None, static: Secret | None
) -> TokenSource | None:
    """The token source of a feature: its `[[accounts]]` actor, else a static token (warned
    about once: it is never refreshed), else none."""
    from actors.accounts import AccountTokenSource, StaticTokenSource

    if account_id is not None:
        return AccountTokenSource(lambda: lookup(f"accounts/{account_id}"))
    if static is not None:
        return StaticTokenSource(static.reveal())
    return None


def twitch_moderator(
    lookup: Callable[[str], ActorRef], creator: CreatorConfig, accounts: Sequence[Any]
) -> TwitchModerator | None:
    """The creator's Twitch filter moderation through Helix: with the broadcaster account's
    token, else the chat account's (it must moderate the channel); None without either."""
    twitch = creator.twitch
    if twitch is None:
        return None
    account_id = twitch.broadcaster_account or twitch.account
    for account in accounts:
        if account.id == account_id:
            from actors.accounts import AccountTokenSource
            from actors.twitch.helix import HELIX_BASE
            from actors.twitch.moderation import TwitchModerator

            return TwitchModerator(
                channel=twitch.channel,
                client_id=account.client_id,
                tokens=AccountTokenSource(lambda: lookup(f"accounts/{account_id}")),
                helix_base=account.api_url or HELIX_BASE,
            )
    return None


def accounts_spec(config: Config, data_dir: Path) -> ChildSpec:
    """`accounts`: one `AccountActor` per `[[accounts]]` entry, sharing the token store."""
    from actors.accounts.actor import AccountActor
    from actors.accounts.scopes import needed_scopes
    from actors.accounts.store import open_token_store

    store = open_token_store(config.token_store, data_dir)
    needed = needed_scopes(config)

    def account_child(account: AccountConfig) -> ChildSpec:
        return ChildSpec(
            account.id,
            lambda: AccountActor(
                account=account, store=store, required_scopes=needed.get(account.id, frozenset())
            ),
        )

    children = [account_child(a) for a in config.accounts]
    return ChildSpec(
        "accounts", lambda: Supervisor("accounts", children, max_restarts=10, max_seconds=60)
    )


@attrs.frozen(kw_only=True, eq=False)
class CreatorSubtree:
    """What `creator:<id>` is made of, kept once per creator for its whole life: its methods
    are the factories of the subtree and of its actors, called on every (re)start. (Closures
    made per creator cost about twice as much memory: a function and cells each.)"""

    creator: CreatorConfig
    lookup: Callable[[str], ActorRef]
    pseudonym_key: bytes
    accounts: Sequence[Any] = ()
    monitor: Callable[[], ActorRef] | None = None
    rng: random.Random | None = None

    def platform(self, name: str) -> ActorRef:
        """The ref of this creator's child `name`."""
        return self.lookup(f"creators/creator:{self.creator.id}/{name}")

    def triggers(self) -> ActorRef:
        return self.platform("triggers")

    def store(self) -> ActorRef:
        return self.lookup("store")

    def engine(self) -> TriggerEngine:
        return TriggerEngine(
            self.creator,
            store=self.store,
            platform=self.platform,
            pseudonym_key=self.pseudonym_key,
            self_logins=_bot_logins(self.creator),
        )

    def replay(self) -> ReplayChat:
        replay = self.creator.replay
        assert replay is not None  # only specified when configured
        return ReplayChat(
            creator_id=self.creator.id,
            file=replay.file,
            triggers=self.triggers,
            speed=replay.speed,
            loop=replay.loop,
            store=self.store,
        )

    def start(self) -> Supervisor:
        """A fresh `creator:<id>` supervisor over this creator's configured children."""
        creator, lookup, accounts = self.creator, self.lookup, self.accounts
        children = [ChildSpec("triggers", self.engine)]
        twitch = creator.twitch
        eventsub_chat = eventsub_chat_spec(
            lookup,
            creator,
            accounts=accounts,
            moderator=lambda: twitch_moderator(lookup, creator, accounts),
        )
        if eventsub_chat is not None:
            children.append(eventsub_chat)
        if twitch is not None and twitch.enabled and twitch.transport == "irc":
            from actors.twitch.chat import TwitchChat

            children.append(
                ChildSpec(
                    "twitch",
                    lambda: TwitchChat(
                        creator_id=creator.id,
                        config=twitch,
                        triggers=self.triggers,
                        token_source=(
                            token_source(lookup, twitch.account, None)
                            if twitch.account is not None
                            else None
                        ),
                        moderator=twitch_moderator(lookup, creator, accounts),
                    ),
                )
            )
        events = twitch_events_spec(lookup, creator, accounts=accounts, monitor=self.monitor)
        if events is not None:
            children.append(events)
        kick = creator.kick
        if kick is not None and kick.enabled:
            from actors.kick.chat import KickChat

            children.append(
                ChildSpec(
                    "kick",
                    lambda: KickChat(
                        creator_id=creator.id,
                        config=kick,
                        triggers=self.triggers,
                        token=kick.token,
                        broadcaster_user_id=kick.broadcaster_user_id,
                        token_source=token_source(lookup, kick.account, None),
                    ),
                )
            )
        youtube = creator.youtube
        if youtube is not None and youtube.enabled:
            from actors.youtube.chat import YouTubeChat

            children.append(
                ChildSpec(
                    "youtube",
                    lambda: YouTubeChat(
                        creator_id=creator.id,
                        config=youtube,
                        triggers=self.triggers,
                        quotas=lambda: lookup("quotas"),
                        store=self.store,
                        token_source=token_source(lookup, youtube.account, None),
                    ),
                )
            )
        rumble = creator.rumble
        if rumble is not None and rumble.enabled:
            from actors.rumble.chat import RumbleChat

            children.append(
                ChildSpec(
                    "rumble",
                    lambda: RumbleChat(
                        creator_id=creator.id,
                        config=rumble,
                        triggers=self.triggers,
                        store=self.store,
                    ),
                )
            )
        replay = creator.replay
        if replay is not None and replay.enabled:
            children.append(ChildSpec("replay", self.replay))
        return Supervisor(
            f"creator:{creator.id}",
            children,
            strategy=Strategy.REST_FOR_ONE,
            max_restarts=5,
            max_seconds=60,
            rng=self.rng,
        )


def creator_spec(
    lookup: Callable[[str], ActorRef],
    creator: CreatorConfig,
    *,
    pseudonym_key: bytes,
    accounts: Sequence[Any] = (),
    monitor: Callable[[], ActorRef] | None = None,
    rng: random.Random | None = None,
) -> ChildSpec:
    """`creator:<id>`: rest_for_one over the trigger engine and the platform actors, so a
    restarted engine gets fresh platform connections that deliver to it. `rng` draws the
    restart backoff's jitter: one shared by every creator (a generator's state is 2.5 KiB)."""
    subtree = CreatorSubtree(
        creator=creator,
        lookup=lookup,
        pseudonym_key=pseudonym_key,
        accounts=accounts,
        monitor=monitor,
        rng=rng,
    )
    return ChildSpec(f"creator:{creator.id}", subtree.start)


def _watch_and_discord(
    config: Config,
    lookup: Callable[[str], ActorRef],
    root: Callable[[], Supervisor],
    webhook_stats: WebhookStats | None = None,
) -> list[ChildSpec]:
    """`watch` (live monitor), `notify` (outbox dispatcher) and `discord` (control plane),
    each only when configured. `webhook_stats`: the EventSub webhook's counts (when its route
    is served), which the monitor shows."""
    # Imported here: a runtime that does not use them never pays for loading them.
    from actors.discord.bot import DEFAULT_GATEWAY_URL, DiscordGateway
    from actors.discord.http_client import DEFAULT_API_BASE, DiscordRest
    from actors.notify import NotificationDispatcher, rules_from_config
    from actors.twitch.app_helix import HELIX_BASE, OAUTH_BASE, HelixClient
    from actors.watch import LiveMonitor
    from exports.health import status_report
    from runtime.discord_commands import RuntimeControl

    specs: list[ChildSpec] = []
    rules = rules_from_config(config.notifications)
    discord = config.discord if config.discord is not None and config.discord.enabled else None
    api_base = (discord.api_base if discord else None) or DEFAULT_API_BASE
    watch = config.watch if config.watch is not None and config.watch.enabled else None
    if watch is not None:

        def helix() -> HelixClient | None:
            if watch.client_id is None or watch.client_secret is None:
                return None
            return HelixClient(
                client_id=watch.client_id,
                client_secret=watch.client_secret.reveal(),
                helix_base=watch.helix_url or HELIX_BASE,
                oauth_base=watch.oauth_url or OAUTH_BASE,
            )

        specs.append(
            ChildSpec(
                "watch",
                lambda: LiveMonitor(
                    store=lambda: lookup("store"),
                    helix=helix,
                    notifier=(lambda: lookup("notify")) if rules else None,
                    rules=rules,
                    streamers=watch.streamers,
                    streamer_ids=watch.streamer_ids,
                    games=watch.games,
                    kick_channels=watch.kick_channels,
                    poll_seconds=watch.poll_seconds,
                    webhook_stats=webhook_stats,
                ),
            )
        )
    if rules:
        specs.append(
            ChildSpec(
                "notify",
                lambda: NotificationDispatcher(
                    store=lambda: lookup("store"),
                    rules=rules,
                    bot_rest=(
                        DiscordRest(token=discord.token.reveal(), base_url=api_base)
                        if discord
                        else None
                    ),
                ),
            )
        )
    if discord is not None:
        specs.append(
            ChildSpec(
                "discord",
                lambda: DiscordGateway(
                    token=discord.token.reveal(),
                    control=lambda: RuntimeControl(root(), config),
                    application_id=discord.application_id,
                    guild_ids=discord.guild_ids,
                    admin_user_ids=discord.admin_user_ids,
                    gateway_url=discord.gateway_url or DEFAULT_GATEWAY_URL,
                    api_base=api_base,
                    health=lambda: status_report(root().tree(details=False)),
                    admin_channel_id=discord.admin_channel_id,
                    alert_after=discord.alert_after_seconds,
                ),
            )
        )
    return specs


def export_mirrors(config: Config) -> list[Mirror]:
    """The configured export mirrors, checked as the publisher's writer checks them.

    Raises `ConfigError` naming the mirror (a public mirror that also takes internal-only
    files, a mirror in the state root's folder): `check` calls this too, so it refuses what
    `run` would refuse.
    """
    label = str(config.source) if config.source is not None else "<config>"
    mirrors: list[Mirror] = []
    problems: list[ConfigProblem] = []
    for index, entry in enumerate(config.exports.mirrors):
        try:
            mirrors.append(
                Mirror(
                    root=entry.path, visibilities=frozenset(entry.visibility), name=str(entry.path)
                )
            )
        except ValueError as exc:
            problems.append(ConfigProblem(label, f"exports.mirrors[{index}].visibility", str(exc)))
    if not problems:
        try:
            ExportWriter(config.state_root, mirrors)  # only checks its folders; writes nothing
        except ValueError as exc:
            problems.append(ConfigProblem(label, "exports.mirrors", str(exc)))
    if problems:
        raise ConfigError(problems)
    return mirrors


def build_tree(
    config: Config,
    paths: RuntimePaths,
    *,
    started_at: datetime,
    pseudonym_key: bytes,
    secrets: frozenset[str],
    version: str,
    http_port: int | None = None,
    announce: HttpAnnouncement | None = None,
    instance: str = "",
) -> Supervisor:
    """root (one_for_one): store, quotas, publisher, http, creators (one per creator)."""
    # The factories below look `root` up when they run, after it is assigned at the end.
    children: list[ChildSpec] = []
    mirrors = export_mirrors(config)
    webhook_stats: WebhookStats | None = None
    children.append(
        ChildSpec(
            "store",
            lambda: StateStore(
                paths.database,
                # The publisher re-exports; the clip jobs pick up new `!clip` rows at once.
                subscribers=[lambda: root.lookup("publisher"), lambda: root.lookup("clips/jobs")],
            ),
            shutdown=30.0,  # let the last transaction commit
        )
    )
    children.append(
        ChildSpec(
            "quotas",
            lambda: QuotaRegistry(
                config.creators,
                costs={"youtube": YOUTUBE_QUOTA_COSTS},
                store=lambda: root.lookup("store"),
            ),
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
                file_bytes_per_second=config.exports.file_mib_per_second * 1024 * 1024,
                store=lambda: root.lookup("store"),
            ),
        )
    )
    if config.http.enabled:
        token = config.http.token.reveal() if config.http.token is not None else None
        watch = config.watch
        watch_secret = (
            watch.eventsub_secret.reveal()
            if watch is not None and watch.enabled and watch.eventsub_secret is not None
            else None
        )
        counters = RequestCounters()  # outlives restarts of `http`
        if watch_secret is not None:
            from actors.watch.webhook import WebhookStats

            # One count of the webhook's requests, shown by the monitor and by /status.
            webhook_stats = counters.webhook = WebhookStats()
        children.append(
            ChildSpec(
                HTTP_ID,
                lambda: HttpServer(
                    lambda: build_app(
                        root,
                        token=token,
                        version=version,
                        watch_secret=watch_secret,
                        counters=counters,
                        instance=instance,
                    ),
                    host=config.http.host,
                    port=config.http.port if http_port is None else http_port,
                    announce=announce,
                    counters=counters,
                ),
                shutdown=2.0,
            )
        )
    if config.clips is not None or any(c.clips is not None for c in config.creators):
        from actors.clips import ClipSupervisor

        children.append(
            ChildSpec(
                "clips",
                lambda: ClipSupervisor(
                    config=config, data_dir=paths.data_dir, store=lambda: root.lookup("store")
                ),
                shutdown=15.0,  # ffmpeg is asked to finish ('q') before it is killed
            )
        )
    if config.accounts:
        children.append(accounts_spec(config, paths.data_dir))
    children.extend(
        _watch_and_discord(config, lambda p: root.lookup(p), lambda: root, webhook_stats)
    )
    watching = config.watch is not None and config.watch.enabled
    jitter = random.Random()

    def lookup(path: str) -> ActorRef:
        return root.lookup(path)

    def monitor() -> ActorRef:
        return root.lookup("watch")

    # One `lookup`, `monitor` and jitter generator for every creator.
    creators = [
        creator_spec(
            lookup,
            c,
            pseudonym_key=pseudonym_key,
            accounts=config.accounts,
            # stream.online/offline from EventSub reach the live monitor without polling
            monitor=monitor if watching else None,
            rng=jitter,
        )
        for c in config.creators
        if c.enabled
    ]
    children.append(
        ChildSpec(
            "creators",
            lambda: Supervisor(
                "creators", creators, max_restarts=10, max_seconds=60, independent=True
            ),
            shutdown=15.0,
        )
    )
    root = Supervisor(
        "root", children, max_restarts=5, max_seconds=30, backoff=Backoff(maximum=10.0)
    )
    return root
