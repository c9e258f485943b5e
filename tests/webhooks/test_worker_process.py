"""``python -m app webhooks``: the delivery worker as its own process (the topology
docs/scaling.md describes), over the test's database, delivering to a real receiver and
stopping cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from standardwebhooks import Webhook

from app.auth.keys import identifier_secret
from app.config import Settings, get_settings
from tests.client import GraphQLClient
from tests.conftest import TEST_SECRET
from tests.webhooks.receiver import receiver
from tests.webhooks.test_webhooks import _create, _team

ROOT = Path(__file__).resolve().parents[2]


async def test_the_worker_process_delivers_and_stops_on_sigterm(
    client: GraphQLClient, settings: Settings, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "APP_ENV": "development",
        "JWT_SECRET": TEST_SECRET,
        "ID_SECRET": identifier_secret(get_settings()),  # the secrets the tests sealed
        "DATABASE_URL": settings.database_url,
        "WEBHOOKS_POLL_SECONDS": "0.2",
        "LOG_LEVEL": "INFO",
    }
    log = tmp_path / "worker.log"
    async with receiver() as r:
        created = (await _create(client, r.url, events=["team.created"]))["data"]
        secret = created["createWebhookEndpoint"]["secret"]
        with log.open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "app",
                "webhooks",
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            await _team(client, "Delivered by the worker process")
            async with asyncio.timeout(30):
                await r.arrived.wait()
            assert len(r.received) == 1, log.read_text()
            payload = Webhook(secret).verify(r.received[0].body, r.received[0].headers)
            assert payload["type"] == "team.created"
            assert payload["data"]["changes"]["name"] == "Delivered by the worker process"
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(15):
                assert await process.wait() == 0, log.read_text()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    output = log.read_text()
    assert "webhook delivery worker started" in output
    assert "webhook delivery worker stopped" in output
