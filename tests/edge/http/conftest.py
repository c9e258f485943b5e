"""The edge through the ASGI app, with the production defaults (tests/edge/asgi_edge.py):
one database per engine per module, since these tests change nothing they do not undo,
and an app started per test with the settings under test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from tests.conftest import module_database_fixtures
from tests.edge.asgi_edge import Edge, Serve, starter

backend, database_url = module_database_fixtures()  # one database per engine for the module


@pytest.fixture
def serve(settings: Settings, engine: AsyncEngine, owner_engine: AsyncEngine) -> Serve:
    return starter(settings, engine, owner_engine)


@pytest.fixture
async def edge(serve: Serve) -> AsyncIterator[Edge]:
    async with serve() as started:
        yield started
