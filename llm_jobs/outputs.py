"""Accepted outputs and rejects of one task and partition, each replacing the partition whole."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from storage.warehouse import Warehouse


def accepted_path(warehouse: Warehouse, task_name: str, partition: str) -> str:
    return warehouse.table_path("llm", task_name, partition)


def rejects_path(warehouse: Warehouse, task_name: str, partition: str) -> str:
    return warehouse.path("llm", "_rejects", task_name, f"date={partition}")


def write_partition(
    warehouse: Warehouse,
    final: str,
    keys: pa.Table,
    columns: Mapping[str, Sequence],
    types: Mapping[str, pa.DataType],
) -> None:
    """`keys` (the rows' key columns) beside `columns`; an empty table still replaces a stale partition."""
    table = keys
    for name, values in columns.items():
        table = table.append_column(pa.field(name, types[name]), pa.array(values, type=types[name]))
    with warehouse.staged_dir(final) as staging:
        pq.write_table(table, f"{staging}/part-0.parquet", filesystem=warehouse.fs)
