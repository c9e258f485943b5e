"""The GraphQL endpoint: every request passes the cheap checks before the expensive ones.

    accepted media type, content type, declared body size     406 / 415 / 413
      (app.edge.http: GraphQL over HTTP)
    credential: bearer token verified, or API-key shaped       401 UNAUTHENTICATED
    penalty box: a credential inside its Retry-After           429 RATE_LIMITED
    body, read as a capped stream; its JSON                    400 / 413
    admission: a slot, or a place in the bounded queue         503 SERVICE_UNAVAILABLE
    ── from here on under the request deadline ─────────────── 504 TIMEOUT
    persisted query: the text by its hash (app.edge.persisted)
    authentication (app.edge.authenticate)                     401 UNAUTHENTICATED
    parse, static limits, cost model (app.edge.operation)      TOO_MANY_… / TOO_DEEP
    cost estimate                                              QUERY_TOO_COMPLEX
    rate-limit charge (app.edge.ratelimit)                     429 RATE_LIMITED
    validation                                                 BAD_USER_INPUT
    a mutation's Idempotency-Key (app.edge.idempotency)        400 / 409 / 422, or the
                                                               first answer replayed
    execution, one commit                                      data + extensions.cost

A document is parsed only for a request whose credentials held (a cached document of an
earlier authenticated request is reused before the database is asked, to know whether
the operation needs the viewer's memberships); nothing anonymous enters a cache.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import ExecutionResult
from starlette.requests import Request
from starlette.responses import Response

from app.auth.credentials import AuthenticationError, Credential, read_credential
from app.auth.viewer import Viewer
from app.db.failures import classify
from app.db.prepared import SignInChanged
from app.db.session import RequestDB
from app.edge import idempotency, operation
from app.edge.analysis import actual_cost, check_variables
from app.edge.authenticate import authenticate
from app.edge.errors import Refused, database_refusal
from app.edge.http import (
    APPLICATION_JSON,
    GraphQLParams,
    GraphQLResponse,
    check_envelope,
    not_acceptable,
    read_params,
    response_media_type,
)
from app.edge.persisted import (
    PersistedQueryError,
    PersistedRequest,
    persisted_request,
    resolve_query,
    sha256_hex,
)
from app.edge.ratelimit import Charge, ThrottleStatus
from app.graphiql.page import graphiql_page
from app.graphql.context import Context
from app.graphql.runtime.executor import CountedResult
from app.graphql.schema import format_error
from app.observability import access, metrics

log = logging.getLogger("app.http")

# Points a document costs when the edge refuses it (limits, syntax, cost): its parse and
# analysis were work, and a client sending such documents empties its bucket.
REFUSED_DOCUMENT_COST = 50
# How long a request sent during its credential's Retry-After waits for its 429.
PENALTY_DELAY_SECONDS = 1.0

# Request ids: a random prefix per process and a counter (unique without a random draw
# per request).
_ID_PREFIX = uuid.uuid4().hex[:12]
_ID_COUNTER = itertools.count(1)


def next_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER):012x}"


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def refused_response(refusal: Refused, media_type: str) -> Response:
    """A refusal in the negotiated media type: its own status, or, for a request error
    (status 200: nothing executed, no ``data``), 200 or 400 as the media type says."""
    metrics.EDGE_REFUSALS.labels(code=refusal.code).inc()
    body: dict[str, Any] = {"errors": refusal.errors()}
    if refusal.cost is not None:
        body["extensions"] = {"cost": refusal.cost}
    access.answered(body)
    return GraphQLResponse(body, media_type, refusal.status, refusal.headers)


def _unauthenticated(exc: AuthenticationError) -> Refused:
    return Refused("UNAUTHENTICATED", str(exc), status=401, headers={"WWW-Authenticate": "Bearer"})


@dataclass(slots=True)
class _Request:
    """What one request carries through the pipeline."""

    http: Request
    params: GraphQLParams
    credential: Credential
    request_id: str
    db: RequestDB
    media_type: str  # of the response
    # A mutation's Idempotency-Key taken for this run, and the answer to keep under it.
    claim: idempotency.Claim | None = None
    answer: idempotency.Answer | None = None


async def graphql_endpoint(request: Request) -> Response:
    gateway = request.app.state.gateway
    request_id = request.headers.get("x-request-id", "")[:64] or next_request_id()
    with access.Observed(request_id, request.headers) as observed:  # the access line
        response = await _answer(request, gateway, request_id)
        observed.status = response.status_code
    response.headers["x-request-id"] = request_id
    return response


async def _answer(request: Request, gateway: Any, request_id: str) -> Response:
    settings = gateway.settings
    if (
        request.method == "GET"
        and not request.query_params
        and settings.graphiql_enabled
        and "text/html" in request.headers.get("accept", "")
    ):
        return await graphiql_page(request, settings)
    media_type = response_media_type(request.headers.get("accept"))
    if media_type is None:
        return refused_response(not_acceptable(), APPLICATION_JSON)
    anonymous: AuthenticationError | None = None  # INTROSPECTION=on: may read the schema
    try:
        check_envelope(request, settings.max_body_bytes)
        try:
            credential = read_credential(settings, request.headers.get("authorization"))
        except AuthenticationError as exc:
            if settings.introspection != "on":
                raise _unauthenticated(exc) from None
            credential, anonymous = Credential(), exc
        held = None if anonymous else gateway.penalty_box.held(credential.key)
        if held is not None:
            # A client that did not wait for Retry-After: answered slowly, at no cost
            # (a sleeping request holds no slot), so a loop of them stays a trickle.
            await asyncio.sleep(min(held[0], PENALTY_DELAY_SECONDS))
            raise _rate_limited(None, *held)
        params = await read_params(request, settings.max_body_bytes)
        if anonymous is not None and params.query is None:
            raise _unauthenticated(anonymous)
        if settings.persisted_only_for_users and credential.user_id is not None:
            _require_trusted(gateway, params)
    except Refused as refusal:
        return refused_response(refusal, media_type)

    db = RequestDB(gateway.sessionmaker)
    state = _Request(request, params, credential, request_id, db, media_type)
    try:
        async with asyncio.timeout(settings.request_timeout_seconds):
            async with gateway.admission:
                if anonymous is not None:
                    return await _introspect_anonymously(gateway, state, anonymous)
                response = await _execute(gateway, state)
                await state.db.finish(commit=True)
        await _settle_claim(gateway, state)
        return response
    except Refused as refusal:
        await state.db.finish(commit=False)
        return await _failed(gateway, state, refused_response(refusal, media_type))
    except TimeoutError:
        metrics.TIMEOUTS.inc()
        log.warning("request %s passed its deadline", request_id)
        # The statement that was cut off may hold the connection a while longer (SQLite
        # runs it in a thread until its busy timeout): answer now, roll back meanwhile.
        _in_background(state.db.finish(commit=False), request_id)
        message = (
            f"The request did not finish within {settings.request_timeout_seconds:g} seconds: "
            f"its unfinished work was rolled back.{_committed(state)}"
        )
        timeout = Refused("TIMEOUT", message, status=504)
        return await _failed(gateway, state, refused_response(timeout, media_type))
    except Exception as error:
        failure = classify(error)  # the database unavailable: a typed answer, not a 500
        if failure is not None:
            log.warning("request %s: %s (%s)", request_id, failure.reason, type(error).__name__)
            await state.db.finish(commit=False)
            unavailable = database_refusal(failure)
            unavailable.message += _committed(state)
            return await _failed(gateway, state, refused_response(unavailable, media_type))
        log.exception("request %s failed", request_id)
        await state.db.finish(commit=False)
        masked = {
            "message": operation.MASKED_MESSAGE + _committed(state),
            "extensions": {"code": "INTERNAL_SERVER_ERROR"},
        }
        return await _failed(gateway, state, GraphQLResponse({"errors": [masked]}, media_type, 500))


def _committed(state: _Request) -> str:
    """What a failure's message adds when a change of the request was committed before
    it (an operation of several mutation fields): a retry must not assume nothing was."""
    if not state.db.committed:
        return ""
    return (
        " A change this request made before was committed: read the objects it changes "
        "to learn their state."
    )


async def _failed(gateway: Any, state: _Request, response: Response) -> Response:
    """A request that did not run to the end: its Idempotency-Key is freed for a retry,
    unless a change of it was already committed. Then this answer is kept as the key's
    (a retry gets it again rather than applying the change twice)."""
    if state.claim is not None and state.db.committed:
        state.answer = idempotency.Answer.of(response)
        await _settle_claim(gateway, state)
    else:
        await _settle_claim(gateway, state, failed=True)
    return response


async def _introspect_anonymously(
    gateway: Any, state: _Request, exc: AuthenticationError
) -> Response:
    """INTROSPECTION=on: a request without credentials may read the schema and nothing
    else. Its document is parsed under the same limits and never cached; its cost is
    charged to the client's address."""
    request, params = state.http, state.params
    assert params.query is not None
    if len(params.query) > operation.CACHED_QUERY_LENGTH:
        raise _unauthenticated(exc)
    prepared = gateway.documents.prepare_uncached(params.query, params.operation_name)
    if prepared.document is not None and not prepared.introspection_only:
        raise _unauthenticated(exc)
    client = request.client.host if request.client else "unknown"
    principal = f"anon:{client}"
    try:
        requested = _estimate(prepared, params, request.method, gateway.settings)
    except Refused:
        await _charge(gateway, None, principal, REFUSED_DOCUMENT_COST)
        raise
    charge = await _charge(gateway, None, principal, requested)

    errors = prepared.validation_errors()
    if errors:
        raise _request_errors(errors, (requested, charge))
    result = await operation.run(prepared, None, params.variables, params.operation_name)
    return _result_response(result, prepared, requested, charge, state.media_type)


