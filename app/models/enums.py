"""Enumerations shared by the tables and the GraphQL schema."""

from __future__ import annotations

import enum


class UserStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    DEACTIVATED = "DEACTIVATED"


class MemberStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    DEACTIVATED = "DEACTIVATED"


class BuiltinRole(enum.StrEnum):
    ADMIN = "ADMIN"
    MEMBER = "MEMBER"


class Plan(enum.StrEnum):
    FREE = "FREE"
    TEAM = "TEAM"
    BUSINESS = "BUSINESS"
    ENTERPRISE = "ENTERPRISE"


class SubscriptionStatus(enum.StrEnum):
    TRIALING = "TRIALING"
    ACTIVE = "ACTIVE"
    PAST_DUE = "PAST_DUE"
    CANCELED = "CANCELED"


class IntegrationStatus(enum.StrEnum):
    CONNECTED = "CONNECTED"
    DISCONNECTED = "DISCONNECTED"
    ERROR = "ERROR"


class InsightKind(enum.StrEnum):
    SUMMARY = "SUMMARY"
    TOPIC = "TOPIC"
    QUESTION = "QUESTION"
    RISK = "RISK"
