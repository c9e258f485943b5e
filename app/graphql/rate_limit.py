"""``Query.rateLimit``: the operation's cost and the caller's budget, as fields (the same
figures every response carries in ``extensions.cost``; see docs/limits.md)."""

from __future__ import annotations

import strawberry

from app.graphql.context import Info


@strawberry.type(description="A rate-limit bucket after this operation's charge.")
class ThrottleStatus:
    maximum_available: int = strawberry.field(description="Points a full bucket holds.")
    currently_available: int = strawberry.field(
        description="Points left after this operation was charged."
    )
    restore_rate: float = strawberry.field(description="Points restored per second.")


@strawberry.type(description="What this operation costs and what the caller has left.")
class RateLimit:
    requested_query_cost: int = strawberry.field(
        description="The operation's estimated cost, charged before it ran."
    )
    throttle_status: ThrottleStatus = strawberry.field(
        description="The caller's bucket (per API key, or per user for user tokens)."
    )


@strawberry.type
class RateLimitQueries:
    @strawberry.field(
        description=(
            "This operation's cost and the caller's rate-limit budget (also in every "
            "response's extensions.cost)."
        )
    )
    def rate_limit(self, info: Info) -> RateLimit:
        cost = info.context.cost
        assert cost is not None, "set by the request pipeline before execution"
        requested, status = cost
        return RateLimit(
            requested_query_cost=requested,
            throttle_status=ThrottleStatus(
                maximum_available=status.maximum_available,
                currently_available=status.currently_available,
                restore_rate=status.restore_rate,
            ),
        )
