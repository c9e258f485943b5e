"""The edge through the ASGI app, with the production defaults (tests/edge/asgi_edge.py):
one database per engine per module, since these tests change nothing they do not undo,
and an app started per test with the settings under test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from tests.databases import Databases
from tests.edge.asgi_edge import Edge, Serve, module_database, starter


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
async def database_url(
    backend: str,
    sqlite_template: Path,
    pg_databases: Databases | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[str]:
    """One database per engine for the module."""
    async with module_database(backend, sqlite_template, pg_databases, tmp_path_factory) as url:
        yield url


@pytest.fixture
def serve(settings: Settings, engine: AsyncEngine, owner_engine: AsyncEngine) -> Serve:
    return starter(settings, engine, owner_engine)


@pytest.fixture
async def edge(serve: Serve) -> AsyncIterator[Edge]:
    async with serve() as started:
        yield started
