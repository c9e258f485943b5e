"""Rate limiting by query cost: token buckets in Redis (shared) and in the process.

Redis tests talk to the real server at ``TEST_REDIS_URL`` (default 127.0.0.1:6379), each
under its own key prefix, deleted afterwards. Unreachable Redis skips them, unless
``REQUIRE_POSTGRES=1`` (CI: every service must be there), which makes it a failure.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from app.config import Settings
from app.edge import ratelimit
from app.edge.pipelined import ScriptChannel
from app.edge.ratelimit import (
    CHARGE_LUA,
    Charge,
    RateLimiter,
    ThrottleStatus,
    create_rate_limiter,
)
from tests.edge.conftest import delete_keys, new_prefix, require_redis

SLOW = 0.01  # points per second: no visible refill within a test

MakeLimiter = Callable[..., RateLimiter]


@pytest.fixture
def prefix(redis_prefix: str) -> str:
    return redis_prefix


def settings(
    redis_url: str | None, prefix: str = "harmony:", *, points: int, rate: float, **kw: Any
) -> Settings:
    return Settings(
        app_env="development",
        redis_url=redis_url,
        redis_key_prefix=prefix,
        rate_limit_points=points,
        rate_limit_restore_per_second=rate,
        max_query_cost=points,
        **kw,
    )


class Limiters:
    """Makes limiters on one store (all of them sharing one Redis prefix); closes them."""

    def __init__(self, url: str | None, prefix: str) -> None:
        self.url, self.prefix = url, prefix
        self.made: list[RateLimiter] = []

    def __call__(self, *, points: int, rate: float) -> RateLimiter:
        limiter = create_rate_limiter(settings(self.url, self.prefix, points=points, rate=rate))
        self.made.append(limiter)
        return limiter

    async def close(self) -> None:
        for limiter in self.made:
            await limiter.close()
        if self.url is not None:
            await delete_keys(self.prefix, self.url)


@pytest.fixture(params=["redis", "memory"])
async def make_limiter(request: pytest.FixtureRequest) -> AsyncIterator[MakeLimiter]:
    if request.param == "redis":
        limiters = Limiters(await require_redis(), new_prefix())
    else:
        limiters = Limiters(None, "harmony:")
    yield limiters
    await limiters.close()


@pytest.fixture
async def make_redis_limiter(redis_url: str, prefix: str) -> AsyncIterator[MakeLimiter]:
    limiters = Limiters(redis_url, prefix)
    yield limiters
    await limiters.close()


def backend_errors() -> float:
    value = REGISTRY.get_sample_value(
        "harmony_rate_limit_backend_errors_total", {"operation": "charge"}
    )
    return value or 0.0


async def stored_points(raw_redis: Redis, key: str) -> float:
    value = await raw_redis.hget(key, "p")
    assert value is not None
    return float(value)


def closed_port() -> int:
    """A port nothing listens on: bound, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def timed(call: Awaitable[Charge]) -> tuple[Charge, float]:
    started = time.perf_counter()
    charge = await call
    return charge, time.perf_counter() - started


def edge_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "app.edge" and r.levelno == logging.WARNING
    ]


# ---- The bucket (both stores)


async def test_a_full_bucket_admits_up_to_its_size_then_refuses_without_taking_points(
    make_limiter: MakeLimiter,
) -> None:
    limiter = make_limiter(points=100, rate=1.0)
    first = await limiter.charge("key:1", 60)
    assert first == Charge(True, ThrottleStatus(100, 40, 1.0), 0)
    refused = await limiter.charge("key:1", 50)
    assert refused == Charge(False, ThrottleStatus(100, 40, 1.0), 10)
    rest = await limiter.charge("key:1", 40)  # the refusal took nothing
    assert rest.allowed and rest.status.currently_available == 0
    empty = await limiter.charge("key:1", 1)
    assert (empty.allowed, empty.status.currently_available, empty.retry_after) == (False, 0, 1)


