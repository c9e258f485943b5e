"""Instructions per request of the gateway's own process, counted by valgrind: the
measure to compare two versions of the code on a machine whose speed moves between
runs (timing there cannot resolve a step of a few per cent; instruction counts do not
depend on the machine's speed).

    python -m benchmark.instructions RESULTS_DIR/inputs/sqlcount-input.json --only members

Runs ``benchmark.inproc`` twice under ``valgrind --tool=callgrind``, with ``--rounds``
``LOW`` and ``HIGH`` (default 1 and 5), in parallel; the difference of the two counts,
divided by the extra requests, is the instructions per request: start-up, imports and
warm-up are the same in both runs and cancel out. Run it with the gateway's
environment, as ``benchmark.inproc`` (``benchmark.config.BenchConfig.gateway_env``),
from the checkout to measure (its bytecode is compiled first, so neither run compiles
it). Under valgrind a request runs about fifty times slower: the request, pool and
statement timeouts are lifted and Redis is given time to answer, so that no run takes
a path a normal one would not. Counts cover the whole process (the in-process client
included), not PostgreSQL; the event loop's iterations still depend on how the
requests in flight interleave with the database, so differences under about 2 % are
noise.
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson

COLLECTED = re.compile(r"Collected : (\d+)")
SLOW_RUN = {
    "PYTHONHASHSEED": "0",
    "REDIS_TIMEOUT_SECONDS": "5",
    "REQUEST_TIMEOUT_SECONDS": "600",
    "DB_POOL_TIMEOUT_SECONDS": "600",
    "DB_STATEMENT_TIMEOUT_MS": "0",
}


def count(input_path: Path, workload: str, rounds: int, out: Path) -> subprocess.Popen[str]:
    argv = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        sys.executable,
        "-m",
        "benchmark.inproc",
        str(input_path),
        "--rounds",
        str(rounds),
        "--only",
        workload,
    ]
    env = {**os.environ, **SLOW_RUN}
    return subprocess.Popen(  # noqa: S603 (fixed argv)
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def collected(process: subprocess.Popen[str], rounds: int) -> int:
    output, _ = process.communicate()
    found = COLLECTED.findall(output)
    if process.returncode != 0 or not found:
        tail = "\n".join(output.splitlines()[-15:])
        raise SystemExit(f"the run with --rounds {rounds} failed:\n{tail}")
    return int(found[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("input", type=Path)
    parser.add_argument("--only", required=True, help="one workload of the input")
    parser.add_argument("--low", type=int, default=1, help="rounds of the shorter run")
    parser.add_argument("--high", type=int, default=5, help="rounds of the longer run")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind not found (Debian: apt-get install valgrind)")
    if args.high <= args.low:
        raise SystemExit("--high must be more rounds than --low")
    if not Path("app/main.py").is_file():
        raise SystemExit("run it from the checkout to measure (app/ and scripts/ here)")
    requests = orjson.loads(args.input.read_bytes()).get(args.only)
    if not requests:
        raise SystemExit(f"{args.input} holds no requests of {args.only!r}")
    for package in ("app", "scripts"):
        compileall.compile_dir(package, quiet=1)
    with tempfile.TemporaryDirectory() as scratch:
        runs = {
            rounds: count(args.input, args.only, rounds, Path(scratch) / f"callgrind.{rounds}")
            for rounds in (args.low, args.high)
        }
        low, high = (collected(runs[r], r) for r in (args.low, args.high))
    per_request = (high - low) / ((args.high - args.low) * len(requests))
    print(f"{args.only:<16} {per_request / 1e6:8.3f} M instructions/request")


if __name__ == "__main__":
    main()
