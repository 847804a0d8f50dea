"""Small Parquet files that readers see whole or not at all, on a local disk or an object store."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from storage.warehouse import Warehouse


def write_parquet_atomic(warehouse: Warehouse, path: str, table: pa.Table, row_group_size: int | None = None) -> None:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, row_group_size=row_group_size)
    warehouse.write_bytes_atomic(path, sink.getvalue().to_pybytes())


def committed_files(warehouse: Warehouse, directory: str) -> list[str]:
    """The committed `.parquet` files of a directory, sorted; a killed writer's `.*.tmp-*` files are skipped."""
    selector = pafs.FileSelector(directory, allow_not_found=True)
    return sorted(
        info.path
        for info in warehouse.fs.get_file_info(selector)
        if info.type == pafs.FileType.File
        and info.base_name.endswith(".parquet")
        and not info.base_name.startswith(".")
    )


def read_parquet(warehouse: Warehouse, path: str) -> pa.Table:
    """A file, or a partition read whole at the version it names now (`Warehouse.resolve`)."""
    return pq.read_table(warehouse.resolve(path), filesystem=warehouse.fs)
