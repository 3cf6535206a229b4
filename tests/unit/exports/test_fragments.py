"""Files assembled from encoded parts are byte for byte the files built whole."""

from __future__ import annotations

import random
from collections import defaultdict

import attrs
import orjson
import pytest

from exports.builders import PARTED_FILES, ExportInputs, document_from_parts
from exports.canonical import CanonicalError, canonical_bytes, canonical_item_bytes
from exports.files import ExportContext
from exports.fragments import (
    ArraySlot,
    LazyPaths,
    ValueSlots,
    assemble,
    encode_items,
    encode_parts,
    fill_arrays,
)
from exports.publish import ExportWriter

SECRET = "sk_live_supersecretvalue"

_INPUTS = {
    "points.json": "points",
    "polls.json": "polls",
    "tallies.json": "tallies",
    "scoreboards.json": "scoreboards",
    "quotes.json": "quotes",
    "giveaways.json": "giveaways",
}


def _by_creator(views: tuple[object, ...]) -> dict[str, list[object]]:
    groups: dict[str, list[object]] = defaultdict(list)
    for view in views:
        groups[view.creator_id].append(view)  # type: ignore[attr-defined]
    return groups


@pytest.mark.parametrize("path", sorted(PARTED_FILES))
def test_parts_encoded_per_creator_assemble_to_the_whole_document(
    path: str, ctx: ExportContext, inputs: ExportInputs
) -> None:
    file = PARTED_FILES[path]
    views = getattr(inputs, _INPUTS[path])
    assert views, "the realistic inputs have rows for every file"
    ctx = attrs.evolve(ctx, secrets=frozenset({SECRET}))
    whole = canonical_bytes(document_from_parts(file, ctx, file.parts(ctx, views)))
    groups = list(_by_creator(views).values())
    random.Random(path).shuffle(groups)  # parts come in any order
    parts = [p for group in groups for p in encode_parts(file, ctx, file.parts(ctx, group))]
    assert assemble(file, ctx, parts, ExportWriter.prepare) == whole
    empty = canonical_bytes(document_from_parts(file, ctx, []))
    assert assemble(file, ctx, [], ExportWriter.prepare) == empty


def test_a_secret_in_a_part_is_masked_as_in_the_whole_document(
    ctx: ExportContext, inputs: ExportInputs
) -> None:
    file = PARTED_FILES["quotes.json"]
    ctx = attrs.evolve(ctx, secrets=frozenset({SECRET}))
    quote = attrs.evolve(inputs.quotes[0], text=f"the key is {SECRET}")
    (part,) = encode_parts(file, ctx, file.parts(ctx, [quote]))
    assert SECRET.encode() not in part.items["quotes"][0]
    assert assemble(file, ctx, [part], ExportWriter.prepare) == canonical_bytes(
        document_from_parts(file, ctx, file.parts(ctx, [quote]))
    )


def test_a_bad_value_in_a_part_is_refused_where_it_sits(
    ctx: ExportContext, inputs: ExportInputs
) -> None:
    file = PARTED_FILES["tallies.json"]
    (part,) = file.parts(ctx, [inputs.tallies[0]])
    bad = attrs.evolve(part, items={**part.items, "tallies": [{"count": float("inf")}]})
    with pytest.raises(CanonicalError) as caught:
        encode_parts(file, ctx, [bad])
    assert caught.value.path == f"$.tallies[0 of {part.label!r}].count"


def _item_bytes(item: dict[str, object], indent: int) -> bytes:
    return canonical_item_bytes(item, indent=indent, path="$")


def test_value_slots_write_what_the_encoder_writes_for_any_values() -> None:
    rng = random.Random(5)
    names = ("ann", '"position": 0', "position", "Éva\n", "")
    stamps = (None, "2026-11-21T18:30:05.120Z", "", 'a "quoted"\nline', "ünï")
    for _ in range(200):
        item = {
            "balance": rng.randrange(-(2**63), 2**63),
            "display_name": rng.choice(names),
            "nested": {"positions": 7} if rng.random() < 0.3 else [],
            "position": rng.randrange(0, 200),
            "updated_at": rng.choice(stamps),
        }
        indent = rng.choice((0, 4, 8))
        keys = ("balance", "position", "updated_at")
        slots = ValueSlots.of(_item_bytes(item, indent), {k: item[k] for k in keys})
        for _ in range(3):
            values = (
                rng.choice((0, 9, 10, -1, rng.randrange(-(2**63), 2**64))),
                rng.choice((1, True, None, "x")),
                rng.choice(stamps),
            )
            expected = _item_bytes({**item, **dict(zip(keys, values, strict=True))}, indent)
            assert slots.fill(*values) == expected


def test_value_slots_refuse_a_key_not_there_once_and_values_not_written_exactly() -> None:
    data = _item_bytes({"a": 1, "b": {"a": 1}}, 4)
    with pytest.raises(AssertionError):
        ValueSlots.of(data, {"a": 1})  # twice (at two depths)
    with pytest.raises(AssertionError):
        ValueSlots.of(data, {"b": 1})  # not that value there
    with pytest.raises(AssertionError):
        ValueSlots.of(_item_bytes({"a": 12, "b": 1}, 0), {"b": 1, "a": 12})  # out of order
    slots = ValueSlots.of(_item_bytes({"a": 12, "b": "x"}, 0), {"a": 12, "b": "x"})
    with pytest.raises(CanonicalError, match="64 bits") as caught:
        slots.fill(2**65, "y")
    assert caught.value.path == "$.a"
    with pytest.raises(CanonicalError) as caught:
        slots.fill(1, float("nan"))  # NaN would be written as null
    assert caught.value.path == "$.b"
    with pytest.raises(CanonicalError):
        slots.fill(1, "\ud800")  # a lone surrogate
    with pytest.raises(TypeError):
        slots.fill(1)


def test_an_array_slot_fills_as_fill_arrays_does() -> None:
    rng = random.Random(8)
    head = _item_bytes({"creator": "Mira", "creator_id": "mira", "entries": []}, 4)
    slot = ArraySlot.of(head, "entries", indent=6)
    for n in range(5):
        items = [_item_bytes({"n": rng.randrange(100), "s": "x\ny"}, 8) for _ in range(n)]
        assert slot.fill(items) == fill_arrays(head, {"entries": items}, indent=6)
        assert orjson.loads(slot.fill(items))["entries"] == [orjson.loads(i) for i in items]


def test_paths_are_made_only_for_an_error(ctx: ExportContext) -> None:
    made: list[int] = []

    def make() -> list[str]:
        made.append(1)
        return ["$.a", "$.b"]

    good = encode_items(ctx, [{"n": 1}, {"n": 2}], indent=4, paths=LazyPaths(make, 2))
    assert len(good) == 2 and not made
    with pytest.raises(CanonicalError) as caught:
        encode_items(ctx, [{"n": 1}, {"n": float("nan")}], indent=4, paths=LazyPaths(make, 2))
    assert caught.value.path == "$.b.n" and made == [1]
