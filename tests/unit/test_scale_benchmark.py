"""The loads of `benchmarks/scale.py`: each is a valid config of the example creator, and the
`issue` load is the example's triggers, polls, tallies and scoreboard, nothing added later."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import tomli_w

from config.loading import load_config

REPO = Path(__file__).resolve().parents[2]


def _scale() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "scale_benchmark", REPO / "benchmarks" / "scale.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    saved = list(sys.path)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = saved
    return module


def _written(scale: ModuleType, tmp_path: Path, load: str) -> Path:
    path = tmp_path / f"{load}.toml"
    document = scale.config_document(tmp_path / load, 3, 10.0, load)
    path.write_text(tomli_w.dumps(document), encoding="utf-8")
    return path


def test_both_loads_are_configs_the_runtime_accepts(tmp_path: Path) -> None:
    scale = _scale()
    issue = load_config(_written(scale, tmp_path, "issue"))
    example = load_config(_written(scale, tmp_path, "example"))
    assert [c.id for c in issue.creators] == ["creator00000", "creator00001", "creator00002"]
    assert all(c.replay is not None and c.replay.loop for c in issue.creators)
    assert example.creators[0].points is not None
    assert issue.creators[0].points is None
    assert not issue.creators[0].timers and not issue.creators[0].filters
    assert issue.creators[0].tallies and issue.creators[0].scoreboards


def test_the_issue_load_keeps_every_example_trigger_of_its_kinds_and_no_other() -> None:
    scale = _scale()
    everything = scale.example_creator("example")["triggers"]
    kept = scale.example_creator("issue")["triggers"]

    def of_issue(trigger: dict) -> bool:
        action = trigger.get("action")
        plain = action is None or action.split("_")[0] in ("poll", "tally", "score")
        return plain and "cost" not in trigger

    assert kept == [t for t in everything if of_issue(t)]
    assert {t.get("action") for t in kept} >= {None, "poll_vote", "tally_increment", "score_add"}
    assert len(kept) < len(everything)  # the example has more than the issue's load


def test_the_default_window_is_a_whole_pass_of_the_log_in_whole_heartbeats() -> None:
    scale = _scale()
    one_pass = scale.pass_seconds()
    assert one_pass > 10
    window = scale.default_window(10.0)
    assert window >= one_pass
    assert window - one_pass < 10
    assert math.isclose(window % 10.0, 0.0, abs_tol=1e-9)


def test_the_polls_read_for_the_lag_are_those_the_export_lists_with_their_votes(
    tmp_path: Path,
) -> None:
    from state import open_database
    from state.polls import POLLS_PER_CREATOR, close_poll, list_polls_with_results, open_poll, vote

    scale = _scale()
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    db = open_database(state_dir / "store.sqlite3", synchronous="normal")
    try:
        with db.transaction() as conn:
            # One creator with more polls than the export lists (the newest closed ones and
            # one still open), another with one.
            for n in range(POLLS_PER_CREATOR + 2):
                poll_id = f"a-{n}"
                open_poll(conn, poll_id=poll_id, creator_id="a", question="q",
                          options=["x", "y"], now=1_000 + n)  # fmt: skip
                for voter in range(n % 4):
                    vote(conn, poll_id=poll_id, voter_key=f"v{voter}", option_id="1", now=2_000)
                if n < POLLS_PER_CREATOR + 1:
                    close_poll(conn, poll_id=poll_id, now=3_000 + n)
            open_poll(conn, poll_id="b-0", creator_id="b", question="q", options=["x", "y"],
                      now=1_000)  # fmt: skip
            listed = list_polls_with_results(conn, per_creator=POLLS_PER_CREATOR)
    finally:
        db.close()

    counts = scale.stored_counts(state_dir)["polls.json"]
    assert counts == {p.poll.poll_id: sum(o.votes for o in p.options) for p in listed}
    assert len(counts) == POLLS_PER_CREATOR + 1  # a's oldest two are not listed
    assert counts["a-11"] == 3 and counts["b-0"] == 0


def test_the_publish_lag_waits_for_every_count_and_excuses_a_poll_no_longer_listed() -> None:
    scale = _scale()

    def at(t: float, stored: dict | None, shown: dict) -> tuple:
        return (t, {"polls.json": (stored, shown)})

    samples = [
        at(0.0, {"p1": 2, "p2": 0}, {"p1": 1}),
        at(0.5, {"p1": 3, "p2": 0}, {"p1": 2}),  # p2 not shown yet
        at(1.0, {"p1": 3, "p2": 1}, {"p1": 3, "p2": 0}),
        at(1.5, {"p2": 1, "p3": 0}, {"p2": 1, "p3": 0}),  # p1 no longer listed
    ]
    assert scale.publish_lags(samples, "polls.json") == [1.0, 0.5, 0.5, 0.0]
    # A file that never catches up gives no lag for the reads it never caught up with.
    assert scale.publish_lags([at(0.0, {"p1": 1}, {"p1": 0})], "polls.json") == []
    # A failed database read (None) is not measured and excuses nothing.
    failed = [
        at(0.0, {"p1": 5}, {"p1": 1}),
        at(0.25, None, {"p1": 1}),
        at(9.0, {"p1": 5}, {"p1": 5}),
    ]
    assert scale.publish_lags(failed, "polls.json") == [9.0, 0.0]


def test_threads_py_spy_could_not_name_are_not_given_a_made_up_role() -> None:
    scale = _scale()
    assert scale.thread_role("MainThread <module>") == "trio loop"
    assert scale.thread_role("store-writer:/tm WriterThread._serve") == "store writer"
    assert scale.thread_role("Trio thread 3") == "publisher"
    assert scale.thread_role("thread 19224") == "?"  # `measure`'s label for an unnamed one
    assert scale.thread_role("") == "?"
