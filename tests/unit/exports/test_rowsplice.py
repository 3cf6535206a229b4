"""`RowCache`: the long documents from kept row bytes, byte for byte a full build."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from exports.builders import (
    DocumentParts,
    build_chat_triggers,
    build_creators,
    build_runtime_snapshot,
    chat_triggers_parts,
    creators_parts,
    runtime_snapshot_parts,
)
from exports.canonical import canonical_bytes
from exports.files import ExportContext
from exports.rowsplice import RowCache, RowGroups, latest_moment
from exports.views import (
    ActorStatus,
    CreatorView,
    FilterView,
    PlatformStatus,
    ReplayView,
    RuntimeView,
    TimerView,
    TriggerView,
)

BOOT = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
SECRET = "sk_live_supersecretvalue"
# Ids whose actor paths interleave when sorted ("creator:a-b" sorts between "creator:a" and
# "creator:a/triggers"): the groups' ranges overlap, and the rows must still come out sorted.
IDS = ("a", "a-b", "b", "zed", "mira", "Ünï", "c.d", "daniel")


class World:
    """Views of a runtime with a few creators, changed at random like a running one."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.now = BOOT + timedelta(minutes=5)
        self.creators: dict[str, dict[str, Any]] = {}
        self.last: dict[tuple[str, str], tuple[Any, ...]] = {}
        for cid in IDS[:5]:
            self.add(cid)

    def add(self, cid: str) -> None:
        rng = self.rng
        base = f"creators/creator:{cid}"
        self.creators[cid] = {
            "view": CreatorView(
                creator_id=cid,
                display_name=rng.choice((cid.title(), f"key={SECRET}", 'Q"uote\\')),
                enabled=rng.random() < 0.8,
                platforms=(("twitch", True), ("kick", rng.random() < 0.5)),
                created_at=BOOT,
            ),
            "actors": {
                path: ActorStatus(
                    path=path, kind=kind, state="running", started_at=BOOT, mailbox_peak=1
                )
                for path, kind in (
                    (base, "supervisor"),
                    (f"{base}/triggers", "actor"),
                    (f"{base}/replay", "actor"),
                )
            },
            "triggers": {
                tid: TriggerView(
                    trigger_id=tid,
                    creator_id=cid,
                    phrase=f"!{tid}",
                    module="command",
                    cooldown_seconds=rng.choice((0.0, 2.5, 30.0)),
                )
                for tid in ("ping", "lurk", "so", "clip")
            },
            "timers": {
                "hydrate": TimerView(
                    timer_id="hydrate",
                    creator_id=cid,
                    interval_minutes=15.0,
                    min_chat_lines=5,
                    messages=2,
                    platforms=("twitch",),
                    enabled=True,
                )
            },
            "filters": {
                fid: FilterView(
                    filter_id=fid,
                    creator_id=cid,
                    kind=fid,
                    action="delete",
                    exempt=("mods",),
                    enabled=True,
                )
                for fid in ("links", "caps")
            },
        }

    def moment(self) -> datetime:
        """Mostly the past; sometimes the future (a skewed clock: written clamped)."""
        return self.now + timedelta(seconds=self.rng.choice((-30, -1, 0, 0.5, 20)))

    def step(self) -> None:
        rng = self.rng
        self.now += timedelta(seconds=rng.choice((0.0, 0.25, 1.0, 10.0)))
        if rng.random() < 0.05:
            self.now -= timedelta(seconds=2)  # the wall clock stepped back
        if rng.random() < 0.15 and len(self.creators) < len(IDS):
            self.add(rng.choice([i for i in IDS if i not in self.creators]))
        if rng.random() < 0.1 and len(self.creators) > 1:
            del self.creators[rng.choice(sorted(self.creators))]
        for c in self.creators.values():
            if rng.random() < 0.5:
                continue  # a quiet creator: every view stays the same object
            actors = c["actors"]
            path = rng.choice(sorted(actors))
            a = actors[path]
            roll = rng.random()
            if roll < 0.6:
                actors[path] = _evolve(a, handled=a.handled + rng.randrange(1, 20))
            elif roll < 0.75:
                actors[path] = _evolve(
                    a,
                    state="restarting",
                    restarts=a.restarts + 1,
                    last_error=rng.choice(("boom", f"token oauth:abcdefgh123 {SECRET}")),
                )
            elif roll < 0.9:
                actors[path] = _evolve(a, state="running", started_at=self.moment())
            else:
                actors[path] = _evolve(a, changed_at=self.moment(), mailbox_depth=3)
            if rng.random() < 0.5:
                tid = rng.choice(sorted(c["triggers"]))
                c["triggers"][tid] = _evolve(c["triggers"][tid], last_fired_at=self.moment())
            if rng.random() < 0.2:
                t = c["timers"]["hydrate"]
                c["timers"]["hydrate"] = _evolve(t, posts=t.posts + 1, last_posted_at=self.moment())
            if rng.random() < 0.3:
                fid = rng.choice(sorted(c["filters"]))
                f = c["filters"][fid]
                c["filters"][fid] = _evolve(f, hits=f.hits + 1, last_hit_at=self.moment())

    def ctx(self, secrets: frozenset[str]) -> ExportContext:
        return ExportContext(now=self.now, started_at=BOOT, secrets=secrets)

    def groups(self, kind: str) -> RowGroups:
        """Per creator; the same tuple as last time when none of its views changed (as the
        publisher hands them in)."""
        out = []
        for cid, c in self.creators.items():
            views = tuple(c[kind].values())
            last = self.last.get((kind, cid))
            if last is not None and len(last) == len(views):
                if all(a is b for a, b in zip(last, views, strict=True)):
                    views = last
            self.last[(kind, cid)] = views
            out.append((cid, views))
        return RowGroups(groups=tuple(out))

    def runtime(self) -> RuntimeView:
        return RuntimeView(
            version="1.2.3",
            platforms=(
                PlatformStatus(platform="replay", enabled=True, status="running"),
                PlatformStatus(
                    platform="twitch", enabled=True, status="running", last_heartbeat=self.now
                ),
            ),
            creators=tuple(c["view"] for c in self.creators.values()),
            actors=tuple(a for c in self.creators.values() for a in c["actors"].values()),
            replay=ReplayView(available=True, active=True, event_count=3),
        )


