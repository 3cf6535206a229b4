"""Permission levels: everyone < subscriber (= member) < vip < moderator < broadcaster."""

from __future__ import annotations

import pytest

from actors.triggers import allowed, role_level

LEVELS = ["everyone", "subscriber", "vip", "moderator", "broadcaster"]
ROLE_SETS = {
    "nobody": frozenset(),
    "subscriber": frozenset({"subscriber"}),
    "member": frozenset({"member"}),
    "vip": frozenset({"vip"}),
    "moderator": frozenset({"moderator"}),
    "broadcaster": frozenset({"broadcaster"}),
}
ROLE_RANK = {"nobody": 0, "subscriber": 1, "member": 1, "vip": 2, "moderator": 3, "broadcaster": 4}


@pytest.mark.parametrize("permission", LEVELS)
@pytest.mark.parametrize("holder", list(ROLE_SETS))
def test_each_permission_level_admits_exactly_the_roles_at_or_above_it(trig, permission, holder):
    trigger = trig("t", "!t", permission=permission)

    assert allowed(trigger, ROLE_SETS[holder]) is (ROLE_RANK[holder] >= LEVELS.index(permission))


def test_youtube_member_counts_as_subscriber(trig):
    assert allowed(trig("t", "!t", permission="subscriber"), {"member"})
    assert not allowed(trig("t", "!t", permission="vip"), {"member"})


def test_highest_role_wins():
    assert role_level({"subscriber", "moderator"}) == 3
    assert role_level({"vip", "member"}) == 2
    assert role_level(()) == 0


def test_broadcaster_passes_moderator_triggers(trig):
    assert allowed(trig("t", "!t", permission="moderator"), {"broadcaster"})
