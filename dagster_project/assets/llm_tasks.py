"""Running an LLM task from an asset: the configured engine, the job, its accepted outputs and the
numbers the UI shows."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from dagster_project.llm_resource import LLMEngineResource
from llm_jobs.accounting import JobResult
from llm_jobs.handler import shared_engine
from llm_jobs.job import run_llm_job
from llm_jobs.task import Task
from storage.warehouse import Warehouse


def engine_has_logprobs(llm: LLMEngineResource) -> bool:
    """Whether the engine a task asking for log-probabilities gets returns them."""
    return shared_engine(llm.engine_factory(logprobs=True)).supports_logprobs


def run_task(
    llm: LLMEngineResource, wh: Warehouse, task: Task, rows: pa.Table, partition: str, logprobs: bool = False
) -> tuple[JobResult, pa.Table]:
    """Run `task` over `rows`; returns the job's record and its accepted outputs (key columns + output)."""
    result = run_llm_job(task, rows, llm.engine_factory(logprobs), wh, partition, llm.job_config())
    return result, pq.read_table(result.output_path, filesystem=wh.fs)


def job_metadata(result: JobResult) -> dict:
    """The job's counts, tokens and timings, prefixed by its task, for asset metadata."""
    return {f"{result.task}.{name}": value for name, value in result.summary().items()}
