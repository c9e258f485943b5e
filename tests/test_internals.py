"""Library internals stay fenced, and a canary sings when an upgrade moves one.

Every use of a private or non-exported part of a third-party library lives in
``app/db/driver.py``, ``app/graphql/runtime/`` or ``app/edge/wire.py``
(docs/architecture.md). A lint (on
the source, with ``ast``) keeps such uses out of the rest of ``app/``; our own
``_names`` stay allowed. Each internal has a canary below that exercises it directly
and, when it fails, names the library, its installed version and the module to fix.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import importlib.util
import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import strawberry
from graphql import DirectiveLocation, GraphQLSchema, GraphQLSyntaxError, execute, parse
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from strawberry.extensions import FieldExtension, SchemaExtension

from app.db.driver import begin_driver_transaction, invalidate_pool, pool_waiting
from app.graphql.runtime import (
    ExecutionContextBase,
    ExtensionResolver,
    IgnoredExtensionError,
    graphql_schema,
    parse_document,
    raw_info,
    refuse_ignored_extensions,
)
from app.graphql.runtime.executor import GatewayExecutionContext, plan_plain_leaves
from app.graphql.schema import schema
from tests.edge.test_wire import WRITES, CountedOneWrite, exchange, request, serving

APP = Path(__file__).resolve().parents[1] / "app"
FENCED = ("db/driver.py", "graphql/runtime/", "edge/wire.py")
# The documented API of named tuples (their methods start with "_" to avoid field names).
NAMEDTUPLE_API = frozenset({"_make", "_fields", "_asdict", "_replace", "_field_defaults"})


# --- the lint -------------------------------------------------------------------------


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _app_files(*, fenced: bool) -> list[Path]:
    files = sorted(APP.rglob("*.py"))
    return [f for f in files if any(p in f.as_posix() for p in FENCED) == fenced]


def own_private_names(sources: list[str]) -> frozenset[str]:
    """The ``_names`` our own code defines as attributes: in a class body (methods,
    fields, class attributes, ``__slots__``) or by assignment (``x._y = ...``)."""
    names: set[str] = set()
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            if not isinstance(node, ast.ClassDef):
                continue
            for member in node.body:
                if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    names.add(member.name)
                targets = (
                    member.targets
                    if isinstance(member, ast.Assign)
                    else [member.target]
                    if isinstance(member, ast.AnnAssign)
                    else []
                )
                for target in targets:
                    if isinstance(target, ast.Name):
                        names.add(target.id)
                        if target.id == "__slots__":
                            names.update(
                                c.value
                                for c in ast.walk(member)
                                if isinstance(c, ast.Constant) and isinstance(c.value, str)
                            )
    return frozenset(n for n in names if _is_private(n))


def _exported(module: str, name: str) -> bool:
    """Is ``name`` part of ``module``'s public face: a public submodule, or (when the
    module declares ``__all__``) listed there?"""
    if _is_private(name):
        return False
    imported = importlib.import_module(module)
    if inspect.ismodule(getattr(imported, name, None)):
        return True
    try:
        if importlib.util.find_spec(f"{module}.{name}") is not None:
            return True
    except (ImportError, ValueError):
        pass
    exported = getattr(imported, "__all__", None)
    return exported is None or name in exported


def violations(source: str, own: frozenset[str]) -> list[str]:
    """Uses of a third-party internal in ``source``: a private attribute that is not one
    of ``own`` (through ``.`` or ``getattr``/``hasattr``/``setattr``), a private module
    or a private or non-exported name imported from a third-party package."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Attribute):
            attribute = node.attr
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"getattr", "hasattr", "setattr"}
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            attribute = node.args[1].value
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if not alias.name.startswith("app") and any(
                    _is_private(p) for p in alias.name.split(".")
                ):
                    found.append(f"line {line}: import {alias.name}")
            continue
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level or module == "app" or module.startswith(("app.", "__future__")):
                continue
            if any(_is_private(p) for p in module.split(".")):
                found.append(f"line {line}: from {module} import ...")
                continue
            for alias in node.names:
                if alias.name != "*" and not _exported(module, alias.name):
                    found.append(f"line {line}: from {module} import {alias.name}")
            continue
        else:
            continue
        if _is_private(attribute) and attribute not in own and attribute not in NAMEDTUPLE_API:
            found.append(f"line {line}: .{attribute}")
    return found


def test_library_internals_are_used_only_in_the_fenced_modules() -> None:
    own = own_private_names([f.read_text() for f in _app_files(fenced=False)])
    found = {
        str(f.relative_to(APP.parent)): v
        for f in _app_files(fenced=False)
        if (v := violations(f.read_text(), own))
    }
    assert found == {}, (
        "library internals outside app/db/driver.py, app/graphql/runtime/ and "
        "app/edge/wire.py: move each "
        "behind a named function there, with a canary in tests/test_internals.py"
    )


