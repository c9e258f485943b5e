"""The gateway's own execution (object plans, the plain-leaf path: app/graphql/runtime/executor.py)
answers exactly what stock graphql-core/Strawberry execution answers (``FAST_PATHS=false``),
for the app's real operations, over the same data and viewers.

Each side is a whole app over its own copy of the demo database (both engines). Every
document runs on one side, then on the other, in the same order, so mutations run too
and both databases go through the same changes: the bodies (data, errors with message,
path and code) must be equal. Only values that no two runs share are compared loosely:
timestamps (a mutation's ``createdAt``) within seconds; a created API key's ``secret``
and ``prefix``, a share link's ``token`` and ``url``, an audit event's ``requestId`` (each
request has its own) as strings.

The documents: every GraphQL example of the docs (as its own viewer), the benchmark's,
the SPA manifest's (app/edge/trusted_documents.json), and one generated per root field
of ``Query`` selecting every field it can reach three levels down (arguments filled
where they can be, ``first: 2`` on lists) — each as the demo admin (ada) and as a plain
member (cy, a Member of acme).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLError,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLNonNull,
    GraphQLObjectType,
    OperationDefinitionNode,
    OperationType,
    Undefined,
    get_named_type,
    is_input_type,
    is_leaf_type,
    parse,
    type_from_ast,
)
from sqlalchemy.engine import make_url

from app.config import Settings
from app.db.engine import create_engine
from app.edge.persisted import MANIFEST_PATH
from app.graphql.schema import core_schema
from app.main import create_app
from scripts.benchmark import queries as benchmark
from tests import conftest
from tests.client import GraphQLClient, without_cost
from tests.databases import Databases
from tests.test_docs import DOCS, examples

VIEWERS = ("ada@acme.test", "cy@acme.test")
# Made at random when created: an API key's secret and prefix, a share link's token; and
# what each request has its own of: the request id an audit event records (docs/partners.md
# creates a key, so the audit log the later documents read is not empty).
RANDOM = frozenset({"secret", "prefix", "token", "url", "requestId"})
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
Request = tuple[str, str, dict[str, Any]]  # (where, viewer, body)


# Values for required inputs the demo data does not name (the IDs come from the demo).
VALUES: dict[str, Any] = {
    "slug": "acme",
    "name": "Differential",
    "email": "new@example.test",
    "provider": "zoom",
    "permissions": ["members:read:all"],
    "confirmation": "not the account's e-mail",  # DeleteAccount: refused
}
# Demo objects (acme) by input name; read once as ada (_demo_ids).
DEMO_IDS = """{ workspace(slug: "acme") { id
  members(first: 10) { nodes { id user { email } } } roles(first: 10) { nodes { id name } }
  teams(first: 10) { nodes { id name } } invitations(first: 10) { nodes { id } }
  conversations(first: 1) { nodes { id } } } }"""
ID_OF_OPERATION = {
    "ConversationDetail": "conversationId",
    "ConversationShareLinks": "conversationId",
    "MemberDetail": "memberId",
    "RoleDetailPage": "roleId",
    "TeamDetail": "teamId",
}


def _value(name: str, type_: GraphQLInputType, ids: dict[str, Any]) -> Any:
    """A value for an argument, variable or input field; None: no sensible one."""
    named = get_named_type(type_)
    if isinstance(named, GraphQLInputObjectType):
        out = {}
        for field_name, input_field in named.fields.items():
            if (
                isinstance(input_field.type, GraphQLNonNull)
                and input_field.default_value is Undefined
            ):
                value = _value(field_name, input_field.type, ids)
                if value is None:
                    return None
                out[field_name] = value
        return out
    if name in ids:
        return ids[name]
    if name == "first" and named.name == "Int":
        return 2  # not `last` too: the two together are refused
    return VALUES.get(name)


def _selection(
    object_type: GraphQLObjectType, depth: int, path: tuple[str, ...], reached: set[str]
) -> str:
    reached.add(object_type.name)
    parts = []
    for name, gql_field in object_type.fields.items():
        args = _arguments(gql_field)
        if args is None:
            continue
        named = get_named_type(gql_field.type)
        if is_leaf_type(named):
            parts.append(f"{name}{args}")
        elif isinstance(named, GraphQLObjectType) and depth > 0 and named.name not in path:
            inner = _selection(named, depth - 1, (*path, named.name), reached)
            if inner:
                parts.append(f"{name}{args} {{ {inner} }}")
    return " ".join(parts)


def _arguments(gql_field: GraphQLField) -> str | None:
    """The field's arguments as text ("" for none); None: a required one cannot be filled."""
    given = []
    for name, arg in gql_field.args.items():
        value = _value(name, arg.type, {})
        if value is None:
            if isinstance(arg.type, GraphQLNonNull):
                return None
            continue
        given.append(f"{name}: {json.dumps(value)}")
    return f"({', '.join(given)})" if given else ""


