"""Running a GraphQL request: parse and measure once per document, validate once, execute.

The types and resolvers are Strawberry's (app.graphql.schema); the request path is
ours, because Strawberry's ``Schema.execute`` costs a fixed amount per request that a
small query notices: a runner for every extension hook, and a validation cache that
hashes the whole parsed document to look itself up. Here:

- ``Documents.prepare`` turns an authenticated request's text into a
  ``PreparedDocument`` — the parsed document (length and token limits), the static
  limits' verdict and the cost model (app.edge.analysis), the operations it holds and
  what the chosen one needs (``needs_workspaces``, app.graphql.lookahead) — once per
  distinct (text, operation name), kept in an LRU bounded in estimated bytes. Very long
  documents are prepared each time and never kept. Validation runs later (after the
  rate-limit charge), once per document: ``PreparedDocument.validation_errors``.
- ``run`` executes a valid document with graphql-core and the schema's execution
  context (app.graphql.runtime.executor; ``FAST_PATHS=false``: Strawberry's own), logs
  unexpected resolver errors with the request id, and masks their messages.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    execute,
    specified_rules,
    validate,
)

from app.config import Settings
from app.db.failures import classify
from app.db.prepared import SignInChanged
from app.edge.analysis import CostModel, Limits, check_limits
from app.edge.errors import Refused
from app.edge.lru import ByteLRU
from app.graphql.lookahead import needs_workspaces
from app.graphql.pagination import MAX_PAGE_SIZE
from app.graphql.runtime import is_awaitable, parse_document
from app.graphql.runtime.executor import (
    FALLBACK,
    CountedResult,
    GatewayExecutionContext,
    RootPlan,
    root_plan,
    run_root,
)
from app.graphql.schema import core_schema, is_unexpected
from app.observability import tracing

log = logging.getLogger("app.graphql")

# Characters of query text: lexing is linear but runs on the event loop (100,000
# characters take about 10 ms); long values belong in variables.
MAX_DOCUMENT_LENGTH = 100_000
CACHED_QUERY_LENGTH = 20_000  # longer documents are prepared each time, never kept
# Estimated memory of a kept document: its AST, validation and object plans.
ENTRY_OVERHEAD_BYTES = 16_384
BYTES_PER_CHARACTER = 256
INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})
MASKED_MESSAGE = "Internal server error."


_UNPLANNED = object()  # a PreparedDocument's root plan before its first run


@dataclass(slots=True)
class PreparedDocument:
    document: DocumentNode | None  # None: it does not parse, or a static limit refused it
    errors: list[GraphQLError]  # syntax errors: nothing is executed
    operation_names: tuple[str | None, ...]
    operation: OperationDefinitionNode | None  # the one to run; None: missing or ambiguous
    # False only when the operation provably reads nothing but the viewer's own account.
    needs_workspaces: bool
    refusal: Refused | None = None  # a static limit the document is over
    # A run of this query read through the ORM (not only prepared reads): its reads then
    # share one transaction from the start (app.db.session.RequestDB.read_only).
    reads_through_orm: bool = False
    cost: CostModel | None = None
    root_fields: frozenset[str] = frozenset()  # of the chosen operation, through fragments
    # Object plans (app.graphql.runtime.executor) shared by every run of this document; None
    # when a selection depends on variables (@skip/@include): then each run compiles its own.
    plans: dict[Any, Any] | None = None
    # Look-ahead shapes (app.graphql.lookahead.selected) shared by every run of this
    # document: each is read off its nodes and fragments alone, which it keeps alive.
    shapes: dict[Any, frozenset[str]] = field(default_factory=dict, repr=False)
    hide_suggestions: bool = True
    fast: bool = True  # Settings.fast_paths; False: stock graphql-core/Strawberry execution
    _validation: list[GraphQLError] | None = field(default=None, repr=False)
    # The answer of an operation that reads only the schema and takes no variables: the
    # same for every request of this process (the full introspection query costs ~20 ms).
    _schema_answer: ExecutionResult | None = field(default=None, repr=False)
    # Its root plan (app.graphql.runtime.executor.root_plan), made after its first run
    # compiled its object plans: None when graphql-core must run every request of it.
    _root: RootPlan | object | None = field(default=_UNPLANNED, repr=False)

    @property
    def is_mutation(self) -> bool:
        return self.operation is not None and self.operation.operation == OperationType.MUTATION

    @property
    def introspection(self) -> bool:
        """The operation reads the schema (``__schema``, ``__type``)."""
        return not self.root_fields.isdisjoint(INTROSPECTION_FIELDS)

    @property
    def introspection_only(self) -> bool:
        return self.introspection and self.root_fields <= INTROSPECTION_FIELDS | {"__typename"}

    def validation_errors(self) -> list[GraphQLError]:
        """The document's validation errors against the schema (computed once)."""
        if self._validation is None:
            assert self.document is not None
            self._validation = validate(
                core_schema,
                self.document,
                specified_rules,
                hide_suggestions=self.hide_suggestions,
            )
        return self._validation


