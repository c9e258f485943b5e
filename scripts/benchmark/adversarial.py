"""``scripts/bench --adversarial``: does the edge keep legitimate traffic served while
attackers send hostile inputs, and what does each hostile input cost the gateway?

Same database and gateway start as the normal benchmark (production settings, 2 workers,
Redis on), but with the production rate-limit budget (RATE_LIMIT_POINTS=1000,
RATE_LIMIT_RESTORE_PER_SECOND=50). Phases, each bounded in time:

0. probe: a sample of the legitimate requests must answer 200 with data (their reported
   cost sizes the pool of legitimate users, below); the most expensive admitted query is
   picked for the rate-limit exhaustion.
1. legitimate load alone (wrk, c=16: members page and viewer query, 1:1, many users);
2. the same load while 4 attacker connections cycle through every hostile input kind;
3. legitimate load alone again (the unattacked figure is the mean of 1 and 3);
4. per kind, N requests of that kind alone: the gateway's CPU (supervisor and workers,
   /proc) per hostile request, measured once the gateway is idle again;
5. 10,000 distinct documents with valid tokens: resident memory growth per worker.

Legitimate users: a user's bucket refills at 50 points/s. The load is spread over enough
distinct users (members of the dataset's workspaces) that each one's share stays at most
half of that at LEGIT_RPS_BOUND requests per second, given the cost the gateway reports
for each request; the pool and the resulting points per user per second are recorded.

Writes ``bench-results/adversarial-<stamp>/results.{json,md}``; the last line printed is
the JSON path. Problems (a gateway that fails to start, a phase that errs, the overall
time bound) are recorded in ``errors`` and the report is still written; the exit status
is then 1 (failed targets alone leave it 0).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import os
import random
import signal
import sys
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from benchmark import edge, procstat
from benchmark.config import (
    JWT_SECRET,
    PRODUCTION_RATE_LIMIT,
    REDIS_KEY_PREFIX,
    RESULTS,
    WORKERS,
    BenchConfig,
    load_config,
    redis_url,
)
from benchmark.dataset import SEED, ensure_database
from benchmark.hostile import (
    EXPENSIVE_CANDIDATES,
    Attacker,
    Connection,
    Hostile,
    Kind,
    Outcome,
    Tally,
    forged_token,
    gql,
    kinds,
)
from benchmark.queries import MEMBERS, VIEWER
from benchmark.report import adversarial_markdown
from benchmark.run import (
    WRK_THREADS,
    Database,
    Server,
    git_info,
    log,
    start,
    wait_ready,
    wrk_argv,
)

ATTACKERS = 4
LEGIT_CONCURRENCY = 16
LEGIT_RPS_BOUND = 1500.0  # legitimate requests/s the pool is sized for (2 cores: above any)
REQUEST_TIMEOUT_S = 10.0  # every attacker request
SETTLE_MAX_S = 20.0  # waiting for the gateway to go idle after a phase
FLOOD_DOCUMENTS = 10_000
MEMORY_SENDERS = 2_000  # distinct users sending the memory phase's documents

TARGETS = {
    "legit_throughput_ratio": (">=", 0.8),
    "legit_p99_ratio": ("<=", 3.0),
    "worst_cpu_ms_per_hostile_request": ("<=", 25.0),
    "rss_growth_mib_per_worker": ("<=", 64.0),
}


class HarnessTimeout(Exception):
    """The whole run's time bound was reached."""


@dataclass(frozen=True)
class Budget:
    duration: float  # seconds of each legitimate load measurement
    warmup: float
    per_kind_requests: int
    per_kind_seconds: float
    stream_cap: int  # bytes actually sent by one oversized stream
    flood_seconds: float
    total_seconds: float

    @classmethod
    def of(cls, args: argparse.Namespace) -> Budget:
        quick = bool(args.quick)
        duration = args.duration if args.duration is not None else (5.0 if quick else 10.0)
        warmup = args.warmup if args.warmup is not None else (1.0 if quick else 2.0)
        return cls(
            duration=duration,
            warmup=warmup,
            per_kind_requests=100 if quick else 200,
            per_kind_seconds=8.0 if quick else 15.0,
            stream_cap=(16 if quick else 32) * 2**20,
            flood_seconds=120.0 if quick else 240.0,
            total_seconds=(600.0 if quick else 1200.0) + 3 * (duration + warmup),
        )


# --------------------------------------------------------------------------- users


@dataclass(frozen=True)
class Legit:
    workload: str  # "members" or "viewer"
    user_id: int
    slug: str
    token: str = ""

    def body(self) -> bytes:
        if self.workload == "members":
            return gql(MEMBERS, {"slug": self.slug})
        return gql(VIEWER)


