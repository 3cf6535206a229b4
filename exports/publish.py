"""Writing built export files to the state root and to mirrors.

``ExportWriter`` is synchronous and blocking (the ``SnapshotPublisher`` actor calls it from a
worker thread). Each document is serialized canonically once, written atomically under the
state root (skipped when the bytes are unchanged), then written to every mirror configured for
its visibility. A failing mirror is reported and counted, never allowed to stop the primary
write or the other files.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from exports.atomic import cleanup_stale_temp_files, sync_folder, write_atomic
from exports.canonical import canonical_bytes
from exports.files import Visibility, get_file

__all__ = ["ExportWriter", "FileOutcome", "Mirror", "PublishResult", "WriterStatistics"]


def _visibilities(value: Iterable[Visibility | str]) -> frozenset[Visibility]:
    if isinstance(value, str):
        value = [value]
    return frozenset(Visibility(v) for v in value)


@attrs.frozen(kw_only=True)
class Mirror:
    """A folder that receives a copy of every file whose visibility is in ``visibilities``.

    A mirror that takes ``public`` files is treated as public: it may not also take
    ``internal-only`` files (a GitHub Pages checkout must never receive them).
    """

    root: Path = attrs.field(converter=Path)
    visibilities: frozenset[Visibility] = attrs.field(converter=_visibilities)
    name: str = ""

    def __attrs_post_init__(self) -> None:
        if not self.visibilities:
            raise ValueError(f"mirror {self.label}: no visibility configured")
        if {Visibility.PUBLIC, Visibility.INTERNAL_ONLY} <= self.visibilities:
            raise ValueError(
                f"mirror {self.label}: a public mirror cannot receive internal-only files"
            )

    @property
    def label(self) -> str:
        """The name, or the folder when the mirror has no name."""
        return self.name or str(self.root)

    def accepts(self, visibility: Visibility) -> bool:
        """True when files of this visibility go to this mirror."""
        return visibility in self.visibilities


@attrs.frozen(kw_only=True)
class FileOutcome:
    """What happened to one file at one destination (the state root or a mirror)."""

    path: str  # export path, e.g. "discord/runtime.json"
    destination: str  # "primary" or the mirror's label
    written: bool
    bytes: int = 0
    error: str | None = None


@attrs.frozen(kw_only=True)
class PublishResult:
    """The outcome of one :meth:`ExportWriter.publish` call."""

    outcomes: tuple[FileOutcome, ...]

    @property
    def written(self) -> tuple[str, ...]:
        """Export paths written to the state root."""
        return tuple(o.path for o in self.outcomes if o.destination == "primary" and o.written)

    @property
    def errors(self) -> tuple[FileOutcome, ...]:
        """Every failed write, primary or mirror."""
        return tuple(o for o in self.outcomes if o.error is not None)

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.errors


@attrs.frozen(kw_only=True)
class WriterStatistics:
    """Counters since the writer was created (primary and mirrors counted apart)."""

    files_written: int = 0
    files_skipped: int = 0
    bytes_written: int = 0
    errors: int = 0
    mirror_files_written: int = 0
    mirror_files_skipped: int = 0
    mirror_bytes_written: int = 0
    mirror_errors: int = 0
    last_error: str | None = None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


#: What a file's stat says of its identity and content: inode, size, modification and change
#: times (any write, replace or removal changes one of them).
_Signature = tuple[int, int, int, int]


def _signature(target: Path) -> _Signature | None:
    """The stat signature of ``target`` (None when it is not there)."""
    try:
        st = os.stat(target)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class ExportWriter:
    """Writes export documents canonically and atomically under ``root`` and to mirrors.

    ``documents`` are the dicts returned by the builders, keyed by export path. The writer checks
    each document's ``meta.visibility`` against the registry, so a document can never be routed
    with a wider visibility than its file has.
    """

    def __init__(self, root: str | os.PathLike[str], mirrors: Iterable[Mirror] = ()) -> None:
        self.root = Path(root)
        self.mirrors: tuple[Mirror, ...] = tuple(mirrors)
        roots = [self.root.resolve(), *(m.root.resolve() for m in self.mirrors)]
        if len(set(roots)) != len(roots):
            raise ValueError("the state root and every mirror must be distinct folders")
        self._lock = threading.Lock()  # statistics may be read from another thread
        self._stats = WriterStatistics()
        # Each destination file as this writer last left it (written, or found holding the
        # bytes it was given): its stat signature, which any later change to it alters.
        self._signatures: dict[Path, _Signature] = {}

    def cleanup_stale_temp_files(self, *, min_age_seconds: float = 0.0) -> list[Path]:
        """Remove temporary files left by a crashed writer under the root and every mirror."""
        removed = cleanup_stale_temp_files(self.root, min_age_seconds=min_age_seconds)
        for mirror in self.mirrors:
            removed += cleanup_stale_temp_files(mirror.root, min_age_seconds=min_age_seconds)
        return removed

    def publish(self, documents: Mapping[str, Mapping[str, Any]]) -> PublishResult:
        """Write every document (in path order); returns what was written, skipped or failed.

        Raises only for programming errors detected before any write: an unknown path, a
        document whose ``meta`` does not match the registry, or content that is not canonical
        JSON. I/O errors are reported in the result and in :meth:`statistics`.
        """
        return self.publish_prepared(
            {path: self.prepare(path, doc) for path, doc in documents.items()}
        )

    def publish_prepared(
        self, prepared: Mapping[str, bytes], *, intact: Iterable[str] = ()
    ) -> PublishResult:
        """Write bytes made by :meth:`prepare` (in path order); see :meth:`publish`.

        Lets a caller serialise once and keep the bytes (to skip rebuilding a file whose inputs
        did not change); only bytes from :meth:`prepare` may be passed. ``intact`` are paths
        the caller did not serialise again: their bytes are those it gave last time, and
        :meth:`intact` found every copy as this writer left it; each is counted as skipped.
        """
        outcomes: list[FileOutcome] = []
        for path in intact:
            for destination, _target in self._destinations(path):
                outcomes.append(FileOutcome(path=path, destination=destination, written=False))
                self._count(destination == "primary")
        # Each folder written to is fsynced once, after every file of it is in place (one
        # fsync of the root per publish, not one per file written there).
        folders: set[Path] = set()
        for path, data in sorted(prepared.items()):
            outcomes += self._write_everywhere(path, data, folders)
        for folder in sorted(folders):
            sync_folder(folder)
        return PublishResult(outcomes=tuple(outcomes))

    def intact(self, path: str) -> bool:
        """True when every copy of ``path`` (under the root and in its mirrors) is still the
        file this writer last wrote there, or found holding the bytes it was given: a caller
        whose bytes for ``path`` did not change since then need not serialise or write them
        (:meth:`publish_prepared`'s ``intact``). A copy changed, replaced or removed by anyone
        else since (its stat signature differs) makes it False, so the caller writes again."""
        for _destination, target in self._destinations(path):
            known = self._signatures.get(target)
            if known is None or known != _signature(target):
                return False
        return True

    @staticmethod
    def prepare(path: str, document: Mapping[str, Any]) -> bytes:
        """Check ``document`` against the registry and return its canonical bytes."""
        return ExportWriter._prepare(path, document)

    def publish_one(self, path: str, document: Mapping[str, Any]) -> PublishResult:
        """Write one document; see :meth:`publish`."""
        return self.publish({path: document})

    def statistics(self) -> WriterStatistics:
        """A snapshot of the counters."""
        with self._lock:
            return self._stats

    # -- internals ---------------------------------------------------------------------------

    @staticmethod
    def _prepare(path: str, document: Mapping[str, Any]) -> bytes:
        file = get_file(path)
        meta = document.get("meta")
        if not isinstance(meta, Mapping):
            raise ValueError(f"{path}: document has no meta block")
        if meta.get("visibility") != file.visibility or meta.get("schema") != file.schema:
            raise ValueError(f"{path}: meta does not match the registry entry {file}")
        if document.get("generated_at") != meta.get("generated_at"):
            raise ValueError(f"{path}: top-level generated_at differs from meta.generated_at")
        return canonical_bytes(document)

    def _destinations(self, path: str) -> list[tuple[str, Path]]:
        """Where ``path`` is written: the root first, then each mirror taking its visibility."""
        file = get_file(path)
        relative = Path(*path.split("/"))
        out = [("primary", self.root / relative)]
        out += [
            (mirror.label, mirror.root / relative)
            for mirror in self.mirrors
            if mirror.accepts(file.visibility)
        ]
        return out

    def _write_everywhere(self, path: str, data: bytes, folders: set[Path]) -> list[FileOutcome]:
        # Mirrors are written even when the primary failed: they are independent copies, and
        # a dashboard reading a mirror is better served by the new content.
        return [
            self._write(path, destination, target, data, folders)
            for destination, target in self._destinations(path)
        ]

    def _write(
        self, path: str, destination: str, target: Path, data: bytes, folders: set[Path]
    ) -> FileOutcome:
        """Write one copy; the folder of a copy written goes to `folders` (to fsync)."""
        primary = destination == "primary"
        try:
            written = write_atomic(target, data, sync=False)
            if written:
                folders.add(target.parent)
            signature = _signature(target)
        except OSError as exc:
            self._signatures.pop(target, None)
            message = f"{destination}: {path}: {_describe(exc)}"
            self._count(primary, error=message)
            return FileOutcome(path=path, destination=destination, written=False, error=message)
        if signature is None:
            self._signatures.pop(target, None)
        else:
            self._signatures[target] = signature
        self._count(primary, written=written, size=len(data) if written else 0)
        return FileOutcome(
            path=path, destination=destination, written=written, bytes=len(data) if written else 0
        )

    def _count(
        self, primary: bool, *, written: bool = False, size: int = 0, error: str | None = None
    ) -> None:
        with self._lock:
            s = self._stats
            if primary:
                s = attrs.evolve(
                    s,
                    files_written=s.files_written + (written and error is None),
                    files_skipped=s.files_skipped + (not written and error is None),
                    bytes_written=s.bytes_written + size,
                    errors=s.errors + (error is not None),
                )
            else:
                s = attrs.evolve(
                    s,
                    mirror_files_written=s.mirror_files_written + (written and error is None),
                    mirror_files_skipped=s.mirror_files_skipped + (not written and error is None),
                    mirror_bytes_written=s.mirror_bytes_written + size,
                    mirror_errors=s.mirror_errors + (error is not None),
                )
            if error is not None:
                s = attrs.evolve(s, last_error=error)
            self._stats = s
