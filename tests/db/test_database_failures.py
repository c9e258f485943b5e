"""The database failing, for real: every state is produced on the real server (ended
connections, a connection limit, a lock, a server that stops answering, a closed port),
and the answer is typed (503 ``SERVICE_UNAVAILABLE`` + ``Retry-After``, or 504
``TIMEOUT``), bounded in time, and the gateway recovers without a restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth.tokens import issue_user_token
from app.config import Settings
from app.db.engine import APPLICATION_NAME, create_engine, refuse_closed_connection
from app.main import create_app
from tests import factories as f
from tests.edge.live import gateway_process
from tests.tcp_proxy import PausableProxy

WORKSPACE = '{ workspace(slug: "acme") { name } }'
TEAMS = '{ workspace(slug: "acme") { teams(first: 5) { nodes { name } } } }'
VIEWER = "{ viewer { name } }"
UNAVAILABLE = {
    "errors": [
        {
            "message": "The database is not available: retry in 2 s.",
            "extensions": {"code": "SERVICE_UNAVAILABLE"},
        }
    ]
}
TIMED_OUT = {
    "errors": [
        {
            "message": "The request did not finish within 1 seconds: its unfinished work was rolled back.",
            "extensions": {"code": "TIMEOUT"},
        }
    ]
}


@asynccontextmanager
async def gateway(
    settings: Settings, engine: AsyncEngine | None = None, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """The app over its own engine (or ``engine``), with ``overrides`` of the test's
    settings."""
    settings = settings.model_copy(update=overrides)
    own = engine or create_engine(settings)
    app = create_app(settings, own)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://gateway.test"
            ) as http:
                yield http
    finally:
        await own.dispose()


async def _headers(session: AsyncSession, settings: Settings) -> dict[str, str]:
    ada = await f.user_id(session, "ada@acme.test")
    await session.rollback()  # its snapshot would hold off the locks and ALTERs below
    return {"Authorization": f"Bearer {issue_user_token(settings, ada)}"}


async def _rename(session: AsyncSession) -> str:
    """A mutation that writes the workspaces table."""
    workspace = await f.gid(session, "Workspace", "acme")
    await session.rollback()
    return (
        f'mutation {{ updateGeneralSettings(input: {{workspaceId: "{workspace}", '
        'name: "Renamed"}) { userErrors { code } } }'
    )


async def _post(http: httpx.AsyncClient, query: str, headers: dict[str, str]) -> httpx.Response:
    return await http.post("/graphql", json={"query": query}, headers=headers)


def _data(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "2"
    assert response.json() == UNAVAILABLE


async def _owner_sql(owner_engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with owner_engine.connect() as conn:
        result = await conn.execute(text(sql), params)
        value = result.scalar() if result.returns_rows else None
        await conn.commit()
        return value


async def _terminate_gateway_backends(owner_engine: AsyncEngine, settings: Settings) -> int:
    """What a failover, a pooler restart or ``idle_session_timeout`` does to the pool."""
    url = make_url(settings.database_url)
    ended: int = await _owner_sql(
        owner_engine,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = :db AND application_name = :app AND usename = :role",
        db=url.database,
        app=APPLICATION_NAME,
        role=url.username,
    )
    return ended


async def _until_ok(send: Callable[[], Awaitable[httpx.Response]], seconds: float) -> list[int]:
    """Statuses of requests sent until one is answered 200 (or ``seconds`` pass)."""
    statuses: list[int] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        response = await send()
        statuses.append(response.status_code)
        if response.status_code == 200:
            return statuses
        _unavailable(response)
        await asyncio.sleep(0.2)
    return statuses


# The application role's sessions waiting on a lock in this test's database: the role
# is the server's, shared by every test database (other workers' tests wait on locks too).
LOCK_WAITERS = (
    "FROM pg_stat_activity WHERE datname = current_database() AND usename = :role "
    "AND wait_event_type = 'Lock'"
)


async def _wait_for_lock_waiter(owner_engine: AsyncEngine, role: str | None) -> None:
    for _ in range(100):
        waiting = await _owner_sql(owner_engine, f"SELECT count(*) {LOCK_WAITERS}", role=role)
        if waiting:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("no request waits for the lock")


@pytest.mark.postgres_only
async def test_every_pooled_connection_ended_by_the_server_is_replaced(
    settings: Settings, session: AsyncSession, owner_engine: AsyncEngine
) -> None:
    headers = await _headers(session, settings)
    async with gateway(settings) as http:
        # Several connections in the pool, on every path: the account read outside a
        # transaction, the prepared reads of a transaction, the ORM.
        for _ in range(2):
            responses = await asyncio.gather(
                *(_post(http, q, headers) for q in (WORKSPACE, TEAMS, VIEWER) * 3)
            )
            assert [r.status_code for r in responses] == [200] * 9
        assert await _terminate_gateway_backends(owner_engine, settings) >= 2

        started = time.monotonic()
        for query in (WORKSPACE, TEAMS, VIEWER):
            # At most the first request finds its connection gone (503), none after it.
            statuses = await _until_ok(partial(_post, http, query, headers), 10)
            assert statuses in ([200], [503, 200]), statuses
        assert time.monotonic() - started < 10
        responses = await asyncio.gather(
            *(_post(http, q, headers) for q in (WORKSPACE, TEAMS, VIEWER) * 3)
        )
        assert [_data(r) is not None for r in responses] == [True] * 9


@pytest.mark.postgres_only
async def test_a_first_statement_on_an_ended_connection_runs_again_on_a_new_one(
    settings: Settings, session: AsyncSession, owner_engine: AsyncEngine
) -> None:
    """The second line of defence, alone: without the pool's checkout check, a request
    whose first statement finds its connection ended still gets its answer (the
    statement runs again on a new connection), on both prepared-read paths."""
    headers = await _headers(session, settings)
    engine = create_engine(settings)
    event.remove(engine.sync_engine.pool, "checkout", refuse_closed_connection)
    async with gateway(settings, engine) as http:
        for query in (TEAMS, VIEWER):
            assert _data(await _post(http, query, headers))
            assert await _terminate_gateway_backends(owner_engine, settings) == 1
            assert _data(await _post(http, query, headers))


@pytest.mark.postgres_only
async def test_a_connection_lost_under_a_resolver_is_503_not_a_masked_error(
    settings: Settings, session: AsyncSession, owner_engine: AsyncEngine
) -> None:
    """The server ends the request's connection while a resolver's statement waits: the
    request is answered 503 as a whole (not HTTP 200 with INTERNAL_SERVER_ERROR)."""
    headers = await _headers(session, settings)
    role = make_url(settings.database_url).username
    async with gateway(settings, request_timeout_seconds=10) as http:
        assert _data(await _post(http, TEAMS, headers))
        async with owner_engine.connect() as locker:
            await locker.execute(text("LOCK TABLE teams IN ACCESS EXCLUSIVE MODE"))
            request = asyncio.create_task(_post(http, TEAMS, headers))
            await _wait_for_lock_waiter(owner_engine, role)
            ended = await _owner_sql(
                owner_engine, f"SELECT count(pg_terminate_backend(pid)) {LOCK_WAITERS}", role=role
            )
            assert ended == 1
            response = await request
            await locker.rollback()
        _unavailable(response)
        assert _data(await _post(http, TEAMS, headers)) == {
            "workspace": {"teams": {"nodes": [{"name": "Sales"}, {"name": "Support"}]}}
        }


@pytest.mark.postgres_only
async def test_no_pooled_connection_free_in_time_is_503(
    settings: Settings, session: AsyncSession, owner_engine: AsyncEngine
) -> None:
    headers = await _headers(session, settings)
    role = make_url(settings.database_url).username
    async with gateway(
        settings, db_pool_size=1, db_pool_timeout_seconds=0.3, request_timeout_seconds=5
    ) as http:
        async with owner_engine.connect() as locker:
            await locker.execute(text("LOCK TABLE teams IN ACCESS EXCLUSIVE MODE"))
            holder = asyncio.create_task(_post(http, TEAMS, headers))  # holds the one connection
            await _wait_for_lock_waiter(owner_engine, role)
            started = time.monotonic()
            _unavailable(await _post(http, WORKSPACE, headers))
            assert time.monotonic() - started < 4  # the pool's 0.3 s wait, not the deadline
            await locker.rollback()
        assert _data(await holder)
        assert _data(await _post(http, WORKSPACE, headers)) == {"workspace": {"name": "Acme Corp"}}


@pytest.mark.postgres_only
async def test_a_database_refusing_connections_is_503_with_retry_after_then_recovers(
    settings: Settings, session: AsyncSession, owner_engine: AsyncEngine
) -> None:
    headers = await _headers(session, settings)
    database = make_url(settings.database_url).database
    await _owner_sql(owner_engine, f'ALTER DATABASE "{database}" CONNECTION LIMIT 0')
    try:
        async with gateway(settings) as http:  # its pool is empty: every request connects
            started = time.monotonic()
            _unavailable(await _post(http, WORKSPACE, headers))
            _unavailable(await _post(http, VIEWER, headers))
            ready = await http.get("/readyz")
            assert time.monotonic() - started < 5  # the deadline would be 10 s: refused at once
            assert ready.status_code == 503
            assert ready.json() == {
                "status": "unavailable",
                "reason": "the database refuses more connections",
            }

            await _owner_sql(owner_engine, f'ALTER DATABASE "{database}" CONNECTION LIMIT -1')
            assert _data(await _post(http, WORKSPACE, headers)) == {
                "workspace": {"name": "Acme Corp"}
            }
            assert (await http.get("/readyz")).json() == {"status": "ok"}
    finally:
        await _owner_sql(owner_engine, f'ALTER DATABASE "{database}" CONNECTION LIMIT -1')


@pytest.mark.postgres_only
async def test_an_unreachable_database_is_503_at_once(
    settings: Settings, session: AsyncSession
) -> None:
    headers = await _headers(session, settings)
    closed_port = make_url(settings.database_url).set(port=1)
    url = closed_port.render_as_string(hide_password=False)
    async with gateway(settings, database_url=url) as http:
        started = time.monotonic()
        _unavailable(await _post(http, WORKSPACE, headers))
        _unavailable(await _post(http, VIEWER, headers))
        ready = await http.get("/readyz")
        assert time.monotonic() - started < 5  # the deadline would be 10 s: refused at once
    assert (ready.status_code, ready.json()) == (
        503,
        {"status": "unavailable", "reason": "the database could not be reached"},
    )


async def test_a_locked_table_is_answered_at_the_deadline_and_changes_nothing(
    settings: Settings, session: AsyncSession, owner_engine: AsyncEngine
) -> None:
    headers = await _headers(session, settings)
    rename = await _rename(session)
    async with gateway(settings, request_timeout_seconds=1) as http:
        async with owner_engine.connect() as locker:
            if settings.is_sqlite:
                await locker.exec_driver_sql("BEGIN EXCLUSIVE")
            else:
                await locker.execute(text("LOCK TABLE workspaces IN ACCESS EXCLUSIVE MODE"))
            started = time.monotonic()
            response = await _post(http, rename, headers)
            elapsed = time.monotonic() - started
            await locker.rollback()
        assert (response.status_code, response.json()) == (504, TIMED_OUT)
        assert elapsed < 4
        assert _data(await _post(http, WORKSPACE, headers)) == {"workspace": {"name": "Acme Corp"}}


@pytest.mark.postgres_only
async def test_a_statement_past_the_statement_timeout_is_504_and_changes_nothing(
    settings: Settings, session: AsyncSession, owner_engine: AsyncEngine
) -> None:
    """The server cancels the statement (``DB_STATEMENT_TIMEOUT_MS``) before the request's
    deadline: the same typed answer as the deadline's, from the database's word."""
    headers = await _headers(session, settings)
    rename = await _rename(session)
    async with gateway(settings, db_statement_timeout_ms=300, request_timeout_seconds=5) as http:
        async with owner_engine.connect() as locker:
            await locker.execute(text("LOCK TABLE workspaces IN ACCESS EXCLUSIVE MODE"))
            started = time.monotonic()
            response = await _post(http, rename, headers)
            elapsed = time.monotonic() - started
            await locker.rollback()
        assert (response.status_code, response.json()) == (
            504,
            {
                "errors": [
                    {
                        "message": "The database cancelled a statement that ran too long: "
                        "the request's unfinished work was rolled back.",
                        "extensions": {"code": "TIMEOUT"},
                    }
                ]
            },
        )
        assert elapsed < 4  # the statement's 0.3 s, not the 5 s deadline
        assert _data(await _post(http, WORKSPACE, headers)) == {"workspace": {"name": "Acme Corp"}}


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_locked_sqlite_database_past_its_busy_timeout_is_503(
    settings: Settings, session: AsyncSession, owner_engine: AsyncEngine
) -> None:
    """SQLite waits for another writer up to its busy timeout (DB_POOL_TIMEOUT_SECONDS,
    at most the deadline): past it, the database is busy, not broken."""
    headers = await _headers(session, settings)
    rename = await _rename(session)
    async with gateway(settings, db_pool_timeout_seconds=0.3, request_timeout_seconds=5) as http:
        async with owner_engine.connect() as locker:
            await locker.exec_driver_sql("BEGIN EXCLUSIVE")
            started = time.monotonic()
            response = await _post(http, rename, headers)
            elapsed = time.monotonic() - started
            await locker.rollback()
        _unavailable(response)
        assert elapsed < 4
        assert _data(await _post(http, WORKSPACE, headers)) == {"workspace": {"name": "Acme Corp"}}


@asynccontextmanager
async def _through_a_proxy(
    settings: Settings, **overrides: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, PausableProxy]]:
    """The gateway connecting to PostgreSQL through a proxy the test can pause."""
    url = make_url(settings.database_url)
    proxy = await PausableProxy(url.host or "127.0.0.1", url.port or 5432).start()
    through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        async with gateway(settings, database_url=through, **overrides) as http:
            yield http, proxy
    finally:
        proxy.resume()
        await proxy.close()


async def _answered_again(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """Within 10 s of the database answering again, the gateway answers too."""
    deadline = time.monotonic() + 10
    while True:
        response = await _post(http, WORKSPACE, headers)
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert _data(response) == {"workspace": {"name": "Acme Corp"}}
    assert (await http.get("/readyz")).json() == {"status": "ok"}


@pytest.mark.slow
@pytest.mark.postgres_only
async def test_readiness_answers_within_2_s_when_the_database_stops_answering(
    settings: Settings, session: AsyncSession
) -> None:
    """A server that accepts connections and never answers (a hung host, a partition)."""
    headers = await _headers(session, settings)
    async with _through_a_proxy(settings, db_statement_timeout_ms=2000) as (http, proxy):
        assert _data(await _post(http, WORKSPACE, headers))  # a pooled connection
        proxy.pause()
        started = time.monotonic()
        ready = await http.get("/readyz")
        assert time.monotonic() - started < 4
        assert (ready.status_code, ready.json()) == (
            503,
            {"status": "unavailable", "reason": "the database did not answer within 2 s"},
        )
        proxy.resume()
        await _answered_again(http, headers)


@pytest.mark.slow
@pytest.mark.postgres_only
async def test_requests_are_answered_within_the_deadline_when_the_database_stops_answering(
    settings: Settings, session: AsyncSession
) -> None:
    """The request on the pooled connection is cut off at its deadline (504) and that
    connection is dropped, not handed to the next request: those get 503 as soon as a
    new connection fails to open, and 200 once the server answers again."""
    headers = await _headers(session, settings)
    rename = await _rename(session)
    async with _through_a_proxy(
        settings,
        request_timeout_seconds=2,
        db_connect_timeout_seconds=0.5,
        db_statement_timeout_ms=2000,
    ) as (http, proxy):
        assert _data(await _post(http, WORKSPACE, headers))  # one pooled connection
        proxy.pause()
        started = time.monotonic()
        cut_off = await _post(http, WORKSPACE, headers)
        assert time.monotonic() - started < 5
        assert cut_off.status_code == 504
        assert cut_off.json()["errors"][0]["extensions"] == {"code": "TIMEOUT"}
        for query in (VIEWER, rename, WORKSPACE):
            started = time.monotonic()
            _unavailable(await _post(http, query, headers))
            assert time.monotonic() - started < 2  # the 0.5 s connect timeout, not the deadline
        proxy.resume()
        await _answered_again(http, headers)
        assert _data(await _post(http, WORKSPACE, headers)) == {"workspace": {"name": "Acme Corp"}}


@pytest.mark.postgres_only
async def test_a_server_process_recovers_from_ended_connections_without_a_restart(
    settings: Settings, session: AsyncSession, owner_engine: AsyncEngine, tmp_path: Path
) -> None:
    """``python -m app serve``: the server ends every connection of the gateway (twice);
    the process goes on answering, from its second request at the latest."""
    headers = await _headers(session, settings)
    with gateway_process(settings, {}, tmp_path / "server.log") as url:
        async with httpx.AsyncClient(base_url=url, timeout=15) as http:
            for _ in range(2):
                for query in (WORKSPACE, TEAMS, VIEWER):
                    assert _data(await _post(http, query, headers))
                assert await _terminate_gateway_backends(owner_engine, settings) >= 1
                statuses = []
                for _ in range(5):
                    response = await _post(http, TEAMS, headers)
                    statuses.append(response.status_code)
                    if response.status_code != 200:
                        _unavailable(response)
                assert statuses[1:] == [200] * 4, statuses
                assert (await http.get("/readyz")).json() == {"status": "ok"}
