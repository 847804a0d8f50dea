"""run_llm_job on the real embedded model: valid outputs, caching across reruns and task versions."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
from support.llm_job_support import PARTITION, picks_task, review_rows, sent

from llm_jobs.accounting import runs_dir
from llm_jobs.cache import ResponseCache
from llm_jobs.config import LLMJobConfig
from llm_jobs.job import run_llm_job
from storage.warehouse import Warehouse

CONFIG = LLMJobConfig(min_batch_size=1, max_batch_size=2, progress=False)


def outputs(result) -> dict[str, dict]:
    table = pq.read_table(result.output_path)
    return {row["user_id"]: row for row in table.to_pylist()}


def test_outputs_parse_and_rerun_sends_nothing(tmp_path, counting):
    warehouse = Warehouse(str(tmp_path))
    rows = review_rows(4)
    before = sent(counting)

    first = run_llm_job(picks_task(), rows, counting, warehouse, PARTITION, CONFIG)

    assert (first.rows, first.accepted, first.rejected, first.cache_hits) == (4, 4, 0, 0)
    assert first.requests_sent == 4 == sent(counting) - before
    assert first.completion_tokens > 0 and first.output_tokens_per_second > 0
    written = outputs(first)
    assert set(written) == {row["user_id"] for row in rows}
    for row in rows:
        record = written[row["user_id"]]
        output = json.loads(record["output"])
        assert 1 <= len(output["picks"]) <= 2
        assert set(output["picks"]) <= set(row["candidates"])
        assert record["attempts"] == 1 and record["task_version"] == "1"
        assert record["model_id"] == first.model_id

    before = sent(counting)
    second = run_llm_job(picks_task(), rows, counting, warehouse, PARTITION, CONFIG)

    assert sent(counting) == before and second.requests_sent == 0
    assert second.cache_hits == 4 and second.completion_tokens == 0
    assert outputs(second) == written
    runs = pq.read_table(runs_dir(warehouse)).to_pylist()
    assert sorted(run["requests_sent"] for run in runs) == [0, 4]
    assert {run["run_id"] for run in runs} == {first.run_id, second.run_id}
    assert first.as_metadata()["requests_sent"] == 4


def test_version_bump_reprompts_only_that_task(tmp_path, counting):
    warehouse = Warehouse(str(tmp_path))
    rows = review_rows(3)
    run_llm_job(picks_task("picks_a"), rows, counting, warehouse, PARTITION, CONFIG)
    run_llm_job(picks_task("picks_b"), rows, counting, warehouse, PARTITION, CONFIG)
    b_cache = ResponseCache(warehouse, "picks_b").entries()

    before = sent(counting)
    bumped = run_llm_job(picks_task("picks_a", version="2"), rows, counting, warehouse, PARTITION, CONFIG)
    other = run_llm_job(picks_task("picks_b"), rows, counting, warehouse, PARTITION, CONFIG)

    assert bumped.requests_sent == 3 and bumped.cache_hits == 0
    assert other.requests_sent == 0 and other.cache_hits == 3
    assert sent(counting) - before == 3
    assert ResponseCache(warehouse, "picks_b").entries() == b_cache
    assert {r["task_version"] for r in outputs(bumped).values()} == {"2"}
    cached_a = ResponseCache(warehouse, "picks_a").entries()
    assert sorted(cached_a["task_version"].to_pylist()) == ["1"] * 3 + ["2"] * 3
