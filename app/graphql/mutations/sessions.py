"""signOutEverywhere: the viewer ends every session of their account."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from app.domain.users.service import sign_out_everywhere
from app.graphql.context import Info
from app.graphql.mutations.account import UserTokenGuard
from app.graphql.mutations.base import Payload, in_unit_of_work


@strawberry.type(description="Result of signOutEverywhere.")
class SignOutEverywherePayload(Payload):
    signed_out_at: datetime | None = strawberry.field(
        default=None,
        description=(
            "User tokens issued at or before this instant are refused from now on, the one "
            "that sent this request included."
        ),
    )


@strawberry.type
class SessionMutations:
    @strawberry.mutation(
        description=(
            "Sign out everywhere: every user token of your account issued until now is refused "
            "(UNAUTHENTICATED) from the next request on; sign in again for a new one. API keys "
            "are not sessions: revoke them with revokeApiKey. Operators: `python -m app "
            "sign-out EMAIL`."
        ),
        extensions=[UserTokenGuard()],
    )
    async def sign_out_everywhere(self, info: Info) -> SignOutEverywherePayload:
        user_id = info.context.viewer.user_id

        async def work(session: Any, _actors: Any) -> datetime:
            return await sign_out_everywhere(session, user_id)

        # No workspace is locked or changed: the account is not a workspace's row.
        signed_out_at = await in_unit_of_work(info, (), None, work)
        assert isinstance(signed_out_at, datetime)  # the change has no refusal
        return SignOutEverywherePayload(signed_out_at=signed_out_at)
