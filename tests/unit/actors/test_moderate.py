"""Platform chat actors take a filter's `Moderate` request: those that cannot moderate (yet,
or as configured) count it (and log it) instead of crashing."""

from __future__ import annotations

import pytest

from actors import ActorRef
from actors._actor import bind_logger
from actors.accounts import StaticTokenSource
from actors.chat import Moderate
from actors.kick.chat import KickChat
from actors.rumble.chat import RumbleChat
from actors.twitch.chat import TwitchChat
from actors.twitch.events_actor import TwitchEvents
from actors.youtube.chat import YouTubeChat
from config.models import CreatorConfig, KickConfig, RumbleConfig, TwitchConfig, YouTubeConfig
from config.secrets import Secret, SecretRef


def NOBODY() -> ActorRef:
    raise AssertionError("never called: the actors are not started")


MODERATE = Moderate(
    action="timeout", message_id="m-1", user_id="1", login="spammer", seconds=60, filter_id="x"
)


def _actors() -> list:
    secret = Secret(SecretRef(env="TEST_SECRET"), value="x")
    return [
        TwitchChat(creator_id="d", config=TwitchConfig(channel="daniel"), triggers=NOBODY),
        TwitchEvents(  # chat over EventSub, without a moderation account
            creator=CreatorConfig(
                id="d", twitch=TwitchConfig(channel="daniel", transport="eventsub", account="a")
            ),
            role="chat",
            client_id="client",
            tokens=StaticTokenSource("x", warn=False),
            triggers=NOBODY,
        ),
        KickChat(
            creator_id="d", config=KickConfig(channel="daniel", chatroom_id=1), triggers=NOBODY
        ),
        RumbleChat(
            creator_id="d", config=RumbleConfig(api_url=secret), triggers=NOBODY, store=NOBODY
        ),
        YouTubeChat(
            creator_id="d",
            config=YouTubeConfig(video_id="v", api_key=secret),
            triggers=NOBODY,
            quotas=NOBODY,
            store=NOBODY,
        ),
    ]


@pytest.mark.parametrize("actor", _actors(), ids=lambda a: type(a).__name__)
async def test_a_platform_that_cannot_moderate_yet_counts_the_request(actor):
    actor.log = bind_logger(f"root/{type(actor).__name__}")  # what its supervisor gives it
    assert await actor.handle(MODERATE) is None
    queue = getattr(actor, "moderation", None)
    if queue is not None:  # a platform that moderates, not configured to here
        assert queue.counts["unsupported"] == 1
    else:
        assert actor.moderation_unsupported == 1
