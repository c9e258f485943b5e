"""The lane of kept connections (app/db/lane.py) on a real PostgreSQL: reads outside a
transaction reuse a kept connection instead of a checkout each; what is kept never
starves the pool and goes back to it when a checkout waits, when idle, when old, when
the engine is disposed; a kept connection the server ended costs a read nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.db.engine import create_engine
from app.db.lane import lane_of, lane_size
from app.db.prepared import Prepared
from app.db.rows import ANY_ROW

pytestmark = pytest.mark.postgres_only

BACKEND_PID = Prepared(
    "test_backend_pid", lambda _: sa.select(sa.func.pg_backend_pid().label("pid")), ANY_ROW
)


async def pid(engine: AsyncEngine) -> int:
    rows = await BACKEND_PID.outside_transaction(engine)
    return int(rows[0].pid)


@pytest.fixture
async def lane_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """Pool 3, one request in flight at a time: a lane of 2."""
    engine = create_engine(settings.model_copy(update={"db_pool_size": 3, "max_in_flight": 1}))
    yield engine
    await engine.dispose()


def test_a_worker_keeps_only_what_its_admission_cap_leaves_spare() -> None:
    # (pool size, overflow, MAX_IN_FLIGHT) -> kept
    cases = {(10, 0, 8): 2, (8, 0, 8): 0, (5, 0, 8): 0, (10, 5, 8): 4, (30, 0, 8): 4}
    cases |= {(10, 0, 0): 0}  # requests not capped: nothing spare for sure
    assert {case: lane_size(*case) for case in cases} == cases
    # The defaults: pool 10, no overflow, 4 in flight.
    defaults = Settings(jwt_secret="x" * 32)
    size = lane_size(defaults.db_pool_size, defaults.db_max_overflow, defaults.max_in_flight)
    assert size == 4


async def test_reads_outside_a_transaction_reuse_a_kept_connection(
    lane_engine: AsyncEngine,
) -> None:
    pool, lane = lane_engine.sync_engine.pool, lane_of(lane_engine)
    assert lane is not None and lane.size == 2
    first = await pid(lane_engine)
    assert (lane.kept, pool.checkedout()) == (1, 1)  # kept, not checked in
    assert {await pid(lane_engine) for _ in range(5)} == {first}
    # Two at once: one kept, one checked out; both kept after.
    assert len(set(await asyncio.gather(pid(lane_engine), pid(lane_engine)))) == 2
    assert (lane.kept, pool.checkedout()) == (2, 2)


async def test_kept_connections_go_back_to_the_pool_when_idle(lane_engine: AsyncEngine) -> None:
    lane = lane_of(lane_engine)
    assert lane is not None
    lane.idle_seconds = 0.05
    await asyncio.gather(pid(lane_engine), pid(lane_engine))
    assert lane.kept == 2
    await asyncio.sleep(0.3)
    assert (lane.kept, lane_engine.sync_engine.pool.checkedout()) == (0, 0)


async def test_a_connection_out_of_the_pool_too_long_goes_back(lane_engine: AsyncEngine) -> None:
    lane = lane_of(lane_engine)
    assert lane is not None
    lane.age = 0.0  # every connection already too old
    await pid(lane_engine)
    assert (lane.kept, lane_engine.sync_engine.pool.checkedout()) == (0, 0)


async def test_a_waiting_checkout_gets_the_kept_connections_at_once(
    lane_engine: AsyncEngine,
) -> None:
    """Pool 3: two connections kept by the lane, one held by a transaction; a second
    transaction waits, and the next read outside a transaction hands the lane's
    connections back to the pool instead of keeping them (rather than after a second of
    idleness)."""
    lane, pool = lane_of(lane_engine), lane_engine.sync_engine.pool
    assert lane is not None
    await asyncio.gather(pid(lane_engine), pid(lane_engine))
    assert lane.kept == 2
    async with lane_engine.connect() as held:
        await held.execute(sa.text("SELECT 1"))

        async def second() -> int:
            async with lane_engine.connect() as conn:
                await asyncio.sleep(0.05)  # still holding it when the test looks
                return int((await conn.execute(sa.text("SELECT 2"))).scalar_one())

        waiting = asyncio.create_task(second())
        await asyncio.sleep(0.05)
        assert not waiting.done()  # the pool is empty: it waits
        await pid(lane_engine)  # takes a kept one, then gives them all back
        assert lane.kept == 0
        await asyncio.sleep(0.01)
        assert pool.checkedout() == 2  # the transaction and the one that waited
        assert await asyncio.wait_for(waiting, 0.5) == 2


async def test_a_kept_connection_the_server_ended_costs_a_read_nothing(
    lane_engine: AsyncEngine, owner_engine: AsyncEngine
) -> None:
    lane = lane_of(lane_engine)
    assert lane is not None
    kept = await pid(lane_engine)
    async with owner_engine.connect() as conn:
        ended = await conn.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": kept})
    assert ended is True
    await asyncio.sleep(0.1)  # the driver sees the connection close
    again = await pid(lane_engine)
    assert again != kept
    assert lane.kept == 1


async def test_disposing_the_engine_closes_what_the_lane_kept(
    lane_engine: AsyncEngine, owner_engine: AsyncEngine
) -> None:
    lane = lane_of(lane_engine)
    assert lane is not None
    kept = set(await asyncio.gather(pid(lane_engine), pid(lane_engine)))
    assert lane.kept == 2
    await lane_engine.dispose()
    assert lane.kept == 0
    await asyncio.sleep(0.1)
    async with owner_engine.connect() as conn:
        alive = await conn.scalar(
            sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"),
            {"pids": list(kept)},
        )
    assert alive == 0
    assert await pid(lane_engine) not in kept  # the engine works on after a dispose
