"""Schema migrations: ordering, from-scratch vs step-by-step equivalence, failure rollback."""

from __future__ import annotations

import apsw
import pytest

from state import LATEST_VERSION, MIGRATIONS, MigrationFailed, open_database
from state.migrations import Migration, migrate, schema_dump, user_version


def test_migration_versions_are_consecutive_from_one():
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    assert LATEST_VERSION == MIGRATIONS[-1].version


def test_every_migration_from_scratch_equals_step_by_step_with_reopen(tmp_path):
    scratch = tmp_path / "scratch.db"
    with open_database(scratch) as db:
        expected = schema_dump(db.connection)

    stepwise = tmp_path / "steps.db"
    for version in range(1, LATEST_VERSION + 1):
        # Each step in a fresh connection, as a runtime upgraded one release at a time would.
        conn = apsw.Connection(str(stepwise))
        assert user_version(conn) == version - 1
        assert migrate(conn, target=version) == [version]
        conn.close()
    with open_database(stepwise) as db:
        assert user_version(db.connection) == LATEST_VERSION
        assert schema_dump(db.connection) == expected


def test_reopening_applies_nothing(tmp_path):
    path = tmp_path / "s.db"
    with open_database(path):
        pass
    conn = apsw.Connection(str(path))
    assert migrate(conn) == []
    conn.close()


def test_schema_has_the_expected_tables(db):
    tables = {name for kind, name, _t, _s in schema_dump(db.connection) if kind == "table"}
    assert {
        "meta",
        "creators",
        "polls",
        "poll_options",
        "poll_votes",
        "tallies",
        "scoreboards",
        "scoreboard_entries",
        "cooldowns",
        "signals",
        "quota_usage",
        "clips",
        "clip_jobs",
        "clip_state_history",
        "outbox",
        "stream_sessions",
        "seen_messages",
        "seen_journal",
        "seen_prune_requests",
    } <= tables


def test_failing_migration_is_rolled_back_and_version_kept(tmp_path):
    path = tmp_path / "s.db"
    broken = (
        *MIGRATIONS,
        Migration(
            version=LATEST_VERSION + 1,
            name="broken",
            sql="CREATE TABLE extra (x INTEGER); THIS IS NOT SQL;",
        ),
    )
    with open_database(path) as db:
        before = schema_dump(db.connection)
    with pytest.raises(MigrationFailed, match="broken"):
        open_database(path, migrations=broken)
    with open_database(path) as db:
        assert user_version(db.connection) == LATEST_VERSION
        assert schema_dump(db.connection) == before  # no half-created 'extra' table


def test_migrate_refuses_unknown_target(tmp_path):
    conn = apsw.Connection(str(tmp_path / "x.db"))
    with pytest.raises(ValueError):
        migrate(conn, target=LATEST_VERSION + 1)
    conn.close()
