"""A query of an account signed in before goes ahead with what that sign-in found, and
its sign-in rides with its first read (app.edge.authenticate, remembered sign-ins;
PostgreSQL only, SQLite signs in first as always). Its answer stands only when the
database's sign-in answers the same now: whatever changed since (the account, a
membership, a role, a team, the workspace) the answer is the one a request signing in
first gets, on both engines, and a token of an account that may no longer sign in is
refused at once. Each test runs its document once to be remembered, changes the data,
and runs it again."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.models import MemberStatus, TeamMember, User, UserStatus, Workspace
from tests import factories
from tests.client import GraphQLClient
from tests.graphql.test_sql_counts import BASELINE, SIGN_IN, recorded

MEMBERS = """{ workspace(slug: "acme") { name members(first: 10) {
  nodes { user { name } role { name } } } } }"""
CONVERSATIONS = """{ workspace(slug: "acme") { conversations(first: 10) {
  nodes { title team { name } } } } }"""
NAME = '{ workspace(slug: "acme") { name } }'
DEACTIVATED = {
    "errors": [
        {
            "message": "Invalid token: the account is deactivated or does not exist.",
            "extensions": {"code": "UNAUTHENTICATED"},
        }
    ]
}


async def twice_remembered(client: GraphQLClient, token: str, query: str) -> dict[str, Any]:
    """The document run twice (cached, then run with the remembered sign-in); the answer."""
    first = await client.query(query, token=token)
    second = await client.query(query, token=token)
    assert first == second
    return second


def signing_in_first(query: str) -> str:
    """The same query as a document not run before: its request signs in first."""
    return f"{query} # {len(query)}"


def titles(body: dict[str, Any]) -> list[str]:
    return sorted(n["title"] for n in body["data"]["workspace"]["conversations"]["nodes"])


async def test_a_deactivated_accounts_remembered_sign_in_is_refused_at_once(
    client: GraphQLClient, session: AsyncSession
) -> None:
    token = await client.token("ada@acme.test")
    for query in (MEMBERS, NAME):
        await twice_remembered(client, token, query)
    await twice_remembered(client, token, "{")  # (a refused document, remembered too)
    ada = await session.get(User, await factories.user_id(session, "ada@acme.test"))
    assert ada is not None
    ada.status, ada.deactivated_at = UserStatus.DEACTIVATED, datetime.now(UTC)
    await session.commit()
    # A page, a query answered from the sign-in alone, and a document refused before it
    # runs: each is refused as the account's, not answered from what was remembered.
    for query in (MEMBERS, NAME, "{"):
        assert await client.query(query, token=token) == DEACTIVATED


async def test_a_token_signed_out_since_the_remembered_sign_in_is_refused_at_once(
    client: GraphQLClient,
) -> None:
    token = await client.token("ada@acme.test")
    await twice_remembered(client, token, MEMBERS)
    other = await client.token("ada@acme.test")
    signed_out = await client.query(
        "mutation { signOutEverywhere { userErrors { code } } }", token=other
    )
    assert signed_out == {"data": {"signOutEverywhere": {"userErrors": []}}}
    refused = await client.query(MEMBERS, token=token)
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "signed out everywhere" in refused["errors"][0]["message"]


async def test_a_membership_ended_since_the_remembered_sign_in_reads_nothing_of_it(
    client: GraphQLClient, session: AsyncSession
) -> None:
    token = await client.token("cy@acme.test")
    before = await twice_remembered(client, token, MEMBERS)
    assert before["data"]["workspace"]["name"] == "Acme Corp"
    acme = await factories.workspace_id(session, "acme")
    cy = await factories.member(session, acme, "cy@acme.test")
    cy.status = MemberStatus.DEACTIVATED
    await session.commit()
    no_member = await client.query(MEMBERS, as_="dee@globex.test")  # signs in first
    assert await client.query(MEMBERS, token=token) == no_member == {"data": {"workspace": None}}


async def test_a_team_changed_since_the_remembered_sign_in_changes_a_team_scoped_list(
    client: GraphQLClient, session: AsyncSession
) -> None:
    """cy (a Member: conversations of her teams) moves from Sales to Support."""
    token = await client.token("cy@acme.test")
    sales = await twice_remembered(client, token, CONVERSATIONS)
    assert {n["team"]["name"] for n in sales["data"]["workspace"]["conversations"]["nodes"]} == {
        "Sales"
    }
    acme = await factories.workspace_id(session, "acme")
    cy = await factories.member(session, acme, "cy@acme.test")
    sales_id = await factories.team_id(session, acme, "Sales")
    support_id = await factories.team_id(session, acme, "Support")
    await session.execute(
        sa.delete(TeamMember).where(
            TeamMember.workspace_id == acme,  # type: ignore[arg-type]
            TeamMember.team_id == sales_id,  # type: ignore[arg-type]
            TeamMember.member_id == cy.id,  # type: ignore[arg-type]
        )
    )
    await factories.add_to_team(session, acme, support_id, [factories.pk(cy)])
    await session.commit()
    support = await client.query(CONVERSATIONS, token=token)
    assert support == await client.query(signing_in_first(CONVERSATIONS), token=token)
    assert titles(support) != titles(sales)


async def test_a_role_changed_since_the_remembered_sign_in_is_read_with_the_new_role(
    client: GraphQLClient, session: AsyncSession
) -> None:
    token = await client.token("cy@acme.test")
    as_member = await twice_remembered(client, token, CONVERSATIONS)
    assert len(titles(as_member)) == 3  # Sales's
    acme = await factories.workspace_id(session, "acme")
    cy = await factories.member(session, acme, "cy@acme.test")
    cy.role_id = await factories.role_id(session, acme, "Admin")
    await session.commit()
    as_admin = await client.query(CONVERSATIONS, token=token)
    assert as_admin == await client.query(signing_in_first(CONVERSATIONS), token=token)
    assert titles(as_admin) == titles(await client.query(CONVERSATIONS, as_="ben@acme.test"))
    assert len(titles(as_admin)) == 5


async def test_a_workspace_renamed_since_the_remembered_sign_in_is_read_anew(
    client: GraphQLClient, session: AsyncSession
) -> None:
    """``workspace(slug:) { name }`` reads nothing but the sign-in: its check goes alone."""
    token = await client.token("ada@acme.test")
    assert await twice_remembered(client, token, NAME) == {
        "data": {"workspace": {"name": "Acme Corp"}}
    }
    acme = await session.get(Workspace, await factories.workspace_id(session, "acme"))
    assert acme is not None
    acme.name = "Acme Renamed"
    await session.commit()
    assert await client.query(NAME, token=token) == {
        "data": {"workspace": {"name": "Acme Renamed"}}
    }


async def test_a_remembered_sign_in_costs_no_statement_and_a_changed_one_one_more(
    client: GraphQLClient, engine: AsyncEngine, session: AsyncSession
) -> None:
    """PostgreSQL: the members page of an account signed in before is one statement, the
    sign-in riding with the page; after a change, that statement's rows are dropped and
    the request signs in and reads again. SQLite (and ``FAST_PATHS=false``): sign-in
    first, always."""
    token = await client.token("ada@acme.test")
    await twice_remembered(client, token, MEMBERS)
    with recorded(engine) as unchanged:
        same = await client.query(MEMBERS, token=token)
    acme = await factories.workspace_id(session, "acme")
    ada = await factories.member(session, acme, "ada@acme.test")
    await factories.add_to_team(
        session, acme, await factories.team_id(session, acme, "Support"), [factories.pk(ada)]
    )
    await session.commit()
    with recorded(engine) as changed:
        again = await client.query(MEMBERS, token=token)
    assert again == same  # (the page shows no teams)
    if engine.dialect.name == "postgresql" and client.settings.fast_paths:
        assert unchanged == [[SIGN_IN, "members"]]
        assert changed == [[SIGN_IN, "members"], [SIGN_IN], ["members"]]
    else:
        assert changed == unchanged and len(unchanged) == BASELINE[engine.dialect.name] + 1