def test_the_lint_catches_planted_internals_and_allows_our_own() -> None:
    own = own_private_names([f.read_text() for f in _app_files(fenced=False)])
    planted = """
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from sqlalchemy.orm._typing import _O
import graphql.execution._private
from graphql.language.parser import Parser
from graphql import parse, GraphQLError
from sqlalchemy import exc

def f(info, pool, schema, adapter):
    waiting = pool._pool._queue._getters
    raw = info._raw_info
    started = getattr(adapter, "_start_transaction")
    return schema._schema, waiting, raw, started
"""
    assert sorted(violations(planted, own)) == [
        "line 10: ._getters",
        "line 10: ._pool",
        "line 10: ._queue",
        "line 11: ._raw_info",
        "line 12: ._start_transaction",
        "line 13: ._schema",
        "line 2: from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext",
        "line 3: from sqlalchemy.orm._typing import ...",
        "line 4: import graphql.execution._private",
        "line 5: from graphql.language.parser import Parser",
    ]
    ours = """
class Cache:
    __slots__ = ("_kept",)

    def __init__(self):
        self._kept = {}

def _helper(row):
    return row._make(row._fields), Cache()._kept, getattr(Cache(), "_kept")
"""
    assert violations(ours, own_private_names([ours])) == []


# --- the canaries ---------------------------------------------------------------------


@contextmanager
def canary(library: str, module: str, internal: str) -> Iterator[None]:
    """Fail with the library, its installed version and the module to fix."""
    try:
        yield
    except Exception as error:
        pytest.fail(
            f"{library} {version(library)} moved an internal we use ({internal}): fix "
            f"{module}. {type(error).__name__}: {error}",
            pytrace=False,
        )


@pytest.mark.postgres_only
async def test_canary_asyncpg_adapter_begins_the_drivers_transaction(
    owner_engine: AsyncEngine,
) -> None:
    with canary("sqlalchemy", "app/db/driver.py", "asyncpg adapter _transaction"):
        async with owner_engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None and not driver.is_in_transaction()
            await begin_driver_transaction(raw.dbapi_connection)
            assert driver.is_in_transaction()
            await begin_driver_transaction(raw.dbapi_connection)  # once only
            assert await conn.scalar(sa.text("SELECT 1")) == 1
            await conn.rollback()


@pytest.mark.postgres_only
async def test_canary_pool_waiting_counts_queued_checkouts(owner_engine: AsyncEngine) -> None:
    engine = create_async_engine(owner_engine.url, pool_size=1, max_overflow=0)
    try:
        with canary("sqlalchemy", "app/db/driver.py", "QueuePool _pool._queue._getters"):
            assert pool_waiting(engine.sync_engine.pool) == 0
            async with engine.connect() as held:
                await held.scalar(sa.text("SELECT 1"))
                waiter = asyncio.create_task(engine.connect().start())
                await asyncio.sleep(0.2)
                waiting = pool_waiting(engine.sync_engine.pool)
            await (await waiter).close()
            assert waiting == 1
    finally:
        await engine.dispose()


@pytest.mark.postgres_only
async def test_canary_invalidate_pool_replaces_every_older_connection(
    owner_engine: AsyncEngine,
) -> None:
    engine = create_async_engine(owner_engine.url, pool_size=2, max_overflow=0)
    try:
        with canary("sqlalchemy", "app/db/driver.py", "Pool._invalidate"):
            first, second = await engine.raw_connection(), await engine.raw_connection()
            older = second.driver_connection
            second.close()  # idle in the pool, opened before the invalidation
            invalidate_pool(first, ConnectionError("ended by the server"))
            assert not first.is_valid
            again = await engine.raw_connection()
            assert again.driver_connection is not older  # recycled at its checkout
            again.close()
    finally:
        await engine.dispose()


def test_canary_strawberry_schema_holds_the_graphql_core_schema() -> None:
    with canary("strawberry-graphql", "app/graphql/runtime/__init__.py", "Schema._schema"):
        core = graphql_schema(schema)
        assert isinstance(core, GraphQLSchema)
        assert core.query_type is not None and core.query_type.name == "Query"


def test_canary_strawberry_info_holds_graphql_cores_resolve_info() -> None:
    seen: list[Any] = []

    @strawberry.type
    class Query:
        @strawberry.field
        def probe(self, info: strawberry.Info) -> str:
            raw = raw_info(info)
            seen.append(([n.name.value for n in raw.field_nodes], raw.fragments))
            return "ok"

    with canary("strawberry-graphql", "app/graphql/runtime/__init__.py", "Info._raw_info"):
        result = strawberry.Schema(Query).execute_sync(
            "{ probe ...F } fragment F on Query { probe }"
        )
        assert result.errors is None and result.data == {"probe": "ok"}
        nodes, fragments = seen[0]  # what app.graphql.lookahead reads
        assert nodes == ["probe", "probe"] and set(fragments) == {"F"}