_background: set[asyncio.Task[None]] = set()


def _in_background(work: Coroutine[Any, Any, None], request_id: str) -> None:
    async def run() -> None:
        try:
            await work
        except Exception:
            log.exception("request %s: cleanup after the deadline failed", request_id)

    task = asyncio.get_running_loop().create_task(run())
    _background.add(task)  # the loop keeps only a weak reference to a task
    task.add_done_callback(_background.discard)


def _require_trusted(gateway: Any, params: GraphQLParams) -> None:
    """PERSISTED_ONLY_FOR_USERS: a user token runs the app's own operations only."""
    try:
        persisted = persisted_request(params.extensions)
    except PersistedQueryError as exc:
        raise Refused(exc.code, str(exc)) from None
    if persisted is not None:
        trusted = gateway.persisted.trusted(persisted.sha256_hash)
    else:
        trusted = params.query is not None and gateway.persisted.trusted(sha256_hex(params.query))
    if not trusted:
        raise Refused(
            "PERSISTED_QUERY_REQUIRED",
            "User tokens may run only the app's persisted operations here; "
            "use an API key for other documents.",
            status=403,
        )


async def _document_text(
    gateway: Any, params: GraphQLParams
) -> tuple[str, PersistedRequest | None]:
    """The query text, from the request or the persisted-query store, and the persisted
    request to register once the document proved valid (None: nothing to register)."""
    try:
        persisted = persisted_request(params.extensions)
        if persisted is None:
            if not params.query or not params.query.strip():
                raise Refused("BAD_USER_INPUT", "`query` must be a non-empty string.", status=400)
            return params.query, None
        text = await resolve_query(gateway.persisted, persisted, params.query)
    except PersistedQueryError as exc:
        raise Refused(exc.code, str(exc)) from None
    return text, persisted if params.query else None


