"""Logging for the runtime: structlog in front, stdlib logging handlers behind.

Design choice: structlog's *stdlib integration*. structlog builds the event dict (bound
context, level, logger name, ISO UTC timestamp) and hands it to the standard `logging` module
through `ProcessorFormatter.wrap_for_formatter`; two handlers on the root logger then render it:

- a console `StreamHandler` with structlog's human-readable `ConsoleRenderer`;
- a `logging.handlers.RotatingFileHandler` with `JSONRenderer`, one JSON object per line.

Why this rather than structlog writing to two outputs itself: size-based rotation, file locking
across threads and reopen-on-rollover already exist, well tested, in `RotatingFileHandler`; and
third-party libraries that log through stdlib (hypercorn, httpx) reach the same two handlers,
with the same masking, through `foreign_pre_chain`. Both handlers (and the root logger) get
the same level, so the console and the file always agree.

Secrets: the last step before rendering, for every line from structlog or stdlib, replaces
anything secret-looking in every string value (the event, every key, the formatted traceback)
through `actors.secret_masking.mask_secrets`. Tracebacks are therefore rendered to text first
(`format_exc_info`) rather than by the console's pretty printer, which would bypass masking.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from actors.secret_masking import mask_secrets

# Marks the handlers this module installed, so a second call replaces exactly those (idempotent)
# and leaves alone any handler that someone else (pytest's caplog, for one) put on the root.
_MARKER = "_streamsuites_handler"

# Chatty third-party loggers and the most verbose level that is useful from them. At DEBUG the
# runtime's own lines are wanted; hypercorn's per-connection debugging or httpcore's socket
# traces are not.
_QUIET_FLOOR: Mapping[str, int] = {
    "hypercorn.error": logging.INFO,
    "hypercorn.access": logging.WARNING,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "trio-websocket": logging.INFO,
    "hpack": logging.WARNING,
    "h11": logging.WARNING,
    "h2": logging.WARNING,
}

_PRIMITIVES = (bool, int, float, type(None))


def _mask_value(value: Any) -> Any:
    """Mask secrets in `value`: strings directly, containers recursively.

    Other objects are turned into their masked `str` so that an object whose text holds a
    secret (an exception passed as a key, a URL object) cannot leak through the renderer's own
    `repr`/`str` call.
    """
    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, _PRIMITIVES):
        return value
    if isinstance(value, Mapping):
        return {k: _mask_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_mask_value(v) for v in value]
    return mask_secrets(str(value))


def mask_secrets_processor(
    _logger: WrappedLogger, _method: str, event_dict: EventDict
) -> EventDict:
    """structlog processor: mask secrets in every value of the event dict (event included)."""
    for key, value in list(event_dict.items()):
        if key.startswith("_"):
            # ProcessorFormatter's own bookkeeping (`_record`, `_from_structlog`): not rendered.
            continue
        event_dict[key] = _mask_value(value)
    return event_dict


def _record_timestamp(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """Timestamp a stdlib record from its creation time (ISO UTC, the same on every handler)."""
    record = event_dict.get("_record")
    if record is not None and "timestamp" not in event_dict:
        created = datetime.fromtimestamp(record.created, tz=UTC)
        event_dict["timestamp"] = created.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return event_dict


class RepeatLimit:
    """While on (a shutdown: `start`), each kind of line (level and event) is logged at most
    `limit` times and the rest are only counted; `report` logs how many of each were left
    out, and turns the limit off.

    A stop of 10,000 creators made as many lines of each kind ("replay position not saved",
    "flush failed", ...), each a few tenths of a millisecond of the event loop's time, which
    took seconds past the shutdown deadline; the first lines and a count say as much.
    """

    def __init__(self) -> None:
        self.limit: int | None = None
        self._counts: dict[tuple[str, str], int] = {}

    def start(self, limit: int = 20) -> None:
        """Limit the lines of each kind from now on (starting again keeps the counts)."""
        self.limit = limit

    def __call__(self, _logger: WrappedLogger, method: str, event_dict: EventDict) -> EventDict:
        limit = self.limit
        if limit is None:
            return event_dict
        key = (method, str(event_dict.get("event")))
        seen = self._counts[key] = self._counts.get(key, 0) + 1
        if seen > limit:
            raise structlog.DropEvent
        return event_dict

    def report(self) -> None:
        """Log, per kind, how many lines were left out since `start`; stop limiting."""
        limit, counts = self.limit, self._counts
        self.limit, self._counts = None, {}
        if limit is None:
            return
        for (level, event), seen in counts.items():
            if seen > limit:
                structlog.get_logger("runtime").warning(
                    "lines left out during the stop",
                    line=event,
                    level_of_line=level,
                    left_out=seen - limit,
                    logged=limit,
                )


#: The limit of repeated lines during a shutdown (`runtime.app.serve` starts and reports it).
shutdown_lines = RepeatLimit()


def _level_number(level: str) -> int:
    number = logging.getLevelName(level.strip().upper())
    if not isinstance(number, int):
        raise ValueError(f"unknown log level {level!r} (expected debug, info, warning, error)")
    return number


def _remove_our_handlers(root: logging.Logger) -> None:
    for handler in list(root.handlers):
        if getattr(handler, _MARKER, False):
            root.removeHandler(handler)
            handler.close()


def configure_logging(
    *,
    level: str,
    log_file: Path | None,
    max_bytes: int,
    backups: int,
    console: TextIO | None = sys.stderr,
) -> None:
    """Configure structlog and stdlib logging for the process.

    `level` (`"debug"`, `"info"`, ...) applies to the console and the file alike. `log_file`,
    when given, receives JSON lines and rotates when it would exceed `max_bytes`, keeping
    `backups` old files (`runtime.log.1`, ...). `console=None` disables console output (a
    service whose stderr goes nowhere). Calling it again replaces the previous configuration.
    """
    number = _level_number(level)

    # Shared by structlog's own events and by stdlib records (foreign_pre_chain), so a line from
    # hypercorn carries the same keys (and the actor path bound in contextvars) as ours.
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    pre_chain: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.ExtraAdder(),
        _record_timestamp,
    ]
    # The renderer-side chain: identical for both handlers except for the renderer itself.
    final_steps: list[Processor] = [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        structlog.processors.UnicodeDecoder(),
        mask_secrets_processor,
    ]

    root = logging.getLogger()
    _remove_our_handlers(root)

    handlers: list[logging.Handler] = []
    if console is not None:
        colors = bool(getattr(console, "isatty", lambda: False)())
        console_handler = logging.StreamHandler(console)
        console_handler.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                foreign_pre_chain=pre_chain,
                processors=[*final_steps, structlog.dev.ConsoleRenderer(colors=colors)],
            )
        )
        handlers.append(console_handler)
    if log_file is not None:
        log_file = Path(log_file)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(
            log_file, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
        file_handler.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                foreign_pre_chain=pre_chain,
                processors=[
                    *final_steps,
                    structlog.processors.JSONRenderer(sort_keys=True, default=str),
                ],
            )
        )
        handlers.append(file_handler)

    for handler in handlers:
        setattr(handler, _MARKER, True)
        handler.setLevel(number)
        root.addHandler(handler)
    root.setLevel(number)

    for name, floor in _QUIET_FLOOR.items():
        third_party = logging.getLogger(name)
        third_party.setLevel(max(number, floor))
        # hypercorn installs its own stderr handler unless told otherwise; make sure its lines
        # go through ours only (serve_http passes it this logger object).
        third_party.propagate = True

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.filter_by_level,
            shutdown_lines,  # off but while the process stops
            structlog.stdlib.add_logger_name,
            structlog.stdlib.add_log_level,
            structlog.stdlib.PositionalArgumentsFormatter(),
            timestamper,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        context_class=dict,
        # Not cached: module-level loggers must follow a reconfiguration (tests reconfigure,
        # and `structlog.testing.capture_logs` swaps the processors temporarily).
        cache_logger_on_first_use=False,
    )


def reset_logging() -> None:
    """Undo `configure_logging`: close our handlers and restore structlog's defaults.

    Used at process exit (flushes and closes the log file) and by tests.
    """
    _remove_our_handlers(logging.getLogger())
    structlog.reset_defaults()


__all__ = [
    "RepeatLimit",
    "configure_logging",
    "mask_secrets_processor",
    "reset_logging",
    "shutdown_lines",
]
