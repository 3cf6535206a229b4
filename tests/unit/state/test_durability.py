"""Durability: what a process committed is there for a fresh process, even after a hard exit."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import textwrap

from state import open_database
from state.clips import create_clip, list_unfinished_clips
from state.cooldowns import get_cooldown, set_cooldown
from state.outbox import enqueue, list_outbox
from state.polls import open_poll, poll_results, vote

T0 = 1_795_000_000_000
ROOT = str(pathlib.Path(__file__).resolve().parents[3])


def run_child(code: str) -> subprocess.CompletedProcess[str]:
    script = f"import sys\nsys.path.insert(0, {ROOT!r})\n" + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )


def test_commits_survive_a_hard_exit_without_close(tmp_path):
    path = tmp_path / "store.db"
    child = run_child(
        f"""
        import os
        from state import open_database
        from state.clips import create_clip
        from state.cooldowns import set_cooldown
        from state.outbox import enqueue
        from state.polls import open_poll, vote

        db = open_database({str(path)!r})
        with db.transaction() as conn:
            open_poll(conn, poll_id="p", creator_id="d", question="q", options=["a", "b"],
                      now={T0})
        db.batch([
            lambda c: vote(c, poll_id="p", voter_key="u1", option_id="2", now={T0}),
            lambda c: set_cooldown(c, scope="d/!clip", expires_at={T0 + 60_000}),
            lambda c: enqueue(c, dedupe_key="live:1", destination="discord", payload={{}},
                              now={T0}),
            lambda c: create_clip(c, creator_id="d", title="t", platform="twitch",
                                  duration_seconds=30, requested_by="r", source="s",
                                  clip_id="abc234", now={T0}),
        ])
        with db.transaction() as conn:
            conn.execute("INSERT INTO meta VALUES ('uncommitted', 'x')")
            os._exit(0)  # dies mid-transaction, without close() or a checkpoint
        """
    )
    assert child.returncode == 0, child.stderr
    with open_database(path) as db:
        conn = db.connection
        assert poll_results(conn, "p").options[1].votes == 1
        assert get_cooldown(conn, "d/!clip", now=T0).expires_at == T0 + 60_000
        assert [e.dedupe_key for e in list_outbox(conn)] == ["live:1"]
        assert [c.clip_id for c in list_unfinished_clips(conn)] == ["abc234"]
        assert conn.execute("SELECT count(*) FROM meta WHERE key = 'uncommitted'").fetchone() == (
            0,
        )


def test_a_fresh_process_reads_what_this_process_wrote(tmp_path):
    path = tmp_path / "store.db"
    with open_database(path) as db:
        with db.transaction() as conn:
            open_poll(conn, poll_id="p", creator_id="d", question="q", options=["a", "b"], now=T0)
            vote(conn, poll_id="p", voter_key="u1", option_id="1", now=T0)
            set_cooldown(conn, scope="s", expires_at=T0 + 5)
            enqueue(conn, dedupe_key="k", destination="d", payload={"n": 1}, now=T0)
            create_clip(
                conn,
                creator_id="d",
                title="t",
                platform="twitch",
                duration_seconds=5,
                requested_by="r",
                source="s",
                clip_id="xyz234",
                now=T0,
            )
        # Still open: the reader must see committed data through the WAL, not after close.
        child = run_child(
            f"""
            import json
            from state import open_database
            from state.polls import poll_results
            db = open_database({str(path)!r})
            reader = db.read_connection()
            conn = reader.connection
            print(json.dumps({{
                "votes": poll_results(conn, "p").total_votes,
                "cooldown": conn.execute("SELECT expires_at FROM cooldowns").fetchone()[0],
                "outbox": conn.execute("SELECT payload FROM outbox").fetchone()[0],
                "clip": conn.execute("SELECT clip_id FROM clips").fetchone()[0],
            }}))
            """
        )
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout) == {
        "votes": 1,
        "cooldown": T0 + 5,
        "outbox": '{"n":1}',
        "clip": "xyz234",
    }