def principal_of(viewer: Viewer) -> str:
    """Whose budget an operation is charged to: the API key, or the user's own."""
    if viewer.api_key_id is not None:
        return f"key:{viewer.api_key_id}"
    return f"user:{viewer.user_id}"


async def _execute(gateway: Any, state: _Request) -> Response:
    settings = gateway.settings
    params = state.params
    text, register = await _document_text(gateway, params)
    name = params.operation_name
    documents: operation.Documents = gateway.documents
    prepared = documents.cached(text, name)
    # A query known before authentication whose runs so far needed no transaction reads
    # outside one (app.db.session.RequestDB.read_only).
    state.db.read_only = (
        settings.fast_paths
        and prepared is not None
        and not prepared.is_mutation
        and not prepared.reads_through_orm
    )
    try:
        if prepared is None:
            # Parsing waits for the database's word on the credentials.
            viewer = await authenticate(state.db, state.credential, remembered=gateway.sign_ins)
            prepared = documents.prepare(text, name)
        else:
            viewer = await authenticate(
                state.db,
                state.credential,
                with_memberships=prepared.needs_workspaces,
                remembered=gateway.sign_ins,
            )
    except AuthenticationError as exc:
        raise _unauthenticated(exc) from None

    try:
        return await _authorized(gateway, state, prepared, viewer, text, register)
    except Refused:
        # A refusal before the run (limits, cost, rate, validation) is the document's or
        # the account's, not its memberships': it stands once the account's sign-in does.
        await _signed_in_again(gateway, state, viewer)
        raise


