"""Which scopes each feature needs, and so what each configured account must be granted.

The table is the one the README documents; `needed_scopes` reads the configuration and adds
up, per account id, what the features that name that account need.
"""

from __future__ import annotations

from collections.abc import Mapping

from config.models import Config

YOUTUBE_SCOPE = "https://www.googleapis.com/auth/youtube"

#: Feature → scopes, per platform. Google's device flow only allows `youtube` (not
#: `youtube.force-ssl`), which is enough to read and post live chat.
FEATURE_SCOPES: Mapping[str, frozenset[str]] = {
    "twitch.chat": frozenset({"chat:read", "chat:edit"}),
    # transport = "eventsub": chat read as channel.chat.message, sent with Helix.
    "twitch.chat.eventsub": frozenset({"user:read:chat", "user:write:chat"}),
    "twitch.broadcaster": frozenset(
        {
            "clips:edit",
            "channel:read:redemptions",
            "channel:manage:redemptions",
            "channel:read:subscriptions",
            "bits:read",
            "moderator:read:followers",
            "moderator:manage:banned_users",
            "moderator:manage:chat_messages",
        }
    ),
    # Filters that delete or time out, with the chat account when no broadcaster_account is
    # set (that account must moderate the channel).
    "twitch.moderation": frozenset(
        {"moderator:manage:banned_users", "moderator:manage:chat_messages"}
    ),
    # `youtube` also covers liveChatMessages.delete and liveChatBans.insert.
    "youtube.chat": frozenset({YOUTUBE_SCOPE}),
    "kick.chat": frozenset({"user:read", "chat:write"}),
    "kick.moderation": frozenset({"moderation:chat_message:manage", "moderation:ban"}),
}


def needed_scopes(config: Config) -> dict[str, frozenset[str]]:
    """Account id → the scopes the configured features using it need (every account listed)."""
    out: dict[str, set[str]] = {account.id: set() for account in config.accounts}

    def add(account_id: str | None, feature: str) -> None:
        if account_id is not None and account_id in out:
            out[account_id] |= FEATURE_SCOPES[feature]

    for creator in config.creators:
        moderates = any(f.action in ("delete", "timeout") for f in creator.filters)
        if creator.twitch is not None:
            add(creator.twitch.account, "twitch.chat")
            if creator.twitch.transport == "eventsub":
                add(creator.twitch.account, "twitch.chat.eventsub")
            add(creator.twitch.broadcaster_account, "twitch.broadcaster")
            if moderates:
                # The account moderation uses: the broadcaster's, else the chat account.
                moderator = creator.twitch.broadcaster_account or creator.twitch.account
                add(moderator, "twitch.moderation")
        if creator.youtube is not None:
            add(creator.youtube.account, "youtube.chat")
        if creator.kick is not None:
            add(creator.kick.account, "kick.chat")
            if moderates:
                add(creator.kick.account, "kick.moderation")
    return {key: frozenset(value) for key, value in out.items()}


def requested_scopes(config: Config, account_id: str) -> frozenset[str]:
    """What `login` asks for: the configured `scopes`, else what the features need."""
    for account in config.accounts:
        if account.id == account_id:
            if account.scopes is not None:
                return frozenset(account.scopes)
            return needed_scopes(config).get(account_id, frozenset())
    raise KeyError(account_id)