def generated(reached: set[str] | None = None) -> list[tuple[str, str]]:
    """(name, document): one per root field of Query, three levels of objects deep;
    ``reached`` collects the object types they select."""
    reached = set() if reached is None else reached
    query = core_schema.query_type
    assert query is not None
    out = []
    for name, gql_field in query.fields.items():
        args = _arguments(gql_field)
        named = get_named_type(gql_field.type)
        if args is None or not isinstance(named, GraphQLObjectType):
            continue
        selection = _selection(named, 3, (named.name,), reached)
        out.append((f"generated:{name}", f"{{ {name}{args} {{ {selection} }} }}"))
    return out


def _variables(document: str, ids: dict[str, Any]) -> dict[str, Any]:
    operation = next(
        d for d in parse(document).definitions if isinstance(d, OperationDefinitionNode)
    )
    name = operation.name.value if operation.name else ""
    if name in ID_OF_OPERATION:
        ids = {**ids, "id": ids[ID_OF_OPERATION[name]]}
    variables = {}
    for definition in operation.variable_definitions or ():
        type_ = type_from_ast(core_schema, definition.type)
        assert is_input_type(type_)
        value = _value(definition.variable.name.value, type_, ids)
        if value is not None:
            variables[definition.variable.name.value] = value
    return variables


def requests(ids: dict[str, Any]) -> list[Request]:
    """In order: the docs' examples, then queries, then mutations, signing out last."""
    found: list[Request] = []
    for path in DOCS:
        for example in examples(path):
            for viewer in dict.fromkeys((example.email, *VIEWERS)):
                found.append((example.where, viewer, example.body))
    bench = {
        "Viewer": benchmark.VIEWER,
        "Members": benchmark.MEMBERS,
        "Conversations": benchmark.CONVERSATIONS,
        "Settings": benchmark.SETTINGS,
        "MembersAfter": benchmark.MEMBERS_AFTER,
        "ConversationsAfter": benchmark.CONVERSATIONS_AFTER,
        "MembersCursor": benchmark.MEMBERS_CURSOR,
        "ConversationsCursor": benchmark.CONVERSATIONS_CURSOR,
    }
    manifest = json.loads(Path(MANIFEST_PATH).read_text(encoding="utf-8"))["operations"]
    documents = [
        *(
            (f"benchmark:{name}", text, {"slug": "acme", "first": 2, "after": None})
            for name, text in bench.items()
        ),
        *((f"manifest:{h[:8]}", text, _variables(text, ids)) for h, text in manifest.items()),
        *((name, text, {}) for name, text in generated()),
    ]
    for where, text, variables in documents:
        for viewer in VIEWERS:
            found.append((where, viewer, {"query": text, "variables": variables}))
    # Signing out everywhere ends the viewer's tokens: last.
    return sorted(
        found,
        key=lambda r: (
            "signOutEverywhere" in r[2]["query"],
            r[0].startswith("manifest") and r[2]["query"].startswith("mutation"),
        ),
    )


async def _demo_ids(client: GraphQLClient) -> dict[str, Any]:
    body = await client.query(DEMO_IDS, as_="ada@acme.test")
    workspace = body["data"]["workspace"]

    def first(connection: str, **match: str) -> str:
        for node in workspace[connection]["nodes"]:
            if all(
                node.get(k) == v or (node.get("user") or {}).get(k) == v for k, v in match.items()
            ):
                return str(node["id"])
        raise AssertionError(f"no {connection} {match}")

    return {
        "workspaceId": workspace["id"],
        "memberId": first("members", email="eve@acme.test"),
        "roleId": first("roles", name="Billing Manager"),
        "teamId": first("teams", name="Support"),
        "invitationId": first("invitations"),
        "conversationId": first("conversations"),
    }


def alike(own: Any, stock: Any, key: str = "") -> bool:
    """Equal (keys in the same order), but for what no two runs share: a value made at
    random is a string on both sides, a timestamp may differ by the moments between."""
    if isinstance(own, dict) and isinstance(stock, dict):
        return list(own) == list(stock) and all(alike(v, stock[k], k) for k, v in own.items())
    if isinstance(own, list) and isinstance(stock, list):
        pairs = zip(own, stock, strict=False)
        return len(own) == len(stock) and all(alike(a, b, key) for a, b in pairs)
    if isinstance(own, str) and isinstance(stock, str) and own != stock:
        if key in RANDOM:
            return True
        if TIMESTAMP.match(own) and TIMESTAMP.match(stock):
            apart = datetime.fromisoformat(own) - datetime.fromisoformat(stock)
            return abs(apart) < timedelta(seconds=30)
    return bool(own == stock)


