"""LLM jobs under faults of the engine and the cache: refusals that must not be cached forever,
error bodies that echo credentials, a torn cache batch, a dead or stalled server.

Answers come from the real llama.cpp server (`llama_server`) or the embedded model; the faults
come from `fault_server.FaultyFakeServer`, a fake in front of the real server, because a real
server cannot be made to refuse with a chosen status, echo headers or stall on demand.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from support.fault_server import FaultyFakeServer
from support.llm_job_support import PARTITION, FailingOnBatch, picks_task, review_rows, sent

from dagster_project import cli
from llm_jobs.accounting import runs_dir
from llm_jobs.cache import ResponseCache, quarantine_dir
from llm_jobs.config import LLMJobConfig
from llm_jobs.engines import build_engine
from llm_jobs.engines.base import Engine, EngineError
from llm_jobs.job import run_llm_job
from llm_jobs.parquet_io import committed_files
from storage.warehouse import Warehouse

# Every test here talks to the embedded model, some through engines built in the test body.
pytestmark = pytest.mark.llm

SECRET = "sk-fault-test-do-not-leak-0042"
KEY_ENV = "RECAUG_FAULT_TEST_API_KEY"
ONCE = LLMJobConfig(max_attempts=1, max_reject_rate=1.0, progress=False)


def _once(**changes) -> LLMJobConfig:
    return LLMJobConfig.model_validate(ONCE.model_dump() | changes)


@dataclass(frozen=True)
class OpenAIAt:
    """The OpenAI engine on `base_url`, as configuration would build it (llama.cpp's server dialect)."""

    base_url: str
    options: tuple[tuple[str, float], ...] = ()

    def __call__(self) -> Engine:
        return build_engine("openai", base_url=self.base_url, model="smollm2", api_key_env=KEY_ENV,
                            structured_output="json_object", **dict(self.options))  # fmt: skip


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)


def _string_values(path: str) -> list[str]:
    table = pq.read_table(path)
    return [v for column in table.columns if column.type == "string" for v in column.to_pylist() if v]


# --- case 5: refusals ----------------------------------------------------------------------------


def test_a_cached_refusal_is_sent_again_once_old_or_with_retry_refused(tmp_path, llama_server):
    warehouse, rows = Warehouse(str(tmp_path)), review_rows(2)
    with FaultyFakeServer(llama_server.base_url, mode="refuse") as server:
        engine = OpenAIAt(server.base_url)
        refused = run_llm_job(picks_task(), rows, engine, warehouse, PARTITION, ONCE)
        assert (refused.requests_sent, refused.rejected) == (2, 2)
        cached = ResponseCache(warehouse, "demo_picks").entries()
        assert set(cached["refusal"].to_pylist()) == {"http_413"}

        server.mode = "forward"  # the server is fixed
        fresh = run_llm_job(picks_task(), rows, engine, warehouse, PARTITION, ONCE)
        assert (fresh.requests_sent, fresh.cache_hits) == (0, 2)  # a refusal younger than the age still answers

        resent = run_llm_job(picks_task(), rows, engine, warehouse, PARTITION, _once(retry_refused=True))
        assert resent.requests_sent == 2
        assert resent.accepted >= 1
        assert all(r["failure"] != "engine" for r in pq.read_table(resent.rejects_path).to_pylist())

        # The answers now stand for those keys, newest first: nothing is sent again.
        again = run_llm_job(picks_task(), rows, engine, warehouse, PARTITION, ONCE)
        assert (again.requests_sent, again.accepted) == (0, resent.accepted)

        server.mode = "refuse"
        aged = run_llm_job(picks_task(), review_rows(3)[2:], engine, warehouse, PARTITION, ONCE)
        assert aged.requests_sent == 1
        server.mode = "forward"
        expired = run_llm_job(
            picks_task(), review_rows(3)[2:], engine, warehouse, PARTITION, _once(refusal_max_age_s=0)
        )
        assert expired.requests_sent == 1 and expired.rejected + expired.accepted == 1
        assert len(server.received) == 1 + 2 + 2 + 1 + 1  # the health check, then the jobs' requests


