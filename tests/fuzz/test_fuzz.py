"""Property-based fuzz of the whole API (Hypothesis): every mutation and every field that
takes arguments (tests/fuzz/operations.py finds them in the built schema) is called
with generated arguments (tests/fuzz/values.py), as the demo Admin and as a plain
member, on both engines. Whatever the input:

- no response is a 5xx and none carries INTERNAL_SERVER_ERROR;
- a mutation that was refused (an error where its payload should be, or userErrors)
  changed no row: a fingerprint of every table (row count and a hash of the rows, read
  as the owner) is the same before and after it.

Mutations that succeed may change data (later calls see it; IDs are drawn from what the
database holds at the start of each example). Each example calls every target once.

The default run is small and derandomized (the same inputs every time, a few seconds
per engine). For a deeper, random search: ``HYPOTHESIS_PROFILE=long pytest
tests/fuzz`` (hundreds of examples; minutes). A failure prints the field, the
principal and the variables drawn for it.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import sqlalchemy as sa
from graphql import GraphQLNonNull, parse, validate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

import app.models  # noqa: F401 - every table in the metadata
from app.auth.tokens import issue_user_token
from app.graphql.ids import encode_id
from app.graphql.schema import schema
from tests.client import GraphQLClient
from tests.fuzz.operations import Target, targets
from tests.fuzz.values import SLUGS, arguments, resolve
from tests.graphql.mutations.helpers import digests

_QUIET = [
    HealthCheck.function_scoped_fixture,  # one database per engine, on purpose
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.large_base_example,
]
# The default: the same few examples every run (CI); "long": a random search.
settings.register_profile(
    "fuzz",
    max_examples=10,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=_QUIET,
)
settings.register_profile("long", max_examples=300, deadline=None, suppress_health_check=_QUIET)
PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "fuzz"))

TARGETS = targets(schema._schema)
ARGUMENTS = {t.label: arguments(t.args) for t in TARGETS}
PRINCIPALS = ("ada@acme.test", "dee@globex.test")  # an Admin of acme; a Member of globex
ID_TABLES = {
    "User": "users",
    "Workspace": "workspaces",
    "Member": "members",
    "Team": "teams",
    "Role": "roles",
    "Conversation": "conversations",
    "ApiKey": "api_keys",
    "Invitation": "invitations",
}


def test_every_mutation_and_argument_taking_field_is_a_target() -> None:
    labels = {t.label for t in TARGETS}
    mutation = schema._schema.mutation_type
    assert mutation is not None
    assert {f"Mutation.{name}" for name in mutation.fields} <= labels
    for expected in ("Query.node", "Query.shareLink", "Workspace.auditEvents", "Team.members"):
        assert expected in labels
    for target in TARGETS:  # each document is valid, whichever arguments it sends
        needed = [a for a, type_ in target.args.items() if isinstance(type_, GraphQLNonNull)]
        for sent in (dict.fromkeys(target.args), dict.fromkeys(needed)):
            document = target.document(sent)
            assert validate(schema._schema, parse(document)) == [], document


async def fingerprint(engine: AsyncEngine) -> dict[str, tuple[int, str]]:
    """Per table: its row count and a hash of its rows."""
    return await digests(engine, [table.name for table in SQLModel.metadata.sorted_tables])


async def id_pool(engine: AsyncEngine) -> dict[str, list[str]]:
    pool: dict[str, list[str]] = {}
    async with engine.connect() as conn:
        for type_name, table in ID_TABLES.items():
            ids = (await conn.execute(sa.text(f"SELECT id FROM {table} ORDER BY id"))).scalars()  # noqa: S608
            pool[type_name] = [encode_id(type_name, int(i)) for i in ids]
    return pool


def refused(target: Target, body: dict[str, Any]) -> bool:
    """The mutation did not run to completion: no payload, or userErrors."""
    payload = (body.get("data") or {}).get(target.name)
    if not isinstance(payload, dict):
        return True
    return bool(payload.get("userErrors"))


@pytest.mark.slow
@PROFILE
@given(data=st.data())
async def test_generated_input_never_fails_the_server_nor_changes_data_when_refused(
    client: GraphQLClient, owner_engine: AsyncEngine, data: st.DataObject
) -> None:
    pool = await id_pool(owner_engine)
    user_ids = {email: int(i) for email, i in await _users(owner_engine)}
    before = await fingerprint(owner_engine)
    for target in TARGETS:
        drawn = data.draw(ARGUMENTS[target.label], label=target.label)
        principal = data.draw(st.sampled_from(PRINCIPALS), label="as")
        variables = resolve(drawn, pool)
        document = target.document(variables)
        if target.path[:1] == ("workspace",):
            variables["slug"] = data.draw(SLUGS, label="slug")
        token = issue_user_token(client.settings, user_ids[principal])
        response = await client.post(document, variables, token=token)
        shown = f"{target.label} as {principal}: {document}\n{str(variables)[:2000]}"
        assert response.status_code < 500, f"{shown}\n{response.text[:2000]}"
        body = response.json()
        codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors", ())]
        assert "INTERNAL_SERVER_ERROR" not in codes, f"{shown}\n{response.text[:2000]}"
        if target.operation == "mutation":
            after = await fingerprint(owner_engine)
            if refused(target, body):
                assert after == before, f"refused, yet rows changed: {shown}\n{response.text}"
            before = after


async def _users(engine: AsyncEngine) -> list[tuple[str, int]]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.text("SELECT email, id FROM users"))
        return [(r[0], r[1]) for r in rows]
