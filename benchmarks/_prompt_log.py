"""The prompts every LLM job of a run renders, recorded to explain which requests a later run re-sends.

`record_prompts(path)` wraps `llm_jobs.job.run_llm_job` so that each job first appends, per input
row, one JSON line: the task, its key column values, the cache key of the row's first request and
that request's user message. It must run before the asset modules import `run_llm_job` (they bind
the name at import); `read_prompt_log` returns the records, and a caller checks that every job of
the run appears (`jobs`), so a wrapper that was installed too late cannot go unnoticed.

Only the first attempt is recorded: retries are derived from it (another seed), so a row whose
first request is cached has its retries cached too.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pyarrow.parquet as pq

from llm_jobs import job as llm_job
from llm_jobs.cache_key import request_key
from llm_jobs.handler import shared_engine
from llm_jobs.inputs import PromptInputs


def record_prompts(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    run_llm_job = llm_job.run_llm_job

    def recording_run_llm_job(task, rows, engine_factory, warehouse, partition, *args, **kwargs):
        model_id = shared_engine(engine_factory).model_id
        if isinstance(rows, PromptInputs):  # a benchmark's prompts are few: read them whole
            table_rows = [
                r for shard in rows.shards(warehouse) for r in pq.read_table(shard, filesystem=warehouse.fs).to_pylist()
            ]
        else:
            table_rows = rows if isinstance(rows, list) else rows.to_pylist()
        job_id = uuid.uuid4().hex
        with open(path, "a") as log:
            for row in table_rows:
                request = task.render(row)
                record = {
                    "job": job_id,
                    "task": task.name,
                    "partition": partition,
                    "key": {column: row[column] for column in task.key_columns},
                    "request_key": request_key(model_id, task.name, task.version, request),
                    "user_message": request.messages[-1]["content"],
                }
                log.write(json.dumps(record) + "\n")
        return run_llm_job(task, rows, engine_factory, warehouse, partition, *args, **kwargs)

    llm_job.run_llm_job = recording_run_llm_job


def read_prompt_log(path: Path) -> list[dict]:
    with open(path) as log:
        return [json.loads(line) for line in log]
