"""The LLM job on Beam's DirectRunner in multi-processing mode: two worker processes read the input
shards, call the real embedded model and write the outputs, sharing no state through the driver;
a kill mid-run loses at most the batches in flight; the driver's memory does not grow with the
number of requests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support import SUPPORT, TESTS
from support.instant_engine import InstantScripted
from support.llm_job_support import PARTITION, Ledger, picks_task, review_rows
from support.multi_process import TWO_WORKER_PROCESSES

from llm_jobs.cache import ResponseCache
from llm_jobs.inputs import write_prompt_inputs
from llm_jobs.job import run_llm_job
from storage.warehouse import Warehouse


@pytest.fixture(autouse=True)
def workers_import_the_test_support(monkeypatch):
    """Worker processes unpickle the tests' engine factories by module name."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))


def _inputs(warehouse: Warehouse, n: int = 6):
    return write_prompt_inputs(warehouse, pa.Table.from_pylist(review_rows(n)), "demo_picks", PARTITION, 3)


def test_two_worker_processes_run_the_whole_job_and_a_rerun_sends_nothing(tmp_path):
    warehouse, ledger = Warehouse(str(tmp_path / "warehouse")), Ledger(str(tmp_path / "ledger"))
    inputs = _inputs(warehouse)
    assert len(inputs.shards(warehouse)) == 2

    first = run_llm_job(picks_task(), inputs, ledger, warehouse, PARTITION, TWO_WORKER_PROCESSES)

    answered_by = ledger.answered_by()
    assert first.requests_sent == len(answered_by) >= 6
    assert len(set(answered_by)) == 2 and os.getpid() not in answered_by
    written = pq.read_table(first.output_path).to_pylist()
    rejected = pq.read_table(first.rejects_path).to_pylist()
    assert sorted(r["user_id"] for r in written + rejected) == [f"u{i}" for i in range(6)]
    assert len(written) == first.accepted >= 5
    candidates = {row["user_id"]: set(row["candidates"]) for row in review_rows(6)}
    for record in written:
        assert set(json.loads(record["output"])["picks"]) <= candidates[record["user_id"]]

    rerun = run_llm_job(picks_task(), inputs, ledger, warehouse, PARTITION, TWO_WORKER_PROCESSES)

    assert (rerun.requests_sent, rerun.cache_hits) == (0, first.answers)
    assert len(ledger.answered_by()) == len(answered_by)
    assert pq.read_table(rerun.output_path).sort_by("user_id") == pq.read_table(first.output_path).sort_by("user_id")


def test_a_job_killed_on_worker_processes_resumes_from_its_committed_batches(tmp_path):
    warehouse, ledger = Warehouse(str(tmp_path / "warehouse")), Ledger(str(tmp_path / "ledger"))
    cache = ResponseCache(warehouse, "demo_picks")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    job = subprocess.Popen(
        [sys.executable, str(SUPPORT / "job_child.py"), warehouse.root, ledger.path],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # the driver and its worker processes die together
    )
    deadline = time.monotonic() + 180
    while len(cache.pending_batches()) < 2:
        assert job.poll() is None, "the job ended before committing two batches"
        assert time.monotonic() < deadline, "no two batches committed within 180 s"
        time.sleep(0.02)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()

    committed = cache.entries().num_rows
    assert 2 <= committed < 6, "the kill must land mid-run"
    answered_before = len(ledger.answered_by())
    resumed = run_llm_job(picks_task(), _inputs(warehouse), ledger, warehouse, PARTITION, TWO_WORKER_PROCESSES)

    # Every committed response answers its row again; only the others reach the engine.
    assert resumed.cache_hits >= committed
    assert resumed.requests_sent == len(ledger.answered_by()) - answered_before == resumed.answers - resumed.cache_hits
    finished = pq.read_table(resumed.output_path).column("user_id").to_pylist()
    finished += pq.read_table(resumed.rejects_path).column("user_id").to_pylist()
    assert sorted(finished) == [f"u{i}" for i in range(6)]


def _driver_peak_mib(tmp_path: Path, n: int) -> float:
    warehouse = Warehouse(str(tmp_path / f"wh{n}"))
    rows = pa.table(
        {
            "user_id": [f"u{i}" for i in range(n)],
            "review": [f"Review number {i}: sturdy and on time." for i in range(n)],
            "candidates": [["c0", f"c{i}"] for i in range(n)],
        }
    )
    inputs = write_prompt_inputs(warehouse, rows, "demo_picks", PARTITION, rows_per_shard=max(1, n // 4))
    del rows
    config = TWO_WORKER_PROCESSES.model_copy(update={"max_batch_size": 256, "min_batch_size": 64})
    engine = InstantScripted('{"picks": ["c0"], "reason": "fits"}')
    tracemalloc.start()
    try:
        job = run_llm_job(picks_task(), inputs, engine, warehouse, PARTITION, config)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (job.requests_sent, job.accepted) == (n, n)
    return peak / 2**20


def test_the_drivers_memory_does_not_grow_with_the_number_of_requests(tmp_path):
    small, large = _driver_peak_mib(tmp_path, 1_000), _driver_peak_mib(tmp_path, 20_000)
    # 20,000 requests with their rows and answers are over 10 MiB; a driver holding them would show it.
    print(f"driver peak: {small:.2f} MiB at 1,000 requests, {large:.2f} MiB at 20,000")
    assert large - small < 2, f"driver peak {small:.1f} MiB at 1,000 requests, {large:.1f} MiB at 20,000"
