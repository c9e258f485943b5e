"""updateGeneralSettings, updateIntelligenceSettings, connectIntegration,
disconnectIntegration, cancelSubscription."""

from __future__ import annotations

from typing import Any

import strawberry

from app.domain.errors import Refusal
from app.domain.settings import service
from app.domain.settings.service import UNCHANGED, GeneralChange, ProviderSetting
from app.domain.workspaces.repository import workspaces_by_ids
from app.graphql.context import Info
from app.graphql.mutations.base import Payload, UserError, change, mutation, target_workspace
from app.graphql.workspaces import IntegrationType, SubscriptionType, WorkspaceType


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

    def target(self) -> str:
        return self.workspace_id

    def target_type(self) -> str:
        return "Workspace"


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

    def target(self) -> str:
        return self.workspace_id

    def target_type(self) -> str:
        return "Workspace"


@strawberry.input(description="An integration of a workspace.")
class ConnectIntegrationInput:
    workspace_id: strawberry.ID = strawberry.field(description="The Workspace.")
    provider: str = strawberry.field(
        description="slack, salesforce, hubspot, zoom, google-calendar, microsoft-teams or zendesk."
    )

    def target(self) -> str:
        return self.workspace_id

    def target_type(self) -> str:
        return "Workspace"


@strawberry.input(description="An integration of a workspace.")
class DisconnectIntegrationInput(ConnectIntegrationInput):
    pass


@strawberry.input(description="Names the workspace whose subscription to cancel.")
class CancelSubscriptionInput:
    workspace_id: strawberry.ID = strawberry.field(description="The Workspace.")

    def target(self) -> str:
        return self.workspace_id

    def target_type(self) -> str:
        return "Workspace"


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


ORG_UPDATE, INTEL_UPDATE = "organization:update:all", "intelligence:update:all"
INTEGRATIONS_CREATE, INTEGRATIONS_DELETE, BILLING_UPDATE = (
    "integrations:create:all",
    "integrations:delete:all",
    "billing:update:all",
)


@strawberry.type
class SettingsMutations:
    @mutation("Update the organization's name, logo, handbook or branding.", ORG_UPDATE)
    async def update_general_settings(
        self,
        info: Info,
        input: UpdateGeneralSettingsInput,
    ) -> UpdateGeneralSettingsPayload:
        ws = await target_workspace(info.context, input)
        branding = input.branding or BrandingInput()
        delta = GeneralChange(
            name=input.name,
            logo_url=given(input.logo_url),
            handbook=input.handbook,
            primary_color=given(branding.primary_color),
            accent_color=given(branding.accent_color),
        )

        async def work(s: Any, actor: Any, ws: int) -> Any:
            workspace = (await workspaces_by_ids(s, [ws]))[0]
            return await service.update_general(s, workspace, actor, delta)

        result = await change(info, ws, ORG_UPDATE, work)
        if isinstance(result, Refusal):
            return UpdateGeneralSettingsPayload(user_errors=[UserError.of(result)])
        return UpdateGeneralSettingsPayload(workspace=WorkspaceType.of(result))

    @mutation("Update the AI provider catalogue and default model.", INTEL_UPDATE)
    async def update_intelligence_settings(
        self,
        info: Info,
        input: UpdateIntelligenceSettingsInput,
    ) -> UpdateIntelligenceSettingsPayload:
        ws = await target_workspace(info.context, input)
        providers = (
            [ProviderSetting(p.provider, p.enabled, p.models) for p in input.providers]
            if input.providers is not None
            else None
        )

        async def work(s: Any, actor: Any, ws: int) -> Any:
            await service.update_intelligence(
                s,
                ws,
                actor,
                default_model=given(input.default_model),
                providers=providers,
            )
            return (await workspaces_by_ids(s, [ws]))[0]

        result = await change(info, ws, INTEL_UPDATE, work)
        if isinstance(result, Refusal):
            return UpdateIntelligenceSettingsPayload(user_errors=[UserError.of(result)])
        return UpdateIntelligenceSettingsPayload(workspace=WorkspaceType.of(result))

    @mutation("Connect an integration (idempotent).", INTEGRATIONS_CREATE)
    async def connect_integration(
        self, info: Info, input: ConnectIntegrationInput
    ) -> ConnectIntegrationPayload:
        ws = await target_workspace(info.context, input)
        result = await change(
            info,
            ws,
            INTEGRATIONS_CREATE,
            lambda s, actor, ws: service.connect_integration(s, ws, actor, input.provider),
        )
        if isinstance(result, Refusal):
            return ConnectIntegrationPayload(user_errors=[UserError.of(result)])
        return ConnectIntegrationPayload(
            integration=IntegrationType(workspace_id=result.workspace_id, row=result)
        )

    @mutation("Disconnect an integration.", INTEGRATIONS_DELETE)
    async def disconnect_integration(
        self,
        info: Info,
        input: DisconnectIntegrationInput,
    ) -> DisconnectIntegrationPayload:
        ws = await target_workspace(info.context, input)
        result = await change(
            info,
            ws,
            INTEGRATIONS_DELETE,
            lambda s, actor, ws: service.disconnect_integration(s, ws, actor, input.provider),
        )
        if isinstance(result, Refusal):
            return DisconnectIntegrationPayload(user_errors=[UserError.of(result)])
        return DisconnectIntegrationPayload(
            integration=IntegrationType(workspace_id=result.workspace_id, row=result)
        )

    @mutation("Cancel the subscription. The workspace and all its data stay.", BILLING_UPDATE)
    async def cancel_subscription(
        self, info: Info, input: CancelSubscriptionInput
    ) -> CancelSubscriptionPayload:
        ws = await target_workspace(info.context, input)
        result = await change(
            info, ws, BILLING_UPDATE, lambda s, actor, ws: service.cancel_subscription(s, ws, actor)
        )
        if isinstance(result, Refusal):
            return CancelSubscriptionPayload(user_errors=[UserError.of(result)])
        return CancelSubscriptionPayload(
            subscription=SubscriptionType(workspace_id=result.workspace_id, row=result)
        )
