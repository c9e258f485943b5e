"""API key authentication edge cases."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tests import factories as f
from tests.client import GraphQLClient


async def test_a_permission_no_longer_catalogued_grants_nothing_and_breaks_nothing(
    client: GraphQLClient, session: AsyncSession
) -> None:
    acme = await f.workspace_id(session, "acme")
    ada = await f.user_id(session, "ada@acme.test")
    secret = await f.create_api_key(session, acme, ada, ["members:read:all", "legacy:read:all"])
    await session.commit()
    body = await client.query(
        '{ workspace(slug: "acme") { members(first: 1) { totalCount } viewerPermissions } }',
        token=secret,
    )
    assert body == {
        "data": {
            "workspace": {"members": {"totalCount": 4}, "viewerPermissions": ["members:read:all"]}
        }
    }


async def test_an_expired_key_is_refused(client: GraphQLClient, session: AsyncSession) -> None:
    from datetime import UTC, datetime, timedelta

    acme = await f.workspace_id(session, "acme")
    ada = await f.user_id(session, "ada@acme.test")
    secret = await f.create_api_key(
        session,
        acme,
        ada,
        ["members:read:all"],
        expires_at=datetime.now(UTC) - timedelta(seconds=1),
    )
    await session.commit()
    body = await client.query("{ viewer { id } }", token=secret)
    assert body == {
        "errors": [
            {
                "message": "Invalid API key: unknown, revoked or expired.",
                "extensions": {"code": "UNAUTHENTICATED"},
            }
        ]
    }
