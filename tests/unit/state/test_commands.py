"""Typed store commands: each applies its change and records its signal in one batch item."""

from __future__ import annotations

import ast
import pathlib
from typing import Any

import pytest

from state import counters, loyalty, polls, replays, signals
from state.commands import (
    ActiveCooldowns,
    AddScore,
    AppendSignals,
    ChangeTally,
    ClosePoll,
    DeclareTallies,
    GrantPoints,
    MissingTallies,
    OpenPoll,
    PointsGrant,
    RecordVote,
    SaveReplayPosition,
    SetCooldowns,
    SignalRow,
)
from state.errors import InvalidArgument

ROOT = pathlib.Path(__file__).resolve().parents[3]
T0 = 1_795_000_000_000


def run(db, *commands):
    return [o.unwrap() for o in db.batch([c.run for c in commands])]


def grant_one_by_one(db, creator, grants):
    """The reference for `GrantPoints`: one `loyalty.add` per grant, to `creator`."""

    def one_by_one(conn):
        for g in grants:
            loyalty.add(
                conn, creator_id=creator, viewer=g.viewer, amount=g.amount, now=g.at,
                earned=g.per_message,
            )  # fmt: skip

    db.batch([one_by_one])


def balances(db, creator):
    columns = "platform, viewer_key, login, display_name, balance, earned_at, updated_at"
    sql = f"SELECT {columns} FROM points_balances WHERE creator_id = ? ORDER BY 1, 2"
    return db.connection.execute(sql, (creator,)).fetchall()


def test_tally_commands_change_the_count_and_record_a_signal(db):
    run(db, DeclareTallies(creator_id="d", tallies=[("deaths", "Deaths")], now=1))
    assert MissingTallies(creator_id="d", tally_ids=["deaths", "wins"]).run(db.connection) == {
        "wins"
    }
    common: dict[str, Any] = {"creator_id": "d", "tally_id": "deaths", "label": "Deaths", "now": 2}
    (up,) = run(db, ChangeTally(op="increment", amount=3, source="replay", **common))
    (down,) = run(db, ChangeTally(op="decrement", amount=1, source="replay", **common))
    assert (up.count, down.count) == (3, 2)
    rows = signals.recent_signals(db.connection, "tally", creator_id="d")
    assert {r.summary for r in rows} == {"deaths is now 3", "deaths is now 2"}


def test_poll_commands_open_vote_and_close(db):
    run(db, OpenPoll(creator_id="d", poll_id="p1", question="Q?", options=["A", "B"], now=1))
    (vote,) = run(db, RecordVote(creator_id="d", voter_key="v1", option="2", now=2, source="x"))
    assert vote.option_id == polls.resolve_option(db.connection, "p1", "B")
    (closed,) = run(db, ClosePoll(creator_id="d", now=3))
    assert closed.total_votes == 1
    [outcome] = db.batch([ClosePoll(creator_id="d", now=4).run])
    assert isinstance(outcome.error, InvalidArgument)


def test_score_cooldown_and_signal_commands(db):
    (entry,) = run(
        db,
        AddScore(
            creator_id="d", scoreboard_id="t", title="T", label="sam", points=2, now=1, source="x"
        ),
    )
    assert entry.score == 2
    assert counters.scoreboard_view(db.connection, "d", "t").entries[0].label == "sam"
    run(db, SetCooldowns(expiries=[("d/ping", 5000)]))
    assert ActiveCooldowns(prefix="d/", now=1000).run(db.connection) == {"ping": 5.0}
    row = SignalRow(
        kind="chat", creator_id="d", timestamp=1, entity_id="m", type="t", source="x", summary=""
    )
    assert run(db, AppendSignals(rows=[row, row])) == [2]


def test_the_trigger_engine_imports_no_state_query_module():
    tree = ast.parse((ROOT / "actors/triggers/engine.py").read_text(encoding="utf-8"))
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("state")
    }
    assert imported <= {"state.commands", "state.errors", "state.timeutil", "state.signals"}
    names = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "state.signals"
        for alias in node.names
    }
    assert names <= {"SignalKind"}


def test_granting_points_in_one_pass_ends_where_adding_them_one_by_one_does(db):
    ana = loyalty.Viewer(platform="twitch", viewer_key="k1", login="Ana", display_name="Ana")
    ana_renamed = loyalty.Viewer(platform="twitch", viewer_key="k1", login="AnaB", display_name="B")
    bo = loyalty.Viewer(platform="twitch", viewer_key="k2", login="bo", display_name="Bo")
    grants = [
        PointsGrant(viewer=ana, amount=5, at=T0, per_message=True),
        PointsGrant(viewer=bo, amount=2, at=T0 + 1),
        PointsGrant(viewer=ana_renamed, amount=3, at=T0 + 2),
    ]
    assert run(db, GrantPoints(creator_id="d", grants=grants)) == [3]

    grant_one_by_one(db, "e", grants)
    assert balances(db, "d") == balances(db, "e")
    assert balances(db, "d")[0] == ("twitch", "k1", "anab", "B", 8, T0, T0 + 2)
    with pytest.raises(ValueError):
        run(db, GrantPoints(creator_id="d", grants=[PointsGrant(viewer=bo, amount=-1, at=T0)]))


