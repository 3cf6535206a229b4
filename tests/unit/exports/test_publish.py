"""ExportWriter: canonical atomic writes, skip-unchanged, mirrors by visibility, statistics."""

from __future__ import annotations

import copy
import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from exports import atomic
from exports.atomic import TEMP_SUFFIX, is_temp_file
from exports.builders import ExportInputs, build_all, build_clips
from exports.canonical import canonical_bytes
from exports.files import FILES, ExportContext, Visibility
from exports.publish import ExportWriter, Mirror
from exports.views import ClipView

PUBLIC = {f.path for f in FILES if f.visibility is Visibility.PUBLIC}
DASHBOARD = {f.path for f in FILES if f.visibility is Visibility.DASHBOARD_ONLY}
INTERNAL = {f.path for f in FILES if f.visibility is Visibility.INTERNAL_ONLY}


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*.json") if p.is_file()}


@pytest.fixture
def docs(ctx: ExportContext, key: bytes, inputs: ExportInputs) -> dict[str, dict[str, Any]]:
    return build_all(ctx, inputs, pseudonym_key=key)


def test_writes_every_file_canonically(tmp_path: Path, docs: dict[str, dict[str, Any]]) -> None:
    writer = ExportWriter(tmp_path / "state")
    result = writer.publish(docs)
    assert result.ok
    assert set(result.written) == set(docs)
    assert _files(tmp_path / "state") == set(docs)
    for path, doc in docs.items():
        data = (tmp_path / "state" / path).read_bytes()
        assert data == canonical_bytes(doc)
        assert json.loads(data) == doc
    stats = writer.statistics()
    assert stats.files_written == len(docs) and stats.files_skipped == 0 and stats.errors == 0
    assert stats.bytes_written == sum(len(canonical_bytes(d)) for d in docs.values())


def test_second_identical_publish_writes_nothing(
    tmp_path: Path, docs: dict[str, dict[str, Any]]
) -> None:
    writer = ExportWriter(tmp_path)
    writer.publish(docs)
    old = 1_000_000_000
    for path in docs:
        os.utime(tmp_path / path, ns=(old, old))
    result = writer.publish(copy.deepcopy(docs))
    assert result.written == ()
    assert all((tmp_path / p).stat().st_mtime_ns == old for p in docs)
    stats = writer.statistics()
    assert stats.files_skipped == len(docs) and stats.files_written == len(docs)


def test_only_changed_files_are_rewritten(
    tmp_path: Path, docs: dict[str, dict[str, Any]], ctx: ExportContext, now: datetime
) -> None:
    writer = ExportWriter(tmp_path)
    writer.publish(docs)
    clip = ClipView(
        clip_id="new",
        creator_id="d",
        title="n",
        platform="twitch",
        state="queued",
        created_at=now,
        updated_at=now,
    )
    changed = dict(docs, **{"clips.json": build_clips(ctx, [clip])})
    assert writer.publish(changed).written == ("clips.json",)


def test_mirrors_receive_files_by_visibility(
    tmp_path: Path, docs: dict[str, dict[str, Any]]
) -> None:
    pages = Mirror(root=tmp_path / "pages", visibilities={"public"}, name="pages")
    dash = Mirror(
        root=tmp_path / "dash", visibilities={Visibility.PUBLIC, Visibility.DASHBOARD_ONLY}
    )
    ops = Mirror(root=tmp_path / "ops", visibilities="internal-only")
    writer = ExportWriter(tmp_path / "state", [pages, dash, ops])
    result = writer.publish(docs)
    assert result.ok
    assert _files(tmp_path / "pages") == PUBLIC
    assert _files(tmp_path / "dash") == PUBLIC | DASHBOARD
    assert _files(tmp_path / "ops") == INTERNAL
    assert not (_files(tmp_path / "pages") | _files(tmp_path / "dash")) & INTERNAL
    for path in PUBLIC:
        assert (tmp_path / "pages" / path).read_bytes() == (tmp_path / "state" / path).read_bytes()
    stats = writer.statistics()
    assert stats.mirror_files_written == len(PUBLIC) * 2 + len(DASHBOARD) + len(INTERNAL)
    # Unchanged: mirrors are skipped too.
    writer.publish(docs)
    assert writer.statistics().mirror_files_written == stats.mirror_files_written
    assert writer.statistics().mirror_files_skipped == stats.mirror_files_written


