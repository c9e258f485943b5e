"""signOutEverywhere: the viewer ends every session of their account."""

from __future__ import annotations

from datetime import datetime

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.users.service import sign_out_everywhere
from app.graphql.context import Info
from app.graphql.mutation import Payload, in_unit_of_work, own_mutation


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
    @own_mutation(
        "Sign out everywhere: every user token of your account issued until now is refused "
        "(UNAUTHENTICATED) from the next request on; sign in again for a new one. API keys "
        "are not sessions: revoke them with revokeApiKey. Operators: `python -m app "
        "sign-out EMAIL`."
    )
    async def sign_out_everywhere(self, info: Info) -> SignOutEverywherePayload:
        user_id = info.context.viewer.user_id

        async def work(session: AsyncSession, _actors: object) -> datetime:
            return await sign_out_everywhere(session, user_id)

        # No workspace is locked or changed: the account is not a workspace's row.
        return SignOutEverywherePayload(signed_out_at=await in_unit_of_work(info, (), work))
