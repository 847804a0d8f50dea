"""Batched Parquet writers, one per raw table, holding at most one batch in memory."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from schemas.registry import RAW_TABLES


class TableSink:
    """Rows appended as dicts go out as row groups of `batch_rows` into `part-00000.parquet`."""

    def __init__(self, filesystem: pafs.FileSystem, directory: str, schema: pa.Schema, batch_rows: int) -> None:
        self.schema = schema
        # Readers hand over timestamps as epoch seconds; they are cast to the table's unit on write.
        self._row_schema = pa.schema(
            [f.with_type(pa.timestamp("s", tz=f.type.tz)) if pa.types.is_timestamp(f.type) else f for f in schema]
        )
        self.path = f"{directory.rstrip('/')}/part-00000.parquet"
        self.rows = 0
        self._batch_rows = batch_rows
        self._columns: dict[str, list] = {name: [] for name in schema.names}
        self._pending = 0
        # Opened now so that the file exists, schema only, even if no row ever comes.
        self._writer = pq.ParquetWriter(self.path, schema, filesystem=filesystem)

    def append(self, row: dict) -> None:
        for name, column in self._columns.items():
            column.append(row[name])
        self._pending += 1
        if self._pending >= self._batch_rows:
            self.flush()

    def append_table(self, table: pa.Table) -> None:
        """Rows already in columnar form (with the table's own schema) go out as one row group."""
        self.flush()
        self._writer.write_table(table.cast(self.schema))
        self.rows += table.num_rows

    def flush(self) -> None:
        if self._pending:
            self._writer.write_table(pa.Table.from_pydict(self._columns, schema=self._row_schema).cast(self.schema))
            self.rows += self._pending
            for column in self._columns.values():
                column.clear()
            self._pending = 0

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._writer.close()


class RawSinks:
    """One TableSink per raw table; a context manager that closes them all."""

    def __init__(self, filesystem: pafs.FileSystem, out_dirs: dict[str, str], batch_rows: int) -> None:
        missing = sorted(set(RAW_TABLES) - set(out_dirs))
        if missing:
            raise ValueError(f"out_dirs lacks {missing}")
        self.sinks: dict[str, TableSink] = {}
        try:
            for table, schema in RAW_TABLES.items():
                self.sinks[table] = TableSink(filesystem, out_dirs[table], schema, batch_rows)
        except BaseException:
            self.close()
            raise

    def __getitem__(self, table: str) -> TableSink:
        return self.sinks[table]

    def __enter__(self) -> RawSinks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for sink in self.sinks.values():
            sink.close()
