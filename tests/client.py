"""A small GraphQL client for tests: posts through the ASGI app, mints tokens."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.tokens import issue_user_token
from app.config import Settings
from app.db.engine import create_sessionmaker
from app.domain.users.repository import user_by_email


@dataclass
class GraphQLClient:
    http: httpx.AsyncClient
    settings: Settings
    engine: AsyncEngine
    # Each email's user ID, looked up once per client (per test): ``as_=`` costs a
    # token, not a query.
    user_ids: dict[str, int] = field(default_factory=dict, init=False)

    async def token(self, email: str) -> str:
        """A new token of the user ``email`` names."""
        user_id = self.user_ids.get(email)
        if user_id is None:
            async with create_sessionmaker(self.engine)() as session:
                user = await user_by_email(session, email)
            assert user is not None and user.id is not None, f"no user {email}"
            user_id = self.user_ids[email] = user.id
        return issue_user_token(self.settings, user_id)

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )

    async def query(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        as_: str | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        """The JSON response of a query sent as ``as_`` (an email) or with ``token``,
        without ``extensions.cost`` (every response has it; tests/edge/ checks it)."""
        if as_ is not None:
            token = await self.token(as_)
        response = await self.post(query, variables, token=token)
        body: dict[str, Any] = response.json()
        refused = [e["extensions"]["code"] for e in body.get("errors", [])] == ["UNAUTHENTICATED"]
        assert response.status_code == (401 if refused else 200), response.text
        return without_cost(body)


def without_cost(body: dict[str, Any]) -> dict[str, Any]:
    """The response body without ``extensions.cost``; ``extensions`` only if more is left."""
    extensions = dict(body.get("extensions") or {})
    extensions.pop("cost", None)
    rest = {k: v for k, v in body.items() if k != "extensions"}
    if extensions:
        rest["extensions"] = extensions
    return rest
