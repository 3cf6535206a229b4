"""Typed store commands: every write the trigger engine asks for, as a frozen value.

The engine (and anything else that writes through the store) describes *what* should change;
the command's `run(conn)` is the only place that knows *how*: which tables, which statements,
which signal row goes with the change. The store actor runs commands inside its group commit,
each in its own savepoint (`Database.batch`), so one failing command rolls back only itself.

Queries (`Query` subclasses) are the read-side twin: typed values the store runs on its own
connection, for the few reads an actor needs before it can work (cooldowns, declared tallies).

Timestamps are Unix milliseconds UTC (see `state.timeutil`). User identities in commands are
already pseudonymized where they reach a signal or an export (`voter_key`, `requested_by`).
"""

from __future__ import annotations

from typing import Any, Literal

import apsw
import attrs

from . import clips, cooldowns, counters, polls, signals
from .errors import InvalidArgument

__all__ = [
    "ActiveCooldowns",
    "AddScore",
    "AppendSignals",
    "ChangeTally",
    "ClosePoll",
    "Command",
    "CreateClip",
    "DeclareTallies",
    "MissingTallies",
    "OpenPoll",
    "Query",
    "RecordVote",
    "SetCooldowns",
    "SignalRow",
]


@attrs.frozen(kw_only=True)
class Command:
    """A write the store runs in its transaction; `run` returns the reply value."""

    def run(self, conn: apsw.Connection) -> Any:
        """Apply the change on `conn` (inside the store's transaction)."""
        raise NotImplementedError(type(self).__name__)


@attrs.frozen(kw_only=True)
class Query:
    """A read the store runs on its connection; `run` returns the reply value."""

    def run(self, conn: apsw.Connection) -> Any:
        """Read from `conn`."""
        raise NotImplementedError(type(self).__name__)


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
    signals.append_signal(
        conn,
        kind=row.kind,
        creator_id=row.creator_id,
        timestamp=row.timestamp,
        entity_id=row.entity_id,
        type=row.type,
        source=row.source,
        summary=row.summary,
    )


@attrs.frozen(kw_only=True)
class AppendSignals(Command):
    """Append buffered signal rows in one pass (one prune per kind)."""

    rows: tuple[SignalRow, ...] = attrs.field(converter=tuple)

    def run(self, conn: apsw.Connection) -> int:
        if not self.rows:
            return 0
        return signals.append_signals(
            conn,
            (
                {
                    "kind": r.kind,
                    "creator_id": r.creator_id,
                    "timestamp": r.timestamp,
                    "entity_id": r.entity_id,
                    "type": r.type,
                    "source": r.source,
                    "summary": r.summary,
                }
                for r in self.rows
            ),
        )


# --------------------------------------------------------------------------- cooldowns


@attrs.frozen(kw_only=True)
class SetCooldowns(Command):
    """Persist cooldown expiries (scope -> Unix ms) so they survive a restart."""

    expiries: tuple[tuple[str, int], ...] = attrs.field(converter=tuple)

    def run(self, conn: apsw.Connection) -> None:
        for scope, expires_at in self.expiries:
            cooldowns.set_cooldown(conn, scope=scope, expires_at=expires_at)


@attrs.frozen(kw_only=True)
class ActiveCooldowns(Query):
    """Cooldowns running at `now` under `prefix`: scope (prefix removed) -> expiry seconds."""

    prefix: str
    now: int

    def run(self, conn: apsw.Connection) -> dict[str, float]:
        rows = cooldowns.active_cooldowns(conn, now=self.now, prefix=self.prefix)
        return {r.scope[len(self.prefix) :]: r.expires_at / 1000 for r in rows}


# ----------------------------------------------------------------------------- tallies


@attrs.frozen(kw_only=True)
class MissingTallies(Query):
    """Which of `tally_ids` have no row yet for `creator_id`."""

    creator_id: str
    tally_ids: tuple[str, ...] = attrs.field(converter=tuple)

    def run(self, conn: apsw.Connection) -> frozenset[str]:
        return frozenset(
            t for t in self.tally_ids if counters.get_tally(conn, self.creator_id, t) is None
        )


@attrs.frozen(kw_only=True)
class DeclareTallies(Command):
    """Create the configured tallies that have no row yet, at 0 (`(id, label)` pairs)."""

    creator_id: str
    tallies: tuple[tuple[str, str], ...] = attrs.field(converter=tuple)
    now: int

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
class ChangeTally(Command):
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

    def run(self, conn: apsw.Connection) -> counters.Tally:
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
        _append(
            conn,
            SignalRow(
                kind="tally",
                creator_id=self.creator_id,
                timestamp=self.now,
                entity_id=self.tally_id,
                type=self.op,
                source=self.source,
                summary=f"{self.tally_id} is now {tally.count}",
            ),
        )
        return tally


# ------------------------------------------------------------------------- scoreboards


@attrs.frozen(kw_only=True)
class AddScore(Command):
    """Give `points` (may be negative) to `label` on a scoreboard; replies the ranked entry."""

    creator_id: str
    scoreboard_id: str
    title: str | None
    label: str
    points: int
    now: int
    source: str

    def run(self, conn: apsw.Connection) -> counters.RankedEntry:
        entry = counters.add_points(
            conn,
            creator_id=self.creator_id,
            scoreboard_id=self.scoreboard_id,
            label=self.label,
            points=self.points,
            title=self.title,
            now=self.now,
        )
        _append(
            conn,
            SignalRow(
                kind="score",
                creator_id=self.creator_id,
                timestamp=self.now,
                entity_id=self.scoreboard_id,
                type="points",
                source=self.source,
                summary=f"{self.points:+d} points, now {entry.score}",
            ),
        )
        return entry


# ------------------------------------------------------------------------------- polls


@attrs.frozen(kw_only=True)
class OpenPoll(Command):
    """Close the creator's open poll, if any, and open `poll_id`."""

    creator_id: str
    poll_id: str
    question: str
    options: tuple[str, ...] = attrs.field(converter=tuple)
    now: int

    def run(self, conn: apsw.Connection) -> str:
        for current in polls.list_polls(conn, creator_id=self.creator_id, state="open"):
            polls.close_poll(conn, poll_id=current.poll.poll_id, now=self.now)
        polls.open_poll(
            conn,
            poll_id=self.poll_id,
            creator_id=self.creator_id,
            question=self.question,
            options=self.options,
            now=self.now,
        )
        return self.poll_id


@attrs.frozen(kw_only=True)
class RecordVote(Command):
    """`voter_key` votes `option` (a 1-based number or an option's name) in the open poll."""

    creator_id: str
    voter_key: str
    option: str
    now: int
    source: str

    def run(self, conn: apsw.Connection) -> polls.VoteResult:
        current = polls.list_polls(conn, creator_id=self.creator_id, state="open")
        if not current:
            raise InvalidArgument("there is no open poll")
        poll_id = current[0].poll.poll_id
        option = polls.resolve_option(conn, poll_id, self.option)
        if option is None:
            raise InvalidArgument(f"no option {self.option!r} in this poll")
        result = polls.vote(
            conn, poll_id=poll_id, voter_key=self.voter_key, option_id=option, now=self.now
        )
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

    def run(self, conn: apsw.Connection) -> polls.PollResults:
        current = polls.list_polls(conn, creator_id=self.creator_id, state="open")
        if not current:
            raise InvalidArgument("there is no open poll")
        return polls.close_poll(conn, poll_id=current[0].poll.poll_id, now=self.now)


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
