"""One LLM step of an augmentation method: input rows -> a `Task` -> typed output rows.

A step pairs a task (what is asked of each input row) with `to_rows` (what each accepted answer
becomes), as Bespoke Curator pairs a prompt with a parse. `run_step` runs every step of every
method: the job, then each accepted output parsed once and handed with its input row to `to_rows`.
Steps chain: one step's output rows may be the next step's input rows (the ReaSeq agents).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from llm_jobs.accounting import JobResult
from llm_jobs.config import LLMJobConfig
from llm_jobs.handler import EngineFactory
from llm_jobs.job import run_llm_job
from llm_jobs.parquet_io import read_parquet
from llm_jobs.task import Task
from storage.warehouse import Warehouse

Row = dict[str, Any]
#: (input row, validated output with its derived fields) -> the output rows of that input row.
ToRows = Callable[[Row, Row], Iterable[Row]]


@dataclass(frozen=True)
class LLMStep:
    task: Task
    to_rows: ToRows
    schema: pa.Schema  # of the output rows


@dataclass(frozen=True)
class StepRun:
    rows: pa.Table  # the step's output rows, input rows in order; rejected inputs have none
    job: JobResult


def parsed_outputs(accepted: pa.Table, key_columns: Sequence[str]) -> list[tuple[Row, Row]]:
    """A job's accepted rows (key columns and `output` JSON) as (key values, parsed output), in order."""
    keys = accepted.select(list(key_columns)).to_pylist()
    return [(key, json.loads(output)) for key, output in zip(keys, accepted["output"].to_pylist())]


def accepted_outputs(warehouse: Warehouse, job: JobResult, key_columns: Sequence[str]) -> list[tuple[Row, Row]]:
    """The accepted outputs `job` wrote, parsed (`parsed_outputs`)."""
    return parsed_outputs(read_parquet(warehouse, job.output_path), key_columns)


def _with_inputs(task: Task, inputs: Iterable[Row], outputs: Iterable[tuple[Row, Row]]) -> Iterator[tuple[Row, Row]]:
    """Each output beside its input row. A job writes its accepted rows in input order, so each
    output's row is the next input row with its key values (rows between them were rejected)."""
    remaining = iter(inputs)
    for key, output in outputs:
        row = next((row for row in remaining if all(row[c] == v for c, v in key.items())), None)
        if row is None:
            raise ValueError(f"task {task.name}: the accepted output of {key} matches no input row after the last")
        yield row, output


def step_rows(step: LLMStep, inputs: Iterable[Row], outputs: Iterable[tuple[Row, Row]]) -> pa.Table:
    """`step.to_rows` over every (input row, output) pair, as a table of `step.schema`."""
    rows = [out for row, output in _with_inputs(step.task, inputs, outputs) for out in step.to_rows(row, output)]
    return pa.Table.from_pylist(rows, schema=step.schema)


def run_step(
    step: LLMStep,
    rows: pa.Table,
    engine_factory: EngineFactory,
    warehouse: Warehouse,
    partition: str,
    config: LLMJobConfig,
) -> StepRun:
    """The step's job over `rows`, and the output rows of its accepted answers."""
    job = run_llm_job(step.task, rows, engine_factory, warehouse, partition, config)
    outputs = accepted_outputs(warehouse, job, step.task.key_columns)
    return StepRun(step_rows(step, rows.to_pylist(), outputs), job)
