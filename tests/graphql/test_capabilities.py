"""What a client learns about permissions without hard-coding them
(app/graphql/capabilities.py): the catalogue, the declaration of every field, and the
``viewerCan`` flags, each held against what the server enforces.

- ``permissionCatalogue`` is the catalogue of app/auth/permissions.py, described;
- ``fieldPermissions`` is, field for field, what schema.graphql prints;
- for every role shape (the built-ins, a custom role holding each single catalogued
  permission, the create-only role of issue 14), every ``viewerCan`` flag is true exactly
  when a request to the fields it names passes the permission check: the mutations are
  sent for real (a probe stops each right after the unit of work's permission check, so
  nothing changes) and the read fields are read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from graphql import ObjectTypeDefinitionNode, StringValueNode, parse
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth.permissions import MEMBER_PERMISSIONS, catalogue
from app.domain.errors import Refusal, UserErrorCode
from app.graphql import mutation as base
from app.graphql.capabilities import flag_coordinates
from app.models import Member, Role, RolePermission, pk
from tests import factories as f
from tests.client import GraphQLClient
from tests.graphql.mutations.helpers import snapshot
from tests.graphql.mutations.test_declarations import _request
from tests.graphql.test_existence_oracles import arrange, document

ROOT = Path(__file__).resolve().parents[2]
ADA = "ada@acme.test"


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


# --- the catalogue and the declarations ----------------------------------------------------


async def test_the_permission_catalogue_lists_every_catalogued_permission_described(
    client: GraphQLClient,
) -> None:
    body = await client.query(
        "{ permissionCatalogue { resource action scopes permissions description } }", as_=ADA
    )
    entries = body["data"]["permissionCatalogue"]
    assert [p for e in entries for p in e["permissions"]] == list(catalogue())
    for e in entries:
        assert e["description"].strip(), e
        assert e["permissions"] == [f"{e['resource']}:{e['action']}:{s}" for s in e["scopes"]]
    conversations_read = next(
        e for e in entries if (e["resource"], e["action"]) == ("conversations", "read")
    )
    assert conversations_read["scopes"] == ["own", "team", "all"]


def printed_declarations() -> Iterator[tuple[str, str, str | None]]:
    """(coordinate, directive, permission) of every field schema.graphql declares."""
    kinds = {"requiresPermission", "requiresMembership", "requiresUserToken"}
    for d in parse((ROOT / "schema.graphql").read_text()).definitions:
        if not isinstance(d, ObjectTypeDefinitionNode):
            continue
        for field in d.fields or ():
            for directive in field.directives or ():
                if directive.name.value in kinds:
                    args = {
                        a.name.value: a.value.value
                        for a in directive.arguments or ()
                        if isinstance(a.value, StringValueNode)
                    }
                    yield (
                        f"{d.name.value}.{field.name.value}",
                        directive.name.value,
                        args.get("permission"),
                    )


REQUIREMENT = {
    "PERMISSION": "requiresPermission",
    "MEMBERSHIP": "requiresMembership",
    "USER_TOKEN": "requiresUserToken",
}


async def test_field_permissions_are_what_schema_graphql_prints_for_every_field(
    client: GraphQLClient,
) -> None:
    body = await client.query("{ fieldPermissions { coordinate requirement permission } }", as_=ADA)
    served = [
        (e["coordinate"], REQUIREMENT[e["requirement"]], e["permission"])
        for e in body["data"]["fieldPermissions"]
    ]
    printed = list(printed_declarations())
    assert len(printed) > 100
    assert sorted(served) == sorted(printed)
    assert len({c for c, _, _ in served}) == len(served)  # one declaration per field
    assert ("Mutation.createTeam", "requiresPermission", "teams:create:all") in served
    assert ("Mutation.deleteAccount", "requiresUserToken", None) in served


def test_every_flag_names_declared_fields() -> None:
    declared = {c for c, _, _ in printed_declarations()}
    for flag, coordinates in flag_coordinates().items():
        assert coordinates and set(coordinates) <= declared, flag


# --- the flags against the enforcement, for every role shape ---------------------------------

FLAGS = flag_coordinates()
PROBE = "probe: the permission check passed"
CREATE_ONLY = tuple(p for p in catalogue() if ":create:" in p and p.endswith(":all"))
SHAPES: dict[str, tuple[str, ...] | None] = {
    "Admin": None,
    "Member": None,
    "create-only": CREATE_ONLY,
    "member-plus-create": (*MEMBER_PERMISSIONS, *CREATE_ONLY),
    **{p: (p,) for p in catalogue()},
}
READS = {
    "Workspace.subscription": "subscription { __typename }",
    "Workspace.apiKeys": "apiKeys { __typename }",
    "Workspace.auditEvents": "auditEvents(first: 1) { totalCount }",
}


async def _wear(engine: AsyncEngine, ada: int, shape: str, custom: int) -> None:
    """Give ada's acme membership the shape: a built-in role, or the custom role holding
    exactly the shape's permissions."""
    permissions = SHAPES[shape]
    async with engine.begin() as conn:
        if permissions is None:
            role = (
                await conn.execute(
                    sa.select(Role.id).where(
                        Role.workspace_id
                        == sa.select(Role.workspace_id).where(Role.id == custom).scalar_subquery(),
                        Role.name == shape,
                    )
                )
            ).scalar_one()
        else:
            role = custom
            workspace = (
                await conn.execute(sa.select(Role.workspace_id).where(Role.id == custom))
            ).scalar_one()
            await conn.execute(sa.delete(RolePermission).where(RolePermission.role_id == custom))
            if permissions:
                await conn.execute(
                    sa.insert(RolePermission),
                    [
                        {"workspace_id": workspace, "role_id": custom, "permission": p}
                        for p in permissions
                    ],
                )
        await conn.execute(sa.update(Member).where(Member.id == ada).values(role_id=role))


