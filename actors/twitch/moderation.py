"""`TwitchModerator`: a filter's `Moderate` carried out through Helix with a user token.

Deleting is ``DELETE /moderation/chat`` (scope ``moderator:manage:chat_messages``), a timeout
is ``POST /moderation/bans`` with ``data.duration`` (scope ``moderator:manage:banned_users``);
both name the channel (``broadcaster_id``) and the account acting (``moderator_id``, the
token's user: the broadcaster, or an account that moderates the channel). The requests are
the sans-IO builders of `actors.twitch.helix`; `UserHelix` sends them, reports a 401 to the
token source and retries once, and waits out a 429 until ``Ratelimit-Reset``. A 403 becomes
`ModerationRefused` naming the scope; any other failure `ModerationFailed`
(`actors.moderation.ModerationQueue` counts and logs them).
"""

from __future__ import annotations

from typing import Final

import httpx

from actors.accounts import AccessToken, TokenSource
from actors.chat import Moderate
from actors.moderation import ModerationFailed, ModerationRefused
from actors.twitch import helix
from actors.twitch.user_helix import HelixAnswer, UserHelix

__all__ = ["SCOPE_FOR_ACTION", "TwitchModerator"]

SCOPE_FOR_ACTION: Final = {
    "delete": "moderator:manage:chat_messages",
    "timeout": "moderator:manage:banned_users",
}


class TwitchModerator:
    """Carries out `Moderate` requests in the channel `channel` (a login) with the account
    behind `tokens`. Call it (``await moderator(moderate)``); see the module docs."""

    def __init__(
        self,
        *,
        channel: str,
        client_id: str,
        tokens: TokenSource,
        helix_base: str = helix.HELIX_BASE,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.channel = channel.lower()
        self.helix = UserHelix(
            client_id=client_id, tokens=tokens, helix_base=helix_base, transport=transport
        )
        self._broadcaster_id: str | None = None

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self.helix.aclose()

    async def __call__(self, moderate: Moderate) -> None:
        if moderate.action not in SCOPE_FOR_ACTION:
            raise ModerationFailed(f"unknown moderation action {moderate.action!r}")
        token = await self.helix.token()
        if not token.user_id:
            raise ModerationFailed(
                f"the token of account {token.account_id!r} names no Twitch user, so it cannot "
                "act as a moderator; configure it as an [[accounts]] entry and log in"
            )
        moderator_id = token.user_id
        broadcaster_id = await self._broadcaster(token)
        client_id = self.helix.client_id
        if moderate.action == "delete":
            if not moderate.message_id:
                raise ModerationFailed("the filtered message has no id to delete")
            message_id = moderate.message_id
            answer = await self.helix.call(
                lambda t: helix.delete_chat_message_request(
                    broadcaster_id, moderator_id, message_id, client_id=client_id, token=t
                )
            )
        else:
            seconds = moderate.seconds
            if seconds is None:
                raise ModerationFailed("a timeout needs its length in seconds")
            answer = await self.helix.call(
                lambda t: helix.ban_user_request(
                    broadcaster_id,
                    moderator_id,
                    moderate.user_id,
                    client_id=client_id,
                    token=t,
                    duration_seconds=seconds,
                    reason=moderate.reason,
                )
            )
        self._check(answer, moderate.action, token)

    def _check(self, answer: HelixAnswer, action: str, token: AccessToken) -> None:
        if answer.ok:
            return
        error = helix.parse_error(answer.status, answer.content)
        said = f"HTTP {answer.status}" + (f": {error.message}" if error.message else "")
        who = token.login or token.account_id
        if answer.status == 403:
            raise ModerationRefused(
                f"Twitch refused to {action} in #{self.channel} ({said}): the account {who!r} "
                f"needs the scope {SCOPE_FOR_ACTION[action]} and must be the broadcaster or a "
                "moderator of the channel; grant it and run python -m runtime login again"
            )
        if answer.status == 401:
            raise ModerationFailed(
                f"Twitch refused the token of account {who!r} ({said}) even after a refresh"
            )
        if answer.status == 429:
            raise ModerationFailed(f"Twitch rate limit still exhausted after waiting ({said})")
        raise ModerationFailed(f"Twitch did not {action} in #{self.channel} ({said})")

    async def _broadcaster(self, token: AccessToken) -> str:
        """The channel's user id: the token's own when it is the broadcaster's, else looked up
        once with ``GET /users``."""
        if self._broadcaster_id is not None:
            return self._broadcaster_id
        if token.user_id and (token.login or "").lower() == self.channel:
            self._broadcaster_id = token.user_id
            return token.user_id
        answer = await self.helix.call(
            lambda t: helix.users_request([self.channel], client_id=self.helix.client_id, token=t)
        )
        try:
            ids = helix.parse_user_ids(answer.status, answer.headers, answer.content)
        except helix.HelixApiError as exc:
            raise ModerationFailed(f"could not look up #{self.channel}'s user id ({exc})") from None
        if self.channel not in ids:
            raise ModerationFailed(f"Twitch has no user {self.channel!r}")
        self._broadcaster_id = ids[self.channel]
        return self._broadcaster_id
