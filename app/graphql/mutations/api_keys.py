"""createApiKey, revokeApiKey."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.domain.api_keys import service
from app.domain.errors import Refusal
from app.graphql.administration import ApiKeyType
from app.graphql.context import Info
from app.graphql.mutations.base import Payload, UserError, change, input_pk, mutation, workspace_of

CREATE, DELETE = "api_keys:create:all", "api_keys:delete:all"


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

    def target(self) -> str:
        return self.workspace_id


@strawberry.input(description="Names the key to revoke.")
class RevokeApiKeyInput:
    api_key_id: strawberry.ID = strawberry.field(description="The ApiKey.")

    def target(self) -> str:
        return self.api_key_id


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
        "Create an API key holding a subset of your permissions (ESCALATION otherwise).", CREATE
    )
    async def create_api_key(self, info: Info, input: CreateApiKeyInput) -> CreateApiKeyPayload:
        ws = await workspace_of(info.context, input.workspace_id)
        result = await change(
            info,
            ws,
            CREATE,
            lambda s, actor, ws: service.create_api_key(
                s,
                ws,
                actor,
                name=input.name,
                permissions=input.permissions,
                expires_at=input.expires_at,
            ),
        )
        if isinstance(result, Refusal):
            return CreateApiKeyPayload(user_errors=[UserError.of(result)])
        key, secret = result
        return CreateApiKeyPayload(api_key=ApiKeyType.of(key), secret=secret)

    @mutation("Revoke an API key: it stops working at once.", DELETE)
    async def revoke_api_key(self, info: Info, input: RevokeApiKeyInput) -> RevokeApiKeyPayload:
        ws = await workspace_of(info.context, input.api_key_id)
        result = await change(
            info,
            ws,
            DELETE,
            lambda s, actor, ws: service.revoke_api_key(
                s, ws, actor, input_pk(input.api_key_id, "ApiKey", ["apiKeyId"])
            ),
        )
        if isinstance(result, Refusal):
            return RevokeApiKeyPayload(user_errors=[UserError.of(result)])
        return RevokeApiKeyPayload(api_key=ApiKeyType.of(result))
