"""The ``Invitation`` type: a pending invitation to join a workspace.

Two sides read it. The workspace lists its own (``Workspace.invitations``, by node ID:
``members:read:all`` in that workspace, declared on those fields). The invitee lists
those addressed to their account's e-mail (``User.invitationsConnection``, for the viewer
alone)
before they belong to the workspace. Its fields therefore carry no per-field workspace
declaration (the invitee holds no permission there); every path that reaches an
Invitation checks access before building it, and the type holds nothing but what the
inviting workspace typed and chose, plus the workspace's and inviter's names.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import strawberry

from app.domain.invitations.repository import InvitationView
from app.domain.pagination import Page, Window
from app.graphql.context import Info
from app.graphql.ids import encode_id
from app.graphql.node import Node, node_id
from app.graphql.pagination import Connection, read_connection, to_connection


@strawberry.type(
    name="Invitation",
    description=(
        "A pending invitation to join a workspace, sent to an e-mail address by addMember. "
        "It becomes a membership when the person whose account has that address accepts it "
        "(acceptInvitation); it ends when they decline it or the workspace revokes it. It "
        "carries nothing of any account: the workspace sees only what it typed."
    ),
)
class InvitationType(Node):
    id: strawberry.ID = node_id("Invitation", workspace_scoped=False)
    email: str = strawberry.field(
        description="The e-mail address invited, as the inviter typed it."
    )
    workspace_name: str = strawberry.field(description="Name of the workspace it invites to.")
    invited_by: str = strawberry.field(description="Display name of the member who sent it.")
    role: str = strawberry.field(
        description=(
            "Name of the role given on acceptance (the workspace's built-in Member role when "
            "the role chosen was deleted since)."
        )
    )
    created_at: datetime = strawberry.field(description="When it was sent.")

    @classmethod
    def of(cls, view: InvitationView) -> InvitationType:
        return cls(
            id=strawberry.ID(encode_id("Invitation", view.id)),
            email=view.email,
            workspace_name=view.workspace_name,
            invited_by=view.invited_by_name,
            role=view.role_name,
            created_at=view.created_at,
        )


async def invitations_in(
    info: Info, workspace_id: int, ids: Sequence[int]
) -> dict[int, InvitationType]:
    """Invitations of one of the viewer's workspaces, by id (the caller checked the
    permission there)."""
    views = await info.context.repository(workspace_id).invitations.views_by_ids(ids)
    return {v.id: InvitationType.of(v) for v in views}


async def invitation_of(info: Info, row: Any) -> InvitationType | None:
    """``Query.node``'s builder: the invitation row of one of the viewer's workspaces."""
    key = int(row.id)
    return (await invitations_in(info, int(row.workspace_id), [key])).get(key)


async def viewer_invitations(info: Info) -> list[InvitationType]:
    """The pending invitations addressed to the viewer's account, oldest first."""
    views = await info.context.own.invitations()
    return [InvitationType.of(v) for v in views]


async def viewer_invitations_connection(
    info: Info, window: Window | None
) -> Connection[InvitationType]:
    """A page of the pending invitations addressed to the viewer's account (None: an
    empty list, for another account's or an API key's)."""
    if window is None:
        return to_connection(Page([], [], False), [], _none, None, kind="Invitation")
    own = info.context.own
    return await read_connection(
        own,
        window,
        own.invitations_page,
        own.invitations_count,
        lambda page: [InvitationType.of(v) for v in page.items],
        kind="Invitation",
    )


async def _none() -> int:
    return 0
