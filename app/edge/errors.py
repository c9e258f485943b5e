"""A request refused before execution: one GraphQL error with a code, an HTTP status and
headers. Every step of the edge raises it; the endpoint answers it in one place.

``status`` 200 (the default) marks a GraphQL request error of a well-formed request
(syntax, validation, limits, cost, operation choice): answered 200 under
``application/json`` and 400 under ``application/graphql-response+json``
(app.edge.http.GraphQLResponse). Any other status is answered as it is under both."""

from __future__ import annotations

from typing import Any

from app.db.failures import RETRY_AFTER_SECONDS, DatabaseFailure


class Refused(Exception):
    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        extensions: dict[str, Any] | None = None,
        errors: list[dict[str, Any]] | None = None,
        cost: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.headers = headers or {}
        self.extensions = extensions or {}
        self._errors = errors  # several formatted errors (syntax, validation) instead of one
        self.cost = cost  # the response's extensions.cost, once the estimate is known

    def again(self) -> Refused:
        """An equal refusal to raise anew: a kept one (a cached document's verdict) must
        not be raised itself, or its traceback would keep the last request's frames."""
        return Refused(
            self.code,
            self.message,
            status=self.status,
            headers=self.headers,
            extensions=self.extensions,
            errors=self._errors,
            cost=self.cost,
        )

    def errors(self) -> list[dict[str, Any]]:
        """The response's ``errors``."""
        if self._errors is not None:
            return self._errors
        return [{"message": self.message, "extensions": {**self.extensions, "code": self.code}}]


def database_refusal(failure: DatabaseFailure) -> Refused:
    """The answer to a request the database failed (app.db.failures says which way)."""
    if failure.code == "TIMEOUT":
        return Refused(
            "TIMEOUT",
            "The database cancelled a statement that ran too long: the request's "
            "unfinished work was rolled back.",
            status=504,
        )
    return Refused(
        "SERVICE_UNAVAILABLE",
        f"The database is not available: retry in {RETRY_AFTER_SECONDS} s.",
        status=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
