"""Go-live notifications: rules, the durable outbox, and the dispatcher posting to Discord."""

from __future__ import annotations

import importlib
from typing import Any

# Loaded on first use (PEP 562): the publisher needs only the job views of `rules`.
_EXPORTS = {
    "NotificationDispatcher": "actors.notify.dispatcher",
    "NotificationDispatcherStatistics": "actors.notify.dispatcher",
    "NotifyRule": "actors.notify.rules",
    "Wake": "actors.notify.dispatcher",
    "job_view": "actors.notify.rules",
    "outbox_ops": "actors.notify.rules",
    "rules_from_config": "actors.notify.rules",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'actors.notify' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
