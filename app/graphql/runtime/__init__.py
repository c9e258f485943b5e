"""graphql-core and Strawberry internals, fenced: every use the GraphQL layer makes of a
private or non-exported part of either library lives in this package.

- here: small named functions over private attributes and non-exported names
  (``graphql_schema``, ``raw_info``, ``parse_document``, ``ExecutionContextBase``,
  ``ExtensionResolver``, ``refuse_ignored_extensions``);
- ``executor``: the execution context, which overrides graphql-core 3.3 executor
  methods (``execute_field``, ``collect_and_execute_subfields``, and calls
  ``collect_subfields``) for the plain-field fast path; and the root plan of a
  simple query (``run_root``: resolver fields down to object plans), which calls Strawberry's ``build_resolve_info`` with a stand-in
  for its execution context.

A library upgrade may move any of these; ``tests/test_internals.py`` has a canary per
internal that names the library, its installed version and the module to fix, and a
lint that keeps such uses out of the rest of ``app/``.
"""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import DocumentNode, GraphQLResolveInfo, GraphQLSchema, Lexer, Source, Token
from graphql.language.parser import Parser  # not exported: the only way to pass a lexer
from strawberry.execution import optimized_is_awaitable
from strawberry.extensions.field_extension import AsyncExtensionResolver  # not exported

# Strawberry's execution context (not exported): the resolve-info its resolvers expect.
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

ExecutionContextBase = StrawberryGraphQLCoreExecutionContext
# The type of the next resolver a field extension's ``resolve_async`` is handed.
ExtensionResolver = AsyncExtensionResolver
is_awaitable = optimized_is_awaitable


def graphql_schema(schema: strawberry.Schema) -> GraphQLSchema:
    """The graphql-core schema Strawberry built (``Schema._schema``)."""
    return schema._schema


def raw_info(info: Any) -> GraphQLResolveInfo[Any]:
    """graphql-core's resolve info under a Strawberry ``Info`` (``Info._raw_info``):
    the field nodes and fragments, without Strawberry's conversions."""
    return info._raw_info  # type: ignore[no-any-return]


def parse_document(query: str, max_tokens: int) -> DocumentNode:
    """Parse ``query`` (at most ``max_tokens`` tokens), leaving no token cycles behind."""
    source = Source(query)
    lexer = Lexer(source)
    try:
        return Parser(source, max_tokens=max_tokens, lexer=lexer).parse_document()
    finally:
        _unlink(lexer.token)


def _unlink(token: Token | None) -> None:
    """The lexer links each token to the one before and after it: a reference cycle per
    pair, which only the cyclic garbage collector frees (rarely, in a server process:
    app.main.freeze_startup_objects). Unlinked, a document's tokens are freed with it."""
    forward = token.next if token is not None else None
    while token is not None:
        before = token.prev
        token.prev = token.next = None
        token = before
    while forward is not None:
        after = forward.next
        forward.prev = forward.next = None
        forward = after


class IgnoredExtensionError(RuntimeError):
    """The schema carries something the own execution path would silently ignore."""


def refuse_ignored_extensions(schema: strawberry.Schema) -> None:
    """Requests run through app.edge.operation, not ``Schema.execute``: Strawberry's
    schema extensions (their parse/validate/execute hooks and their ``resolve``, which is
    Strawberry's field middleware) and operation directives (run by Strawberry's
    directives extension) never run there. Refuse them when the schema is built rather
    than ignore them. Field extensions (``strawberry.field(extensions=...)``) wrap the
    resolver itself and do run."""
    ignored = [getattr(e, "__name__", type(e).__name__) for e in schema.extensions]
    if ignored:
        raise IgnoredExtensionError(
            "schema extensions are not run by the own execution path "
            f"(app.edge.operation): {', '.join(ignored)}; write the behaviour into "
            "app.edge.operation or a field extension instead"
        )
    if schema.directives:
        names = ", ".join(d.graphql_name or d.python_name for d in schema.directives)
        raise IgnoredExtensionError(
            f"operation directives are not run by the own execution path: {names}"
        )
