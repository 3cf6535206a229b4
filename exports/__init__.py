"""Snapshot exports: canonical JSON, meta block, visibility routing, atomic writes, mirrors.

Pure, synchronous code plus blocking file I/O; the ``SnapshotPublisher`` actor wraps it (running
:class:`ExportWriter` in a worker thread). Typical use::

    ctx = ExportContext(now=now, started_at=boot, secrets=known_secret_values)
    documents = build_all(ctx, ExportInputs(clips=..., ...), pseudonym_key=key)
    result = writer.publish(documents)
"""

from exports.atomic import cleanup_stale_temp_files, write_atomic
from exports.builders import ExportInputs, build_all, build_manifest
from exports.canonical import CanonicalError, canonical_bytes, format_timestamp, parse_timestamp
from exports.files import FILES, ExportContext, ExportFile, Visibility, build_meta, get_file
from exports.publish import ExportWriter, Mirror, PublishResult, WriterStatistics
from exports.scrub import pseudonymize, redact_text, scrub

__all__ = [
    "FILES",
    "CanonicalError",
    "ExportContext",
    "ExportFile",
    "ExportInputs",
    "ExportWriter",
    "Mirror",
    "PublishResult",
    "Visibility",
    "WriterStatistics",
    "build_all",
    "build_manifest",
    "build_meta",
    "canonical_bytes",
    "cleanup_stale_temp_files",
    "format_timestamp",
    "get_file",
    "parse_timestamp",
    "pseudonymize",
    "redact_text",
    "scrub",
    "write_atomic",
]
