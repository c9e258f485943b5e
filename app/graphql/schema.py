"""The schema: Query assembled from the areas, error masking, parse/validation caches."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.extensions.query_depth_limiter import create_validator as create_depth_validator
from strawberry.types.execution import ExecutionContext

from app.graphql.access import MemberType, RoleType, TeamType
from app.graphql.administration import ApiKeyType, ShareLinkQueries
from app.graphql.conversations import ConversationType
from app.graphql.directives import enforce_declarations
from app.graphql.errors import GatewayError
from app.graphql.execution import GatewayExecutionContext, plan_plain_leaves
from app.graphql.lookup import NodeQueries
from app.graphql.mutations import Mutation
from app.graphql.users import UserQueries, UserType
from app.graphql.workspaces import WorkspaceQueries, WorkspaceType

log = logging.getLogger("app.graphql")

MAX_DEPTH = 12
DEPTH_LIMIT = create_depth_validator(MAX_DEPTH, None)


@strawberry.type(
    description="Entry points. Every query needs `Authorization: Bearer <token or API key>`."
)
class Query(UserQueries, WorkspaceQueries, NodeQueries, ShareLinkQueries):
    pass


def is_unexpected(error: GraphQLError) -> bool:
    """An exception raised while resolving a field that is not one of our typed errors:
    its message may hold SQL or driver details, so it is masked. Errors without a path
    (syntax, validation, variable coercion) never come from a resolver."""
    original = error.original_error
    return (
        error.path is not None and original is not None and not isinstance(original, GraphQLError)
    )


class MaskUnexpectedErrors(MaskErrors):
    """Strawberry's masking, keeping the code: the rebuilt error has no original
    exception left to classify."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL_SERVER_ERROR"}
        return masked


class GatewaySchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        request_id = None
        if execution_context is not None:
            request_id = getattr(execution_context.context, "request_id", None)
        for error in errors:
            if is_unexpected(error):
                log.error(
                    "unexpected error at %s (request %s)",
                    error.path,
                    request_id,
                    exc_info=error.original_error,
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
    built = GatewaySchema(
        query=Query,
        mutation=Mutation,
        execution_context_class=GatewayExecutionContext,
        types=[
            UserType,
            WorkspaceType,
            MemberType,
            TeamType,
            RoleType,
            ConversationType,
            ApiKeyType,
        ],
        extensions=[
            partial(MaxTokensLimiter, max_token_count=5000),
            # One rule class for every request, so validation results stay cacheable
            # (QueryDepthLimiter builds a new class per instance, defeating ValidationCache).
            partial(AddValidationRules, [DEPTH_LIMIT]),
            partial(ParserCache, maxsize=512),
            partial(ValidationCache, maxsize=512),
            partial(
                MaskUnexpectedErrors,
                should_mask_error=is_unexpected,
                error_message="Internal server error.",
            ),
        ],
    )

    # The @requiresPermission / @requiresMembership declarations become the checks.
    enforce_declarations(built._schema)
    plan_plain_leaves(built._schema)
    return built


schema = build_schema()
