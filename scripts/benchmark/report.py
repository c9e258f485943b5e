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


def previous_runs(current: Path) -> list[tuple[Path, dict[str, Any]]]:
    runs = []
    for path in sorted(RESULTS.glob("*/results.json")):
        if path.parent == current:
            continue
        try:
            runs.append((path, orjson.loads(path.read_bytes())))
        except (OSError, orjson.JSONDecodeError):
            continue
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