def test_a_deleted_mirror_file_is_restored(tmp_path: Path, docs: dict[str, dict[str, Any]]) -> None:
    writer = ExportWriter(
        tmp_path / "state", [Mirror(root=tmp_path / "m", visibilities={"public"})]
    )
    writer.publish(docs)
    (tmp_path / "m" / "clips.json").unlink()
    result = writer.publish(docs)
    assert result.written == ()  # primary unchanged
    assert (tmp_path / "m" / "clips.json").exists()


def test_public_mirror_cannot_take_internal_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="internal-only"):
        Mirror(root=tmp_path, visibilities={"public", "internal-only"})
    with pytest.raises(ValueError, match="no visibility"):
        Mirror(root=tmp_path, visibilities=set())
    with pytest.raises(ValueError):
        Mirror(root=tmp_path, visibilities={"secret"})


def test_mirror_must_differ_from_the_root(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="distinct"):
        ExportWriter(tmp_path, [Mirror(root=tmp_path, visibilities={"public"})])


def test_mirror_error_is_reported_and_primary_still_written(
    tmp_path: Path, docs: dict[str, dict[str, Any]]
) -> None:
    blocker = tmp_path / "broken"
    blocker.write_text("a file where a folder should be")
    good = Mirror(root=tmp_path / "good", visibilities={"public"})
    writer = ExportWriter(
        tmp_path / "state", [Mirror(root=blocker, visibilities={"public"}, name="broken"), good]
    )
    result = writer.publish(docs)
    assert not result.ok
    assert {o.path for o in result.errors} == PUBLIC
    assert {o.destination for o in result.errors} == {"broken"}
    assert _files(tmp_path / "state") == set(docs)
    assert _files(tmp_path / "good") == PUBLIC
    stats = writer.statistics()
    assert stats.errors == 0 and stats.mirror_errors == len(PUBLIC)
    assert stats.last_error is not None and "broken" in stats.last_error


