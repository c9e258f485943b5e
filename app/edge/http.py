"""Reading a GraphQL request off HTTP: content type and declared length (headers only),
then, once the credentials held, the body and its JSON shape.

The body is read as a stream with a byte cap: a ``Content-Length`` over the cap is
refused before anything is read, and a body without one is cut off at the cap, so no
request ever makes the worker hold more than ``MAX_BODY_BYTES``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request

from app.edge.errors import Refused

JSON_TYPES = frozenset({"application/json", "application/graphql-response+json"})


@dataclass(frozen=True, slots=True)
class GraphQLParams:
    query: str | None
    variables: dict[str, Any] | None
    operation_name: str | None
    extensions: Any


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


def check_envelope(request: Request, cap: int) -> None:
    """What the headers alone tell: a POST's content type and declared length."""
    if request.method == "GET":
        return
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in JSON_TYPES:
        raise Refused(
            "UNSUPPORTED_MEDIA_TYPE",
            "Send the request as Content-Type: application/json.",
            status=415,
        )
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise _bad("Content-Length is not a number.")
        if int(declared) > cap:
            raise _too_large(cap)


async def read_body(request: Request, cap: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise _too_large(cap)
        chunks.append(chunk)
    return b"".join(chunks)


def _json_field(raw: str, name: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _bad(f"`{name}` is not valid JSON.") from None


def _params(raw: dict[str, Any]) -> GraphQLParams:
    query, variables, operation_name = (raw.get(k) for k in ("query", "variables", "operationName"))
    if query is not None and not isinstance(query, str):
        raise _bad("`query` must be a string.")
    if variables is not None and not isinstance(variables, dict):
        raise _bad("`variables` must be a JSON object.")
    if operation_name is not None and not isinstance(operation_name, str):
        raise _bad("`operationName` must be a string.")
    return GraphQLParams(query, variables, operation_name, raw.get("extensions"))


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
