"""``X-Request-Id`` on every response (the contract in ../shared/DESIGN.md: HTTP).

The GraphQL endpoint sets its own (app.edge.pipeline: the id is bound to the request's
log lines and span), so this wraps every other response: health, readiness, metrics,
GraphiQL's files, 404 and 405 answers of the router. The client's id is echoed (at most
64 characters, like the endpoint's), otherwise a new one is made.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.edge.pipeline import graphql_endpoint, next_request_id

GRAPHQL_PATH = "/graphql"
_ENDPOINT_METHODS = frozenset({"GET", "POST", "HEAD"})  # answered by graphql_endpoint


class RequestIds:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (
            scope["path"] == GRAPHQL_PATH and scope["method"] in _ENDPOINT_METHODS
        ):
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"")[:64]
        request_id = given or next_request_id().encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                message = {**message, "headers": [*headers, (b"x-request-id", request_id)]}
            await send(message)

        await self.app(scope, receive, send_with_id)


class EndpointFirst:
    """The innermost middleware: a request the GraphQL endpoint answers goes to it
    straight away. Starlette's exception middleware and router add nothing to it (the
    endpoint answers every failure itself, and its route admits exactly these methods),
    and walking them was about 4 % of a tiny query's CPU. Any other method or path (405
    and 404 answers included) goes through the router as before."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == GRAPHQL_PATH
            and not scope.get("root_path")
            and scope["method"] in _ENDPOINT_METHODS
        ):
            response = await graphql_endpoint(Request(scope, receive, send))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
