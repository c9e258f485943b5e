"""Persisted queries through HTTP, on both engines: Apollo's APQ protocol (POST and GET),
registration only by authenticated requests, shared through Redis by replicas, and
PERSISTED_ONLY_FOR_USERS (user tokens run the SPA's trusted documents only)."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import select

from app.config import Settings
from app.db.engine import create_engine, create_sessionmaker
from app.edge.persisted import trusted_documents
from app.models import Team
from tests import factories as f
from tests.client import without_cost
from tests.edge.asgi_edge import (
    ADA,
    Edge,
    Serve,
    apq,
    error,
    recorded,
    redis_keys,
    redis_or_skip,
    sha256,
)

NOT_FOUND = error("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")
MISMATCH = error(
    "BAD_USER_INPUT",
    "`extensions.persistedQuery.sha256Hash` does not match the query: it must be the "
    "SHA-256 of the query text (UTF-8), in hex.",
)
REQUIRED = error(
    "PERSISTED_QUERY_REQUIRED",
    "User tokens may run only the app's persisted operations here; "
    "use an API key for other documents.",
)


def trusted(name: str) -> tuple[str, str]:
    """(hash, text) of the manifest's operation ``name``."""
    ((sha, text),) = (
        (h, t) for h, t in trusted_documents().items() if re.match(rf"\w+ {name}\b", t)
    )
    return sha, text


async def team_names(owner_engine: AsyncEngine) -> list[str]:
    async with create_sessionmaker(owner_engine)() as s:
        return sorted((await s.execute(select(Team.name))).scalars())


def unique_query(tag: str) -> str:
    """A document no other test registers (each test's app starts with an empty store,
    but Redis outlives apps)."""
    return f"query Apq{tag} {{ viewer {{ name }} }}"


VIEWER_NAME = {"data": {"viewer": {"name": "Ada Admin"}}}


# --- 5. Apollo APQ ---------------------------------------------------------------------------


async def test_an_unknown_hash_is_persisted_query_not_found(edge: Edge) -> None:
    token = await edge.token(ADA)
    unknown = apq(sha256(unique_query("Unknown")))
    posted = await edge.post(None, token=token, extensions=unknown)
    got = await edge.get(token=token, extensions=unknown)
    for response in (posted, got):
        assert response.status_code == 200
        assert response.json() == NOT_FOUND
    assert len(edge.gateway.persisted.local) == 0


async def test_hash_and_query_register_then_the_hash_alone_runs(edge: Edge) -> None:
    token = await edge.token(ADA)
    query = unique_query("Register")
    extensions = apq(sha256(query))
    registered = await edge.post(query, token=token, extensions=extensions)
    assert without_cost(registered.json()) == VIEWER_NAME
    assert len(edge.gateway.persisted.local) == 1

    posted = await edge.post(None, token=token, extensions=extensions)
    got = await edge.get(token=token, extensions=extensions)
    for response in (posted, got):
        assert response.status_code == 200
        assert without_cost(response.json()) == VIEWER_NAME
        assert response.json()["extensions"]["cost"]["requestedQueryCost"] == 1


async def test_a_persisted_query_takes_variables_over_get(edge: Edge) -> None:
    token = await edge.token(ADA)
    query = "query ApqVars($slug: String!) { workspace(slug: $slug) { name } }"
    extensions = apq(sha256(query))
    await edge.post(query, {"slug": "acme"}, token=token, extensions=extensions)
    response = await edge.get(variables={"slug": "acme"}, token=token, extensions=extensions)
    assert without_cost(response.json()) == {"data": {"workspace": {"name": "Acme Corp"}}}


async def test_a_hash_that_is_not_the_querys_is_bad_user_input(edge: Edge) -> None:
    token = await edge.token(ADA)
    query = unique_query("Mismatch")
    wrong = apq(sha256(query + " "))
    response = await edge.post(query, token=token, extensions=wrong)
    assert response.status_code == 200
    assert response.json() == MISMATCH
    assert (await edge.post(None, token=token, extensions=wrong)).json() == NOT_FOUND
    assert len(edge.gateway.persisted.local) == 0


async def test_a_mutation_over_get_is_405_and_changes_nothing(
    edge: Edge, session: AsyncSession, owner_engine: AsyncEngine
) -> None:
    acme = await f.gid(session, "Workspace", "acme")
    token = await edge.token(ADA)
    before = await team_names(owner_engine)
    sha, text = trusted("CreateTeam")
    variables = {"input": {"workspaceId": acme, "name": "Over GET"}}
    refused = error("BAD_USER_INPUT", "Mutations are only accepted over POST.")
    for response in (
        await edge.get(variables=variables, token=token, extensions=apq(sha)),
        await edge.get(text, variables, token=token),
    ):
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"
        assert response.json() == refused
    assert await team_names(owner_engine) == before
    posted = await edge.post(None, variables, token=token, extensions=apq(sha))
    assert posted.json()["data"]["createTeam"]["team"]["name"] == "Over GET"