USERS_SQL = """
SELECT DISTINCT ON (m.user_id) m.user_id, w.slug, r.builtin
FROM members m
JOIN users u ON u.id = m.user_id
JOIN workspaces w ON w.id = m.workspace_id
JOIN roles r ON r.workspace_id = m.workspace_id AND r.id = m.role_id
WHERE m.status = 'ACTIVE' AND u.status = 'ACTIVE'
  AND (SELECT count(*) FROM members x WHERE x.workspace_id = w.id) >= 50
ORDER BY m.user_id, (r.builtin = 'ADMIN') DESC, m.id
"""


@dataclass
class People:
    attackers: list[Attacker]  # one per attacker connection
    greedy: Attacker  # the rate-limit exhaustion's single token
    probers: list[Attacker]  # pick the expensive query (one each: their buckets stay full)
    members: list[Legit]  # members page: built-in Admin or Member role
    viewers: list[Legit]


def choose_people(db: Database) -> People:
    """Distinct users for every role; a fixed seed, so every run picks the same ones."""
    from app.auth.tokens import issue_user_token
    from app.config import Settings

    settings = Settings(app_env="production", jwt_secret=JWT_SECRET, database_url="postgresql://")
    rows = db.fetch(USERS_SQL)
    rng = random.Random(SEED)  # noqa: S311 (reproducible)
    rng.shuffle(rows)
    admins = [r for r in rows if r["builtin"] == "ADMIN"][: ATTACKERS + 4]
    if len(admins) < ATTACKERS + 4:
        raise SystemExit("the dataset has too few Admins to play the attackers")
    taken = {r["user_id"] for r in admins}
    rest = [r for r in rows if r["user_id"] not in taken]
    readers = [r for r in rest if r["builtin"] in ("ADMIN", "MEMBER")]
    half = len(readers) // 2
    member_rows = readers[:half]
    used = {r["user_id"] for r in member_rows}
    viewer_rows = [r for r in rest if r["user_id"] not in used]

    def attacker(row: Any) -> Attacker:
        return Attacker(row["user_id"], issue_user_token(settings, row["user_id"]), row["slug"])

    def legit(workload: str, row: Any) -> Legit:
        return Legit(workload, row["user_id"], row["slug"])

    return People(
        attackers=[attacker(r) for r in admins[:ATTACKERS]],
        greedy=attacker(admins[ATTACKERS]),
        probers=[attacker(r) for r in admins[ATTACKERS + 1 :]],
        members=[legit("members", r) for r in member_rows],
        viewers=[legit("viewer", r) for r in viewer_rows],
    )


def with_tokens(users: list[Legit]) -> list[Legit]:
    from app.auth.tokens import issue_user_token
    from app.config import Settings

    settings = Settings(app_env="production", jwt_secret=JWT_SECRET, database_url="postgresql://")
    return [
        Legit(u.workload, u.user_id, u.slug, u.token or issue_user_token(settings, u.user_id))
        for u in users
    ]


def reported_cost(outcome: Outcome) -> float | None:
    """The larger of requestedQueryCost and actualQueryCost in extensions.cost, if any."""
    cost = outcome.cost
    if not isinstance(cost, dict):
        return None
    values = [cost.get(k) for k in ("requestedQueryCost", "actualQueryCost")]
    numbers = [float(v) for v in values if isinstance(v, int | float)]
    return max(numbers) if numbers else None


def pool_size(cost: float | None, available: int, restore: float) -> int:
    """Users needed so each one's share of LEGIT_RPS_BOUND/2 requests/s costs at most half
    of the restore rate (or 1,024 when the gateway reports no cost)."""
    needed = 1024 if cost is None else math.ceil(LEGIT_RPS_BOUND / 2 * cost / (restore / 2))
    return max(32, min(needed, available))


# --------------------------------------------------------------------------- context


@dataclass
class Ctx:
    args: argparse.Namespace
    budget: Budget
    out: Path
    gateway: Server
    db: Database
    people: People
    deadline: float
    run: dict[str, Any]
    kinds: list[Kind] = field(default_factory=list)
    counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    legit_file: Path | None = None

    @property
    def port(self) -> int:
        return self.gateway.port

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def error(self, message: str) -> None:
        log(f"    ERROR {message}")
        self.run["errors"].append(message)

    def check_gateway(self, phase: str) -> bool:
        """Whether the gateway (and its workers) survived ``phase``; recorded when not.
        Also records each worker's resident memory after the phase."""
        if self.gateway.process.poll() is not None:
            self.error(f"the gateway exited during {phase} (code {self.gateway.process.poll()})")
            return False
        now = set(self.gateway.workers())
        self.run["rss_after_phase_mib"][phase] = [round(procstat.rss_mb(p), 1) for p in sorted(now)]
        before = set(self.run["meta"].get("worker_pids") or [])
        if now != before:
            event = {"phase": phase, "gone": sorted(before - now), "new": sorted(now - before)}
            self.run["worker_restarts"].append(event)
            log(f"    WARNING gateway workers changed during {phase}: {event}")
            self.run["meta"]["worker_pids"] = sorted(now)
        return True


