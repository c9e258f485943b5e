"""``scripts/bench`` itself: build or reuse the database, start the gateway and the
floor, check every request once, count SQL statements, drive load with wrk, report.

    python -m benchmark.run [--quick] [--scale N] [--profile] [--only a,b] ...
    python -m benchmark.run --adversarial [--quick]    (benchmark.adversarial)

The gateway runs with every edge feature on (benchmark.config.gateway_env: Redis, the
rate limiter with a budget the benchmark never exhausts); the edge settings used are
recorded in ``meta.edge``. Progress goes to stdout; the last line printed is the path of
the results JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import http.client
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from benchmark import edge, procstat
from benchmark.compare import data_difference
from benchmark.config import (
    JWT_SECRET,
    RECORDED,
    REDIS_KEY_PREFIX,
    RESULTS,
    ROOT,
    WORKERS,
    BenchConfig,
    load_config,
    redis_url,
)
from benchmark.dataset import SEED, ensure_database
from benchmark.queries import (
    CONVERSATIONS_CURSOR,
    DEEP_WORKLOADS,
    MEMBERS_CURSOR,
    WORKLOADS,
    Workload,
)
from benchmark.report import compare_with_previous, markdown

HERE = Path(__file__).resolve().parent
LUA = HERE / "load.lua"
VIEWERS = 32  # distinct (viewer, workspace) pairs per workload
WRK_THREADS = 2


def log(message: str) -> None:
    print(message, flush=True)


# --------------------------------------------------------------------------- requests


@dataclass
class Request:
    user_id: int
    token: str
    gateway_body: bytes
    floor_body: bytes
    gateway_data: Any = None  # the gateway's answer, once checked (verify)
    # A peer's own body where it differs from the one built from gateway_body (a deep
    # page: the peer's own cursor), by peer name.
    peer_bodies: dict[str, bytes] = field(default_factory=dict)


@dataclass
class Plan:
    workload: Workload
    requests: list[Request] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.workload.name


class Database:
    """A small synchronous wrapper over one owner connection (setup and DB CPU)."""

    def __init__(self, dsn: str, database: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.database = database
        self.conn: asyncpg.Connection = self.loop.run_until_complete(asyncpg.connect(dsn))

    def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = self.loop.run_until_complete(self.conn.fetch(sql, *args))
        return rows

    def backends(self) -> list[int]:
        rows = self.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            self.database,
        )
        return [r["pid"] for r in rows]

    def backend_cpu(self) -> dict[int, float]:
        return {pid: procstat.cpu_seconds(pid) for pid in self.backends()}

    def close(self) -> None:
        self.loop.run_until_complete(self.conn.close())
        self.loop.close()


def _pick(rng: random.Random, rows: list[asyncpg.Record], k: int) -> list[asyncpg.Record]:
    return rng.sample(rows, k=min(k, len(rows)))


VIEWER_SQL = """
SELECT w.id, w.slug, (
    SELECT m.user_id FROM members m
    JOIN roles r ON r.workspace_id = m.workspace_id AND r.id = m.role_id
    JOIN users u ON u.id = m.user_id
    WHERE m.workspace_id = w.id AND r.builtin = 'ADMIN' AND m.status = 'ACTIVE'
      AND u.status = 'ACTIVE'
    ORDER BY m.id LIMIT 1) AS admin
FROM workspaces w
WHERE (SELECT count(*) FROM members m WHERE m.workspace_id = w.id) >= $1
  AND (SELECT count(*) FROM conversations c WHERE c.workspace_id = w.id) >= $2