def test_error_bodies_are_stored_truncated_and_redacted_and_never_print_the_key(tmp_path):
    warehouse = Warehouse(str(tmp_path))
    with FaultyFakeServer(mode="refuse") as server:
        result = run_llm_job(picks_task(), review_rows(2), OpenAIAt(server.base_url), warehouse, PARTITION, ONCE)
        assert result.rejected == 2
        # The fake echoed the request headers, the Bearer key among them.
        assert all(headers["Authorization"] == f"Bearer {SECRET}" for headers, _ in server.received)

        server.refuse_status = 401
        engine = OpenAIAt(server.base_url, (("max_retries", 0),))()
        with pytest.raises(EngineError, match="HTTP 401") as failure:
            engine.generate([picks_task().render(review_rows(1)[0])])
        engine.close()

    assert SECRET not in str(failure.value) and "[REDACTED]" in str(failure.value)
    stored = [*committed_files(warehouse, ResponseCache(warehouse, "demo_picks").directory), result.rejects_path]
    errors = [value for path in stored for value in _string_values(path)]
    assert any("request too large" in value for value in errors)
    assert not any(SECRET in value or "Bearer sk-" in value for value in errors)
    assert max(len(e) for e in errors if "HTTP 413" in e) <= 300


# --- case 6: an unreadable cache batch -----------------------------------------------------------


