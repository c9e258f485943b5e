"""The Workspace fields that read the access area: members, teams and roles, one or a
page at a time, and the viewer's own membership and permissions (mixed into
``Workspace`` by app.graphql.workspaces.types)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.auth.permissions import expand_for_display
from app.domain.members.repository import MemberFilter
from app.domain.pagination import OWN_ROW, Window
from app.graphql.access.inputs import MemberFilterInput
from app.graphql.access.types import (
    ITEMS,
    MEMBER_READS,
    MEMBERS_READ,
    ROLE_READS,
    ROLES_READ,
    TEAM_READS,
    TEAMS_READ,
    MemberType,
    RoleType,
    TeamType,
    member_of,
    members_of,
    with_relations,
)
from app.graphql.context import Info
from app.graphql.directives import scoped_field
from app.graphql.ids import pk_of
from app.graphql.lookahead import below, columns_read, selected
from app.graphql.node import id_argument
from app.graphql.pagination import (
    After,
    Before,
    Connection,
    First,
    Last,
    page_window,
    read_connection,
    to_connection,
)
from app.graphql.users.types import USER_READS


def _member_reads(info: Info) -> dict[str, frozenset[str]]:
    """The columns of the members, their account, role and teams the page's fields are
    made of (none for a relation a field outside the types' declared reads needs)."""
    teams = below(ITEMS, "teams") + [
        (*p, *q) for p in below(ITEMS, "teamsConnection") for q in ITEMS
    ]
    found = {
        OWN_ROW: columns_read(info, ITEMS, MEMBER_READS),
        "user": columns_read(info, below(ITEMS, "user"), USER_READS),
        "role": columns_read(info, below(ITEMS, "role"), ROLE_READS),
        "teams": columns_read(info, teams, TEAM_READS),
    }
    return {name: columns for name, columns in found.items() if columns is not None}


async def members_connection(
    info: Info, workspace_id: int, f: MemberFilter, window: Window
) -> Connection[MemberType]:
    members = info.context.repository(workspace_id).members
    wanted = with_relations(selected(info, *ITEMS))
    include = wanted & {"user", "role", "teams"}  # read by the page's own statement
    page = await members.page(f, window, include=include, reads=_member_reads(info))
    items = await members_of(info, workspace_id, page.items, wanted, page.related)

    async def count() -> int:
        return await members.count(f)

    return to_connection(page, items, count, members, kind="Member")


@strawberry.type
class AccessFields:
    """Workspace fields about people and permissions."""

    @property
    def workspace_id(self) -> int:  # provided by Workspace
        raise NotImplementedError

    @scoped_field("Members, in the order they joined (keyset-paged).", MEMBERS_READ)
    async def members(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        filter: Annotated[
            MemberFilterInput | None,
            strawberry.argument(description="Only the members meeting every condition given."),
        ] = None,
    ) -> Connection[MemberType] | None:
        f = filter.to_domain() if filter else MemberFilter()
        window = page_window(first, after, last, before, (int,), kind="Member")
        return await members_connection(info, self.workspace_id, f, window)

    @scoped_field("A member by ID; null when not in this workspace.", MEMBERS_READ)
    async def member(
        self, info: Info, id: Annotated[strawberry.ID, id_argument("Member")]
    ) -> MemberType | None:
        pk = pk_of(id, "Member", "id")
        assert pk is not None
        return await member_of(
            info, await info.context.workspace(self.workspace_id).member.load(pk)
        )

    @scoped_field("Teams, in creation order (keyset-paged).", TEAMS_READ)
    async def teams(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[TeamType] | None:
        teams = info.context.repository(self.workspace_id).teams
        return await read_connection(
            teams,
            page_window(first, after, last, before, (int,), kind="Team"),
            teams.page,
            teams.count,
            lambda page: [TeamType.of(t) for t in page.items],
            kind="Team",
        )

    @scoped_field("A team by ID; null when not in this workspace.", TEAMS_READ)
    async def team(
        self, info: Info, id: Annotated[strawberry.ID, id_argument("Team")]
    ) -> TeamType | None:
        pk = pk_of(id, "Team", "id")
        assert pk is not None
        row = await info.context.workspace(self.workspace_id).team.load(pk)
        return TeamType.of(row) if row else None

    @scoped_field("Roles in creation order, so the built-in ones first (keyset-paged).", ROLES_READ)
    async def roles(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[RoleType] | None:
        roles = info.context.repository(self.workspace_id).roles
        return await read_connection(
            roles,
            page_window(first, after, last, before, (int,), kind="Role"),
            roles.page,
            roles.count,
            lambda page: [RoleType.of(r) for r in page.items],
            kind="Role",
        )

    @scoped_field("A role by ID; null when not in this workspace.", ROLES_READ)
    async def role(
        self, info: Info, id: Annotated[strawberry.ID, id_argument("Role")]
    ) -> RoleType | None:
        pk = pk_of(id, "Role", "id")
        assert pk is not None
        row = await info.context.workspace(self.workspace_id).role.load(pk)
        return RoleType.of(row) if row else None

    @scoped_field("The viewer's own membership of this workspace.")
    async def viewer_membership(self, info: Info) -> MemberType:
        membership = info.context.viewer.membership(self.workspace_id)
        assert membership is not None  # the guard checked it
        row = await info.context.workspace(self.workspace_id).member.load(membership.member_id)
        member = await member_of(info, row)
        assert member is not None
        return member

    @scoped_field(
        "Permissions the viewer holds here, expanded (for an API key: what the key may do)."
    )
    def viewer_permissions(self, info: Info) -> list[str]:
        membership = info.context.viewer.membership(self.workspace_id)
        assert membership is not None
        return expand_for_display(membership.granted)