ORDER BY w.id
"""


@functools.cache
def token(user_id: int) -> str:
    """A user token the gateway under test accepts (one per user and run)."""
    from app.auth.tokens import issue_user_token
    from app.config import Settings

    settings = Settings(app_env="production", jwt_secret=JWT_SECRET, database_url="postgresql://")
    return issue_user_token(settings, user_id)


def plan_requests(db: Database, scale: int, only: set[str] | None) -> list[Plan]:
    rng = random.Random(SEED)  # noqa: S311 (a reproducible choice of viewers)

    def body(document: str, variables: dict[str, Any] | None) -> bytes:
        payload: dict[str, Any] = {"query": document}
        if variables is not None:
            payload["variables"] = variables
        return orjson.dumps(payload)

    regular = _pick(rng, db.fetch(VIEWER_SQL, 50, 50), VIEWERS)
    plans = []
    for w in WORKLOADS:
        plan = Plan(w)
        for row in regular:
            variables = None if w.name == "viewer" else {"slug": row["slug"]}
            plan.requests.append(
                Request(
                    row["admin"],
                    token(row["admin"]),
                    body(w.document, variables),
                    orjson.dumps({"variables": variables or {}}),
                )
            )
        plans.append(plan)
    if scale >= 10:
        big_members = _pick(rng, db.fetch(VIEWER_SQL, 140, 50), VIEWERS)
        big_conversations = _pick(rng, db.fetch(VIEWER_SQL, 50, 550), VIEWERS)
        for w in DEEP_WORKLOADS:
            rows = big_members if w.name.startswith("members") else big_conversations
            plan = Plan(w)
            for row in rows:
                # Bodies of deep pages get their cursors once the gateway is up.
                variables = {"slug": row["slug"], "after": None}
                plan.requests.append(
                    Request(
                        row["admin"],
                        token(row["admin"]),
                        body(w.document, variables),
                        orjson.dumps({"variables": {"slug": row["slug"]}}),
                    )
                )
            plans.append(plan)
    if only:
        plans = [p for p in plans if p.name in only]
    return plans


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    path: str  # GraphQL path ("" for the floor: the workload's own path)
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def workers(self) -> list[int]:
        return procstat.workers(self.pid)

    def ready(self) -> bool:
        """Its workers are up and one of them answers HTTP."""
        if len(self.workers()) < WORKERS:
            return False
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            conn.close()
        except OSError:
            return False
        return True

    def tail(self) -> str:
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-30:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


def start(name: str, argv: list[str], env: dict[str, str], out: Path, path: str) -> Server:
    port = free_port()
    log_path = out / f"{name}.log"
    handle = log_path.open("wb")
    process = subprocess.Popen(  # noqa: S603 (fixed argv)
        [*argv, "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped as one
    )
    handle.close()
    return Server(name, process, port, path, log_path)


def wait_ready(server: Server, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"{server.name} exited at start:\n{server.tail()}")
        if server.ready():
            return
        time.sleep(0.3)
    raise SystemExit(f"{server.name} not ready after {timeout:.0f} s:\n{server.tail()}")


def gateway_command(cfg: BenchConfig) -> tuple[list[str], dict[str, str]]:
    """How the gateway under test starts: argv and environment."""
    argv = [sys.executable, "-m", "app", "serve", "--workers", str(WORKERS)]
    return argv, cfg.gateway_env()


def floor_command(dsn: str) -> tuple[list[str], dict[str, str]]:
    """How the floor starts over the database ``dsn``: argv and environment."""
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "benchmark.floor:create_app",
        "--factory",
        "--workers",
        str(WORKERS),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    env = {
        "PYTHONPATH": f"{HERE.parent}{os.pathsep}{ROOT}",
        "FLOOR_DATABASE_URL": dsn,
        "JWT_SECRET": JWT_SECRET,
        "DB_POOL_SIZE": os.environ.get("DB_POOL_SIZE", "10"),
    }
    return argv, env


@contextmanager
def servers(cfg: BenchConfig, out: Path) -> Iterator[tuple[Server, Server]]:
    started: list[Server] = []
    try:
        argv, env = gateway_command(cfg)
        gateway = start("gateway", argv, env, out, "/graphql")
        started.append(gateway)
        argv, env = floor_command(cfg.owner_dsn())
        floor = start("floor", argv, env, out, "")
        started.append(floor)
        wait_ready(gateway)
        wait_ready(floor)
        yield gateway, floor
    finally:
        for server in started:
            server.stop()


# --------------------------------------------------------------------------- checks


class Client:
    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def post(self, path: str, token: str, body: bytes) -> tuple[int, dict[str, Any], int]:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        self.conn.request("POST", path, body=body, headers=headers)
        response = self.conn.getresponse()
        raw = response.read()
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            parsed = {"errors": [{"message": raw[:300].decode(errors="replace")}]}
        return response.status, parsed, len(raw)


def gateway_ok(status: int, response: dict[str, Any], what: str) -> dict[str, Any]:
    if status != 200 or "errors" in response or response.get("data") is None:
        raise SystemExit(f"gateway error on {what}: HTTP {status} {orjson.dumps(response)[:800]!r}")
    data: dict[str, Any] = response["data"]
    return data


def cursor_steps(plan: Plan) -> list[int]:
    """The pages a deep workload's cursor walks past (none for other workloads)."""
    if plan.name.endswith("_after_90"):
        return [90]
    if plan.name.endswith("_after_500"):
        return [100] * 5
    return []


