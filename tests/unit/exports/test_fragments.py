"""Files assembled from encoded parts are byte for byte the files built whole."""

from __future__ import annotations

import random
from collections import defaultdict

import attrs
import pytest

from exports.builders import PARTED_FILES, ExportInputs, document_from_parts
from exports.canonical import CanonicalError, canonical_bytes, canonical_item_bytes
from exports.files import ExportContext
from exports.fragments import (
    LazyPaths,
    assemble,
    encode_items,
    encode_parts,
    fill_arrays,
    join_items,
    join_objects,
    object_piece,
    split_items,
    split_objects,
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


def test_an_array_of_objects_split_and_joined_again_is_what_fill_arrays_writes() -> None:
    rng = random.Random(8)
    skeleton = canonical_item_bytes(
        {"creator": "Mira", "creator_id": "mira", "entries": [], "z": {"entries": [{}]}},
        indent=4,
        path="$",
    )
    for n in range(1, 6):
        items = [
            canonical_item_bytes(
                {
                    "n": rng.randrange(100),
                    "s": "x},\n        {y",  # what separates the objects, in a string
                    "l": [{}, {"o": [{"p": 1}, {"q": 2}]}],  # nested objects, lists of them
                },
                indent=8,
                path="$",
            )
            for _ in range(n)
        ]
        data = fill_arrays(skeleton, {"entries": items}, indent=6)
        before, cut, after = split_objects(data, "entries", indent=6)
        assert cut == [object_piece(item, i) for i, item in enumerate(items)]
        assert join_objects(before, cut, after, indent=6) == data
        reordered = [object_piece(item, i) for i, item in enumerate(items[::-1])]
        assert join_objects(before, reordered, after, indent=6) == fill_arrays(
            skeleton, {"entries": items[::-1]}, indent=6
        )
        fewer = [object_piece(item, i) for i, item in enumerate(items[1:] or items)]
        assert join_objects(before, fewer, after, indent=6) == fill_arrays(
            skeleton, {"entries": items[1:] or items}, indent=6
        )
    with pytest.raises(AssertionError):
        split_objects(skeleton, "entries", indent=6)  # empty: nothing to cut


@pytest.mark.parametrize("path", ["tallies.json", "scoreboards.json", "giveaways.json"])
def test_a_creators_items_joined_as_one_run_assemble_to_the_whole_document_and_split_back(
    path: str, ctx: ExportContext, inputs: ExportInputs
) -> None:
    """A part holding a creator's items as one run per array (`join_items`) makes the same
    bytes as the creator's parts apart, and the run cuts back into the items (`split_items`)."""
    file = PARTED_FILES[path]
    views = getattr(inputs, _INPUTS[path])
    whole = canonical_bytes(document_from_parts(file, ctx, file.parts(ctx, views)))
    runs = []
    for group in _by_creator(views).values():
        parts = encode_parts(file, ctx, file.parts(ctx, group))
        items = {key: [i for p in parts for i in p.items[key]] for key in file.arrays}
        for listed in items.values():
            assert split_items(join_items(listed)) == listed
        runs.append(
            attrs.evolve(
                parts[0],
                items={key: (join_items(listed),) for key, listed in items.items()},
                newest=max(p.newest for p in parts),
            )
        )
    assert assemble(file, ctx, runs, ExportWriter.prepare) == whole
