"""The schema: Query and Mutation assembled from the areas, the declarations enforced,
the error format. Requests run through app.edge.operation (parse/validation cache,
execution, masking), not through Strawberry's ``Schema.execute``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from graphql import GraphQLError

from app.graphql.access.mutations.members import MemberMutations
from app.graphql.access.mutations.roles import RoleMutations
from app.graphql.access.mutations.teams import TeamMutations
from app.graphql.access.types import MemberType, RoleType, TeamType
from app.graphql.account.mutations import AccountMutations
from app.graphql.account.sessions import SessionMutations
from app.graphql.administration.mutations import ApiKeyMutations
from app.graphql.administration.types import ApiKeyType, ShareLinkQueries
from app.graphql.capabilities import CapabilityQueries
from app.graphql.conversations.mutations import ConversationMutations
from app.graphql.conversations.types import ConversationType
from app.graphql.directives import enforce_declarations
from app.graphql.errors import GatewayError
from app.graphql.lookup import NodeQueries
from app.graphql.mutation import describe_inputs
from app.graphql.rate_limit import RateLimitQueries
from app.graphql.runtime import graphql_schema, refuse_ignored_extensions
from app.graphql.runtime.executor import GatewayExecutionContext, plan_plain_leaves
from app.graphql.scalars import DateTime
from app.graphql.users.types import UserQueries, UserType
from app.graphql.webhooks.mutations import WebhookMutations
from app.graphql.webhooks.types import WebhookEventTypeQueries
from app.graphql.workspaces.invitations import InvitationMutations
from app.graphql.workspaces.mutations import SettingsMutations
from app.graphql.workspaces.types import WorkspaceQueries, WorkspaceType


@strawberry.type(
    description="Entry points. Every query needs `Authorization: Bearer <token or API key>`."
)
class Query(
    UserQueries,
    WorkspaceQueries,
    NodeQueries,
    ShareLinkQueries,
    RateLimitQueries,
    CapabilityQueries,
    WebhookEventTypeQueries,
):
    pass


@strawberry.type(
    description="Changes. Each is one transaction: all of it, or nothing and `userErrors`."
)
class Mutation(
    MemberMutations,
    InvitationMutations,
    TeamMutations,
    RoleMutations,
    SettingsMutations,
    ApiKeyMutations,
    ConversationMutations,
    AccountMutations,
    SessionMutations,
    WebhookMutations,
):
    pass


describe_inputs(Mutation)


def is_unexpected(error: GraphQLError) -> bool:
    """An exception raised while resolving a field that is not one of our typed errors:
    its message may hold SQL or driver details, so it is masked. Errors without a path
    (syntax, validation, variable coercion) never come from a resolver."""
    original = error.original_error
    return (
        error.path is not None and original is not None and not isinstance(original, GraphQLError)
    )


def error_code(error: GraphQLError) -> str:
    if error.extensions and "code" in error.extensions:
        return str(error.extensions["code"])
    original = error.original_error
    if isinstance(original, GatewayError):
        return original.code
    if is_unexpected(error):
        return "INTERNAL_SERVER_ERROR"
    return "BAD_USER_INPUT"  # syntax, validation, variable coercion


def format_error(error: GraphQLError) -> dict[str, Any]:
    formatted: dict[str, Any] = dict(error.formatted)
    formatted["extensions"] = {**(error.extensions or {}), "code": error_code(error)}
    return formatted


def build_schema() -> strawberry.Schema:
    built = strawberry.Schema(
        query=Query,
        mutation=Mutation,
        execution_context_class=GatewayExecutionContext,
        scalar_overrides={datetime: DateTime},
        types=[
            UserType,
            WorkspaceType,
            MemberType,
            TeamType,
            RoleType,
            ConversationType,
            ApiKeyType,
        ],
    )

    refuse_ignored_extensions(built)
    core = graphql_schema(built)
    # The @requiresPermission / @requiresMembership declarations become the checks.
    enforce_declarations(core)
    plan_plain_leaves(core)
    return built


schema = build_schema()
core_schema = graphql_schema(schema)  # what graphql-core validates and executes against


def sdl() -> str:
    """The published SDL (``schema.graphql``, ``python -m app export-schema``). It opens
    with an explicit ``schema { query mutation }`` block, which Strawberry (like
    graphql-core) leaves out when the roots have their usual names: without it, tools that
    read the file (code generators, IDE plugins, graphql-inspector) guess the roots from
    type names."""
    roots = {
        "query": core_schema.query_type,
        "mutation": core_schema.mutation_type,
        "subscription": core_schema.subscription_type,
    }
    block = "".join(f"  {op}: {t.name}\n" for op, t in roots.items() if t is not None)
    return f"schema {{\n{block}}}\n\n{schema.as_str()}\n"