async def test_an_anonymous_registration_is_refused_and_not_stored(serve: Serve) -> None:
    query = unique_query("Anonymous")
    extensions = apq(sha256(query))
    async with (
        redis_or_skip() as (url, prefix),
        serve(redis_url=url, redis_key_prefix=prefix) as edge,
    ):
        for headers in ({}, {"Authorization": "Bearer hmy_abcdefgh_" + "x" * 43}):
            response = await edge.post(query, extensions=extensions, headers=headers)
            assert response.status_code == 401
            assert response.json()["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
        assert len(edge.gateway.persisted.local) == 0
        assert await redis_keys(prefix) == []
        token = await edge.token(ADA)
        assert (await edge.post(None, token=token, extensions=extensions)).json() == NOT_FOUND


async def test_a_registration_refused_by_validation_is_not_stored(edge: Edge) -> None:
    token = await edge.token(ADA)
    query = "query ApqInvalid { viewer { nope } }"
    extensions = apq(sha256(query))
    response = await edge.post(query, token=token, extensions=extensions)
    assert response.json()["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}
    assert (await edge.post(None, token=token, extensions=extensions)).json() == NOT_FOUND


async def test_a_registration_on_one_replica_is_found_by_another(
    serve: Serve, settings: Settings
) -> None:
    other_engine = create_engine(settings)
    try:
        async with redis_or_skip() as (url, prefix):
            shared = {"redis_url": url, "redis_key_prefix": prefix}
            async with serve(**shared) as one, serve(engine_=other_engine, **shared) as two:
                token = await one.token(ADA)
                query = unique_query("Shared")
                extensions = apq(sha256(query))
                assert (await two.post(None, token=token, extensions=extensions)).json() == (
                    NOT_FOUND
                )
                registered = await one.post(query, token=token, extensions=extensions)
                assert without_cost(registered.json()) == VIEWER_NAME
                assert len(two.gateway.persisted.local) == 0
                found = await two.post(None, token=token, extensions=extensions)
                assert without_cost(found.json()) == VIEWER_NAME
                keys = await redis_keys(prefix)
                assert [k for k in keys if ":apq:" in k] == [f"{prefix}apq:{sha256(query)}"]
    finally:
        await other_engine.dispose()


# --- PERSISTED_ONLY_FOR_USERS ---------------------------------------------------------------


async def test_persisted_only_lets_a_user_run_a_trusted_operation_by_hash(serve: Serve) -> None:
    sha, text = trusted("Viewer")
    async with serve(persisted_only_for_users=True) as edge:
        token = await edge.token(ADA)
        for response in (
            await edge.post(None, token=token, extensions=apq(sha)),
            await edge.get(token=token, extensions=apq(sha)),
            await edge.post(text, token=token),  # the trusted text itself, without the hash
        ):
            assert response.status_code == 200
            viewer = response.json()["data"]["viewer"]
            assert (viewer["name"], viewer["email"]) == ("Ada Admin", ADA)


async def test_persisted_only_refuses_a_users_other_documents_before_parsing(
    serve: Serve, engine: AsyncEngine
) -> None:
    query = unique_query("Arbitrary")
    async with serve(persisted_only_for_users=True) as edge:
        token = await edge.token(ADA)
        with recorded(engine) as statements:
            sent = [
                await edge.post(query, token=token),
                await edge.post(query, token=token, extensions=apq(sha256(query))),
                await edge.post(None, token=token, extensions=apq(sha256(query))),
                await edge.get(query, token=token),
            ]
        for response in sent:
            assert response.status_code == 403
            assert response.json() == REQUIRED
        assert statements == []
        assert len(edge.gateway.documents) == 0
        assert len(edge.gateway.persisted.local) == 0
        assert (await edge.post(query)).status_code == 401  # credentials come first


async def test_persisted_only_still_lets_an_api_key_run_any_document(
    serve: Serve, session: AsyncSession
) -> None:
    acme = await f.workspace_id(session, "acme")
    key = await f.create_api_key(
        session, acme, await f.user_id(session, ADA), ["organization:read:all"]
    )
    await session.commit()
    query = unique_query("ByKey")
    async with serve(persisted_only_for_users=True) as edge:
        response = await edge.post(query, token=key)
        assert without_cost(response.json()) == VIEWER_NAME
        registered = await edge.post(query, token=key, extensions=apq(sha256(query)))
        assert without_cost(registered.json()) == VIEWER_NAME
        assert len(edge.gateway.persisted.local) == 1
