"""No existence oracles: every mutation that takes an ID answers an object outside the
caller's reach exactly like an ID that names no row.

The walk is driven by the schema: every Mutation field with an ``ID`` (or ``[ID!]``)
anywhere in its arguments is a parameter of ``test_out_of_scope_answers_like_nonexistent``,
and fails when ``RECIPES`` has no valid input for it (or for one of its ID arguments),
so a new mutation is covered as soon as it exists.

For each ID argument and caller, the kinds of ID are:

- (a) in scope: the sanity check, sent last (after every refusal of the test): it must
  succeed, so it differs from (d);
- (b) in the caller's workspaces but outside its reach: another team's conversation for
  a team-scoped member; an object of a workspace where the caller lacks the mutation's
  permission while holding it elsewhere; an object of a workspace whose membership was
  deactivated; for a secondary ID (``roleId``, ``memberIds``…), an object of the
  caller's other workspace;
- (c) an object of a workspace the caller does not belong to;
- (d) a well-formed ID of the right type naming no row;
- (e) a well-formed ID of another type, naming a row and naming none.

(b), (c) and (d) must answer byte for byte the same: HTTP status and JSON body, without
``extensions.cost`` (``tests.client.without_cost``; request ids travel in a header, not
in the body), so the same code, message and field, and the same top-level error or
``userErrors`` shape. Every (e) must answer the same whether its ID names a row or not,
and like (d) but perhaps for a userError's message ("Not a Role ID."). None of them may
change a row (a digest of every tenant table and of users, after each request). A
caller holding the permission in none of its workspaces gets FORBIDDEN, decided before
any lookup: the same answer whatever the ID names. Its own workspace's ID, where it
lacks the permission, is FORBIDDEN too (``own_forbidden``): it knows that workspace.

Member mutations are walked like the others; what they still leak is listed in
``KNOWN_ORACLES`` (strict xfail: fixing one makes its test fail until the entry goes).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from graphql import (
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    get_named_type,
    is_composite_type,
    is_input_object_type,
    is_list_type,
    is_non_null_type,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import select

from app.domain.workspaces.service import create_workspace
from app.graphql.ids import decode_id, encode_id
from app.graphql.schema import schema
from app.models import Invitation, MemberStatus, pk
from tests import factories as f
from tests.client import GraphQLClient, without_cost
from tests.graphql.mutations.helpers import digests

NOT_FOUND, FORBIDDEN = "NOT_FOUND", "FORBIDDEN"
UNUSED_PK = 2_000_000_000  # a well-formed primary key no test database reaches

World = Mapping[str, str]  # world key -> global ID
Build = Callable[[World, str, str], dict[str, Any]]  # (world, ID under test, home slug) -> input


# --- discovery ----------------------------------------------------------------------------


def _id_paths(t: GraphQLInputType, prefix: str, seen: frozenset[str]) -> list[str]:
    """Dotted paths of the ID fields inside an argument's type (``[ID!]`` included)."""
    inner = t.of_type if is_non_null_type(t) else t  # type: ignore[union-attr]
    if is_list_type(inner):
        return _id_paths(inner.of_type, prefix, seen)  # type: ignore[union-attr]
    named = get_named_type(t)
    if named.name == "ID":
        return [prefix]
    if is_input_object_type(named) and named.name not in seen:
        assert isinstance(named, GraphQLInputObjectType)
        return [
            path
            for name, field in named.fields.items()
            for path in _id_paths(field.type, f"{prefix}.{name}", seen | {named.name})
        ]
    return []


def mutations_taking_ids() -> dict[str, list[str]]:
    """Mutation name -> its ID arguments (paths below ``input``, e.g. ``teamIds``)."""
    mutation_type = schema._schema.mutation_type  # type: ignore[attr-defined]
    found: dict[str, list[str]] = {}
    for name, field in mutation_type.fields.items():
        paths = [
            p.removeprefix("input.")
            for arg, definition in field.args.items()
            for p in _id_paths(definition.type, arg, frozenset())
        ]
        if paths:
            found[name] = paths
    return found


