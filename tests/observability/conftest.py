"""Fixtures of the observability tests: the process's logging configured as
``python -m app serve`` configures it (JSON lines), written to a buffer the test reads;
an app on the test's database with settings of the test's choosing."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import orjson
import pytest
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.main import create_app
from app.observability import access, logs
from tests.client import GraphQLClient

Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def log_lines(settings: Settings) -> Iterator[Lines]:
    """``lines()``: every JSON line logged so far, parsed (the real renderer's output)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    buffer = io.StringIO()
    logs.configure_logging(settings.model_copy(update={"log_format": "json"}), buffer)

    def lines() -> list[dict[str, Any]]:
        access.flush()  # the access lines of the requests so far (written in batches)
        return [orjson.loads(line) for line in buffer.getvalue().splitlines()]

    yield lines
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)
    logs.unconfigure_access()


Serve = Callable[..., AbstractAsyncContextManager[GraphQLClient]]


@pytest.fixture
def serve(settings: Settings, engine: AsyncEngine, owner_engine: AsyncEngine) -> Serve:
    """``async with serve(**overrides) as client``: an app with these settings."""

    @asynccontextmanager
    async def run(**overrides: Any) -> AsyncIterator[GraphQLClient]:
        configured = settings.model_copy(update=overrides)
        app = create_app(configured, engine)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://gateway.test"
            ) as http:
                yield GraphQLClient(http, configured, owner_engine)

    return run


def access_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The access lines, without what varies from run to run (time, duration)."""
    found = []
    for line in lines:
        if line.get("event") == "graphql request":
            line = dict(line)
            assert isinstance(line.pop("timestamp"), str)
            assert line.pop("duration_ms") >= 0
            found.append(line)
    return found
