"""SQLModel tables, one module per aggregate. Importing this registers them all."""

from typing import Any

from sqlmodel import SQLModel

# Deterministic constraint names, so migrations can address them on both engines.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# ruff: noqa: E402  (the convention must be set before the tables are declared)

from app.models.access import Member, Role, RolePermission, Team, TeamMember
from app.models.api_keys import ApiKey, ApiKeySecret
from app.models.audit import AuditEvent
from app.models.conversations import (
    ActionItem,
    Conversation,
    ConversationInsight,
    ConversationParticipant,
    ConversationTranscript,
    ShareLink,
)
from app.models.enums import (
    BuiltinRole,
    InsightKind,
    IntegrationStatus,
    MemberStatus,
    Plan,
    SubscriptionStatus,
    UserStatus,
)
from app.models.invitations import Invitation
from app.models.operator import OperatorAuditRecord
from app.models.users import User
from app.models.webhooks import (
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookDeliveryStatus,
    WebhookEndpoint,
)
from app.models.workspaces import (
    AIProvider,
    Integration,
    IntelligenceSettings,
    Subscription,
    Workspace,
)


def pk(row: Any) -> int:
    """The primary key of a persisted row (SQLModel types ``id`` as optional)."""
    value = row.id
    assert value is not None, f"{type(row).__name__} is not persisted"
    return int(value)


# Tables that carry workspace_id (row-level security applies to each; `workspaces`
# itself is keyed by its own id). Not `operator_audit`: it names workspaces but belongs
# to none, and must outlive the one it describes (app/models/operator.py).
TENANT_TABLES: tuple[str, ...] = (
    "workspaces",
    "intelligence_settings",
    "ai_providers",
    "subscriptions",
    "integrations",
    "roles",
    "role_permissions",
    "members",
    "teams",
    "team_members",
    "conversations",
    "conversation_participants",
    "conversation_transcripts",
    "conversation_insights",
    "action_items",
    "share_links",
    "api_keys",
    "api_key_secrets",
    "audit_events",
    "invitations",
    "webhook_endpoints",
    "webhook_deliveries",
    "webhook_delivery_attempts",
)

__all__ = [
    "TENANT_TABLES",
    "AIProvider",
    "ActionItem",
    "ApiKey",
    "ApiKeySecret",
    "AuditEvent",
    "BuiltinRole",
    "Conversation",
    "ConversationInsight",
    "ConversationParticipant",
    "ConversationTranscript",
    "InsightKind",
    "Integration",
    "IntegrationStatus",
    "IntelligenceSettings",
    "Invitation",
    "Member",
    "MemberStatus",
    "OperatorAuditRecord",
    "Plan",
    "Role",
    "RolePermission",
    "ShareLink",
    "Subscription",
    "SubscriptionStatus",
    "Team",
    "TeamMember",
    "User",
    "UserStatus",
    "WebhookDelivery",
    "WebhookDeliveryAttempt",
    "WebhookDeliveryStatus",
    "WebhookEndpoint",
    "Workspace",
    "pk",
]
