"""createApiKey, revokeApiKey."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.domain.api_keys import service
from app.domain.errors import Refusal, UserErrorCode
from app.graphql.administration import ApiKeyType
from app.graphql.context import Info
from app.graphql.mutations.base import (
    Payload,
    UserError,
    change,
    input_pk,
    mutation,
    target_workspace,
)

CREATE, DELETE = "api_keys:create:all", "api_keys:delete:all"


def key_not_found() -> Refusal:
    """A key out of reach (another workspace, one where you may not revoke keys, no such
    key): the answer revoke_api_key gives for a key it cannot find."""
    return Refusal(
        UserErrorCode.NOT_FOUND, "No such API key in this workspace.", ["input", "apiKeyId"]
    )


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

    def target_type(self) -> str:
        return "Workspace"


@strawberry.input(description="Names the key to revoke.")
class RevokeApiKeyInput:
    api_key_id: strawberry.ID = strawberry.field(description="The ApiKey.")

    def target(self) -> str:
        return self.api_key_id

    def target_type(self) -> str:
        return "ApiKey"


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
        ws = await target_workspace(info.context, input)
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
        ws = await target_workspace(info.context, input)
        result = await change(
            info,
            ws,
            DELETE,
            lambda s, actor, ws: service.revoke_api_key(
                s, ws, actor, input_pk(input.api_key_id, "ApiKey", ["apiKeyId"])
            ),
            missing=key_not_found(),
        )
        if isinstance(result, Refusal):
            return RevokeApiKeyPayload(user_errors=[UserError.of(result)])
        return RevokeApiKeyPayload(api_key=ApiKeyType.of(result))