def test_primary_error_is_reported_not_raised(
    tmp_path: Path, docs: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = atomic.os.replace

    def failing(src: str, dst: str) -> None:
        if str(dst).endswith("quotas.json"):
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", failing)
    writer = ExportWriter(tmp_path)
    result = writer.publish(docs)
    assert [(o.path, o.destination) for o in result.errors] == [("quotas.json", "primary")]
    assert "No space" in (result.errors[0].error or "")
    assert _files(tmp_path) == set(docs) - {"quotas.json"}
    assert writer.statistics().errors == 1
    assert not [p for p in tmp_path.rglob("*") if is_temp_file(p)]


def test_documents_are_checked_before_anything_is_written(
    tmp_path: Path, docs: dict[str, dict[str, Any]]
) -> None:
    writer = ExportWriter(tmp_path)
    widened = copy.deepcopy(docs)
    widened["integrations.json"]["meta"]["visibility"] = "public"
    with pytest.raises(ValueError, match="registry"):
        writer.publish(widened)
    mismatch = copy.deepcopy(docs)
    mismatch["clips.json"]["generated_at"] = "2020-01-01T00:00:00.000Z"
    with pytest.raises(ValueError, match="generated_at"):
        writer.publish(mismatch)
    with pytest.raises(KeyError):
        writer.publish({"extra.json": docs["clips.json"]})
    with pytest.raises(ValueError, match="meta"):
        writer.publish({"clips.json": {"clips": []}})
    assert _files(tmp_path) == set()


def test_publish_one_and_cleanup(tmp_path: Path, docs: dict[str, dict[str, Any]]) -> None:
    mirror = Mirror(root=tmp_path / "m", visibilities={"public"})
    writer = ExportWriter(tmp_path / "s", [mirror])
    assert writer.publish_one("meta.json", docs["meta.json"]).written == ("meta.json",)
    stale = [
        tmp_path / "s" / f".clips.json.0123456789abcdef{TEMP_SUFFIX}",
        tmp_path / "m" / f".meta.json.0123456789abcdef{TEMP_SUFFIX}",
    ]
    for p in stale:
        p.write_bytes(b"{")
    assert sorted(writer.cleanup_stale_temp_files()) == sorted(stale)


def test_statistics_is_a_snapshot(
    tmp_path: Path, docs: dict[str, dict[str, Any]], ctx: ExportContext, key: bytes
) -> None:
    writer = ExportWriter(tmp_path)
    before = writer.statistics()
    writer.publish(docs)
    assert before.files_written == 0
    later = attrs.evolve(ctx, now=ctx.now + timedelta(seconds=10))
    writer.publish(build_all(later, ExportInputs(), pseudonym_key=key))
    assert writer.statistics().files_written > len(docs)


def test_a_file_is_intact_until_anyone_else_changes_one_of_its_copies(
    tmp_path: Path, docs: dict[str, dict[str, Any]]
) -> None:
    writer = ExportWriter(
        tmp_path / "state", [Mirror(root=tmp_path / "m", visibilities={"public"})]
    )
    assert not writer.intact("clips.json")  # never written by this writer
    writer.publish(docs)
    assert writer.intact("clips.json") and writer.intact("points.json")
    # The same size, another content: its stat signature moves.
    primary = tmp_path / "state" / "clips.json"
    primary.write_bytes(primary.read_bytes().replace(b"{", b"["))
    assert not writer.intact("clips.json")
    writer.publish(docs)  # written again, and intact once more
    assert primary.read_bytes() == canonical_bytes(docs["clips.json"])
    assert writer.intact("clips.json")
    (tmp_path / "m" / "points.json").unlink()  # a mirror's copy
    assert not writer.intact("points.json")
    assert writer.intact("clips.json")


def test_intact_files_are_counted_as_skipped_without_their_bytes(
    tmp_path: Path, docs: dict[str, dict[str, Any]]
) -> None:
    writer = ExportWriter(tmp_path, [Mirror(root=tmp_path / "m", visibilities={"public"})])
    writer.publish(docs)
    before = writer.statistics()
    result = writer.publish_prepared({}, intact=["points.json"])
    assert [(o.path, o.destination, o.written) for o in result.outcomes] == [
        ("points.json", "primary", False),
        ("points.json", str(tmp_path / "m"), False),
    ]
    after = writer.statistics()
    assert (after.files_skipped, after.mirror_files_skipped) == (
        before.files_skipped + 1,
        before.mirror_files_skipped + 1,
    )


def test_each_folder_written_to_is_fsynced_once_per_publish_after_its_files(
    tmp_path: Path, docs: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The renames of a publish are made durable by one fsync of each folder written to (the
    root, its subfolders, the mirrors'), after every file is in place: not one per file."""
    mirror = Mirror(root=tmp_path / "pages", visibilities=["public"])
    writer = ExportWriter(tmp_path / "state", [mirror])
    writer.publish(docs)  # folders made
    synced: list[Path] = []
    files_in_place: list[bool] = []

    def sync(folder: Path) -> None:
        synced.append(folder)
        files_in_place.append(not _temps(tmp_path))

    monkeypatch.setattr(atomic, "_fsync_dir", sync)
    later = "2030-01-01T00:00:00.000Z"  # every file changes
    changed = {
        path: {**doc, "meta": {**doc["meta"], "generated_at": later}, "generated_at": later}
        for path, doc in docs.items()
    }
    result = writer.publish(changed)
    assert set(result.written) == set(docs)
    folders = {(tmp_path / "state" / p).parent for p in docs}
    folders |= {(tmp_path / "pages" / p).parent for p in docs if p in PUBLIC}
    assert sorted(synced) == sorted(folders)  # each once
    assert all(files_in_place)
    synced.clear()
    writer.publish(changed)  # nothing written: nothing to make durable
    assert synced == []


def _temps(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if is_temp_file(p)]
