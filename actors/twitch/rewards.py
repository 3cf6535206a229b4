"""Channel-points rewards, sans-IO: what to create, update or disable to match the configuration.

The runtime recognises its own rewards by the Twitch reward id it stored when it created them
(keyed by the configuration id), never by title. Twitch lets only the client id that created a
reward fulfil or refund its redemptions, so every configured reward must be one we created;
a reward the streamer made by hand is never touched, and a configured reward whose title a
hand-made one already holds is an error (Twitch titles are unique per channel). A reward of
ours that left the configuration is disabled, never deleted: deleting would lose its queue of
redemptions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from actors.twitch.helix import CustomReward
from config.models import TwitchRewardConfig

__all__ = ["RewardPlan", "plan_rewards", "reward_settings"]


def reward_settings(reward: TwitchRewardConfig) -> dict[str, Any]:
    """The Helix body fields for a configured reward."""
    return {
        "title": reward.title,
        "cost": reward.cost,
        "prompt": reward.prompt,
        "is_enabled": reward.enabled,
        "is_user_input_required": False,
    }


def _differs(reward: TwitchRewardConfig, existing: CustomReward) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if existing.title != reward.title:
        changes["title"] = reward.title
    if existing.cost != reward.cost:
        changes["cost"] = reward.cost
    if existing.prompt != reward.prompt:
        changes["prompt"] = reward.prompt
    if existing.is_enabled != reward.enabled:
        changes["is_enabled"] = reward.enabled
    return changes


@attrs.frozen(kw_only=True)
class RewardPlan:
    """The calls that bring the channel in line with the configuration.

    `create`: configured rewards to create. `update`: (config id, reward id, changed fields).
    `adopt`: (config id, reward id) of ours found by title after our record was lost: recorded
    again (then updated like the others). `disable`: (config id, reward id) of ours no longer
    configured. `keep`: config id -> reward id already right. `conflicts`: sentences for rewards
    that cannot be made because a hand-made reward holds their title.
    """

    create: tuple[TwitchRewardConfig, ...] = ()
    update: tuple[tuple[str, str, Mapping[str, Any]], ...] = ()
    adopt: tuple[tuple[str, str], ...] = ()
    disable: tuple[tuple[str, str], ...] = ()
    keep: Mapping[str, str] = attrs.field(factory=dict)
    conflicts: tuple[str, ...] = ()


def plan_rewards(
    configured: Iterable[TwitchRewardConfig],
    *,
    known: Mapping[str, str],
    existing: Iterable[CustomReward],
    manageable: Iterable[str],
) -> RewardPlan:
    """Plan the reward calls.

    `known`: config id -> reward id as stored; `existing`: every reward of the channel;
    `manageable`: ids of the rewards our client id created (`only_manageable_rewards`).
    """
    by_id = {r.id: r for r in existing}
    ours = set(manageable) & set(by_id)
    by_title = {r.title.casefold(): r for r in by_id.values()}
    create: list[TwitchRewardConfig] = []
    update: list[tuple[str, str, Mapping[str, Any]]] = []
    adopt: list[tuple[str, str]] = []
    keep: dict[str, str] = {}
    conflicts: list[str] = []
    claimed: set[str] = set()
    configured = list(configured)
    for reward in configured:
        reward_id = known.get(reward.id)
        current = by_id.get(reward_id) if reward_id in ours else None
        if current is None:
            holder = by_title.get(reward.title.casefold())
            if holder is None:
                create.append(reward)
                continue
            if holder.id not in ours or holder.id in claimed:
                conflicts.append(
                    f"reward {reward.id!r}: the title {reward.title!r} belongs to a reward made "
                    "by hand on Twitch, which the runtime never changes; rename one of them"
                )
                continue
            current = holder  # ours, but our record of it was lost (a new database)
            adopt.append((reward.id, holder.id))
        claimed.add(current.id)
        changes = _differs(reward, current)
        if changes:
            update.append((reward.id, current.id, changes))
        keep[reward.id] = current.id
    configured_ids = {r.id for r in configured}
    disable = tuple(
        (key, reward_id)
        for key, reward_id in sorted(known.items())
        if key not in configured_ids
        and reward_id in ours
        and reward_id not in claimed
        and by_id[reward_id].is_enabled
    )
    return RewardPlan(
        create=tuple(create),
        update=tuple(update),
        adopt=tuple(adopt),
        disable=disable,
        keep=keep,
        conflicts=tuple(conflicts),
    )
