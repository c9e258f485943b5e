"""Fixtures of the database tests."""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from tests.conftest import _pg_admin
from tests.databases import Databases

_names = itertools.count()


@asynccontextmanager
async def new_pg_database(pg_databases: Databases | None) -> AsyncIterator[str]:
    """A PostgreSQL database with no schema at all (its name), dropped afterwards."""
    if pg_databases is None:
        pytest.skip("PostgreSQL is not reachable")
    name = f"harmony_m_{os.getpid()}_{next(_names)}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def empty_pg_database(pg_databases: Databases | None) -> AsyncIterator[str]:
    async with new_pg_database(pg_databases) as name:
        yield name
