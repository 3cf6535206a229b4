"""The publisher's tree files at a heartbeat: N creators, every one of them chatting.

Run: `python benchmarks/tree_files.py [--creators 1000] [--beats 6] [--chatting 1.0]`

Drives a `SnapshotPublisher` directly (no process, no actors): the tree is rows shaped like
`Supervisor.tree()` for N creators of the example configuration (a supervisor, a trigger
engine and a chat replay each), and between two heartbeats every creator's counters move as
they do at about 1.1 chat messages per second (handled counts, replay messages; a third of the
creators fire a trigger, one in ten catches a filter, one in fifty posts a timer); with
`--chatting 0.1` only a tenth of them chat in each interval (the others cost a lookup); with
`--fired 3.5` each chatting creator fires three or four triggers an interval (as the example
chat does), not one a third of the time. Printed:
CPU per heartbeat for the tree walk's collection (`_collect`, on the event loop) and for the
tree files (building and encoding, in the worker thread; writing included), per chat message
of that interval, beside the peer measured in the same run: a full build of the same files
(`build_all` + `canonical_bytes`, what every heartbeat cost before the part caches).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

# This folder holds a file named like the `runtime` package: keep it off the import path.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import logging  # noqa: E402

import apsw  # noqa: E402
import attrs  # noqa: E402
import structlog  # noqa: E402

from actors import Detail, MailboxFigures, TreeRow  # noqa: E402
from actors.publisher import TREE_FILES, SnapshotPublisher, StoreData  # noqa: E402
from actors.replay.actor import ReplayStatistics  # noqa: E402
from actors.triggers.engine import TriggerEngineStatistics  # noqa: E402
from config.loading import load_config  # noqa: E402
from config.models import CreatorConfig  # noqa: E402
from exports.canonical import canonical_bytes  # noqa: E402
from state import open_database  # noqa: E402

structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))

STARTED = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
MESSAGES_PER_SECOND = 1.1  # per creator, the example chat at speed 10


def creators(n: int) -> tuple[CreatorConfig, ...]:
    template = load_config(ROOT / "config" / "example.toml").creators[0]
    return tuple(
        attrs.evolve(template, id=f"creator{i:05d}", display_name=f"Creator {i}") for i in range(n)
    )


class Tree:
    """Rows like `Supervisor.tree()`'s for the creators; `tick` moves their counters."""

    def __init__(
        self,
        people: tuple[CreatorConfig, ...],
        rng: random.Random,
        chatting: float = 1.0,
        fired: float = 1 / 3,
    ) -> None:
        self.people = people
        self.rng = rng
        self.chatting = chatting  # the share of creators whose chat moves in an interval
        self.fired_per_interval = fired  # triggers a chatting creator fires in an interval
        self.now = STARTED
        self.handled = {c.id: 0 for c in people}
        self.fired: dict[str, dict[tuple[str, str], datetime]] = {c.id: {} for c in people}
        self.by_platform: dict[str, dict[str, int]] = {c.id: {} for c in people}
        self.filters: dict[str, dict[tuple[str, str], tuple[int, datetime | None]]] = {
            c.id: {(c.id, f.id): (0, None) for f in c.filters} for c in people
        }
        self.timers: dict[str, dict[tuple[str, str], tuple[int, datetime]]] = {
            c.id: {} for c in people
        }

    def tick(self, seconds: float) -> int:
        """Move every creator's counters by `seconds` of chat; returns the messages."""
        self.now += timedelta(seconds=seconds)
        per = round(seconds * MESSAGES_PER_SECOND)
        rng = self.rng
        moved = 0
        for c in self.people:
            if rng.random() >= self.chatting:
                continue  # a quiet creator: nothing of it changes
            moved += per
            self.handled[c.id] += per
            fires = int(self.fired_per_interval)
            fires += rng.random() < self.fired_per_interval - fires
            for _ in range(fires if c.triggers else 0):
                t = rng.choice(c.triggers)
                self.fired[c.id][(c.id, t.id)] = self.now
                self.by_platform[c.id]["replay"] = self.by_platform[c.id].get("replay", 0) + 1
            if rng.random() < 0.1 and c.filters:
                key = (c.id, rng.choice(c.filters).id)
                self.filters[c.id][key] = (self.filters[c.id][key][0] + 1, self.now)
            if rng.random() < 0.02 and c.timers:
                key = (c.id, rng.choice(c.timers).id)
                self.timers[c.id][key] = (self.timers[c.id].get(key, (0, 0))[0] + 1, self.now)
        return moved

    @staticmethod
    def _row(path: str, kind: str, handled: int, detail: Detail) -> TreeRow:
        return TreeRow(
            path=path,
            kind=kind,
            state="running",
            started_at=STARTED,
            mailbox=MailboxFigures(depth=0, peak=3),
            handled=handled,
            detail=detail,
        )

    def __call__(self) -> list[TreeRow]:
        rows = [
            self._row("root", "supervisor", 0, None),
            self._row("root/creators", "supervisor", 0, None),
        ]
        for c in self.people:
            base = f"root/creators/creator:{c.id}"
            handled = self.handled[c.id]
            rows.append(self._row(base, "supervisor", 0, None))
            rows.append(
                self._row(
                    f"{base}/triggers",
                    "actor",
                    handled,
                    TriggerEngineStatistics(
                        messages=handled,
                        fired_by_platform=dict(self.by_platform[c.id]),
                        fired_at=dict(self.fired[c.id]),
                        filters=dict(self.filters[c.id]),
                        timers=dict(self.timers[c.id]),
                    ),
                )
            )
            rows.append(
                self._row(
                    f"{base}/replay",
                    "actor",
                    handled,
                    ReplayStatistics(
                        creator_id=c.id,
                        status="running",
                        messages=handled,
                        last_event_at=self.now,
                        last_heartbeat=self.now,
                    ),
                )
            )
        return rows