def max_tokens(run: dict[str, Any]) -> int:
    """The gateway's MAX_TOKENS (its settings as recorded), 5,000 when unknown."""
    value = run["meta"]["edge"].get("settings", {}).get("max_tokens")
    return value if isinstance(value, int) else 5000


async def db_cpu(ctx: Ctx) -> dict[int, float]:
    """CPU seconds of the bench database's backends, at nanosecond resolution (a phase of
    100 requests over ~20 backends would otherwise be within the 10 ms ticks' noise). The
    Database wrapper runs its own event loop: in a thread, so the attackers keep running
    meanwhile."""

    def read() -> dict[int, float]:
        return {pid: procstat.cpu_seconds_fine(pid) for pid in ctx.db.backends()}

    return await asyncio.to_thread(read)


def settle(ctx: Ctx, quiet_cpu_s: float = 0.01, interval: float = 0.25) -> float:
    """Wait until the gateway uses less than ``quiet_cpu_s`` CPU per ``interval``
    (work left behind by abandoned requests included); returns the seconds waited."""
    started = time.monotonic()
    limit = min(SETTLE_MAX_S, max(0.0, ctx.remaining() - 5))
    last = sum(procstat.tree_cpu(ctx.gateway.pid).values())
    while time.monotonic() - started < limit:
        time.sleep(interval)
        now = sum(procstat.tree_cpu(ctx.gateway.pid).values())
        if now - last < quiet_cpu_s:
            break
        last = now
    return round(time.monotonic() - started, 2)


# --------------------------------------------------------------------------- probe


async def probe(ctx: Ctx) -> None:
    """Legitimate requests answer 200 with data; their cost sizes the user pool; the most
    expensive admitted query is chosen for the rate-limit exhaustion."""
    people = ctx.people
    restore = float(ctx.run["meta"]["edge"]["settings"].get("rate_limit_restore_per_second") or 50)
    conn = Connection(ctx.port)
    report: dict[str, Any] = {}
    pools: dict[str, list[Legit]] = {}
    try:
        for name, users in (("members", people.members), ("viewer", people.viewers)):
            sample = with_tokens(users[:16])
            tally, costs, bad = Tally(), [], []
            for u in sample:
                outcome = await conn.send(Hostile(u.body(), token=u.token), REQUEST_TIMEOUT_S)
                tally.add(outcome)
                if outcome.status != 200 or outcome.codes or not outcome.data:
                    bad.append({"status": outcome.status, "codes": list(outcome.codes)})
                cost = reported_cost(outcome)
                if cost is not None:
                    costs.append(cost)
            cost = max(costs) if costs else None
            size = pool_size(cost, len(users), restore)
            pools[name] = with_tokens(users[:size])
            report[name] = {
                "sample": tally.summary(),
                "failures": bad[:5],
                "cost_per_request": cost,
                "users": size,
                "users_available": len(users),
            }
            note = f"cost {cost:g}" if cost is not None else "no cost reported"
            log(
                f"    {name:<8} {tally.sent - len(bad)}/{tally.sent} sample requests ok, "
                f"{note}: {size} distinct users (of {len(users)})"
            )
            if bad:
                ctx.error(
                    f"legitimate {name} requests fail before any attack: {bad[0]} "
                    "(the legitimate figures measure errors)"
                )
        chosen, candidates = EXPENSIVE_CANDIDATES[0], list[dict[str, Any]]()
        for document, prober in zip(EXPENSIVE_CANDIDATES, people.probers, strict=False):
            outcome = await conn.send(
                Hostile(gql(document, {"slug": prober.slug}), token=prober.token),
                REQUEST_TIMEOUT_S,
            )
            ok = outcome.status == 200 and outcome.data and not outcome.codes
            candidates.append(
                {
                    "document": document,
                    "status": outcome.status,
                    "codes": list(outcome.codes),
                    "cost": reported_cost(outcome),
                    "admitted": bool(ok),
                }
            )
        admitted = [c for c in candidates if c["admitted"]]
        if admitted:  # the most expensive by reported cost, else the last admitted
            costed = [c for c in admitted if c["cost"] is not None]
            chosen = (max(costed, key=lambda c: c["cost"]) if costed else admitted[-1])["document"]
        report["expensive_query"] = {"chosen": chosen, "candidates": candidates}
        log(
            "    rate-limit exhaustion query: "
            + ", ".join(
                f"{c['document'][6:8]} {c['status']} cost {c['cost']} {c['codes'] or ''}"
                for c in candidates
            )
        )
    finally:
        await conn.close()
    ctx.run["probe"] = report
    people.members, people.viewers = pools["members"], pools["viewer"]
    ctx.kinds = kinds(
        people.greedy, chosen, forged_token(), ctx.budget.stream_cap, max_tokens(ctx.run)
    )
    # The legitimate requests: members page and viewer query alternating, so each
    # workload's users are cycled through at half the load each.
    lines = []
    longest = max(len(people.members), len(people.viewers))
    for i in range(longest):
        for users in (people.members, people.viewers):
            u = users[i % len(users)]
            lines.append(f"{u.token}\t{u.body().decode()}")
    ctx.legit_file = ctx.out / "inputs" / "gateway-legit.tsv"
    ctx.legit_file.write_text("\n".join(lines) + "\n")


