"""Tests of runtime.logging_setup: levels, JSON file, rotation, masking, bound context."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import structlog

from actors.secret_masking import register_secret
from runtime.logging_setup import configure_logging, reset_logging, shutdown_lines


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    # Other test modules must not inherit our global configuration.
    yield
    reset_logging()
    structlog.contextvars.clear_contextvars()


def _configure(tmp_path: Path, level: str = "info", **kwargs: object) -> tuple[Path, io.StringIO]:
    console = io.StringIO()
    log_file = tmp_path / "logs" / "runtime.log"
    options: dict[str, object] = {"max_bytes": 1_000_000, "backups": 3, "console": console}
    options.update(kwargs)
    configure_logging(level=level, log_file=log_file, **options)  # type: ignore[arg-type]
    return log_file, console


def _lines(log_file: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log_file.read_text("utf-8").splitlines() if line]


def test_json_lines_with_iso_utc_timestamp_and_level(tmp_path: Path) -> None:
    log_file, console = _configure(tmp_path)
    structlog.get_logger("runtime.test").info("hello", answer=42)
    (line,) = _lines(log_file)
    assert line["event"] == "hello"
    assert line["answer"] == 42
    assert line["level"] == "info"
    assert line["logger"] == "runtime.test"
    stamp = str(line["timestamp"])
    assert stamp.endswith("Z")
    assert datetime.fromisoformat(stamp.replace("Z", "+00:00")).utcoffset().total_seconds() == 0
    assert "hello" in console.getvalue()
    assert "answer" in console.getvalue()


def test_level_filtering_applies_to_file_and_console(tmp_path: Path) -> None:
    log_file, console = _configure(tmp_path, level="warning")
    log = structlog.get_logger("runtime.test")
    log.debug("dropped-debug")
    log.info("dropped-info")
    log.warning("kept-warning")
    log.error("kept-error")
    events = [line["event"] for line in _lines(log_file)]
    assert events == ["kept-warning", "kept-error"]
    text = console.getvalue()
    assert "dropped" not in text
    assert "kept-warning" in text and "kept-error" in text


def test_debug_level_lets_debug_through(tmp_path: Path) -> None:
    log_file, _ = _configure(tmp_path, level="DEBUG")
    structlog.get_logger("runtime.test").debug("fine-grained")
    assert [line["event"] for line in _lines(log_file)] == ["fine-grained"]


def test_unknown_level_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="log level"):
        _configure(tmp_path, level="chatty")


def test_rotation_by_size(tmp_path: Path) -> None:
    log_file, _ = _configure(tmp_path, max_bytes=2_000, backups=2, console=None)
    log = structlog.get_logger("runtime.test")
    for i in range(200):
        log.info("filler", i=i, pad="x" * 50)
    files = sorted(p.name for p in log_file.parent.iterdir())
    assert files == ["runtime.log", "runtime.log.1", "runtime.log.2"]
    for path in log_file.parent.iterdir():
        assert path.stat().st_size <= 2_000
        for line in path.read_text("utf-8").splitlines():
            json.loads(line)  # every rotated file holds whole JSON lines
    # The newest line is in the current file.
    assert _lines(log_file)[-1]["i"] == 199


def test_masks_secrets_in_event_and_every_key(tmp_path: Path) -> None:
    register_secret("s3cr3t-registered-value")
    log_file, console = _configure(tmp_path)
    structlog.get_logger("runtime.test").warning(
        "connecting with oauth:abcdef0123456789",
        header="Authorization: Bearer xyz0123456789abcdef",
        nested={"value": ["prefix s3cr3t-registered-value suffix"]},
        plain="nothing to hide",
    )
    raw = log_file.read_text("utf-8")
    for secret in ("abcdef0123456789", "xyz0123456789abcdef", "s3cr3t-registered-value"):
        assert secret not in raw
        assert secret not in console.getvalue()
    (line,) = _lines(log_file)
    assert line["event"] == "connecting with ***"
    assert line["header"] == "Authorization: Bearer ***"
    assert line["nested"] == {"value": ["prefix *** suffix"]}
    assert line["plain"] == "nothing to hide"


def test_exceptions_are_rendered_and_masked(tmp_path: Path) -> None:
    log_file, console = _configure(tmp_path)
    try:
        raise RuntimeError("login failed for oauth:deadbeefcafe")
    except RuntimeError:
        structlog.get_logger("runtime.test").exception("crashed")
    (line,) = _lines(log_file)
    exception = str(line["exception"])
    assert "Traceback" in exception
    assert "RuntimeError: login failed for ***" in exception
    assert "deadbeefcafe" not in log_file.read_text("utf-8")
    assert "RuntimeError" in console.getvalue()
    assert "deadbeefcafe" not in console.getvalue()


def test_path_binding_via_bind_and_contextvars(tmp_path: Path) -> None:
    log_file, console = _configure(tmp_path)
    structlog.get_logger().bind(path="root/creators/creator:daniel/twitch").info("bound")
    with structlog.contextvars.bound_contextvars(path="root/store"):
        structlog.get_logger().info("from-context")
        # stdlib records (hypercorn and friends) get the bound context too.
        logging.getLogger("hypercorn.error").warning("stdlib line oauth:abcdef123456")
    lines = _lines(log_file)
    assert [line.get("path") for line in lines] == [
        "root/creators/creator:daniel/twitch",
        "root/store",
        "root/store",
    ]
    assert lines[2]["event"] == "stdlib line ***"
    assert lines[2]["logger"] == "hypercorn.error"
    assert lines[2]["level"] == "warning"
    assert str(lines[2]["timestamp"]).endswith("Z")
    assert "root/creators/creator:daniel/twitch" in console.getvalue()


def test_stdlib_logging_follows_the_level(tmp_path: Path) -> None:
    log_file, _ = _configure(tmp_path, level="debug")
    logging.getLogger("some.library").debug("library debug")
    # Chatty third parties are held at a floor even at debug level.
    logging.getLogger("hypercorn.error").debug("per-connection noise")
    logging.getLogger("httpcore").info("socket trace")
    assert [line["event"] for line in _lines(log_file)] == ["library debug"]


def test_idempotent_reconfiguration(tmp_path: Path) -> None:
    log_file, first_console = _configure(tmp_path)
    log_file, second_console = _configure(tmp_path)
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_streamsuites_handler", False)]
    assert len(ours) == 2
    structlog.get_logger("runtime.test").info("once")
    assert [line["event"] for line in _lines(log_file)] == ["once"]
    assert first_console.getvalue() == ""
    assert second_console.getvalue().count("once") == 1


def test_capture_logs_still_works_after_configuration(tmp_path: Path) -> None:
    _configure(tmp_path)
    log = structlog.get_logger("runtime.test")
    with structlog.testing.capture_logs() as captured:
        log.info("captured", path="root/http")
    assert captured == [{"event": "captured", "path": "root/http", "log_level": "info"}]


def test_during_a_stop_each_kind_of_line_is_logged_a_few_times_then_counted(
    tmp_path: Path,
) -> None:
    log_file, _ = _configure(tmp_path, level="info")
    log = structlog.get_logger("runtime.test")
    shutdown_lines.start(limit=2)
    try:
        for n in range(5):
            log.warning("flush failed", path=f"root/c{n}")
        log.info("flush failed", path="root/c9")  # another level: another kind
        log.warning("stopped cleanly")
    finally:
        shutdown_lines.report()
    log.warning("flush failed", path="root/after")  # the limit ends with the report
    assert [(line["event"], line.get("path")) for line in _lines(log_file)] == [
        ("flush failed", "root/c0"),
        ("flush failed", "root/c1"),
        ("flush failed", "root/c9"),
        ("stopped cleanly", None),
        ("lines left out during the stop", None),
        ("flush failed", "root/after"),
    ]
    summary = _lines(log_file)[4]
    assert (summary["line"], summary["level_of_line"], summary["left_out"]) == (
        "flush failed",
        "warning",
        3,
    )
