"""Accounts: the ``User`` type and ``Query.viewer``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from app import models as tables
from app.graphql.context import Info
from app.graphql.enums import UserStatus
from app.graphql.node import Node, node_id

if TYPE_CHECKING:
    from app.graphql.workspaces import WorkspaceType


@strawberry.type(
    name="User", description="A person's Harmony account, shared by all their workspaces."
)
class UserType(Node):
    row: strawberry.Private[tables.User]
    id: strawberry.ID = node_id("User", workspace_scoped=False)

    @strawberry.field(description="Email address (unique, case-insensitively).")
    def email(self) -> str:
        return self.row.email

    @strawberry.field(description="Display name.")
    def name(self) -> str:
        return self.row.name

    @strawberry.field(description="Avatar image URL, if set.")
    def avatar_url(self) -> str | None:
        return self.row.avatar_url

    @strawberry.field(description="ACTIVE, or DEACTIVATED once the account was deleted.")
    def status(self) -> UserStatus:
        return self.row.status

    @strawberry.field(description="When the account was created.")
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field(
        description=(
            "Workspaces where this account has an ACTIVE membership, in id order. Listed for "
            "the viewer only: for any other user the list is empty."
        )
    )
    async def workspaces(
        self, info: Info
    ) -> list[Annotated[WorkspaceType, strawberry.lazy("app.graphql.workspaces")]]:
        from app.graphql.workspaces import viewer_workspaces

        if self.row.id != info.context.viewer.user_id:
            return []
        return await viewer_workspaces(info)


def user_or_none(row: tables.User | None) -> UserType | None:
    return UserType(row=row) if row is not None else None


@strawberry.type
class UserQueries:
    @strawberry.field(description="The authenticated account (for an API key: the key's creator).")
    def viewer(self, info: Info) -> UserType:
        return UserType(row=info.context.viewer.user)
