"""What the LLM augmentation assets share: a daily-partitioned asset of one warehouse table, a Spark
table built from others, an `LLMStep` run with the configured engine, and the job's numbers the UI
shows."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import dagster as dg
import pyarrow as pa
from pyspark.sql import DataFrame

from dagster_project.assets.table_io import asset_key, read_spark, write_spark
from dagster_project.llm_resource import LLMEngineResource
from dagster_project.partitions import daily_partitions
from dagster_project.resources import SparkResource
from llm_jobs.accounting import JobResult
from llm_jobs.handler import shared_engine
from llm_jobs.inputs import PromptInputs, prompt_inputs_path
from llm_jobs.step import LLMStep, StepRun, run_step
from llm_jobs.task import Task
from schemas.registry import TableSpec
from storage.warehouse import Warehouse


def daily_asset(
    table: TableSpec, group: str, deps: Sequence[TableSpec], description: str
) -> Callable[..., dg.AssetsDefinition]:
    """The decorator of the asset writing `table` daily, after the tables it reads (`deps`)."""
    return dg.asset(
        key=asset_key(table),
        group_name=group,
        deps=[asset_key(dep) for dep in deps],
        partitions_def=daily_partitions,
        description=description,
    )


def spark_table(
    spark: SparkResource,
    wh: Warehouse,
    partition: str,
    table: TableSpec,
    inputs: Sequence[TableSpec],
    build: Callable[..., DataFrame],
) -> tuple[str, DataFrame]:
    """Write `build(*inputs read with Spark)` as `table`; returns its path and the table as written."""
    path = write_spark(build(*(read_spark(spark.session, wh, t, partition) for t in inputs)), wh, table, partition)
    return path, spark.session.read.parquet(wh.to_uri(path))


def spark_prompt_inputs(df: DataFrame, wh: Warehouse, task: Task, partition: str) -> PromptInputs:
    """`df` (exactly the columns `task` renders and keys on) written with Spark as the task's prompt
    inputs for `partition`, replacing earlier ones atomically, in the order of its key columns."""
    path = prompt_inputs_path(wh, task.name, partition)
    with wh.staged_dir(path) as staging:
        df.orderBy(*task.key_columns).write.mode("overwrite").parquet(wh.to_uri(staging))
    return PromptInputs(path)


def engine_has_logprobs(llm: LLMEngineResource) -> bool:
    """Whether the engine a task asking for log-probabilities gets returns them."""
    return shared_engine(llm.engine_factory(logprobs=True)).supports_logprobs


def run_llm_step(
    llm: LLMEngineResource,
    wh: Warehouse,
    step: LLMStep,
    rows: pa.Table | PromptInputs,
    partition: str,
    logprobs: bool = False,
) -> StepRun:
    """`run_step` with the resource's engine and job settings."""
    return run_step(step, rows, llm.engine_factory(logprobs), wh, partition, llm.job_config())


def job_metadata(result: JobResult) -> dict:
    """The job's counts, tokens and timings, prefixed by its task, for asset metadata."""
    return {f"{result.task}.{name}": value for name, value in result.summary().items()}
