"""Shared fixtures of tests/edge: the real Redis at ``TEST_REDIS_URL``, each test under a
key prefix of its own (deleted afterwards). Unreachable Redis skips the test, unless
``REQUIRE_POSTGRES=1`` (CI: every service must be there), which makes it a failure."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_SERVICES = os.environ.get("REQUIRE_POSTGRES") == "1"


async def require_redis() -> str:
    """The test Redis's URL; skips the calling test (fails it under REQUIRE_POSTGRES=1)
    when Redis is unreachable."""
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        reachable = bool(await client.ping())
    except Exception:
        reachable = False
    finally:
        await client.aclose()
    if not reachable:
        if REQUIRE_SERVICES:
            pytest.fail(f"REQUIRE_POSTGRES=1 but Redis is unreachable at {REDIS_URL}")
        pytest.skip(f"Redis is unreachable at {REDIS_URL}")
    return REDIS_URL


def new_prefix() -> str:
    return f"harmony-test:{uuid.uuid4().hex}:"


async def delete_keys(prefix: str, url: str = REDIS_URL) -> None:
    """Only the keys under this test's prefix."""
    client = Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of this test alone on the real Redis; its keys are deleted after."""
    await require_redis()
    prefix = new_prefix()
    yield prefix
    await delete_keys(prefix)


@pytest.fixture
def redis_url(redis_prefix: str) -> str:
    """The real Redis (reachable: ``redis_prefix`` checked it)."""
    return REDIS_URL


@pytest.fixture
async def raw_redis(redis_url: str) -> AsyncIterator[Redis]:
    """A plain client of the test Redis (strings decoded)."""
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()