def test_grants_to_known_viewers_change_one_row_each_and_end_like_one_by_one(db):
    ana = loyalty.Viewer(platform="twitch", viewer_key="k1", login="Ana", display_name="Ana")
    bo = loyalty.Viewer(platform="twitch", viewer_key="k2", login="bo", display_name="Bo")
    bo_renamed = loyalty.Viewer(platform="twitch", viewer_key="k2", login="Bob", display_name="Bob")
    cy = loyalty.Viewer(platform="kick", viewer_key="k1", login="cy", display_name="Cy")
    first = [PointsGrant(viewer=ana, amount=1, at=T0), PointsGrant(viewer=bo, amount=1, at=T0)]
    later = [
        PointsGrant(viewer=ana, amount=5, at=T0 + 1, per_message=True),
        PointsGrant(viewer=bo, amount=2, at=T0 + 2),
        PointsGrant(viewer=ana, amount=1, at=T0 + 3),  # earned_at stays T0 + 1
        PointsGrant(viewer=cy, amount=4, at=T0 + 4),  # new, same key on another platform
        PointsGrant(viewer=bo_renamed, amount=3, at=T0 + 5, per_message=True),
    ]
    for creator in ("d", "e"):
        run(db, GrantPoints(creator_id=creator, grants=first))
    before = db.statistics().rows_changed
    assert run(db, GrantPoints(creator_id="d", grants=later)) == [5]
    assert db.statistics().rows_changed - before == 3  # one per viewer

    grant_one_by_one(db, "e", later)
    assert balances(db, "d") == balances(db, "e")
    assert balances(db, "d") == [
        ("kick", "k1", "cy", "Cy", 4, None, T0 + 4),
        ("twitch", "k1", "ana", "Ana", 7, T0 + 1, T0 + 3),
        ("twitch", "k2", "bob", "Bob", 6, T0 + 5, T0 + 5),
    ]


def test_a_replay_position_saved_by_command_reads_back(db):
    position = replays.ReplayPosition(digest="ab", pass_number=2, lines_done=7)
    run(db, SaveReplayPosition(creator_id="d", position=position))
    assert replays.get_replay_position(db.connection, "d") == position


def test_a_join_refused_for_its_cost_changes_nothing_so_its_batch_runs_once(db):
    from state.commands import JoinGiveaway, OpenGiveaway
    from state.errors import Refused

    rich = loyalty.Viewer(platform="replay", viewer_key="r", login="rich", display_name="Rich")
    poor = loyalty.Viewer(platform="replay", viewer_key="p", login="poor", display_name="Poor")
    run(
        db,
        OpenGiveaway(
            creator_id="d", giveaway_id="g1", prize="a mug", entry_cost=5,
            subscribers_only=False, subscriber_tickets=2, now=T0,
        ),
        GrantPoints(creator_id="d", grants=[PointsGrant(viewer=rich, amount=7, at=T0)]),
    )  # fmt: skip
    runs = []

    def first(conn):
        runs.append(1)  # a batch run again (each item in a savepoint) would call this twice

    def join(viewer):
        return JoinGiveaway(
            creator_id="d", viewer=viewer, subscriber=True, points_name="beans", now=T0 + 1
        ).run

    outcomes = db.batch([first, join(rich), join(poor), join(rich)])
    assert runs == [1]
    _giveaway, entry, balance = outcomes[1].unwrap()
    assert (entry.viewer_key, entry.tickets, balance.balance) == ("r", 2, 2)
    assert isinstance(outcomes[2].error, Refused)
    assert str(outcomes[2].error) == "@Poor, that costs 5 beans and you have 0."
    assert str(outcomes[3].error) == "@Rich, you are already in the giveaway."
    keys = db.connection.execute("SELECT viewer_key FROM giveaway_entries").fetchall()
    assert keys == [("r",)]


def test_a_reproducible_draw_picks_the_same_winners_from_the_same_history(tmp_path):
    from state import open_database
    from state.commands import Command, DrawGiveaway, JoinGiveaway, OpenGiveaway

    def history(path):
        with open_database(path) as db:
            ops: list[Command] = [
                OpenGiveaway(
                    creator_id="d", giveaway_id="g1", prize="a mug", entry_cost=0,
                    subscribers_only=False, subscriber_tickets=3, now=T0,
                )
            ]  # fmt: skip
            for n in range(6):
                viewer = loyalty.Viewer(
                    platform="replay", viewer_key=f"v{n}", login=f"v{n}", display_name=f"V{n}"
                )
                ops.append(
                    JoinGiveaway(
                        creator_id="d", viewer=viewer, subscriber=n % 2 == 0,
                        points_name="beans", now=T0 + n,
                    )
                )  # fmt: skip
            run(db, *ops)
            draws = [
                DrawGiveaway(creator_id="d", reproducible=True, now=T0 + 10 + n) for n in range(3)
            ]
            return [(w.winner.viewer_key, w.draw_number) for w in run(db, *draws)]

    first = history(tmp_path / "a.db")
    assert first == history(tmp_path / "b.db")
    assert [number for _key, number in first] == [1, 2, 3]
    assert len({key for key, _number in first}) == 3
