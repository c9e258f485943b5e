"""Running a GraphQL request: parse and validate once per document, then execute.

The types and resolvers are Strawberry's (app.graphql.schema); the request path is
ours, because Strawberry's ``Schema.execute`` costs a fixed amount per request that a
small query notices: a runner for every extension hook, and a validation cache that
hashes the whole parsed document to look itself up. Here:

- ``prepare`` turns the request's text into a ``PreparedDocument`` — the parsed
  document (at most ``MAX_TOKENS`` tokens), its validation errors against the schema
  (the specified rules plus the depth limit), the operations it holds and what the
  chosen one needs (``needs_workspaces``, app.graphql.lookahead) — once per distinct
  (text, operation name), in a bounded LRU cache. Very long documents are prepared
  each time and never kept.
- ``run`` executes a valid document with graphql-core and the schema's execution
  context (app.graphql.execution), logs unexpected resolver errors with the request id,
  and masks their messages.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    execute,
    parse,
    specified_rules,
    validate,
)
from strawberry.execution import optimized_is_awaitable

from app.graphql.execution import GatewayExecutionContext
from app.graphql.lookahead import needs_workspaces
from app.graphql.schema import DEPTH_LIMIT, is_unexpected, schema

log = logging.getLogger("app.graphql")

MAX_TOKENS = 5000
CACHED_QUERY_LENGTH = 20_000  # longer documents are prepared each time, never kept
CACHE_SIZE = 512

_RULES = (*specified_rules, DEPTH_LIMIT)
MASKED_MESSAGE = "Internal server error."


@dataclass(frozen=True, slots=True)
class PreparedDocument:
    document: DocumentNode | None  # None: it does not parse
    errors: list[GraphQLError]  # syntax or validation errors: nothing is executed
    operation_names: tuple[str | None, ...]
    operation: OperationDefinitionNode | None  # the one to run; None: missing or ambiguous
    # False only when the operation provably reads nothing but the viewer's own account.
    needs_workspaces: bool
    # Object plans (app.graphql.execution) shared by every run of this document; None
    # when a selection depends on variables (@skip/@include): then each run compiles its own.
    plans: dict[Any, Any] | None = None

    @property
    def is_mutation(self) -> bool:
        return self.operation is not None and self.operation.operation == OperationType.MUTATION


def prepare(query: str, operation_name: str | None) -> PreparedDocument:
    if len(query) > CACHED_QUERY_LENGTH:
        return _prepare(query, operation_name)
    return _cached(query, operation_name)


def _prepare(query: str, operation_name: str | None) -> PreparedDocument:
    try:
        document = parse(query, max_tokens=MAX_TOKENS)
    except GraphQLError as error:
        return PreparedDocument(None, [error], (), None, True)
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    names = tuple(d.name.value if d.name else None for d in operations)
    chosen = [
        d
        for d in operations
        if operation_name is None or (d.name is not None and d.name.value == operation_name)
    ]
    operation = chosen[0] if len(chosen) == 1 else None
    errors = validate(schema._schema, document, _RULES)
    conditional = "@skip" in query or "@include" in query  # conservative: text, not AST
    return PreparedDocument(
        document,
        errors,
        names,
        operation,
        operation is None or needs_workspaces(operation),
        None if conditional else {},
    )


_cached = lru_cache(maxsize=CACHE_SIZE)(_prepare)


async def run(
    prepared: PreparedDocument,
    context: Any,
    variables: dict[str, Any] | None,
    operation_name: str | None,
) -> ExecutionResult:
    """Execute a prepared document that has no errors."""
    assert prepared.document is not None and not prepared.errors
    result = execute(
        schema._schema,
        prepared.document,
        context_value=context,
        variable_values=variables,
        operation_name=operation_name,
        executor_class=GatewayExecutionContext,
        is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
        plans=prepared.plans,
    )
    if isinstance(result, Awaitable):
        result = await result
    if result.errors:
        result.errors = [_masked(e, context) for e in result.errors]
    return result


def _masked(error: GraphQLError, context: Any) -> GraphQLError:
    """An unexpected error (not one of our typed errors) is logged with its cause and
    answered with a generic message: its own may hold SQL or driver details."""
    if not is_unexpected(error):
        return error
    log.error(
        "unexpected error at %s (request %s)",
        error.path,
        getattr(context, "request_id", None),
        exc_info=error.original_error,
    )
    return GraphQLError(
        MASKED_MESSAGE,
        nodes=error.nodes,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR"},
    )
