"""Typed store commands: every write the trigger engine asks for, as a frozen value.

The engine (and anything else that writes through the store) describes *what* should change;
the command's `run(conn)` is the only place that knows *how*: which tables, which statements,
which signal row goes with the change. The store actor runs commands inside its group commit
(`Database.batch`), where one failing command rolls back only itself; a command may run twice
(after another fails halfway), so `run` is a function of the connection alone.

Queries (`Query` subclasses) are the read-side twin: typed values the store runs on its own
connection, for the few reads an actor needs before it can work (cooldowns, declared tallies).

Timestamps are Unix milliseconds UTC (see `state.timeutil`). User identities in commands are
already pseudonymized where they reach a signal or an export (`voter_key`, `requested_by`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal, cast

import apsw
import attrs

from . import (
    chatops,
    clips,
    cooldowns,
    counters,
    giveaways,
    loyalty,
    polls,
    quotes,
    replays,
    seen,
    signals,
)
from .database import BatchItem, Combined
from .errors import Refused
from .loyalty import Balance, Viewer

__all__ = [
    "ActiveCooldowns",
    "AddQuote",
    "AddScore",
    "AdjustPoints",
    "AppendSignals",
    "ChangeTally",
    "CloseGiveaway",
    "ClosePoll",
    "Command",
    "CreateClip",
    "DeclareTallies",
    "DeleteQuote",
    "DrawGiveaway",
    "DrawnWinner",
    "GrantPoints",
    "JoinGiveaway",
    "MissingTallies",
    "OpenGiveaway",
    "OpenPoll",
    "Operation",
    "Paid",
    "PointsGrant",
    "PointsOf",
    "PruneCooldowns",
    "Query",
    "RecordFilterHit",
    "RecordTimerPost",
    "RecordVote",
    "ReplayPositionOf",
    "RestoreEngine",
    "RestoreFeatures",
    "RestoredEngine",
    "RestoredFeatures",
    "SaveReplayPosition",
    "SetCooldowns",
    "ShowQuote",
    "SignalRow",
    "SignalledChange",
    "SpendPoints",
    "TopPoints",
    "TransferPoints",
    "Viewer",
    "in_batch",
]


@attrs.frozen(kw_only=True)
class Command:
    """A write the store runs in its transaction; `run` returns the reply value.

    A command that changes a creator's exported state names it in `creator_id` (the store
    tells the publisher which creators changed); one that changes no exported state says so
    with `touches_exports = False`.
    """

    touches_exports: ClassVar[bool] = True
    #: The class whose `run_in_turn` runs commands of this class as one, when several share
    #: a transaction (`in_batch`); None: each runs alone.
    combines_as: ClassVar[type[Command] | None] = None

    def run(self, conn: apsw.Connection) -> Any:
        """Apply the change on `conn` (inside the store's transaction)."""
        raise NotImplementedError(type(self).__name__)

    def resources(self) -> Resources | None:
        """The state this command reads or changes, as names ("signals", "seen", "cooldowns",
        ("points", creator_id), ...): two commands that name none in common leave the same rows
        and reply the same values in either order. None: unknown (any state). (A tuple, not
        a set: the store asks every command of every write.)"""
        return None

    @classmethod
    def run_in_turn(cls, conn: apsw.Connection, commands: Sequence[Command]) -> list[Any]:
        """Run `commands` (of the classes that combine as this one) as one: the rows end and
        the values (one per command) are what running each in turn gives. Bad input raises
        before anything changed (the store then runs them one by one, so only the bad one
        fails)."""
        raise NotImplementedError(cls.__name__)

    def state_keys(self) -> frozenset[str] | None:
        """What state this command may change, as keys a `Query.state_keys` names too: a
        creator's id (its rows), a seen-ids scope, a cooldown scope's prefix up to a `/`.
        None: any state (the store answers no read ahead of it)."""
        creator = getattr(self, "creator_id", None)
        return frozenset((creator,)) if isinstance(creator, str) else None


@attrs.frozen(kw_only=True)
class Query:
    """A read the store runs on its connection; `run` returns the reply value."""

    def run(self, conn: apsw.Connection) -> Any:
        """Read from `conn`."""
        raise NotImplementedError(type(self).__name__)

    def state_keys(self) -> frozenset[str] | None:
        """What state this query reads, as keys (`Command.state_keys`): the store may answer
        it ahead of queued writes whose keys are all others. None: any state (it keeps its
        place behind every write queued before it)."""
        return None


#: What a command reads or changes (`Command.resources`): names (a string for state every
#: creator shares, `(state, creator_id)` for a creator's), maybe repeated.
Resources = tuple[str | tuple[str, str], ...]

#: One operation of a store write: a typed command, or (for code not yet moved to commands) a
#: function of the connection.
Operation = Command | Callable[[apsw.Connection], Any]


def in_batch(ops: Sequence[Operation]) -> tuple[list[BatchItem], list[int] | None]:
    """The items of `Database.batch` that run `ops` in one transaction, the commands that
    combine (`Command.combines_as`) run as one (`Command.run_in_turn`) per kind, and the
    index in `ops` of each outcome of the batch (None: in order, nothing combined).

    A kind's commands run together where the last of them was, or earlier: before the first
    operation after them that names a resource they name (`Command.resources`), or that
    names none (unknown). So every operation a combined command moves past touches none of
    its state, and the rows and values are what running the operations in turn gives."""
    items: list[BatchItem] = []
    order: list[int] = []
    # The kinds waiting, in order: the indexes of their commands, the resources these name.
    groups: dict[type[Command], tuple[list[int], list[Any]]] = {}
    owners: dict[Any, type[Command]] = {}  # resource -> the waiting kind that names it

    def run_group(kind: type[Command]) -> None:
        at, names = groups.pop(kind)
        for name in names:
            del owners[name]
        if len(at) == 1:
            items.append(_runnable(ops[at[0]]))
        else:
            commands = tuple(cast(Command, ops[i]) for i in at)
            items.append(
                Combined(
                    run=lambda conn: kind.run_in_turn(conn, commands),
                    parts=tuple(command.run for command in commands),
                )
            )
        order.extend(at)

    for i, op in enumerate(ops):
        if isinstance(op, Command):
            names = op.resources()
            kind = op.combines_as
        else:
            names = kind = None
        if names is None:  # unknown: after everything before it
            while groups:
                run_group(next(iter(groups)))
            items.append(_runnable(op))
            order.append(i)
        elif kind is None:  # alone, after the waiting commands that share its state
            if owners:
                for name in names:
                    owner = owners.get(name)
                    if owner is not None:
                        run_group(owner)
            items.append(cast(Command, op).run)
            order.append(i)
        else:  # waits with its kind; another kind that shares its state runs first
            group = groups.get(kind)
            if group is None:
                group = groups[kind] = ([], [])
            group[0].append(i)
            for name in names:
                owner = owners.get(name)
                if owner is kind:
                    continue
                if owner is not None:
                    run_group(owner)
                owners[name] = kind
                group[1].append(name)
    while groups:
        run_group(next(iter(groups)))
    if len(items) == len(ops) and order == list(range(len(ops))):
        return items, None  # nothing combined or moved
    return items, order


def _runnable(op: Operation) -> Callable[[apsw.Connection], Any]:
    return op.run if isinstance(op, Command) else op


# The resources (`Command.resources`) of the state every creator shares.
_SIGNALS = ("signals",)  # one ring, its ids in the order appended
_SEEN = ("seen",)  # one journal, folded once it holds `seen.FOLD_ROWS` ids
_COOLDOWNS = ("cooldowns",)
_CLIPS = ("clips",)


def _of(state: str, creator_id: str) -> Resources:
    """The resource of one creator's `state` (its rows of that kind, read or written). A pair,
    not a joined string: its hash is made of the two strings' (each kept on the string)."""
    return ((state, creator_id),)


def _cooldown_keys(scope: str) -> set[str]:
    """The keys of a cooldown scope: each of its prefixes that ends with a `/` (the trigger
    engine's scopes are `<creator_id>/...`, read back by that prefix)."""
    return {scope[: i + 1] for i, char in enumerate(scope) if char == "/"}


# ----------------------------------------------------------------------------- signals


@attrs.frozen(kw_only=True)
class SignalRow:
    """One row of the recent-signals ring (see `state.signals`)."""

    kind: signals.SignalKind
    creator_id: str
    timestamp: int
    entity_id: str
    type: str
    source: str
    summary: str


def _append(conn: apsw.Connection, row: SignalRow) -> None:
    # The values alone: the `signals.Signal` that `append_signal` builds would be dropped.
    signals.append_signal_values(conn, (_values_of(row),))


@attrs.frozen(kw_only=True)
class AppendSignals(Command):
    """Append buffered signal rows in one pass (one prune per kind)."""

    rows: tuple[SignalRow, ...] = attrs.field(converter=tuple[SignalRow, ...])

    @property
    def creator_id(self) -> str | None:
        """The creator of every row (a trigger engine's flush), else None."""
        if not self.rows:
            return None
        first = self.rows[0].creator_id
        return first if all(r.creator_id == first for r in self.rows) else None

    def state_keys(self) -> frozenset[str] | None:
        return frozenset(r.creator_id for r in self.rows)

    def resources(self) -> Resources | None:
        return _SIGNALS

    def run(self, conn: apsw.Connection) -> int:
        if not self.rows:
            return 0
        return signals.append_signal_values(conn, self._values())

    def _values(self) -> list[signals.SignalValues]:
        return [_values_of(r) for r in self.rows]

    @classmethod
    def run_in_turn(cls, conn: apsw.Connection, commands: Sequence[Command]) -> list[Any]:
        """`AppendSignals` and `SignalledChange` commands as one: each change in turn, then
        every row in one statement, the ring pruned where each append would have pruned it
        (`signals.append_signal_groups`)."""
        groups: list[list[signals.SignalValues]] = []
        values: list[Any] = []
        for command in commands:
            if isinstance(command, AppendSignals):
                groups.append(command._values())
                values.append(None)
            else:
                assert isinstance(command, SignalledChange)
                value, row = command.changed(conn)
                groups.append([_values_of(row)])
                values.append(value)
        counts = signals.append_signal_groups(conn, groups)
        return [
            count if isinstance(command, AppendSignals) else value
            for command, count, value in zip(commands, counts, values, strict=True)
        ]


AppendSignals.combines_as = AppendSignals


def _values_of(row: SignalRow) -> signals.SignalValues:
    return (
        row.kind,
        row.creator_id,
        row.timestamp,
        row.entity_id,
        row.type,
        row.source,
        row.summary,
    )


@attrs.frozen(kw_only=True)
class SignalledChange(Command):
    """A change that records one signal row of what it did (`changed`): it runs with the
    appended signals of its transaction (`AppendSignals.run_in_turn`), its row in its place
    among theirs. One whose change is often refused (a vote with no poll open) should not be
    one: a refusal among changes already made runs the whole transaction again, each
    command alone."""

    combines_as: ClassVar[type[Command] | None] = AppendSignals

    def changed(self, conn: apsw.Connection) -> tuple[Any, SignalRow]:
        """Make the change; return the reply value and the signal row to append."""
        raise NotImplementedError(type(self).__name__)

    def run(self, conn: apsw.Connection) -> Any:
        value, row = self.changed(conn)
        _append(conn, row)
        return value


# --------------------------------------------------------------------------- cooldowns


@attrs.frozen(kw_only=True)
class PruneCooldowns(Command):
    """Forget the cooldowns under `prefix` that ended by `now` (Unix ms): rows a restart would
    not read back (`ActiveCooldowns` at that time), which would otherwise pile up with every
    viewer ever cooled down."""

    touches_exports: ClassVar[bool] = False

    prefix: str = attrs.field(validator=attrs.validators.min_len(1))
    now: int = attrs.field(validator=attrs.validators.instance_of(int))

    def state_keys(self) -> frozenset[str] | None:
        return frozenset((self.prefix,)) if self.prefix.endswith("/") else None

    def resources(self) -> Resources | None:
        return _COOLDOWNS

    def run(self, conn: apsw.Connection) -> None:
        cooldowns.prune_expired_cooldowns(conn, now=self.now, prefix=self.prefix)


@attrs.frozen(kw_only=True)
class SetCooldowns(Command):
    """Persist cooldown expiries (scope -> Unix ms) so they survive a restart, and the ids of
    the messages handled so far (`seen`), in the transaction of what they changed."""

    touches_exports: ClassVar[bool] = False

    expiries: tuple[tuple[str, int], ...] = attrs.field(converter=tuple[tuple[str, int], ...])
    seen: MarkSeen | None = None
    prune: PruneCooldowns | None = None  # now and then: the cooldowns that ended go first

    def state_keys(self) -> frozenset[str] | None:
        keys: set[str] = set()
        for scope, _expiry in self.expiries:
            keys |= _cooldown_keys(scope)
        if self.seen is not None:
            keys.add(self.seen.scope)
        if self.prune is not None:
            pruned = self.prune.state_keys()
            if pruned is None:
                return None
            keys |= pruned
        return frozenset(keys)

    def resources(self) -> Resources | None:
        return _COOLDOWNS if self.seen is None else _COOLDOWNS + _SEEN

    def run(self, conn: apsw.Connection) -> None:
        if self.prune is not None:
            self.prune.run(conn)
        if self.expiries:
            cooldowns.set_cooldowns(conn, self.expiries)
        if self.seen is not None:
            self.seen.run(conn)

    @classmethod
    def run_in_turn(cls, conn: apsw.Connection, commands: Sequence[Command]) -> list[Any]:
        """`SetCooldowns` and `MarkSeen` commands as one: the expiries in one statement
        (split where a prune must come between), the ids of every marking in one
        (`seen.mark_seen_in_turn`; the cooldowns and the ids are tables apart)."""
        expiries: list[tuple[str, int]] = []
        markings: list[seen.Marking] = []
        for command in commands:
            if isinstance(command, MarkSeen):
                markings.append(command.marking())
                continue
            assert isinstance(command, SetCooldowns)
            if command.prune is not None:
                if expiries:
                    cooldowns.set_cooldowns(conn, expiries)
                    expiries = []
                command.prune.run(conn)
            expiries += command.expiries
            if command.seen is not None:
                markings.append(command.seen.marking())
        if expiries:
            cooldowns.set_cooldowns(conn, expiries)
        seen.mark_seen_in_turn(conn, markings)
        return [None] * len(commands)


SetCooldowns.combines_as = SetCooldowns


@attrs.frozen(kw_only=True)
class MarkSeen(Command):
    """Remember message ids (`(platform, message_id)` pairs) of `scope` as applied; with
    `prune_before`, forget the scope's ids older than that (ms) beyond its newest `keep_last`
    (at the next fold of the seen ids: `state.seen.request_prune`)."""

    touches_exports: ClassVar[bool] = False

    scope: str
    keys: tuple[tuple[str, str], ...] = attrs.field(converter=tuple[tuple[str, str], ...])
    now: int
    prune_before: int | None = None
    keep_last: int | None = None

    def state_keys(self) -> frozenset[str] | None:
        return frozenset((self.scope,))

    def resources(self) -> Resources | None:
        return _SEEN

    #: Ids marked with cooldowns (`SetCooldowns.seen`) and alone share one journal.
    combines_as: ClassVar[type[Command] | None] = SetCooldowns

    def run(self, conn: apsw.Connection) -> None:
        seen.mark_seen_many(conn, scope=self.scope, keys=self.keys, now=self.now)
        if self.prune_before is not None:
            seen.request_prune(
                conn, scope=self.scope, older_than=self.prune_before, keep_last=self.keep_last
            )

    def marking(self) -> seen.Marking:
        """This command as a marking of `seen.mark_seen_in_turn`."""
        prune = None if self.prune_before is None else (self.prune_before, self.keep_last)
        return (self.scope, self.keys, self.now, prune)


@attrs.frozen(kw_only=True)
class RecentSeen(Query):
    """The scope's newest `limit` remembered ids, oldest first, as their keys packed per
    platform (`seen.recent_seen_keys`)."""

    scope: str
    limit: int
    platform: str | None = None  # only this platform's ids

    def run(self, conn: apsw.Connection) -> dict[str, bytes]:
        return seen.recent_seen_keys(
            conn, scope=self.scope, limit=self.limit, platform=self.platform
        )

    def state_keys(self) -> frozenset[str] | None:
        return frozenset((self.scope,))


@attrs.frozen(kw_only=True)
class SeenAmong(Query):
    """The ids among `message_ids` that `scope` remembers for `platform`."""

    scope: str
    platform: str
    message_ids: frozenset[str]

    def run(self, conn: apsw.Connection) -> set[str]:
        return seen.seen_among(
            conn, scope=self.scope, platform=self.platform, message_ids=self.message_ids
        )

    def state_keys(self) -> frozenset[str] | None:
        return frozenset((self.scope,))


@attrs.frozen(kw_only=True)
class ActiveCooldowns(Query):
    """Cooldowns running at `now` under `prefix`: scope (prefix removed) -> expiry seconds."""

    prefix: str
    now: int

    def run(self, conn: apsw.Connection) -> dict[str, float]:
        rows = cooldowns.active_cooldowns(conn, now=self.now, prefix=self.prefix)
        return {r.scope[len(self.prefix) :]: r.expires_at / 1000 for r in rows}

    def state_keys(self) -> frozenset[str] | None:
        # Only a prefix that ends a scope's key (`_cooldown_keys`) names every scope it reads.
        return frozenset((self.prefix,)) if self.prefix.endswith("/") else None


# ----------------------------------------------------------------------------- tallies


@attrs.frozen(kw_only=True)
class MissingTallies(Query):
    """Which of `tally_ids` have no row yet for `creator_id`."""

    creator_id: str
    tally_ids: tuple[str, ...] = attrs.field(converter=tuple[str, ...])

    def run(self, conn: apsw.Connection) -> frozenset[str]:
        return frozenset(
            t for t in self.tally_ids if counters.get_tally(conn, self.creator_id, t) is None
        )

    def state_keys(self) -> frozenset[str] | None:
        return frozenset((self.creator_id,))


@attrs.frozen(kw_only=True)
class DeclareTallies(Command):
    """Create the configured tallies that have no row yet, at 0 (`(id, label)` pairs)."""

    creator_id: str
    tallies: tuple[tuple[str, str], ...] = attrs.field(converter=tuple[tuple[str, str], ...])
    now: int

    def resources(self) -> Resources | None:
        return _of("tallies", self.creator_id)

    def run(self, conn: apsw.Connection) -> None:
        for tally_id, label in self.tallies:
            if counters.get_tally(conn, self.creator_id, tally_id) is None:
                counters.set_tally(
                    conn,
                    creator_id=self.creator_id,
                    tally_id=tally_id,
                    value=0,
                    label=label,
                    now=self.now,
                )


TallyOp = Literal["increment", "decrement", "reset"]


@attrs.frozen(kw_only=True)
class ChangeTally(SignalledChange):
    """Add `amount` to a tally, subtract it, or reset the tally to 0; records a signal.

    Replies the new `counters.Tally`.
    """

    creator_id: str
    tally_id: str
    label: str | None
    op: TallyOp
    amount: int
    now: int
    source: str

    def resources(self) -> Resources | None:
        return _SIGNALS + _of("tallies", self.creator_id)

    def changed(self, conn: apsw.Connection) -> tuple[counters.Tally, SignalRow]:
        kw: dict[str, Any] = {
            "creator_id": self.creator_id,
            "tally_id": self.tally_id,
            "label": self.label,
            "now": self.now,
        }
        if self.op == "increment":
            tally = counters.increment_tally(conn, by=self.amount, **kw)
        elif self.op == "decrement":
            tally = counters.decrement_tally(conn, by=self.amount, **kw)
        else:
            tally = counters.set_tally(conn, value=0, **kw)
        return tally, SignalRow(
            kind="tally",
            creator_id=self.creator_id,
            timestamp=self.now,
            entity_id=self.tally_id,
            type=self.op,
            source=self.source,
            summary=f"{self.tally_id} is now {tally.count}",
        )


# ------------------------------------------------------------------------- scoreboards


@attrs.frozen(kw_only=True)
class AddScore(SignalledChange):
    """Give `points` (may be negative) to `label` on a scoreboard; replies the ranked entry."""

    creator_id: str
    scoreboard_id: str
    title: str | None
    label: str
    points: int
    now: int
    source: str

    def resources(self) -> Resources | None:
        return _SIGNALS + _of("scoreboards", self.creator_id)

    def changed(self, conn: apsw.Connection) -> tuple[counters.RankedEntry, SignalRow]:
        entry = counters.add_points(
            conn,
            creator_id=self.creator_id,
            scoreboard_id=self.scoreboard_id,
            label=self.label,
            points=self.points,
            title=self.title,
            now=self.now,
        )
        return entry, SignalRow(
            kind="score",
            creator_id=self.creator_id,
            timestamp=self.now,
            entity_id=self.scoreboard_id,
            type="points",
            source=self.source,
            summary=f"{self.points:+d} points, now {entry.score}",
        )


# ------------------------------------------------------------------------------- polls


@attrs.frozen(kw_only=True)
class OpenPoll(Command):
    """Close the creator's open poll, if any, and open a new one: `poll_id`, or by default the
    creator's next counted id (never the clock: the same history gives the same ids)."""

    creator_id: str
    question: str
    options: tuple[str, ...] = attrs.field(converter=tuple[str, ...])
    now: int
    poll_id: str | None = None

    def resources(self) -> Resources | None:
        return _of("polls", self.creator_id)

    def run(self, conn: apsw.Connection) -> polls.PollResults:
        for poll_id in polls.open_poll_ids(conn, self.creator_id):
            polls.close_poll(conn, poll_id=poll_id, now=self.now)
        return polls.open_poll(
            conn,
            poll_id=self.poll_id,
            creator_id=self.creator_id,
            question=self.question,
            options=self.options,
            now=self.now,
        )


@attrs.frozen(kw_only=True)
class RecordVote(Command):
    """`voter_key` votes `option` (a 1-based number or an option's name) in the open poll."""

    creator_id: str
    voter_key: str
    option: str
    now: int
    source: str

    def resources(self) -> Resources | None:
        return _SIGNALS + _of("polls", self.creator_id)

    def run(self, conn: apsw.Connection) -> polls.VoteResult:
        result = polls.vote_in_open_poll(
            conn,
            creator_id=self.creator_id,
            voter_key=self.voter_key,
            choice=self.option,
            now=self.now,
        )
        poll_id, option = result.poll_id, result.option_id
        _append(
            conn,
            SignalRow(
                kind="poll_vote",
                creator_id=self.creator_id,
                timestamp=self.now,
                entity_id=poll_id,
                type="vote",
                source=self.source,
                summary=f"{self.voter_key} voted for option {option}",
            ),
        )
        return result


@attrs.frozen(kw_only=True)
class ClosePoll(Command):
    """Close the creator's open poll; replies its `polls.PollResults`."""

    creator_id: str
    now: int

    def resources(self) -> Resources | None:
        return _of("polls", self.creator_id)

    def run(self, conn: apsw.Connection) -> polls.PollResults:
        current = polls.open_poll_ids(conn, self.creator_id)
        if not current:
            raise Refused("There is no open poll.")
        return polls.close_poll(conn, poll_id=current[0], now=self.now)


# ------------------------------------------------------------------------------- clips


@attrs.frozen(kw_only=True)
class CreateClip(Command):
    """Queue a clip job; replies the new `clips.Clip`."""

    creator_id: str
    title: str
    platform: str
    duration_seconds: float
    requested_by: str
    source: str
    now: int

    def resources(self) -> Resources | None:
        return _CLIPS

    def run(self, conn: apsw.Connection) -> clips.Clip:
        return clips.create_clip(
            conn,
            creator_id=self.creator_id,
            title=self.title,
            platform=self.platform,
            duration_seconds=self.duration_seconds,
            requested_by=self.requested_by,
            source=self.source,
            now=self.now,
        )


# ------------------------------------------------------------------------------ points


@attrs.frozen(kw_only=True)
class PointsGrant:
    """Points a viewer earned (chatting, being active) at `at` (Unix ms)."""

    viewer: Viewer
    amount: int
    at: int
    per_message: bool = False


@attrs.frozen(kw_only=True)
class GrantPoints(Command):
    """Credit earned points, in order."""

    creator_id: str
    grants: tuple[PointsGrant, ...] = attrs.field(converter=tuple[PointsGrant, ...])

    def resources(self) -> Resources | None:
        return _of("points", self.creator_id)

    def run(self, conn: apsw.Connection) -> int:
        return loyalty.add_many(conn, self.creator_id, self._credits())

    def _credits(self) -> list[loyalty.Credit]:
        return [(g.viewer, g.amount, g.at, g.per_message) for g in self.grants]

    @classmethod
    def run_in_turn(cls, conn: apsw.Connection, commands: Sequence[Command]) -> list[Any]:
        """Every credit in one pass (`loyalty.add_many_in_turn`). Safe to combine: grants of
        a creator move past no command that reads or spends its points (`resources`)."""
        return loyalty.add_many_in_turn(
            conn, [(c.creator_id, c._credits()) for c in commands if isinstance(c, GrantPoints)]
        )


GrantPoints.combines_as = GrantPoints


@attrs.frozen(kw_only=True)
class SpendPoints(Command):
    """Take `amount` from the viewer, or refuse (`Refused`) when the balance is short."""

    creator_id: str
    viewer: Viewer
    amount: int
    name: str
    now: int

    def resources(self) -> Resources | None:
        return _of("points", self.creator_id)

    def run(self, conn: apsw.Connection) -> Balance:
        return loyalty.spend(
            conn,
            creator_id=self.creator_id,
            viewer=self.viewer,
            amount=self.amount,
            name=self.name,
            now=self.now,
        )


@attrs.frozen(kw_only=True)
class Paid(Command):
    """`cost` then `then`, atomically: when `then` fails the payment is rolled back with it
    (the refund), and when the payment is refused `then` does not run. Replies
    `(balance after paying, then's result or None)`."""

    cost: SpendPoints
    then: Command | None = None

    @property
    def creator_id(self) -> str:
        return self.cost.creator_id

    def state_keys(self) -> frozenset[str] | None:
        then = frozenset[str]() if self.then is None else self.then.state_keys()
        cost = self.cost.state_keys()
        return None if then is None or cost is None else cost | then

    def resources(self) -> Resources | None:
        then = () if self.then is None else self.then.resources()
        return None if then is None else then + _of("points", self.creator_id)

    def run(self, conn: apsw.Connection) -> tuple[Balance, Any]:
        balance = self.cost.run(conn)
        return balance, (None if self.then is None else self.then.run(conn))


def _known(conn: apsw.Connection, creator_id: str, platform: str, login: str) -> Viewer:
    found = loyalty.find_by_login(conn, creator_id, platform, login)
    if found is None:
        raise Refused(f"I don't know @{login} here yet.")
    return Viewer(
        platform=found.platform,
        viewer_key=found.viewer_key,
        login=found.login,
        display_name=found.display_name,
    )


@attrs.frozen(kw_only=True)
class PointsOf(Command):
    """The balance of `viewer`, or of the viewer known as `target_login` on the same platform.

    A command (not a query) so it is answered in order after the earnings queued before it."""

    creator_id: str
    viewer: Viewer
    target_login: str | None = None

    def resources(self) -> Resources | None:
        return _of("points", self.creator_id)

    def run(self, conn: apsw.Connection) -> Balance:
        viewer = self.viewer
        if self.target_login is not None:
            viewer = _known(conn, self.creator_id, viewer.platform, self.target_login)
        return loyalty.balance_of(conn, self.creator_id, viewer)


@attrs.frozen(kw_only=True)
class TransferPoints(Command):
    """`giver` gives `amount` to the viewer known as `receiver_login` (same platform), atomically;
    replies `(giver's balance, receiver's balance)`."""

    creator_id: str
    giver: Viewer
    receiver_login: str
    amount: int
    name: str
    now: int

    def resources(self) -> Resources | None:
        return _of("points", self.creator_id)

    def run(self, conn: apsw.Connection) -> tuple[Balance, Balance]:
        receiver = _known(conn, self.creator_id, self.giver.platform, self.receiver_login)
        return loyalty.transfer(
            conn,
            creator_id=self.creator_id,
            giver=self.giver,
            receiver=receiver,
            amount=self.amount,
            name=self.name,
            now=self.now,
        )


@attrs.frozen(kw_only=True)
class AdjustPoints(Command):
    """A moderator adds `amount` (negative: removes, refused below zero) to a viewer's balance."""

    creator_id: str
    platform: str
    target_login: str
    amount: int
    name: str
    now: int

    def resources(self) -> Resources | None:
        return _of("points", self.creator_id)

    def run(self, conn: apsw.Connection) -> Balance:
        viewer = _known(conn, self.creator_id, self.platform, self.target_login)
        if self.amount >= 0:
            return loyalty.add(
                conn, creator_id=self.creator_id, viewer=viewer, amount=self.amount, now=self.now
            )
        return loyalty.spend(
            conn,
            creator_id=self.creator_id,
            viewer=viewer,
            amount=-self.amount,
            name=self.name,
            now=self.now,
        )


@attrs.frozen(kw_only=True)
class TopPoints(Command):
    """The `limit` highest balances (in order after the earnings queued before it)."""

    creator_id: str
    limit: int

    def resources(self) -> Resources | None:
        return _of("points", self.creator_id)

    def run(self, conn: apsw.Connection) -> list[Balance]:
        return loyalty.top(conn, self.creator_id, self.limit)


# ------------------------------------------------------------------------------ quotes


@attrs.frozen(kw_only=True)
class AddQuote(Command):
    """Add a quote under the next number; replies the `quotes.Quote`."""

    creator_id: str
    text: str
    added_by: str
    platform: str
    now: int

    def resources(self) -> Resources | None:
        return _of("quotes", self.creator_id)

    def run(self, conn: apsw.Connection) -> quotes.Quote:
        return quotes.add_quote(
            conn,
            creator_id=self.creator_id,
            text=self.text,
            added_by=self.added_by,
            platform=self.platform,
            now=self.now,
        )


@attrs.frozen(kw_only=True)
class ShowQuote(Command):
    """Quote `number`, or one containing `word`, or any: the `pick`-th (modulo the count)."""

    creator_id: str
    number: int | None = None
    word: str | None = None
    pick: int = 0

    def resources(self) -> Resources | None:
        return _of("quotes", self.creator_id)

    def run(self, conn: apsw.Connection) -> quotes.Quote:
        if self.number is not None:
            found = quotes.get_quote(conn, self.creator_id, self.number)
            if found is None:
                raise Refused(f"There is no quote #{self.number}.")
            return found
        if self.word is not None:
            found = quotes.find_quote(conn, self.creator_id, self.word, self.pick)
            if found is None:
                raise Refused(f"No quote mentions {self.word!r}.")
            return found
        every = quotes.list_quotes(conn, self.creator_id)
        if not every:
            raise Refused("There are no quotes yet.")
        return every[self.pick % len(every)]


@attrs.frozen(kw_only=True)
class DeleteQuote(Command):
    """Delete quote `number` (never renumbered); replies the deleted quote."""

    creator_id: str
    number: int
    now: int

    def resources(self) -> Resources | None:
        return _of("quotes", self.creator_id)

    def run(self, conn: apsw.Connection) -> quotes.Quote:
        return quotes.delete_quote(
            conn, creator_id=self.creator_id, number=self.number, now=self.now
        )


# --------------------------------------------------------------------------- giveaways


@attrs.frozen(kw_only=True)
class OpenGiveaway(Command):
    """Open a giveaway for `prize`; replies the `giveaways.Giveaway`."""

    creator_id: str
    giveaway_id: str
    prize: str
    entry_cost: int
    subscribers_only: bool
    subscriber_tickets: int
    now: int

    def resources(self) -> Resources | None:
        return _of("giveaways", self.creator_id)

    def run(self, conn: apsw.Connection) -> giveaways.Giveaway:
        return giveaways.open_giveaway(
            conn,
            giveaway_id=self.giveaway_id,
            creator_id=self.creator_id,
            prize=self.prize,
            entry_cost=self.entry_cost,
            subscribers_only=self.subscribers_only,
            subscriber_tickets=self.subscriber_tickets,
            now=self.now,
        )


@attrs.frozen(kw_only=True)
class JoinGiveaway(Command):
    """Enter the open giveaway once, paying its entry cost in the same transaction; replies
    `(giveaway, entry, balance after paying or None when it was free)`."""

    creator_id: str
    viewer: Viewer
    subscriber: bool
    points_name: str
    now: int

    def resources(self) -> Resources | None:
        return _of("giveaways", self.creator_id) + _of("points", self.creator_id)

    def run(
        self, conn: apsw.Connection
    ) -> tuple[giveaways.Giveaway, giveaways.Entry, Balance | None]:
        paid: list[Balance] = []

        def pay(giveaway: giveaways.Giveaway) -> None:
            # Before the entry is written: a viewer short of points changes nothing.
            if giveaway.entry_cost:
                paid.append(
                    loyalty.spend(
                        conn,
                        creator_id=self.creator_id,
                        viewer=self.viewer,
                        amount=giveaway.entry_cost,
                        name=self.points_name,
                        now=self.now,
                    )
                )

        giveaway, entry = giveaways.join(
            conn,
            creator_id=self.creator_id,
            platform=self.viewer.platform,
            viewer_key=self.viewer.viewer_key,
            display_name=self.viewer.display_name,
            subscriber=self.subscriber,
            now=self.now,
            before_entering=pay,
        )
        return giveaway, entry, (paid[0] if paid else None)


@attrs.frozen(kw_only=True)
class DrawnWinner:
    """The reply to `DrawGiveaway`."""

    giveaway: giveaways.Giveaway
    winner: giveaways.Entry
    draw_number: int


@attrs.frozen(kw_only=True)
class DrawGiveaway(Command):
    """Draw (or reroll) the current giveaway's winner, weighted by tickets.

    Live, the number comes from `secrets` (a fair draw nobody can predict). `reproducible`
    draws (the replay platform only) take it from `random.Random` seeded with the giveaway id
    and the draw's number, so replaying a log gives the same winner every time.
    """

    creator_id: str
    reproducible: bool = False
    now: int

    def resources(self) -> Resources | None:
        return _of("giveaways", self.creator_id)

    def run(self, conn: apsw.Connection) -> DrawnWinner:
        giveaway, winner, number = giveaways.draw(
            conn,
            creator_id=self.creator_id,
            pick=secrets.randbelow,
            now=self.now,
            seeded=self.reproducible,
        )
        return DrawnWinner(giveaway=giveaway, winner=winner, draw_number=number)


@attrs.frozen(kw_only=True)
class CloseGiveaway(Command):
    """Close the open giveaway; replies it."""

    creator_id: str
    now: int

    def resources(self) -> Resources | None:
        return _of("giveaways", self.creator_id)

    def run(self, conn: apsw.Connection) -> giveaways.Giveaway:
        return giveaways.close_giveaway(conn, creator_id=self.creator_id, now=self.now)


# ----------------------------------------------------------------------------- replays


@attrs.frozen(kw_only=True)
class SaveReplayPosition(Command):
    """Store where a creator's chat log replay stands (`state.replays`)."""

    touches_exports: ClassVar[bool] = False

    creator_id: str
    position: replays.ReplayPosition

    def resources(self) -> Resources | None:
        return _of("replays", self.creator_id)

    def run(self, conn: apsw.Connection) -> None:
        replays.set_replay_position(conn, self.creator_id, self.position)


# ---------------------------------------------------------------------- timers, filters


@attrs.frozen(kw_only=True)
class RecordTimerPost(Command):
    """Count a timer's post and remember which message comes next."""

    creator_id: str
    timer_id: str
    next_message: int
    now: int

    def resources(self) -> Resources | None:
        return _of("chatops", self.creator_id)

    def run(self, conn: apsw.Connection) -> None:
        chatops.record_timer_post(
            conn,
            creator_id=self.creator_id,
            timer_id=self.timer_id,
            next_message=self.next_message,
            now=self.now,
        )


@attrs.frozen(kw_only=True)
class RecordFilterHit(Command):
    """Count a message a filter caught."""

    creator_id: str
    filter_id: str
    now: int

    def resources(self) -> Resources | None:
        return _of("chatops", self.creator_id)

    def run(self, conn: apsw.Connection) -> None:
        chatops.record_filter_hit(
            conn, creator_id=self.creator_id, filter_id=self.filter_id, now=self.now
        )


@attrs.frozen(kw_only=True)
class RestoredFeatures:
    """What the trigger engine reloads at start: tally counts, timers' next messages, and the
    post and hit counts with their last times (Unix ms) of timers and filters."""

    tallies: dict[str, int]
    next_messages: dict[str, int]
    timer_posts: dict[str, tuple[int, int]]
    filter_hits: dict[str, tuple[int, int]]


@attrs.frozen(kw_only=True)
class RestoreFeatures(Query):
    """Read the creator's tally counts and timer rotation."""

    creator_id: str

    def state_keys(self) -> frozenset[str] | None:
        return frozenset((self.creator_id,))

    def run(self, conn: apsw.Connection) -> RestoredFeatures:
        timers = chatops.timer_posts(conn, self.creator_id)
        return RestoredFeatures(
            tallies={
                t.tally_id: t.count for t in counters.list_tallies(conn, creator_id=self.creator_id)
            },
            next_messages={t.timer_id: t.next_message for t in timers},
            timer_posts={t.timer_id: (t.posts, t.last_posted_at) for t in timers},
            filter_hits={
                f.filter_id: (f.hits, f.last_hit_at)
                for f in chatops.filter_hits(conn, self.creator_id)
            },
        )


@attrs.frozen(kw_only=True)
class RestoredEngine:
    """The reply to `RestoreEngine`."""

    cooldowns: dict[str, float]
    missing_tallies: frozenset[str]
    features: RestoredFeatures
    seen: dict[str, bytes] = attrs.Factory(dict)  # `RecentSeen`'s packed keys


@attrs.frozen(kw_only=True)
class RestoreEngine(Query):
    """Everything a trigger engine reloads at start, in one read: its running cooldowns
    (`ActiveCooldowns`), which configured tallies have no row yet, `RestoreFeatures`, and the
    ids of the messages it applied most recently (`RecentSeen`, up to `seen_limit`)."""

    creator_id: str
    prefix: str
    now: int
    tally_ids: tuple[str, ...] = attrs.field(converter=tuple[str, ...])
    seen_limit: int = 0

    def state_keys(self) -> frozenset[str] | None:
        cooldowns = ActiveCooldowns(prefix=self.prefix, now=self.now).state_keys()
        return None if cooldowns is None else cooldowns | {self.creator_id}

    def run(self, conn: apsw.Connection) -> RestoredEngine:
        return RestoredEngine(
            cooldowns=ActiveCooldowns(prefix=self.prefix, now=self.now).run(conn),
            missing_tallies=MissingTallies(
                creator_id=self.creator_id, tally_ids=self.tally_ids
            ).run(conn),
            features=RestoreFeatures(creator_id=self.creator_id).run(conn),
            seen=RecentSeen(scope=self.creator_id, limit=self.seen_limit).run(conn)
            if self.seen_limit
            else {},
        )


@attrs.frozen(kw_only=True)
class ReplayPositionOf(Query):
    """Where the creator's chat log replay stands (`state.replays`), or None."""

    creator_id: str

    def state_keys(self) -> frozenset[str] | None:
        return frozenset((self.creator_id,))

    def run(self, conn: apsw.Connection) -> replays.ReplayPosition | None:
        return replays.get_replay_position(conn, self.creator_id)
