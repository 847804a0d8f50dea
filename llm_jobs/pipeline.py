r"""The Beam pipeline of one LLM job; every stage runs in the workers:

    input shards -> rows -> render -> look up --cached answers-------------> judged --> shards
                              ^          \--misses-> RunInference -> judge -/     |
                              +---------------- invalid: next round, next seed ---+

Workers read the prompt inputs shard by shard, render each row's request, and look its key up in
the cache (`ResponseCache.lookup`, in batches). A cached answer is judged at once; a cached
invalid one sends the row to its next attempt's key, still in the lookup. Misses go through
`RunInference` (the handler commits every engine batch to the cache) and are judged; invalid rows
go round again with the next seed, up to `max_attempts`. Final outcomes -- accepted records, the
step's output rows, rejects -- are written as Parquet shards; the counts are Beam counters
(`llm_jobs.metrics`). Nothing is grouped, merged or gathered, so the whole job is one fused stage
and the driver holds no request and no response: on the DirectRunner (in-process or
multi-processing) as on a remote runner whose workers write to an object-store warehouse.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.ml.inference.base import PredictionResult, RunInference
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.runner import PipelineResult

from llm_jobs.cache import ResponseCache, is_fresh
from llm_jobs.cache_key import request_key
from llm_jobs.config import LLMJobConfig
from llm_jobs.engines.base import Completion
from llm_jobs.handler import Batching, EngineFactory, LLMModelHandler, RowRequest
from llm_jobs.metrics import count
from llm_jobs.parquet_io import write_parquet_atomic
from llm_jobs.progress import advance
from llm_jobs.task import HALLUCINATED_ID, UNPARSEABLE, Task, failure_kind
from storage.warehouse import Warehouse

Row = dict[str, Any]
#: (input row, validated output with its derived fields) -> the output rows of that input row.
ToRows = Callable[[Row, Row], Iterable[Row]]

#: Rows read from an input shard at a time, and keys looked up in the cache at a time.
READ_BATCH = 1024
LOOKUP_BATCH = 512
#: Rows a worker buffers before writing them as one output shard.
ROWS_PER_SHARD = 20_000
_FINAL = "final"


@dataclass(frozen=True)
class Outputs:
    """Where the job's workers write, and the schemas they write."""

    accepted: str
    accepted_schema: pa.Schema
    rejects: str
    rejects_schema: pa.Schema
    step_rows: str | None = None  # with `to_rows`
    step_schema: pa.Schema | None = None
    to_rows: ToRows | None = None


@dataclass(frozen=True)
class JobPlan:
    """Everything the workers need, pickled to them once."""

    task: Task
    engine_factory: EngineFactory
    model_id: str
    run_id: str
    warehouse: Warehouse
    cache: ResponseCache
    config: LLMJobConfig
    batching: Batching
    refusals_since: datetime  # cached refusals stored before this are sent again
    input_rows: int  # for the progress bar


def _read_shard(path: str, warehouse: Warehouse) -> Iterator[Row]:
    with warehouse.fs.open_input_file(path) as source:
        for batch in pq.ParquetFile(source).iter_batches(batch_size=READ_BATCH):
            yield from batch.to_pylist()


def _render_attempt(pair: tuple[Row, int], plan: JobPlan) -> RowRequest:
    return _render(*pair, plan)


def _render(row: Row, attempt: int, plan: JobPlan) -> RowRequest:
    request = plan.task.render(row, seed_offset=attempt)
    return RowRequest(row, attempt, request_key(plan.model_id, plan.task.name, plan.task.version, request), request)


@dataclass(frozen=True, slots=True)
class Judged:
    element: RowRequest
    output: str | None  # the validated output as JSON
    raw_text: str | None = None
    error: str | None = None
    failure: str | None = None  # task.failure_kind of the error, "engine" for a refusal


def _judge(element: RowRequest, completion: Completion, task: Task) -> Judged:
    if completion.error is not None:
        judged = Judged(element, None, "", completion.error, "engine")
    else:
        try:
            judged = Judged(element, task.accept(completion, element.row))
        except ValueError as exc:  # pydantic's ValidationError included
            judged = Judged(element, None, completion.text, str(exc), failure_kind(exc))
    count("answers")
    count("unparseable", judged.failure == UNPARSEABLE)
    count("hallucinated_ids", judged.failure == HALLUCINATED_ID)
    return judged


def _is_final(judged: Judged, plan: JobPlan) -> bool:
    """Accepted, or rejected for good: no attempt is left."""
    return judged.output is not None or judged.element.attempt + 1 >= plan.config.max_attempts


class _LookUp(beam.DoFn):
    """Answers what the cache holds: a row whose cached answer is invalid is looked up again at its
    next attempt, until an answer is valid (out tagged `final`), the attempts run out (`final`,
    rejected), or a key is missing or a stale refusal (out to the engine, at that attempt)."""

    def __init__(self, plan: JobPlan, first_round: bool) -> None:
        self._plan = plan
        self._progress = first_round and plan.config.progress

    def setup(self) -> None:
        self._cache = self._plan.cache  # unpickled per worker: its file index is the worker's own

    def process(self, batch: Sequence[RowRequest]) -> Iterator:
        answered = 0
        pending = list(batch)
        while pending:
            found = self._cache.lookup({element.key for element in pending})
            again = []
            for element in pending:
                entry = found.get(element.key)
                if entry is None or not is_fresh(entry, self._plan.refusals_since):
                    yield element
                    continue
                count("cache_hits")
                judged = _judge(element, entry.completion, self._plan.task)
                if _is_final(judged, self._plan):
                    answered += 1
                    yield beam.pvalue.TaggedOutput(_FINAL, judged)
                else:
                    again.append(_render(element.row, element.attempt + 1, self._plan))
            pending = again
        if self._progress and answered:
            advance(self._plan.run_id, self._plan.task.name, self._plan.input_rows, answered)


