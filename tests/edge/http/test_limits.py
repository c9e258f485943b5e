"""The edge's refusals through the ASGI app, on both engines, with the production
defaults: the cheap checks in their order (415, 413, 401 before the body is read or
anything parsed), every static limit with its own code (no SQL beyond authentication,
the flat 50 points of a refused document charged, not its estimate), the introspection
policy, load shedding (503) and the request deadline (504)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest
from graphql import get_introspection_query
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import select

from app.auth.tokens import issue_user_token
from app.config import Settings
from app.db.engine import create_sessionmaker
from app.domain.members import writes as member_writes
from app.domain.workspaces import repository as workspaces_repository
from app.edge.pipeline import REFUSED_DOCUMENT_COST
from app.models import Team
from tests import factories as f
from tests.conftest import TEST_SECRET
from tests.edge.asgi_edge import (
    ADA,
    Edge,
    Serve,
    Upload,
    error,
    raw_post,
    recorded,
    signing_in,
)

MB = 2**20
NO_TOKEN = "Authentication required: send Authorization: Bearer <token>."
BAD_SCHEME = "Use the Authorization header as: Bearer <token>."
BAD_TOKEN = "Invalid token: the token is not valid."
BAD_KEY = "Invalid API key: unknown, revoked or expired."
UNKNOWN_KEY = "hmy_abcdefgh_" + "x" * 43  # shaped like a key, in no database
SUBSCRIPTION = '{ workspace(slug: "acme") { subscription { plan } } }'


@pytest.fixture
async def frozen(serve: Serve) -> AsyncIterator[Edge]:
    """Production limits, but a bucket that visibly refills nothing during the test, so
    any charge shows in ``currentlyAvailable``."""
    async with serve(rate_limit_restore_per_second=0.001) as started:
        yield started


async def team_names(owner_engine: AsyncEngine) -> list[str]:
    """Every team's name, read afresh (not through a snapshot kept by an open session)."""
    async with create_sessionmaker(owner_engine)() as s:
        return sorted((await s.execute(select(Team.name))).scalars())


def create_team(workspace: str, name: str) -> str:
    return (
        f'mutation {{ createTeam(input: {{workspaceId: "{workspace}", name: "{name}"}}) '
        "{ team { name } userErrors { code } } }"
    )


# --- 1. the cheap checks, in order ------------------------------------------------------


async def test_posts_that_are_not_json_are_415_before_credentials(edge: Edge) -> None:
    token = await edge.token(ADA)
    query = "{ viewer { id } }"
    sent: list[dict[str, Any]] = [
        {"content": f'{{"query": "{query}"}}', "headers": {"Content-Type": "text/plain"}},
        {"data": {"query": query}},  # application/x-www-form-urlencoded
        {"files": {"query": (None, query)}},  # multipart/form-data
    ]
    for kwargs in sent:
        for auth in ({}, {"Authorization": f"Bearer {token}"}):
            body = {k: v for k, v in kwargs.items() if k != "headers"}
            headers = {**kwargs.get("headers", {}), **auth}
            response = await edge.http.post("/graphql", headers=headers, **body)
            assert response.status_code == 415, response.request.headers["content-type"]
            assert response.json() == error(
                "UNSUPPORTED_MEDIA_TYPE", "Send the request as Content-Type: application/json."
            )
    assert len(edge.gateway.documents) == 0