async def _signed_in_again(gateway: Any, state: _Request, viewer: Viewer) -> Viewer | None:
    """After a query went ahead with a remembered sign-in (app.edge.authenticate): None
    when the database confirms it (or there was none to confirm), else the viewer the
    database finds now (a sign-in of its own), or 401 for an account that may no longer
    sign in. Nothing the query did with the remembered viewer is answered before this."""
    try:
        await state.db.confirm_sign_in()
        return None
    except SignInChanged:
        metrics.SIGN_INS_CHANGED.inc()
        gateway.sign_ins.forget(viewer.user_id)
    try:
        return await authenticate(state.db, state.credential, remembered=gateway.sign_ins)
    except AuthenticationError as exc:
        raise _unauthenticated(exc) from None


async def _authorized(
    gateway: Any,
    state: _Request,
    prepared: operation.PreparedDocument,
    viewer: Viewer,
    text: str,
    register: PersistedRequest | None,
) -> Response:
    settings = gateway.settings
    params = state.params
    name = params.operation_name
    principal = principal_of(viewer)
    access.identified(viewer, prepared, name)
    try:
        requested = _estimate(prepared, params, state.http.method, settings)
    except Refused:
        # A document refused before it could run still cost its parse and analysis.
        await _charge(gateway, state.credential.key, principal, REFUSED_DOCUMENT_COST)
        raise
    charge = await _charge(gateway, state.credential.key, principal, requested)

    errors = prepared.validation_errors()
    if errors:
        raise _request_errors(errors, (requested, charge))
    if register is not None:
        viewer = await _signed_in_again(gateway, state, viewer) or viewer
        await gateway.persisted.put(register.sha256_hash, text)
    if prepared.is_mutation:
        replayed = await _claim_key(gateway, state, principal, text)
        if replayed is not None:
            return replayed

    async def run_as(viewer: Viewer) -> ExecutionResult:
        context = Context.create(state.db, viewer, settings, state.request_id)
        context.cost = (requested, charge.status)
        context.shapes = prepared.shapes
        access.executing(context)
        return await operation.run(prepared, context, params.variables, name)

    try:
        result: ExecutionResult | None = await run_as(viewer)
    except SignInChanged:
        result = None  # (confirm_sign_in raises it again, below)
    again = await _signed_in_again(gateway, state, viewer)
    if again is not None:
        # The query went ahead as the viewer the account's last sign-in found, and the
        # database now finds another: what it read is dropped, and it runs again.
        result = await run_as(again)
    assert result is not None
    if state.db.read_through_orm and state.credential.api_key is None:
        # (An API key's authentication itself reads and writes through the ORM: only a
        # user token's run says what the document's own reads need.)
        prepared.reads_through_orm = True
    response = _result_response(result, prepared, requested, charge, state.media_type)
    # Kept when it ran to the end, and also when it did not but a change of it committed
    # (a later mutation field failed): a retry must get this answer, not apply it again.
    if state.claim is not None and (
        idempotency.ran_to_the_end(response.status_code, result) or state.db.committed
    ):
        state.answer = idempotency.Answer.of(response)
    return response


async def _claim_key(gateway: Any, state: _Request, principal: str, text: str) -> Response | None:
    """A mutation's Idempotency-Key: the first answer to replay, or None once the key is
    claimed for this run (or none was sent); ``Refused`` for a malformed key, one used
    with another request, or one whose first request is still running."""
    key = idempotency.read_key(state.http.headers.get(idempotency.HEADER))
    if key is None:
        return None
    params = state.params
    request = idempotency.fingerprint(text, params.operation_name, params.variables)
    outcome = await gateway.idempotency.begin(principal, key, request)
    if isinstance(outcome, idempotency.Answer):
        metrics.IDEMPOTENT_REPLAYS.inc()
        return outcome.response()
    state.claim = outcome
    return None


async def _settle_claim(gateway: Any, state: _Request, *, failed: bool = False) -> None:
    """Keep the answer under the request's Idempotency-Key, or free the key for a retry
    when the request did not run to the end (``failed``, or an answer not to keep)."""
    claim, state.claim = state.claim, None
    if claim is None:
        return
    if failed or state.answer is None:
        await gateway.idempotency.release(claim)
    else:
        await gateway.idempotency.keep(claim, state.answer)


