"""One LLM step of an augmentation method: input rows -> a `Task` -> typed output rows.

A step pairs a task (what is asked of each input row) with `to_rows` (what each accepted answer
becomes), as Bespoke Curator pairs a prompt with a parse. `run_step` runs every step of every
method: the job, whose workers hand each accepted output, parsed once, with its input row to
`to_rows` and write what it returns.
Steps chain: one step's output rows may be the next step's input rows (the ReaSeq agents).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from llm_jobs.accounting import JobResult
from llm_jobs.config import LLMJobConfig
from llm_jobs.handler import EngineFactory
from llm_jobs.inputs import PromptInputs
from llm_jobs.job import run_llm_job
from llm_jobs.outputs import step_rows_path
from llm_jobs.parquet_io import read_parquet
from llm_jobs.pipeline import Row, ToRows
from llm_jobs.task import Task
from storage.warehouse import Warehouse


@dataclass(frozen=True)
class LLMStep:
    task: Task
    to_rows: ToRows
    schema: pa.Schema  # of the output rows


@dataclass(frozen=True)
class StepRun:
    rows: pa.Table  # the step's output rows, sorted by the task's key columns; rejected inputs have none
    job: JobResult


def parsed_outputs(accepted: pa.Table, key_columns: Sequence[str]) -> list[tuple[Row, Row]]:
    """A job's accepted rows (key columns and `output` JSON) as (key values, parsed output)."""
    keys = accepted.select(list(key_columns)).to_pylist()
    return [(key, json.loads(output)) for key, output in zip(keys, accepted["output"].to_pylist())]


def accepted_outputs(warehouse: Warehouse, job: JobResult, key_columns: Sequence[str]) -> list[tuple[Row, Row]]:
    """The accepted outputs `job` wrote, parsed (`parsed_outputs`)."""
    return parsed_outputs(read_parquet(warehouse, job.output_path), key_columns)


def run_step(
    step: LLMStep,
    rows: pa.Table | PromptInputs,
    engine_factory: EngineFactory,
    warehouse: Warehouse,
    partition: str,
    config: LLMJobConfig,
) -> StepRun:
    """The step's job over `rows`; its workers turn each accepted answer into output rows. Those
    rows are sized by the prompts, not by the data: they come back as a table."""
    job = run_llm_job(step.task, rows, engine_factory, warehouse, partition, config, step.to_rows, step.schema)
    output = read_parquet(warehouse, step_rows_path(warehouse, step.task.name, partition))
    keys = [key for key in step.task.key_columns if key in output.column_names]
    return StepRun(output.sort_by([(key, "ascending") for key in keys]), job)
