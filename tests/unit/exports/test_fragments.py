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
from exports.fragments import ArraySlot, IntSlot, assemble, encode_parts, fill_arrays
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


def test_an_int_slot_writes_what_the_encoder_writes_for_any_value() -> None:
    rng = random.Random(5)
    names = ("ann", '"position": 0', "position", "Éva\n", "")
    for _ in range(200):
        item = {
            "balance": rng.randrange(-(2**63), 2**63),
            "display_name": rng.choice(names),
            "position": rng.randrange(0, 200),
            "updated_at": rng.choice((None, "2026-11-21T18:30:05.120Z")),
            "nested": {"positions": 7} if rng.random() < 0.3 else [],
        }
        indent = rng.choice((0, 4, 8))
        slot = IntSlot.of(_item_bytes(item, indent), "position", item["position"])  # type: ignore[arg-type]
        for value in (1, 9, 10, 100, rng.randrange(-(2**63), 2**64)):
            assert slot.fill(value) == _item_bytes({**item, "position": value}, indent)


def test_an_int_slot_refuses_a_key_that_is_not_there_once() -> None:
    data = _item_bytes({"a": 1, "b": {"a": 1}}, 4)
    with pytest.raises(AssertionError):
        IntSlot.of(data, "a", 1)  # twice (at two depths)
    with pytest.raises(AssertionError):
        IntSlot.of(_item_bytes({"a": {"b": 1}, "b": 1}, 0), "b", 1)
    with pytest.raises(AssertionError):
        IntSlot.of(data, "b", 1)  # not an integer there
    with pytest.raises(AssertionError):
        IntSlot.of(_item_bytes({"a": 12}, 0), "a", 1)  # another value


def test_an_array_slot_fills_as_fill_arrays_does() -> None:
    rng = random.Random(8)
    head = _item_bytes({"creator": "Mira", "creator_id": "mira", "entries": []}, 4)
    slot = ArraySlot.of(head, "entries", indent=6)
    for n in range(5):
        items = [_item_bytes({"n": rng.randrange(100), "s": "x\ny"}, 8) for _ in range(n)]
        assert slot.fill(items) == fill_arrays(head, {"entries": items}, indent=6)
        assert orjson.loads(slot.fill(items))["entries"] == [orjson.loads(i) for i in items]