def _selection(t: GraphQLObjectType) -> str:
    parts = []
    for name, field in t.fields.items():
        if any(is_non_null_type(a.type) for a in field.args.values()):
            continue
        named = get_named_type(field.type)
        if name == "userErrors":
            parts.append("userErrors { code message field }")
        elif is_composite_type(named):
            fields = (
                named.fields if isinstance(named, GraphQLObjectType | GraphQLInterfaceType) else {}
            )
            has_id = "id" in fields
            parts.append(f"{name} {{ __typename{' id' if has_id else ''} }}")
        else:
            parts.append(name)
    return " ".join(parts)


def document(name: str) -> str:
    """The mutation with its whole payload selected (objects by ``__typename id``)."""
    field: GraphQLField = schema._schema.mutation_type.fields[name]  # type: ignore[attr-defined]
    assert list(field.args) == ["input"], f"{name}: expected one `input` argument"
    input_type = get_named_type(field.args["input"].type).name
    payload = get_named_type(field.type)
    assert isinstance(payload, GraphQLObjectType)
    return (
        f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ {_selection(payload)} }} }}"
    )


# --- the world every test starts from ------------------------------------------------------

# Callers: ada is an Admin of acme and a DEACTIVATED member of initech; cy is a Member of
# acme (team Sales) and the Admin of globex; eve is acme's Billing Manager (team
# Support); dee is a Member of globex (team Ops); "key" is an acme API key holding
# members:read:all only. Nobody but ian (its Admin) and ada (deactivated) is in initech.
CALLERS = {
    "ada": "ada@acme.test",
    "cy": "cy@acme.test",
    "eve": "eve@acme.test",
    "dee": "dee@globex.test",
}


