"""Where one task's job writes for a partition: accepted outputs, rejects, and the step's output rows.
Each is a directory of Parquet shards that replaces the partition whole when the job succeeds."""

from __future__ import annotations

from storage.warehouse import Warehouse


def accepted_path(warehouse: Warehouse, task_name: str, partition: str) -> str:
    return warehouse.table_path("llm", task_name, partition)


def rejects_path(warehouse: Warehouse, task_name: str, partition: str) -> str:
    return warehouse.path("llm", "_rejects", task_name, f"date={partition}")


def step_rows_path(warehouse: Warehouse, task_name: str, partition: str) -> str:
    return warehouse.path("llm", "_step_rows", task_name, f"date={partition}")
