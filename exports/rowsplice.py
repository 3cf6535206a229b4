"""The big documents put together from the bytes of their rows, kept between builds.

A document with long row lists (the actor tree of ``runtime_snapshot.json``, the triggers,
timers and filters of ``chat_triggers.json``, ``creators.json``) is mostly rows that did not
change since the last build: a thousand creators, a few of whom chatted. :class:`RowCache`
keeps the canonical bytes of every row it wrote, keyed by the row's view, and writes only the
rows whose view is new; the document is then its small skeleton (every list empty, encoded and
checked like any document) with the lists' bytes spliced in.

The bytes are exactly those of the whole document (:meth:`DocumentParts.document` and
:func:`~exports.canonical.canonical_bytes`), because canonical JSON (sorted keys, two-space
indent) writes an element of a list the same wherever the list sits, shifted by its depth. The
rows are written, scrubbed and checked by the same functions as the database files' parts
(:func:`exports.fragments.encode_items`, :func:`exports.fragments.fill_arrays`): one
implementation of putting a document together from kept bytes.

Row bytes depend on the clock only through clamping (a time later than ``ctx.now`` is written
as ``ctx.now``): a row with a time later than the clock is written but not kept, and a kept
row is reused only while the clock is not before its latest time.
"""

from __future__ import annotations

import itertools
import operator
import types
import typing
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, cast, overload

import attrs
import orjson

from exports.builders import DocumentParts, RowList
from exports.canonical import format_timestamp
from exports.files import ExportContext
from exports.fragments import ITEM_INDENT, LazyPaths, encode_items, fill_arrays
from exports.publish import ExportWriter

__all__ = ["RowCache", "RowGroups", "latest_moment"]

_FIELDS: dict[type, Callable[[Any], tuple[Any, ...]]] = {}
_PLAIN = frozenset({str, int, float, bool, type(None)})


def _fields_of(kind: type) -> Callable[[Any], tuple[Any, ...]] | None:
    """The values of an attrs class's fields that may hold a datetime (those typed as plain
    scalars cannot, their validators see to it), or None for a class that is not attrs."""
    getter = _FIELDS.get(kind)
    if getter is None and attrs.has(kind):
        names = _unplain_fields(kind)
        if not names:
            getter = _FIELDS[kind] = _no_fields
        elif len(names) == 1:
            one = operator.attrgetter(names[0])
            getter = _FIELDS[kind] = lambda value: (one(value),)
        else:
            getter = _FIELDS[kind] = operator.attrgetter(*names)
    return getter


def _unplain_fields(kind: type) -> list[str]:
    """The names of `kind`'s fields not typed as plain scalars (all of them when its
    annotations do not resolve)."""
    try:
        attrs.resolve_types(kind)
    except (NameError, TypeError):
        return [f.name for f in attrs.fields(kind)]
    return [f.name for f in attrs.fields(kind) if not _plain_type(f.type)]


def _plain_type(annotation: Any) -> bool:
    """Whether a field's type admits only plain scalars (str, int, float, bool, None)."""
    if annotation in _PLAIN:
        return True
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return all(arg in _PLAIN for arg in typing.get_args(annotation))
    return False


def _no_fields(_value: Any) -> tuple[Any, ...]:
    return ()


def latest_moment(values: Iterable[Any]) -> datetime | None:
    """The latest datetime anywhere in these views (attrs instances, tuples), or None.

    A file whose inputs hold a time later than the build's clock was clamped to that clock,
    so it is only what a full publish would write for that very clock.
    """
    newest: datetime | None = None
    stack = list(values)
    pop, extend = stack.pop, stack.extend
    while stack:
        value = pop()
        kind = type(value)
        if kind in _PLAIN:
            continue
        if isinstance(value, datetime):
            if newest is None or value > newest:
                newest = value
        elif kind is tuple or kind is list:
            extend(value)
        else:
            getter = _fields_of(kind)
            if getter is not None:
                extend(getter(value))
    return newest


@attrs.frozen(kw_only=True)
class RowGroups(Sequence[Any]):
    """A row list given in groups (one per creator), each a tuple of views in any order.

    Reads as the flat sequence of its views, so any builder takes it. :class:`RowCache` keeps
    each group's bytes: a group handed in as the same tuple object as last time (under the
    same key) costs a lookup, whatever its size.
    """

    groups: tuple[tuple[Hashable, tuple[Any, ...]], ...]  # (group key, views)

    def __len__(self) -> int:
        return sum(len(views) for _key, views in self.groups)

    def __iter__(self) -> Iterator[Any]:
        for _key, views in self.groups:
            yield from views

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Any]: ...
    def __getitem__(self, index: int | slice) -> Any:
        return tuple(self)[index]


