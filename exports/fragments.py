"""Database export files assembled from the encoded parts of their creators.

A file made of parts (:data:`exports.builders.PARTED_FILES`: points, polls, tallies,
scoreboards, quotes, giveaways) is, in canonical JSON, a small skeleton (``meta``,
``generated_at`` and its arrays) around the items of every part. A part's items are encoded
once, when that creator's rows change (:func:`encode_parts`), and kept; a publish then writes
the skeleton and splices the kept bytes into its arrays (:func:`assemble`), so its cost follows
the creators that changed, not all of them.

The bytes are exactly :func:`exports.canonical.canonical_bytes` of
:func:`exports.builders.document_from_parts` for the same parts: the body arrays sit at the
top level of the document, two spaces in, so each item starts four spaces in and its own lines
follow that indentation (:func:`exports.canonical.canonical_items_bytes`); items are separated
by a comma and a newline; an empty array stays ``[]``. Secrets are scrubbed from every part's
items before they are encoded, as :func:`exports.builders.document_from_parts` scrubs the body.

Every part is checked when it is encoded (the same decode-back comparison as a whole file, over
the new bytes only: a NaN or an integer beyond 64 bits is refused with where it sits), and the
skeleton is checked by ``prepare``; bytes that were checked once are not checked again.
"""

from __future__ import annotations

import functools
import itertools
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, overload

import attrs
import orjson

from exports.builders import Part, PartsLayout, document_skeleton, ordered_parts
from exports.canonical import canonical_items_bytes
from exports.files import ExportContext
from exports.scrub import scrub_document

__all__ = [
    "ITEM_INDENT",
    "EncodedPart",
    "LazyPaths",
    "assemble",
    "encode_items",
    "encode_parts",
    "fill_arrays",
    "join_items",
    "join_objects",
    "object_piece",
    "split_items",
    "split_objects",
]

#: Where the items of a top-level array start: two spaces for the key, two more inside it.
ITEM_INDENT = 4


@attrs.frozen(kw_only=True, eq=False)
class EncodedPart:
    """A :class:`~exports.builders.Part` with its items as canonical bytes, by array."""

    order: tuple[Any, ...]
    newest: datetime
    latest: datetime
    items: Mapping[str, tuple[bytes, ...]]


def encode_parts(
    file: PartsLayout, ctx: ExportContext, parts: Sequence[Part], *, plain: bool = False
) -> list[EncodedPart]:
    """``parts``' items, scrubbed of secrets and encoded where they sit in ``file``;
    ``plain``: their items are made of plain values only (built from export views:
    :func:`exports.canonical.canonical_items_bytes`)."""
    # One scrub for them all: it proves most batches clean in one pass over their JSON text;
    # and one encoder call per array for all their items, cut back into the parts after.
    keys = file.arrays
    arrays = {key: [item for part in parts for item in part.items[key]] for key in keys}
    scrubbed = scrub_document(arrays, ctx.secrets)  # the same lists, items scrubbed
    encoded = {
        key: canonical_items_bytes(
            scrubbed[key],
            indent=ITEM_INDENT,
            paths=LazyPaths(functools.partial(_part_paths, key, parts), len(arrays[key])),
            plain=plain,
        )
        for key in keys
    }
    out = []
    at = dict.fromkeys(keys, 0)  # where each array's next part starts
    for part in parts:
        items = {}
        for key in keys:
            start = at[key]
            end = at[key] = start + len(part.items[key])
            items[key] = tuple(encoded[key][start:end])
        out.append(
            EncodedPart(order=part.order, newest=part.newest, latest=part.latest, items=items)
        )
    return out


def _part_paths(key: str, parts: Sequence[Part]) -> list[str]:
    return [
        f"$.{key}[{n} of {part.label!r}]" for part in parts for n in range(len(part.items[key]))
    ]


class LazyPaths(Sequence[str]):
    """Where each of some items sits, for an error about one of them: made by ``make`` only
    when one is asked for (nearly every encode has no error to tell)."""

    def __init__(self, make: Callable[[], Sequence[str]], size: int) -> None:
        self._make = make
        self._size = size
        self._made: Sequence[str] | None = None

    def __len__(self) -> int:
        return self._size

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if self._made is None:
            self._made = self._make()
            if len(self._made) != self._size:
                raise AssertionError(f"{self._size} paths expected, {len(self._made)} made")
        return self._made[index]


def encode_items(
    ctx: ExportContext,
    items: Sequence[Mapping[str, Any]],
    *,
    indent: int,
    paths: Sequence[str],
    plain: bool = False,
    clean: bool = False,
) -> list[bytes]:
    """``items``, scrubbed of secrets (in one pass) and encoded as items of an array whose
    items start ``indent`` spaces in; ``paths`` says where each sits, for errors; ``plain``:
    the items are made of plain values only (:func:`exports.canonical.canonical_items_bytes`);
    ``clean``: the caller proved every string of them clean (:func:`exports.scrub.certainly_clean`
    of those strings), so they are not scrubbed again."""
    listed = list(items)
    scrubbed = listed if clean else scrub_document({"items": listed}, ctx.secrets)["items"]
    return canonical_items_bytes(scrubbed, indent=indent, paths=paths, plain=plain)


def _empty_array(data: bytes, key: str, indent: int) -> int:
    """Where the ``"key": []`` whose key is ``indent`` spaces in starts in ``data`` (the
    newline before it), found exactly once."""
    # A newline and exactly `indent` spaces before the key (JSON strings hold no raw newline,
    # and keys of other depths have other indentation): found exactly once.
    empty = b"\n" + b" " * indent + orjson.dumps(key) + b": []"
    at = data.find(empty)
    if at < 0 or data.find(empty, at + 1) >= 0:
        raise AssertionError(f"no single {key!r} array {indent} spaces in to fill")
    return at + len(empty) - 1  # the "]"


