"""Configuration of points, timers and filters: valid tables load, mistakes name their key."""

from __future__ import annotations

import pytest

from config.models import (
    CreatorConfig,
    FilterConfig,
    InvalidField,
    PointsConfig,
    TallyConfig,
    TimerConfig,
    TriggerConfig,
)


def test_a_trigger_cost_needs_points():
    trigger = TriggerConfig(id="h", pattern="!h", response="ok", cost=5)
    with pytest.raises(InvalidField) as caught:
        CreatorConfig(id="d", triggers=(trigger,))
    assert caught.value.path == ("triggers", 0, "cost")
    assert "[creators.points]" in caught.value.message
    CreatorConfig(id="d", triggers=(trigger,), points=PointsConfig(name="beans"))


def test_points_actions_need_points_and_giveaway_options_belong_to_giveaway_open():
    with pytest.raises(InvalidField, match=r"needs \[creators.points\]"):
        CreatorConfig(id="d", triggers=(TriggerConfig(id="p", pattern="!p", action="points_top"),))
    with pytest.raises(InvalidField, match="only by giveaway_open"):
        TriggerConfig(id="j", pattern="!join", action="giveaway_join", entry_cost=5)


def test_counter_fields_must_name_a_tally():
    trigger = TriggerConfig(id="t", pattern="!t", response="{counter:deths}")
    with pytest.raises(InvalidField) as caught:
        CreatorConfig(id="d", tallies=(TallyConfig(id="deaths", label="D"),), triggers=(trigger,))
    assert "did you mean 'deaths'" in caught.value.message


def test_timer_and_filter_mistakes_name_the_key():
    with pytest.raises(InvalidField) as caught:
        TimerConfig(id="t", messages=("hi",), platforms=("twich",))
    assert caught.value.path == ("platforms", 0)
    with pytest.raises(InvalidField, match="at least one message"):
        TimerConfig(id="t")
    with pytest.raises(InvalidField) as caught:
        FilterConfig(id="w", kind="words", regexes=("(",))
    assert caught.value.path == ("regexes", 0)
    with pytest.raises(InvalidField, match="only used by kind 'links'"):
        FilterConfig(id="c", kind="caps", allow=("twitch.tv",))
    with pytest.raises(InvalidField, match="a domain"):
        FilterConfig(id="l", kind="links", allow=("https://twitch.tv",))
    with pytest.raises(InvalidField) as caught:
        CreatorConfig(
            id="d",
            filters=(FilterConfig(id="x", kind="caps"), FilterConfig(id="x", kind="length")),
        )
    assert caught.value.path == ("filters", 1, "id")