# --------------------------------------------------------------------------- phases


async def run_wrk(ctx: Ctx, seconds: float, tag: str) -> dict[str, Any]:
    assert ctx.legit_file is not None
    argv = wrk_argv(ctx.port, "/graphql", ctx.legit_file, WRK_THREADS, LEGIT_CONCURRENCY, seconds)
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), seconds + 30)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise RuntimeError(f"wrk did not finish ({tag})") from None
    text = stdout.decode(errors="replace")
    raw = ctx.out / "wrk" / f"{tag}.txt"
    raw.parent.mkdir(exist_ok=True)
    raw.write_text(text + stderr.decode(errors="replace"))
    for line in text.splitlines():
        if line.startswith("BENCH_JSON "):
            result: dict[str, Any] = orjson.loads(line.removeprefix("BENCH_JSON "))
            return result
    raise RuntimeError(f"wrk failed ({tag}): {text[-400:]}{stderr.decode()[-400:]}")


async def attack_loop(ctx: Ctx, stop: asyncio.Event, tallies: dict[str, Tally], index: int) -> None:
    """One attacker connection cycling through the kinds until ``stop``."""
    conn = Connection(ctx.port)
    attacker = ctx.people.attackers[index]
    try:
        for step in itertools.count(index):
            if stop.is_set():
                break
            kind = ctx.kinds[step % len(ctx.kinds)]
            outcome = await conn.send(kind.make(next(ctx.counter), attacker), REQUEST_TIMEOUT_S)
            tallies[kind.name].add(outcome)
    finally:
        await conn.close()


async def legit_phase(ctx: Ctx, name: str, attack: bool) -> dict[str, Any]:
    """wrk's legitimate load for ``duration`` after ``warmup``; with ``attack``, the 4
    attacker connections run from before the warm-up to the end."""
    budget = ctx.budget
    stop = asyncio.Event()
    tallies = {k.name: Tally() for k in ctx.kinds}
    attackers: list[asyncio.Task[None]] = []
    attack_started = time.monotonic()
    if attack:
        attackers = [
            asyncio.create_task(attack_loop(ctx, stop, tallies, i)) for i in range(ATTACKERS)
        ]
        await asyncio.sleep(0.5)
    try:
        if budget.warmup > 0:
            await run_wrk(ctx, budget.warmup, f"{name}-warmup")
        cpu0, db0 = procstat.tree_cpu(ctx.gateway.pid), await db_cpu(ctx)
        busy0, wrk0 = procstat.machine_busy_seconds(), procstat.children_cpu_seconds()
        self0, redis0 = procstat.self_cpu_seconds(), edge.redis_cpu_seconds()
        wall = time.monotonic()
        sent0 = sum(t.sent for t in tallies.values())
        result = await run_wrk(ctx, budget.duration, name)
        wall = time.monotonic() - wall
        busy = procstat.machine_busy_seconds() - busy0
        wrk_cpu = procstat.children_cpu_seconds() - wrk0
        own = procstat.self_cpu_seconds() - self0
        redis_cpu = edge.redis_cpu_seconds() - redis0
        server = procstat.cpu_delta(cpu0, procstat.tree_cpu(ctx.gateway.pid))
        db_used = procstat.cpu_delta(db0, await db_cpu(ctx))
        hostile_sent = sum(t.sent for t in tallies.values()) - sent0
    finally:
        stop.set()
        if attackers:
            _, pending = await asyncio.wait(attackers, timeout=3.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*attackers, return_exceptions=True)
    attack_seconds = time.monotonic() - attack_started
    n = result["requests"]
    out = {
        "rps": round(n / (result["duration_us"] / 1e6), 1),
        "p50_ms": round(result["p50_us"] / 1000, 2),
        "p95_ms": round(result["p95_us"] / 1000, 2),
        "p99_ms": round(result["p99_us"] / 1000, 2),
        "max_ms": round(result["max_us"] / 1000, 2),
        "requests": n,
        "errors": sum(
            result.get(k, 0) for k in ("connect_errors", "read_errors", "write_errors", "timeouts")
        )
        + result.get("error_responses", 0),
        "status_429": result.get("status_429"),
        "status_503": result.get("status_503"),
        "server_cpu_ms_per_request": round(server * 1000 / n, 3) if n else None,
        "cores": {
            "server": round(server / wall, 2),
            "db": round(db_used / wall, 2),
            "wrk": round(wrk_cpu / wall, 2),
            "redis": round(redis_cpu / wall, 2),
            "attackers": round(own / wall, 2),
            "other": round(max(0.0, busy - server - db_used - redis_cpu - wrk_cpu - own) / wall, 2),
        },
    }
    if attack:
        out["hostile_sent_during_measurement"] = hostile_sent
        out["attack_seconds"] = round(attack_seconds, 2)  # warm-up and measurement
        out["attack"] = {name: t.summary() for name, t in tallies.items()}
    flag = f"  ERRORS {out['errors']} (429: {out['status_429']})" if out["errors"] else ""
    log(
        f"    {name:<14} {out['rps']:8.1f} rps  p50 {out['p50_ms']:7.1f}  p99 "
        f"{out['p99_ms']:7.1f} ms  gateway {out['cores']['server']:.2f} cores, other "
        f"{out['cores']['other']:.2f}{flag}"
        + (f"  ({hostile_sent} hostile requests meanwhile)" if attack else "")
    )
    return out