def limits_of(settings: Settings) -> Limits:
    return Limits(
        max_depth=settings.max_depth,
        max_aliases=settings.max_aliases,
        max_fields=settings.max_fields,
        max_root_fields=settings.max_root_fields,
        max_directives=settings.max_directives,
        max_fragments=settings.max_fragments,
        max_list_length=settings.max_list_length,
    )


def _syntax_refusal(error: GraphQLError, settings: Settings) -> Refused | None:
    """The parser's own limits, answered with their codes."""
    if "more than" in error.message and "tokens" in error.message:
        return Refused(
            "TOO_MANY_TOKENS",
            f"The document has too many tokens: the limit is {settings.max_tokens}.",
        )
    if "nested too deeply" in error.message:
        return Refused(
            "TOO_DEEP", f"The document is nested too deeply: the limit is {settings.max_depth}."
        )
    return None


def _root_fields(
    selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], seen: set[str]
) -> set[str]:
    """Names of the operation's root fields, through fragments."""
    names: set[str] = set()
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            names.add(selection.name.value)
        elif isinstance(selection, InlineFragmentNode):
            names |= _root_fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name not in seen and name in fragments:
                seen.add(name)
                names |= _root_fields(fragments[name].selection_set, fragments, seen)
    return names


class Documents:
    """Prepared documents of one app, kept in an LRU bounded in estimated bytes. Only
    the documents of authenticated requests are ever prepared (app.edge.pipeline)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.limits = limits_of(settings)
        self._kept = ByteLRU[tuple[str, str | None], PreparedDocument](
            settings.document_cache_bytes
        )

    def __len__(self) -> int:
        return len(self._kept)

    def cached(self, query: str, operation_name: str | None) -> PreparedDocument | None:
        return self._kept.get((query, operation_name))

    def prepare_uncached(self, query: str, operation_name: str | None) -> PreparedDocument:
        """For input that must never enter the cache (anonymous introspection)."""
        return self._prepare(query, operation_name)

    def prepare(self, query: str, operation_name: str | None) -> PreparedDocument:
        prepared = self.cached(query, operation_name)
        if prepared is not None:
            return prepared
        prepared = self._prepare(query, operation_name)
        if len(query) <= CACHED_QUERY_LENGTH:
            size = ENTRY_OVERHEAD_BYTES + BYTES_PER_CHARACTER * len(query)
            self._kept.put((query, operation_name), prepared, size)
        return prepared

    def _prepare(self, query: str, operation_name: str | None) -> PreparedDocument:
        settings = self.settings
        if len(query) > MAX_DOCUMENT_LENGTH:
            too_long = Refused(
                "DOCUMENT_TOO_LARGE",
                f"The document is too long: the limit is {MAX_DOCUMENT_LENGTH} characters, "
                f"it has {len(query)}. Pass long values as variables.",
            )
            return PreparedDocument(None, [], (), None, True, too_long)
        try:
            document = parse_document(query, settings.max_tokens)
        except GraphQLSyntaxError as error:
            # What is kept must not hold the parser's frames (its tokens) alive.
            error.__traceback__ = None
            limit = _syntax_refusal(error, settings)
            return PreparedDocument(None, [] if limit else [error], (), None, True, limit)
        try:
            check_limits(document, self.limits)
        except Refused as refusal:
            return PreparedDocument(None, [], (), None, True, refusal.again())
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        names = tuple(d.name.value if d.name else None for d in operations)
        chosen = [
            d
            for d in operations
            if operation_name is None or (d.name is not None and d.name.value == operation_name)
        ]
        operation = chosen[0] if len(chosen) == 1 else None
        conditional = "@skip" in query or "@include" in query  # conservative: text, not AST
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        return PreparedDocument(
            document,
            [],
            names,
            operation,
            operation is None or needs_workspaces(operation),
            cost=(
                None
                if operation is None
                else CostModel(core_schema, document, operation, MAX_PAGE_SIZE)
            ),
            root_fields=frozenset(
                _root_fields(operation.selection_set, fragments, set()) if operation else ()
            ),
            plans=None if conditional else {},
            hide_suggestions=not settings.suggestions_enabled,
            fast=settings.fast_paths,
        )


async def run(
    prepared: PreparedDocument,
    context: Any,
    variables: dict[str, Any] | None,
    operation_name: str | None,
) -> ExecutionResult:
    """Execute a prepared document that has no errors."""
    assert prepared.document is not None
    constant = (
        prepared.fast
        and prepared.introspection_only
        and prepared.operation is not None
        and not prepared.operation.variable_definitions
    )
    if constant and prepared._schema_answer is not None:
        return prepared._schema_answer
    # FAST_PATHS=false: the executor Strawberry's own Schema.execute uses, nothing of ours
    # (no object plans, no plain-leaf path, no kept answers, no root plan).
    executor_class = tracing.execution_context(prepared.fast)  # spans when tracing
    ours = executor_class is GatewayExecutionContext
    root = prepared._root
    if ours and isinstance(root, RootPlan):
        try:
            data = await run_root(root, context, is_awaitable, variables)
        except Exception as raised:  # graphql-core reports it, with its path and locations
            if _whole_request(raised):
                raise  # the database failed, or the viewer changed: the request as a whole
            data = FALLBACK
        if data is FALLBACK:
            # graphql-core runs it now, and from now on: a document that fell back once
            # after its resolvers began (a viewer refused a field, an argument out of
            # range) may do so for many requests, each of which would read its page twice.
            prepared._root = None
        elif isinstance(data, CountedResult):
            return data
    fast: dict[str, Any] = {"plans": prepared.plans} if prepared.fast else {}
    result = execute(
        core_schema,
        prepared.document,
        context_value=context,
        variable_values=variables,
        operation_name=operation_name,
        executor_class=executor_class,
        is_awaitable=is_awaitable,  # type: ignore[arg-type]
        hide_suggestions=prepared.hide_suggestions,
        **fast,
    )
    if isinstance(result, Awaitable):
        result = await result
    if ours and root is _UNPLANNED and not result.errors and prepared.plans is not None:
        assert prepared.operation is not None
        assert prepared.document is not None
        prepared._root = root_plan(
            core_schema, prepared.document, prepared.operation, prepared.plans
        )
    if result.errors:
        for error in result.errors:
            original = error.original_error
            if original is not None and _whole_request(original):
                raise original  # the request's, not one field masked as a bug
        result.errors = [_masked(e, context) for e in result.errors]
    elif constant:
        prepared._schema_answer = result
    return result


def _whole_request(error: BaseException) -> bool:
    """An error a resolver raised that is the request's, not its field's: the database
    failed (503 or 504), or the viewer's deferred sign-in answered otherwise (the request
    runs again, app.edge.pipeline)."""
    return classify(error) is not None or isinstance(error, SignInChanged)


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