async def arrange(session: AsyncSession) -> tuple[dict[str, str], str]:
    """The demo data plus a third workspace and spare objects; the world's IDs and the
    lacking API key's secret."""
    acme, globex = await f.workspace_id(session, "acme"), await f.workspace_id(session, "globex")
    ada, cy = await f.user_id(session, "ada@acme.test"), await f.user_id(session, "cy@acme.test")
    ws_row, builtin, ian_member = await create_workspace(
        session, slug="initech", name="Initech", admin_email="ian@initech.test"
    )
    initech = pk(ws_row)
    ian = ian_member.user_id
    admin_role = next(r for r in builtin.values() if r.name == "Admin")
    await f.add_member(
        session, initech, ada, pk(admin_role), status=MemberStatus.DEACTIVATED
    )  # ada's former workspace
    research = await f.create_team(session, initech, name="Research")
    await f.add_to_team(session, initech, pk(research), [pk(ian_member)])

    member_role = {
        slug: await f.role_id(session, ws, "Member")
        for slug, ws in (("acme", acme), ("globex", globex))
    }
    fay, gus = (
        await f.create_user(session, email="fay@acme.test"),
        await f.create_user(session, email="gus@globex.test"),
    )
    await f.add_member(session, acme, pk(fay), member_role["acme"], status=MemberStatus.DEACTIVATED)
    await f.add_member(
        session, globex, pk(gus), member_role["globex"], status=MemberStatus.DEACTIVATED
    )
    for ws, name in ((acme, "Spare"), (globex, "Globex Spare"), (initech, "Initech Spare")):
        await f.create_role(session, ws, ["members:read:all"], name=name)
    for ws, creator, name in (
        (acme, ada, "Acme key"),
        (globex, cy, "Globex key"),
        (initech, ian, "Initech key"),
    ):
        await f.create_api_key(session, ws, creator, ["members:read:all"], name=name)
    hooks: dict[str, tuple[int, int]] = {}
    for slug, ws, creator in (
        ("acme", acme, ada),
        ("globex", globex, cy),
        ("initech", initech, ian),
    ):
        hooks[slug] = await f.create_webhook_endpoint(session, ws, creator)
    lacking_key = await f.create_api_key(
        session, acme, ada, ["members:read:all"], name="Lacking key"
    )
    for ws, inviter, email in (
        (acme, ada, "someone@example.test"),
        (globex, cy, "someone@example.test"),
        (initech, ian, "someone@example.test"),
        (acme, ada, "dee@globex.test"),
    ):
        role = await f.role_id(session, ws, "Member")
        session.add(
            Invitation(workspace_id=ws, email=email, role_id=role, invited_by_user_id=inviter)
        )
    await session.flush()
    sales = await f.team_id(session, acme, "Sales")
    await f.create_conversation(session, acme, host=ada, team=sales, title="Sales sync without cy")
    await f.create_conversation(
        session, initech, host=ian, team=pk(research), title="Initech kickoff"
    )
    await session.commit()

    g = f.gid

    async def invitation(slug: str, email: str) -> str:
        ws = await f.workspace_id(session, slug)
        stmt = select(Invitation).where(Invitation.workspace_id == ws, Invitation.email == email)
        return encode_id("Invitation", pk((await session.execute(stmt)).scalars().one()))

    world = {
        "ws:acme": await g(session, "Workspace", "acme"),
        "ws:globex": await g(session, "Workspace", "globex"),
        "ws:initech": await g(session, "Workspace", "initech"),
        "team:acme": await g(session, "Team", "acme", "Sales"),
        "team:globex": await g(session, "Team", "globex", "Ops"),
        "team:initech": await g(session, "Team", "initech", "Research"),
        "role:acme": await g(session, "Role", "acme", "Spare"),
        "role:globex": await g(session, "Role", "globex", "Globex Spare"),
        "role:initech": await g(session, "Role", "initech", "Initech Spare"),
        "key:acme": await g(session, "ApiKey", "acme", "Acme key"),
        "key:globex": await g(session, "ApiKey", "globex", "Globex key"),
        "key:initech": await g(session, "ApiKey", "initech", "Initech key"),
        "member:acme": await g(session, "Member", "acme", "eve@acme.test"),
        "member:globex": await g(session, "Member", "globex", "dee@globex.test"),
        "member:initech": await g(session, "Member", "initech", "ian@initech.test"),
        "inactive:acme": await g(session, "Member", "acme", "fay@acme.test"),
        "inactive:globex": await g(session, "Member", "globex", "gus@globex.test"),
        "inactive:initech": await g(session, "Member", "initech", "ada@acme.test"),
        # cy hosted it (own scope).
        "conv:acme:cy": await g(session, "Conversation", "acme", "Pricing objection handling"),
        # Team Sales, hosted by ada, cy not in it: cy may read it, not share it.
        "conv:acme:sales": await g(session, "Conversation", "acme", "Sales sync without cy"),
        # Team Support, hosted by ben, eve joined.
        "conv:acme:eve": await g(session, "Conversation", "acme", "Escalation: outage follow-up"),
        # Team Support, hosted by ben, eve not in it: eve may read it, not share it.
        "conv:acme:support": await g(session, "Conversation", "acme", "Support weekly sync"),
        "conv:globex": await g(session, "Conversation", "globex", "Vendor onboarding review"),
        "conv:initech": await g(session, "Conversation", "initech", "Initech kickoff"),
        "invite:acme": await invitation("acme", "someone@example.test"),
        "invite:globex": await invitation("globex", "someone@example.test"),
        "invite:initech": await invitation("initech", "someone@example.test"),
        # Addressed to dee (not a member of acme).
        "invite:acme:dee": await invitation("acme", "dee@globex.test"),
    }
    for slug, (endpoint, delivery) in hooks.items():
        world[f"hook:{slug}"] = encode_id("WebhookEndpoint", endpoint)
        world[f"delivery:{slug}"] = encode_id("WebhookDelivery", delivery)
    # A share link to each conversation, named after it ("link:acme:cy" points to
    # "conv:acme:cy").
    for key in [k for k in world if k.startswith("conv:")]:
        _, conversation = decode_id(world[key])
        slug = key.split(":")[1]
        link = await f.create_share_link(
            session, await f.workspace_id(session, slug), conversation, created_by=ada
        )
        world["link" + key.removeprefix("conv")] = encode_id("ShareLink", pk(link))
    await session.commit()
    return world, lacking_key


