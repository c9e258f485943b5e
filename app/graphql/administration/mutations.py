"""createApiKey, revokeApiKey."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.domain.api_keys import service
from app.graphql.administration.types import ApiKeyType
from app.graphql.context import Info
from app.graphql.mutation import WORKSPACE, Payload, Target, change, mutation

API_KEY = Target("ApiKey", "api_key_id", missing=service.key_not_found)


@strawberry.input(description="A new API key for a partner integration.")
class CreateApiKeyInput:
    workspace_id: strawberry.ID = strawberry.field(description="The Workspace the key is bound to.")
    name: str = strawberry.field(description="A label, 1-100 characters.")
    permissions: list[str] = strawberry.field(
        description="What the key may do: a subset of your own permissions."
    )
    expires_at: datetime | None = strawberry.field(
        default=None, description="Optional expiry (future, with offset)."
    )


@strawberry.input(description="Names the key to revoke.")
class RevokeApiKeyInput:
    api_key_id: strawberry.ID = strawberry.field(description="The ApiKey.")


@strawberry.type(
    description="Result of createApiKey. The secret is shown here once and never again."
)
class CreateApiKeyPayload(Payload):
    api_key: ApiKeyType | None = strawberry.field(default=None, description="The new key.")
    secret: str | None = strawberry.field(
        default=None,
        description="The key itself (hmy_…): send it as Authorization: Bearer <secret>. Store it now.",
    )


@strawberry.type(description="Result of revokeApiKey.")
class RevokeApiKeyPayload(Payload):
    api_key: ApiKeyType | None = strawberry.field(default=None, description="The key, now revoked.")


@strawberry.type
class ApiKeyMutations:
    @mutation(
        "Create an API key holding a subset of your permissions (ESCALATION otherwise).",
        permission="api_keys:create:all",
        target=WORKSPACE,
    )
    async def create_api_key(self, info: Info, input: CreateApiKeyInput) -> CreateApiKeyPayload:
        key, secret = await change(
            info,
            lambda s, actor, ws, _: service.create_api_key(
                s,
                ws,
                actor,
                name=input.name,
                permissions=input.permissions,
                expires_at=input.expires_at,
            ),
        )
        return CreateApiKeyPayload(api_key=ApiKeyType.of(key), secret=secret)

    @mutation(
        "Revoke an API key: it stops working at once.",
        permission="api_keys:delete:all",
        target=API_KEY,
    )
    async def revoke_api_key(self, info: Info, input: RevokeApiKeyInput) -> RevokeApiKeyPayload:
        key = await change(
            info, lambda s, actor, ws, key: service.revoke_api_key(s, ws, actor, key)
        )
        return RevokeApiKeyPayload(api_key=ApiKeyType.of(key))