def _judge_answer(result: PredictionResult, plan: JobPlan) -> Iterator:
    judged = _judge(result.example, result.inference, plan.task)
    if _is_final(judged, plan):
        yield beam.pvalue.TaggedOutput(_FINAL, judged)
    else:
        yield (judged.element.row, judged.element.attempt + 1)


class _ShardBuffer:
    """Rows as Parquet shards of `directory`: one per `ROWS_PER_SHARD` rows, and one at a bundle's end."""

    def __init__(self, warehouse: Warehouse, directory: str, schema: pa.Schema, counter: str | None = None) -> None:
        self._warehouse, self._directory, self._schema, self._counter = warehouse, directory, schema, counter

    def start_bundle(self) -> None:
        self._rows: list[Row] = []

    def process(self, row: Row) -> None:
        self._rows.append(row)
        if len(self._rows) >= ROWS_PER_SHARD:
            self._flush()

    def finish_bundle(self) -> None:
        self._flush()

    def _flush(self) -> None:
        if not self._rows:
            return
        table = pa.Table.from_pylist(self._rows, schema=self._schema)
        write_parquet_atomic(self._warehouse, f"{self._directory}/part-{uuid.uuid4().hex}.parquet", table)
        if self._counter:
            count(self._counter, table.num_rows)
        self._rows = []


class _WriteOutcomes(beam.DoFn):
    """Final outcomes: an accepted answer's record (and, with `to_rows`, its output rows), or a
    rejected row's record with its last raw text and error."""

    def __init__(self, plan: JobPlan, outputs: Outputs) -> None:
        wh = plan.warehouse
        self._plan, self._to_rows = plan, outputs.to_rows
        self._accepted = _ShardBuffer(wh, outputs.accepted, outputs.accepted_schema, "accepted")
        self._rejects = _ShardBuffer(wh, outputs.rejects, outputs.rejects_schema, "rejected")
        self._step_rows = _ShardBuffer(wh, outputs.step_rows, outputs.step_schema) if outputs.to_rows else None

    def _writers(self) -> list[_ShardBuffer]:
        return [w for w in (self._accepted, self._rejects, self._step_rows) if w is not None]

    def start_bundle(self) -> None:
        for writer in self._writers():
            writer.start_bundle()

    def process(self, judged: Judged) -> None:
        element = judged.element
        record = {column: element.row[column] for column in self._plan.task.key_columns}
        common = {
            "model_id": self._plan.model_id,
            "task_version": self._plan.task.version,
            "attempts": element.attempt + 1,
        }
        if judged.output is None:
            self._rejects.process(
                record | common | {"raw_text": judged.raw_text, "error": judged.error, "failure": judged.failure}
            )
            return
        self._accepted.process(record | common | {"output": judged.output})
        if self._step_rows is not None:
            for row in self._to_rows(element.row, json.loads(judged.output)):
                self._step_rows.process(row)

    def finish_bundle(self) -> None:
        for writer in self._writers():
            writer.finish_bundle()


def _round(requests: beam.PCollection, plan: JobPlan, outputs: Outputs, number: int) -> beam.PCollection:
    """One round over (row, attempt) pairs: render, look up, generate the misses, judge, write the
    final outcomes. Returns the (row, next attempt) pairs whose answers were invalid.

    Beam's runners materialize a Flatten, so the two streams of final outcomes (cached, generated)
    are written by writers of their own instead of being merged."""
    label = f"Round{number}"
    handler = LLMModelHandler(
        plan.engine_factory,
        plan.cache,
        plan.model_id,
        plan.task.version,
        plan.run_id,
        plan.batching,
        plan.config,
        progress_total=plan.input_rows if number == 0 else None,
    )
    looked_up = (
        requests
        | f"{label}Render" >> beam.Map(_render_attempt, plan)
        | f"{label}BatchKeys" >> beam.BatchElements(min_batch_size=LOOKUP_BATCH, max_batch_size=LOOKUP_BATCH)
        | f"{label}LookUp" >> beam.ParDo(_LookUp(plan, first_round=number == 0)).with_outputs(_FINAL, main="miss")
    )
    judged = (
        looked_up.miss
        | f"{label}Generate" >> RunInference(handler)
        | f"{label}Judge" >> beam.FlatMap(_judge_answer, plan).with_outputs(_FINAL, main="retry")
    )
    _ = looked_up[_FINAL] | f"{label}WriteCached" >> beam.ParDo(_WriteOutcomes(plan, outputs))
    _ = judged[_FINAL] | f"{label}WriteGenerated" >> beam.ParDo(_WriteOutcomes(plan, outputs))
    return judged.retry


def run_pipeline(plan: JobPlan, shards: Sequence[str], outputs: Outputs) -> PipelineResult:
    """Run the job's pipeline to the end; raises what a worker raised."""
    options = PipelineOptions.from_dictionary({"runner": plan.config.runner, **plan.config.pipeline_options})
    pipeline = beam.Pipeline(options=options)
    requests = (
        pipeline
        | "Shards" >> beam.Create(shards)
        | "Read" >> beam.FlatMap(_read_shard, plan.warehouse)
        | "FirstAttempt" >> beam.Map(lambda row: (row, 0))
    )
    # A row's attempt grows by at least one a round, so max_attempts rounds answer every row.
    for number in range(plan.config.max_attempts):
        requests = _round(requests, plan, outputs, number)
    result = pipeline.run()
    result.wait_until_finish()
    return result
