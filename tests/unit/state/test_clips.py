"""Clip jobs: creation, the transition state machine, history, resume and export listing."""

from __future__ import annotations

import pytest

from state import InvalidArgument, InvalidTransition, RecordExists, RecordNotFound
from state.clips import (
    CLIP_ID_ALPHABET,
    TRANSITIONS,
    ClipState,
    clip_history,
    create_clip,
    get_clip,
    list_clips,
    list_unfinished_clips,
    transition_clip,
    update_clip_progress,
)

T0 = 1_795_000_000_000


def make(conn, clip_id=None, now=T0, creator_id="daniel"):
    return create_clip(
        conn,
        creator_id=creator_id,
        title="Big play",
        platform="twitch",
        duration_seconds=30,
        requested_by="mod_alice",
        source="/recordings/daniel.ts",
        offset_seconds=12.5,
        params={"crf": 23},
        destination_platform="youtube",
        destination_channel_url="https://youtube.com/@daniel",
        clip_id=clip_id,
        now=now,
    )


def test_create_generates_a_six_char_id_and_starts_queued(db):
    with db.transaction() as conn:
        clip = make(conn)
    assert len(clip.clip_id) == 6 and set(clip.clip_id) <= set(CLIP_ID_ALPHABET)
    assert clip.state == "queued" and clip.progress == 0 and clip.attempts == 0
    assert clip.params == {"crf": 23} and clip.source == "/recordings/daniel.ts"
    assert (clip.created_at, clip.updated_at) == (T0, T0)
    history = clip_history(db.connection, clip.clip_id)
    assert [(h.from_state, h.to_state) for h in history] == [(None, "queued")]


def test_create_refuses_duplicate_or_malformed_ids_and_bad_durations(db):
    with db.transaction() as conn:
        make(conn, clip_id="abc234")
        with pytest.raises(RecordExists):
            make(conn, clip_id="abc234")
        with pytest.raises(InvalidArgument):
            make(conn, clip_id="toolong1")
        with pytest.raises(InvalidArgument):
            create_clip(
                conn,
                creator_id="d",
                title="t",
                platform="p",
                duration_seconds=0,
                requested_by="r",
                source="s",
            )


def test_full_lifecycle_records_every_transition_in_history(db):
    with db.transaction() as conn:
        clip = make(conn, clip_id="abc234")
        transition_clip(conn, clip_id="abc234", to_state="encoding", now=T0 + 1)
        update_clip_progress(conn, clip_id="abc234", progress=0.5, now=T0 + 2)
        transition_clip(
            conn, clip_id="abc234", to_state="encoded", output_path="/clips/abc234.mp4", now=T0 + 3
        )
        transition_clip(conn, clip_id="abc234", to_state="uploading", now=T0 + 4)
        done = transition_clip(
            conn,
            clip_id="abc234",
            to_state="published",
            url="https://youtu.be/x",
            thumbnail_url="https://i/x.jpg",
            now=T0 + 5,
        )
    assert clip.state == "queued"
    assert done.state == "published" and done.progress == 1.0
    assert (done.url, done.output_path, done.attempts) == (
        "https://youtu.be/x",
        "/clips/abc234.mp4",
        1,
    )
    assert done.updated_at == T0 + 5
    assert [(h.from_state, h.to_state, h.at) for h in clip_history(db.connection, "abc234")] == [
        (None, "queued", T0),
        ("queued", "encoding", T0 + 1),
        ("encoding", "encoded", T0 + 3),
        ("encoded", "uploading", T0 + 4),
        ("uploading", "published", T0 + 5),
    ]


def test_invalid_transition_raises_and_changes_nothing(db):
    with db.transaction() as conn:
        make(conn, clip_id="abc234")
        with pytest.raises(InvalidTransition) as info:
            transition_clip(conn, clip_id="abc234", to_state="published", url="u", now=T0)
    assert "'queued'" in str(info.value) and "'published'" in str(info.value)
    assert get_clip(db.connection, "abc234").state == "queued"
    assert len(clip_history(db.connection, "abc234")) == 1


