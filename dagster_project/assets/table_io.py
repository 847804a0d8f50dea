"""Naming, reading and writing one partition of a warehouse table ("<layer>/<name>") from the
assets, with Spark or Arrow."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import dagster as dg
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession

from storage.locks import partition_lock
from storage.warehouse import Warehouse

# A concurrent run of the same partition computes the same table; waiting for its write is
# cheaper than failing the run.
SWAP_LOCK_TIMEOUT_S = 600.0


def asset_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(table.split("/"))


def read_spark(session: SparkSession, wh: Warehouse, table: str, partition: str) -> DataFrame:
    """`table` is "<layer>/<name>"."""
    return session.read.parquet(wh.table_uri(*table.split("/"), partition))


def read_arrow(wh: Warehouse, table: str, partition: str) -> pa.Table:
    return pq.read_table(wh.table_path(*table.split("/"), partition), filesystem=wh.fs)


@contextlib.contextmanager
def replacing_partition(wh: Warehouse, table: str, partition: str) -> Iterator[str]:
    """A staging directory that replaces the partition whole when the block succeeds. Two runs of
    one partition write the same rows; the lock keeps their swaps from interleaving."""
    final = wh.table_path(*table.split("/"), partition)
    with partition_lock(wh, table, partition, SWAP_LOCK_TIMEOUT_S), wh.staged_dir(final) as staging:
        yield staging


def write_spark(df: DataFrame, wh: Warehouse, table: str, partition: str) -> str:
    """Replace the partition with `df`; returns its path."""
    with replacing_partition(wh, table, partition) as staging:
        df.write.mode("overwrite").parquet(wh.to_uri(staging))
    return wh.table_path(*table.split("/"), partition)


def write_arrow(data: pa.Table, wh: Warehouse, table: str, partition: str) -> str:
    with replacing_partition(wh, table, partition) as staging:
        pq.write_table(data, f"{staging}/part-0.parquet", filesystem=wh.fs)
    return wh.table_path(*table.split("/"), partition)


def parquet_rows(wh: Warehouse, path: str) -> int:
    """Row count from Parquet footers, without reading data."""
    return pads.dataset(path, format="parquet", filesystem=wh.fs).count_rows()
