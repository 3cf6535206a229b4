"""Fixtures for the store engine tests."""

from __future__ import annotations

import pathlib
import shutil

import pytest

from state import Database, open_database


@pytest.fixture
def db_path(tmp_path: pathlib.Path) -> pathlib.Path:
    return tmp_path / "data" / "store.db"


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A closed, fully migrated database file; copying it is faster than migrating anew."""
    path = tmp_path_factory.mktemp("template") / "store.db"
    open_database(path).close()  # close() checkpoints: the main file is self-contained
    return path


@pytest.fixture
def db(db_path: pathlib.Path, migrated_template: pathlib.Path):
    db_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(migrated_template, db_path)
    # synchronous=normal keeps the suite fast; durability has its own tests with the default.
    database: Database = open_database(db_path, synchronous="normal")
    try:
        yield database
    finally:
        database.close()