def cpu() -> float:
    return time.process_time()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--creators", type=int, default=1000)
    parser.add_argument("--beats", type=int, default=6)
    parser.add_argument("--heartbeat", type=float, default=10.0)
    parser.add_argument(
        "--chatting", type=float, default=1.0, help="share of creators chatting in an interval"
    )
    parser.add_argument(
        "--fired",
        type=float,
        default=1 / 3,
        help="triggers a chatting creator fires in an interval (the example chat: about 3.5)",
    )
    args = parser.parse_args()

    people = creators(args.creators)
    tree = Tree(people, random.Random(13), args.chatting, args.fired)
    with tempfile.TemporaryDirectory(prefix="tree-files-") as folder:
        database = Path(folder) / "runtime.sqlite3"
        open_database(str(database)).close()
        pub = SnapshotPublisher(
            database=database,
            root=Path(folder) / "exports",
            mirrors=[],
            creators=people,
            tree=tree,
            root_name="root",
            started_at=STARTED,
            pseudonym_key=b"k" * 32,
            clock=lambda: tree.now,
        )
        pub.log = structlog.get_logger("bench")
        pub._conn = apsw.Connection(str(database))
        tree.tick(args.heartbeat)
        pub._publish_sync(True, False, frozenset(), {}, pub._collect(tree(), tree.now), tree.now)
        collect = files = write = full = 0.0
        messages = 0
        empty = StoreData(
            polls=(),
            tallies=(),
            scoreboards=(),
            chat_events=(),
            poll_votes=(),
            tally_events=(),
            score_events=(),
        )
        for _ in range(args.beats):
            messages += tree.tick(args.heartbeat)
            rows = tree()
            t0 = cpu()
            inputs = pub._collect(rows, tree.now)
            t1 = cpu()
            ctx = pub._context(tree.now)
            prepared = {path: pub._tree_file(path, inputs, ctx) for path in TREE_FILES}
            t2 = cpu()
            pub._writer.publish_prepared(prepared)
            t3 = cpu()
            # The peer: the same files built whole, as a full publish does.
            docs = pub._build_all(ctx, inputs, empty)
            for path in TREE_FILES:
                canonical_bytes(docs[path])
            t4 = cpu()
            collect += t1 - t0
            files += t2 - t1
            write += t3 - t2
            full += t4 - t3
        pub._conn.close()
    per = 1e6 / max(messages, 1)
    beats = args.beats
    print(
        f"{args.creators} creators ({args.chatting:.0%} chatting), {beats} heartbeats of "
        f"{args.heartbeat:.0f} s, {messages / beats:.0f} messages each"
    )
    for name, value in (
        ("collect (event loop)", collect),
        ("tree files: build + encode", files),
        ("tree files: write", write),
        ("peer: full build + encode", full),
    ):
        print(f"  {name:28s} {value / beats * 1e3:8.1f} ms/beat {value * per:7.1f} us/msg")
    print(f"  build + encode / peer        {files / full:8.2f}")


if __name__ == "__main__":
    main()
