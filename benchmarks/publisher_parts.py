"""The publisher's database files at N creators: a publish after every creator changed, and
after one creator changed, beside a full build of the same files in the same run.

Run: `python benchmarks/publisher_parts.py [--creators 1000] [--viewers 10] [--rounds 5]`

Each creator has the example's shape: `viewers` point balances, an open poll with votes, two
tallies, a scoreboard. A round writes one change of each kind for every creator (or for one);
with `--shape example`, what the example chat writes in a second instead: half of the viewers
earn points, one tally moves, and two chat signals and a tally signal are appended,
announces it as the store does (`Changed` naming the creators), and times the publish of the
database files (no tree files), CPU time of the process. The peer: reading every row and
building and encoding the same six files whole (`read_store`, the builders, `canonical_bytes`).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import structlog  # noqa: E402
import trio  # noqa: E402

from actors.publisher import SnapshotPublisher, read_store  # noqa: E402
from actors.store import Changed  # noqa: E402
from config.models import CreatorConfig  # noqa: E402
from exports.builders import PARTED_FILES  # noqa: E402
from exports.canonical import canonical_bytes  # noqa: E402
from state import counters, loyalty, open_database, polls, signals  # noqa: E402
from state.timeutil import from_datetime  # noqa: E402

STARTED = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)
TOPICS = ("activity", "tallies", "polls", "scoreboards")
SIGNAL_PATHS = frozenset(
    {"chat_events.json", "poll_votes.json", "tally_events.json", "score_events.json"}
)


def write_round(database: Path, creators: list[str], viewers: int, n: int, at: int) -> None:
    db = open_database(str(database))
    try:
        with db.transaction() as conn:
            for c in creators:
                v = (n * 7) % viewers
                viewer = loyalty.Viewer(
                    platform="twitch", viewer_key=f"k{v}", login=f"v{v}", display_name=f"V{v}"
                )
                loyalty.add(conn, creator_id=c, viewer=viewer, amount=1 + v, now=at)
                counters.increment_tally(conn, creator_id=c, tally_id="deaths", now=at)
                polls.vote(conn, poll_id=f"{c}-1", voter_key=f"r{n}", option_id="1", now=at)
                counters.add_points(
                    conn, creator_id=c, scoreboard_id="trivia", label=f"v{v}", points=1, now=at
                )
    finally:
        db.close()


def write_example_round(database: Path, creators: list[str], viewers: int, n: int, at: int) -> None:
    db = open_database(str(database))
    try:
        with db.transaction() as conn:
            for c in creators:
                for v in range(n % 2, viewers, 2):  # half of them, the other half next time
                    viewer = loyalty.Viewer(
                        platform="twitch", viewer_key=f"k{v}", login=f"v{v}", display_name=f"V{v}"
                    )
                    loyalty.add(conn, creator_id=c, viewer=viewer, amount=1 + v % 3, now=at)
                counters.increment_tally(conn, creator_id=c, tally_id="deaths", now=at)
                for kind, entity in (("chat", "m"), ("chat", "m"), ("tally", "deaths")):
                    signals.append_signal(
                        conn,
                        kind=kind,  # type: ignore[arg-type]
                        creator_id=c,
                        timestamp=at,
                        entity_id=f"{entity}{n}",
                        type="chat_message",
                        source="twitch",
                        summary=f"{{user}} said hello {n}",
                    )
    finally:
        db.close()


def populate(database: Path, creators: list[str], viewers: int, at: int) -> None:
    db = open_database(str(database))
    try:
        with db.transaction() as conn:
            for c in creators:
                polls.open_poll(
                    conn,
                    poll_id=f"{c}-1",
                    creator_id=c,
                    question="Next?",
                    options=("A", "B"),
                    now=at,
                )
                counters.set_tally(conn, creator_id=c, tally_id="gg", value=1, label="GG", now=at)
    finally:
        db.close()
    for n in range(viewers):
        write_round(database, creators, viewers, n, at)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creators", type=int, default=1000)
    parser.add_argument("--viewers", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--shape", choices=("all", "example"), default="all")
    args = parser.parse_args()
    ids = [f"creator{n:05d}" for n in range(args.creators)]
    now = [STARTED + timedelta(minutes=5)]
    with tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "runtime.sqlite3"
        open_database(str(database)).close()
        populate(database, ids, args.viewers, from_datetime(now[0]) - 60_000)
        pub = SnapshotPublisher(
            database=database,
            root=Path(tmp) / "exports",
            mirrors=[],
            creators=[CreatorConfig(id=c, display_name=c.title()) for c in ids],
            tree=lambda: [],
            root_name="root",
            started_at=STARTED,
            pseudonym_key=b"k" * 32,
            clock=lambda: now[0],
        )
        pub.log = structlog.get_logger("bench")
        await pub.on_start()

        async def timed(changed: list[str], n: int) -> float:
            now[0] += timedelta(seconds=1)
            write = write_example_round if args.shape == "example" else write_round
            write(database, changed, args.viewers, n, from_datetime(now[0]))
            for topic in TOPICS if args.shape == "all" else ("activity", "tallies"):
                await pub.handle(Changed(topic=topic, creators=frozenset(changed)))
            t0 = time.process_time()
            await pub.publish(tree_files=False)
            return time.process_time() - t0

        await timed(ids, 100)  # the first after the full publish at start reads every creator
        every = min([await timed(ids, 101 + r) for r in range(args.rounds)])
        one = min([await timed(ids[:1], 201 + r) for r in range(args.rounds)])
        conn = pub._conn
        assert conn is not None
        names = {c: c.title() for c in ids}
        fulls = []
        for _ in range(args.rounds):
            t0 = time.process_time()
            files = PARTED_FILES.keys() | SIGNAL_PATHS
            data = read_store(conn, names, 200, files)
            docs = pub._build(data)
            for path in files:
                canonical_bytes(docs[path])
            fulls.append(time.process_time() - t0)
        full = min(fulls)
        await pub.on_stop()
    per = 1e6 / args.creators
    print(
        f"{args.creators} creators x {args.viewers} viewers ({args.shape} changes); the six"
        " parted database files and the four signal files"
    )
    print(
        f"  publish, every creator changed  {every * 1e3:8.1f} ms  ({every * per:.1f} us/creator)"
    )
    print(f"  publish, one creator changed    {one * 1e3:8.1f} ms")
    print(f"  full read + build + encode      {full * 1e3:8.1f} ms  ({full * per:.1f} us/creator)")
    print(f"  every-creator publish / full    {every / full:8.2f}x")


if __name__ == "__main__":
    trio.run(main)