# Every test here runs on the demo data plus this arrangement (built once per engine).
pytestmark = pytest.mark.arranged.with_args(arrange)


# --- recipes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One ID argument of one mutation, sent by one caller."""

    caller: str  # a CALLERS key, or "key"
    arg: str  # the ID argument under test (a path below `input`)
    type_name: str  # what it must name
    build: Build
    home: str  # the caller's workspace the in-scope object lives in
    a: str | None  # world key: in scope (None: the caller may not act at all)
    b: tuple[str, ...]  # world keys: in the caller's workspaces, outside its reach
    c: tuple[str, ...]  # world keys: workspaces the caller does not belong to
    wrong: tuple[str, ...]  # world keys of existing objects of another type
    refused: str = NOT_FOUND  # what (b), (c), (d) and (e) answer
    own_forbidden: tuple[str, ...] = ()  # world keys: the caller's own workspace, lacking


def _per_ws(kind: str) -> dict[str, str]:
    return {slug: f"{kind}:{slug}" for slug in ("acme", "globex", "initech")}


TEAM, ROLE, KEY, MEMBER, INACTIVE, INVITE, HOOK, DELIVERY = (
    _per_ws(k) for k in ("team", "role", "key", "member", "inactive", "invite", "hook", "delivery")
)
WS = _per_ws("ws")
# An existing object of another type than the argument's, per workspace.
WRONG = {
    "Team": ROLE,
    "Role": TEAM,
    "Workspace": TEAM,
    "Member": TEAM,
    "ApiKey": TEAM,
    "Invitation": TEAM,
    "WebhookEndpoint": TEAM,
    "WebhookDelivery": HOOK,
}


def object_target(arg: str, type_name: str, objs: Mapping[str, str], build: Build) -> list[Case]:
    """A mutation whose target is an object and whose permission has the `all` scope."""
    wrong = WRONG[type_name]
    return [
        # ada: acme in scope; initech is her former workspace; globex is not hers.
        Case("ada", arg, type_name, build, "acme", objs["acme"], (objs["initech"],),
             (objs["globex"],), (wrong["acme"],)),
        # cy holds the permission in globex, not in acme.
        Case("cy", arg, type_name, build, "globex", objs["globex"], (objs["acme"],),
             (objs["initech"],), (wrong["globex"], wrong["acme"])),
        # dee holds it nowhere: FORBIDDEN before any lookup, whatever the ID.
        Case("dee", arg, type_name, build, "globex", None, (objs["globex"],),
             (objs["acme"],), (wrong["globex"],), refused=FORBIDDEN),
    ]  # fmt: skip


def workspace_target(build: Build) -> list[Case]:
    """A mutation whose target is a workspace (`workspaceId`), permission at `all`."""
    return [
        Case("ada", "workspaceId", "Workspace", build, "acme", WS["acme"], (WS["initech"],),
             (WS["globex"],), (TEAM["acme"],)),
        # cy lacks the permission in acme (his own workspace: FORBIDDEN is no oracle).
        Case("cy", "workspaceId", "Workspace", build, "globex", WS["globex"], (),
             (WS["initech"],), (TEAM["globex"],), own_forbidden=(WS["acme"],)),
        Case("dee", "workspaceId", "Workspace", build, "globex", None, (),
             (WS["acme"], WS["initech"]), (TEAM["globex"],), own_forbidden=(WS["globex"],)),
    ]  # fmt: skip


def secondary(arg: str, type_name: str, objs: Mapping[str, str], build: Build) -> list[Case]:
    """An ID naming something the target refers to (a role to assign, members to add)."""
    wrong = WRONG[type_name]
    return [
        Case("ada", arg, type_name, build, "acme", objs["acme"], (),
             (objs["globex"], objs["initech"]), (wrong["acme"],)),
        # cy acting in globex, naming an object of acme (his other workspace).
        Case("cy", arg, type_name, build, "globex", objs["globex"], (objs["acme"],),
             (objs["initech"],), (wrong["globex"], wrong["acme"])),
    ]  # fmt: skip