def _passed(name: str, body: dict[str, Any]) -> bool:
    """Did the mutation get past the permission check (to the probe)?"""
    if body.get("data") is None:
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], body
        return False
    errors = body["data"][name]["userErrors"]
    assert errors and errors[0]["message"] == PROBE, body
    return True


@pytest.mark.slow
@pytest.mark.arranged.with_args(arrange)
async def test_every_viewer_can_flag_is_the_enforced_check_for_every_role_shape(
    client: GraphQLClient,
    arranged: tuple[dict[str, str], str],
    session: AsyncSession,
    owner_engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world, _ = arranged
    acme = await f.workspace_id(session, "acme")
    ada = pk(await f.member(session, acme, ADA))
    custom = pk(await f.create_role(session, acme, [], name="Shape"))
    await session.commit()
    token = await client.token(ADA)

    real_actor = base._actor

    async def stop_after_the_check(*args: Any) -> Any:
        await real_actor(*args)  # FORBIDDEN here when the permission is not held
        raise Refusal(UserErrorCode.NOT_FOUND, PROBE)

    monkeypatch.setattr(base, "_actor", stop_after_the_check)
    mutations = sorted(
        {c.split(".", 1)[1] for cs in FLAGS.values() for c in cs if c.startswith("Mutation.")}
    )
    flags_query = (
        '{ workspace(slug: "acme") { viewerCan { '
        + " ".join(camel(n) for n in FLAGS)
        + " } "
        + " ".join(READS.values())
        + " } }"
    )
    before = await snapshot(owner_engine)
    for shape in SHAPES:
        await _wear(owner_engine, ada, shape, custom)
        body = await client.query(flags_query, token=token)
        workspace = body["data"]["workspace"]
        flags = workspace["viewerCan"]
        forbidden_reads = {
            tuple(e["path"][:2])
            for e in body.get("errors", [])
            if e["extensions"]["code"] == "FORBIDDEN"
        }
        passes = {
            f"Workspace.{c.split('.')[1]}": ("workspace", c.split(".")[1]) not in forbidden_reads
            for c in READS
        }
        for name in mutations:
            reply = await client.query(document(name), _request(name, world), token=token)
            passes[f"Mutation.{name}"] = _passed(name, reply)
        for flag, coordinates in FLAGS.items():
            expected = any(passes[c] for c in coordinates)
            assert flags[camel(flag)] is expected, (
                shape,
                flag,
                {c: passes[c] for c in coordinates},
            )
    SHAPES["nothing"] = ()
    await _wear(owner_engine, ada, "nothing", custom)
    await _wear(owner_engine, ada, "Admin", custom)
    assert await snapshot(owner_engine) == before  # the probes changed nothing