def test_canary_graphql_core_parser_takes_our_lexer_and_token_limit() -> None:
    with canary("graphql-core", "app/graphql/runtime/__init__.py", "Parser(lexer=, max_tokens=)"):
        document = parse_document("{ a b }", 10)
        assert [s.name.value for s in document.definitions[0].selection_set.selections] == [  # type: ignore[attr-defined]
            "a",
            "b",
        ]
        assert document.loc is not None
        token = document.loc.start_token
        assert token.prev is None and token.next is None  # unlinked: no cycles left
        with pytest.raises(GraphQLSyntaxError) as refused:
            parse_document("{ a b c d e f }", 3)
        # app.edge.operation answers TOO_MANY_TOKENS by this message.
        assert "more than" in refused.value.message and "tokens" in refused.value.message


def test_canary_field_extensions_are_handed_the_next_async_resolver() -> None:
    with canary("strawberry-graphql", "app/graphql/runtime/__init__.py", "AsyncExtensionResolver"):
        assert ExtensionResolver is not None
        parameters = list(inspect.signature(FieldExtension.resolve_async).parameters)
        assert parameters[:4] == ["self", "next_", "source", "info"]


# graphql-core 3.3's executor methods the execution context overrides or calls, with
# the parameters it passes (app/graphql/runtime/executor.py; app/observability/tracing.py
# overrides execute_field of that context in turn).
EXECUTOR_METHODS = {
    "execute_field": ["parent_type", "source", "field_details_list", "path", "position_context"],
    "collect_and_execute_subfields": [
        "return_type",
        "field_details_list",
        "path",
        "result",
        "position_context",
    ],
    "collect_subfields": ["return_type", "field_details_list"],
}


def test_canary_executor_methods_the_fast_path_overrides() -> None:
    module = "app/graphql/runtime/executor.py"
    with canary("strawberry-graphql", module, "StrawberryGraphQLCoreExecutionContext"):
        assert "build_resolve_info" in vars(ExecutionContextBase)
        assert issubclass(GatewayExecutionContext, ExecutionContextBase)
    base = ExecutionContextBase.__mro__[1]
    for name, parameters in EXECUTOR_METHODS.items():
        with canary("graphql-core", module, f"{base.__name__}.{name}"):
            signature = inspect.signature(getattr(base, name))
            assert list(signature.parameters)[1:] == parameters


@strawberry.type
class Item:
    name: str


@strawberry.type
class ItemQuery:
    @strawberry.field
    def items(self) -> list[Item]:
        return [Item(name="a"), Item(name="b")]


async def test_canary_executor_fast_path_runs_through_graphql_core_execute() -> None:
    """graphql-core passes ``execute``'s extra keywords (``plans``) to the executor class
    and calls the overridden methods: the plans get compiled."""

    toy = strawberry.Schema(ItemQuery, execution_context_class=GatewayExecutionContext)
    core = graphql_schema(toy)
    plan_plain_leaves(core)
    plans: dict[Any, Any] = {}

    class Context:
        def allows(self, workspace_id: int, permission: str | None) -> bool:
            return True

    with canary("graphql-core", "app/graphql/runtime/executor.py", "execute(executor_class=)"):
        result = execute(
            core,
            parse("{ items { name } }"),
            context_value=Context(),
            executor_class=GatewayExecutionContext,
            plans=plans,
        )
        if inspect.isawaitable(result):
            result = await result
        assert result.errors is None and result.data == {"items": [{"name": "a"}, {"name": "b"}]}
        assert any(plan is not None for plan in plans.values())


# --- what the own execution path would ignore -----------------------------------------


class Timing(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        yield


@strawberry.type
class _Toy:
    @strawberry.field
    def hello(self) -> str:
        return "hi"


@strawberry.directive(locations=[DirectiveLocation.FIELD])
def shout(value: str) -> str:
    return value.upper()


def test_schema_build_refuses_extensions_the_own_path_would_ignore() -> None:
    with pytest.raises(IgnoredExtensionError, match=r"schema extensions .*: Timing"):
        refuse_ignored_extensions(strawberry.Schema(_Toy, extensions=[Timing]))
    with pytest.raises(IgnoredExtensionError, match=r"operation directives .*: shout"):
        refuse_ignored_extensions(strawberry.Schema(_Toy, directives=[shout]))
    refuse_ignored_extensions(strawberry.Schema(_Toy))
    refuse_ignored_extensions(schema)  # the app's own schema carries none


async def test_canary_uvicorn_cycle_writes_through_the_transport_the_protocol_gave_it() -> None:
    """app/edge/wire.py: ``on_headers_complete`` makes the request's cycle as
    ``self.cycle``; the cycle's ``send`` writes through ``self.transport``, waiting only
    in ``flow.drain()``."""
    with canary("uvicorn", "app/edge/wire.py", "HttpToolsProtocol.cycle, cycle.transport"):
        async with serving(CountedOneWrite) as port:
            WRITES.clear()
            raw = await exchange(port, request("GET", "/"), expect=1)
        assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
        assert len(WRITES) == 1 and WRITES[0] == raw