def invitee_cases(build: Build) -> list[Case]:
    """acceptInvitation / declineInvitation: dee's own invitation (to acme) in scope;
    invitations addressed to others are out of reach, in dee's workspace or another."""
    return [
        Case("dee", "invitationId", "Invitation", build, "acme", "invite:acme:dee",
             (INVITE["globex"],), (INVITE["acme"], INVITE["initech"]), (TEAM["globex"],)),
        # An API key may not act as the invitee: FORBIDDEN, whatever the ID.
        Case("key", "invitationId", "Invitation", build, "acme", None, (INVITE["acme"],),
             (INVITE["globex"],), (TEAM["acme"],), refused=FORBIDDEN),
    ]  # fmt: skip


def share_cases(build: Build) -> list[Case]:
    """createConversationShareLink (conversations:share:own): scoped, not `all`."""
    c = "conversationId"
    return [
        # cy: conversations:read:team and conversations:share:own in acme (team Sales),
        # Admin of globex. Support's conversation is outside both scopes; the Sales one
        # he did not attend is readable but not his to share.
        Case("cy", c, "Conversation", build, "acme", "conv:acme:cy",
             ("conv:acme:support", "conv:acme:sales"), ("conv:initech",),
             (TEAM["acme"], TEAM["globex"])),
        # eve: the same scopes, team Support, acme only.
        Case("eve", c, "Conversation", build, "acme", "conv:acme:eve",
             ("conv:acme:support", "conv:acme:cy"), ("conv:globex",), (TEAM["acme"],)),
        # ada: share:all in acme; initech is her former workspace.
        Case("ada", c, "Conversation", build, "acme", "conv:acme:support", ("conv:initech",),
             ("conv:globex",), (TEAM["acme"],)),
        # An API key without any conversations permission: FORBIDDEN, whatever the ID.
        Case("key", c, "Conversation", build, "acme", None, ("conv:acme:cy",),
             ("conv:globex",), (TEAM["acme"],), refused=FORBIDDEN),
    ]  # fmt: skip


def revoke_link_cases(build: Build) -> list[Case]:
    """revokeConversationShareLink (conversations:share:own): the links of the
    conversations createConversationShareLink may share, for the same callers."""
    link = "shareLinkId"
    return [
        Case("cy", link, "ShareLink", build, "acme", "link:acme:cy",
             ("link:acme:support", "link:acme:sales"), ("link:initech",),
             (TEAM["acme"], "conv:acme:cy")),
        Case("eve", link, "ShareLink", build, "acme", "link:acme:eve",
             ("link:acme:support", "link:acme:cy"), ("link:globex",), (TEAM["acme"],)),
        Case("ada", link, "ShareLink", build, "acme", "link:acme:support", ("link:initech",),
             ("link:globex",), ("conv:acme:support",)),
        Case("key", link, "ShareLink", build, "acme", None, ("link:acme:cy",),
             ("link:globex",), (TEAM["acme"],), refused=FORBIDDEN),
    ]  # fmt: skip


# The valid rest of each input. `home` is the workspace of the caller's in-scope case.
TARGET_TEAM = {"acme": "team:acme", "globex": "team:globex"}
TARGET_MEMBER = {"acme": "member:acme", "globex": "member:globex"}
CONNECTED = {"acme": "slack", "globex": "zoom"}
_invitees = itertools.count()


def email() -> str:
    """A new address per invitation sent: each successful addMember in one database
    must not make the next one ALREADY_INVITED (refusals never quote it)."""
    return f"new.person.{next(_invitees)}@example.test"


