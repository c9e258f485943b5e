"""Workspace administration fields: API keys, the audit log, the admin-count advisory,
``viewerCan…`` booleans; and share links (``Query.shareLink``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from app import models as tables
from app.domain.audit import AuditFilter
from app.graphql.capabilities import ViewerCapabilities
from app.graphql.context import Info
from app.graphql.conversations.types import ShareLinkType
from app.graphql.directives import scoped_field
from app.graphql.ids import encode_id, pk_of
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
from app.graphql.users.types import UserType, user_or_none
from app.models import pk

API_KEYS_READ = "api_keys:read:all"


@strawberry.type(name="ApiKey", description="A partner integration's key, bound to this workspace.")
class ApiKeyType(Node):
    row: strawberry.Private[tables.ApiKey]
    id: strawberry.ID = node_id("ApiKey")

    @classmethod
    def of(cls, row: tables.ApiKey) -> ApiKeyType:
        return cls(row=row, id=strawberry.ID(encode_id("ApiKey", pk(row))))

    @property
    def workspace_id(self) -> int:
        return self.row.workspace_id

    @scoped_field("Label given at creation.")
    def name(self) -> str:
        return self.row.name

    @scoped_field("Public part of the secret (hmy_<prefix>_…), to recognise the key.")
    def prefix(self) -> str:
        return self.row.prefix

    @scoped_field("What the key may do (never more than its creator holds at the time of use).")
    def permissions(self) -> list[str]:
        return list(self.row.permissions)

    @scoped_field("Who created it.")
    async def created_by(self, info: Info) -> UserType | None:
        return user_or_none(await info.context.users.load(self.row.created_by_user_id))

    @scoped_field("When it was created.")
    def created_at(self) -> datetime:
        return self.row.created_at

    @scoped_field("Last authentication with it (to the minute), if any.")
    def last_used_at(self) -> datetime | None:
        return self.row.last_used_at

    @scoped_field("When it stops working, if it expires.")
    def expires_at(self) -> datetime | None:
        return self.row.expires_at

    @scoped_field("When it was revoked, if it was.")
    def revoked_at(self) -> datetime | None:
        return self.row.revoked_at


@strawberry.type(name="AuditEvent", description="A change made in the workspace, recorded with it.")
class AuditEventType:
    row: strawberry.Private[tables.AuditEvent]

    @property
    def workspace_id(self) -> int:
        return self.row.workspace_id

    @scoped_field(
        "The event's own ID: stable, unique, opaque (not a Node: `node(id:)` does not "
        "resolve it). A poller drops the events it has seen by it."
    )
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("AuditEvent", pk(self.row)))

    @scoped_field("What happened, e.g. member.role_changed or account.deleted.")
    def action(self) -> str:
        return self.row.action

    @scoped_field("Who did it (for an API key: its creator).")
    async def actor(self, info: Info) -> UserType | None:
        uid = self.row.actor_user_id
        return user_or_none(await info.context.users.load(uid)) if uid is not None else None

    @scoped_field("The API key used, when the change came through one.")
    def api_key_id(self) -> strawberry.ID | None:
        kid = self.row.actor_api_key_id
        return strawberry.ID(encode_id("ApiKey", kid)) if kid is not None else None

    @scoped_field("Global ID of what was changed, when it is a Node.")
    def target(self) -> strawberry.ID | None:
        t, i = self.row.target_type, self.row.target_id
        return strawberry.ID(encode_id(t, i)) if t is not None and i is not None else None

    @scoped_field("Type of what was changed, e.g. Member.")
    def target_type(self) -> str | None:
        return self.row.target_type

    @scoped_field("Before/after summary of the change (never secrets).")
    def summary(self) -> JSON:
        return self.row.summary  # type: ignore[return-value]

    @scoped_field("Request that made the change (X-Request-Id).")
    def request_id(self) -> str | None:
        return self.row.request_id

    @scoped_field("When it happened.")
    def at(self) -> datetime:
        return self.row.at


@strawberry.input(description="Narrows `Workspace.auditEvents`; all given conditions must hold.")
class AuditEventFilterInput:
    action: str | None = strawberry.field(default=None, description="Only this action.")
    actor_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only changes by this User."
    )
    since: datetime | None = strawberry.field(
        default=None, description="Only changes at or after this instant."
    )


@strawberry.type(description="Something an Admin should look at.")
class Advisory:
    workspace_id: strawberry.Private[int]
    code_: strawberry.Private[str]
    message_: strawberry.Private[str]

    @scoped_field("Machine-readable kind, e.g. SINGLE_ADMIN.")
    def code(self) -> str:
        return self.code_

    @scoped_field("What to do about it.")
    def message(self) -> str:
        return self.message_


@strawberry.type
class AdministrationFields:
    """Workspace fields for administrators."""

    @property
    def workspace_id(self) -> int:  # provided by Workspace
        raise NotImplementedError

    @scoped_field(
        "API keys of this workspace, newest first.",
        API_KEYS_READ,
        deprecation_reason="Use `apiKeysConnection`, which pages the list.",
    )
    async def api_keys(self, info: Info) -> list[ApiKeyType] | None:
        rows = await info.context.repository(self.workspace_id).settings.api_keys()
        return [ApiKeyType.of(r) for r in rows]

    @scoped_field(
        "API keys of this workspace (revoked ones too), newest first (keyset-paged).",
        API_KEYS_READ,
    )
    async def api_keys_connection(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[ApiKeyType] | None:
        settings = info.context.repository(self.workspace_id).settings
        return await read_connection(
            settings,
            page_window(first, after, last, before, (int,), kind="ApiKey"),
            settings.api_keys_page,
            settings.api_keys_count,
            lambda page: [ApiKeyType.of(k) for k in page.items],
            kind="ApiKey",
        )

    @scoped_field("The audit log, newest first (keyset-paged).", "audit:read:all")
    async def audit_events(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        filter: Annotated[
            AuditEventFilterInput | None,
            strawberry.argument(description="Only the events meeting every condition given."),
        ] = None,
    ) -> Connection[AuditEventType] | None:
        window = page_window(first, after, last, before, (int,), kind="AuditEvent")
        f = AuditFilter(
            action=filter.action if filter else None,
            actor_user_id=pk_of(filter.actor_id, "User", "filter.actorId") if filter else None,
            since=filter.since if filter else None,
        )
        audit = info.context.repository(self.workspace_id).audit
        return await read_connection(
            audit,
            window,
            lambda window: audit.page(f, window),
            lambda: audit.count(f),
            lambda page: [AuditEventType(row=e) for e in page.items],
            kind="AuditEvent",
        )

    @scoped_field(
        "How many ACTIVE members hold the Admin role (keep at least two).", "members:read:all"
    )
    async def admin_count(self, info: Info) -> int | None:
        # Through the workspace's loader: adminCount and advisories share one statement.
        loaders = info.context.workspace(self.workspace_id)
        return len(await loaders.active_admins.load(self.workspace_id))

    @scoped_field("Things an Admin should look at, e.g. SINGLE_ADMIN.", "members:read:all")
    async def advisories(self, info: Info) -> list[Advisory] | None:
        loaders = info.context.workspace(self.workspace_id)
        if len(await loaders.active_admins.load(self.workspace_id)) < 2:
            return [
                Advisory(
                    workspace_id=self.workspace_id,
                    code_="SINGLE_ADMIN",
                    message_=(
                        "This workspace has fewer than two active Admins. Assign a second Admin: the only "
                        "active Admin cannot leave or delete their account."
                    ),
                )
            ]
        return []

    @scoped_field("What the viewer may do in this workspace.")
    def viewer_can(self) -> ViewerCapabilities:
        return ViewerCapabilities(workspace_id=self.workspace_id)


@strawberry.type
class ShareLinkQueries:
    @strawberry.field(
        description="Open a share link. Links of workspaces the viewer does not belong to answer null."
    )
    async def share_link(
        self,
        info: Info,
        token: Annotated[
            str,
            strawberry.argument(
                description=(
                    "The link's secret token: `ShareLink.token`, the last part of its `url`."
                )
            ),
        ],
    ) -> ShareLinkType | None:
        ids = info.context.viewer.workspace_ids
        if not ids or len(token) > 64:
            return None
        row = await info.context.own.share_link(token)
        return ShareLinkType.of(row) if row else None
