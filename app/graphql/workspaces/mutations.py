"""updateGeneralSettings, updateIntelligenceSettings, connectIntegration,
disconnectIntegration, cancelSubscription."""

from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.actor import Actor
from app.domain.settings import service
from app.domain.settings.service import UNCHANGED, GeneralChange, ProviderSetting
from app.domain.workspaces.repository import workspaces_by_ids
from app.graphql.context import Info
from app.graphql.mutation import WORKSPACE, Payload, change, mutation
from app.graphql.workspaces.types import IntegrationType, SubscriptionType, WorkspaceType
from app.models import Workspace


def given(value: Any) -> Any:
    """Strawberry's UNSET (argument omitted) becomes the service's UNCHANGED."""
    return UNCHANGED if value is strawberry.UNSET else value


@strawberry.input(description="Branding colours; omit one to keep it, null to clear it.")
class BrandingInput:
    primary_color: str | None = strawberry.field(default=strawberry.UNSET, description="#RRGGBB.")
    accent_color: str | None = strawberry.field(default=strawberry.UNSET, description="#RRGGBB.")


@strawberry.input(description="Settings → General. Omitted fields stay as they are.")
class UpdateGeneralSettingsInput:
    workspace_id: strawberry.ID = strawberry.field(description="The Workspace.")
    name: str | None = strawberry.field(
        default=None, description="Organization name, 1-100 characters."
    )
    logo_url: str | None = strawberry.field(
        default=strawberry.UNSET, description="An https:// URL; null clears it."
    )
    handbook: str | None = strawberry.field(
        default=None, description="Markdown, at most 100,000 characters."
    )
    branding: BrandingInput | None = strawberry.field(default=None, description="Branding colours.")


@strawberry.input(description="An AI provider's setting.")
class AIProviderInput:
    provider: str = strawberry.field(
        description="openai, anthropic, google, mistral or azure-openai."
    )
    enabled: bool = strawberry.field(description="Whether members may use it.")
    models: list[str] = strawberry.field(description="Models offered (at most 50).")


@strawberry.input(description="Settings → Intelligence. Omitted fields stay as they are.")
class UpdateIntelligenceSettingsInput:
    workspace_id: strawberry.ID = strawberry.field(description="The Workspace.")
    default_model: str | None = strawberry.field(
        default=strawberry.UNSET, description="A model of an enabled provider; null clears it."
    )
    providers: list[AIProviderInput] | None = strawberry.field(
        default=None, description="Providers to add or update (others stay as they are)."
    )


@strawberry.input(description="An integration of a workspace.")
class ConnectIntegrationInput:
    workspace_id: strawberry.ID = strawberry.field(description="The Workspace.")
    provider: str = strawberry.field(
        description="slack, salesforce, hubspot, zoom, google-calendar, microsoft-teams or zendesk."
    )


@strawberry.input(description="An integration of a workspace.")
class DisconnectIntegrationInput(ConnectIntegrationInput):
    pass


@strawberry.input(description="Names the workspace whose subscription to cancel.")
class CancelSubscriptionInput:
    workspace_id: strawberry.ID = strawberry.field(description="The Workspace.")


@strawberry.type(description="Result of updateGeneralSettings.")
class UpdateGeneralSettingsPayload(Payload):
    workspace: WorkspaceType | None = strawberry.field(
        default=None, description="The workspace as it now is."
    )


@strawberry.type(description="Result of updateIntelligenceSettings.")
class UpdateIntelligenceSettingsPayload(UpdateGeneralSettingsPayload):
    pass


@strawberry.type(description="Result of connectIntegration.")
class ConnectIntegrationPayload(Payload):
    integration: IntegrationType | None = strawberry.field(
        default=None, description="The integration as it now is."
    )


@strawberry.type(description="Result of disconnectIntegration.")
class DisconnectIntegrationPayload(ConnectIntegrationPayload):
    pass


@strawberry.type(description="Result of cancelSubscription.")
class CancelSubscriptionPayload(Payload):
    subscription: SubscriptionType | None = strawberry.field(
        default=None, description="The subscription now."
    )


@strawberry.type
class SettingsMutations:
    @mutation(
        "Update the organization's name, logo, handbook or branding.",
        permission="organization:update:all",
        target=WORKSPACE,
    )
    async def update_general_settings(
        self,
        info: Info,
        input: UpdateGeneralSettingsInput,
    ) -> UpdateGeneralSettingsPayload:
        branding = input.branding or BrandingInput()
        delta = GeneralChange(
            name=input.name,
            logo_url=given(input.logo_url),
            handbook=input.handbook,
            primary_color=given(branding.primary_color),
            accent_color=given(branding.accent_color),
        )

        async def work(s: AsyncSession, actor: Actor, ws: int, _: int) -> Workspace:
            workspace = (await workspaces_by_ids(s, [ws]))[0]
            return await service.update_general(s, workspace, actor, delta)

        return UpdateGeneralSettingsPayload(workspace=WorkspaceType.of(await change(info, work)))

    @mutation(
        "Update the AI provider catalogue and default model.",
        permission="intelligence:update:all",
        target=WORKSPACE,
    )
    async def update_intelligence_settings(
        self,
        info: Info,
        input: UpdateIntelligenceSettingsInput,
    ) -> UpdateIntelligenceSettingsPayload:
        providers = (
            [ProviderSetting(p.provider, p.enabled, p.models) for p in input.providers]
            if input.providers is not None
            else None
        )

        async def work(s: AsyncSession, actor: Actor, ws: int, _: int) -> Workspace:
            await service.update_intelligence(
                s,
                ws,
                actor,
                default_model=given(input.default_model),
                providers=providers,
            )
            return (await workspaces_by_ids(s, [ws]))[0]

        workspace = await change(info, work)
        return UpdateIntelligenceSettingsPayload(workspace=WorkspaceType.of(workspace))

    @mutation(
        "Connect an integration (idempotent).",
        permission="integrations:create:all",
        target=WORKSPACE,
    )
    async def connect_integration(
        self, info: Info, input: ConnectIntegrationInput
    ) -> ConnectIntegrationPayload:
        row = await change(
            info,
            lambda s, actor, ws, _: service.connect_integration(s, ws, actor, input.provider),
        )
        return ConnectIntegrationPayload(
            integration=IntegrationType(workspace_id=row.workspace_id, row=row)
        )

    @mutation(
        "Disconnect an integration.",
        permission="integrations:delete:all",
        target=WORKSPACE,
    )
    async def disconnect_integration(
        self,
        info: Info,
        input: DisconnectIntegrationInput,
    ) -> DisconnectIntegrationPayload:
        row = await change(
            info,
            lambda s, actor, ws, _: service.disconnect_integration(s, ws, actor, input.provider),
        )
        return DisconnectIntegrationPayload(
            integration=IntegrationType(workspace_id=row.workspace_id, row=row)
        )

    @mutation(
        "Cancel the subscription. The workspace and all its data stay.",
        permission="billing:update:all",
        target=WORKSPACE,
    )
    async def cancel_subscription(
        self, info: Info, input: CancelSubscriptionInput
    ) -> CancelSubscriptionPayload:
        row = await change(info, lambda s, actor, ws, _: service.cancel_subscription(s, ws, actor))
        return CancelSubscriptionPayload(
            subscription=SubscriptionType(workspace_id=row.workspace_id, row=row)
        )
