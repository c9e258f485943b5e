"""Input types of the conversations area (arguments of its Workspace fields)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.domain.conversations.repository import ConversationFilter
from app.graphql.ids import pk_of


@strawberry.input(description="Narrows `Workspace.conversations`; all given conditions must hold.")
class ConversationFilterInput:
    team_id: strawberry.ID | None = strawberry.field(default=None, description="Only this Team's.")
    host_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only hosted by this User."
    )
    from_: datetime | None = strawberry.field(
        default=None, name="from", description="Only those that started at or after this instant."
    )
    to: datetime | None = strawberry.field(
        default=None, description="Only those that started before this instant."
    )

    def to_domain(self) -> ConversationFilter:
        # `from` and `to` are instants with an offset (app.graphql.scalars.DateTime).
        return ConversationFilter(
            team_id=pk_of(self.team_id, "Team", "filter.teamId"),
            host_user_id=pk_of(self.host_id, "User", "filter.hostId"),
            occurred_from=self.from_,
            occurred_to=self.to,
        )