@pytest.mark.parametrize(
    ("start", "target"),
    [(s, t) for s in TRANSITIONS for t in TRANSITIONS if t not in TRANSITIONS[s]],
)
def test_every_disallowed_transition_is_refused(db, start, target):
    paths: dict[str, list[ClipState]] = {
        "queued": [],
        "encoding": ["encoding"],
        "encoded": ["encoding", "encoded"],
        "uploading": ["encoding", "encoded", "uploading"],
        "published": ["encoding", "encoded", "published"],
        "failed": ["failed"],
    }
    path = paths[start]
    with db.transaction() as conn:
        make(conn, clip_id="abc234")
        for state in path:
            transition_clip(conn, clip_id="abc234", to_state=state, error="e", url="u", now=T0)
        with pytest.raises(InvalidTransition):
            transition_clip(conn, clip_id="abc234", to_state=target, error="e", url="u", now=T0)


def test_failed_needs_an_error_and_retry_clears_it_and_counts_attempts(db):
    with db.transaction() as conn:
        make(conn, clip_id="abc234")
        transition_clip(conn, clip_id="abc234", to_state="encoding", now=T0)
        with pytest.raises(InvalidArgument):
            transition_clip(conn, clip_id="abc234", to_state="failed", now=T0)
        failed = transition_clip(
            conn, clip_id="abc234", to_state="failed", error="ffmpeg exited 1", now=T0 + 1
        )
        requeued = transition_clip(conn, clip_id="abc234", to_state="queued", now=T0 + 2)
        again = transition_clip(conn, clip_id="abc234", to_state="encoding", now=T0 + 3)
    assert failed.last_error == "ffmpeg exited 1"
    assert requeued.last_error is None
    assert again.attempts == 2
    assert clip_history(db.connection, "abc234")[2].detail == "ffmpeg exited 1"


def test_expected_state_guards_against_stale_updates(db):
    with db.transaction() as conn:
        make(conn, clip_id="abc234")
        transition_clip(conn, clip_id="abc234", to_state="encoding", now=T0)
        with pytest.raises(InvalidTransition):
            transition_clip(
                conn,
                clip_id="abc234",
                to_state="failed",
                error="x",
                expected_state="queued",
                now=T0,
            )


def test_progress_only_while_working_and_within_range(db):
    with db.transaction() as conn:
        make(conn, clip_id="abc234")
        with pytest.raises(InvalidTransition):
            update_clip_progress(conn, clip_id="abc234", progress=0.1, now=T0)
        transition_clip(conn, clip_id="abc234", to_state="encoding", now=T0)
        with pytest.raises(InvalidArgument):
            update_clip_progress(conn, clip_id="abc234", progress=1.5, now=T0)
        with pytest.raises(RecordNotFound):
            update_clip_progress(conn, clip_id="zzzzzz", progress=0.1, now=T0)


def test_updated_at_never_moves_backwards(db):
    with db.transaction() as conn:
        make(conn, clip_id="abc234", now=T0 + 100)
        clip = transition_clip(conn, clip_id="abc234", to_state="encoding", now=T0)
    assert clip.updated_at == T0 + 100


def test_unfinished_clips_for_resume_exclude_published_and_failed(db):
    with db.transaction() as conn:
        for i, clip_id in enumerate(["aaaaaa", "bbbbbb", "cccccc", "dddddd"]):
            make(conn, clip_id=clip_id, now=T0 + i)
        transition_clip(conn, clip_id="bbbbbb", to_state="encoding", now=T0 + 10)
        transition_clip(conn, clip_id="cccccc", to_state="failed", error="x", now=T0 + 10)
        transition_clip(conn, clip_id="dddddd", to_state="encoding", now=T0 + 10)
        transition_clip(conn, clip_id="dddddd", to_state="encoded", now=T0 + 11)
        transition_clip(conn, clip_id="dddddd", to_state="published", url="u", now=T0 + 12)
    unfinished = list_unfinished_clips(db.connection)
    assert [(c.clip_id, c.state) for c in unfinished] == [
        ("aaaaaa", "queued"),
        ("bbbbbb", "encoding"),
    ]
    assert unfinished[1].source == "/recordings/daniel.ts"
    assert unfinished[1].offset_seconds == 12.5


def test_list_clips_newest_first_with_creator_filter_and_limit(db):
    with db.transaction() as conn:
        make(conn, clip_id="aaaaaa", now=T0)
        make(conn, clip_id="bbbbbb", now=T0 + 5, creator_id="eve")
        make(conn, clip_id="cccccc", now=T0 + 5)
    assert [c.clip_id for c in list_clips(db.connection)] == ["bbbbbb", "cccccc", "aaaaaa"]
    assert [c.clip_id for c in list_clips(db.connection, creator_id="daniel")] == [
        "cccccc",
        "aaaaaa",
    ]
    assert len(list_clips(db.connection, limit=1)) == 1
