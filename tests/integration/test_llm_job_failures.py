"""run_llm_job when things go wrong: invalid outputs, a reject rate over the limit, a dead engine,
a job killed mid-run. The real embedded model throughout; only the engine fault is injected."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from support import TESTS
from support.llm_job_support import PARTITION, FailingOnBatch, picks_task, review_rows, sent

from llm_jobs.accounting import runs_dir
from llm_jobs.cache import ResponseCache
from llm_jobs.config import LLMJobConfig
from llm_jobs.engines.base import EngineError
from llm_jobs.job import RejectRateExceeded, run_llm_job
from llm_jobs.parquet_io import committed_files
from storage.warehouse import Warehouse

ONE_PER_BATCH = LLMJobConfig(min_batch_size=1, max_batch_size=1, progress=False)


def test_cut_outputs_are_retried_then_rejected(tmp_path, counting):
    warehouse = Warehouse(str(tmp_path))
    rows = review_rows(3)
    # Four tokens cannot hold the JSON object the grammar starts, so every attempt is cut short.
    task = picks_task(max_tokens=4)
    tolerant = LLMJobConfig(max_attempts=3, max_reject_rate=1.0, progress=False)
    before = sent(counting)

    result = run_llm_job(task, rows, counting, warehouse, PARTITION, tolerant)

    assert (result.accepted, result.rejected, result.reject_rate) == (0, 3, 1.0)
    # Every attempt asks with another seed, so each is a request of its own.
    assert result.requests_sent == 9 == sent(counting) - before
    rejects = pq.read_table(result.rejects_path).to_pylist()
    assert sorted(r["user_id"] for r in rejects) == ["u0", "u1", "u2"]
    for reject in rejects:
        assert reject["attempts"] == 3
        assert reject["raw_text"].startswith("{") and reject["raw_text"] != ""
        assert "Invalid JSON" in reject["error"]
    assert pq.read_table(result.output_path).num_rows == 0

    with pytest.raises(RejectRateExceeded) as raised:
        run_llm_job(task, rows, counting, warehouse, PARTITION, LLMJobConfig(progress=False))

    message = str(raised.value)
    assert "task demo_picks" in message and "3 of 3 rows rejected (100%)" in message
    assert "max_reject_rate 20%" in message and result.rejects_path in message
    # The failing run still wrote its rejects and its run record, from the cache alone.
    assert pq.read_table(result.rejects_path).num_rows == 3
    runs = pq.read_table(runs_dir(warehouse)).to_pylist()
    assert sorted((r["rejected"], r["requests_sent"], r["cache_hits"]) for r in runs) == [(3, 0, 9), (3, 9, 0)]


def test_engine_error_fails_fast_and_keeps_committed_batches(tmp_path, counting):
    warehouse = Warehouse(str(tmp_path))
    rows = review_rows(3)

    with pytest.raises(EngineError, match="injected fault: server went away on batch 2"):
        run_llm_job(picks_task(), rows, FailingOnBatch(2, tag=str(tmp_path)), warehouse, PARTITION, ONE_PER_BATCH)

    assert ResponseCache(warehouse, "demo_picks").entries().num_rows == 1
    assert not warehouse.exists(warehouse.table_path("llm", "demo_picks", PARTITION))
    resumed = run_llm_job(picks_task(), rows, counting, warehouse, PARTITION, ONE_PER_BATCH)
    assert (resumed.requests_sent, resumed.cache_hits, resumed.accepted) == (2, 1, 3)


_JOB_SCRIPT = """
import sys
from support.llm_job_support import PARTITION, EmbeddedEngine, picks_task, review_rows
from storage.warehouse import Warehouse
from llm_jobs.config import LLMJobConfig
from llm_jobs.job import run_llm_job
config = LLMJobConfig(min_batch_size=1, max_batch_size=1, progress=False)
run_llm_job(picks_task(), review_rows(6), EmbeddedEngine(), Warehouse(sys.argv[1]), PARTITION, config)
"""


def test_killed_job_resumes_from_committed_batches(tmp_path, counting):
    warehouse = Warehouse(str(tmp_path / "warehouse"))
    cache_dir = ResponseCache(warehouse, "demo_picks").directory
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    job = subprocess.Popen(
        [sys.executable, "-c", _JOB_SCRIPT, warehouse.root],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not committed_files(warehouse, cache_dir):
        assert job.poll() is None, "the job ended before committing a batch"
        assert time.monotonic() < deadline, "no batch committed within 120 s"
        time.sleep(0.02)
    job.send_signal(signal.SIGKILL)
    job.wait()

    committed = ResponseCache(warehouse, "demo_picks").entries().num_rows
    assert 1 <= committed < 6, "the kill must land mid-run"
    # A kill during a write leaves a temp file like this one (the kill above rarely lands there).
    Path(cache_dir, ".batch-torn.parquet.tmp-0").write_bytes(b"PAR1 torn")
    before = sent(counting)
    result = run_llm_job(picks_task(), review_rows(6), counting, warehouse, PARTITION, ONE_PER_BATCH)

    assert result.requests_sent == 6 - committed == sent(counting) - before
    assert result.cache_hits == committed
    user_ids = pq.read_table(result.output_path).column("user_id").to_pylist()
    assert sorted(user_ids) == [f"u{i}" for i in range(6)]


def test_a_row_too_long_for_the_context_is_rejected_and_the_job_goes_on(tmp_path, counting):
    rows = review_rows(2)
    # The cap lets a ~9,000-token review through, beyond the embedded engine's 4,096-token context.
    task = dataclasses.replace(picks_task(), untrusted_columns={"review": 60_000})
    rows.append({"user_id": "u_long", "review": "great magazine " * 3000, "candidates": ["i_a", "i_b"]})
    tolerant = LLMJobConfig(max_attempts=2, max_reject_rate=0.5, progress=False)

    result = run_llm_job(task, rows, counting, Warehouse(str(tmp_path)), PARTITION, tolerant)

    assert (result.accepted, result.rejected) == (2, 1)
    (reject,) = pq.read_table(result.rejects_path).to_pylist()
    assert reject["user_id"] == "u_long" and reject["attempts"] == 2 and reject["raw_text"] == ""
    assert "context" in reject["error"].lower() or "exceed" in reject["error"].lower()
    assert sorted(pq.read_table(result.output_path)["user_id"].to_pylist()) == ["u0", "u1"]
