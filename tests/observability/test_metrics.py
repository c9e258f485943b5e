"""``GET /metrics``: the request series after some requests, the operation label's bound,
and worker processes that share one PROMETHEUS_MULTIPROC_DIR answering for all of them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.tokens import issue_user_token
from app.config import Settings
from app.edge.persisted import trusted_operation_names
from app.observability.access import OperationLabels
from tests import factories as f
from tests.client import GraphQLClient
from tests.edge.live import gateway_process

ACME_NAME = 'query AcmeName { workspace(slug: "acme") { name } }'

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(http: httpx.AsyncClient, url: str = "/metrics") -> Samples:
    response = await http.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


async def test_metrics_count_requests_by_operation_and_outcome(client: GraphQLClient) -> None:
    token = await client.token("ada@acme.test")
    before = await scrape(client.http)
    for _ in range(2):
        assert (await client.post(ACME_NAME, token=token)).status_code == 200
    assert (await client.post(ACME_NAME)).status_code == 401
    after = await scrape(client.http)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    ok = {"operation": "AcmeName", "outcome": "ok"}
    assert grew("harmony_graphql_requests_total", **ok) == 2
    assert grew("harmony_graphql_request_duration_seconds_count", **ok) == 2
    assert grew("harmony_graphql_request_duration_seconds_sum", **ok) > 0
    refused = {"operation": "anonymous", "outcome": "refused"}
    assert grew("harmony_graphql_requests_total", **refused) == 1
    assert grew("harmony_graphql_errors_total", code="UNAUTHENTICATED") == 1
    assert grew("harmony_sql_statements_per_request_count") == 3
    assert grew("harmony_sql_statements_per_request_sum") >= 2
    assert grew("harmony_query_cost_spent_total") == 2
    # Sampled at the scrape: nothing runs or waits now.
    for gauge in (
        "harmony_db_pool_in_use",
        "harmony_db_pool_waiting",
        "harmony_requests_in_flight",
        "harmony_requests_queued",
    ):
        assert (gauge, frozenset()) in after, gauge
        assert value(after, gauge) == 0, gauge


def test_operation_labels_are_bounded() -> None:
    labels = OperationLabels(frozenset({"Members"}), cap=2)
    assert [labels(n) for n in ["A", "B", "C", "A", "Members", None, "bad name"]] == [
        "A",
        "B",
        "other",
        "A",
        "Members",
        "anonymous",
        "other",
    ]


def test_the_trusted_documents_name_their_operations() -> None:
    assert "AcceptInvitation" in trusted_operation_names()


@pytest.mark.postgres_only
async def test_two_processes_sharing_a_metrics_directory_report_together(
    settings: Settings, session: AsyncSession, tmp_path: Path
) -> None:
    shared = tmp_path / "metrics"
    shared.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(shared)}
    ada = await f.user_id(session, "ada@acme.test")
    headers = {"Authorization": f"Bearer {issue_user_token(settings, ada)}"}
    with (
        gateway_process(settings, env, tmp_path / "a.log") as a,
        gateway_process(settings, env, tmp_path / "b.log") as b,
    ):
        async with httpx.AsyncClient(timeout=10) as http:
            for url, times in ((a, 3), (b, 2)):
                for _ in range(times):
                    response = await http.post(
                        f"{url}/graphql", json={"query": ACME_NAME}, headers=headers
                    )
                    assert response.status_code == 200
            # Each process writes its requests' metrics within FLUSH_SECONDS (0.05 s).
            await asyncio.sleep(1)
            seen = [await scrape(http, f"{url}/metrics") for url in (a, b)]
    ok = {"operation": "AcmeName", "outcome": "ok"}
    for samples in seen:  # either process answers for both
        assert value(samples, "harmony_graphql_requests_total", **ok) == 5
        assert value(samples, "harmony_graphql_request_duration_seconds_count", **ok) == 5
        assert value(samples, "harmony_requests_in_flight") == 0


@pytest.mark.postgres_only
async def test_serve_with_two_workers_shares_their_metrics(
    settings: Settings, session: AsyncSession, tmp_path: Path
) -> None:
    # No PROMETHEUS_MULTIPROC_DIR: `serve` makes one for its workers.
    env = {"WEB_WORKERS": "2", "PROMETHEUS_MULTIPROC_DIR": ""}
    ada = await f.user_id(session, "ada@acme.test")
    headers = {"Authorization": f"Bearer {issue_user_token(settings, ada)}"}
    with gateway_process(settings, env, tmp_path / "served.log") as url:
        async with httpx.AsyncClient(timeout=10) as http:
            for _ in range(12):
                # A new connection each time: the kernel spreads them over the workers.
                response = await http.post(
                    f"{url}/graphql",
                    json={"query": ACME_NAME},
                    headers={**headers, "Connection": "close"},
                )
                assert response.status_code == 200
            await asyncio.sleep(1)  # the other worker's batch (FLUSH_SECONDS)
            samples = await scrape(http, f"{url}/metrics")
    ok = {"operation": "AcmeName", "outcome": "ok"}
    assert value(samples, "harmony_graphql_requests_total", **ok) == 12