def _estimate(
    prepared: operation.PreparedDocument, params: GraphQLParams, method: str, settings: Any
) -> int:
    """The operation's cost; ``Refused`` for a document that cannot run (static limits,
    syntax, operation choice, introspection policy, list lengths, the cost limit)."""
    if prepared.refusal is not None:
        raise prepared.refusal.again()
    if prepared.errors:
        raise _request_errors(prepared.errors)
    _check_operation(prepared, params.operation_name, method)
    if prepared.introspection and settings.introspection == "off":
        raise Refused("INTROSPECTION_DISABLED", "Introspection is disabled on this server.")
    check_variables(params.variables, settings.max_list_length)
    assert prepared.cost is not None
    requested = max(prepared.cost.estimate(params.variables), 1)
    if requested > settings.max_query_cost:
        raise Refused(
            "QUERY_TOO_COMPLEX",
            f"The operation's cost is {requested}: the limit is {settings.max_query_cost} "
            "(see docs/limits.md: ask for smaller pages).",
            extensions={"cost": requested, "maximumCost": settings.max_query_cost},
            cost={"requestedQueryCost": requested},
        )
    return requested


async def _charge(gateway: Any, credential_key: str | None, principal: str, cost: int) -> Charge:
    """Take ``cost`` from the principal's bucket, or refuse (429) and keep the credential
    in the penalty box until its Retry-After."""
    charge: Charge = await gateway.rate_limiter.charge(principal, cost)
    if not charge.allowed:
        if credential_key is not None:
            gateway.penalty_box.hold(credential_key, charge.retry_after, charge.status)
        raise _rate_limited(cost, charge.retry_after, charge.status)
    access.charged(cost)
    return charge


def _rate_limited(cost: int | None, retry_after: int, status: ThrottleStatus) -> Refused:
    metrics.RATE_LIMITED.inc()
    available = status.currently_available
    message = (
        f"Out of points ({available} available after the last refusal)"
        if cost is None
        else f"The operation costs {cost} points and {available} are available"
    )
    return Refused(
        "RATE_LIMITED",
        f"{message}: retry in {retry_after} s.",
        status=429,
        headers={"Retry-After": str(retry_after)},
        cost={
            **({} if cost is None else {"requestedQueryCost": cost}),
            "throttleStatus": status.as_json(),
        },
    )


def _result_response(
    result: ExecutionResult,
    prepared: operation.PreparedDocument,
    requested: int,
    charge: Charge,
    media_type: str,
) -> Response:
    """The execution's result; variables that do not coerce are a request error (no
    execution, no ``data``)."""
    payload: dict[str, Any] = {}
    if result.errors:
        payload["errors"] = [format_error(e) for e in result.errors]
    if result.data is not None or not result.errors or any(e.path for e in result.errors):
        payload["data"] = result.data
    payload["extensions"] = {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": result.objects
            if isinstance(result, CountedResult)
            else actual_cost(result.data, prepared.is_mutation),
            "throttleStatus": charge.status.as_json(),
        }
    }
    access.answered(payload)
    return GraphQLResponse(payload, media_type)


def _request_errors(errors: list[Any], charge: tuple[int, Charge] | None = None) -> Refused:
    """Syntax and validation errors: nothing is executed (no ``data`` in the answer). After
    the charge (validation), the answer says what was charged and what is left."""
    formatted = [format_error(e) for e in errors]
    cost = None
    if charge is not None:
        cost = {"requestedQueryCost": charge[0], "throttleStatus": charge[1].status.as_json()}
    return Refused("BAD_USER_INPUT", formatted[0]["message"], errors=formatted, cost=cost)


def _check_operation(prepared: operation.PreparedDocument, name: str | None, method: str) -> None:
    if name is None and len(prepared.operation_names) > 1:
        raise Refused(
            "BAD_USER_INPUT",
            "The document has several operations: say which one to run in `operationName`.",
        )
    if not prepared.operation_names:
        raise Refused("BAD_USER_INPUT", "The document has no operation to run.")
    if prepared.operation is None:
        raise Refused("BAD_USER_INPUT", f'Unknown operation named "{name}".')
    if prepared.is_mutation and method == "GET":
        raise Refused(
            "BAD_USER_INPUT",
            "Mutations are only accepted over POST.",
            status=405,
            headers={"Allow": "POST"},
        )
