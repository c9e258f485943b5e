"""A partner's full sync of one Harmony workspace, as docs/partners.md describes it.

    HARMONY_API_KEY=hmy_… python examples/partner_sync.py --endpoint http://127.0.0.1:8000/graphql

It finds the workspace its API key is bound to, then reads every member and every
conversation the key may see, a page at a time with cursors, and prints a summary. It
stays within the key's rate-limit budget (it reads ``extensions.cost`` and waits before a
page the bucket cannot pay for), waits out ``Retry-After`` on HTTP 429 and 503, backs off
on 504 and on a dropped connection, and names every error by its ``extensions.code``.

Only httpx is needed (``pip install httpx``). Exit status: 0 synced, 1 refused or failed,
2 bad arguments.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

WORKSPACES = "query Workspaces { workspaces { id slug name } }"

# `totalCount` costs no points but is a count over the whole list: ask for it once.
MEMBERS = """
query Members($slug: String!, $first: Int!, $after: String, $withCount: Boolean!) {
  workspace(slug: $slug) {
    members(first: $first, after: $after) {
      totalCount @include(if: $withCount)
      nodes { id status joinedAt user { email name } role { name } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""

CONVERSATIONS = """
query Conversations($slug: String!, $first: Int!, $after: String, $withCount: Boolean!) {
  workspace(slug: $slug) {
    conversations(first: $first, after: $after) {
      totalCount @include(if: $withCount)
      nodes { id title occurredAt durationSeconds }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""

# Statuses worth sending the same query again for: the rate limit (429), a full queue or
# an unavailable database (503), the request deadline (504). A query changes nothing, so
# repeating it is always safe; see docs/partners.md before retrying a mutation.
RETRYABLE = {429, 503, 504}


class GatewayError(Exception):
    """An error the gateway answered, named by its ``extensions.code``."""

    def __init__(self, code: str, message: str, status: int, path: list[Any] | None = None):
        where = f" at {'.'.join(map(str, path))}" if path else ""
        super().__init__(f"{code} (HTTP {status}){where}: {message}")
        self.code, self.message, self.status, self.path = code, message, status, path


class Unauthenticated(GatewayError):
    """HTTP 401: no key, or an unknown, revoked or expired one. Retrying will not help."""


class RequestRefused(GatewayError):
    """The whole request was refused before it ran (no ``data``): a malformed document,
    a limit, the cost limit, bad variables."""


class FieldRefused(GatewayError):
    """The request ran but a field answered null with an error, e.g. ``FORBIDDEN`` for a
    permission the key does not hold."""


class GaveUp(GatewayError):
    """Still refused with a retryable status after every attempt."""


@dataclass
class Budget:
    """What the last response said about the key's bucket, and what waiting cost."""

    available: float | None = None
    restore_rate: float = 50.0
    paced_seconds: float = 0.0
    retries: dict[int, int] = field(default_factory=dict)

    def note(self, body: dict[str, Any]) -> int:
        """Reads ``extensions.cost``; returns the operation's requested cost."""
        cost = body.get("extensions", {}).get("cost", {})
        status = cost.get("throttleStatus", {})
        if "currentlyAvailable" in status:
            self.available = float(status["currentlyAvailable"])
            self.restore_rate = float(status["restoreRate"])
        return int(cost.get("requestedQueryCost", 0))

    def wait_for(self, cost: int, sleep: Callable[[float], None]) -> None:
        """Before a request of known cost: wait until the bucket holds it (no 429)."""
        if self.available is None or self.available >= cost:
            return
        seconds = (cost - self.available) / self.restore_rate
        self.paced_seconds += seconds
        sleep(seconds)


class Client:
    """POSTs GraphQL to the gateway with an API key, retrying what is safe to retry."""

    def __init__(
        self,
        endpoint: str,
        key: str,
        *,
        attempts: int = 6,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.http = httpx.Client(
            headers={"Authorization": f"Bearer {key}", "Accept": "application/json"},
            timeout=30,
        )
        self.endpoint, self.attempts, self.sleep = endpoint, attempts, sleep
        self.budget = Budget()
        self.costs: dict[str, int] = {}  # each query's requested cost, as last charged

    def query(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The response's ``data``; raises a GatewayError for an error anywhere in it."""
        self.budget.wait_for(self.costs.get(document, 0), self.sleep)
        payload = {"query": document, "variables": variables or {}}
        for attempt in range(1, self.attempts + 1):
            try:
                answer = self.http.post(self.endpoint, json=payload)
            except httpx.TransportError as failure:  # connection refused or reset
                if attempt == self.attempts:
                    raise GaveUp("NETWORK", str(failure), 0) from failure
                self._back_off(attempt, None)
                continue
            if answer.status_code in RETRYABLE and attempt < self.attempts:
                self.budget.retries[answer.status_code] = (
                    self.budget.retries.get(answer.status_code, 0) + 1
                )
                self._back_off(attempt, answer.headers.get("Retry-After"))
                continue
            return self._data(document, answer)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _back_off(self, attempt: int, retry_after: str | None) -> None:
        """``Retry-After`` when the gateway gave one, else 1, 2, 4… s (at most 30) with
        jitter, so that many clients do not come back at the same instant."""
        if retry_after is not None and retry_after.isdigit():
            seconds = float(retry_after)
        else:
            seconds = min(30.0, 2.0 ** (attempt - 1)) * random.uniform(0.5, 1.0)  # noqa: S311
        self.sleep(seconds)

    def _data(self, document: str, answer: httpx.Response) -> dict[str, Any]:
        try:
            body = answer.json()
        except ValueError:
            raise GatewayError("NOT_JSON", answer.text[:200], answer.status_code) from None
        self.costs[document] = self.budget.note(body)
        errors = body.get("errors") or []
        if errors:
            first = errors[0]
            code = first.get("extensions", {}).get("code", "UNKNOWN")
            kind: type[GatewayError]
            if answer.status_code == 401:
                kind = Unauthenticated
            elif answer.status_code in RETRYABLE:
                kind = GaveUp
            elif "data" not in body:
                kind = RequestRefused
            else:
                kind = FieldRefused
            raise kind(code, first.get("message", ""), answer.status_code, first.get("path"))
        if answer.status_code != 200:
            raise GatewayError("HTTP", answer.text[:200], answer.status_code)
        data: dict[str, Any] = body["data"]
        return data


@dataclass
class Listing:
    """One list read to its end."""

    items: list[dict[str, Any]] = field(default_factory=list)
    pages: int = 0
    total: int | None = None


def read_all(client: Client, document: str, field_name: str, slug: str, first: int) -> Listing:
    """Walks a connection forwards: each page's ``endCursor`` is the next page's
    ``after``, until ``hasNextPage`` is false."""
    listing = Listing()
    after: str | None = None
    while True:
        variables = {"slug": slug, "first": first, "after": after, "withCount": after is None}
        data = client.query(document, variables)
        if data["workspace"] is None:
            raise FieldRefused("NOT_FOUND", f"no workspace {slug!r} for this key", 200)
        page = data["workspace"][field_name]
        listing.pages += 1
        listing.items += page["nodes"]
        if "totalCount" in page:
            listing.total = page["totalCount"]
        if not page["pageInfo"]["hasNextPage"]:
            return listing
        after = page["pageInfo"]["endCursor"]


def sync(client: Client, page_size: int, lists: list[str], out: Callable[[str], None]) -> None:
    workspaces = client.query(WORKSPACES)["workspaces"]
    if len(workspaces) != 1:  # an API key is bound to exactly one
        slugs = ", ".join(w["slug"] for w in workspaces)
        raise GatewayError("NOT_AN_API_KEY", f"this credential reaches: {slugs}", 200)
    workspace = workspaces[0]
    out(f"workspace: {workspace['slug']} ({workspace['name']})")
    documents = {"members": MEMBERS, "conversations": CONVERSATIONS}
    for name in lists:
        try:
            listing = read_all(client, documents[name], name, workspace["slug"], page_size)
        except FieldRefused as refused:
            if refused.code != "FORBIDDEN":
                raise
            out(f"{name}: skipped, {refused.code}: {refused.message}")
            continue
        pages = "page" if listing.pages == 1 else "pages"
        out(f"{name}: {len(listing.items)} of {listing.total} in {listing.pages} {pages}")
    budget = client.budget
    waits = ", ".join(f"{n} after HTTP {s}" for s, n in sorted(budget.retries.items()))
    out(f"retries: {waits or 'none'}; paced {budget.paced_seconds:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--endpoint",
        default=os.environ.get("HARMONY_ENDPOINT", "http://127.0.0.1:8000/graphql"),
        help="the gateway's /graphql URL (env HARMONY_ENDPOINT)",
    )
    parser.add_argument(
        "--key",
        default=os.environ.get("HARMONY_API_KEY"),
        help="the API key, hmy_… (env HARMONY_API_KEY; prefer the environment)",
    )
    parser.add_argument("--page-size", type=int, default=100, help="items per page, 1-100")
    parser.add_argument(
        "--only", choices=["members", "conversations"], help="read one list, not both"
    )
    args = parser.parse_args(argv)
    if not args.key:
        parser.error("no API key: set HARMONY_API_KEY or pass --key")
    if not 1 <= args.page_size <= 100:
        parser.error("--page-size must be between 1 and 100")
    lists = [args.only] if args.only else ["members", "conversations"]
    client = Client(args.endpoint, args.key)
    try:
        sync(client, args.page_size, lists, print)
    except GatewayError as error:
        print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
