"""`actors.kick.moderation`: the delete and ban requests Kick's public API documents."""

from __future__ import annotations

import pytest

from actors.kick.moderation import (
    MAX_TIMEOUT_MINUTES,
    ban_request,
    delete_message_request,
    timeout_minutes,
)


def test_a_timeout_is_sent_in_whole_minutes_rounded_up_within_a_week() -> None:
    assert [timeout_minutes(s) for s in (1, 60, 61, 600)] == [1, 1, 2, 10]
    assert timeout_minutes(10**9) == MAX_TIMEOUT_MINUTES
    for bad in (0, -5, True):
        with pytest.raises(ValueError):
            timeout_minutes(bad)


def test_a_ban_names_both_users_by_integer_id() -> None:
    request = ban_request("2570626", "117108965", seconds=300, reason="x" * 500)
    assert (request.method, request.path) == ("POST", "/moderation/bans")
    assert request.json == {
        "broadcaster_user_id": 2570626,
        "user_id": 117108965,
        "duration": 5,
        "reason": "x" * 100,
    }


@pytest.mark.parametrize("user_id", ["", "abc", "-3", "0", "1" * 40, "١٢"])
def test_a_user_id_that_is_not_a_kick_id_is_refused(user_id: str) -> None:
    with pytest.raises(ValueError):
        ban_request(1, user_id, seconds=60)


def test_a_delete_puts_the_message_id_in_the_path() -> None:
    request = delete_message_request("57eee8aa-0000")
    assert (request.method, request.path, request.json) == ("DELETE", "/chat/57eee8aa-0000", None)
    for bad in ("", "  ", "a/b"):
        with pytest.raises(ValueError):
            delete_message_request(bad)