async def send_many(
    ctx: Ctx,
    kind: Kind,
    n: int,
    seconds: float,
    tally: Tally,
    senders: list[Attacker] | None = None,
) -> None:
    """``n`` requests of ``kind`` over the 4 attacker connections, within ``seconds``;
    request i is sent as ``senders[i % len(senders)]`` when given, else as the
    connection's attacker."""
    stop_at = time.monotonic() + seconds
    issued = [0]

    async def one(index: int) -> None:
        conn = Connection(ctx.port)
        try:
            while issued[0] < n and time.monotonic() < stop_at:
                issued[0] += 1
                timeout = max(1.0, min(REQUEST_TIMEOUT_S, stop_at - time.monotonic() + 5))
                number = next(ctx.counter)
                who = senders[number % len(senders)] if senders else ctx.people.attackers[index]
                h = kind.make(number, who)
                tally.add(await conn.send(h, timeout))
        finally:
            await conn.close()

    tasks = [asyncio.create_task(one(i)) for i in range(ATTACKERS)]
    _, pending = await asyncio.wait(tasks, timeout=seconds + REQUEST_TIMEOUT_S + 5)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def kind_phase(ctx: Ctx, kind: Kind) -> dict[str, Any]:
    """N requests of one kind alone: the gateway's CPU per request, once it is idle."""
    n = max(4, int(ctx.budget.per_kind_requests * kind.share))
    seconds = min(ctx.budget.per_kind_seconds, max(1.0, ctx.remaining() - 30))
    settle(ctx)
    cpu0, db0 = procstat.tree_cpu(ctx.gateway.pid), await db_cpu(ctx)
    tally = Tally()
    wall = time.monotonic()
    await send_many(ctx, kind, n, seconds, tally)
    sending = time.monotonic() - wall
    waited = settle(ctx)
    cpu = procstat.cpu_delta(cpu0, procstat.tree_cpu(ctx.gateway.pid))
    db_used = procstat.cpu_delta(db0, await db_cpu(ctx))
    out = {
        **tally.summary(),
        "planned": n,
        "sending_s": round(sending, 2),
        "settle_s": waited,
        "cpu_ms_per_request": round(cpu * 1000 / tally.sent, 2) if tally.sent else None,
        "db_cpu_ms_per_request": round(db_used * 1000 / tally.sent, 2) if tally.sent else None,
    }
    codes = ", ".join(f"{k} {v}" for k, v in list(out["codes"].items())[:3])
    errs = ", ".join(f"{k} {v}" for k, v in out["client_errors"].items())
    log(
        f"    {kind.name:<22} {tally.sent:4d} sent  {out['cpu_ms_per_request'] or 0:9.2f} CPU "
        f"ms/req  p50 {out['p50_ms'] or 0:8.1f} ms  {dict(out['statuses'])} {codes}"
        + (f"  client: {errs}" if errs else "")
    )
    return out


