"""Notification outbox: idempotent enqueue, claiming due entries, retry/backoff and dead."""

from __future__ import annotations

import pytest

from state import InvalidArgument, InvalidTransition, RecordNotFound
from state.outbox import (
    backoff_ms,
    claim_next_due,
    enqueue,
    get_entry,
    list_outbox,
    mark_dead,
    mark_delivered,
    mark_retry,
    next_due_at,
    prune_finished,
    record_failure,
    recover_sending,
)

T0 = 1_795_000_000_000
PAYLOAD = {"content": "daniel is live!", "embeds": [{"title": "Speedrun"}]}


def test_enqueue_is_idempotent_by_dedupe_key(db):
    with db.transaction() as conn:
        first = enqueue(
            conn,
            dedupe_key="live:twitch:daniel:s1",
            destination="discord:123",
            payload=PAYLOAD,
            now=T0,
        )
        second = enqueue(
            conn,
            dedupe_key="live:twitch:daniel:s1",
            destination="discord:999",
            payload={"other": True},
            now=T0 + 5,
        )
    assert first.created and not second.created
    assert second.entry == first.entry  # the original is returned unchanged
    assert first.entry.payload == PAYLOAD and first.entry.state == "pending"
    assert len(list_outbox(db.connection)) == 1


def test_dedupe_holds_after_delivery(db):
    with db.transaction() as conn:
        entry = enqueue(conn, dedupe_key="k", destination="d", payload={}, now=T0).entry
        claim_next_due(conn, now=T0)
        mark_delivered(conn, entry_id=entry.id, now=T0 + 1)
        again = enqueue(conn, dedupe_key="k", destination="d", payload={}, now=T0 + 2)
    assert not again.created and again.entry.state == "delivered"


def test_enqueue_refuses_non_json_payload(db):
    with db.transaction() as conn, pytest.raises(InvalidArgument):
        enqueue(conn, dedupe_key="k", destination="d", payload={"x": object()}, now=T0)


def test_claim_takes_oldest_due_first_and_skips_future_entries(db):
    with db.transaction() as conn:
        enqueue(conn, dedupe_key="later", destination="d", payload={}, now=T0, not_before=T0 + 60)
        a = enqueue(conn, dedupe_key="a", destination="d", payload={}, now=T0).entry
        b = enqueue(conn, dedupe_key="b", destination="e", payload={}, now=T0).entry
        claimed = claim_next_due(conn, now=T0 + 1)
        assert claimed is not None and claimed.id == a.id
        assert (claimed.state, claimed.attempts) == ("sending", 1)
        assert claim_next_due(conn, now=T0 + 1, destinations=["d"]) is None
        assert claim_next_due(conn, now=T0 + 1, destinations=["e"]).id == b.id
        assert claim_next_due(conn, now=T0 + 1) is None
        assert next_due_at(conn) == T0 + 60
        assert claim_next_due(conn, now=T0 + 60).dedupe_key == "later"
        assert next_due_at(conn) is None


def test_retry_with_backoff_then_dead_after_max_attempts(db):
    with db.transaction() as conn:
        entry = enqueue(conn, dedupe_key="k", destination="d", payload={}, now=T0).entry
        now = T0
        for attempt in range(1, 4):
            claimed = claim_next_due(conn, now=now)
            assert claimed.attempts == attempt
            after = record_failure(
                conn, entry_id=entry.id, error="HTTP 502", now=now, max_attempts=3, initial_ms=1000
            )
            if attempt < 3:
                assert after.state == "pending"
                assert after.next_attempt_at == now + 1000 * 2 ** (attempt - 1)
                assert claim_next_due(conn, now=after.next_attempt_at - 1) is None
                now = after.next_attempt_at
        assert after.state == "dead"
        assert "gave up after 3 attempts: HTTP 502" == after.last_error


def test_mark_retry_and_dead_with_reason(db):
    with db.transaction() as conn:
        e = enqueue(conn, dedupe_key="k", destination="d", payload={}, now=T0).entry
        claim_next_due(conn, now=T0)
        retried = mark_retry(
            conn, entry_id=e.id, error="timeout", next_attempt_at=T0 + 500, now=T0 + 1
        )
        assert (retried.state, retried.last_error, retried.next_attempt_at) == (
            "pending",
            "timeout",
            T0 + 500,
        )
        dead = mark_dead(conn, entry_id=e.id, reason="channel deleted", now=T0 + 2)
    assert (dead.state, dead.last_error, dead.updated_at) == ("dead", "channel deleted", T0 + 2)


def test_invalid_outbox_transitions_are_refused(db):
    with db.transaction() as conn:
        e = enqueue(conn, dedupe_key="k", destination="d", payload={}, now=T0).entry
        with pytest.raises(InvalidTransition):
            mark_delivered(conn, entry_id=e.id, now=T0)  # not claimed yet
        with pytest.raises(InvalidTransition):
            mark_retry(conn, entry_id=e.id, error="x", next_attempt_at=T0, now=T0)
        claim_next_due(conn, now=T0)
        mark_delivered(conn, entry_id=e.id, now=T0)
        with pytest.raises(InvalidTransition):
            mark_dead(conn, entry_id=e.id, reason="x", now=T0)
        with pytest.raises(RecordNotFound):
            get_entry(conn, 12345)


def test_recover_sending_requeues_entries_interrupted_by_a_crash(db):
    with db.transaction() as conn:
        e = enqueue(conn, dedupe_key="k", destination="d", payload={}, now=T0).entry
        claim_next_due(conn, now=T0)
    with db.transaction() as conn:
        assert recover_sending(conn, now=T0 + 100) == 1
        entry = get_entry(conn, e.id)
    assert (entry.state, entry.next_attempt_at, entry.attempts) == ("pending", T0 + 100, 1)


def test_list_outbox_filters_and_prune_finished(db):
    with db.transaction() as conn:
        for i, key in enumerate(["a", "b", "c"]):
            enqueue(conn, dedupe_key=key, destination="d", payload={}, now=T0 + i)
        a = claim_next_due(conn, now=T0 + 10)
        mark_delivered(conn, entry_id=a.id, now=T0 + 10)
    assert [e.dedupe_key for e in list_outbox(db.connection)] == ["c", "b", "a"]
    assert [e.dedupe_key for e in list_outbox(db.connection, states=["delivered"])] == ["a"]
    with pytest.raises(InvalidArgument):
        list_outbox(db.connection, states=["bogus"])  # type: ignore[list-item]
    with db.transaction() as conn:
        assert prune_finished(conn, older_than=T0 + 10) == 0
        assert prune_finished(conn, older_than=T0 + 11) == 1
    assert [e.dedupe_key for e in list_outbox(db.connection)] == ["c", "b"]


def test_backoff_is_exponential_and_capped():
    assert [backoff_ms(n, initial_ms=100, maximum_ms=1000) for n in range(1, 7)] == [
        100,
        200,
        400,
        800,
        1000,
        1000,
    ]
    with pytest.raises(InvalidArgument):
        backoff_ms(0)
