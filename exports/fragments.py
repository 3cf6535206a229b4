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

import itertools
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs
import orjson

from exports.builders import Part, PartsLayout, document_skeleton, ordered_parts
from exports.canonical import canonical_items_bytes
from exports.files import ExportContext
from exports.scrub import scrub_document

__all__ = ["ITEM_INDENT", "EncodedPart", "assemble", "encode_items", "encode_parts", "fill_array"]

#: Where the items of a top-level array start: two spaces for the key, two more inside it.
ITEM_INDENT = 4


@attrs.frozen(kw_only=True, eq=False)
class EncodedPart:
    """A :class:`~exports.builders.Part` with its items as canonical bytes, by array."""

    order: tuple[Any, ...]
    newest: datetime
    latest: datetime
    items: Mapping[str, tuple[bytes, ...]]


def encode_parts(file: PartsLayout, ctx: ExportContext, parts: Sequence[Part]) -> list[EncodedPart]:
    """``parts``' items, scrubbed of secrets and encoded where they sit in ``file``."""
    # One scrub for them all: it proves most batches clean in one pass over their JSON text;
    # and one encoder call per array for all their items.
    batch = {"parts": [{key: list(part.items[key]) for key in file.arrays} for part in parts]}
    scrubbed = scrub_document(batch, ctx.secrets)["parts"]
    encoded = {
        key: iter(
            canonical_items_bytes(
                [item for items in scrubbed for item in items[key]],
                indent=ITEM_INDENT,
                paths=[
                    f"$.{key}[{n} of {part.label!r}]"
                    for part, items in zip(parts, scrubbed, strict=True)
                    for n in range(len(items[key]))
                ],
            )
        )
        for key in file.arrays
    }
    return [
        EncodedPart(
            order=part.order,
            newest=part.newest,
            latest=part.latest,
            items={key: tuple(next(encoded[key]) for _ in items[key]) for key in file.arrays},
        )
        for part, items in zip(parts, scrubbed, strict=True)
    ]


def encode_items(
    ctx: ExportContext, items: Sequence[Mapping[str, Any]], *, indent: int, paths: Sequence[str]
) -> list[bytes]:
    """``items``, scrubbed of secrets (in one pass) and encoded as items of an array whose
    items start ``indent`` spaces in; ``paths`` says where each sits, for errors."""
    scrubbed = scrub_document({"items": list(items)}, ctx.secrets)["items"]
    return canonical_items_bytes(scrubbed, indent=indent, paths=paths)


def fill_array(data: bytes, key: str, items: Sequence[bytes], *, indent: int) -> bytes:
    """``data`` (canonical bytes) with its one empty array ``key``, whose key sits ``indent``
    spaces in, holding ``items`` (encoded for ``indent + 2``, :func:`encode_items`)."""
    if not items:
        return data
    # A newline and exactly `indent` spaces before the key (JSON strings hold no raw newline,
    # and keys of other depths have other indentation), so the array is found exactly once.
    empty = b"\n" + b" " * indent + orjson.dumps(key) + b": []"
    if data.count(empty) != 1:
        raise AssertionError(f"no single {key!r} array {indent} spaces in to fill")
    inner = b"\n" + b" " * (indent + 2)
    return data.replace(
        empty, empty[:-1] + inner + (b"," + inner).join(items) + b"\n" + b" " * indent + b"]"
    )


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
    for key in file.arrays:
        items = list(itertools.chain.from_iterable(map(operator.itemgetter(key), items_of)))
        data = fill_array(data, key, items, indent=ITEM_INDENT - 2)  # a top-level array
    return data


_NEWEST = operator.attrgetter("newest")
_ITEMS = operator.attrgetter("items")