def walk_cursor(
    client: Client, token: str, document: str, slug: str, field: str, steps: list[int]
) -> str | None:
    """The endCursor after ``steps`` pages of ``workspace.<field>`` through a server's own
    API (``document`` takes $slug, $first and $after); the server's cursor, whatever its
    format."""
    cursor = None
    for first in steps:
        variables = {"slug": slug, "first": first, "after": cursor}
        status, response, _ = client.post(
            "/graphql", token, orjson.dumps({"query": document, "variables": variables})
        )
        if status != 200 or "errors" in response or not response.get("data"):
            raise SystemExit(
                f"cursor walk of {slug}: HTTP {status} {orjson.dumps(response)[:800]!r}"
            )
        cursor = response["data"]["workspace"][field]["pageInfo"]["endCursor"]
    return cursor


def add_cursors(plans: list[Plan], gateway: Server, db: Database) -> None:
    """Point the deep-page requests after the 90th member / 500th conversation, with the
    gateway's own cursors (walked through its API) and the floor's keys (from SQL)."""
    client = Client(gateway.port)
    for plan in plans:
        steps = cursor_steps(plan)
        if not steps:
            continue
        members = plan.name.startswith("members")
        for req in plan.requests:
            body = orjson.loads(req.gateway_body)
            slug = body["variables"]["slug"]
            body["variables"]["after"] = walk_cursor(
                client,
                req.token,
                MEMBERS_CURSOR if members else CONVERSATIONS_CURSOR,
                slug,
                "members" if members else "conversations",
                steps,
            )
            req.gateway_body = orjson.dumps(body)
            if members:
                (row,) = db.fetch(
                    "SELECT m.id FROM members m JOIN workspaces w ON w.id = m.workspace_id "
                    "WHERE w.slug = $1 ORDER BY m.id OFFSET 89 LIMIT 1",
                    slug,
                )
                floor_vars: dict[str, Any] = {"slug": slug, "afterId": row["id"]}
            else:
                (row,) = db.fetch(
                    "SELECT c.occurred_at, c.id FROM conversations c "
                    "JOIN workspaces w ON w.id = c.workspace_id WHERE w.slug = $1 "
                    "ORDER BY c.occurred_at DESC, c.id DESC OFFSET 499 LIMIT 1",
                    slug,
                )
                floor_vars = {
                    "slug": slug,
                    "afterAt": row["occurred_at"].isoformat(),
                    "afterId": row["id"],
                }
            req.floor_body = orjson.dumps({"variables": floor_vars})


def verify(plans: list[Plan], gateway: Server, floor: Server, out: Path) -> dict[str, Any]:
    """Every request once on both servers: no errors, and the same data (the same objects
    under their IDs, which the gateway encrypts and the floor does not)."""
    # The gateway's ID key derives from the secret it runs with (app/auth/keys.py).
    os.environ["JWT_SECRET"] = JWT_SECRET
    from app.graphql.ids import decode_id

    g, f = Client(gateway.port), Client(floor.port)
    sizes: dict[str, Any] = {}
    for plan in plans:
        g_bytes = f_bytes = 0
        for i, req in enumerate(plan.requests):
            status, got, n = g.post("/graphql", req.token, req.gateway_body)
            data = gateway_ok(status, got, f"{plan.name} request {i}")
            g_bytes += n
            req.gateway_data = data
            status, expected, n = f.post(plan.workload.floor_path, req.token, req.floor_body)
            f_bytes += n
            diff = data_difference(data, expected.get("data"), decode_id)
            if status != 200 or diff:
                dump = out / f"mismatch-{plan.name}.json"
                dump.write_bytes(
                    orjson.dumps({"gateway": got, "floor": expected}, option=orjson.OPT_INDENT_2)
                )
                message = (
                    f"{plan.name} request {i}: the floor and the gateway disagree "
                    f"(HTTP {status}; {diff}; {dump})"
                )
                if os.environ.get("BENCH_ALLOW_MISMATCH") != "1":
                    raise SystemExit(message)
                log(f"    WARNING {message}")
        n_req = len(plan.requests)
        sizes[plan.name] = {
            "gateway_bytes": g_bytes // n_req,
            "floor_bytes": f_bytes // n_req,
        }
        log(
            f"    {plan.name:<26} {n_req} requests ok, same data as the floor "
            f"({g_bytes // n_req} / {f_bytes // n_req} bytes)"
        )
    return sizes


