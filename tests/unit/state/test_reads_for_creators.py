"""Reads for some creators (what the publisher rereads) equal the full reads filtered."""

from __future__ import annotations

import random
from pathlib import Path

from state import counters, giveaways, loyalty, open_database, polls, quotes
from state.errors import Refused

CREATORS = [f"c{n}" for n in range(6)]


def _populate(path: Path) -> None:
    rng = random.Random(13)
    db = open_database(str(path))
    try:
        with db.transaction() as conn:
            for n, c in enumerate(CREATORS[:-1]):  # the last one has no rows
                for v in range(rng.randrange(0, 30)):
                    viewer = loyalty.Viewer(
                        platform=rng.choice(("twitch", "kick")),
                        viewer_key=f"k{v}",
                        login=f"l{v}",
                        display_name=f"N{v % 4}",  # ties on name: the key breaks them
                    )
                    loyalty.add(conn, creator_id=c, viewer=viewer, amount=rng.randrange(3), now=v)
                counters.set_tally(conn, creator_id=c, tally_id="t", value=n, now=n)
                counters.add_points(
                    conn, creator_id=c, scoreboard_id="s", label="a", points=n, now=n
                )
                polls.open_poll(
                    conn, poll_id=f"{c}-1", creator_id=c, question="?", options=("a", "b"), now=n
                )
                polls.vote(conn, poll_id=f"{c}-1", voter_key="v", option_id="1", now=n)
                quotes.add_quote(
                    conn, creator_id=c, text="q", added_by="m", platform="twitch", now=n
                )
                giveaways.open_giveaway(
                    conn,
                    giveaway_id=f"{c}-g",
                    creator_id=c,
                    prize="p",
                    entry_cost=0,
                    subscribers_only=False,
                    subscriber_tickets=1,
                    now=n,
                )
                for e in range(n):
                    try:
                        giveaways.join(
                            conn,
                            creator_id=c,
                            platform="twitch",
                            viewer_key=f"e{e}",
                            display_name=f"E{e}",
                            subscriber=False,
                            now=n,
                        )
                    except Refused:
                        pass
                if n % 2:
                    giveaways.draw(conn, creator_id=c, pick=lambda k: 0, now=n + 1)
    finally:
        db.close()


