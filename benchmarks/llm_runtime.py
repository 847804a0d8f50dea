"""The LLM runtime's own cost: seconds per request and driver memory at 10k, 100k and 1M requests.

The task is the tests' demo picks task (tests/support/llm_job_support.py: a review and 10 candidate
ids in, up to 2 picks out). The engine is `InstantScriptedEngine` (tests/support/instant_engine.py):
it answers every request at once with one scripted, valid answer, so the whole wall time of a job is the runtime's own --
reading input shards, rendering, cache keys and lookups, Beam, RunInference batching, committing
each batch to the cache, validation and the output shards. It measures the runtime only; no task's
correctness is tested with it.

Each size runs in a fresh child process on the in-process DirectRunner, where the driver *is* the
worker: its RSS is sampled every 20 ms, and the growth over the process's RSS before the job
(imports done, engine built, one warm-up job run) is what the job costs in memory. Goals: at most
1 ms per request, and driver memory flat within 100 MiB from 10k to 1M requests.

After the big job the child also times, against the cache that job filled: the compaction of its
committed batches into the sorted buckets, a job of 10k new requests, and a rerun of 10k requests
the cache answers. They show what a later night pays for the cache's size.

    python benchmarks/llm_runtime.py [--sizes 10000 100000 1000000] [--batch-size 256]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere
sys.path.insert(0, str(ROOT / "tests"))  # the instant engine lives with the test instrumentation

from benchmarks._report import machine

RESULTS = Path(__file__).parent / "results" / "llm_runtime.json"
WORK = Path(__file__).parent / "work" / "llm_runtime"
GOAL_MS_PER_REQUEST = 1.0
GOAL_FLAT_MIB = 100
PARTITION = "2024-03-01"
SMALL = 10_000
_ANSWER = '{"picks": ["c0"], "reason": "fits the review"}'
_REVIEWS = [
    "Sturdy, arrived on time, and the colour matches the photos. Would order again.",
    "The instructions were missing but the thing works. Battery life is so-so.",
    "Great gift for my father, he uses it every day in the garden.",
]


def _inputs(n: int, offset: int):
    import pyarrow as pa

    ids = range(offset, offset + n)
    return pa.table(
        {
            "user_id": [f"u{i}" for i in ids],
            "review": [_REVIEWS[i % len(_REVIEWS)] + f" (order {i})" for i in ids],
            "candidates": [["c0"] + [f"c{(i * 7 + j) % 997 + 1}" for j in range(9)] for i in ids],
        }
    )


class _Rss:
    """Peak VmRSS of this process, sampled every 20 ms."""

    def __init__(self) -> None:
        self.peak_kib, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def now_kib() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_kib = max(self.peak_kib, self.now_kib())

    def __enter__(self) -> _Rss:
        self.peak_kib = self.now_kib()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


_DAYS = (PARTITION, "2024-03-02", "2024-03-03")


def _write_inputs(n: int, work: Path) -> None:
    """In a process of its own, so the measured one starts without the inputs' allocations."""
    from support.llm_job_support import picks_task

    from llm_jobs.inputs import write_prompt_inputs
    from storage.warehouse import Warehouse

    wh = Warehouse(str(work / "warehouse"))
    for day, (rows, offset) in zip(_DAYS, ((n, 0), (SMALL, n), (SMALL, 0))):
        write_prompt_inputs(wh, _inputs(rows, offset), picks_task().name, day)