async def memory_phase(ctx: Ctx) -> dict[str, Any]:
    """10,000 distinct valid-token documents: resident memory of each worker before/after.

    The documents come from 2,000 distinct users (5 each, well within every bucket), so
    that they are admitted, parsed and kept: what is measured is the bound on the
    gateway's caches, not the rate limiter (one token's flood is refused at once)."""
    flood = next(k for k in ctx.kinds if k.name == "unique_flood")
    senders = [
        Attacker(u.user_id, u.token or "", u.slug)
        for u in with_tokens(ctx.people.members[:MEMORY_SENDERS])
    ]
    settle(ctx)
    workers = ctx.gateway.workers()
    before = {p: procstat.rss_mb(p) for p in workers}
    cpu0 = procstat.tree_cpu(ctx.gateway.pid)
    tally = Tally()
    seconds = min(ctx.budget.flood_seconds, max(5.0, ctx.remaining() - 30))
    wall = time.monotonic()
    # In quarters, with each worker's RSS after each: a plateau is a bounded cache, a
    # steady climb a leak (or garbage the collector has not reached yet).
    steps: dict[str, list[float]] = {}
    for quarter in range(1, 5):
        left = seconds - (time.monotonic() - wall)
        if left <= 0:
            break
        await send_many(
            ctx, flood, FLOOD_DOCUMENTS * quarter // 4 - tally.sent, left, tally, senders
        )
        steps[str(tally.sent)] = [round(procstat.rss_mb(p), 1) for p in workers]
    sending = time.monotonic() - wall
    settle(ctx)
    cpu = procstat.cpu_delta(cpu0, procstat.tree_cpu(ctx.gateway.pid))
    after = {p: procstat.rss_mb(p) for p in workers}
    growth = {str(p): round(after[p] - before[p], 1) for p in workers if after[p] and before[p]}
    out = {
        **tally.summary(),
        "planned": FLOOD_DOCUMENTS,
        "sending_s": round(sending, 1),
        "rss_before_mib": {str(p): round(v, 1) for p, v in before.items()},
        "rss_by_documents_mib": steps,
        "rss_after_mib": {str(p): round(v, 1) for p, v in after.items()},
        "peak_rss_mib": {str(p): round(procstat.peak_rss_mb(p), 1) for p in workers},
        "growth_mib": growth,
        "max_growth_mib": max(growth.values()) if growth else None,
        "complete": tally.sent >= FLOOD_DOCUMENTS,
        "cpu_ms_per_request": round(cpu * 1000 / tally.sent, 2) if tally.sent else None,
    }
    log(
        f"    {tally.sent} documents in {sending:.1f} s {dict(out['statuses'])}: RSS "
        + ", ".join(f"{before[p]:.0f} → {after[p]:.0f} MiB" for p in workers)
    )
    return out


async def phases(ctx: Ctx) -> None:
    run = ctx.run
    log("==> probe: legitimate requests, their cost, the users needed")
    await probe(ctx)
    log(
        f"==> legitimate load (wrk c={LEGIT_CONCURRENCY}, {ctx.budget.duration:g} s after "
        f"{ctx.budget.warmup:g} s warm-up): alone, under attack by {ATTACKERS} connections, alone"
    )
    for name, attack in (("alone", False), ("under_attack", True), ("alone_after", False)):
        settle(ctx)
        try:
            run["legit"][name] = await legit_phase(ctx, name, attack)
        except Exception as exc:
            ctx.error(f"legitimate load {name}: {exc}")
        if not ctx.check_gateway(f"legit {name}"):
            return
    log(
        f"==> each hostile kind alone ({ctx.budget.per_kind_requests} requests or "
        f"{ctx.budget.per_kind_seconds:g} s each, {ATTACKERS} connections): gateway CPU per request"
    )
    for kind in ctx.kinds:
        if ctx.remaining() < 45:
            ctx.error(f"time bound: kinds from {kind.name} on were not measured alone")
            break
        try:
            run["kinds"][kind.name]["alone"] = await kind_phase(ctx, kind)
        except Exception as exc:
            ctx.error(f"kind {kind.name}: {type(exc).__name__}: {exc}")
        if not ctx.check_gateway(f"kind {kind.name}"):
            return
    if ctx.remaining() < 45:
        ctx.error("time bound: the memory phase was skipped")
        return
    log(f"==> {FLOOD_DOCUMENTS} distinct documents with valid tokens: memory per worker")
    try:
        run["memory"] = await memory_phase(ctx)
    except Exception as exc:
        ctx.error(f"memory phase: {type(exc).__name__}: {exc}")
    ctx.check_gateway("memory")