RECIPES: dict[str, list[Case]] = {
    "addMember": [
        *workspace_target(lambda w, x, h: {"workspaceId": x, "email": email()}),
        *secondary(
            "roleId",
            "Role",
            ROLE,
            lambda w, x, h: {"workspaceId": w[WS[h]], "email": email(), "roleId": x},
        ),
        *secondary(
            "teamIds",
            "Team",
            TEAM,
            lambda w, x, h: {"workspaceId": w[WS[h]], "email": email(), "teamIds": [x]},
        ),
    ],
    "updateMember": [
        *object_target(
            "memberId", "Member", MEMBER, lambda w, x, h: {"memberId": x, "teamIds": []}
        ),
        *secondary(
            "roleId", "Role", ROLE, lambda w, x, h: {"memberId": w[TARGET_MEMBER[h]], "roleId": x}
        ),
        *secondary(
            "teamIds",
            "Team",
            TEAM,
            lambda w, x, h: {"memberId": w[TARGET_MEMBER[h]], "teamIds": [x]},
        ),
    ],
    "deactivateMember": object_target(
        "memberId", "Member", MEMBER, lambda w, x, h: {"memberId": x}
    ),
    "reactivateMember": object_target(
        "memberId", "Member", INACTIVE, lambda w, x, h: {"memberId": x}
    ),
    "removeMember": object_target("memberId", "Member", MEMBER, lambda w, x, h: {"memberId": x}),
    "revokeInvitation": object_target(
        "invitationId", "Invitation", INVITE, lambda w, x, h: {"invitationId": x}
    ),
    # The invitee's own: no workspace permission, the invitation must be addressed to them.
    "acceptInvitation": invitee_cases(lambda w, x, h: {"invitationId": x}),
    "declineInvitation": invitee_cases(lambda w, x, h: {"invitationId": x}),
    "createTeam": [
        *workspace_target(lambda w, x, h: {"workspaceId": x, "name": "Fresh team"}),
        *secondary(
            "memberIds",
            "Member",
            MEMBER,
            lambda w, x, h: {
                "workspaceId": w[WS[h]],
                "name": "Team with members",
                "memberIds": [x],
            },
        ),
    ],
    "updateTeam": [
        *object_target("teamId", "Team", TEAM, lambda w, x, h: {"teamId": x, "description": "New"}),
        *secondary(
            "memberIds",
            "Member",
            MEMBER,
            lambda w, x, h: {"teamId": w[TARGET_TEAM[h]], "memberIds": [x]},
        ),
    ],
    "deleteTeam": object_target("teamId", "Team", TEAM, lambda w, x, h: {"teamId": x}),
    "createRole": workspace_target(
        lambda w, x, h: {
            "workspaceId": x,
            "name": "Fresh role",
            "permissions": ["members:read:all"],
        }
    ),
    "updateRole": object_target(
        "roleId", "Role", ROLE, lambda w, x, h: {"roleId": x, "description": "New"}
    ),
    "deleteRole": object_target("roleId", "Role", ROLE, lambda w, x, h: {"roleId": x}),
    "updateGeneralSettings": workspace_target(
        lambda w, x, h: {"workspaceId": x, "handbook": "# New handbook"}
    ),
    "updateIntelligenceSettings": workspace_target(
        lambda w, x, h: {"workspaceId": x, "defaultModel": None}
    ),
    "connectIntegration": workspace_target(
        lambda w, x, h: {"workspaceId": x, "provider": "hubspot"}
    ),
    "disconnectIntegration": workspace_target(
        lambda w, x, h: {"workspaceId": x, "provider": CONNECTED[h]}
    ),
    "cancelSubscription": workspace_target(lambda w, x, h: {"workspaceId": x}),
    "createApiKey": workspace_target(
        lambda w, x, h: {"workspaceId": x, "name": "Fresh key", "permissions": ["members:read:all"]}
    ),
    "revokeApiKey": object_target("apiKeyId", "ApiKey", KEY, lambda w, x, h: {"apiKeyId": x}),
    "createConversationShareLink": share_cases(lambda w, x, h: {"conversationId": x}),
    "revokeConversationShareLink": revoke_link_cases(lambda w, x, h: {"shareLinkId": x}),
    "createWebhookEndpoint": workspace_target(
        lambda w, x, h: {"workspaceId": x, "url": "http://127.0.0.1:9/new"}
    ),
    "updateWebhookEndpoint": object_target(
        "webhookEndpointId",
        "WebhookEndpoint",
        HOOK,
        lambda w, x, h: {"webhookEndpointId": x, "description": "New"},
    ),
    "deleteWebhookEndpoint": object_target(
        "webhookEndpointId", "WebhookEndpoint", HOOK, lambda w, x, h: {"webhookEndpointId": x}
    ),
    "rotateWebhookSecret": object_target(
        "webhookEndpointId", "WebhookEndpoint", HOOK, lambda w, x, h: {"webhookEndpointId": x}
    ),
    "redeliverWebhook": object_target(
        "deliveryId", "WebhookDelivery", DELIVERY, lambda w, x, h: {"deliveryId": x}
    ),
}