def _evolve(view: Any, **changes: Any) -> Any:
    import attrs

    return attrs.evolve(view, **changes)


def _all_parts(world: World, ctx: ExportContext) -> list[tuple[DocumentParts, dict[str, Any]]]:
    """Each long document's parts (with grouped rows, as the publisher hands them) beside
    its full build."""
    runtime = world.runtime()
    triggers, timers, filters = (world.groups(k) for k in ("triggers", "timers", "filters"))
    actors = world.groups("actors")
    return [
        (
            runtime_snapshot_parts(ctx, runtime, heartbeat=ctx.now, actors=actors),
            build_runtime_snapshot(ctx, runtime, heartbeat=ctx.now),
        ),
        (
            chat_triggers_parts(ctx, triggers, timers=timers, filters=filters),
            build_chat_triggers(ctx, tuple(triggers), timers=tuple(timers), filters=filters),
        ),
        (
            creators_parts(ctx, runtime.creators),
            build_creators(ctx, runtime.creators),
        ),
    ]


@pytest.mark.parametrize("seed", range(6))
def test_spliced_documents_equal_a_full_build_through_random_changes(seed: int) -> None:
    rng = random.Random(seed)
    world = World(rng)
    cache = RowCache()
    secrets = frozenset({SECRET})
    handed = 0
    for step in range(60):
        if rng.random() < 0.05:
            secrets = frozenset() if secrets else frozenset({SECRET})  # rows scrubbed anew
        ctx = world.ctx(secrets)
        for parts, whole in _all_parts(world, ctx):
            assert cache.encode(ctx, parts) == canonical_bytes(whole), f"step {step} {parts.path}"
            handed += sum(len(views) for _rows, views in parts.lists)
        world.step()
    assert 0 < cache.written < handed / 2  # most rows came from the cache


def test_an_unchanged_state_writes_no_row_again() -> None:
    world = World(random.Random(1))
    cache = RowCache()
    ctx = world.ctx(frozenset({SECRET}))
    for parts, _whole in _all_parts(world, ctx):
        cache.encode(ctx, parts)
    first = cache.written
    assert first > 0
    world.now += timedelta(seconds=10)  # the heartbeat moves; no view changed
    ctx = world.ctx(frozenset({SECRET}))
    for parts, whole in _all_parts(world, ctx):
        assert cache.encode(ctx, parts) == canonical_bytes(whole)
    assert cache.written == first


