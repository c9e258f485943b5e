"""Test harness: every test that takes ``engine`` runs once on SQLite and once on
PostgreSQL, each time on a database holding exactly the demo data, private to the test:

- SQLite: the demo database is built once per session, then copied into a file lent to
  one test at a time.
- PostgreSQL: the demo database is built once per session as a template; its clones are
  lent one test at a time and reset to exactly the demo data in between (tests/databases.py
  says why that is complete). Tests commit for real; nothing leaks between tests.

PostgreSQL tests run whenever a server is reachable (``TEST_POSTGRES_URL``, default
postgresql+asyncpg://postgres@127.0.0.1:5432/postgres). With ``REQUIRE_POSTGRES=1``
an unreachable server is an error and a run that executed no PostgreSQL test fails.

On PostgreSQL the app runs as in production, under row-level security: ``settings``
and ``engine`` connect as the application role (``Settings.db_app_role``, created by
migration 0002; the test server trusts local connections, so no password), while
migrations and arranging or checking data (``owner_engine``, ``session``,
``GraphQLClient.engine``) use the owner URL of ``TEST_POSTGRES_URL``. On SQLite both
are the same database and engine. Mark a test ``@pytest.mark.postgres_only`` to drop
its SQLite run, ``@pytest.mark.sqlite_only`` to drop its PostgreSQL run: for a behaviour
the engine has no part in (HTTP-level: a client, a browser, a protocol audit), which its
docstring says; what touches SQL, row-level security, isolation or concurrency runs on
both.

Under pytest-xdist (``scripts/test`` runs two workers per core) each worker has its own
templates and databases; the controller counts the PostgreSQL tests that passed.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import Settings
from app.db.engine import create_engine, create_sessionmaker
from tests.client import GraphQLClient
from tests.databases import COUNT_DDL, Databases, SqliteCopies
from tests.engines import KeptEngines

# app.main, the migrations, the demo and the observability are imported where they are
# used: pytest-xdist's controller loads this file too, runs no test, and its imports
# delay every worker's start (app.main alone: ~0.45 s).

# httpx's ASGI transport (every test client) imports sniffio on each request, to ask
# whether trio runs; sniffio is not installed, so each request searched sys.path for it
# in vain (~50 µs). None in sys.modules makes that import fail at once, as it would.
if importlib.util.find_spec("sniffio") is None:
    sys.modules["sniffio"] = None  # type: ignore[assignment]

PG_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES") == "1"
TEST_SECRET = "test-secret-" + "x" * 32
APP_ROLE = Settings(jwt_secret=TEST_SECRET).db_app_role  # what migration 0002 creates
_pg_passed = 0


# Most tests send many operations on one token, some of them wide: a bucket they never
# empty and no cost limit in practice (tests/edge/ check the production defaults).
ROOMY_BUDGET = {
    "rate_limit_points": 10**9,
    "rate_limit_restore_per_second": 10.0**9,
    "max_query_cost": 10**6,
}


# A loaded machine (CI's two cores run the suite's workers, mypy and the gateway
# processes at once) can stall a request for seconds: deadlines roomy enough that only a
# hang reaches them. The tests of deadlines set their own (tests/edge/http/test_limits.py,
# tests/db/test_database_failures.py, tests/edge/test_live_server.py).
ROOMY_DEADLINES = {
    "request_timeout_seconds": 60.0,
    "db_pool_timeout_seconds": 60.0,
    "db_statement_timeout_ms": 60_000,
}


# Settings made by test_settings, by its arguments: a Settings reads the environment and
# .env, which no test changes, at ~1 ms of CPU each time (a third of a test's setup).
_made_settings: dict[tuple[str, tuple[tuple[str, Any], ...]], Settings] = {}


def test_settings(url: str, **overrides: Any) -> Settings:
    """The settings of a test app over ``url``; each call gets a copy of its own (a deep
    one: a test may change its copy as it likes)."""
    key = (url, tuple(sorted(overrides.items())))
    try:
        made = _made_settings[key]
    except KeyError:
        made = _made_settings[key] = _new_settings(url, overrides)
    except TypeError:  # an unhashable override value: nothing to look it up by
        made = _new_settings(url, overrides)
    return made.model_copy(deep=True)


def _new_settings(url: str, overrides: dict[str, Any]) -> Settings:
    return Settings(
        **{
            "database_url": url,
            "app_env": "development",
            "jwt_secret": TEST_SECRET,
            # Tests deliver webhooks by running the worker themselves (tests/webhooks/).
            "webhooks_in_process": False,
            **ROOMY_BUDGET,
            **ROOMY_DEADLINES,
            **overrides,
        }
    )


def _pg_dsn(database: str) -> str:
    url = make_url(PG_URL).set(database=database, drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _pg_sa_url(database: str) -> str:
    return make_url(PG_URL).set(database=database).render_as_string(hide_password=False)


def _pg_app_url(database: str) -> str:
    """The application role's URL (row-level security applies to it)."""
    url = make_url(PG_URL).set(database=database, username=APP_ROLE, password=None)
    return url.render_as_string(hide_password=False)


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(_pg_dsn(make_url(PG_URL).database or "postgres"), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _pg_reachable() -> bool:
    try:
        await _pg_admin("SELECT 1")
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    return True


async def build_database(url: str) -> None:
    """Migrate and seed the demo data, through the app's own code."""
    engine = create_engine(test_settings(url), url)
    try:
        from app.db.migrations import upgrade
        from app.domain.demo import seed_demo

        await upgrade(engine)
        async with create_sessionmaker(engine)() as session, session.begin():
            await seed_demo(session)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
async def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    await build_database(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def sqlite_copies(tmp_path_factory: pytest.TempPathFactory) -> SqliteCopies:
    return SqliteCopies(tmp_path_factory.mktemp("copies"))


@pytest.fixture(scope="session")
async def pg_databases() -> AsyncIterator[Databases | None]:
    """Clones of this session's demo template (None when PostgreSQL is unreachable)."""
    if not await _pg_reachable():
        if REQUIRE_POSTGRES:
            pytest.fail(f"REQUIRE_POSTGRES=1 but PostgreSQL is unreachable at {PG_URL}")
        yield None
        return
    name = f"harmony_tpl_{os.getpid()}"
    await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _pg_admin(f'CREATE DATABASE "{name}"')
    databases = Databases(name, _pg_admin, _pg_dsn)
    try:
        await build_database(_pg_sa_url(name))
        conn = await asyncpg.connect(_pg_dsn(name))
        try:
            await conn.execute(COUNT_DDL)
        finally:
            await conn.close()
        yield databases
    finally:
        await databases.close()
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked ``fast_paths_only`` assert how the fast paths run (a root plan, a
    narrowed read, a sign-in riding with a read): skipped with ``FAST_PATHS=false``, whose
    run of the suite checks that everything else answers the same without them."""
    if item.get_closest_marker("fast_paths_only") and not test_settings("sqlite://").fast_paths:
        pytest.skip("FAST_PATHS=false")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``postgres_only`` have no SQLite run, tests marked ``sqlite_only`` no
    PostgreSQL run (deselected, not skipped); tests marked ``slow`` run first."""
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        backend = params.get("backend", params.get("module_backend"))
        other = {"sqlite": "postgres_only", "postgres": "sqlite_only"}.get(str(backend))
        (drop if other and item.get_closest_marker(other) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    # Tests marked slow first: under pytest-xdist each worker takes the next test as it
    # finishes one, so the long ones start early, beside quick ones, and the run does not
    # end with one worker alone on a long test while the others idle.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
    if getattr(config.option, "loadgroup", False):  # a pytest-xdist worker of --dist loadgroup
        _group_for_xdist(items)


def _group_for_xdist(items: list[pytest.Item]) -> None:
    """What pytest-xdist's ``--dist loadgroup`` does on each worker and, under pytest 9.2,
    fails to (pytest-dev/pytest-xdist#1386): suffix the node ID of a test marked
    ``xdist_group`` with ``@`` and the group's name, by which the scheduler sends a group's
    tests to one worker. xdist writes the node ID's former field, which pytest 9.2 no
    longer reads (its IDs are structured), so every test went its own way and a module's
    shared gateway processes were started again on each worker that ran one of its tests."""
    for item in items:
        marks = item.iter_markers("xdist_group")
        names = sorted(
            {str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in marks}
        )
        suffix = "@" + "_".join(names)
        node_id = getattr(item, "_id", None)  # pytest >= 9.2; before, xdist's own suffix holds
        if names and node_id is not None and not item.nodeid.endswith(suffix):
            item._id = type(node_id).parse(item.nodeid + suffix)  # type: ignore[attr-defined]


@asynccontextmanager
async def demo_database(
    backend: str, sqlite_template: Path, pg_databases: Databases | None, copies: SqliteCopies
) -> AsyncIterator[str]:
    """A database holding exactly the demo data, private to its user (the owner's URL)."""
    if backend == "sqlite":
        async with copies.lend(sqlite_template) as path:
            yield f"sqlite+aiosqlite:///{path}"
        return
    if pg_databases is None:
        pytest.skip("PostgreSQL is not reachable")
    async with pg_databases.lend() as name:
        yield _pg_sa_url(name)


Arrange = Callable[[AsyncSession], Awaitable[Any]]


class ArrangedTemplates:
    """Demo databases with a test's arrangement on top (``@pytest.mark.arranged.with_args(fn)``:
    ``fn(session)`` adds rows as the owner, commits, and returns what the tests need to
    know of them, e.g. IDs): built once per engine, then copied or lent like the demo's,
    so each test still gets a database of its own holding exactly that arrangement."""

    def __init__(self, sqlite_template: Path, pg_databases: Databases | None, folder: Path):
        self.sqlite_template, self.pg_databases, self.folder = sqlite_template, pg_databases, folder
        self.built: dict[tuple[str, Arrange], tuple[Path | Databases, Any]] = {}

    async def _build(self, backend: str, arrange: Arrange) -> tuple[Path | Databases, Any]:
        number = len(self.built)
        if backend == "sqlite":
            template: Path | Databases = self.folder / f"arranged_{number}.db"
            shutil.copyfile(self.sqlite_template, template)
            url = f"sqlite+aiosqlite:///{template}"
        else:
            assert self.pg_databases is not None
            name = f"{self.pg_databases.template}_arranged_{number}"
            await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.pg_databases.template}"')
            template, url = Databases(name, _pg_admin, _pg_dsn), _pg_sa_url(name)
        engine = create_engine(test_settings(url), url)
        try:
            async with create_sessionmaker(engine)() as session:
                value = await arrange(session)
                await session.commit()
        finally:
            await engine.dispose()
        return template, value

    @asynccontextmanager
    async def database(
        self, backend: str, arrange: Arrange, copies: SqliteCopies
    ) -> AsyncIterator[str]:
        if backend == "postgres" and self.pg_databases is None:
            pytest.skip("PostgreSQL is not reachable")
        if (backend, arrange) not in self.built:
            self.built[(backend, arrange)] = await self._build(backend, arrange)
        template, _ = self.built[(backend, arrange)]
        if isinstance(template, Path):
            async with copies.lend(template) as path:
                yield f"sqlite+aiosqlite:///{path}"
            return
        async with template.lend() as name:
            yield _pg_sa_url(name)

    def value(self, backend: str, arrange: Arrange) -> Any:
        return self.built[(backend, arrange)][1]

    async def close(self) -> None:
        for template, _ in self.built.values():
            if isinstance(template, Databases):
                await template.close()
                await _pg_admin(f'DROP DATABASE IF EXISTS "{template.template}" WITH (FORCE)')


@pytest.fixture(scope="session")
async def arranged_templates(
    sqlite_template: Path,
    pg_databases: Databases | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[ArrangedTemplates]:
    templates = ArrangedTemplates(
        sqlite_template, pg_databases, tmp_path_factory.mktemp("arranged")
    )
    try:
        yield templates
    finally:
        await templates.close()


def _arrangement(request: pytest.FixtureRequest) -> Arrange | None:
    marker = request.node.get_closest_marker("arranged")
    return None if marker is None else marker.args[0]


@pytest.fixture
async def database_url(
    request: pytest.FixtureRequest,
    backend: str,
    sqlite_template: Path,
    pg_databases: Databases | None,
    arranged_templates: ArrangedTemplates,
    sqlite_copies: SqliteCopies,
) -> AsyncIterator[str]:
    """A database holding exactly the demo data (and the test's arrangement, if it is
    marked ``arranged``), private to this test (the owner's URL)."""
    arrange = _arrangement(request)
    if arrange is not None:
        async with arranged_templates.database(backend, arrange, sqlite_copies) as url:
            yield url
        return
    async with demo_database(backend, sqlite_template, pg_databases, sqlite_copies) as url:
        yield url


@pytest.fixture
def arranged(
    request: pytest.FixtureRequest,
    backend: str,
    database_url: str,
    arranged_templates: ArrangedTemplates,
) -> Any:
    """What the test's arrangement (``@pytest.mark.arranged.with_args(fn)``) returned."""
    arrange = _arrangement(request)
    assert arrange is not None, "the test is not marked arranged"
    return arranged_templates.value(backend, arrange)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def module_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
async def module_database_url(
    module_backend: str,
    sqlite_template: Path,
    pg_databases: Databases | None,
    sqlite_copies: SqliteCopies,
) -> AsyncIterator[str]:
    """One demo database for every test of a module, per engine: for a module whose tests
    share something costly built over it (gateway processes), each test leaving the data
    as the others need it. Such a module overrides ``backend`` and ``database_url`` with
    ``module_backend`` and this, and runs on one pytest-xdist worker (``xdist_group``)."""
    async with demo_database(module_backend, sqlite_template, pg_databases, sqlite_copies) as url:
        yield url


def module_database_fixtures() -> tuple[Any, Any]:
    """``backend, database_url = module_database_fixtures()`` in a test module (or a
    folder's conftest): its tests share ``module_database_url`` (and so the session,
    settings and engines built over it) instead of a database each."""

    @pytest.fixture(scope="module")
    def backend(module_backend: str) -> str:
        return module_backend

    @pytest.fixture(scope="module")
    def database_url(module_database_url: str) -> str:
        return module_database_url

    return backend, database_url


def app_settings(database_url: str) -> Settings:
    """The app's settings over a test database: on PostgreSQL it connects as the
    application role."""
    if database_url.startswith("sqlite"):
        return test_settings(database_url)
    database = make_url(database_url).database
    assert database is not None
    return test_settings(_pg_app_url(database), migration_database_url=database_url)


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The app's settings: on PostgreSQL it connects as the application role."""
    return app_settings(database_url)


@pytest.fixture(scope="session")
async def kept_engines() -> AsyncIterator[KeptEngines]:
    engines = KeptEngines()
    try:
        yield engines
    finally:
        await engines.close()


@pytest.fixture
async def engine(settings: Settings, kept_engines: KeptEngines) -> AsyncIterator[AsyncEngine]:
    """The app's engine (the application role on PostgreSQL), disposed after the test
    and kept for the next test on this database (tests/engines.py). Instrumented as the
    app does it (statement counts; spans only while a test traces) when made, so that it
    comes back as it was made."""

    def make() -> AsyncEngine:
        from app.observability import access

        made = create_engine(settings)
        access.count_statements(made)
        return made

    async with kept_engines.lend(settings.model_dump_json(), make) as e:
        yield e


@pytest.fixture
async def owner_engine(
    settings: Settings, engine: AsyncEngine, kept_engines: KeptEngines
) -> AsyncIterator[AsyncEngine]:
    """The owner's engine, for arranging and checking data (bypasses row-level security)."""
    if settings.is_sqlite:
        yield engine
        return
    url = settings.owner_database_url
    async with kept_engines.lend(
        "owner " + settings.model_dump_json(), lambda: create_engine(settings, url)
    ) as owner:
        yield owner


@pytest.fixture
async def session(owner_engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A plain session on the test database as the owner (for arranging and checking
    data: it sees every workspace)."""
    async with create_sessionmaker(owner_engine)() as session:
        yield session


@pytest.fixture
async def client(
    settings: Settings, engine: AsyncEngine, owner_engine: AsyncEngine
) -> AsyncIterator[GraphQLClient]:
    from app.main import create_app

    app = create_app(settings, engine)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            yield GraphQLClient(http, settings, owner_engine)


def pytest_collection_finish(session: pytest.Session) -> None:
    """The garbage collector as in a server process (app.main.freeze_startup_objects):
    what collection built (the schema, the test items) is frozen out of its scans and it
    runs less often. With CPython's defaults its full collections walked those hundreds
    of thousands of objects again and again: ~8 s of the four workers' CPU in a run,
    ~2.5 s so (the young collections, ~5 s, about the same)."""
    from app.main import freeze_startup_objects

    freeze_startup_objects()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Counts the PostgreSQL tests that passed (under xdist the controller receives every
    worker's reports, and only its count is used)."""
    global _pg_passed
    if report.when == "call" and report.passed and "[postgres" in report.nodeid:
        _pg_passed += 1


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _is_xdist_worker(session.config):
        return
    if REQUIRE_POSTGRES and exitstatus == 0 and session.testscollected and _pg_passed == 0:
        session.exitstatus = 1
        print("\nREQUIRE_POSTGRES=1 but no PostgreSQL test ran: failing the run.")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(f"PostgreSQL tests passed: {_pg_passed}")
