"""GraphQL enums: the model enums themselves, registered with Strawberry (one
definition each). Import this module before using them in a schema type."""

from __future__ import annotations

import strawberry

from app.models.enums import (
    InsightKind,
    IntegrationStatus,
    MemberStatus,
    Plan,
    SubscriptionStatus,
    UserStatus,
)

strawberry.enum(UserStatus, description="Whether an account can sign in.")
strawberry.enum(
    MemberStatus, description="Whether a membership is active (deactivated members lose access)."
)
strawberry.enum(Plan, description="Subscription plan of a workspace.")
strawberry.enum(SubscriptionStatus, description="Billing state of a subscription.")
strawberry.enum(IntegrationStatus, description="State of a connected integration.")
strawberry.enum(InsightKind, description="What an insight describes.")

__all__ = [
    "InsightKind",
    "IntegrationStatus",
    "MemberStatus",
    "Plan",
    "SubscriptionStatus",
    "UserStatus",
]
