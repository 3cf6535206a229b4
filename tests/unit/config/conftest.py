"""Helpers for the configuration tests: write a TOML file, load it, read the problems."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from config import ConfigError, load_config
from config.models import Config

Loader = Callable[..., Config]


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write TOML text to `tmp_path/config.toml` and return its path."""

    def write(text: str, name: str = "config.toml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def problems(write_config: Callable[[str], Path]) -> Callable[..., list[str]]:
    """Load TOML text that must fail; return the rendered problems with the path as `FILE`."""

    def run(text: str, environ: dict[str, str] | None = None, **kwargs: Any) -> list[str]:
        path = write_config(text)
        with pytest.raises(ConfigError) as info:
            load_config(path, environ=environ or {}, **kwargs)
        return [str(p).replace(str(path), "FILE") for p in info.value.problems]

    return run