# --------------------------------------------------------------------------- results


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def evaluate(run: dict[str, Any]) -> list[dict[str, Any]]:
    legit = run["legit"]
    alone = [legit[k] for k in ("alone", "alone_after") if k in legit]
    attacked = legit.get("under_attack")
    values: dict[str, tuple[float | None, str]] = {}
    if alone and attacked:
        rps = sum(a["rps"] for a in alone) / len(alone)
        p99 = sum(a["p99_ms"] for a in alone) / len(alone)
        values["legit_throughput_ratio"] = (
            _ratio(attacked["rps"], rps),
            f"{attacked['rps']:.1f} rps under attack / {rps:.1f} unattacked",
        )
        values["legit_p99_ratio"] = (
            _ratio(attacked["p99_ms"], p99),
            f"{attacked['p99_ms']:.1f} ms under attack / {p99:.1f} unattacked",
        )
    measured = {
        name: k["alone"]["cpu_ms_per_request"]
        for name, k in run["kinds"].items()
        if k.get("alone", {}).get("cpu_ms_per_request") is not None
    }
    if measured:
        worst = max(measured, key=lambda name: measured[name])
        note = f"{worst}; {len(measured)} of {len(run['kinds'])} kinds measured"
        values["worst_cpu_ms_per_hostile_request"] = (measured[worst], note)
    memory = run.get("memory")
    if memory and memory.get("max_growth_mib") is not None:
        note = f"{memory['sent']} documents"
        if not memory["complete"]:
            note += f" (fewer than {FLOOD_DOCUMENTS}: time bound)"
        values["rss_growth_mib_per_worker"] = (memory["max_growth_mib"], note)
    targets = []
    for name, (op, limit) in TARGETS.items():
        value, note = values.get(name, (None, "not measured"))
        ok = None if value is None else (value >= limit if op == ">=" else value <= limit)
        if name == "rss_growth_mib_per_worker" and ok and memory and not memory["complete"]:
            ok = None  # within the target, but for fewer documents than the target says
        targets.append(
            {"name": name, "value": value, "target": f"{op} {limit:g}", "pass": ok, "note": note}
        )
    return targets


def attribute_attack(run: dict[str, Any]) -> None:
    """Each kind's counts under attack next to its measurements alone, and an estimate of
    the gateway cores it took during the attack: requests sent then x CPU per request
    alone / the attack's duration. The largest estimates say what hurt the legitimate
    load most."""
    attacked = run["legit"].get("under_attack", {})
    seconds = attacked.get("attack_seconds")
    for name, tally in attacked.get("attack", {}).items():
        entry = run["kinds"].setdefault(name, {})
        entry["under_attack"] = tally
        cpu = entry.get("alone", {}).get("cpu_ms_per_request")
        if cpu is not None and seconds:
            entry["est_gateway_cores_under_attack"] = round(tally["sent"] * cpu / 1000 / seconds, 3)