def test_a_truncated_cache_batch_is_quarantined_and_its_requests_sent_again(tmp_path, counting):
    warehouse, rows = Warehouse(str(tmp_path)), review_rows(3)
    one_per_batch = _once(max_batch_size=1)
    run_llm_job(picks_task(), rows, counting, warehouse, PARTITION, one_per_batch)
    cache_dir = ResponseCache(warehouse, "demo_picks").directory
    torn = Path(committed_files(warehouse, cache_dir)[0])
    torn.write_bytes(torn.read_bytes()[: torn.stat().st_size // 2])
    before = sent(counting)

    rerun = run_llm_job(picks_task(), rows, counting, warehouse, PARTITION, one_per_batch)

    assert (rerun.requests_sent, rerun.cache_hits, rerun.cache_quarantined) == (1, 2, 1)
    assert sent(counting) - before == 1 and rerun.accepted + rerun.rejected == 3
    assert not torn.exists() and Path(quarantine_dir(warehouse, "demo_picks"), torn.name).exists()
    records = pq.read_table(runs_dir(warehouse)).sort_by("started_at").to_pylist()
    assert [r["cache_quarantined"] for r in records] == [0, 1]
    third = run_llm_job(picks_task(), rows, counting, warehouse, PARTITION, one_per_batch)
    assert (third.requests_sent, third.cache_quarantined) == (0, 0)


# --- case 7: a dead or stalled engine ------------------------------------------------------------


def test_a_stalled_server_fails_the_health_check_in_seconds(tmp_path):
    with FaultyFakeServer(mode="stall") as server:
        # Every other setting at its default: 60 s per attempt, 4 retries (about 313 s before).
        engine = OpenAIAt(server.base_url, (("health_timeout_s", 2),))
        start = time.monotonic()
        with pytest.raises(EngineError, match="health check") as failure:
            run_llm_job(picks_task(), review_rows(3), engine, Warehouse(str(tmp_path)), PARTITION, ONCE)
        elapsed = time.monotonic() - start
        assert len(server.received) == 1  # one tiny request, nothing of the job
    assert server.base_url in str(failure.value) and "timed out" in str(failure.value)
    assert elapsed < 6


def test_a_server_stalling_mid_batch_costs_the_deadline_and_keeps_the_answers(tmp_path, llama_server):
    warehouse, rows = Warehouse(str(tmp_path)), review_rows(4)
    one_batch = _once(max_batch_size=8)
    with FaultyFakeServer(llama_server.base_url) as server:
        server.stall_after = 3  # the health check and two requests are answered, then it hangs
        engine = OpenAIAt(server.base_url, (("concurrency", 1), ("deadline_s", 10)))
        start = time.monotonic()
        with pytest.raises(EngineError, match="deadline of 10 s") as failure:
            run_llm_job(picks_task(), rows, engine, warehouse, PARTITION, one_batch)
        stalled_for = time.monotonic() - start
        assert "the 2 responses committed before the failure stay cached" in str(failure.value)
        assert ResponseCache(warehouse, "demo_picks").entries().num_rows == 2

        server.stall_after = None
        resumed = run_llm_job(picks_task(), rows, engine, warehouse, PARTITION, one_batch)
    assert (resumed.requests_sent, resumed.cache_hits) == (2, 2)
    assert stalled_for < 60  # two real answers plus one 10 s deadline; ~313 s for the stalled request before


def test_the_engine_budget_stops_the_run_between_batches(tmp_path, counting):
    warehouse = Warehouse(str(tmp_path))
    fresh_ledger = FailingOnBatch(fail_on_batch=0, tag=f"budget-{tmp_path}")  # never fails; its own clock
    tight = _once(max_batch_size=1, engine_budget_s=1e-6)
    with pytest.raises(EngineError, match="engine_budget_s=1e-06"):
        run_llm_job(picks_task(), review_rows(3), fresh_ledger, warehouse, PARTITION, tight)
    assert ResponseCache(warehouse, "demo_picks").entries().num_rows == 1


def _csv_source(tmp_path) -> list[str]:
    path = tmp_path / "table" / "log.csv"
    path.parent.mkdir()
    path.write_text("uid,sku,time\nu1,i1,1700000000\nu1,i2,1700000100\n")
    maps = ["--map", "user_id=uid", "--map", "item_id=sku", "--map", "ts=time"]
    return ["--source", str(path.parent), "--format", "table", *maps, "--partition", "2024-12-31"]


def test_recaug_run_picks_the_engine_from_flags_and_checks_it_before_any_asset(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    warehouse = tmp_path / "wh"
    with FaultyFakeServer(mode="stall") as server:
        args = ["run", *_csv_source(tmp_path), "--warehouse", str(warehouse)]
        start = time.monotonic()
        result = CliRunner().invoke(cli.main, [*args, "--engine", "openai", "--base-url", server.base_url,
                                               "--model", "m"])  # fmt: skip
        elapsed = time.monotonic() - start
    assert result.exit_code == 1, result.output
    assert f"LLM engine openai: engine health check: a one-token request to {server.base_url}" in result.output
    assert "Authorization" not in result.output
    # The default 10 s health timeout plus the CLI's start; no asset ran.
    assert elapsed < 25 and not warehouse.exists()


def test_recaug_run_picks_the_engine_from_the_environment(tmp_path, monkeypatch, llama_server):
    passed = {}
    monkeypatch.setattr(cli, "_run_pipeline", lambda partition, warehouse, **kw: passed.update(kw))
    monkeypatch.setattr(cli, "_print_published", lambda warehouse: None)
    monkeypatch.setenv("RECAUG_ENGINE", "openai")
    monkeypatch.setenv("RECAUG_BASE_URL", llama_server.base_url)
    monkeypatch.setenv("RECAUG_MODEL", "smollm2")

    result = CliRunner().invoke(cli.main, ["run", *_csv_source(tmp_path), "--warehouse", str(tmp_path / "wh"),
                                           "--retry-refused"])  # fmt: skip

    assert result.exit_code == 0, result.output  # the health check passed against the real server
    llm = passed["llm"]
    assert (llm.kind, llm.base_url, llm.model) == ("openai", llama_server.base_url, "smollm2")
    assert llm.job_config().retry_refused