def fill_arrays(data: bytes, arrays: Mapping[str, Sequence[bytes]], *, indent: int) -> bytes:
    """``data`` (canonical bytes) with each of its empty arrays named in ``arrays`` (their keys
    ``indent`` spaces in, each there once) holding its items (encoded for ``indent + 2``,
    :func:`encode_items`). ``data`` is the small skeleton: it is searched, the items only
    copied once into the result."""
    cuts = sorted(
        (_empty_array(data, key, indent), items) for key, items in arrays.items() if items
    )
    if not cuts:
        return data
    out: list[bytes] = []
    start = 0
    for close_at, items in cuts:
        out += _filled(data[start:close_at], items, indent)
        start = close_at  # the "]"
    out.append(data[start:])
    return b"".join(out)


def _filled(before: bytes, items: Sequence[bytes], indent: int) -> list[bytes]:
    """``before`` (ending in an array's "[") and ``items`` on their lines, up to the "]":
    the items and their separators as pieces (interleaved by C loops), so the document's
    one join copies each item once, not twice."""
    pieces = [before, b"\n" + b" " * (indent + 2)]
    pieces += itertools.chain.from_iterable(zip(items, itertools.repeat(_item_separator(indent))))
    pieces[-1] = b"\n" + b" " * indent  # no separator after the last item
    return pieces


@functools.lru_cache(maxsize=16)
def _item_separator(indent: int) -> bytes:
    """What separates two items of an array whose key is ``indent`` spaces in."""
    return b",\n" + b" " * (indent + 2)


def join_items(items: Sequence[bytes]) -> bytes:
    """``items`` of a top-level array (encoded for :data:`ITEM_INDENT`) as one run of bytes,
    joined as :func:`assemble` joins them: a part whose items are this one run makes the
    same bytes as a part holding them apart."""
    return _item_separator(ITEM_INDENT - 2).join(items)


def split_items(run: bytes) -> list[bytes]:
    """The items of a run of objects made by :func:`join_items`, each as it was given."""
    if not run.startswith(b"{"):
        raise AssertionError("a run of objects starts with one")
    first, *rest = run.split(_object_separator(ITEM_INDENT - 2))
    return [first, *(b"{" + item for item in rest)]


def split_objects(data: bytes, key: str, *, indent: int) -> tuple[bytes, list[bytes], bytes]:
    """``data`` (canonical bytes holding the non-empty array ``key`` of objects, its key
    ``indent`` spaces in, there once) cut around that array's items: the bytes up to its first
    item, each item's bytes (as :func:`encode_items` writes them for ``indent + 2``, each but
    the first without its opening brace: :func:`object_piece`), and the bytes from the newline
    after its last item on, cut by one C split. :func:`join_objects` puts them back."""
    mark, close = _array_marks(key, indent)
    at = data.find(mark)
    end = data.find(close, at)
    if at < 0 or end < 0 or data.find(mark, at + 1) >= 0:
        raise AssertionError(f"no single non-empty {key!r} array {indent} spaces in")
    start = at + len(mark)
    # A comma, a newline, exactly the items' indentation and a brace: only ever between two
    # objects of this array (nested lines have more spaces; strings hold no raw newline).
    return data[:start], data[start:end].split(_object_separator(indent)), data[end:]


def object_piece(item: bytes, index: int) -> bytes:
    """An object's bytes (as :func:`encode_items` writes it) as the piece at ``index`` of
    :func:`split_objects`: without its opening brace, but for the first."""
    return item[1:] if index else item


def join_objects(before: bytes, pieces: Sequence[bytes], after: bytes, *, indent: int) -> bytes:
    """The bytes :func:`split_objects` cut (``indent`` as given to it), with ``pieces`` (at
    least one, each an :func:`object_piece`) as the array's items."""
    return b"".join((before, _object_separator(indent).join(pieces), after))


@functools.lru_cache(maxsize=16)
def _object_separator(indent: int) -> bytes:
    return b",\n" + b" " * (indent + 2) + b"{"


@functools.lru_cache(maxsize=16)
def _array_marks(key: str, indent: int) -> tuple[bytes, bytes]:
    """What :func:`split_objects` looks for: the non-empty array's start up to its first item,
    and its closing line."""
    inner = b"\n" + b" " * (indent + 2)
    mark = b"\n" + b" " * indent + orjson.dumps(key) + b": [" + inner
    return mark, b"\n" + b" " * indent + b"]"


def assemble(
    file: PartsLayout,
    ctx: ExportContext,
    parts: Iterable[EncodedPart],
    prepare: Callable[[str, Mapping[str, Any]], bytes],
) -> bytes:
    """``file``'s canonical bytes made of ``parts`` (in any order).

    ``prepare`` turns the skeleton document into its checked canonical bytes
    (:meth:`exports.publish.ExportWriter.prepare`).
    """
    ordered = ordered_parts(file, parts)
    newest = max(map(_NEWEST, ordered), default=None)
    data = prepare(file.path, document_skeleton(file, ctx, (newest,)))
    items_of = list(map(_ITEMS, ordered))
    arrays = {
        key: list(itertools.chain.from_iterable(map(operator.itemgetter(key), items_of)))
        for key in file.arrays
    }
    return fill_arrays(data, arrays, indent=ITEM_INDENT - 2)  # top-level arrays


_NEWEST = operator.attrgetter("newest")
_ITEMS = operator.attrgetter("items")