async def test_the_whole_bucket_can_be_spent_by_one_operation(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(points=1000, rate=50.0)
    charge = await limiter.charge("user:7", 1000)
    assert charge == Charge(True, ThrottleStatus(1000, 0, 50.0), 0)
    refused = await limiter.charge("user:7", 1000)
    assert (refused.allowed, refused.retry_after) == (False, 20)


async def test_the_bucket_refills_continuously_up_to_its_size(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(points=1000, rate=1000.0)
    assert (await limiter.charge("key:2", 1000)).allowed
    refused = await limiter.charge("key:2", 900)
    assert (refused.allowed, refused.retry_after) == (False, 1)
    await asyncio.sleep(0.3)
    refilled = await limiter.charge("key:2", 0)
    assert 250 <= refilled.status.currently_available <= 1000
    assert (await limiter.charge("key:2", 200)).allowed
    await asyncio.sleep(1.5)
    full = await limiter.charge("key:2", 0)
    assert full.status.currently_available == 1000


async def test_principals_have_separate_buckets(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(points=100, rate=SLOW)
    assert (await limiter.charge("key:1", 100)).allowed
    other = await limiter.charge("user:1", 100)
    assert other == Charge(True, ThrottleStatus(100, 0, SLOW), 0)


async def test_concurrent_charges_admit_exactly_what_fits(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(points=1000, rate=SLOW)
    charges = await asyncio.gather(*(limiter.charge("key:3", 30) for _ in range(50)))
    assert sum(c.allowed for c in charges) == 33
    assert (await limiter.charge("key:3", 0)).status.currently_available == 10


async def test_a_cost_outside_the_bucket_is_refused_as_a_programming_error(
    make_limiter: MakeLimiter,
) -> None:
    limiter = make_limiter(points=100, rate=SLOW)
    with pytest.raises(ValueError, match=r"cost must be within 0\.\.100"):
        await limiter.charge("key:1", 101)
    with pytest.raises(ValueError, match=r"cost must be within 0\.\.100"):
        await limiter.charge("key:1", -1)


async def test_throttle_status_as_json_uses_the_public_names() -> None:
    status = ThrottleStatus(maximum_available=1000, currently_available=970, restore_rate=50.0)
    assert status.as_json() == {
        "maximumAvailable": 1000,
        "currentlyAvailable": 970,
        "restoreRate": 50.0,
    }


# ---- In process


async def test_in_process_buckets_forget_the_least_recently_charged_principal() -> None:
    limiter = RateLimiter(points=10, restore_per_second=SLOW, max_local_principals=2)
    assert (await limiter.charge("key:a", 10)).allowed
    assert (await limiter.charge("key:b", 10)).allowed
    assert not (await limiter.charge("key:a", 1)).allowed  # a is now the most recent
    assert (await limiter.charge("key:c", 10)).allowed  # evicts b
    assert not (await limiter.charge("key:a", 1)).allowed  # a was kept
    assert (await limiter.charge("key:b", 10)).allowed  # b starts over, full; evicts c
    assert (await limiter.charge("key:c", 10)).allowed  # c too


# ---- Redis: shared by every worker


async def test_two_workers_on_one_redis_share_one_budget(
    make_redis_limiter: MakeLimiter,
) -> None:
    one, two = make_redis_limiter(points=100, rate=SLOW), make_redis_limiter(points=100, rate=SLOW)
    assert (await one.charge("key:5", 60)).allowed
    refused = await two.charge("key:5", 50)
    assert (refused.allowed, refused.status.currently_available) == (False, 40)
    assert (await two.charge("key:5", 40)).allowed
    assert not (await one.charge("key:5", 1)).allowed


async def test_concurrent_charges_from_two_workers_admit_exactly_what_fits(
    make_redis_limiter: MakeLimiter,
) -> None:
    workers = [make_redis_limiter(points=1000, rate=SLOW) for _ in range(2)]
    charges = await asyncio.gather(*(workers[i % 2].charge("key:6", 30) for i in range(50)))
    assert sum(c.allowed for c in charges) == 33


async def test_the_redis_bucket_is_one_key_that_expires_when_it_would_be_full(
    make_redis_limiter: MakeLimiter, raw_redis: Redis, prefix: str
) -> None:
    limiter = make_redis_limiter(points=1000, rate=50.0)
    await limiter.charge("key:7", 500)  # 10 s to refill
    assert [k async for k in raw_redis.scan_iter(match=f"{prefix}*")] == [f"{prefix}rl:key:7"]
    assert await stored_points(raw_redis, f"{prefix}rl:key:7") == 500.0
    ttl_ms = await raw_redis.pttl(f"{prefix}rl:key:7")
    assert 9_000 < ttl_ms <= 10_000


async def test_the_script_is_loaded_again_after_redis_forgets_it(
    make_redis_limiter: MakeLimiter, raw_redis: Redis
) -> None:
    limiter = make_redis_limiter(points=100, rate=SLOW)
    errors = backend_errors()
    assert (await limiter.charge("key:8", 60)).allowed
    await raw_redis.script_flush()  # NOSCRIPT on the next EVALSHA
    refused = await limiter.charge("key:8", 50)
    assert (refused.allowed, refused.status.currently_available) == (False, 40)
    assert backend_errors() == errors


# ---- Redis: leases (cheap operations of a busy principal)


async def test_a_cheap_charge_takes_a_lease_that_later_charges_spend_without_redis(
    make_redis_limiter: MakeLimiter, raw_redis: Redis, prefix: str
) -> None:
    limiter = make_redis_limiter(points=1000, rate=SLOW)
    key = f"{prefix}rl:key:20"
    first = await limiter.charge("key:20", 1)
    # 1 point charged, 50 more (1/20 of the bucket) leased to this worker.
    assert first == Charge(True, ThrottleStatus(1000, 999, SLOW), 0)
    assert await stored_points(raw_redis, key) == pytest.approx(949, abs=0.01)
    rest = [await limiter.charge("key:20", 1) for _ in range(50)]
    assert [c.status.currently_available for c in rest] == list(range(998, 948, -1))
    assert all(c.allowed for c in rest)
    assert await stored_points(raw_redis, key) == pytest.approx(949, abs=0.01)  # not asked
    spent = await limiter.charge("key:20", 1)  # the lease is spent: Redis again, a new lease
    assert spent == Charge(True, ThrottleStatus(1000, 948, SLOW), 0)
    assert await stored_points(raw_redis, key) == pytest.approx(898, abs=0.01)


async def test_an_unspent_lease_is_given_back_with_the_next_charge_after_it_ends(
    make_redis_limiter: MakeLimiter,
    raw_redis: Redis,
    prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ratelimit, "LEASE_SECONDS", 0.05)
    limiter = make_redis_limiter(points=1000, rate=SLOW)
    assert (await limiter.charge("key:21", 2)).status.currently_available == 998
    await asyncio.sleep(0.1)
    # The 50 leased points come back; 2 are charged and 50 leased again.
    again = await limiter.charge("key:21", 2)
    assert again == Charge(True, ThrottleStatus(1000, 996, SLOW), 0)
    assert await stored_points(raw_redis, f"{prefix}rl:key:21") == pytest.approx(946, abs=0.01)


async def test_an_expensive_charge_gives_the_lease_back_and_is_decided_by_redis(
    make_redis_limiter: MakeLimiter, raw_redis: Redis, prefix: str
) -> None:
    limiter = make_redis_limiter(points=1000, rate=SLOW)
    assert (await limiter.charge("key:22", 1)).allowed  # 1 charged, 50 leased
    big = await limiter.charge("key:22", 100)  # too dear to lease: 949 + 50 - 100
    assert big == Charge(True, ThrottleStatus(1000, 899, SLOW), 0)
    assert await stored_points(raw_redis, f"{prefix}rl:key:22") == pytest.approx(899, abs=0.01)


async def test_under_half_the_bucket_no_lease_is_taken(
    make_redis_limiter: MakeLimiter, raw_redis: Redis, prefix: str
) -> None:
    limiter = make_redis_limiter(points=1000, rate=SLOW)
    assert (await limiter.charge("key:23", 520)).allowed
    charges = [await limiter.charge("key:23", 1) for _ in range(40)]
    # 479 left after the first; a lease of 50 would leave less than half: each charge
    # is Redis's alone, and the last one leaves 440 in Redis itself.
    assert [c.status.currently_available for c in charges] == list(range(479, 439, -1))
    assert await stored_points(raw_redis, f"{prefix}rl:key:23") == pytest.approx(440, abs=0.01)


async def test_two_workers_leasing_never_spend_more_than_the_budget(
    make_redis_limiter: MakeLimiter,
) -> None:
    workers = [make_redis_limiter(points=1000, rate=SLOW) for _ in range(2)]
    charges = await asyncio.gather(*(workers[i % 2].charge("key:24", 5) for i in range(300)))
    spent = 5 * sum(c.allowed for c in charges)
    # Leases are taken from the shared bucket before they are spent: never more than the
    # budget; leases end above half the bucket, so nearly all of it is spent.
    assert 1000 - 2 * 50 <= spent <= 1000
    # One at a time, alternating: the same bound.
    one_by_one = [await workers[i % 2].charge("key:26", 5) for i in range(300)]
    assert 1000 - 2 * 50 <= 5 * sum(c.allowed for c in one_by_one) <= 1000


async def test_a_principals_charges_in_one_call_take_one_lease(
    make_redis_limiter: MakeLimiter, raw_redis: Redis, prefix: str
) -> None:
    limiter = make_redis_limiter(points=1000, rate=SLOW)
    charges = await asyncio.gather(*(limiter.charge("key:25", 1) for _ in range(8)))
    assert all(c.allowed for c in charges)
    # 8 charged and one lease of 50 taken, not eight.
    assert await stored_points(raw_redis, f"{prefix}rl:key:25") == pytest.approx(942, abs=0.01)
    assert (await limiter.charge("key:25", 0)).status.currently_available == 992


# ---- Redis failing: the in-process fallback answers


async def test_redis_down_is_answered_by_the_fallback_within_the_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="app.edge")
    url = f"redis://127.0.0.1:{closed_port()}/0"
    limiter = create_rate_limiter(settings(url, points=100, rate=SLOW, redis_timeout_seconds=0.2))
    errors = backend_errors()
    try:
        first, elapsed = await timed(limiter.charge("key:9", 30))
        rest = [await limiter.charge("key:9", 30) for _ in range(4)]
    finally:
        await limiter.close()
    assert elapsed < 0.5
    assert first == Charge(True, ThrottleStatus(100, 70, SLOW), 0)
    # This worker enforces the budget on its own.
    assert [c.allowed for c in rest] == [True, True, False, False]
    assert rest[-1].status.currently_available == 10
    # One failed call: the back-off skips Redis for the next ones.
    assert backend_errors() == errors + 1
    assert len(edge_warnings(caplog)) == 1
    assert "Redis failed" in edge_warnings(caplog)[0]


async def test_redis_that_never_answers_is_answered_by_the_fallback_within_the_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="app.edge")
    peers: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.append(writer)
        while await reader.read(65536):
            pass

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    limiter = create_rate_limiter(
        settings(f"redis://127.0.0.1:{port}/0", points=100, rate=SLOW, redis_timeout_seconds=0.2)
    )
    errors = backend_errors()
    try:
        charge, elapsed = await timed(limiter.charge("key:10", 30))
        again, elapsed_again = await timed(limiter.charge("key:10", 30))
    finally:
        await limiter.close()
        for peer in peers:
            peer.close()
        server.close()
        await server.wait_closed()
    assert peers, "the limiter never connected"
    assert 0.15 < elapsed < 0.5
    assert charge == Charge(True, ThrottleStatus(100, 70, SLOW), 0)
    assert elapsed_again < 0.05  # within the back-off: Redis is not asked
    assert again.status.currently_available == 40
    assert backend_errors() == errors + 1
    assert len(edge_warnings(caplog)) == 1


class Proxy:
    """A TCP proxy to the real Redis that can go down and come back on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def up(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        self.writers.clear()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        self.writers += [writer, upstream_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))


async def test_after_the_back_off_redis_is_asked_again_and_its_recovery_logged(
    redis_url: str, raw_redis: Redis, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.edge")
    host, port = raw_redis.connection_pool.connection_kwargs["host"], 6379
    port = raw_redis.connection_pool.connection_kwargs.get("port", port)
    proxy = Proxy((host, port))
    await proxy.up()
    limiter = RateLimiter(
        points=100,
        restore_per_second=SLOW,
        channel=ScriptChannel(f"redis://127.0.0.1:{proxy.port}/0", CHARGE_LUA, 0.2),
        key_prefix=prefix,
        backoff_seconds=0.1,
    )
    key = f"{prefix}rl:key:11"
    try:
        assert (await limiter.charge("key:11", 60)).allowed  # shared: 40 left
        await proxy.down()
        local = await limiter.charge("key:11", 30)  # this worker alone, from the 40 it saw
        assert (local.allowed, local.status.currently_available) == (True, 10)
        await proxy.up()
        await asyncio.sleep(0.15)
        shared = await limiter.charge("key:11", 35)  # Redis still holds 40
        assert (shared.allowed, shared.status.currently_available) == (True, 5)
        assert 5.0 <= await stored_points(raw_redis, key) < 5.1
    finally:
        await limiter.close()
        await proxy.down()
    messages = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "app.edge"]
    assert [level for level, _ in messages] == [logging.WARNING, logging.INFO]
    assert "Redis answers again" in messages[1][1]