async def test_a_mutation_sent_as_text_plain_changes_nothing(
    edge: Edge, session: AsyncSession, owner_engine: AsyncEngine
) -> None:
    acme = await f.gid(session, "Workspace", "acme")
    token = await edge.token(ADA)
    before = await team_names(owner_engine)
    response = await edge.http.post(
        "/graphql",
        content=httpx.Request("POST", "/", json={"query": create_team(acme, "Plain")}).content,
        headers={"Content-Type": "text/plain;charset=UTF-8", "Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 415
    assert response.json()["errors"][0]["extensions"] == {"code": "UNSUPPORTED_MEDIA_TYPE"}
    assert await team_names(owner_engine) == before
    assert "Plain" not in before


TOO_LARGE = (
    b'{"errors":[{"message":"The request body is too large: the limit is 1000000 bytes.",'
    b'"extensions":{"code":"PAYLOAD_TOO_LARGE"}}]}'
)


async def test_a_declared_length_over_the_cap_is_413_before_any_byte_is_read(
    edge: Edge,
) -> None:
    token = await edge.token(ADA)
    for auth in ([], [(b"authorization", f"Bearer {token}".encode())]):
        upload = Upload(300 * MB)
        status, headers, body = await raw_post(
            edge.app, upload, [(b"content-length", str(300 * MB).encode()), *auth]
        )
        assert (status, body) == (413, TOO_LARGE)  # anonymous too: 413 comes before 401
        assert headers["connection"] == "close"
        assert upload.pulled_before_answer == 0


async def test_a_chunked_body_is_cut_off_at_the_cap(edge: Edge) -> None:
    token = await edge.token(ADA)
    upload = Upload(300 * MB)
    status, _, body = await raw_post(
        edge.app, upload, [(b"authorization", f"Bearer {token}".encode())]
    )  # no Content-Length
    assert (status, body) == (413, TOO_LARGE)
    assert upload.pulled_before_answer is not None
    assert 1_000_000 < upload.pulled_before_answer <= 1_000_000 + Upload.CHUNK


class Parts(Upload):
    """A body offered in the given ASGI messages (empty ones included)."""

    def __init__(self, parts: list[bytes]) -> None:
        super().__init__(sum(map(len, parts)))
        self.parts = parts

    async def receive(self) -> dict[str, Any]:
        if self.pulled_before_answer is not None or not self.parts:
            return {"type": "http.disconnect"}
        part = self.parts.pop(0)
        self.offered += len(part)
        return {"type": "http.request", "body": part, "more_body": bool(self.parts)}


async def test_a_body_in_several_messages_is_read_whole(edge: Edge) -> None:
    token = await edge.token(ADA)
    body = b'{"query": "{ viewer { name } }"}'
    for parts in ([body], [body[:5], b"", body[5:17], body[17:]], [b"", body, b""]):
        upload = Parts(list(parts))
        status, _, answer = await raw_post(
            edge.app, upload, [(b"authorization", f"Bearer {token}".encode())]
        )
        assert status == 200
        assert orjson.loads(answer)["data"] == {"viewer": {"name": "Ada Admin"}}
        assert upload.pulled_before_answer == len(body)


async def test_an_anonymous_body_is_never_read(edge: Edge) -> None:
    for auth in ([], [(b"authorization", b"Bearer not-a-jwt")]):
        upload = Upload(300 * MB)
        status, headers, _ = await raw_post(edge.app, upload, auth)
        assert (status, headers["www-authenticate"]) == (401, "Bearer")
        assert upload.pulled_before_answer == 0


async def test_a_body_at_the_cap_is_read_and_one_byte_more_is_413(edge: Edge) -> None:
    head = '{"query": "{ viewer { id } }"}'
    token = await edge.token(ADA)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    at_cap = (head + " " * (1_000_000 - len(head))).encode()
    response = await edge.http.post("/graphql", content=at_cap, headers=headers)
    assert response.status_code == 200
    assert list(response.json()["data"]["viewer"]) == ["id"]
    over = await edge.http.post("/graphql", content=at_cap + b" ", headers=headers)
    assert (over.status_code, over.content) == (413, TOO_LARGE)


async def test_a_content_length_that_is_not_a_number_is_400(edge: Edge) -> None:
    for declared in (b"-1", b"1e6", b"abc"):
        status, _, body = await raw_post(edge.app, Upload(100), [(b"content-length", declared)])
        assert status == 400
        assert orjson.loads(body) == error("BAD_USER_INPUT", "Content-Length is not a number.")


async def test_missing_or_invalid_credentials_are_401_with_www_authenticate(
    edge: Edge, settings: Settings
) -> None:
    expired = issue_user_token(settings.model_copy(update={"jwt_ttl_seconds": -60}), 1)
    forged = issue_user_token(settings.model_copy(update={"jwt_secret": "y" * 40}), 1)
    cases = [
        (None, NO_TOKEN),
        ("", NO_TOKEN),
        ("Basic YWRhOnNlY3JldA==", BAD_SCHEME),
        ("Bearer", BAD_SCHEME),
        ("Bearer ", BAD_SCHEME),
        ("Token abc", BAD_SCHEME),
        ("Bearer not-a-jwt", BAD_TOKEN),
        (f"Bearer {forged}", BAD_TOKEN),  # signed with another secret
        (f"Bearer {expired}", "Invalid token: the token has expired."),
        ("Bearer hmy_", BAD_KEY),  # not even shaped like a key: refused without I/O
        (f"Bearer {UNKNOWN_KEY}", BAD_KEY),  # shaped like one: looked up, unknown
    ]
    for header, message in cases:
        headers = {} if header is None else {"Authorization": header}
        response = await edge.http.post(
            "/graphql", json={"query": "{ viewer { id } }"}, headers=headers
        )
        assert response.status_code == 401, header
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json() == error("UNAUTHENTICATED", message), header
    assert len(edge.gateway.documents) == 0


async def test_anonymous_and_invalid_credentials_never_get_a_document_parsed(
    edge: Edge, engine: AsyncEngine
) -> None:
    hostile = "{ " + "viewer{workspaces{id}} " * 700 + "}"
    assert 16_000 < len(hostile) < 16_500
    cases = [{}, {"Authorization": "Bearer not-a-jwt"}, {"Authorization": f"Bearer {UNKNOWN_KEY}"}]
    for headers in cases:
        with recorded(engine) as statements:
            posted = await edge.http.post("/graphql", json={"query": hostile}, headers=headers)
            got = await edge.http.get("/graphql", params={"query": hostile}, headers=headers)
        for response in (posted, got):
            assert response.status_code == 401
            assert response.json()["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
        if "hmy_" not in str(headers):
            assert statements == []  # refused before the database is asked
    assert len(edge.gateway.documents) == 0
    assert len(edge.gateway.persisted.local) == 0
    # With credentials that hold, the same text is parsed, and refused by a limit.
    response = await edge.post(hostile, token=await edge.token(ADA))
    assert response.json() == error(
        "TOO_MANY_TOKENS", "The document has too many tokens: the limit is 2000."
    )
    assert len(edge.gateway.documents) == 1


# --- 2. the static limits -------------------------------------------------------------


async def refused_before_sql_and_charge(
    edge: Edge,
    engine: AsyncEngine,
    query: str,
    variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The body of a request that must be refused with authentication as its only SQL
    (the same statements as a request whose text does not parse), charged the flat
    REFUSED_DOCUMENT_COST (docs/limits.md: a refused document costs 50 points), not its
    estimate."""
    token = await edge.token(ADA)
    await edge.post("{", token=token)  # a connection and its first statements, out of the way
    with recorded(engine) as authentication_alone:
        syntax_error = await edge.post("{", token=token)
    assert syntax_error.json()["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}
    assert authentication_alone  # the account and memberships are read: a real baseline
    before = await edge.available(token)
    with recorded(engine) as statements:
        response = await edge.post(query, variables, token=token)
    after = await edge.available(token)
    assert response.status_code == 200
    assert signing_in(statements) == signing_in(authentication_alone)
    assert after == before - REFUSED_DOCUMENT_COST - 2  # and the rateLimit query's own 2
    body: dict[str, Any] = response.json()
    assert "data" not in body
    return body


async def test_31_aliases_are_too_many(frozen: Edge, engine: AsyncEngine) -> None:
    query = "{ viewer { " + " ".join(f"a{i}: id" for i in range(31)) + " } }"
    body = await refused_before_sql_and_charge(frozen, engine, query)
    assert body == error(
        "TOO_MANY_ALIASES",
        "The document has too many aliases: the limit is 30, it has at least 31.",
    )


async def test_refused_documents_empty_the_bucket(frozen: Edge) -> None:
    token = await frozen.token(ADA)
    too_deep = "{ " + TWELVE % "role { id }" + " }"
    codes = [
        (await frozen.post(too_deep, token=token)).json()["errors"][0]["extensions"]["code"]
        for _ in range(21)
    ]
    assert codes == ["TOO_DEEP"] * 20 + ["RATE_LIMITED"]  # 20 x 50 = the whole 1,000


async def test_30_aliases_pass(edge: Edge) -> None:
    query = "{ viewer { " + " ".join(f"a{i}: id" for i in range(30)) + " } }"
    response = await edge.post(query, token=await edge.token(ADA))
    assert response.status_code == 200
    assert len(set(response.json()["data"]["viewer"].values())) == 1
    assert len(response.json()["data"]["viewer"]) == 30


def fragment_bomb(levels: int) -> str:
    """Each fragment spreads the one below twice: 2 ** levels fields once expanded."""
    fragments = ["fragment F0 on User { id name }"]
    fragments += [f"fragment F{i} on User {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, levels)]
    return f"{{ viewer {{ ...F{levels - 1} }} }} " + " ".join(fragments)


async def test_a_fragment_bomb_has_too_many_fields(frozen: Edge, engine: AsyncEngine) -> None:
    query = fragment_bomb(30)  # 2**30 fields expanded; a 1.3 KB document
    assert len(query) < 1_500
    body = await refused_before_sql_and_charge(frozen, engine, query)
    assert body == error(
        "TOO_MANY_FIELDS",
        "The document selects too many fields (fragments expanded): the limit is 300, "
        "it has at least 512.",
    )


async def test_11_root_fields_are_too_many(frozen: Edge, engine: AsyncEngine) -> None:
    query = "{ " + " ".join(f"v{i}: viewer {{ id }}" for i in range(11)) + " }"
    body = await refused_before_sql_and_charge(frozen, engine, query)
    assert body == error(
        "TOO_MANY_ROOT_FIELDS",
        "The document selects too many root fields in one operation: the limit is 10, it has 11.",
    )
    ten = "{ " + " ".join(f"v{i}: viewer {{ id }}" for i in range(10)) + " }"
    response = await frozen.post(ten, token=await frozen.token(ADA))
    assert len(response.json()["data"]) == 10


async def test_six_directives_in_one_place_are_too_many(frozen: Edge, engine: AsyncEngine) -> None:
    query = "{ viewer " + "@include(if: true) " * 6 + "{ id } }"
    body = await refused_before_sql_and_charge(frozen, engine, query)
    assert body == error(
        "TOO_MANY_DIRECTIVES",
        "The document has too many directives in one place: the limit is 5, it has 6.",
    )


async def test_31_fragments_are_too_many(frozen: Edge, engine: AsyncEngine) -> None:
    query = "{ viewer { ...F0 } } " + " ".join(f"fragment F{i} on User {{ id }}" for i in range(31))
    body = await refused_before_sql_and_charge(frozen, engine, query)
    assert body == error(
        "TOO_MANY_FRAGMENTS", "The document defines too many fragments: the limit is 30, it has 31."
    )


async def test_a_list_literal_of_101_is_too_long(frozen: Edge, engine: AsyncEngine) -> None:
    ids = ", ".join(f'"id{i}"' for i in range(101))
    body = await refused_before_sql_and_charge(
        frozen, engine, f"{{ nodes(ids: [{ids}]) {{ id }} }}"
    )
    assert body == error(
        "LIST_TOO_LONG",
        "The document has a list argument that is too long: the limit is 100, it has 101.",
    )


async def test_a_list_of_101_in_the_variables_is_too_long(
    frozen: Edge, engine: AsyncEngine
) -> None:
    query = "query Q($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    ids = [f"id{i}" for i in range(101)]
    body = await refused_before_sql_and_charge(frozen, engine, query, {"ids": ids})
    assert body == error(
        "LIST_TOO_LONG", "A list in the variables is too long: the limit is 100, it has 101."
    )
    nested = {"input": {"workspaceId": "x", "name": "n", "memberIds": ids}}
    mutation = "mutation M($input: CreateTeamInput!) { createTeam(input: $input) { team { id } } }"
    body = await refused_before_sql_and_charge(frozen, engine, mutation, nested)
    assert body["errors"][0]["extensions"] == {"code": "LIST_TOO_LONG"}


# viewer(1) { workspaces(2) { members(3) { nodes(4) { user(5) { workspaces(6) { members(7)
# { nodes(8) { user(9) { workspaces(10) { members(11) { nodes(12) { …: twelve levels.
TWELVE = (
    "viewer { workspaces { members(first: 1) { nodes { user { workspaces { members(first: 1) "
    "{ nodes { user { workspaces { members(first: 1) { nodes { %s } } } } } } } } } } } }"
)


async def test_twelve_levels_pass(edge: Edge) -> None:
    response = await edge.post("{ " + TWELVE % "id" + " }", token=await edge.token(ADA))
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body
    assert body["data"]["viewer"]["workspaces"][0]["members"]["nodes"][0]["user"]


async def test_thirteen_levels_are_too_deep(frozen: Edge, engine: AsyncEngine) -> None:
    body = await refused_before_sql_and_charge(frozen, engine, "{ " + TWELVE % "role { id }" + " }")
    assert body == error(
        "TOO_DEEP", "The document nests fields too deeply: the limit is 12, it has 13."
    )


async def test_depth_counts_through_fragments(frozen: Edge, engine: AsyncEngine) -> None:
    # Six levels in the operation, seven in the fragment spread at the sixth.
    query = (
        "{ viewer { workspaces { members(first: 1) { nodes { user { workspaces { ...W } } } } } } }"
        " fragment W on Workspace { members(first: 1) { nodes { user { workspaces "
        "{ members(first: 1) { nodes { role { id } } } } } } } }"
    )
    body = await refused_before_sql_and_charge(frozen, engine, query)
    assert body == error(
        "TOO_DEEP", "The document nests fields too deeply: the limit is 12, it has 13."
    )


async def test_more_than_2000_tokens_are_too_many(frozen: Edge, engine: AsyncEngine) -> None:
    query = "{ viewer { " + "id " * 2_000 + "} }"
    body = await refused_before_sql_and_charge(frozen, engine, query)
    assert body == error("TOO_MANY_TOKENS", "The document has too many tokens: the limit is 2000.")


async def test_a_document_over_100000_characters_is_too_large(
    frozen: Edge, engine: AsyncEngine
) -> None:
    query = "{ viewer { id } } #" + "x" * 100_000  # one comment: few tokens, many characters
    body = await refused_before_sql_and_charge(frozen, engine, query)
    assert body == error(
        "DOCUMENT_TOO_LARGE",
        f"The document is too long: the limit is 100000 characters, it has {len(query)}. "
        "Pass long values as variables.",
    )


async def test_a_cyclic_fragment_is_a_validation_error(edge: Edge) -> None:
    query = "{ viewer { ...A } } fragment A on User { id ...B } fragment B on User { name ...A }"
    response = await edge.post(query, token=await edge.token(ADA))
    assert response.status_code == 200
    body = response.json()
    assert "data" not in body
    assert [(e["message"], e["extensions"]) for e in body["errors"]] == [
        ("Cannot spread fragment 'A' within itself via 'B'.", {"code": "BAD_USER_INPUT"})
    ]


# --- 6. introspection and suggestions ------------------------------------------------------

SCHEMA_NAME = "{ __schema { queryType { name } } }"


async def test_introspection_off_refuses_schema_and_type_but_not_typename(serve: Serve) -> None:
    async with serve(introspection="off") as edge:
        token = await edge.token(ADA)
        for query in (
            SCHEMA_NAME,
            '{ __type(name: "User") { name } }',
            "{ ...Q } fragment Q on Query { __schema { queryType { name } } }",
            "{ viewer { id } ... on Query { __schema { queryType { name } } } }",
        ):
            response = await edge.post(query, token=token)
            assert response.status_code == 200
            assert response.json() == error(
                "INTROSPECTION_DISABLED", "Introspection is disabled on this server."
            ), query
        typename = await edge.post("{ __typename viewer { __typename } }", token=token)
        assert typename.json()["data"] == {"__typename": "Query", "viewer": {"__typename": "User"}}


async def test_introspection_authenticated_allows_it_with_a_token(serve: Serve) -> None:
    async with serve(introspection="authenticated") as edge:
        response = await edge.post(SCHEMA_NAME, token=await edge.token(ADA))
        assert response.json()["data"] == {"__schema": {"queryType": {"name": "Query"}}}
        anonymous = await edge.post(SCHEMA_NAME)
        assert anonymous.status_code == 401
        assert anonymous.json() == error("UNAUTHENTICATED", NO_TOKEN)


async def test_introspection_on_lets_anonymous_requests_read_the_schema_only(
    serve: Serve, engine: AsyncEngine
) -> None:
    async with serve(introspection="on") as edge:
        with recorded(engine) as statements:
            schema_read = await edge.post(SCHEMA_NAME)
            typename_too = await edge.post('{ __typename __type(name: "User") { name } }')
        assert statements == []  # no account, no database
        assert schema_read.status_code == 200
        assert schema_read.json() == {
            "data": {"__schema": {"queryType": {"name": "Query"}}},
            "extensions": {
                "cost": {
                    "requestedQueryCost": 100,  # __schema's fixed price
                    "actualQueryCost": 2,
                    "throttleStatus": {
                        "maximumAvailable": 1000,
                        "currentlyAvailable": 900,
                        "restoreRate": 50.0,
                    },
                }
            },
        }
        assert typename_too.json()["data"] == {"__typename": "Query", "__type": {"name": "User"}}
        for query in (
            "{ viewer { id } }",
            "{ __schema { queryType { name } } viewer { id } }",
            "{ ...Q } fragment Q on Query { __typename viewer { id } }",
        ):
            refused = await edge.post(query)
            assert refused.status_code == 401, query
            assert refused.json() == error("UNAUTHENTICATED", NO_TOKEN)
        assert len(edge.gateway.documents) == 0  # parsed, never kept


async def test_the_standard_introspection_query_passes_the_limits(edge: Edge) -> None:
    response = await edge.post(get_introspection_query(), token=await edge.token(ADA))
    body = response.json()
    assert "errors" not in body, body["errors"]
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"
    assert body["extensions"]["cost"]["requestedQueryCost"] == 100  # the schema's price


async def test_suggestions_in_development_only(serve: Serve) -> None:
    query = "{ viewer { nam } }"
    async with serve() as development:
        response = await development.post(query, token=await development.token(ADA))
        assert response.json()["errors"][0]["message"] == (
            "Cannot query field 'nam' on type 'User'. Did you mean 'name'?"
        )
    async with serve(app_env="production", jwt_secret=TEST_SECRET) as production:
        response = await production.post(query, token=await production.token(ADA))
        assert [(e["message"], e["extensions"]) for e in response.json()["errors"]] == [
            ("Cannot query field 'nam' on type 'User'.", {"code": "BAD_USER_INPUT"})
        ]


# --- 7. load shedding and the request deadline ----------------------------------------------


class Hold:
    """A test hook: ``await hold()`` inside a patched repository function blocks the
    request until ``release()``; ``on_enter`` runs as it arrives."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.released = asyncio.Event()
        self.on_enter: Callable[[], None] | None = None

    async def __call__(self) -> None:
        self.entered.set()
        if self.on_enter is not None:
            self.on_enter()
        await self.released.wait()

    def release(self) -> None:
        self.released.set()


@pytest.fixture
def held_subscription(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hold]:
    """``workspace { subscription }`` waits for the hold before its statement."""
    hold = Hold()
    original = workspaces_repository.subscription

    async def subscription(*args: Any, **kwargs: Any) -> Any:
        await hold()
        return await original(*args, **kwargs)

    monkeypatch.setattr(workspaces_repository, "subscription", subscription)
    yield hold
    hold.release()


async def test_a_request_beyond_the_slots_and_queue_is_503(
    serve: Serve, held_subscription: Hold
) -> None:
    async with serve(max_in_flight=1, max_queued=0) as edge:
        token = await edge.token(ADA)
        first = asyncio.create_task(edge.post(SUBSCRIPTION, token=token))
        await asyncio.wait_for(held_subscription.entered.wait(), 5)

        shed = await edge.post("{ viewer { id } }", token=token)
        assert shed.status_code == 503
        assert shed.headers["retry-after"] == "1"
        assert shed.json() == error(
            "SERVICE_UNAVAILABLE", "The server is at capacity: retry shortly."
        )
        anonymous = await edge.post("{ viewer { id } }")
        assert anonymous.status_code == 401  # credentials are checked before admission

        held_subscription.release()
        answered = await asyncio.wait_for(first, 5)
        assert answered.status_code == 200
        assert answered.json()["data"] == {"workspace": {"subscription": {"plan": "BUSINESS"}}}
        again = await edge.post("{ viewer { id } }", token=token)
        assert again.status_code == 200
        assert "errors" not in again.json()


async def test_a_queued_request_waits_for_the_slot(serve: Serve, held_subscription: Hold) -> None:
    async with serve(max_in_flight=1, max_queued=1) as edge:
        token = await edge.token(ADA)
        first = asyncio.create_task(edge.post(SUBSCRIPTION, token=token))
        await asyncio.wait_for(held_subscription.entered.wait(), 5)
        queued = asyncio.create_task(edge.post("{ viewer { id } }", token=token))
        for _ in range(1_000):  # until the second request waits in the queue
            if edge.gateway.admission.waiting:
                break
            await asyncio.sleep(0.001)
        assert edge.gateway.admission.waiting == 1
        shed = await edge.post("{ viewer { id } }", token=token)
        assert shed.status_code == 503
        assert not queued.done()
        held_subscription.release()
        assert [r.status_code for r in await asyncio.gather(first, queued)] == [200, 200]


async def test_anonymous_introspection_is_shed_like_any_request(
    serve: Serve, held_subscription: Hold
) -> None:
    async with serve(introspection="on", max_in_flight=1, max_queued=0) as edge:
        first = asyncio.create_task(edge.post(SUBSCRIPTION, token=await edge.token(ADA)))
        await asyncio.wait_for(held_subscription.entered.wait(), 5)
        try:
            anonymous = await edge.post(SCHEMA_NAME)
        finally:
            held_subscription.release()
            await first
        assert anonymous.status_code == 503


@pytest.fixture
def held_team_members(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hold]:
    """createTeam waits for the hold after its team row was written (flushed), before the
    memberships, the audit event and the commit; only for teams named "Held…"."""
    hold = Hold()
    original = member_writes.set_team_members

    async def set_team_members(session: Any, workspace: int, team: int, members: Any) -> Any:
        written = await session.get(Team, team)  # the flushed row, from the identity map
        if written.name.startswith("Held"):
            await hold()
        return await original(session, workspace, team, members)

    monkeypatch.setattr(member_writes, "set_team_members", set_team_members)
    yield hold
    hold.release()


@pytest.fixture
def deadline_at_the_hold(monkeypatch: pytest.MonkeyPatch, held_team_members: Hold) -> Hold:
    """The request's deadline (the pipeline's ``asyncio.timeout``) passes the moment the
    request reaches the hold, and not before: what a short deadline does on an idle
    machine, whatever the load (a busy machine could spend it before the hold)."""
    deadlines: list[asyncio.Timeout] = []
    real = asyncio.timeout

    def timeout(delay: float | None) -> asyncio.Timeout:
        deadlines.append(real(None))
        return deadlines[-1]

    def passed() -> None:
        deadlines[-1].reschedule(asyncio.get_running_loop().time())

    monkeypatch.setattr(asyncio, "timeout", timeout)
    held_team_members.on_enter = passed
    return held_team_members


async def test_a_request_past_its_deadline_is_504_and_changes_nothing(
    serve: Serve,
    deadline_at_the_hold: Hold,
    session: AsyncSession,
    owner_engine: AsyncEngine,
) -> None:
    acme = await f.gid(session, "Workspace", "acme")
    before = await team_names(owner_engine)
    async with serve(request_timeout_seconds=0.5) as edge:
        token = await edge.token(ADA)
        response = await edge.post(create_team(acme, "Held"), token=token)
        assert deadline_at_the_hold.entered.is_set()  # the write happened before the hold
        assert response.status_code == 504
        assert response.json() == error(
            "TIMEOUT",
            "The request did not finish within 0.5 seconds: its unfinished work was rolled back.",
        )
        assert await team_names(owner_engine) == before

        after = await edge.post(create_team(acme, "Next"), token=token)
        assert after.json()["data"] == {"createTeam": {"team": {"name": "Next"}, "userErrors": []}}
        assert await team_names(owner_engine) == sorted([*before, "Next"])


async def test_a_deadline_during_the_second_mutation_field_keeps_only_the_first(
    serve: Serve,
    deadline_at_the_hold: Hold,
    session: AsyncSession,
    owner_engine: AsyncEngine,
) -> None:
    """Each root mutation field is its own unit of work (run one after the other, as
    GraphQL specifies): the first committed before the deadline, the second is rolled
    back, and the message says a change was committed."""
    acme = await f.gid(session, "Workspace", "acme")
    before = await team_names(owner_engine)
    two = (
        f'mutation {{ a: createTeam(input: {{workspaceId: "{acme}", name: "First"}}) '
        "{ team { name } } "
        f'b: createTeam(input: {{workspaceId: "{acme}", name: "Held"}}) {{ team {{ name }} }} }}'
    )
    async with serve(request_timeout_seconds=0.5) as edge:
        token = await edge.token(ADA)
        key = {"Idempotency-Key": "two-teams-1"}
        response = await edge.post(two, token=token, headers=key)
        assert response.status_code == 504
        assert response.json() == error("TIMEOUT", AFTER_A_COMMIT)
        # A retry under the same Idempotency-Key gets that answer again: the first field
        # is not applied twice.
        again = await edge.post(two, token=token, headers=key)
        assert (again.status_code, again.headers["idempotent-replayed"]) == (504, "true")
        assert again.json() == error("TIMEOUT", AFTER_A_COMMIT)
    assert await team_names(owner_engine) == sorted([*before, "First"])


AFTER_A_COMMIT = (
    "The request did not finish within 0.5 seconds: its unfinished work was rolled back. "
    "A change this request made before was committed: read the objects it changes to learn "
    "their state."
)
