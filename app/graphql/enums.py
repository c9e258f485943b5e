"""GraphQL enums: the model and domain enums themselves, registered with Strawberry (one
definition each), with a description of every value (tests/graphql/test_schema_contract.py holds
that none is missing). Import this module before using them in a schema type."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TypeVar

import strawberry

from app.domain.errors import UserErrorCode
from app.models import WebhookDeliveryStatus
from app.models.enums import (
    InsightKind,
    IntegrationStatus,
    MemberStatus,
    Plan,
    SubscriptionStatus,
    UserStatus,
)

E = TypeVar("E", bound=enum.Enum)


def register(
    cls: type[E],
    description: str,
    values: Mapping[E, str],
    deprecated: Mapping[E, str] | None = None,
) -> None:
    """``strawberry.enum(cls)`` with a description per value, and the reason of each
    deprecated one (the domain enums cannot use ``strawberry.enum_value``: app/domain
    never imports strawberry)."""
    strawberry.enum(cls, description=description)
    for value in cls.__strawberry_definition__.values:  # type: ignore[attr-defined]
        member = cls[value.name]
        value.description = values.get(member)
        value.deprecation_reason = (deprecated or {}).get(member)


register(
    UserStatus,
    "Whether an account can sign in.",
    {
        UserStatus.ACTIVE: "The account can sign in; its tokens and API keys are accepted.",
        UserStatus.DEACTIVATED: (
            "The account was deleted (deleteAccount): it belongs to no workspace and its "
            "tokens and keys are refused. It can still appear where its past shows, e.g. as "
            "a conversation's host."
        ),
    },
)
register(
    MemberStatus,
    "Whether a membership is active (deactivated members lose access).",
    {
        MemberStatus.ACTIVE: "A member with access to the workspace, through its role.",
        MemberStatus.DEACTIVATED: (
            "No access to the workspace (deactivateMember) until reactivateMember. The role "
            "and teams are kept; the API keys the member created were revoked."
        ),
    },
)
register(
    Plan,
    "Subscription plan of a workspace.",
    {
        Plan.FREE: "The free plan.",
        Plan.TEAM: "The paid plan for teams; `seats` says how many are paid for.",
        Plan.BUSINESS: "The paid plan for organizations; `seats` says how many are paid for.",
        Plan.ENTERPRISE: "A plan under an agreement with Harmony; `seats` as agreed.",
    },
)
register(
    SubscriptionStatus,
    "Billing state of a subscription. No state locks a workspace or its data.",
    {
        SubscriptionStatus.TRIALING: "On trial: the plan applies before its first payment.",
        SubscriptionStatus.ACTIVE: "Paid and current.",
        SubscriptionStatus.PAST_DUE: (
            "A payment is overdue; the plan still applies while billing collects it."
        ),
        SubscriptionStatus.CANCELED: (
            "Canceled (cancelSubscription; see `canceledAt`): nothing more is billed, and the "
            "workspace and all its data stay. Canceling again is `ALREADY_CANCELED`."
        ),
    },
)
register(
    IntegrationStatus,
    "State of a connected integration.",
    {
        IntegrationStatus.CONNECTED: (
            "Connected: `connectedAt` and `connectedBy` say when and by whom."
        ),
        IntegrationStatus.DISCONNECTED: (
            "Not connected (disconnectIntegration); connectIntegration connects it again."
        ),
        IntegrationStatus.ERROR: (
            "Connected once, but failing on the provider's side (e.g. access revoked "
            "there); connectIntegration connects it again."
        ),
    },
)
register(
    InsightKind,
    "What an insight describes.",
    {
        InsightKind.SUMMARY: "A summary of the conversation.",
        InsightKind.TOPIC: "A topic the conversation covered.",
        InsightKind.QUESTION: "A question raised in the conversation.",
        InsightKind.RISK: "A risk the conversation revealed (a deal, a customer, a deadline).",
    },
)
register(
    UserErrorCode,
    "Why a mutation refused its input. The mutation changed nothing; `message` says it "
    "for people and `field` points at the input at fault.",
    {
        UserErrorCode.NOT_FOUND: (
            "The target, or a role, team or member the input names, is not in the workspace "
            "or out of your reach (the two are answered alike); or the ID is not of a pending "
            "invitation addressed to you."
        ),
        UserErrorCode.ALREADY_MEMBER: (
            "addMember: a member of this workspace (whatever their status) has this e-mail."
        ),
        UserErrorCode.ALREADY_INVITED: (
            "addMember: this e-mail already has a pending invitation to this workspace."
        ),
        UserErrorCode.ACCOUNT_DEACTIVATED: "Not returned any more (deprecated).",
        UserErrorCode.INVALID_PERMISSION: (
            "A permission that is not in the catalogue (`resource:action:scope`)."
        ),
        UserErrorCode.ESCALATION: (
            "Granting, assigning or editing more than you hold yourself (a role's "
            "permissions, or a member whose role holds more than yours)."
        ),
        UserErrorCode.SOLE_ADMIN: (
            "The change would leave a workspace without an active Admin: make someone "
            "else Admin first."
        ),
        UserErrorCode.CONFIRMATION_MISMATCH: (
            "deleteAccount without the exact confirmation `DELETE`."
        ),
        UserErrorCode.BUILTIN_ROLE_IMMUTABLE: (
            "Editing the built-in Admin role, or renaming or deleting a built-in role."
        ),
        UserErrorCode.ROLE_IN_USE: (
            "Deleting a role someone still holds: give them another role first."
        ),
        UserErrorCode.NAME_TAKEN: (
            "A role or team of this workspace already has this name (case-insensitive)."
        ),
        UserErrorCode.INVALID_URL: (
            "Not an `https://` URL; for a webhook endpoint in production also one whose host "
            "resolves to a private, loopback, link-local or reserved address."
        ),
        UserErrorCode.INVALID_VALUE: (
            "A value the field does not accept: a blank name, a malformed e-mail, a colour "
            "not `#RRGGBB`, an unknown provider, control characters, …; `message` says which."
        ),
        UserErrorCode.TOO_LONG: "Longer than the field's documented limit.",
        UserErrorCode.ALREADY_CANCELED: "cancelSubscription on a subscription already CANCELED.",
    },
    deprecated={
        UserErrorCode.ACCOUNT_DEACTIVATED: (
            "No longer returned: addMember invites and never reveals whether an account "
            "exists. Nothing replaces it; stop matching on it."
        ),
    },
)

register(
    WebhookDeliveryStatus,
    "Where a webhook delivery stands.",
    {
        WebhookDeliveryStatus.PENDING: "Waiting for its next attempt (see `nextAttemptAt`), or being sent.",
        WebhookDeliveryStatus.SUCCEEDED: "The endpoint answered with a 2xx status.",
        WebhookDeliveryStatus.FAILED: (
            "Every attempt failed; `redeliverWebhook` queues the event again."
        ),
    },
)

__all__ = [
    "InsightKind",
    "IntegrationStatus",
    "MemberStatus",
    "Plan",
    "SubscriptionStatus",
    "UserErrorCode",
    "UserStatus",
    "WebhookDeliveryStatus",
]