@attrs.frozen(kw_only=True, eq=False)
class _Group:
    """One group of rows as written, in the list's order, with what it was written from.

    Per row only its view, its bytes and its newest date are kept, in parallel lists; what
    decides whether they hold for a later clock is kept once for the group."""

    views: tuple[Any, ...]  # as handed in (the identity a later build is compared with)
    ordered: list[Any]  # the views sorted; a changed group reuses rows whose view stayed put
    data: list[bytes]  # each row's canonical bytes as an element of a top-level list
    dated: list[datetime | None]  # each row's newest date (for the document's generated_at)
    first: Any  # sort keys of the first and the last row
    last: Any
    newest: datetime | None  # the newest of the rows' dates
    built: datetime  # the clock they were written at: the others hold for any clock not before
    clamped: frozenset[int]  # rows with a time later than `built`: their bytes hold for it only


_NONE_CLAMPED: frozenset[int] = frozenset()
_NONES = itertools.repeat(None)  # what a row not kept is, as many times as asked


def _encode_rows(ctx: ExportContext, rows: RowList, views: Sequence[Any]) -> list[bytes]:
    """Each view's row as an element of a top-level list of a document (four spaces in)."""
    items = [rows.item(ctx, v) for v in views]
    paths = LazyPaths(lambda: [f"$.{rows.key}[{rows.order(v)!r}]" for v in views], len(views))
    # Rows are made of the export views' validated values: plain (`canonical_items_bytes`).
    return encode_items(ctx, items, indent=ITEM_INDENT, paths=paths, plain=True)


def _clamped_any(ctx: ExportContext, encoded: Sequence[bytes]) -> bool:
    """Whether any of these rows may hold a time later than the clock: a row writes such a
    time clamped, as the clock's own timestamp, so rows without that text hold none (their
    bytes hold for any later clock). One search per row instead of a walk over its view."""
    if not encoded:
        return False
    stamp = orjson.dumps(format_timestamp(ctx.now))  # as a JSON string, quotes included
    return any(stamp in data for data in encoded)


def _newest(moments: Iterable[datetime | None]) -> datetime | None:
    return max(filter(None, moments), default=None)  # a datetime is never false


