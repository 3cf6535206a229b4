"""JSON Schemas (draft 2020-12) of every export file, shipped as package data.

One ``<path with / as _>.schema.json`` per registry entry, e.g. ``clips.schema.json`` and
``discord_runtime.schema.json``. Objects are closed (``additionalProperties: false``) so a stray
field, for instance a raw user id added to a public file, fails validation.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from exports.files import ExportFile, get_file

__all__ = ["load_schema", "validate"]


def _entry(file: str | ExportFile) -> ExportFile:
    return file if isinstance(file, ExportFile) else get_file(file)


@cache
def _load(filename: str) -> str:
    return resources.files(__name__).joinpath(filename).read_text(encoding="utf-8")


def load_schema(file: str | ExportFile) -> dict[str, Any]:
    """The JSON Schema of an export file, given its path (``"telemetry/rates.json"``) or entry.

    Returns a fresh dict on every call, so callers may modify it.
    """
    return json.loads(_load(_entry(file).schema_filename))


@cache
def _validator(filename: str) -> Any:
    import jsonschema  # optional dependency: only tests and tools validate

    schema = json.loads(_load(filename))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def validate(file: str | ExportFile, document: Any) -> None:
    """Validate ``document`` against its file's schema and the rules a schema cannot state.

    Raises ``jsonschema.ValidationError`` (jsonschema is a test dependency, imported here
    lazily) or ``ValueError`` when the top-level ``generated_at`` differs from the meta one.
    """
    _validator(_entry(file).schema_filename).validate(document)
    if document["generated_at"] != document["meta"]["generated_at"]:
        raise ValueError("top-level generated_at differs from meta.generated_at")
