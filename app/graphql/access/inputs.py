"""Input types of the access area (arguments of its Workspace fields)."""

from __future__ import annotations

import strawberry

from app.domain.members.repository import MemberFilter
from app.graphql.enums import MemberStatus
from app.graphql.errors import BadUserInput
from app.graphql.ids import pk_of


@strawberry.input(description="Narrows `Workspace.members`; all given conditions must hold.")
class MemberFilterInput:
    status: MemberStatus | None = strawberry.field(default=None, description="Only this status.")
    role_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only holders of this Role."
    )
    team_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only members of this Team."
    )
    search: str | None = strawberry.field(
        default=None,
        description="Case-insensitive substring of the user's name or email (max 100).",
    )

    def to_domain(self) -> MemberFilter:
        if self.search is not None and len(self.search) > 100:
            raise BadUserInput(
                "`filter.search` is limited to 100 characters.", argument="filter.search"
            )
        return MemberFilter(
            status=self.status,
            role_id=pk_of(self.role_id, "Role", "filter.roleId"),
            team_id=pk_of(self.team_id, "Team", "filter.teamId"),
            search=self.search.strip() or None if self.search else None,
        )