def test_the_generated_documents_reach_every_object_type() -> None:
    reached: set[str] = set()
    generated(reached)
    objects = {
        name
        for name, t in core_schema.type_map.items()
        if isinstance(t, GraphQLObjectType) and not name.startswith("__")
    }
    # The roots; what only mutations return (run through the docs' examples); a share link
    # (shareLink(token:) needs a token a mutation creates); the edges of the lists under a
    # conversation, four levels down (the examples of docs/queries.md and docs/mutations.md
    # read them).
    elsewhere = {n for n in objects if n.endswith("Payload")} | {
        "Query",
        "Mutation",
        "UserError",
        "ShareLink",
        "ParticipantEdge",
        "InsightEdge",
        "ActionItemEdge",
        "ShareLinkEdge",
        # Under a workspace's webhook endpoints, four levels down and more (tests/webhooks/
        # and the SPA's WebhooksPage read them).
        "WebhookDelivery",
        "WebhookDeliveryEdge",
        "WebhookDeliveryAttempt",
    }
    assert objects - elsewhere - reached == set()


@pytest.fixture
async def stock_settings(
    backend: str,
    settings: Settings,
    sqlite_template: Path,
    pg_databases: Databases | None,
    tmp_path: Path,
) -> AsyncIterator[Settings]:
    """A second demo database, for the stock side."""
    if backend == "sqlite":
        path = tmp_path / "stock.db"
        shutil.copyfile(sqlite_template, path)
        yield conftest.test_settings(f"sqlite+aiosqlite:///{path}", fast_paths=False)
        return
    assert pg_databases is not None
    async with pg_databases.lend() as name:
        owner = conftest._pg_sa_url(name)
        assert make_url(owner).database == name
        yield conftest.test_settings(
            conftest._pg_app_url(name), migration_database_url=owner, fast_paths=False
        )


async def _client(settings: Settings) -> AsyncIterator[GraphQLClient]:
    engine = create_engine(settings)
    # Tokens are minted from the owner's view (row-level security hides users otherwise).
    owner = engine if settings.is_sqlite else create_engine(settings, settings.owner_database_url)
    app = create_app(settings, engine)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                yield GraphQLClient(http, settings, owner)
    finally:
        await owner.dispose()
        await engine.dispose()


def _is_query(text: str) -> bool:
    """Every operation of the document is a query (so running it twice changes nothing)."""
    try:
        document = parse(text)
    except GraphQLError:
        return False
    return all(
        d.operation == OperationType.QUERY
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    )


@pytest.mark.slow
async def test_own_and_stock_execution_answer_alike(
    settings: Settings, stock_settings: Settings
) -> None:
    # Own even when the suite runs with FAST_PATHS=false.
    own = settings.model_copy(update={"fast_paths": True})
    sides = [_client(own), _client(stock_settings)]
    fast, stock = [await anext(side) for side in sides]
    try:
        ids = await _demo_ids(fast)
        assert ids == await _demo_ids(stock)
        tokens = {email: await fast.token(email) for email in {v for _, v, _ in requests(ids)}}
        differences, clean = [], 0
        for where, viewer, body in requests(ids):
            answers = []
            # A query runs twice on the own side: its second run is the cached document's,
            # whose reads run outside a transaction (app.db.prepared.OutsideReads).
            runs = (fast, fast, stock) if _is_query(body["query"]) else (fast, stock)
            for side in runs:
                response = await side.post(
                    body["query"], body.get("variables"), token=tokens[viewer]
                )
                answer = response.json()
                # The objects counted: walked (stock, a first run) or counted while the
                # root plan built the answer (the own side's second run of a query).
                objects = answer.get("extensions", {}).get("cost", {}).get("actualQueryCost")
                answers.append((response.status_code, without_cost(answer), objects))
            stock_status, stock_body, stock_objects = answers[-1]
            for own_status, own_body, own_objects in answers[:-1]:
                clean += own_body.get("data") is not None and "errors" not in own_body
                if (
                    own_status != stock_status
                    or not alike(own_body, stock_body)
                    or own_objects != stock_objects
                ):
                    differences.append(
                        f"{where} as {viewer}:\n  own   {own_objects} {own_body}\n"
                        f"  stock {stock_objects} {stock_body}"
                    )
        assert not differences, "\n".join(differences)
        # Not alike in refusing: most documents are answered in full.
        assert clean > len(requests(ids)) // 2 * 1.5
    finally:
        for side in sides:
            await side.aclose()