def count_sql(plans: list[Plan], cfg: BenchConfig, out: Path) -> dict[str, dict[str, Any]]:
    """Statements of every request of every workload (they depend on the viewer: e.g. one
    with a custom role somewhere needs its stored permissions), in-process, exactly."""
    source = out / "inputs" / "sqlcount-input.json"
    target = out / "sql-statements.json"
    source.write_bytes(
        orjson.dumps(
            {p.name: [[r.token, r.gateway_body.decode()] for r in p.requests] for p in plans}
        )
    )
    env = {**os.environ, **cfg.gateway_env(), "PYTHONPATH": f"{HERE.parent}{os.pathsep}{ROOT}"}
    done = subprocess.run(  # noqa: S603 (fixed argv)
        [sys.executable, "-m", "benchmark.sqlcount", str(source), str(target)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        log(f"    WARNING: SQL count failed: {(done.stderr or done.stdout)[-1500:]}")
        return {p.name: {"mean": None, "min": None, "max": None} for p in plans}
    counts: dict[str, dict[str, Any]] = {}
    for name, entry in orjson.loads(target.read_bytes()).items():
        values = entry["counts"]
        counts[name] = {
            "mean": round(sum(values) / len(values), 2),
            "min": min(values),
            "max": max(values),
        }
        c = counts[name]
        log(f"    {name:<26} {c['mean']:g} statements per request (min {c['min']}, max {c['max']})")
    return counts


# --------------------------------------------------------------------------- load


def write_requests(plans: list[Plan], out: Path) -> None:
    folder = out / "inputs"
    folder.mkdir(exist_ok=True)
    for plan in plans:
        for target in ("gateway", "floor"):
            lines = []
            for r in plan.requests:
                payload = r.gateway_body if target == "gateway" else r.floor_body
                lines.append(f"{r.token}\t{payload.decode()}")
            (folder / f"{target}-{plan.name}.tsv").write_text("\n".join(lines) + "\n")


def wrk_argv(
    port: int, path: str, requests: Path, threads: int, c: int, seconds: float
) -> list[str]:
    """wrk driving ``path`` with the requests file through load.lua."""
    return [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(c),
        "-d",
        f"{seconds:g}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        f"http://127.0.0.1:{port}{path}",
        "--",
        str(requests),
        path,
        f"127.0.0.1:{port}",
    ]


def wrk(server: Server, plan: Plan, c: int, seconds: float, out: Path, tag: str) -> dict[str, Any]:
    path = server.path or plan.workload.floor_path
    requests = out / "inputs" / f"{server.name}-{plan.name}.tsv"
    argv = wrk_argv(server.port, path, requests, min(WRK_THREADS, c), c, seconds)
    done = subprocess.run(  # noqa: S603 (fixed argv)
        argv, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    raw = out / "wrk" / f"{tag}.txt"
    raw.parent.mkdir(exist_ok=True)
    raw.write_text(done.stdout + done.stderr)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            result: dict[str, Any] = orjson.loads(line.removeprefix("BENCH_JSON "))
            return result
    raise SystemExit(f"wrk failed ({tag}): {done.stdout[-800:]}{done.stderr[-800:]}")


def measure(
    server: Server,
    plan: Plan,
    c: int,
    args: argparse.Namespace,
    db: Database,
    out: Path,
    suffix: str = "",
) -> dict[str, Any]:
    tag = f"{server.name}-{plan.name}-c{c}{suffix}"
    if args.warmup > 0:
        wrk(server, plan, c, args.warmup, out, f"{tag}-warmup")
    cpu_before, db_before = procstat.tree_cpu(server.pid), db.backend_cpu()
    busy_before, wrk_before = procstat.machine_busy_seconds(), procstat.children_cpu_seconds()
    redis_before = edge.redis_cpu_seconds()
    wall = time.monotonic()
    result = wrk(server, plan, c, args.duration, out, tag)
    wall = time.monotonic() - wall
    busy = procstat.machine_busy_seconds() - busy_before
    wrk_cpu = procstat.children_cpu_seconds() - wrk_before
    # The gateway's Redis (the floor uses none): its own share, not "other" work.
    redis_cpu = edge.redis_cpu_seconds() - redis_before
    cpu_after, db_after = procstat.tree_cpu(server.pid), db.backend_cpu()
    server_cpu = procstat.cpu_delta(cpu_before, cpu_after)
    db_cpu = procstat.cpu_delta(db_before, db_after)
    n = result["requests"]
    # error_responses counts every non-200 (wrk's status_errors are among them) and
    # every body with "errors".
    errors = sum(
        result[k]
        for k in ("connect_errors", "read_errors", "write_errors", "timeouts", "error_responses")
    )
    rss = [round(procstat.peak_rss_mb(p), 1) for p in server.workers()]
    return {
        "rps": round(n / (result["duration_us"] / 1e6), 1),
        "p50_ms": round(result["p50_us"] / 1000, 2),
        "p95_ms": round(result["p95_us"] / 1000, 2),
        "p99_ms": round(result["p99_us"] / 1000, 2),
        "max_ms": round(result["max_us"] / 1000, 2),
        "requests": n,
        "errors": errors,
        # Among the errors: refused by the rate limiter (429) or overloaded (503); the
        # benchmark's budget is meant to make the first impossible.
        "status_429": result.get("status_429"),
        "status_503": result.get("status_503"),
        "cpu_ms_per_request": round(server_cpu * 1000 / n, 3) if n else None,
        "db_cpu_ms_per_request": round(db_cpu * 1000 / n, 3) if n else None,
        "redis_cpu_ms_per_request": round(redis_cpu * 1000 / n, 3) if n else None,
        # CPU cores in use during the run: the server, its database backends, Redis, wrk,
        # and whatever else ran on the machine meanwhile (the noise: other work).
        "cores": {
            "server": round(server_cpu / wall, 2),
            "db": round(db_cpu / wall, 2),
            "redis": round(redis_cpu / wall, 2),
            "wrk": round(wrk_cpu / wall, 2),
            "other": round(max(0.0, busy - server_cpu - db_cpu - redis_cpu - wrk_cpu) / wall, 2),
        },
        "peak_rss_mb": max(rss) if rss else None,
        "peak_rss_mb_workers": rss,
        "bytes_per_response": round(result["bytes"] / n) if n else None,
        "wrk": result,
    }


def rotated(items: list[Any], shift: int) -> list[Any]:
    """``items`` starting at ``shift`` (mod its length): who goes first changes between
    workloads and repetitions, so no target always runs right after another."""
    if not items:
        return items
    k = shift % len(items)
    return items[k:] + items[:k]


def measure_cell(
    targets: list[Server],
    plan: Plan,
    c: int,
    args: argparse.Namespace,
    db: Database,
    out: Path,
    shift: int = 0,
) -> dict[str, dict[str, Any]]:
    """Every target on one workload at one concurrency, ``--repeat`` times, the order
    rotated by ``shift`` and again by each repetition; the median run of each target
    (by rps) is kept, which damps a burst of other work on the machine."""
    runs: dict[str, list[dict[str, Any]]] = {t.name: [] for t in targets}
    for i in range(args.repeat):
        suffix = f"-r{i + 1}" if args.repeat > 1 else ""
        for server in rotated(targets, shift + i):
            runs[server.name].append(measure(server, plan, c, args, db, out, suffix))

    def median(found: list[dict[str, Any]]) -> dict[str, Any]:
        ranked = sorted(found, key=lambda r: r["rps"])
        chosen = dict(ranked[(len(ranked) - 1) // 2])
        if len(found) > 1:
            chosen["rps_runs"] = [r["rps"] for r in found]
        return chosen

    return {name: median(found) for name, found in runs.items()}


def profile(gateway: Server, plans: list[Plan], out: Path, seconds: float, workload: str) -> None:
    """py-spy on one gateway worker while one workload (the members page unless
    ``--profile-workload`` says otherwise) is under load (c=16)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        log("    py-spy is not installed (scripts/bench --profile installs it); skipped")
        return
    plan = next((p for p in plans if p.name == workload), None)
    workers = gateway.workers()
    if plan is None or not workers:
        log(f"    no {workload} workload or no worker to profile; skipped")
        return
    raw = out / f"profile-{workload}.pyspy.txt"
    load = threading_wrk(gateway, plan, 16, seconds + 6, out)
    time.sleep(2)
    done = subprocess.run(  # noqa: S603 (fixed argv)
        [
            spy,
            "record",
            "--pid",
            str(workers[0]),
            "--duration",
            f"{seconds:g}",
            "--rate",
            "200",
            "--format",
            "raw",
            "--output",
            str(raw),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    load.wait(timeout=seconds + 60)
    if done.returncode != 0 or not raw.exists():
        log(f"    py-spy failed: {done.stderr[-600:]}")
        return
    from benchmark.profile_summary import summarize

    summary = summarize(raw.read_text())
    (out / f"profile-{workload}.summary.txt").write_text(summary)
    log(f"    profile of worker {workers[0]}: {raw}")
    for line in summary.splitlines()[:24]:
        log(f"      {line}")


def threading_wrk(
    server: Server, plan: Plan, c: int, seconds: float, out: Path
) -> subprocess.Popen[bytes]:
    requests = out / "inputs" / f"gateway-{plan.name}.tsv"
    path = server.path
    return subprocess.Popen(  # noqa: S603 (fixed argv)
        wrk_argv(server.port, path, requests, WRK_THREADS, c, seconds),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


# --------------------------------------------------------------------------- main


def git_info() -> dict[str, Any]:
    def git(*argv: str) -> str:
        done = subprocess.run(  # noqa: S603 (fixed argv)
            ["git", *argv],  # noqa: S607 (git from PATH)
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(git("status", "--porcelain")),
    }


def edge_before(cfg: BenchConfig) -> dict[str, Any]:
    """The edge settings the gateway gets, and whether its Redis answers (recorded)."""
    env, url = cfg.gateway_env(), redis_url()
    meta = {
        "env": edge.edge_env(env),
        "settings": edge.edge_settings(env),
        "redis": edge.redis_check(url),
    }
    if url is not None and not meta["redis"].get("reachable"):
        log(f"    WARNING: Redis at {url} does not answer: {meta['redis'].get('error')}")
    log("    " + edge.summary_line(meta))
    return meta


def edge_after(meta: dict[str, Any], gateway_pids: list[int]) -> None:
    """Whether the gateway used Redis: its workers' connections to it, the keys under this
    run's prefix (counted with the gateway still up, then deleted), Redis's command count
    during the run (all clients)."""
    url = redis_url()
    meta["redis_connections"] = held = edge.redis_connections(url, gateway_pids)
    meta["redis_after"] = seen = edge.redis_keys(url, REDIS_KEY_PREFIX, meta.get("redis"))
    if url is None:
        return
    log(
        f"    Redis: {held.get('connections')} gateway connections (last commands "
        f"{held.get('last_commands')}); {seen.get('keys')} keys under {REDIS_KEY_PREFIX} "
        f"after the load {seen.get('by_kind') or ''}; "
        f"{seen.get('commands_processed_all_clients')} commands during the run (all clients)"
    )
    if not held.get("connections"):
        log(
            "    WARNING: the gateway holds no connection to Redis "
            f"({held.get('error') or seen.get('error') or 'REDIS_URL unused?'})"
        )


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


@contextmanager
def peers_running(
    peer_argv: dict[Any, list[str]], cfg: BenchConfig, out: Path
) -> Iterator[list[Server]]:
    """The peers that could be installed, started (none without ``--peers``)."""
    if not peer_argv:
        yield []
        return
    from benchmark import peers

    with peers.running(peer_argv, cfg, out) as started:
        yield started


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="c=16 only, 5 s runs (< 3 min)")
    p.add_argument("--scale", type=int, default=1, help="data size multiplier (default 1)")
    p.add_argument("--profile", action="store_true", help="py-spy a worker on the members page")
    p.add_argument(
        "--profile-workload",
        default="members",
        help="the workload --profile loads (default members)",
    )
    p.add_argument("--only", default="", help="comma-separated workloads (default: all)")
    p.add_argument("--duration", type=float, default=None, help="seconds per measurement")
    p.add_argument("--warmup", type=float, default=None, help="seconds of warm-up per run")
    p.add_argument(
        "--concurrency", default=None, help="comma-separated (default 16,64; --quick 16)"
    )
    p.add_argument(
        "--repeat", type=int, default=1, help="alternate floor/gateway runs N times, keep medians"
    )
    p.add_argument(
        "--peers",
        action="store_true",
        help="PostGraphile 4 and 5 in the same run (benchmark.peers; installed on demand "
        "with npm into ~/.cache/harmony-gateway/peers; skipped without node)",
    )
    p.add_argument("--profile-seconds", type=float, default=10.0)
    p.add_argument(
        "--record",
        action="store_true",
        help="also copy the run's table and figures to docs/benchmarks/<run>/ (committed)",
    )
    p.add_argument(
        "--adversarial",
        action="store_true",
        help="legitimate load under hostile inputs, production rate limits "
        "(benchmark.adversarial; honours --quick, --scale, --duration, --warmup)",
    )
    args = p.parse_args(argv)
    if args.scale < 1:
        p.error("--scale must be >= 1")
    if args.duration is None:
        args.duration = 5.0 if args.quick else 10.0
    if args.warmup is None:
        args.warmup = 1.0 if args.quick else 2.0
    if args.concurrency is None:
        args.concurrency = "16" if args.quick else "16,64"
    args.levels = [int(c) for c in args.concurrency.split(",") if c]
    return args


def record(out: Path) -> Path:
    """Copy a run's table and figures to docs/benchmarks/<run>/: bench-results/ is
    ignored by git, and the figures docs/performance.md cites must stay checkable."""
    kept = RECORDED / out.name
    kept.mkdir(parents=True, exist_ok=True)
    for name in ("results.md", "results.json", "sql-statements.json"):
        if (out / name).exists():
            shutil.copyfile(out / name, kept / name)
    for summary in sorted(out.glob("profile-*.summary.txt")):
        shutil.copyfile(summary, kept / summary.name)
    return kept


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.adversarial:
        if shutil.which("wrk") is None:
            raise SystemExit("wrk is not installed (apt-get install -y wrk)")
        from benchmark import adversarial

        adversarial.main(args)
        return
    started = time.monotonic()
    with open("/proc/loadavg") as fh:
        loadavg = " ".join(fh.read().split()[:3])
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    cfg = load_config(args.scale)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = RESULTS / stamp
    out.mkdir(parents=True, exist_ok=False)
    (out / "inputs").mkdir()
    log(f"==> results in {out}")
    if float(loadavg.split()[0]) > 1.0:
        log(
            f"    WARNING: load average {loadavg} before starting: something else is using "
            "the CPUs; absolute figures will be low, ratios less so"
        )

    dataset = ensure_database(cfg, log)
    db = Database(cfg.owner_dsn(), cfg.database)
    try:
        if cfg.app_role is not None:
            exists = db.fetch("SELECT 1 FROM pg_roles WHERE rolname = $1", cfg.app_role)
            if not exists:
                log(f"    WARNING: role {cfg.app_role} does not exist; the gateway uses the owner")
                cfg = BenchConfig(cfg.scale, cfg.owner_url, None)
        only = {s for s in args.only.split(",") if s} or None
        plans = plan_requests(db, args.scale, only)
        if not plans:
            raise SystemExit(f"no workload matches --only {args.only}")
        role = cfg.app_role or "owner (" + (cfg.owner_sa_url.split("//")[1].split("@")[0]) + ")"
        edge_meta = edge_before(cfg)
        peer_argv: dict[Any, list[str]] = {}
        if args.peers:
            from benchmark import peers

            log("==> the peers (scripts/bench --peers)")
            peer_argv = peers.prepare(cfg)
        log(f"==> starting the gateway (DB role {role}) and the floor, {WORKERS} workers each")
        results: list[dict[str, Any]] = []
        with servers(cfg, out) as (gateway, floor), peers_running(peer_argv, cfg, out) as others:
            # others: the peers that started (none without --peers or without Node).
            if args.scale >= 10:
                add_cursors(plans, gateway, db)
            write_requests(plans, out)
            log("==> checking every request once on both servers")
            sizes = verify(plans, gateway, floor, out)
            wire: dict[str, dict[str, Any]] = {}
            if others:
                wire = peers.check(plans, cfg, peer_argv, gateway, floor, others, db, sizes, out)
            log("==> counting SQL statements per request (in-process, exact)")
            sql = count_sql(plans, cfg, out)
            log(
                f"==> load: wrk {WRK_THREADS} threads, {args.duration:g} s per run after "
                f"{args.warmup:g} s warm-up"
            )
            cell = 0
            for plan in plans:
                levels = [16] if plan.workload.deep else args.levels
                for c in levels:
                    rivals = [p for p in others if plan.workload.peer_document is not None]
                    # Without peers the floor runs first, then the gateway, as before.
                    got = measure_cell(
                        [floor, gateway, *rivals], plan, c, args, db, out, cell if others else 0
                    )
                    cell += 1
                    f, g = got["floor"], got["gateway"]
                    ratio = round(g["rps"] / f["rps"], 3) if f["rps"] else None
                    entry = {
                        "query": plan.name,
                        "label": plan.workload.label,
                        "concurrency": c,
                        **{k: v for k, v in g.items() if k != "wrk"},
                        "sql_per_request": sql[plan.name]["mean"],
                        "sql_per_request_min": sql[plan.name]["min"],
                        "sql_per_request_max": sql[plan.name]["max"],
                        "ratio_to_floor": ratio,
                        "floor": {k: v for k, v in f.items() if k != "wrk"},
                        "response_bytes": sizes[plan.name],
                    }
                    if others:
                        entry.update(peers.against(g, {p.name: got[p.name] for p in rivals}))
                        entry["wire_statements_per_request"] = {
                            name: count["statements"]
                            for name, count in wire.get(plan.name, {}).items()
                        }
                    results.append(entry)
                    flag = (
                        f"  ERRORS {g['errors']}/{f['errors']}"
                        if g["errors"] or f["errors"]
                        else ""
                    )
                    log(
                        f"    {plan.name:<26} c={c:<3} gateway {g['rps']:8.1f} rps "
                        f"p50 {g['p50_ms']:7.1f} p99 {g['p99_ms']:7.1f} ms "
                        f"{g['cpu_ms_per_request'] or 0:6.2f} CPU ms/req | floor "
                        f"{f['rps']:8.1f} rps | ratio {ratio} | other load "
                        f"{g['cores']['other']:.1f}/{f['cores']['other']:.1f} cores{flag}"
                    )
                    for name, ratio_to_peer in entry.get("ratio_to_peer", {}).items():
                        r = got[name]
                        log(
                            f"    {'':<26}       {name:<14} {r['rps']:8.1f} rps "
                            f"p50 {r['p50_ms']:7.1f} p99 {r['p99_ms']:7.1f} ms "
                            f"{r['cpu_ms_per_request'] or 0:6.2f} CPU ms/req | "
                            f"gateway/{name} {ratio_to_peer} | errors {r['errors']}"
                        )
            if args.profile:
                log(f"==> profiling one gateway worker on the {args.profile_workload} workload")
                profile(gateway, plans, out, args.profile_seconds, args.profile_workload)
            edge_after(edge_meta, procstat.descendants(gateway.pid))
    finally:
        db.close()

    deep = []
    by_name = {(r["query"], r["concurrency"]): r for r in results}
    for first, after in (
        ("members_first_big", "members_after_90"),
        ("conversations_first_big", "conversations_after_500"),
    ):
        a, b = by_name.get((first, 16)), by_name.get((after, 16))
        if a and b:
            deep.append(
                {
                    "first": first,
                    "deep": after,
                    "rps_ratio": _ratio(b["rps"], a["rps"]),
                    "p50_ratio": _ratio(b["p50_ms"], a["p50_ms"]),
                    # CPU per request hardly moves with the machine's other load: the
                    # steadier answer to "does a deep page cost the same?"
                    "cpu_ratio": _ratio(b["cpu_ms_per_request"], a["cpu_ms_per_request"]),
                    "db_cpu_ratio": _ratio(b["db_cpu_ms_per_request"], a["db_cpu_ms_per_request"]),
                }
            )
    run = {
        "meta": {
            "timestamp": stamp,
            "scale": args.scale,
            "quick": args.quick,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "repeat": args.repeat,
            "concurrency": args.levels,
            "workers": WORKERS,
            "wrk_threads": WRK_THREADS,
            "viewers_per_workload": VIEWERS,
            "dataset": dataset,
            "gateway_db_role": cfg.app_role or "owner",
            "floor_db_role": "owner",
            "edge": edge_meta,
            "peers": peers.describe(peer_argv, plans, wire) if peer_argv else None,
            "git": git_info(),
            "cpus": os.cpu_count(),
            "loadavg": loadavg,
            "elapsed_s": round(time.monotonic() - started, 1),
        },
        "queries": {p.name: p.workload.document for p in plans},
        "results": results,
        "deep_pages": deep,
    }
    json_path = out / "results.json"
    json_path.write_bytes(orjson.dumps(run, option=orjson.OPT_INDENT_2))
    table = markdown(run)
    (out / "results.md").write_text(table)
    log("")
    log(table)
    for line in compare_with_previous(run, out):
        log(line)
    if args.record:
        kept = record(out)
        log(f"==> recorded in {kept} (commit it with the docs that cite it)")
    log(f"==> done in {time.monotonic() - started:.0f} s")
    print(json_path, flush=True)


if __name__ == "__main__":
    main()
