"""Accounts: the ``User`` type and ``Query.viewer``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from app import models as tables
from app.graphql.context import Info
from app.graphql.enums import UserStatus
from app.graphql.ids import encode_id
from app.graphql.invitations.types import (
    InvitationType,
    viewer_invitations,
    viewer_invitations_connection,
)
from app.graphql.lookahead import Reads
from app.graphql.node import Node, node_id
from app.graphql.pagination import After, Before, Connection, First, Last, page_window
from app.models import pk
from app.models.rows import UserRow

if TYPE_CHECKING:
    from app.graphql.workspaces.types import WorkspaceType

ViewerWorkspaces = Callable[[Info], Awaitable[list["WorkspaceType"]]]

# The Workspace type sits above this module (it lists members, and a member has an
# account): ``User.workspaces`` names it lazily, and app.graphql.workspaces.types hands in how
# the viewer's workspaces are built when it defines the type (the import above is for
# the type checker only).
_viewer_workspaces: ViewerWorkspaces | None = None


def provide_viewer_workspaces(build: ViewerWorkspaces) -> None:
    """Set how ``User.workspaces`` builds the viewer's workspaces (app.graphql.workspaces.types)."""
    global _viewer_workspaces
    _viewer_workspaces = build


# The columns each field of User is made of (``UserType.of``): a list that selects only
# these reads only those (app.graphql.lookahead.columns_read); any other field reads the
# whole row. tests/graphql/test_narrow_reads.py holds each to the whole row's answer.
USER_READS: Reads = {
    "__typename": (),
    "id": ("id",),
    "email": ("email",),
    "name": ("name",),
    "avatarUrl": ("avatar_url",),
    "status": ("status",),
    "createdAt": ("created_at",),
}


@strawberry.type(
    name="User", description="A person's Harmony account, shared by all their workspaces."
)
class UserType(Node):
    pk: strawberry.Private[int]
    id: strawberry.ID = node_id("User", workspace_scoped=False)
    email: str = strawberry.field(description="Email address (unique, case-insensitively).")
    name: str = strawberry.field(description="Display name.")
    avatar_url: str | None = strawberry.field(description="Avatar image URL, if set.")
    status: UserStatus = strawberry.field(
        description="ACTIVE, or DEACTIVATED once the account was deleted."
    )
    created_at: datetime = strawberry.field(description="When the account was created.")

    @classmethod
    def of(cls, row: UserRow | tables.User) -> UserType:
        key = pk(row)
        return cls(
            pk=key,
            id=strawberry.ID(encode_id("User", key)),
            email=row.email,
            name=row.name,
            avatar_url=row.avatar_url,
            status=row.status,
            created_at=row.created_at,
        )

    @strawberry.field(
        description=(
            "Workspaces where this account has an ACTIVE membership, in id order. Listed for "
            "the viewer only: for any other user the list is empty."
        )
    )
    async def workspaces(
        self, info: Info
    ) -> list[Annotated[WorkspaceType, strawberry.lazy("app.graphql.workspaces.types")]]:
        if self.pk != info.context.viewer.user_id:
            return []
        assert _viewer_workspaces is not None  # the schema's Workspace type provided it
        return await _viewer_workspaces(info)

    @strawberry.field(
        description=(
            "Pending invitations to workspaces addressed to this account's e-mail "
            "(case-insensitively), oldest first: accept or decline them with acceptInvitation "
            "and declineInvitation. Listed for the viewer's own account signed in with its "
            "own token only: empty for any other user and for an API key."
        ),
        deprecation_reason="Use `invitationsConnection`, which pages the list.",
    )
    async def invitations(self, info: Info) -> list[InvitationType]:
        viewer = info.context.viewer
        if self.pk != viewer.user_id or viewer.api_key_id is not None:
            return []
        return await viewer_invitations(info)

    @strawberry.field(
        description=(
            "Pending invitations addressed to this account's e-mail, oldest first "
            "(keyset-paged), as `invitations` lists them: for the viewer's own account "
            "signed in with its own token only, empty for any other user and for an API key."
        )
    )
    async def invitations_connection(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[InvitationType]:
        window = page_window(first, after, last, before, (int,), kind="Invitation")
        viewer = info.context.viewer
        own = self.pk == viewer.user_id and viewer.api_key_id is None
        return await viewer_invitations_connection(info, window if own else None)


def user_or_none(row: UserRow | tables.User | None) -> UserType | None:
    return UserType.of(row) if row is not None else None


async def users_by_id(info: Info, ids: Iterable[int | None]) -> dict[int, UserType]:
    """Accounts for a set of ids, in one batch."""
    wanted = sorted({i for i in ids if i is not None})
    rows = await info.context.users.fetch_many(wanted)
    return {i: UserType.of(r) for i, r in zip(wanted, rows, strict=True) if r is not None}


@strawberry.type
class UserQueries:
    @strawberry.field(description="The authenticated account (for an API key: the key's creator).")
    def viewer(self, info: Info) -> UserType:
        return UserType.of(info.context.viewer.user)