# Oracles in code this test's author does not own, with the differing answers in the
# failure message of the test; remove an entry once it is fixed (strict xfail).
KNOWN_ORACLES: dict[str, str] = {}


# --- the walk -----------------------------------------------------------------------------

Answer = tuple[int, str]  # HTTP status, JSON body without extensions.cost


class Caller:
    def __init__(self, client: GraphQLClient, tokens: Mapping[str, str]) -> None:
        self.client = client
        self.tokens = tokens

    async def send(self, name: str, case: Case, world: World, global_id: str) -> Answer:
        variables = {"input": case.build(world, global_id, case.home)}
        response = await self.client.post(document(name), variables, token=self.tokens[case.caller])
        return response.status_code, json.dumps(without_cost(response.json()))


def _refusal_code(name: str, answer: Answer) -> str:
    status, text = answer
    body = json.loads(text)
    if "errors" in body:
        return str(body["errors"][0]["extensions"]["code"])
    errors = body["data"][name]["userErrors"]
    assert status == 200 and errors, answer
    return str(errors[0]["code"])


def _without_messages(answer: Answer) -> tuple[int, Any]:
    """The answer without its userErrors' messages."""
    status, text = answer
    body = json.loads(text)
    for payload in (body.get("data") or {}).values():
        for error in (payload or {}).get("userErrors", []):
            error.pop("message")
    return status, body


def _succeeded(name: str, answer: Answer) -> bool:
    status, text = answer
    body = json.loads(text)
    return status == 200 and "errors" not in body and body["data"][name]["userErrors"] == []


PARAMS = [
    pytest.param(
        name,
        marks=pytest.mark.xfail(strict=True, reason=KNOWN_ORACLES[name])
        if name in KNOWN_ORACLES
        else (),
    )
    for name in sorted(mutations_taking_ids())
]


