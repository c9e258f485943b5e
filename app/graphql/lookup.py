"""``Query.node`` and ``Query.nodes``: fetch any Node by global ID with the same
isolation and permissions as the typed path.

An ID of another workspace, of a missing row, or relabelled as another type
resolves to null; a malformed ID is BAD_USER_INPUT. So does a row the viewer may not
read (its workspace's read permission for the type, or a conversation outside their
scope): null, exactly like a row that does not exist, never FORBIDDEN, which would tell
that it exists (no existence oracle; the typed path, which names no row, says FORBIDDEN).
Lookups are batched per request: one statement per node type.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import strawberry

from app.graphql.access.types import (
    MEMBERS_READ,
    ROLES_READ,
    TEAMS_READ,
    RoleType,
    TeamType,
    member_of,
)
from app.graphql.administration.types import ApiKeyType
from app.graphql.context import Info
from app.graphql.conversations.types import (
    CONVERSATIONS_READ,
    SHARE,
    conversation_of,
    share_link_of,
)
from app.graphql.errors import BadUserInput
from app.graphql.ids import decode_id
from app.graphql.invitations.types import invitation_of
from app.graphql.node import Node
from app.graphql.users.types import UserType
from app.graphql.webhooks.types import WEBHOOKS_READ, WebhookDeliveryType, WebhookEndpointType
from app.graphql.workspaces.types import WorkspaceType

MAX_NODES = 100


# type name -> (permission needed in the row's workspace, GraphQL wrapper)
def _sync(build: Callable[[Any], Node]) -> Callable[[Info, Any], Awaitable[Node | None]]:
    async def wrapped(info: Info, row: Any) -> Node | None:
        return build(row)

    return wrapped


# type name -> (permission needed in the row's workspace, builder of the GraphQL object)
TENANT_NODES: dict[str, tuple[str, Callable[[Info, Any], Awaitable[Node | None]]]] = {
    "Member": (MEMBERS_READ, member_of),
    "Team": (TEAMS_READ, _sync(TeamType.of)),
    "Role": (ROLES_READ, _sync(RoleType.of)),
    "Conversation": (CONVERSATIONS_READ, conversation_of),
    "ApiKey": ("api_keys:read:all", _sync(lambda r: ApiKeyType.of(r))),
    "Invitation": (MEMBERS_READ, invitation_of),
    "ShareLink": (SHARE, share_link_of),
    "WebhookEndpoint": (WEBHOOKS_READ, _sync(WebhookEndpointType.of)),
    "WebhookDelivery": (WEBHOOKS_READ, _sync(WebhookDeliveryType.of)),
}


async def resolve_node(info: Info, global_id: str) -> Node | None:
    type_name, pk = decode_id(global_id)
    ctx = info.context
    if type_name == "User" and pk == ctx.viewer.user_id:
        return UserType.of(ctx.viewer.user)
    row = await ctx.nodes.load((type_name, pk))
    if row is None:
        return None
    if type_name == "User":
        return UserType.of(row)
    if type_name == "Workspace":
        return WorkspaceType.of(row)
    permission, build = TENANT_NODES[type_name]
    if not ctx.allows(row.workspace_id, permission):
        return None  # the answer of a row that does not exist
    if type_name == "Conversation":
        # Conversations are scoped: the loader applies the viewer's own/team/all scope.
        row = await ctx.workspace(row.workspace_id).conversation.load(pk)
    return await build(info, row) if row is not None else None


@strawberry.type
class NodeQueries:
    @strawberry.field(
        description="Any object by its global ID; null when it is not visible to the viewer."
    )
    async def node(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID,
            strawberry.argument(
                description=(
                    "The `id` of any object (every type implementing `Node`), exactly as the "
                    "API returned it; a malformed ID is refused with `BAD_USER_INPUT`."
                )
            ),
        ],
    ) -> Node | None:
        return await resolve_node(info, id)

    @strawberry.field(
        description=f"Objects by global ID, in the order given (at most {MAX_NODES})."
    )
    async def nodes(
        self,
        info: Info,
        ids: Annotated[
            list[strawberry.ID],
            strawberry.argument(
                description=(
                    f"Up to {MAX_NODES} `id`s of objects of any types (more are refused with "
                    "`LIST_TOO_LONG`). The answer has one item per ID, in this order: null "
                    "where the object does not exist or is not visible to the viewer (the two "
                    "answer alike). One malformed ID refuses them all with `BAD_USER_INPUT`."
                )
            ),
        ],
    ) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            raise BadUserInput(
                f"`ids` accepts at most {MAX_NODES} IDs, got {len(ids)}.", argument="ids"
            )
        for global_id in ids:
            decode_id(global_id)  # every ID well-formed before any lookup
        # One awaitable per item: an item the viewer may not read is null with its own
        # error at ["nodes", i], and the others still resolve (in one batch per type).
        return [resolve_node(info, i) for i in ids]  # type: ignore[misc]
