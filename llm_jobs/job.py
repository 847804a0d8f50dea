"""Run one task over a partition's rows: render, skip what the cache holds, generate through Beam,
validate, retry invalid rows with new seeds, write accepted rows, rejects and the run record.

A cached refusal answers its request only while it is younger than `refusal_max_age_s` and, with
`retry_refused`, only when this run stored it. The engine is health-checked before the first request
this process sends it (`handler.checked_engine`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from llm_jobs.accounting import JobResult, write_run
from llm_jobs.cache import ResponseCache, is_fresh, now_utc
from llm_jobs.cache_key import request_key
from llm_jobs.config import LLMJobConfig
from llm_jobs.engines.base import Completion, EngineError
from llm_jobs.handler import EngineFactory, KeyedRequest, LLMModelHandler, checked_engine, shared_engine
from llm_jobs.outputs import accepted_path, rejects_path, write_partition
from llm_jobs.pipeline import send_requests
from llm_jobs.task import HALLUCINATED_ID, UNPARSEABLE, Task, failure_kind
from storage.warehouse import Warehouse


class RejectRateExceeded(RuntimeError):
    """More rows than the configured share failed validation after all their attempts."""


@dataclass
class _Outcome:
    attempts: int
    output: str | None = None  # the validated output as JSON
    raw_text: str | None = None
    error: str | None = None
    failure: str | None = None  # task.failure_kind of the error, "engine" for an engine error


@dataclass
class _Tally:
    requests_sent: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # Over every attempt: answers judged, and those that were not JSON or named a non-candidate id.
    answers: int = 0
    unparseable: int = 0
    hallucinated_ids: int = 0

    def judged(self, outcome: _Outcome) -> None:
        self.answers += 1
        self.unparseable += outcome.failure == UNPARSEABLE
        self.hallucinated_ids += outcome.failure == HALLUCINATED_ID


def _engine_failure(task: Task, model_id: str, exc: Exception, committed: int) -> EngineError:
    # Beam re-raises a worker's error wrapped in its own; the outermost EngineError in the chain (or
    # else the innermost cause) holds the engine's message.
    root = exc
    while root.__cause__ is not None and not isinstance(root, EngineError):
        root = root.__cause__
    return EngineError(
        f"task {task.name}: generating with {model_id} failed: {root}; "
        f"the {committed} responses committed before the failure stay cached"
    )


def _refusals_since(config: LLMJobConfig, started_at: datetime) -> datetime:
    """Cached refusals stored before this moment are sent again."""
    aged = now_utc() - timedelta(seconds=config.refusal_max_age_s)
    return max(aged, started_at) if config.retry_refused else aged


def _generate(
    task: Task,
    keyed: Mapping[int, KeyedRequest],
    cache: ResponseCache,
    engine_factory: EngineFactory,
    model_id: str,
    config: LLMJobConfig,
    tally: _Tally,
    started_at: datetime,
) -> dict:
    """Responses for every row of `keyed`, sending only the requests the cache does not answer."""
    cached = cache.load()
    since = _refusals_since(config, started_at)
    to_send = {key: request for key, request in keyed.values() if key not in cached or not is_fresh(cached[key], since)}
    tally.cache_hits += sum(1 for key, _ in keyed.values() if key not in to_send)
    if to_send:
        before = sum(1 for entry in cached.values() if entry.created_at >= started_at)
        handler = LLMModelHandler(engine_factory, cache, model_id, task.version, len(to_send), config)
        try:
            checked_engine(engine_factory)
            send_requests(list(to_send.items()), handler, config)
        except Exception as exc:
            committed = sum(1 for entry in cache.load().values() if entry.created_at >= started_at) - before
            raise _engine_failure(task, model_id, exc, committed) from exc
        cached = cache.load()
        tally.requests_sent += len(to_send)
        tally.prompt_tokens += sum(cached[key].completion.prompt_tokens for key in to_send)
        tally.completion_tokens += sum(cached[key].completion.completion_tokens for key in to_send)
    return {index: cached[key] for index, (key, _) in keyed.items()}


def _judge(task: Task, row: dict[str, Any], completion: Completion, attempts: int) -> _Outcome:
    if completion.error is not None:
        return _Outcome(attempts, raw_text="", error=completion.error, failure="engine")
    try:
        return _Outcome(attempts, output=task.accept(completion, row))
    except ValueError as exc:  # pydantic's ValidationError included
        return _Outcome(attempts, raw_text=completion.text, error=str(exc), failure=failure_kind(exc))


def _validate_with_retries(
    task: Task,
    rows: list[dict[str, Any]],
    cache: ResponseCache,
    engine_factory: EngineFactory,
    model_id: str,
    config: LLMJobConfig,
    tally: _Tally,
    started_at: datetime,
) -> dict[int, _Outcome]:
    outcomes: dict[int, _Outcome] = {}
    pending = list(range(len(rows)))
    for attempt in range(config.max_attempts):
        keyed = {}
        for index in pending:
            request = task.render(rows[index], seed_offset=attempt)
            keyed[index] = (request_key(model_id, task.name, task.version, request), request)
        responses = _generate(task, keyed, cache, engine_factory, model_id, config, tally, started_at)
        still_invalid = []
        for index in pending:
            outcomes[index] = _judge(task, rows[index], responses[index].completion, attempt + 1)
            tally.judged(outcomes[index])
            if outcomes[index].output is None:
                still_invalid.append(index)
        pending = still_invalid
        if not pending:
            break
    return outcomes


def _write_outputs(
    warehouse: Warehouse, task: Task, partition: str, keys: pa.Table, outcomes: dict[int, _Outcome], model_id: str
) -> tuple[str, str, int]:
    good = [i for i in sorted(outcomes) if outcomes[i].output is not None]
    bad = [i for i in sorted(outcomes) if outcomes[i].output is None]
    common = {"model_id": pa.string(), "task_version": pa.string(), "attempts": pa.int32()}
    out, rej = accepted_path(warehouse, task.name, partition), rejects_path(warehouse, task.name, partition)
    for final, indices, fields in (
        (out, good, {"output": pa.string()}),
        (rej, bad, {"raw_text": pa.string(), "error": pa.string(), "failure": pa.string()}),
    ):
        columns = {name: [getattr(outcomes[i], name) for i in indices] for name in fields}
        columns |= {
            "model_id": [model_id] * len(indices),
            "task_version": [task.version] * len(indices),
            "attempts": [outcomes[i].attempts for i in indices],
        }
        write_partition(warehouse, final, keys.take(pa.array(indices, pa.int64())), columns, fields | common)
    return out, rej, len(bad)


def run_llm_job(
    task: Task,
    rows: list[dict[str, Any]] | pa.Table,
    engine_factory: EngineFactory,
    warehouse: Warehouse,
    partition: str,
    config: LLMJobConfig = LLMJobConfig(),
) -> JobResult:
    started_at, clock = now_utc(), time.perf_counter()
    table = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows)
    model_id = shared_engine(engine_factory).model_id
    cache = ResponseCache(warehouse, task.name)
    tally = _Tally()
    outcomes = _validate_with_retries(
        task, table.to_pylist(), cache, engine_factory, model_id, config, tally, started_at
    )
    keys = table.select(list(task.key_columns))
    output_path, rejects_dir, rejected = _write_outputs(warehouse, task, partition, keys, outcomes, model_id)
    wall = time.perf_counter() - clock
    result = JobResult(
        run_id=uuid.uuid4().hex,
        task=task.name,
        task_version=task.version,
        model_id=model_id,
        partition=partition,
        rows=table.num_rows,
        requests_sent=tally.requests_sent,
        cache_hits=tally.cache_hits,
        cache_quarantined=len(cache.quarantined),
        prompt_tokens=tally.prompt_tokens,
        completion_tokens=tally.completion_tokens,
        wall_seconds=wall,
        output_tokens_per_second=tally.completion_tokens / wall if wall > 0 else 0.0,
        accepted=table.num_rows - rejected,
        rejected=rejected,
        reject_rate=rejected / table.num_rows if table.num_rows else 0.0,
        answers=tally.answers,
        unparseable=tally.unparseable,
        hallucinated_ids=tally.hallucinated_ids,
        runner=config.runner,
        started_at=started_at,
        output_path=output_path,
        rejects_path=rejects_dir,
    )
    write_run(warehouse, result)
    if result.reject_rate > config.max_reject_rate:
        raise RejectRateExceeded(
            f"task {task.name} v{task.version}, partition {partition}: {rejected} of {result.rows} rows "
            f"rejected ({result.reject_rate:.0%}), above max_reject_rate {config.max_reject_rate:.0%}; "
            f"raw outputs and validation errors are in {rejects_dir}"
        )
    return result
