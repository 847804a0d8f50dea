"""The input rows of an LLM job: a Parquet dataset in the warehouse, read by the job's workers in shards.

Whoever prepares the rows (a Spark job, usually) writes them to `prompt_inputs_path` and hands the
job `PromptInputs(path)`; the driver never holds them. A `pa.Table` given to a job instead (tests,
small callers) is written there first, in shards of `rows_per_shard`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from llm_jobs.parquet_io import committed_files
from storage.warehouse import Warehouse


@dataclass(frozen=True)
class PromptInputs:
    """A directory of Parquet files (`part-*.parquet`, as Spark writes them) holding one row per prompt."""

    path: str

    def shards(self, warehouse: Warehouse) -> list[str]:
        return committed_files(warehouse, warehouse.resolve(self.path))

    def num_rows(self, warehouse: Warehouse) -> int:
        """From the files' footers: no row is read."""
        return sum(pq.ParquetFile(path, filesystem=warehouse.fs).metadata.num_rows for path in self.shards(warehouse))


def prompt_inputs_path(warehouse: Warehouse, task_name: str, partition: str) -> str:
    return warehouse.path("llm", "_inputs", task_name, f"date={partition}")


def write_prompt_inputs(
    warehouse: Warehouse, table: pa.Table, task_name: str, partition: str, rows_per_shard: int = 50_000
) -> PromptInputs:
    """`table` as the prompt inputs of `task_name` for `partition`, replacing earlier ones."""
    path = prompt_inputs_path(warehouse, task_name, partition)
    with warehouse.staged_dir(path) as staging:
        for shard, start in enumerate(range(0, max(table.num_rows, 1), rows_per_shard)):
            chunk = table.slice(start, rows_per_shard)
            pq.write_table(chunk, f"{staging}/part-{shard:05d}.parquet", filesystem=warehouse.fs)
    return PromptInputs(path)