@pytest.mark.parametrize("name", PARAMS)
async def test_out_of_scope_answers_like_nonexistent(
    name: str, client: GraphQLClient, arranged: tuple[World, str], owner_engine: AsyncEngine
) -> None:
    cases = RECIPES.get(name)
    assert cases is not None, (
        f"{name} takes an ID but tests/graphql/test_existence_oracles.py has no recipe"
    )
    missing_args = set(mutations_taking_ids()[name]) - {c.arg for c in cases}
    assert not missing_args, f"{name}: no recipe for the ID argument(s) {sorted(missing_args)}"

    world, key_secret = arranged
    tokens = {k: await client.token(email) for k, email in CALLERS.items()}
    tokens["key"] = key_secret
    await client.post("{ viewer { id } }", token=key_secret)  # its lastUsedAt, written now
    caller = Caller(client, tokens)

    before = await digests(owner_engine)
    problems: list[str] = []

    async def refused(case: Case, kind: str, global_id: str) -> Answer:
        """The answer, which must have changed no row."""
        nonlocal before
        answer = await caller.send(name, case, world, global_id)
        after = await digests(owner_engine)
        if after != before:
            changed = sorted(t for t in after if after[t] != before[t])
            problems.append(
                f"{name}.{case.arg} as {case.caller} ({kind}) {global_id} changed {changed}: {answer}"
            )
            before = after
        return answer

    for case in cases:
        label = f"{name}.{case.arg} as {case.caller}"
        d = await refused(case, "d", encode_id(case.type_name, UNUSED_PK))
        if _refusal_code(name, d) != case.refused:
            problems.append(f"{label} (d) answers {d}, not {case.refused}")
        for kind, keys in (("b", case.b), ("c", case.c)):
            for key in keys:
                answer = await refused(case, kind, world[key])
                if answer != d:
                    problems.append(f"{label} ({kind}) {key}: {answer}\n    (d) nonexistent: {d}")
        # (e): the same answer whether the ID of another type names a row or not, and
        # like (d) but perhaps for the message (e.g. "Not a Role ID.").
        other_type = decode_id(world[case.wrong[0]])[0]
        e_missing = await refused(case, "e", encode_id(other_type, UNUSED_PK))
        for key in case.wrong:
            answer = await refused(case, "e", world[key])
            if answer != e_missing:
                problems.append(f"{label} (e) {key}: {answer}\n    (e) naming no row: {e_missing}")
        if _without_messages(e_missing) != _without_messages(d):
            problems.append(f"{label} (e) naming no row: {e_missing}\n    (d) nonexistent: {d}")
        for key in case.own_forbidden:
            answer = await refused(case, "own workspace, lacking", world[key])
            if _refusal_code(name, answer) != FORBIDDEN:
                problems.append(f"{label} (own workspace, lacking) {key}: {answer}")
    assert not problems, "existence oracles:\n" + "\n".join(problems)

    # (a) last: in scope, it succeeds (so it differs from the refusals above).
    for case in cases:
        if case.a is None:
            continue
        d = await caller.send(name, case, world, encode_id(case.type_name, UNUSED_PK))
        a = await caller.send(name, case, world, world[case.a])
        assert a != d and _succeeded(name, a), (f"{name}.{case.arg} as {case.caller}", a)


def test_every_recipe_names_a_mutation_of_the_schema() -> None:
    """A recipe left behind by a renamed or removed mutation is dead weight."""
    assert set(RECIPES) <= set(schema._schema.mutation_type.fields)  # type: ignore[attr-defined]


# --- the read side ------------------------------------------------------------------------

READS = {
    "node": "query($id: ID!) { node(id: $id) { __typename id } }",
    "nodes": "query($id: ID!) { nodes(ids: [$id]) { __typename id } }",
    "workspace.conversation": (
        'query($id: ID!) { workspace(slug: "acme") { conversation(id: $id) { id title } } }'
    ),
}


async def _read(client: GraphQLClient, read: str, token: str, global_id: str) -> Answer:
    response = await client.post(READS[read], {"id": global_id}, token=token)
    return response.status_code, json.dumps(without_cost(response.json()))


@pytest.mark.parametrize("read", READS)
async def test_reading_an_out_of_scope_conversation_answers_like_nonexistent(
    read: str, client: GraphQLClient, arranged: tuple[World, str]
) -> None:
    """Team-scoped members (cy: Sales, eve: Support) asking for another team's
    conversation, or another workspace's, by ID: the answer for an ID naming no row."""
    world, _ = arranged
    for email, mine, out_of_scope in (
        ("cy@acme.test", "conv:acme:cy", ("conv:acme:support", "conv:initech")),
        ("eve@acme.test", "conv:acme:eve", ("conv:acme:cy", "conv:globex", "conv:initech")),
    ):
        token = await client.token(email)
        nonexistent = await _read(client, read, token, encode_id("Conversation", UNUSED_PK))
        for key in out_of_scope:
            assert await _read(client, read, token, world[key]) == nonexistent, (email, key)
        assert await _read(client, read, token, world[mine]) != nonexistent


@pytest.mark.parametrize("read", READS)
async def test_reading_without_the_read_permission_does_not_tell_rows_apart(
    read: str, client: GraphQLClient, arranged: tuple[World, str]
) -> None:
    """An API key without any conversations permission, asking for a conversation of its
    own workspace and for an ID naming no row."""
    world, key_secret = arranged
    nonexistent = await _read(client, read, key_secret, encode_id("Conversation", UNUSED_PK))
    assert await _read(client, read, key_secret, world["conv:acme:cy"]) == nonexistent