def _child(n: int, batch_size: int, work: Path, out: Path) -> None:
    from support.instant_engine import InstantScripted
    from support.llm_job_support import picks_task

    from llm_jobs.cache import ResponseCache
    from llm_jobs.cache_compaction import compact
    from llm_jobs.config import LLMJobConfig
    from llm_jobs.inputs import PromptInputs, prompt_inputs_path
    from llm_jobs.job import run_llm_job
    from storage.warehouse import Warehouse

    task, engine = picks_task(), InstantScripted(_ANSWER, batch_size)
    config = LLMJobConfig(progress=False)
    warm = Warehouse(str(work / "warm"))
    run_llm_job(task, _inputs(100, 0), engine, warm, PARTITION, config)  # imports, first pipeline

    wh = Warehouse(str(work / "warehouse"))
    inputs, later, cached = (PromptInputs(prompt_inputs_path(wh, task.name, day)) for day in _DAYS)
    gc.collect()
    with _Rss() as rss:
        baseline = rss.now_kib()
        started = time.perf_counter()
        job = run_llm_job(task, inputs, engine, wh, PARTITION, config)
        seconds = time.perf_counter() - started
    assert (job.requests_sent, job.accepted) == (n, n), job
    cache = ResponseCache(wh, task.name)
    batches = len(cache.pending_batches())
    started = time.perf_counter()
    compact(cache, config)
    compaction_s = time.perf_counter() - started
    started = time.perf_counter()
    new = run_llm_job(task, later, engine, wh, "2024-03-02", config)
    new_s = time.perf_counter() - started
    started = time.perf_counter()
    rerun = run_llm_job(task, cached, engine, wh, "2024-03-03", config)
    rerun_s = time.perf_counter() - started
    assert (new.requests_sent, rerun.cache_hits, rerun.requests_sent) == (SMALL, SMALL, 0)
    out.write_text(
        json.dumps(
            {
                "requests": n,
                "seconds": round(seconds, 2),
                "ms_per_request": round(1000 * seconds / n, 4),
                "driver_rss_before_mib": round(baseline / 1024),
                "driver_rss_peak_mib": round(rss.peak_kib / 1024),
                "driver_rss_growth_mib": round((rss.peak_kib - baseline) / 1024),
                "cache_batches": batches,
                "compaction_s": round(compaction_s, 2),
                f"new_{SMALL}_after_s": round(new_s, 2),
                f"cached_{SMALL}_rerun_s": round(rerun_s, 2),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--batch-size", type=int, default=256, help="requests per engine call")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--write-inputs", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_inputs:
        _write_inputs(args.write_inputs, WORK / str(args.write_inputs))
        return
    if args.child:
        _child(args.child, args.batch_size, WORK / str(args.child), args.out)
        return
    rows = []
    for n in args.sizes:
        shutil.rmtree(WORK / str(n), ignore_errors=True)
        (WORK / str(n)).mkdir(parents=True)
        out = WORK / f"{n}.json"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
        subprocess.run([sys.executable, __file__, "--write-inputs", str(n)], check=True, env=env)
        cmd = [sys.executable, __file__, "--child", str(n), "--batch-size", str(args.batch_size), "--out", str(out)]
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
        rows.append(json.loads(out.read_text()))
        shutil.rmtree(WORK / str(n))
        print(json.dumps(rows[-1]), flush=True)
    growth = max(r["driver_rss_peak_mib"] for r in rows) - min(r["driver_rss_peak_mib"] for r in rows)
    worst_ms = max(r["ms_per_request"] for r in rows)
    result = {
        "benchmark": "llm_runtime",
        "engine": "InstantScriptedEngine (measures the runtime only)",
        "runner": "DirectRunner, in-process (the driver is the worker)",
        "batch_size": args.batch_size,
        "sizes": rows,
        "worst_ms_per_request": worst_ms,
        "driver_peak_spread_mib": growth,
        "goals": {
            f"ms_per_request <= {GOAL_MS_PER_REQUEST}": worst_ms <= GOAL_MS_PER_REQUEST,
            f"driver peak within {GOAL_FLAT_MIB} MiB across sizes": growth <= GOAL_FLAT_MIB,
        },
        "machine": machine(("apache-beam", "pyarrow", "pydantic")),
    }
    print(f"\n{'requests':>10} {'s':>8} {'ms/req':>8} {'rss before':>11} {'rss peak':>9} {'growth':>7}")
    for r in rows:
        print(
            f"{r['requests']:>10} {r['seconds']:>8} {r['ms_per_request']:>8} {r['driver_rss_before_mib']:>11} "
            f"{r['driver_rss_peak_mib']:>9} {r['driver_rss_growth_mib']:>7}"
        )
    print(f"goals: {result['goals']}")
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