def test_only_the_changed_rows_are_written() -> None:
    world = World(random.Random(2))
    cache = RowCache()
    ctx = world.ctx(frozenset())
    for parts, _whole in _all_parts(world, ctx):
        cache.encode(ctx, parts)
    before = cache.written
    cid = next(iter(world.creators))
    trigger = world.creators[cid]["triggers"]["ping"]
    world.now += timedelta(seconds=10)
    world.creators[cid]["triggers"]["ping"] = _evolve(trigger, last_fired_at=world.now)
    ctx = world.ctx(frozenset())
    for parts, whole in _all_parts(world, ctx):
        assert cache.encode(ctx, parts) == canonical_bytes(whole)
    assert cache.written == before + 1


def test_a_row_with_a_future_time_is_written_again_until_the_clock_passes_it() -> None:
    world = World(random.Random(3))
    cid = next(iter(world.creators))
    ahead = world.now + timedelta(seconds=5)
    trigger = world.creators[cid]["triggers"]["ping"]
    world.creators[cid]["triggers"]["ping"] = _evolve(trigger, last_fired_at=ahead)
    cache = RowCache()
    outputs = []
    for _ in range(4):  # written clamped to each clock, then (past it) kept
        ctx = world.ctx(frozenset())
        parts, whole = _all_parts(world, ctx)[1]
        before = cache.written
        assert cache.encode(ctx, parts) == canonical_bytes(whole)
        outputs.append(cache.written - before)
        world.now += timedelta(seconds=3)
    assert outputs[0] > 0 and outputs[1] == 1 and outputs[2] == 1 and outputs[3] == 0


def test_a_row_holding_the_clocks_own_time_is_kept_once_the_clock_moves_on() -> None:
    """A row writing the clock's timestamp is looked at closely (it might hold a later time,
    clamped): it holds the clock's time itself, so its bytes hold for later clocks."""
    world = World(random.Random(4))
    cid = next(iter(world.creators))
    trigger = world.creators[cid]["triggers"]["ping"]
    world.creators[cid]["triggers"]["ping"] = _evolve(trigger, last_fired_at=world.now)
    cache = RowCache()
    written = []
    for _ in range(3):
        ctx = world.ctx(frozenset())
        parts, whole = _all_parts(world, ctx)[1]
        before = cache.written
        assert cache.encode(ctx, parts) == canonical_bytes(whole)
        written.append(cache.written - before)
        world.now += timedelta(seconds=3)
    assert written[0] > 0 and written[1:] == [0, 0]


def test_rows_that_are_not_objects_are_written_as_the_whole_document_writes_them() -> None:
    from exports.builders import RowList
    from exports.canonical import canonical_bytes

    numbers = RowList(key="items", order=lambda v: v, item=lambda _ctx, v: v, dates=lambda v: ())
    ctx = ExportContext(now=BOOT, started_at=BOOT)
    parts = DocumentParts(path="chat_triggers.json", body={}, lists=((numbers, (2, 1, 3)),))
    assert RowCache().encode(ctx, parts) == canonical_bytes(parts.document(ctx))


def test_a_clock_stepping_back_before_a_kept_row_writes_it_clamped() -> None:
    world = World(random.Random(4))
    cid = next(iter(world.creators))
    trigger = world.creators[cid]["triggers"]["ping"]
    world.creators[cid]["triggers"]["ping"] = _evolve(trigger, last_fired_at=world.now)
    cache = RowCache()
    for back in (0, 5):  # the same views; the second time the clock is 5 s earlier
        world.now -= timedelta(seconds=back)
        ctx = world.ctx(frozenset())
        for parts, whole in _all_parts(world, ctx):
            assert cache.encode(ctx, parts) == canonical_bytes(whole), parts.path


@attrs.frozen(kw_only=True)
class _Inner:
    at: datetime | None
    name: str


@attrs.frozen(kw_only=True)
class _Outer:
    label: str
    count: int | None
    inner: tuple[_Inner, ...]
    when: datetime


@attrs.frozen(kw_only=True)
class _Unresolved:
    at: NoSuchType  # type: ignore[name-defined]  # noqa: F821


def test_the_latest_moment_is_found_in_typed_and_untyped_fields() -> None:
    early, late = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)
    outer = _Outer(label="x", count=None, inner=(_Inner(at=late, name="n"),), when=early)
    assert latest_moment((outer,)) == late
    assert latest_moment((_Outer(label="x", count=1, inner=(), when=early),)) == early
    assert latest_moment((_Inner(at=None, name="n"),)) is None
    assert latest_moment((_Unresolved(at=late),)) == late  # its annotation does not resolve