def test_reads_for_some_creators_equal_the_full_reads_of_those_creators(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    _populate(path)
    db = open_database(str(path))
    try:
        conn = db.connection
        some = ["c1", "c3", "c5"]  # c5 has no rows
        assert loyalty.top_rows_for_creators(conn, some, 7) == [
            r for r in loyalty.top_rows_per_creator(conn, 7) if r[0] in some
        ]
        assert loyalty.ranked_rows(conn, 7, creators=some) == [
            r for r in loyalty.ranked_rows(conn, 7) if r[0] in some
        ]
        assert loyalty.ranked_rows(conn, 7) == [  # the same ranking, fewer columns
            (r[0], r[4], r[1], r[5], r[6]) for r in loyalty.top_rows_per_creator(conn, 7)
        ]
        rankings = loyalty.ranked_by_creator(conn, 7)
        assert rankings.keys() == {r[0] for r in loyalty.ranked_rows(conn, 7)}
        for creator, ranking in rankings.items():
            assert ranking == [list(r[1:]) for r in loyalty.ranked_rows(conn, 7) if r[0] == creator]
        assert loyalty.ranked_by_creator(conn, 7, some) == {
            c: ranking for c, ranking in rankings.items() if c in some
        }
        assert counters.list_tallies(conn, creators=some) == [
            t for t in counters.list_tallies(conn) if t.creator_id in some
        ]
        assert counters.list_scoreboards_ranked(conn, creators=some) == [
            b for b in counters.list_scoreboards_ranked(conn) if b.scoreboard.creator_id in some
        ]
        assert polls.list_polls_with_results(conn, creators=some) == [
            p for p in polls.list_polls_with_results(conn) if p.poll.creator_id in some
        ]
        assert quotes.list_quotes(conn, creators=some) == [
            q for q in quotes.list_quotes(conn) if q.creator_id in some
        ]
        every = giveaways.summaries(conn)
        assert any(s.winners for s in every) and any(s.entrants for s in every)
        assert giveaways.summaries(conn, some) == [
            s for s in every if s.giveaway.creator_id in some
        ]
        assert counters.list_tallies(conn, creators=[]) == []
    finally:
        db.close()


def test_a_creators_top_balances_are_read_by_the_ranked_index(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    _populate(path)
    db = open_database(str(path))
    try:
        plan = db.connection.execute(
            "EXPLAIN QUERY PLAN SELECT platform FROM points_balances "
            "WHERE creator_id = ? AND balance > 0 "
            "ORDER BY balance DESC, display_name, platform, viewer_key LIMIT ?",
            ("c1", 5),
        ).fetchall()
        details = " ".join(str(row[-1]) for row in plan)
        assert "points_ranked" in details
        assert "TEMP B-TREE" not in details  # no sort: the read stops after LIMIT rows
    finally:
        db.close()


def test_a_ranking_text_splits_into_one_text_per_row_whatever_the_names_hold(
    tmp_path: Path,
) -> None:
    # Names holding newlines, commas, brackets and quotes: no entry's text holds the separator.
    names = ["a\n,b", '"],[\n', "plain", "\\n,", "x\u2028y"]
    db = open_database(str(tmp_path / "r.sqlite3"))
    try:
        with db.transaction() as conn:
            for v, name in enumerate(names):
                viewer = loyalty.Viewer(
                    platform="twitch", viewer_key=f"k{v}", login=f"l{v}", display_name=name
                )
                loyalty.add(conn, creator_id="c", viewer=viewer, amount=10 + v, now=v)
        conn = db.connection
        text = loyalty.ranking_texts(conn)["c"]
        rows = loyalty.decode_ranking(text, 10)
        assert [r[0] for r in rows] == names[::-1]  # highest balance first
        entries = loyalty.ranking_entries(text, 10)
        assert len(entries) == len(rows)
        assert [loyalty.decode_ranking(e, 1)[0] for e in entries] == rows
        assert loyalty.ranking_entries(text, 2) == entries[:2]
        assert loyalty.decode_ranking(text, 2) == rows[:2]
    finally:
        db.close()


def test_the_rankings_read_visits_no_table_row_and_carries_over_the_covering_migration(
    tmp_path: Path,
) -> None:
    import apsw

    from state.migrations import migrate

    path = tmp_path / "v10.db"
    conn = apsw.Connection(str(path))
    migrate(conn, target=10)  # the index before `updated_at` joined it
    conn.execute("BEGIN")
    for n in range(8):
        viewer = loyalty.Viewer(
            platform="twitch", viewer_key=f"k{n}", login=f"l{n}", display_name=f"N{n % 3}"
        )
        loyalty.add(conn, creator_id=f"c{n % 2}", viewer=viewer, amount=n % 4, now=n)
    conn.execute("COMMIT")
    before = loyalty.ranking_texts(conn)
    conn.close()
    db = open_database(str(path))
    try:
        conn = db.connection
        assert loyalty.ranking_texts(conn) == before  # the same rankings, in the same order
        statements: list[str] = []

        def keep(_cursor: apsw.Cursor, sql: str, _bindings: object) -> bool:
            statements.append(sql)
            return True

        conn.exec_trace = keep
        assert loyalty.ranking_texts(conn, ["c1"]) == {"c1": before["c1"]}
        conn.exec_trace = None
        (sql,) = statements
        plan = " ".join(
            str(row[-1]) for row in conn.execute("EXPLAIN QUERY PLAN " + sql, ('["c1"]',))
        )
        assert "COVERING INDEX points_ranked" in plan
    finally:
        db.close()
