"""GraphQL over HTTP (the GraphQL-over-HTTP specification, docs/limits.md): reading a
request off the wire and choosing its response's media type.

A request's headers are checked first (its content type, declared length and what it
accepts); once its credentials held, its body is read as a stream with a byte cap: a
``Content-Length`` over the cap is refused before anything is read, and a body without
one is cut off at the cap, so no request ever makes the worker hold more than
``MAX_BODY_BYTES``.

Responses are ``application/json`` or ``application/graphql-response+json`` (UTF-8), as
the ``Accept`` header prefers; a request error (nothing executed: the response has no
``data``) is HTTP 200 under the first, for its legacy clients, and 400 under the second.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from app.edge.errors import Refused

APPLICATION_JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON_TYPES = (APPLICATION_JSON, GRAPHQL_RESPONSE)  # what a POST body may be, and a response
UTF_8 = frozenset({"utf-8", "utf8"})
_QVALUE = re.compile(r"0(\.\d{0,3})?|1(\.0{0,3})?")
_SPECIFICITY = {"*/*": 0, "application/*": 1}  # an exact media type: 2
_CONTENT_TYPES = {media_type: f"{media_type}; charset=utf-8" for media_type in JSON_TYPES}
_VARY = (b"vary", b"Accept")


@dataclass(frozen=True, slots=True)
class GraphQLParams:
    query: str | None
    variables: dict[str, Any] | None
    operation_name: str | None
    extensions: dict[str, Any] | None


class GraphQLResponse(Response):
    """A GraphQL response in the negotiated media type. Under
    ``application/graphql-response+json`` a response without ``data`` is a request error
    and never 2xx: what ``application/json`` answers with 200 is 400 there."""

    def __init__(
        self,
        payload: dict[str, Any],
        media_type: str,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if media_type == GRAPHQL_RESPONSE and status_code == 200 and "data" not in payload:
            status_code = 400
        super().__init__(orjson.dumps(payload), status_code, headers, _CONTENT_TYPES[media_type])
        self.raw_headers.append(_VARY)  # the media type depends on it


def _media_range(element: str) -> tuple[str, dict[str, str]]:
    """``type/subtype`` (lower case) and its parameters (names lower case, unquoted)."""
    media_type, *parameters = element.split(";")
    params = {}
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        params[name.strip().lower()] = value.strip().strip('"')
    return media_type.strip().lower(), params


def _accepted(element: str) -> tuple[str, float] | None:
    """One ``Accept`` element as (media range, q); None when it can match none of ours:
    malformed, or asking for a charset other than UTF-8."""
    media_range, params = _media_range(element)
    q = params.get("q", "1")
    if _QVALUE.fullmatch(q) is None or params.get("charset", "utf-8").lower() not in UTF_8:
        return None
    return media_range, float(q)


@lru_cache(maxsize=256)  # clients send a handful of distinct headers
def response_media_type(accept: str | None) -> str | None:
    """The media type to answer in, by the ``Accept`` header (RFC 9110 §12.5.1): each of
    ours takes the q-value of the most specific range that matches it; the higher
    q-value wins, then the more specific range. Both named with one q: the spec's
    preferred ``application/graphql-response+json``; both from one wildcard (``*/*``),
    or no ``Accept`` at all: ``application/json``, what legacy clients expect.
    None: nothing acceptable (406)."""
    if accept is None or not accept.strip():
        return APPLICATION_JSON
    ranges = [r for r in map(_accepted, accept.split(",")) if r is not None]

    def rank(candidate: str) -> tuple[float, int, bool]:
        matching = [
            (_SPECIFICITY.get(media_range, 2), q)
            for media_range, q in ranges
            if media_range in (candidate, "application/*", "*/*")
        ]
        specificity, q = max(matching, default=(-1, 0.0))
        return q, specificity, candidate == GRAPHQL_RESPONSE and specificity == 2

    chosen = max(JSON_TYPES, key=rank)  # application/json comes first: it wins a full tie
    return chosen if rank(chosen)[0] > 0 else None


