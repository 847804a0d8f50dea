"""Run one task over a partition's prompt inputs: compact the cache, run the pipeline
(`llm_jobs.pipeline`), publish its output shards, and record the run.

The driver lists shards, reads footers and sums counters: it never holds a request or a response.
A cached refusal answers its request only while it is younger than `refusal_max_age_s` and, with
`retry_refused`, only when this run stored it. The engine is health-checked before the first
request a worker process sends it (`handler.checked_engine`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from llm_jobs.accounting import JobResult, write_run
from llm_jobs.cache import ResponseCache, now_utc
from llm_jobs.cache_compaction import compact
from llm_jobs.config import LLMJobConfig
from llm_jobs.engines.base import EngineError
from llm_jobs.handler import EngineFactory, batching, shared_engine
from llm_jobs.inputs import PromptInputs, write_prompt_inputs
from llm_jobs.metrics import job_counters
from llm_jobs.outputs import accepted_path, rejects_path, step_rows_path
from llm_jobs.pipeline import JobPlan, Outputs, ToRows, run_pipeline
from llm_jobs.task import Task
from storage.warehouse import Warehouse

_COMMON = [("model_id", pa.string()), ("task_version", pa.string()), ("attempts", pa.int32())]
_ACCEPTED = [("output", pa.string())]
_REJECTED = [("raw_text", pa.string()), ("error", pa.string()), ("failure", pa.string())]


class RejectRateExceeded(RuntimeError):
    """More rows than the configured share failed validation after all their attempts."""


def _engine_error_names(cls: type = EngineError) -> set[str]:
    return {cls.__name__}.union(*(_engine_error_names(sub) for sub in cls.__subclasses__()))


def _engine_error_in(exc: BaseException | None) -> BaseException | None:
    """The outermost engine error of the chain: Beam re-raises a worker's error wrapped in its own,
    and a worker in another process sends it back as text naming its class."""
    names = _engine_error_names()
    while exc is not None:
        if isinstance(exc, EngineError) or any(f"{name}:" in str(exc) for name in names):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _engine_failure(task: Task, model_id: str, exc: Exception, committed: int) -> EngineError:
    root = _engine_error_in(exc)
    return EngineError(
        f"task {task.name}: generating with {model_id} failed: {root}; "
        f"the {committed} responses committed before the failure stay cached"
    )


def _refusals_since(config: LLMJobConfig, started_at: datetime) -> datetime:
    """Cached refusals stored before this moment are sent again."""
    aged = now_utc() - timedelta(seconds=config.refusal_max_age_s)
    return max(aged, started_at) if config.retry_refused else aged


def _committed_by(cache: ResponseCache, run_id: str) -> int:
    """Responses the run `run_id` committed, from the footers of its batch files."""
    mine = [p for p in cache.pending_batches() if p.rsplit("/", 1)[1].startswith(f"batch-{run_id}-")]
    return sum(pq.ParquetFile(p, filesystem=cache.warehouse.fs).metadata.num_rows for p in mine)


def _schemas(task: Task, input_schema: pa.Schema) -> tuple[pa.Schema, pa.Schema]:
    keys = [input_schema.field(column) for column in task.key_columns]
    return pa.schema(keys + _ACCEPTED + _COMMON), pa.schema(keys + _REJECTED + _COMMON)


def _write_empty(warehouse: Warehouse, directory: str, schema: pa.Schema) -> None:
    """Every output partition holds its schema, however few rows the workers wrote."""
    pq.write_table(schema.empty_table(), f"{directory}/part-schema.parquet", filesystem=warehouse.fs)


def run_llm_job(
    task: Task,
    rows: PromptInputs | pa.Table | Sequence[dict[str, Any]],
    engine_factory: EngineFactory,
    warehouse: Warehouse,
    partition: str,
    config: LLMJobConfig | None = None,
    to_rows: ToRows | None = None,
    step_schema: pa.Schema | None = None,
) -> JobResult:
    """The job of `task` over `rows` (prompt inputs written by a Spark job, or a table written as
    such first). With `to_rows`, its workers also write each accepted answer's output rows, of
    `step_schema`, to `outputs.step_rows_path`."""
    config = config or LLMJobConfig()
    started_at, clock, run_id = now_utc(), time.perf_counter(), uuid.uuid4().hex
    if not isinstance(rows, PromptInputs):
        table = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(list(rows))
        rows = write_prompt_inputs(warehouse, table, task.name, partition)
    shards = rows.shards(warehouse)
    if not shards:
        raise ValueError(f"task {task.name}: the prompt inputs at {rows.path} hold no Parquet file")
    input_schema = pq.read_schema(shards[0], filesystem=warehouse.fs)
    engine = shared_engine(engine_factory)
    cache = ResponseCache(warehouse, task.name)
    quarantined = compact(cache, config)
    plan = JobPlan(
        task=task,
        engine_factory=engine_factory,
        model_id=engine.model_id,
        run_id=run_id,
        warehouse=warehouse,
        cache=cache,
        config=config,
        batching=batching(config, engine),
        refusals_since=_refusals_since(config, started_at),
        input_rows=rows.num_rows(warehouse),
    )
    accepted_schema, rejects_schema = _schemas(task, input_schema)
    accepted_final, rejects_final = (
        accepted_path(warehouse, task.name, partition),
        rejects_path(warehouse, task.name, partition),
    )
    try:
        with ExitStack() as stack:

            def staged(final: str, schema: pa.Schema) -> str:
                """A staging directory that replaces `final` when the job succeeds, holding the schema."""
                directory = stack.enter_context(warehouse.staged_dir(final))
                _write_empty(warehouse, directory, schema)
                return directory

            outputs = Outputs(
                staged(accepted_final, accepted_schema),
                accepted_schema,
                staged(rejects_final, rejects_schema),
                rejects_schema,
                staged(step_rows_path(warehouse, task.name, partition), step_schema) if to_rows else None,
                step_schema,
                to_rows,
            )
            counters = job_counters(run_pipeline(plan, shards, outputs))
    except Exception as exc:
        if _engine_error_in(exc) is None:
            raise
        raise _engine_failure(task, plan.model_id, exc, _committed_by(cache, run_id)) from exc
    wall = time.perf_counter() - clock
    rejected, accepted = counters["rejected"], counters["accepted"]
    total = plan.input_rows
    result = JobResult(
        run_id=run_id,
        task=task.name,
        task_version=task.version,
        model_id=plan.model_id,
        partition=partition,
        rows=total,
        requests_sent=counters["requests_sent"],
        cache_hits=counters["cache_hits"],
        cache_quarantined=quarantined + counters["cache_quarantined"],
        prompt_tokens=counters["prompt_tokens"],
        completion_tokens=counters["completion_tokens"],
        wall_seconds=wall,
        output_tokens_per_second=counters["completion_tokens"] / wall if wall > 0 else 0.0,
        accepted=accepted,
        rejected=rejected,
        reject_rate=rejected / total if total else 0.0,
        answers=counters["answers"],
        unparseable=counters["unparseable"],
        hallucinated_ids=counters["hallucinated_ids"],
        runner=config.runner,
        started_at=started_at,
        output_path=accepted_final,
        rejects_path=rejects_final,
    )
    write_run(warehouse, result)
    if result.reject_rate > config.max_reject_rate:
        raise RejectRateExceeded(
            f"task {task.name} v{task.version}, partition {partition}: {rejected} of {result.rows} rows "
            f"rejected ({result.reject_rate:.0%}), above max_reject_rate {config.max_reject_rate:.0%}; "
            f"raw outputs and validation errors are in {rejects_final}"
        )
    return result
