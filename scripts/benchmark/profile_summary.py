"""Summarise a py-spy ``--format raw`` profile (collapsed stacks, one per line:
``frame;frame;...;leaf COUNT``): where the samples end (self time) by library and by
function, and which functions are on the stack most (inclusive time).

    python -m benchmark.profile_summary PROFILE.txt
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")

ROOT = str(Path(__file__).resolve().parents[2]) + "/"
RENAME = {"graphql": "graphql-core", "jwt": "pyjwt"}
# Leaves that are a thread blocked in a read or a wait: idle, whatever py-spy decided
# (e.g. uvicorn's supervisor ping thread in every worker).
IDLE_LEAVES = ("multiprocessing/connection.py", "threading.py", "selectors.py")


def _parse(frame: str) -> tuple[str, str]:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip(), ""
    return match["func"], match["file"]


def bucket(path: str) -> str:
    """The top-level package of a frame's file (py-spy prints paths relative to
    sys.path, e.g. ``strawberry/schema/schema_converter.py``; ours start with ``app/``)."""
    if not path:
        return "native/unknown"
    if path.startswith(ROOT):
        path = path[len(ROOT) :]
    elif "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    elif path.startswith("/"):
        path = path.rsplit("/", 1)[-1]
    top = path.split("/", 1)[0].removesuffix(".py")
    return RENAME.get(top, top)


def _short(func: str, path: str) -> str:
    return f"{func} ({path.split('site-packages/')[-1].removeprefix(ROOT)})"


# Frames every request passes through (process start, event loop, ASGI middleware):
# left out of the inclusive ranking, where they would only fill the top.
PLUMBING_BUCKETS = frozenset({"multiprocessing", "uvicorn", "starlette", "asyncio", "<string>"})


def _plumbing(func: str, path: str) -> bool:
    return bucket(path) in PLUMBING_BUCKETS and func != "gather"


def summarize(text: str, top: int = 25) -> str:
    total = idle = 0
    by_bucket: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    inclusive_bucket: Counter[str] = Counter()
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_parse(f) for f in stack.split(";") if f]
        if not frames:
            continue
        func, path = frames[-1]
        if path.endswith(IDLE_LEAVES):
            idle += count
            continue
        total += count
        by_bucket[bucket(path)] += count
        self_time[_short(func, path)] += count
        for name in {_short(f, p) for f, p in frames if not _plumbing(f, p)}:
            inclusive[name] += count
        for name in {bucket(p) for _, p in frames}:
            inclusive_bucket[name] += count
    if not total:
        return "no samples\n"

    def pct(n: int) -> str:
        return f"{100 * n / total:5.1f} %"

    out = [
        f"{total} samples on CPU ({idle} more of threads blocked in a read or wait were "
        "left out; py-spy does not sample the event loop's own idle waits)",
        "",
    ]
    out.append("self time by library (where the CPU was when sampled):")
    out += [f"  {pct(n)}  {name}" for name, n in by_bucket.most_common()]
    out += ["", "on the stack, by library (inclusive):"]
    out += [f"  {pct(n)}  {name}" for name, n in inclusive_bucket.most_common()]
    out += ["", f"top {top} functions by self time:"]
    out += [f"  {pct(n)}  {name}" for name, n in self_time.most_common(top)]
    out += [
        "",
        f"top {top} functions by inclusive time (process, event loop and ASGI frames left out):",
    ]
    out += [f"  {pct(n)}  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.stdout.write(summarize(Path(sys.argv[1]).read_text()))
