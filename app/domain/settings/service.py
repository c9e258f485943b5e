"""General and intelligence settings, integrations and the subscription."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.types import utcnow
from app.domain.actor import Actor
from app.domain.changes import record_change
from app.domain.errors import Checks, Refusal, UserErrorCode
from app.domain.validation import check_characters, check_text
from app.domain.workspaces import repository as workspaces
from app.models import (
    AIProvider,
    Integration,
    IntegrationStatus,
    IntelligenceSettings,
    Subscription,
    SubscriptionStatus,
    Workspace,
)

NAME_MAX = 100
URL_MAX = 2048
HANDBOOK_MAX = 100_000  # characters of Markdown
COLOR_RE = re.compile(r"^#[0-9A-Fa-f]{6}$")
MODEL_MAX = 100

# Apps a workspace can connect (Marketplace catalogue).
INTEGRATION_PROVIDERS = frozenset(
    {"slack", "salesforce", "hubspot", "zoom", "google-calendar", "microsoft-teams", "zendesk"}
)
AI_PROVIDERS = frozenset({"openai", "anthropic", "google", "mistral", "azure-openai"})

UNCHANGED = object()  # marks "not given" where None means "clear"


@dataclass(frozen=True, slots=True)
class GeneralChange:
    name: str | None = None
    logo_url: object = UNCHANGED  # str | None
    handbook: str | None = None
    primary_color: object = UNCHANGED  # str | None
    accent_color: object = UNCHANGED  # str | None


@dataclass(frozen=True, slots=True)
class ProviderSetting:
    provider: str
    enabled: bool
    models: Sequence[str]


def _check_url(value: str, field: str) -> str:
    value = value.strip()
    if len(value) > URL_MAX:
        raise Refusal(
            UserErrorCode.TOO_LONG,
            f"`{field}` is limited to {URL_MAX} characters.",
            ["input", field],
        )
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.netloc or any(c.isspace() for c in value):
        raise Refusal(
            UserErrorCode.INVALID_URL, f"`{field}` must be an https:// URL.", ["input", field]
        )
    return value


def _check_handbook(value: str) -> str:
    if len(value) > HANDBOOK_MAX:
        raise Refusal(
            UserErrorCode.TOO_LONG,
            f"The handbook is limited to {HANDBOOK_MAX} characters.",
            ["input", "handbook"],
        )
    return check_characters(value, ["input", "handbook"], multiline=True)


def _check_color(value: object, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not COLOR_RE.match(value):
        raise Refusal(
            UserErrorCode.INVALID_VALUE,
            "Colours are #RRGGBB hex values.",
            ["input", "branding", field],
        )
    return value.upper()


async def update_general(
    session: AsyncSession, workspace: Workspace, actor: Actor, change: GeneralChange
) -> Workspace:
    ws = workspace.id
    assert ws is not None
    checks = Checks()
    updates: dict[str, object] = {}
    if change.name is not None:
        updates["name"] = checks.value(check_text, change.name, "name", NAME_MAX, required=True)
    if change.logo_url is not UNCHANGED:
        updates["logo_url"] = (
            checks.value(_check_url, change.logo_url, "logoUrl")
            if isinstance(change.logo_url, str)
            else None
        )
    if change.handbook is not None:
        updates["handbook"] = checks.value(_check_handbook, change.handbook)
    if change.primary_color is not UNCHANGED:
        updates["brand_primary_color"] = checks.run(
            _check_color, change.primary_color, "primaryColor"
        )
    if change.accent_color is not UNCHANGED:
        updates["brand_accent_color"] = checks.run(_check_color, change.accent_color, "accentColor")
    checks.done()
    summary = {
        k: {"before": getattr(workspace, k), "after": v}
        for k, v in updates.items()
        if getattr(workspace, k) != v
    }
    if summary:
        for k in summary:
            setattr(workspace, k, updates[k])
        session.add(workspace)
        if "handbook" in summary:  # the log keeps sizes, not whole documents
            summary["handbook"] = {
                "beforeLength": len(str(summary["handbook"]["before"])),
                "afterLength": len(change.handbook or ""),
            }
        await record_change(session, actor, ws, "settings.general_updated", workspace, summary)
    return workspace


async def update_intelligence(
    session: AsyncSession,
    workspace_id: int,
    actor: Actor,
    *,
    default_model: object = UNCHANGED,
    providers: Sequence[ProviderSetting] | None = None,
) -> None:
    current = {p.provider: p for p in await workspaces.ai_providers(session, workspace_id)}
    checks = Checks()
    summary: dict[str, object] = {}
    offered = {p.provider: (p.enabled, list(p.models)) for p in current.values()}
    changed: list[tuple[str, bool, list[str]]] = []
    if providers is not None:
        seen: set[str] = set()
        for i, p in enumerate(providers):
            at: list[str | int] = ["input", "providers", i]
            if p.provider not in AI_PROVIDERS:
                checks.add(
                    Refusal(
                        UserErrorCode.INVALID_VALUE,
                        f"Unknown AI provider {p.provider}.",
                        [*at, "provider"],
                    )
                )
            elif p.provider in seen:
                checks.add(
                    Refusal(
                        UserErrorCode.INVALID_VALUE,
                        f"{p.provider} is listed twice.",
                        [*at, "provider"],
                    )
                )
            seen.add(p.provider)
            models = [m.strip() for m in p.models]
            if any(not m or len(m) > MODEL_MAX for m in models) or len(models) > 50:
                checks.add(
                    Refusal(
                        UserErrorCode.INVALID_VALUE,
                        "Model names are 1-100 characters, at most 50.",
                        [*at, "models"],
                    )
                )
            for model in models:
                checks.run(check_characters, model, [*at, "models"])
            if not checks.refused("providers", i):
                changed.append((p.provider, p.enabled, sorted(set(models))))
                offered[p.provider] = (p.enabled, models)
        summary["providers"] = {
            p.provider: {"enabled": p.enabled, "models": sorted(set(p.models))} for p in providers
        }
    # What the providers would offer once changed (the valid ones among those sent).
    available = {m for enabled, models in offered.values() if enabled for m in models}
    settings = await workspaces.intelligence_settings(
        session, workspace_id
    ) or IntelligenceSettings(workspace_id=workspace_id)
    if default_model is not UNCHANGED:
        if default_model is not None and default_model not in available:
            checks.add(
                Refusal(
                    UserErrorCode.INVALID_VALUE,
                    "The default model must be offered by an enabled provider.",
                    ["input", "defaultModel"],
                )
            )
        if default_model != settings.default_model:
            summary["defaultModel"] = {"before": settings.default_model, "after": default_model}
            new_default = default_model if isinstance(default_model, str) else None
    elif (
        settings.default_model is not None
        and providers is not None
        and settings.default_model not in available
    ):
        checks.add(
            Refusal(
                UserErrorCode.INVALID_VALUE,
                "This would disable the default model: choose another first.",
                ["input", "providers"],
            )
        )
    checks.done()
    for provider, enabled, models in changed:
        row = current.get(provider) or AIProvider(workspace_id=workspace_id, provider=provider)
        row.enabled, row.models = enabled, models
        session.add(row)
    if "defaultModel" in summary:
        settings.default_model = new_default
    if summary:
        settings.updated_at = utcnow()
        session.add(settings)
        await record_change(
            session,
            actor,
            workspace_id,
            "settings.intelligence_updated",
            ("Workspace", workspace_id),
            summary,
        )


async def connect_integration(
    session: AsyncSession, workspace_id: int, actor: Actor, provider: str
) -> Integration:
    if provider not in INTEGRATION_PROVIDERS:
        raise Refusal(
            UserErrorCode.INVALID_VALUE, f"Unknown integration {provider}.", ["input", "provider"]
        )
    row = await workspaces.integration_by_provider(session, workspace_id, provider) or Integration(
        workspace_id=workspace_id, provider=provider, status=IntegrationStatus.DISCONNECTED
    )
    if row.status == IntegrationStatus.CONNECTED:
        return row
    row.status, row.connected_at, row.connected_by_user_id = (
        IntegrationStatus.CONNECTED,
        utcnow(),
        actor.user_id,
    )
    session.add(row)
    await record_change(
        session, actor, workspace_id, "integration.connected", row, {"provider": provider}
    )
    return row


async def disconnect_integration(
    session: AsyncSession, workspace_id: int, actor: Actor, provider: str
) -> Integration:
    row = await workspaces.integration_by_provider(session, workspace_id, provider)
    if row is None or row.status == IntegrationStatus.DISCONNECTED:
        raise Refusal(
            UserErrorCode.NOT_FOUND, f"{provider} is not connected.", ["input", "provider"]
        )
    row.status = IntegrationStatus.DISCONNECTED
    session.add(row)
    await record_change(
        session, actor, workspace_id, "integration.disconnected", row, {"provider": provider}
    )
    return row


def stop_billing(row: Subscription) -> SubscriptionStatus:
    """What cancelling does to a subscription, whoever cancels it (a billing admin's
    ``cancelSubscription``, an operator deleting the workspace): CANCELED as of now.
    Returns the status it had."""
    before = row.status
    row.status, row.canceled_at = SubscriptionStatus.CANCELED, utcnow()
    return before


async def cancel_subscription(
    session: AsyncSession, workspace_id: int, actor: Actor
) -> Subscription:
    """Billing stops; the workspace and all its data stay."""
    row = await workspaces.subscription(session, workspace_id)
    if row is None:
        raise Refusal(
            UserErrorCode.NOT_FOUND, "This workspace has no subscription.", ["input", "workspaceId"]
        )
    if row.status == SubscriptionStatus.CANCELED:
        raise Refusal(
            UserErrorCode.ALREADY_CANCELED,
            "The subscription is already canceled.",
            ["input", "workspaceId"],
        )
    before = stop_billing(row)
    session.add(row)
    await record_change(
        session,
        actor,
        workspace_id,
        "subscription.canceled",
        ("Workspace", workspace_id),
        {"status": {"before": before.value, "after": "CANCELED"}, "plan": row.plan.value},
    )
    return row