def not_acceptable() -> Refused:
    return Refused(
        "NOT_ACCEPTABLE",
        f"This endpoint answers {GRAPHQL_RESPONSE} or {APPLICATION_JSON} (UTF-8): "
        "accept one of them.",
        status=406,
    )


def _bad(message: str, status: int = 400) -> Refused:
    return Refused("BAD_USER_INPUT", message, status=status)


def _too_large(cap: int) -> Refused:
    return Refused(
        "PAYLOAD_TOO_LARGE",
        f"The request body is too large: the limit is {cap} bytes.",
        status=413,
        # The server closes the connection rather than reading the rest to discard it.
        headers={"Connection": "close"},
    )


@lru_cache(maxsize=256)
def _unsupported(content_type: str) -> str | None:
    """Why a POST body of this ``Content-Type`` is refused; None: JSON in UTF-8."""
    media_type, params = _media_range(content_type)
    if media_type not in JSON_TYPES:
        return "Send the request as Content-Type: application/json."
    if params.get("charset", "utf-8").lower() not in UTF_8:
        return "Send the request body in UTF-8 (Content-Type: application/json; charset=utf-8)."
    return None


def check_envelope(request: Request, cap: int) -> None:
    """What the headers alone tell: a POST's content type (JSON in UTF-8 only, so no
    "simple" cross-site request, form or text, can run an operation) and declared length."""
    if request.method == "GET":
        return
    if request.method != "POST":  # HEAD, which Starlette routes with GET: no body to read
        raise Refused(
            "BAD_USER_INPUT",
            "Send GraphQL requests with GET or POST.",
            status=405,
            headers={"Allow": "GET, POST"},
        )
    unsupported = _unsupported(request.headers.get("content-type", ""))
    if unsupported is not None:
        raise Refused("UNSUPPORTED_MEDIA_TYPE", unsupported, status=415)
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise _bad("Content-Length is not a number.")
        if int(declared) > cap:
            raise _too_large(cap)


async def read_body(request: Request, cap: int) -> bytes:
    """The body, read from the ASGI messages as they come (Starlette's ``stream()``
    less its async generator: a request's body is nearly always one message)."""
    chunks: list[bytes] = []
    size = 0
    receive = request.receive
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            raise _too_large(cap)
        if not message.get("more_body", False):
            return b"".join((*chunks, chunk)) if chunks else chunk
        chunks.append(chunk)


def _json_field(raw: str, name: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _bad(f"`{name}` is not valid JSON.") from None


def _params(raw: dict[str, Any]) -> GraphQLParams:
    """The parameters of a well-formed request (null is absent, an empty operationName
    none); a parameter of the wrong type is a malformed request: 400 under both types."""
    query, variables, operation_name, extensions = (
        raw.get(k) for k in ("query", "variables", "operationName", "extensions")
    )
    if query is not None and not isinstance(query, str):
        raise _bad("`query` must be a string.")
    if variables is not None and not isinstance(variables, dict):
        raise _bad("`variables` must be a JSON object.")
    if operation_name is not None and not isinstance(operation_name, str):
        raise _bad("`operationName` must be a string.")
    if extensions is not None and not isinstance(extensions, dict):
        raise _bad("`extensions` must be a JSON object.")
    return GraphQLParams(query, variables, operation_name or None, extensions)


async def read_params(request: Request, max_body_bytes: int) -> GraphQLParams:
    """The request's GraphQL parameters (after ``check_envelope``); ``Refused`` with 400
    or 413 otherwise."""
    if request.method == "GET":
        raw: dict[str, Any] = dict(request.query_params)
        for name in ("variables", "extensions"):
            if name in raw:
                raw[name] = _json_field(raw[name], name)
        return _params(raw)
    body = await read_body(request, max_body_bytes)
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _bad("The request body is not valid JSON.") from None
    if not isinstance(parsed, dict):
        raise _bad("The request body must be a JSON object.")
    return _params(parsed)
