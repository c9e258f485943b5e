"""The run's results: a JSON file, a markdown table, and the comparison with the
previous run of the same scale (and, for scale > 1, with the latest 1x run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from benchmark.config import RESULTS


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _sql(r: dict[str, Any]) -> str:
    mean, low, high = (
        r["sql_per_request"],
        r.get("sql_per_request_min"),
        r.get("sql_per_request_max"),
    )
    if mean is None:
        return "-"
    return f"{mean:g}" if low == high else f"{mean:g} ({low}-{high})"


def _other(r: dict[str, Any]) -> str:
    """CPU cores used by other work during the gateway's and the floor's runs."""
    g, f = r.get("cores"), r["floor"].get("cores")
    if not g or not f:
        return "-"
    return f"{g['other']:.1f} / {f['other']:.1f}"


def markdown(run: dict[str, Any]) -> str:
    meta = run["meta"]
    lines = [
        f"# Benchmark {meta['timestamp']}",
        "",
        f"scale {meta['scale']} ({meta['dataset']['database']}), "
        f"{'quick' if meta['quick'] else 'full'} run, {meta['duration_s']} s per measurement "
        f"after {meta['warmup_s']} s warm-up, {meta['workers']} workers each, wrk "
        f"{meta['wrk_threads']} threads; commit {meta['git']['commit']}"
        f"{' (dirty)' if meta['git']['dirty'] else ''}; gateway DB role "
        f"`{meta['gateway_db_role']}`; load average at start {meta['loadavg']}.",
        "",
    ]
    if meta.get("edge"):
        from benchmark.edge import summary_line

        lines += [summary_line(meta["edge"]), ""]
    lines += [
        "| query | c | rps | floor rps | ratio to floor | p50 ms | p95 ms | p99 ms "
        "| p99/p50 | CPU ms/req | floor CPU ms/req | DB CPU ms/req | floor DB CPU ms/req "
        "| SQL/req (min-max) | peak RSS MiB/worker | errors | other load (cores) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in run["results"]:
        f = r["floor"]
        tail = r["p99_ms"] / r["p50_ms"] if r["p50_ms"] else None
        lines.append(
            f"| {r['query']} | {r['concurrency']} | {_fmt(r['rps'])} | {_fmt(f['rps'])} "
            f"| {_fmt(r['ratio_to_floor'], 3)} | {_fmt(r['p50_ms'])} | {_fmt(r['p95_ms'])} "
            f"| {_fmt(r['p99_ms'])} | {_fmt(tail)} | {_fmt(r['cpu_ms_per_request'], 2)} "
            f"| {_fmt(f['cpu_ms_per_request'], 2)} | {_fmt(r['db_cpu_ms_per_request'], 2)} "
            f"| {_fmt(f['db_cpu_ms_per_request'], 2)} | {_sql(r)} "
            f"| {_fmt(r['peak_rss_mb'], 0)} | {r['errors']} | {_other(r)} |"
        )
    lines += peers_table(run)
    deep = run.get("deep_pages")
    if deep:
        lines += [
            "",
            "| deep page / first page (same workspaces, c=16) | rps | p50 | CPU ms/req "
            "| DB CPU ms/req |",
            "|---|--:|--:|--:|--:|",
        ]
        for d in deep:
            lines.append(
                f"| {d['deep']} / {d['first']} | {_fmt(d['rps_ratio'], 3)} "
                f"| {_fmt(d['p50_ratio'], 3)} | {_fmt(d.get('cpu_ratio'), 3)} "
                f"| {_fmt(d.get('db_cpu_ratio'), 3)} |"
            )
    lines += ["", "Queries:", ""]
    for name, text in run["queries"].items():
        lines.append(f"- `{name}`: `{text}`")
    return "\n".join(lines) + "\n"


def peers_table(run: dict[str, Any]) -> list[str]:
    """``scripts/bench --peers``: per workload and concurrency, the gateway's row then
    each peer's, with gateway/peer (above 1: the gateway is ahead) and the statements
    each target sends to PostgreSQL per request."""
    rows = [r for r in run["results"] if r.get("peers")]
    if not rows:
        return []
    meta = run["meta"].get("peers") or {}
    who = "; ".join(
        f"{name}: {t['label']} {t['packages'].get('postgraphile', '?')}, {t['processes']} "
        f"Node {t['node']} processes"
        for name, t in meta.get("targets", {}).items()
    )
    lines = [
        "",
        f"Against the peers ({who}); same requests, data checked equal before load, "
        "order rotated between workloads.",
        "",
        "| query | c | target | rps | gateway/target | ratio to floor | p50 ms | p99 ms "
        "| p99/p50 | CPU ms/req | DB CPU ms/req | statements/req at the wire | errors |",
        "|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        floor_rps = r["floor"]["rps"]
        wire = r.get("wire_statements_per_request", {})
        targets = [
            ("gateway", r, None),
            *((n, p, r["ratio_to_peer"].get(n)) for n, p in r["peers"].items()),
        ]
        for name, t, versus in targets:
            tail = t["p99_ms"] / t["p50_ms"] if t.get("p50_ms") else None
            to_floor = t["rps"] / floor_rps if floor_rps else None
            lines.append(
                f"| {r['query']} | {r['concurrency']} | {name} | {_fmt(t['rps'])} "
                f"| {_fmt(versus, 3)} | {_fmt(to_floor, 3)} | {_fmt(t['p50_ms'])} "
                f"| {_fmt(t['p99_ms'])} | {_fmt(tail)} | {_fmt(t['cpu_ms_per_request'], 2)} "
                f"| {_fmt(t['db_cpu_ms_per_request'], 2)} | {_fmt(wire.get(name), 2)} "
                f"| {t['errors']} |"
            )
    documents = meta.get("documents") or {}
    if documents:
        lines += ["", "The peers' documents:", ""]
        lines += [f"- `{name}`: `{text}`" for name, text in documents.items()]
    skipped = meta.get("skipped") or {}
    if skipped:
        lines += [
            "",
            "Not measured against the peers: "
            + "; ".join(f"{k} ({v})" for k, v in skipped.items()),
        ]
    return lines


def previous_runs(current: Path) -> list[tuple[Path, dict[str, Any]]]:
    runs = []
    for path in sorted(RESULTS.glob("*/results.json")):
        if path.parent == current:
            continue
        try:
            run = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            continue
        if isinstance(run, dict) and "results" in run:  # not an adversarial run
            runs.append((path, run))
    return runs


def _key(r: dict[str, Any]) -> tuple[str, int]:
    return r["query"], r["concurrency"]


def comparison(run: dict[str, Any], previous: dict[str, Any], title: str) -> list[str]:
    before = {_key(r): r for r in previous["results"]}
    lines = [title]
    for r in run["results"]:
        old = before.get(_key(r))
        if old is None:
            continue
        delta = (r["rps"] / old["rps"] - 1) * 100 if old["rps"] else 0.0
        ratio = ""
        if r["ratio_to_floor"] is not None and old.get("ratio_to_floor") is not None:
            ratio = f"   ratio {old['ratio_to_floor']:.3f} → {r['ratio_to_floor']:.3f}"
        cpu = ""
        if old.get("cpu_ms_per_request") and r["cpu_ms_per_request"]:
            cpu = f"   CPU ms/req {old['cpu_ms_per_request']:.2f} → {r['cpu_ms_per_request']:.2f}"
        sql = ""
        if old.get("sql_per_request") != r["sql_per_request"]:
            sql = f"   SQL/req {old.get('sql_per_request')} → {r['sql_per_request']}"
        lines.append(
            f"  {r['query']:<26} c={r['concurrency']:<3} rps {old['rps']:8.1f} → "
            f"{r['rps']:8.1f} ({delta:+6.1f} %){ratio}{cpu}{sql}"
        )
    return lines


def _code(run: dict[str, Any]) -> str:
    git = run["meta"]["git"]
    return str(git["commit"]) + ("+dirty" if git["dirty"] else "")


def _title(run: dict[str, Any], prev: dict[str, Any], path: Path, what: str) -> str:
    mode = "quick" if prev["meta"]["quick"] else "full"
    note = ""
    if _code(run) != _code(prev):
        note = f" [code {_code(prev)} → {_code(run)}]"
    elif run["meta"]["git"]["dirty"]:
        note = " [uncommitted changes: the code may differ]"
    return f"==> {what} {path.parent.name} ({mode}){note}"


def compare_with_previous(run: dict[str, Any], here: Path) -> list[str]:
    scale = run["meta"]["scale"]
    runs = previous_runs(here)
    same = [(p, r) for p, r in runs if r["meta"]["scale"] == scale]
    lines: list[str] = []
    if same:
        path, prev = same[-1]
        what = f"compared with the previous scale-{scale} run"
        lines += comparison(run, prev, _title(run, prev, path, what))
    else:
        lines.append(f"==> no previous scale-{scale} run to compare with")
    if scale != 1:
        ones = [(p, r) for p, r in runs if r["meta"]["scale"] == 1]
        if ones:
            path, prev = ones[-1]
            what = f"growth: this {scale}x run against the 1x run"
            lines += comparison(run, prev, _title(run, prev, path, what))
    return lines


# --------------------------------------------------------------------------- adversarial


def _counts(counts: dict[str, int] | None, limit: int = 4) -> str:
    if not counts:
        return "-"
    items = list(counts.items())
    text = ", ".join(f"{k} {v}" for k, v in items[:limit])
    return text + (f", +{len(items) - limit}" if len(items) > limit else "")


def _verdict(ok: bool | None) -> str:
    return {True: "pass", False: "**FAIL**", None: "n/a"}[ok]


def adversarial_markdown(run: dict[str, Any]) -> str:
    """The table of ``scripts/bench --adversarial`` (results.md)."""
    meta = run["meta"]
    git = meta.get("git", {})
    lines = [
        f"# Adversarial benchmark {meta['timestamp']}",
        "",
        f"scale {meta['scale']}, {'quick' if meta['quick'] else 'full'} run; legitimate load "
        f"wrk c={meta['legit_concurrency']} (members page + viewer query, 1:1), "
        f"{meta['duration_s']} s after {meta['warmup_s']} s warm-up; "
        f"{meta['attacker_connections']} attacker connections; {meta['workers']} workers; "
        f"commit {git.get('commit')}{' (dirty)' if git.get('dirty') else ''}; gateway DB role "
        f"`{meta.get('gateway_db_role', '-')}`; load average at start {meta['loadavg']}; "
        f"{meta.get('elapsed_s', '-')} s.",
        "",
    ]
    if meta.get("edge"):
        from benchmark.edge import summary_line

        lines += [summary_line(meta["edge"]), ""]
    probe = run.get("probe", {})
    users = [
        f"{name} {p['users']} users (cost {_fmt(p.get('cost_per_request'))}, "
        f"{_fmt(meta.get('legit_points_per_user_per_s', {}).get(name), 2)} points/s each)"
        for name, p in probe.items()
        if isinstance(p, dict) and "users" in p
    ]
    if users:
        lines += [
            "Legitimate users: " + "; ".join(users) + f" (restore "
            f"{_fmt(meta.get('legit_restore_per_s'))} points/s per user).",
            "",
        ]
    lines += ["| target | value | threshold | verdict | note |", "|---|--:|---|---|---|"]
    for t in run.get("targets", []):
        lines.append(
            f"| {t['name']} | {_fmt(t['value'], 3)} | {t['target']} | {_verdict(t['pass'])} "
            f"| {t['note']} |"
        )
    lines += [
        "",
        "| legitimate load | rps | p50 ms | p95 ms | p99 ms | errors | 429 | 503 "
        "| gateway CPU ms/legit req (attack incl.) | gateway cores | attacker cores | other load (cores) "
        "| hostile requests meanwhile |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for name, r in run.get("legit", {}).items():
        c = r["cores"]
        lines.append(
            f"| {name} | {_fmt(r['rps'])} | {_fmt(r['p50_ms'])} | {_fmt(r['p95_ms'])} "
            f"| {_fmt(r['p99_ms'])} | {r['errors']} | {_fmt(r.get('status_429'))} "
            f"| {_fmt(r.get('status_503'))} | {_fmt(r['server_cpu_ms_per_request'], 2)} "
            f"| {_fmt(c['server'])} | {_fmt(c['attackers'])} | {_fmt(c['other'])} "
            f"| {_fmt(r.get('hostile_sent_during_measurement'))} |"
        )
    lines += [
        "",
        "| hostile kind | under attack: sent | statuses | codes | client errors "
        "| est. gateway cores | alone: sent | statuses | codes | client errors | p50 ms "
        "| max ms | CPU ms/req | DB CPU ms/req |",
        "|---|--:|---|---|---|--:|--:|---|---|---|--:|--:|--:|--:|",
    ]
    for name, k in run.get("kinds", {}).items():
        mixed, alone = k.get("under_attack", {}), k.get("alone", {})
        lines.append(
            f"| {name} | {_fmt(mixed.get('sent'))} | {_counts(mixed.get('statuses'))} "
            f"| {_counts(mixed.get('codes'))} | {_counts(mixed.get('client_errors'))} "
            f"| {_fmt(k.get('est_gateway_cores_under_attack'), 2)} | {_fmt(alone.get('sent'))} "
            f"| {_counts(alone.get('statuses'))} | {_counts(alone.get('codes'))} "
            f"| {_counts(alone.get('client_errors'))} | {_fmt(alone.get('p50_ms'))} "
            f"| {_fmt(alone.get('max_ms'))} | {_fmt(alone.get('cpu_ms_per_request'), 2)} "
            f"| {_fmt(alone.get('db_cpu_ms_per_request'), 2)} |"
        )
    memory = run.get("memory")
    if memory:
        per_worker = ", ".join(
            f"{memory['rss_before_mib'].get(p)} → {memory['rss_after_mib'].get(p)}"
            for p in memory["rss_before_mib"]
        )
        lines += [
            "",
            f"Memory: {memory['sent']} distinct documents with valid tokens in "
            f"{memory['sending_s']} s ({_counts(memory.get('statuses'))}; "
            f"{_counts(memory.get('codes'))}; {_fmt(memory.get('cpu_ms_per_request'), 2)} "
            f"gateway CPU ms each): RSS MiB per worker {per_worker}; largest growth "
            f"{_fmt(memory.get('max_growth_mib'))} MiB. RSS by documents sent: "
            + "; ".join(
                f"{n}: {', '.join(map(str, v))}"
                for n, v in memory.get("rss_by_documents_mib", {}).items()
            )
            + ".",
        ]
    lines += ["", "Hostile kinds:", ""]
    for name, k in run.get("kinds", {}).items():
        extra = ""
        alone = k.get("alone", {})
        if alone.get("body_bytes_sent_max") is not None:
            extra = (
                " Body bytes written before the answer/close (socket buffers included): "
                f"at most {alone['body_bytes_sent_max']:,}."
            )
        if alone.get("retry_after"):
            extra += f" Retry-After seen: {', '.join(alone['retry_after'])}."
        lines.append(
            f"- `{name}`: {k.get('description', '')}; expected: {k.get('expected', '')}.{extra}"
        )
    log_info = run.get("gateway_log") or {}
    if log_info.get("tracebacks") or log_info.get("error_lines"):
        lines += [
            "",
            f"Gateway log: {log_info.get('tracebacks')} tracebacks, "
            f"{log_info.get('error_lines')} ERROR lines; most frequent:",
            "",
        ]
        lines += [f"- {n} x `{text}`" for text, n in log_info.get("exceptions", {}).items()]
    timeline = run.get("rss_after_phase_mib")
    if timeline:
        steps = "; ".join(f"{phase} {', '.join(map(str, v))}" for phase, v in timeline.items())
        lines += ["", f"Resident memory per worker (MiB) after each phase: {steps}."]
    if run.get("worker_restarts"):
        lines += ["", f"Worker changes: {run['worker_restarts']}"]
    if run.get("errors"):
        lines += ["", "Errors of the run:", ""] + [f"- {e}" for e in run["errors"]]
    return "\n".join(lines) + "\n"
