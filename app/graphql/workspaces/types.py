"""The ``Workspace`` type with its settings, billing and integrations, and the
workspace queries. Only the viewer's ACTIVE workspaces are ever reachable."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from app import models as tables
from app.domain.workspaces.repository import SettingsPages
from app.graphql.access.queries import AccessFields
from app.graphql.administration.types import AdministrationFields
from app.graphql.context import Info
from app.graphql.conversations.queries import ConversationFields
from app.graphql.directives import scoped_field
from app.graphql.enums import IntegrationStatus, Plan, SubscriptionStatus
from app.graphql.ids import encode_id
from app.graphql.invitations.types import InvitationType
from app.graphql.lookahead import selected
from app.graphql.node import Node, node_id
from app.graphql.pagination import (
    After,
    Before,
    Connection,
    First,
    Last,
    page_window,
    read_connection,
)
from app.graphql.users.types import UserType, provide_viewer_workspaces, user_or_none
from app.graphql.webhooks.types import WebhookFields
from app.models import pk
from app.models.rows import WorkspaceRow


@strawberry.type(description="Colours used to brand the workspace.")
class Branding:
    workspace_id: strawberry.Private[int]
    primary_color: str | None = scoped_field("Primary colour, #RRGGBB.")
    accent_color: str | None = scoped_field("Accent colour, #RRGGBB.")


@strawberry.type(
    description="Settings → General: the organization's name, logo, handbook and branding."
)
class GeneralSettings:
    workspace_id: strawberry.Private[int]
    name: str = scoped_field("Organization name shown across the app.")
    logo_url: str | None = scoped_field("Logo URL (https), if set.")
    # Not loaded with the workspace row at sign-in (it can be long): read when selected.
    handbook: str = scoped_field("The workspace handbook, in Markdown.")
    branding: Branding = scoped_field("Branding colours.")


@strawberry.type(description="An AI provider available to the workspace.")
class AIProvider:
    workspace_id: strawberry.Private[int]
    provider: str = scoped_field("Provider key, e.g. `openai`.")
    enabled: bool = scoped_field("Whether members may use this provider.")
    models: list[str] = scoped_field("Models offered by this provider.")


@strawberry.type(
    description="Settings → Intelligence: the AI provider catalogue and default model."
)
class IntelligenceSettings:
    workspace_id: strawberry.Private[int]
    default_model: str | None = scoped_field("Model used when none is chosen, if set.")
    providers: list[AIProvider] = scoped_field("AI providers, by provider key.")


@strawberry.type(description="The workspace's settings pages.")
class WorkspaceSettings:
    """Built whole by ``Workspace.settings`` (``settings_of``): its pages are plain fields,
    so an object plan completes the page in one pass (app/graphql/runtime/executor.py).
    A page the viewer may not read is None here, and its declared check answers it."""

    workspace_id: strawberry.Private[int]
    general: GeneralSettings | None = scoped_field("General settings.", "organization:read:all")
    intelligence: IntelligenceSettings | None = scoped_field(
        "Intelligence settings.", "intelligence:read:all"
    )


async def settings_of(
    info: Info, ws: int, row: WorkspaceRow | tables.Workspace
) -> WorkspaceSettings:
    """The settings pages the query selects and the viewer may read, from one statement
    at most (the handbook, the default model and the providers; the rest of General is
    on the workspace row authentication loaded)."""
    context = info.context
    general = selected(info, ("general",)) if context.allows(ws, "organization:read:all") else None
    intelligence = (
        selected(info, ("intelligence",)) if context.allows(ws, "intelligence:read:all") else None
    )
    handbook = general is not None and "handbook" in general
    models = intelligence is not None and bool(intelligence & {"defaultModel", "providers"})
    pages = (
        await context.repository(ws).settings.pages(handbook=handbook, intelligence=models)
        if handbook or models
        else SettingsPages()
    )
    return WorkspaceSettings(
        workspace_id=ws,
        general=None
        if general is None
        else GeneralSettings(
            workspace_id=ws,
            name=row.name,
            logo_url=row.logo_url,
            handbook=pages.handbook or "",
            branding=Branding(
                workspace_id=ws,
                primary_color=row.brand_primary_color,
                accent_color=row.brand_accent_color,
            ),
        ),
        intelligence=None
        if intelligence is None
        else IntelligenceSettings(
            workspace_id=ws,
            default_model=pages.default_model,
            providers=[
                AIProvider(
                    workspace_id=ws, provider=r.provider, enabled=r.enabled, models=list(r.models)
                )
                for r in pages.providers or []
            ],
        ),
    )


# The GraphQL name is not "Subscription": code generators and schema tools read a type of
# that name as the subscription root.
@strawberry.type(
    name="BillingSubscription",
    description="The workspace's plan and billing state. Billing is per workspace.",
)
class SubscriptionType:
    workspace_id: strawberry.Private[int]
    row: strawberry.Private[tables.Subscription]

    @scoped_field("Plan.")
    def plan(self) -> Plan:
        return self.row.plan

    @scoped_field("Billing status; CANCELED keeps the workspace and its data.")
    def status(self) -> SubscriptionStatus:
        return self.row.status

    @scoped_field("Paid seats.")
    def seats(self) -> int:
        return self.row.seats

    @scoped_field("End of the current billing period, if any.")
    def current_period_end(self) -> datetime | None:
        return self.row.current_period_end

    @scoped_field("When the subscription was canceled, if it was.")
    def canceled_at(self) -> datetime | None:
        return self.row.canceled_at


@strawberry.type(name="Integration", description="A connected app (Marketplace).")
class IntegrationType:
    workspace_id: strawberry.Private[int]
    row: strawberry.Private[tables.Integration]

    @scoped_field("Provider key, e.g. `slack`.")
    def provider(self) -> str:
        return self.row.provider

    @scoped_field("Connection state.")
    def status(self) -> IntegrationStatus:
        return self.row.status

    @scoped_field("When it was connected, if it is.")
    def connected_at(self) -> datetime | None:
        return self.row.connected_at

    @scoped_field("Who connected it.")
    async def connected_by(self, info: Info) -> UserType | None:
        uid = self.row.connected_by_user_id
        return user_or_none(await info.context.users.load(uid)) if uid is not None else None


@strawberry.type(
    name="Workspace",
    description="A sealed container of members, teams, roles, settings and conversations.",
)
class WorkspaceType(Node, AccessFields, ConversationFields, AdministrationFields, WebhookFields):
    row: strawberry.Private[WorkspaceRow | tables.Workspace]
    id: strawberry.ID = node_id("Workspace")
    slug: str = scoped_field("URL handle, unique across Harmony.")
    name: str = scoped_field("Organization name (the switcher shows it).")
    logo_url: str | None = scoped_field("Logo URL, if set.")

    @classmethod
    def of(cls, row: WorkspaceRow | tables.Workspace) -> WorkspaceType:
        return cls(
            row=row,
            id=strawberry.ID(encode_id("Workspace", pk(row))),
            slug=row.slug,
            name=row.name,
            logo_url=row.logo_url,
        )

    @property
    def workspace_id(self) -> int:
        assert self.row.id is not None
        return self.row.id

    @scoped_field("Settings pages; each page declares its own permission.")
    async def settings(self, info: Info) -> WorkspaceSettings:
        return await settings_of(info, self.workspace_id, self.row)

    @scoped_field("Plan and billing state.", "billing:read:all")
    async def subscription(self, info: Info) -> SubscriptionType | None:
        row = await info.context.repository(self.workspace_id).settings.subscription()
        return SubscriptionType(workspace_id=self.workspace_id, row=row) if row else None

    @scoped_field(
        "Pending invitations (addMember), oldest first (keyset-paged); an accepted, declined "
        "or revoked one is gone.",
        "members:read:all",
    )
    async def invitations(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[InvitationType] | None:
        invitations = info.context.repository(self.workspace_id).invitations
        return await read_connection(
            invitations,
            page_window(first, after, last, before, (int,), kind="Invitation"),
            invitations.page,
            invitations.count,
            lambda page: [InvitationType.of(v) for v in page.items],
            kind="Invitation",
        )

    @scoped_field("Integrations, by provider key.", "integrations:read:all")
    async def integrations(self, info: Info) -> list[IntegrationType] | None:
        rows = await info.context.repository(self.workspace_id).settings.integrations()
        return [IntegrationType(workspace_id=self.workspace_id, row=r) for r in rows]


async def viewer_workspaces(info: Info) -> list[WorkspaceType]:
    """From the memberships authentication loaded: no statement."""
    viewer = info.context.viewer
    return [WorkspaceType.of(viewer.memberships[w].workspace) for w in viewer.workspace_ids]


provide_viewer_workspaces(viewer_workspaces)  # User.workspaces (app.graphql.users.types)


@strawberry.type
class WorkspaceQueries:
    @strawberry.field(description="The viewer's workspaces (ACTIVE memberships), in id order.")
    async def workspaces(self, info: Info) -> list[WorkspaceType]:
        return await viewer_workspaces(info)

    @strawberry.field(
        description=(
            "A workspace by slug. A workspace the viewer does not belong to answers exactly "
            "like one that does not exist: null."
        )
    )
    async def workspace(
        self,
        info: Info,
        slug: Annotated[
            str, strawberry.argument(description="The workspace's URL handle (`Workspace.slug`).")
        ],
    ) -> WorkspaceType | None:
        # Only among the viewer's memberships (loaded by authentication): no statement, and
        # a workspace the viewer does not belong to is simply not there.
        for membership in info.context.viewer.memberships.values():
            if membership.workspace.slug == slug:
                return WorkspaceType.of(membership.workspace)
        return None
