"""The demo data of the contract (DESIGN.md, "Demo data"). Idempotent: a workspace
that already exists is left as it is; accounts are reused by email."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.permissions import MEMBER_PERMISSIONS
from app.domain.tenant import scoped
from app.domain.users.service import get_or_create_user
from app.domain.workspaces.repository import workspace_by_slug
from app.domain.workspaces.service import create_workspace
from app.models import (
    ActionItem,
    AIProvider,
    BuiltinRole,
    Conversation,
    ConversationInsight,
    ConversationParticipant,
    ConversationTranscript,
    InsightKind,
    Integration,
    IntegrationStatus,
    IntelligenceSettings,
    Invitation,
    Member,
    Plan,
    Role,
    RolePermission,
    Team,
    TeamMember,
    User,
)

DEMO_USERS: dict[str, str] = {
    "ada@acme.test": "Ada Admin",
    "ben@acme.test": "Ben Admin",
    "cy@acme.test": "Cy Member",
    "dee@globex.test": "Dee Member",
    "eve@acme.test": "Eve Billing",
}


@dataclass(frozen=True)
class _Meeting:
    title: str
    team: str
    host: str
    guests: tuple[str, ...]
    day: int


@dataclass(frozen=True)
class _Spec:
    slug: str
    name: str
    plan: Plan
    seats: int
    first_admin: str
    teams: tuple[str, ...]
    # email -> (role name, team)
    members: dict[str, tuple[str, str]]
    # Pending invitations sent by the first Admin: email -> (role name, team). Addresses
    # without an account: an invitation shows nothing of one either way.
    invitations: dict[str, tuple[str, str]]
    custom_roles: dict[str, tuple[str, ...]]
    integrations: tuple[str, ...]
    providers: dict[str, tuple[str, ...]]
    default_model: str
    meetings: tuple[_Meeting, ...]


BASE = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)

SPECS = (
    _Spec(
        slug="acme",
        name="Acme Corp",
        plan=Plan.BUSINESS,
        seats=25,
        first_admin="ada@acme.test",
        teams=("Sales", "Support"),
        members={
            "ada@acme.test": ("Admin", "Sales"),
            "ben@acme.test": ("Admin", "Support"),
            "cy@acme.test": ("Member", "Sales"),
            "eve@acme.test": ("Billing Manager", "Support"),
        },
        invitations={"fay@initech.test": ("Member", "Sales")},
        custom_roles={"Billing Manager": ("billing:*:all", *MEMBER_PERMISSIONS)},
        integrations=("slack", "salesforce"),
        providers={"openai": ("gpt-4o", "gpt-4o-mini"), "anthropic": ("claude-sonnet-4",)},
        default_model="claude-sonnet-4",
        meetings=(
            _Meeting(
                "Acme x Initech discovery call", "Sales", "ada@acme.test", ("cy@acme.test",), 0
            ),
            _Meeting("Q4 pipeline review", "Sales", "ada@acme.test", ("cy@acme.test",), 1),
            _Meeting("Pricing objection handling", "Sales", "cy@acme.test", (), 2),
            _Meeting(
                "Escalation: outage follow-up", "Support", "ben@acme.test", ("eve@acme.test",), 3
            ),
            _Meeting("Support weekly sync", "Support", "ben@acme.test", (), 4),
        ),
    ),
    _Spec(
        slug="globex",
        name="Globex",
        plan=Plan.TEAM,
        seats=5,
        first_admin="cy@acme.test",
        teams=("Ops",),
        members={
            "cy@acme.test": ("Admin", "Ops"),
            "dee@globex.test": ("Member", "Ops"),
        },
        invitations={},
        custom_roles={},
        integrations=("zoom",),
        providers={"openai": ("gpt-4o",)},
        default_model="gpt-4o",
        meetings=(
            _Meeting("Globex ops standup", "Ops", "dee@globex.test", ("cy@acme.test",), 0),
            _Meeting("Vendor onboarding review", "Ops", "dee@globex.test", (), 1),
        ),
    ),
)


async def seed_demo(session: AsyncSession) -> list[str]:
    """Create the demo workspaces that do not exist yet; returns the slugs created."""
    users = {
        email: await get_or_create_user(session, email, name) for email, name in DEMO_USERS.items()
    }
    created = []
    for spec in SPECS:
        if await workspace_by_slug(session, spec.slug) is None:
            await _seed_workspace(session, spec, users)
            created.append(spec.slug)
    return created


def _id(obj: User | Member | Role | Team | Conversation) -> int:
    assert obj.id is not None
    return obj.id


async def _seed_workspace(session: AsyncSession, spec: _Spec, users: dict[str, User]) -> None:
    workspace, builtin, first_admin = await create_workspace(
        session,
        slug=spec.slug,
        name=spec.name,
        admin_email=spec.first_admin,
        plan=spec.plan,
        seats=spec.seats,
    )
    ws = _id(workspace)  # type: ignore[arg-type]
    workspace.handbook = f"# {spec.name} handbook\n\nWelcome! Meetings are recorded with consent."
    workspace.brand_primary_color = "#1F6FEB"
    workspace.brand_accent_color = "#F2CC60"
    workspace.logo_url = f"https://assets.harmony.test/logos/{spec.slug}.png"

    roles: dict[str, Role] = {
        "Admin": builtin[BuiltinRole.ADMIN],
        "Member": builtin[BuiltinRole.MEMBER],
    }
    for role_name, permissions in spec.custom_roles.items():
        role = Role(workspace_id=ws, name=role_name, description=f"{role_name} (custom)")
        session.add(role)
        await session.flush()
        session.add_all(
            RolePermission(workspace_id=ws, role_id=_id(role), permission=p) for p in permissions
        )
        roles[role_name] = role

    teams = {
        name: Team(workspace_id=ws, name=name, description=f"The {name} team")
        for name in spec.teams
    }
    session.add_all(teams.values())
    await session.flush()

    for email, (role_name, team_name) in spec.members.items():
        if email == spec.first_admin:
            member = first_admin
        else:
            member = Member(
                workspace_id=ws, user_id=_id(users[email]), role_id=_id(roles[role_name])
            )
            session.add(member)
            await session.flush()
        session.add(
            TeamMember(workspace_id=ws, team_id=_id(teams[team_name]), member_id=_id(member))
        )

    for email, (role_name, team_name) in spec.invitations.items():
        session.add(
            Invitation(
                workspace_id=ws,
                email=email,
                role_id=_id(roles[role_name]),
                team_ids=[_id(teams[team_name])],
                invited_by_user_id=_id(users[spec.first_admin]),
                created_at=BASE - timedelta(days=1),
            )
        )

    for provider in spec.integrations:
        session.add(
            Integration(
                workspace_id=ws,
                provider=provider,
                status=IntegrationStatus.CONNECTED,
                connected_at=BASE - timedelta(days=30),
                connected_by_user_id=_id(users[spec.first_admin]),
            )
        )
    for provider, models in spec.providers.items():
        session.add(
            AIProvider(workspace_id=ws, provider=provider, enabled=True, models=list(models))
        )
    settings = (await session.execute(scoped(IntelligenceSettings, ws))).scalars().one()
    settings.default_model = spec.default_model

    for m in spec.meetings:
        conversation = Conversation(
            workspace_id=ws,
            title=m.title,
            occurred_at=BASE + timedelta(days=m.day, hours=m.day),
            duration_seconds=1800 + 300 * m.day,
            host_user_id=_id(users[m.host]),
            team_id=_id(teams[m.team]),
        )
        session.add(conversation)
        await session.flush()
        cid = _id(conversation)
        people = (m.host, *m.guests)
        session.add_all(
            ConversationParticipant(
                workspace_id=ws,
                conversation_id=cid,
                user_id=_id(users[e]),
                name=users[e].name,
                email=e,
            )
            for e in people
        )
        session.add(
            ConversationParticipant(
                workspace_id=ws,
                conversation_id=cid,
                name="Guest Speaker",
                email="guest@example.test",
            )
        )
        host_name = users[m.host].name
        session.add(
            ConversationTranscript(
                workspace_id=ws,
                conversation_id=cid,
                content=f'{host_name}: Thanks for joining "{m.title}".\nGuest Speaker: Happy to be here.',
            )
        )
        session.add_all(
            [
                ConversationInsight(
                    workspace_id=ws,
                    conversation_id=cid,
                    kind=InsightKind.SUMMARY,
                    content=f"Summary of {m.title}.",
                ),
                ConversationInsight(
                    workspace_id=ws,
                    conversation_id=cid,
                    kind=InsightKind.TOPIC,
                    content=m.team,
                ),
            ]
        )
        session.add(
            ActionItem(
                workspace_id=ws,
                conversation_id=cid,
                text=f"Send notes for {m.title}",
                assignee_user_id=_id(users[m.host]),
            )
        )
    await session.flush()
