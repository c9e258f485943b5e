"""The edge settings a run used, and the Redis it shared state through.

Recorded in every ``results.json`` (``meta.edge``): the edge variables passed to the
gateway, the settings the gateway derives from its whole environment (its own
``app.config.Settings``, so defaults show too), and what Redis saw: whether it was
reachable before the run, how many keys exist under the run's own prefix right after the
load (the gateway still up: a bucket that refills at once may expire at once, so this can
undercount) and how many commands Redis processed meanwhile (every client of that Redis,
so other work on the machine counts too). The run's keys are deleted afterwards. No key
and no command with Redis on means the gateway did not use it: reported, not assumed.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from benchmark import procstat
from benchmark.config import EDGE_ENV_PREFIXES, ROOT, redis_url

# Settings fields that make up "the edge" (app/config.py), whatever their number.
_EDGE_FIELDS = (
    "max_",
    "rate_limit_",
    "redis_",
    "request_timeout",
    "introspection",
    "persisted_",
    "document_cache",
)


def _hide_password(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("://")[0] + "://…"


def edge_env(env: dict[str, str]) -> dict[str, str]:
    """The edge variables the bench passes to the gateway (Redis URL without password)."""
    out = {}
    for key, value in sorted(env.items()):
        if key.startswith(("REDIS_", *EDGE_ENV_PREFIXES)):
            out[key] = _hide_password(value) if key == "REDIS_URL" else value
    return out


def edge_settings(env: dict[str, str]) -> dict[str, Any]:
    """The edge settings the gateway will run with: ``app.config.Settings`` built from the
    same environment (the process's, the bench's, and ROOT/.env as the server reads it)."""
    try:
        from app.config import Settings

        saved = dict(os.environ)
        try:
            os.environ.update(env)
            dot_env = ROOT / ".env"
            settings = Settings(_env_file=dot_env if dot_env.exists() else None)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        out: dict[str, Any] = {}
        for name in sorted(n for n in Settings.model_fields if n.startswith(_EDGE_FIELDS)):
            value = getattr(settings, name, None)
            if name == "redis_url" and isinstance(value, str):
                value = _hide_password(value)
            out[name] = value
        return out
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


def redis_check(url: str | None) -> dict[str, Any]:
    """Whether the gateway's Redis answers a PING (before the run)."""
    if url is None:
        return {"enabled": False}
    info: dict[str, Any] = {"enabled": True, "url": _hide_password(url)}
    try:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        try:
            info["reachable"] = bool(client.ping())
            info["version"] = client.info("server").get("redis_version")
            info["commands_processed"] = client.info("stats").get("total_commands_processed")
        finally:
            client.close()
    except Exception as exc:
        info["reachable"] = False
        info["error"] = f"{type(exc).__name__}: {exc}"
    return info


def redis_keys(
    url: str | None, prefix: str, before: dict[str, Any] | None = None, delete: bool = True
) -> dict[str, Any]:
    """Keys under ``prefix`` now (then deleted unless told not to), and the commands Redis
    processed since ``before`` (a ``redis_check``)."""
    if url is None:
        return {"enabled": False}
    try:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        try:
            keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
            kinds: dict[str, int] = {}
            for key in keys:
                rest = key.decode(errors="replace")[len(prefix) :]
                head = rest.split(":", 1)[0] if ":" in rest else "(no sub-prefix)"
                kinds[head] = kinds.get(head, 0) + 1
            deleted = 0
            if delete:
                for start in range(0, len(keys), 500):
                    deleted += int(client.delete(*keys[start : start + 500]))
            out: dict[str, Any] = {
                "prefix": prefix,
                "keys": len(keys),
                "by_kind": kinds,
                "deleted": deleted,
            }
            then = (before or {}).get("commands_processed")
            now = client.info("stats").get("total_commands_processed")
            if isinstance(then, int) and isinstance(now, int):
                out["commands_processed_all_clients"] = now - then
            return out
        finally:
            client.close()
    except Exception as exc:
        return {"prefix": prefix, "error": f"{type(exc).__name__}: {exc}"}


def _socket_inodes(pids: list[int]) -> set[str]:
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    return inodes


def redis_connections(url: str | None, pids: list[int]) -> dict[str, Any]:
    """The processes ``pids``' TCP connections to Redis (from /proc), and the last command
    Redis saw on each (CLIENT LIST): evidence that the gateway's workers use it."""
    if url is None:
        return {}
    try:
        port = urlsplit(url).port or 6379
        inodes = _socket_inodes(pids)
        local_ports = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                rows = Path(table).read_text().splitlines()[1:]
            except OSError:
                continue
            for row in rows:
                cols = row.split()
                if len(cols) > 9 and cols[9] in inodes and int(cols[2].split(":")[1], 16) == port:
                    local_ports.add(int(cols[1].split(":")[1], 16))
        import redis

        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        try:
            commands: Counter[str] = Counter()
            for entry in client.client_list():
                addr = str(entry.get("addr", ""))
                if (
                    addr.rsplit(":", 1)[-1].isdigit()
                    and int(addr.rsplit(":", 1)[-1]) in local_ports
                ):
                    commands[str(entry.get("cmd"))] += 1
        finally:
            client.close()
        return {"connections": len(local_ports), "last_commands": dict(commands)}
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


_REDIS_PID: list[int | None] = []


def redis_cpu_seconds() -> float:
    """CPU seconds of the local redis-server the gateway uses (0 when there is none or it
    is not on this machine): its share of the machine, apart from "other" work."""
    if not _REDIS_PID:
        pid = None
        url = redis_url()
        if url is not None and urlsplit(url).hostname in {"127.0.0.1", "localhost", "::1"}:
            try:
                import redis

                client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
                try:
                    pid = int(client.info("server")["process_id"])
                finally:
                    client.close()
            except Exception:
                pid = None
        _REDIS_PID.append(pid)
    pid = _REDIS_PID[0]
    return procstat.cpu_seconds(pid) if pid else 0.0


def summary_line(edge: dict[str, Any]) -> str:
    """One sentence for results.md."""
    s = edge.get("settings", {})
    redis = edge.get("redis", {})
    if not redis.get("enabled"):
        where = "in-process state (no Redis)"
    else:
        seen = edge.get("redis_after", {})
        state = "reachable" if redis.get("reachable") else "NOT reachable"
        keys, commands = seen.get("keys"), seen.get("commands_processed_all_clients")
        held = edge.get("redis_connections", {}).get("connections")
        wrote = f", {held} gateway connections to it" if held is not None else ""
        wrote += f", {keys} keys under the run's prefix after the load" if keys is not None else ""
        if commands is not None:
            wrote += f", {commands} commands meanwhile (all clients)"
        where = f"Redis {state}{wrote}"
    if "error" in s:
        return f"edge: {where}; settings unreadable ({s['error']})"
    return (
        f"edge: {where}; rate limit {s.get('rate_limit_points')} points, "
        f"{s.get('rate_limit_restore_per_second')}/s; max query cost "
        f"{s.get('max_query_cost')}; max aliases {s.get('max_aliases')}, fields "
        f"{s.get('max_fields')}, depth {s.get('max_depth')}; request timeout "
        f"{s.get('request_timeout_seconds')} s."
    )