def gateway_log_problems(path: Path) -> dict[str, Any]:
    """Tracebacks in the gateway's log, by the exception's last line."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return {}
    found: Counter[str] = Counter()
    in_tb = False
    for i, line in enumerate(lines):
        if line.startswith("Traceback"):
            in_tb = True
        elif in_tb and line and not line.startswith((" ", "\t", "During", "The above")):
            found[line[:160]] += 1
            in_tb = False
        if i > 2_000_000:
            break
    errors = sum(1 for line in lines if " ERROR " in line or line.startswith("ERROR"))
    return {
        "tracebacks": sum(found.values()),
        "error_lines": errors,
        "exceptions": dict(found.most_common(10)),
    }


def setup(args: argparse.Namespace, run: dict[str, Any]) -> tuple[BenchConfig, Database]:
    cfg = load_config(args.scale)
    run["meta"]["dataset"] = ensure_database(cfg, log)
    db = Database(cfg.owner_dsn(), cfg.database)
    role = cfg.app_role
    if role is not None and not db.fetch("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
        log(f"    WARNING: role {role} does not exist; the gateway uses the owner")
        cfg = BenchConfig(cfg.scale, cfg.owner_url, None)
    run["meta"]["gateway_db_role"] = cfg.app_role or "owner"
    return cfg, db


def execute(args: argparse.Namespace, budget: Budget, out: Path, run: dict[str, Any]) -> None:
    started = time.monotonic()
    cfg, db = setup(args, run)
    try:
        people = choose_people(db)
        env = cfg.gateway_env(rate_limit=PRODUCTION_RATE_LIMIT)
        url = redis_url()
        run["meta"]["edge"] = {
            "env": edge.edge_env(env),
            "settings": edge.edge_settings(env),
            "redis": edge.redis_check(url),
        }
        if url is not None and not run["meta"]["edge"]["redis"].get("reachable"):
            log(f"    WARNING: Redis at {url} does not answer; the gateway's fallback applies")
        run["meta"]["attackers"] = [a.user_id for a in people.attackers]
        run["meta"]["greedy_attacker"] = people.greedy.user_id
        log(
            f"==> starting the gateway ({WORKERS} workers, production rate limit, Redis "
            f"{'on' if url else 'off'})"
        )
        gateway = start(
            "gateway",
            [sys.executable, "-m", "app", "serve", "--workers", str(WORKERS)],
            env,
            out,
            "/graphql",
        )
        try:
            wait_ready(gateway)
            run["meta"]["worker_pids"] = sorted(gateway.workers())
            run["rss_after_phase_mib"]["start"] = [
                round(procstat.rss_mb(p), 1) for p in run["meta"]["worker_pids"]
            ]
            ctx = Ctx(
                args=args,
                budget=budget,
                out=out,
                gateway=gateway,
                db=db,
                people=people,
                deadline=started + budget.total_seconds,
                run=run,
            )
            run["kinds"] = {}
            every = kinds(
                people.greedy, EXPENSIVE_CANDIDATES[0], "", budget.stream_cap, max_tokens(run)
            )
            for kind in every:
                run["kinds"][kind.name] = {
                    "description": kind.description,
                    "expected": kind.expected,
                }
            asyncio.run(phases(ctx))
            run["meta"]["peak_rss_mib_workers"] = [
                round(procstat.peak_rss_mb(p), 1) for p in gateway.workers()
            ]
        finally:
            run["meta"]["edge"]["redis_connections"] = edge.redis_connections(
                url, procstat.descendants(gateway.pid)
            )
            redis_before = run["meta"]["edge"]["redis"]
            run["meta"]["edge"]["redis_after"] = edge.redis_keys(
                url, REDIS_KEY_PREFIX, redis_before
            )
            gateway.stop()
            run["gateway_log"] = gateway_log_problems(gateway.log_path)
        legit = run["legit"]
        probe_info = run.get("probe", {})
        restore = float(PRODUCTION_RATE_LIMIT[1])
        if "alone" in legit:
            share = {}
            for name in ("members", "viewer"):
                p = probe_info.get(name, {})
                if p.get("cost_per_request") is not None and p.get("users"):
                    share[name] = round(
                        legit["alone"]["rps"] / 2 * p["cost_per_request"] / p["users"], 2
                    )
            run["meta"]["legit_points_per_user_per_s"] = share
            run["meta"]["legit_restore_per_s"] = restore
        attribute_attack(run)
    finally:
        db.close()


def main(args: argparse.Namespace) -> None:
    started = time.monotonic()
    budget = Budget.of(args)
    with open("/proc/loadavg") as fh:
        loadavg = " ".join(fh.read().split()[:3])
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = RESULTS / f"adversarial-{stamp}"
    (out / "inputs").mkdir(parents=True, exist_ok=False)
    log(f"==> adversarial run, results in {out}")
    if float(loadavg.split()[0]) > 1.0:
        log(f"    WARNING: load average {loadavg} before starting: figures will be noisy")
    run: dict[str, Any] = {
        "meta": {
            "mode": "adversarial",
            "timestamp": stamp,
            "scale": args.scale,
            "quick": bool(args.quick),
            "duration_s": budget.duration,
            "warmup_s": budget.warmup,
            "legit_concurrency": LEGIT_CONCURRENCY,
            "attacker_connections": ATTACKERS,
            "per_kind_requests": budget.per_kind_requests,
            "per_kind_seconds": budget.per_kind_seconds,
            "stream_cap_bytes": budget.stream_cap,
            "flood_documents": FLOOD_DOCUMENTS,
            "time_bound_s": budget.total_seconds,
            "workers": WORKERS,
            "wrk_threads": WRK_THREADS,
            "git": git_info(),
            "cpus": os.cpu_count(),
            "loadavg": loadavg,
            "edge": {},
        },
        "legit": {},
        "kinds": {},
        "memory": None,
        "worker_restarts": [],
        "rss_after_phase_mib": {},
        "errors": [],
    }

    def timed_out(*_: Any) -> None:
        raise HarnessTimeout

    previous = signal.signal(signal.SIGALRM, timed_out)
    signal.alarm(int(budget.total_seconds + 60))
    try:
        execute(args, budget, out, run)
    except HarnessTimeout:
        run["errors"].append(f"the run's time bound ({budget.total_seconds + 60:.0f} s) was hit")
    except SystemExit as exc:
        run["errors"].append(f"stopped: {exc}")
    except Exception as exc:
        run["errors"].append(f"{type(exc).__name__}: {exc}")
        (out / "harness-error.txt").write_text(traceback.format_exc())
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)

    run["targets"] = evaluate(run)
    run["meta"]["elapsed_s"] = round(time.monotonic() - started, 1)
    json_path = out / "results.json"
    json_path.write_bytes(orjson.dumps(run, option=orjson.OPT_INDENT_2, default=str))
    table = adversarial_markdown(run)
    (out / "results.md").write_text(table)
    log("")
    log(table)
    for t in run["targets"]:
        verdict = {True: "PASS", False: "FAIL", None: "n/a "}[t["pass"]]
        log(f"{verdict}  {t['name']:<34} {t['value']!s:>10}  (target {t['target']}; {t['note']})")
    for message in run["errors"]:
        log(f"ERROR  {message}")
    log(f"==> done in {time.monotonic() - started:.0f} s")
    print(json_path, flush=True)
    if run["errors"]:
        sys.exit(1)  # the report is written, but something kept it from being complete