class RowCache:
    """The bytes of the rows of the documents it wrote, for the next build of each.

    Rows are looked up by identity: the caller hands in the same view object for a row that
    did not change (views are immutable), and a new one when it did. With :class:`RowGroups`,
    a group handed in as the same tuple as last time is reused whole. What the last build of
    a list did not use is forgotten.

    A heartbeat of a thousand creators allocates little here on purpose: in a process that
    big, every object allocated brings the cyclic garbage collector's passes nearer (no
    object per row: a group keeps its rows' views, bytes and dates in lists). Nor is anything
    done per row that can be done once: the rows written in a build are searched for the
    clock's own timestamp in their bytes (a later time is written clamped to it), and only
    when one shows it (rare: a skewed clock, or a time of this very millisecond) are their
    views walked for a later time, and each looked at alone, to know which were clamped.
    """

    def __init__(self) -> None:
        self._groups: dict[tuple[str, str], dict[Hashable, _Group]] = {}
        self._secrets: frozenset[str] | None = None
        self.written = 0  # rows written (not found), for tests and benchmarks

    def encode(self, ctx: ExportContext, parts: DocumentParts) -> bytes:
        """The document's canonical bytes: what ``canonical_bytes(parts.document(ctx))``
        gives, writing only the rows not kept from the last build."""
        if ctx.secrets != self._secrets:  # rows were scrubbed of other secrets
            self._groups.clear()
            self._secrets = ctx.secrets
        now = ctx.now
        lists: dict[str, list[bytes]] = {}
        dates: list[datetime | None] = []
        for rows, views in parts.lists:
            groups = views.groups if isinstance(views, RowGroups) else ()
            if len({key for key, _members in groups}) != len(groups) or not groups:
                groups = ((None, tuple(views)),)  # not grouped, or not by distinct keys
            slot = (parts.path, rows.key)
            kept = self._groups.get(slot, {})
            fresh: dict[Hashable, _Group] = {}
            changed: list[tuple[Hashable, tuple[Any, ...], list[Any], list[bytes | None]]] = []
            new: list[Any] = []
            for key, members in groups:
                group = kept.get(key)
                if (
                    group is not None
                    and group.views is members
                    and not group.clamped
                    and now >= group.built  # unless the clock went back
                ):
                    fresh[key] = group
                    continue
                ordered = sorted(members, key=rows.order)
                found: list[bytes | None]
                if group is None or now < group.built:  # new, or the clock went back: all
                    found = [None] * len(ordered)
                    new += ordered
                else:
                    # A row is reused where its view is the same object in the same place and
                    # it held no time later than the clock it was written at (which this
                    # clock is not before).
                    found = self._kept_rows(group, ordered)
                    new += [view for view, row in zip(ordered, found, strict=True) if row is None]
                changed.append((key, members, ordered, found))
            if changed:
                # The new rows of every changed group, written at once.
                encoded = _encode_rows(ctx, rows, new) if new else []
                written = iter(encoded)
                self.written += len(new)
                late = _clamped_any(ctx, encoded) and (latest_moment(new) or now) > now
                for key, members, ordered, found in changed:
                    fresh[key] = self._finish(
                        rows, members, ordered, found, kept.get(key), written, now, late
                    )
            for key, _members in groups:
                dates.append(fresh[key].newest)
            self._groups[slot] = fresh
            lists[rows.key] = self._join(rows, [fresh[key] for key, _members in groups])
        skeleton = parts.skeleton(ctx, parts.generated_at(ctx, dates))
        data = ExportWriter.prepare(parts.path, skeleton)
        return fill_arrays(data, lists, indent=ITEM_INDENT - 2)

    @staticmethod
    def _kept_rows(group: _Group, ordered: list[Any]) -> list[bytes | None]:
        """The bytes of `group`'s rows that hold for `ordered` (None where a row is new)."""
        old, data, clamped = group.ordered, group.data, group.clamped
        found: list[bytes | None] = [
            row if was is now else None for was, now, row in zip(old, ordered, data, strict=False)
        ]
        found += [None] * (len(ordered) - len(found))
        for i in clamped:  # rare: held a time later than the clock they were written at
            if i < len(found):
                found[i] = None
        return found

    @staticmethod
    def _finish(
        rows: RowList,
        members: tuple[Any, ...],
        ordered: list[Any],
        found: list[bytes | None],
        last: _Group | None,
        written: Iterator[bytes],
        now: datetime,
        late: bool,
    ) -> _Group:
        """A changed group, its missing rows' bytes taken in order from `written` (the dates
        of the rows it keeps taken from `last`, its previous build). With `late` (a row
        written in this build holds a time later than the clock), the new rows that do are
        found: their bytes hold for this clock only."""
        size = len(found)
        # The kept rows' dates are those of the same places last time (only a group built
        # before keeps rows); the new rows' are filled in below, as are their bytes (in place:
        # no new list per group).
        dated: list[datetime | None] = [] if last is None else last.dated[:size]
        dated += [None] * (size - len(dated))
        clamped: set[int] = set()
        dates = rows.dates
        for i in itertools.compress(itertools.count(), map(operator.is_, found, _NONES)):
            view = ordered[i]
            found[i] = next(written)
            dated[i] = _newest(dates(view))
            if late and (latest_moment((view,)) or now) > now:
                clamped.add(i)
        return _Group(
            views=members,
            ordered=ordered,
            data=cast("list[bytes]", found),
            dated=dated,
            first=rows.order(ordered[0]) if ordered else None,
            last=rows.order(ordered[-1]) if ordered else None,
            newest=_newest(dated),
            built=now,
            clamped=frozenset(clamped) if clamped else _NONE_CLAMPED,
        )

    @staticmethod
    def _join(rows: RowList, groups: list[_Group]) -> list[bytes]:
        """The list's row bytes from its groups: in order of their first rows when their
        ranges do not overlap, else row by row as one sorted list (a stable sort of the
        groups' sorted rows, in the order given, is the sort of all the rows)."""
        present = [g for g in groups if g.data]
        order = sorted(present, key=operator.attrgetter("first"))
        if all(a.last < b.first for a, b in itertools.pairwise(order)):
            # Only the rows' bytes are kept (not each group's joined as well): the heap holds
            # each row once.
            return [data for g in order for data in g.data]
        pairs = [
            (rows.order(view), data)
            for g in present
            for view, data in zip(g.ordered, g.data, strict=True)
        ]
        pairs.sort(key=operator.itemgetter(0))
        return [data for _key, data in pairs]
