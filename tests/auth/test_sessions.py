"""Sessions end when the account says so: ``signOutEverywhere`` and ``python -m app
sign-out EMAIL`` refuse every user token issued before them (DESIGN.md "Sessions"), on
both engines, through the whole request path."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli import cmd_sign_out, cmd_token
from app.config import Settings
from tests import factories
from tests.client import GraphQLClient

SIGN_OUT = "mutation { signOutEverywhere { signedOutAt userErrors { code } } }"
WHO = "{ viewer { email } }"
SIGNED_OUT = {
    "errors": [
        {
            "message": "Invalid token: the account signed out everywhere after it was issued; "
            "sign in again.",
            "extensions": {"code": "UNAUTHENTICATED"},
        }
    ]
}


async def test_signing_out_everywhere_refuses_every_earlier_token(client: GraphQLClient) -> None:
    first, second = await client.token("ada@acme.test"), await client.token("ada@acme.test")
    bens = await client.token("ben@acme.test")
    body = await client.query(SIGN_OUT, token=first)
    signed_out_at = body["data"]["signOutEverywhere"]["signedOutAt"]
    assert body["data"]["signOutEverywhere"]["userErrors"] == []
    assert datetime.fromisoformat(signed_out_at).tzinfo is not None
    assert await client.query(WHO, token=first) == SIGNED_OUT  # the token that asked, too
    assert await client.query(WHO, token=second) == SIGNED_OUT
    # The account-only path (nothing but the viewer's own fields) refuses it as well.
    assert await client.query("{ viewer { name } }", token=second) == SIGNED_OUT
    await asyncio.sleep(0.01)
    fresh = await client.token("ada@acme.test")
    assert await client.query(WHO, token=fresh) == {"data": {"viewer": {"email": "ada@acme.test"}}}
    # Other accounts are not affected.
    assert await client.query(WHO, token=bens) == {"data": {"viewer": {"email": "ben@acme.test"}}}


async def test_an_api_key_cannot_sign_its_creator_out_and_outlives_the_sign_out(
    client: GraphQLClient, session: AsyncSession
) -> None:
    acme = await factories.workspace_id(session, "acme")
    ada = await factories.user_id(session, "ada@acme.test")
    key = await factories.create_api_key(session, acme, ada, ["members:read:all"])
    await session.commit()
    refused = await client.query(SIGN_OUT, token=key)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert refused["data"] is None
    await client.query(SIGN_OUT, as_="ada@acme.test")
    body = await client.query('{ workspace(slug: "acme") { slug } }', token=key)
    assert body == {"data": {"workspace": {"slug": "acme"}}}


async def test_the_operator_command_signs_an_account_out(
    client: GraphQLClient, settings: Settings, capsys: object
) -> None:
    token = await client.token("dee@globex.test")
    assert await client.query(WHO, token=token) == {
        "data": {"viewer": {"email": "dee@globex.test"}}
    }
    # The CLI is synchronous (it runs its own event loop): run it in a thread.
    assert await asyncio.to_thread(cmd_sign_out, settings, "DEE@globex.test") == 0
    assert await client.query(WHO, token=token) == SIGNED_OUT
    assert await asyncio.to_thread(cmd_sign_out, settings, "nobody@example.test") == 1


async def test_the_token_command_mints_working_tokens_for_one_or_several_accounts(
    client: GraphQLClient, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """One email: the token alone on the last line (scripts take it with ``tail -n 1``);
    several (scripts/dev's banner): an ``email token`` line each, from one process."""
    assert await asyncio.to_thread(cmd_token, settings, ["ada@acme.test"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("token for ada@acme.test (user ")
    assert await client.query(WHO, token=lines[1]) == {
        "data": {"viewer": {"email": "ada@acme.test"}}
    }
    emails = ["ada@acme.test", "dee@globex.test"]
    assert await asyncio.to_thread(cmd_token, settings, emails) == 0
    pairs = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert [email for email, _ in pairs] == emails
    for email, token in pairs:
        assert await client.query(WHO, token=token) == {"data": {"viewer": {"email": email}}}
    # One unknown account: nothing is printed but the error, and the command fails.
    assert await asyncio.to_thread(cmd_token, settings, [*emails, "nobody@example.test"]) == 1
    assert capsys.readouterr().out == ""
