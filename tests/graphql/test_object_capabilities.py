"""Per-object ``viewerCan…`` flags (Member, Role, Team, Conversation) against what the
mutations decide: for several viewers (an Admin, a custom role that manages members and
roles but holds less than Admin, the built-in Member) and for a workspace with two
active Admins and with one, every flag of every object equals the outcome of its
mutation, sent for real. A probe lets each mutation run its permission check and every
domain rule (ESCALATION, SOLE_ADMIN, BUILTIN_ROLE_IMMUTABLE, ROLE_IN_USE, the share
scope), then rolls it back, so nothing changes between cases.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth.permissions import MEMBER_PERMISSIONS
from app.domain.errors import Refusal, UserErrorCode
from app.graphql import mutation as base
from app.graphql.ids import encode_id
from app.models import Member, MemberStatus, pk
from tests import factories as f
from tests.client import GraphQLClient
from tests.graphql.mutations.helpers import snapshot

PROBE = "probe: every rule passed"
MANAGER = (
    *MEMBER_PERMISSIONS,
    "members:update:all",
    "members:delete:all",
    "roles:update:all",
    "roles:delete:all",
    "teams:update:all",
    "conversations:read:all",
    "conversations:share:team",
)
VIEWERS = ("ada@acme.test", "eve@acme.test", "cy@acme.test")  # Admin, MANAGER, Member

PAGE = """{ workspace(slug: "acme") {
  members(first: 100) { nodes { id status role { id name }
    viewerCanUpdate viewerCanChangeRole viewerCanDeactivate viewerCanReactivate viewerCanRemove } }
  roles(first: 100) { nodes { id name permissions viewerCanUpdate viewerCanDelete } }
  teams(first: 100) { nodes { id name description viewerCanUpdate viewerCanDelete } }
  conversations(first: 100) { nodes { id viewerCanShare } }
} }"""


def _call(name: str, input_type: str) -> str:
    return f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ userErrors {{ code message }} }} }}"


async def _outcome(client: GraphQLClient, token: str, name: str, input: dict[str, Any]) -> str:
    """ "passes", or the code that refused it (FORBIDDEN for the guard)."""
    body = await client.query(
        _call(name, name[0].upper() + name[1:] + "Input"), {"input": input}, token=token
    )
    if body.get("data") is None:
        return str(body["errors"][0]["extensions"]["code"])
    errors = body["data"][name]["userErrors"]
    assert errors, body
    return "passes" if errors[0]["message"] == PROBE else str(errors[0]["code"])


SEEN: set[str] = set()  # every outcome met: each rule was exercised


async def _check_viewer(client: GraphQLClient, email: str, own_role: str) -> None:
    token = await client.token(email)
    body = await client.query(PAGE, token=token)
    assert "errors" not in body, body
    ws = body["data"]["workspace"]
    roles = {r["name"]: r["id"] for r in ws["roles"]["nodes"]}

    async def agrees(flag: bool, name: str, input: dict[str, Any], what: object) -> None:
        outcome = await _outcome(client, token, name, input)
        SEEN.add(outcome)
        assert flag is (outcome == "passes"), (email, name, what, outcome)

    for m in ws["members"]["nodes"]:
        ref = {"memberId": m["id"]}
        await agrees(m["viewerCanUpdate"], "updateMember", {**ref, "teamIds": []}, m)
        new_role = next(r for r in ("Member", own_role, "Admin") if roles[r] != m["role"]["id"])
        await agrees(
            m["viewerCanChangeRole"], "updateMember", {**ref, "roleId": roles[new_role]}, m
        )
        await agrees(m["viewerCanRemove"], "removeMember", ref, m)
        if m["status"] == "ACTIVE":
            await agrees(m["viewerCanDeactivate"], "deactivateMember", ref, m)
            assert m["viewerCanReactivate"] is False
        else:
            await agrees(m["viewerCanReactivate"], "reactivateMember", ref, m)
            assert m["viewerCanDeactivate"] is False
    for r in ws["roles"]["nodes"]:
        ref = {"roleId": r["id"]}
        await agrees(
            r["viewerCanUpdate"], "updateRole", {**ref, "permissions": r["permissions"]}, r
        )
        await agrees(r["viewerCanDelete"], "deleteRole", ref, r)
    for t in ws["teams"]["nodes"]:
        ref = {"teamId": t["id"]}
        await agrees(
            t["viewerCanUpdate"], "updateTeam", {**ref, "description": t["description"]}, t
        )
        await agrees(t["viewerCanDelete"], "deleteTeam", ref, t)
    for c in ws["conversations"]["nodes"]:
        await agrees(
            c["viewerCanShare"], "createConversationShareLink", {"conversationId": c["id"]}, c
        )


@pytest.mark.slow
async def test_object_flags_are_what_the_mutations_decide_for_every_object(
    client: GraphQLClient,
    session: AsyncSession,
    owner_engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    SEEN.clear()
    acme = await f.workspace_id(session, "acme")
    manager = await f.create_role(session, acme, MANAGER, name="Manager")
    await f.create_role(session, acme, ["teams:read:all"], name="Unused")
    spare = await f.create_user(session)
    await f.add_member(
        session,
        acme,
        pk(spare),
        await f.role_id(session, acme, "Member"),
        status=MemberStatus.DEACTIVATED,
    )
    eve = await f.member(session, acme, "eve@acme.test")
    eve.role_id = pk(manager)
    session.add(eve)
    await session.commit()

    real = base.in_unit_of_work

    async def probing(info: Any, workspace_ids: Any, work: Any) -> Any:
        async def then_stop(s: AsyncSession, actors: Any) -> Any:
            await work(s, actors)
            raise Refusal(UserErrorCode.NOT_FOUND, PROBE)

        return await real(info, workspace_ids, then_stop)

    monkeypatch.setattr(base, "in_unit_of_work", probing)
    before = await snapshot(owner_engine)
    own = {"ada@acme.test": "Admin", "eve@acme.test": "Manager", "cy@acme.test": "Member"}

    for email in VIEWERS:  # two active Admins (ada, ben)
        await _check_viewer(client, email, own[email])

    # ben deactivated: ada is the only active Admin (SOLE_ADMIN for her).
    ben = await f.member(session, acme, "ben@acme.test")
    async with owner_engine.begin() as conn:
        await conn.execute(
            sa.update(Member).where(Member.id == pk(ben)).values(status=MemberStatus.DEACTIVATED)
        )
    for email in VIEWERS:
        await _check_viewer(client, email, own[email])
    token = await client.token("ada@acme.test")
    ada = encode_id("Member", pk(await f.member(session, acme, "ada@acme.test")))
    assert await _outcome(client, token, "removeMember", {"memberId": ada}) == "SOLE_ADMIN"

    async with owner_engine.begin() as conn:
        await conn.execute(
            sa.update(Member).where(Member.id == pk(ben)).values(status=MemberStatus.ACTIVE)
        )
    assert await snapshot(owner_engine) == before  # the probes changed nothing
    rules = {"ESCALATION", "SOLE_ADMIN", "BUILTIN_ROLE_IMMUTABLE", "ROLE_IN_USE", "NOT_FOUND"}
    assert {"passes", "FORBIDDEN", *rules} <= SEEN, SEEN
