"""Naming, reading and writing one partition of a warehouse table (a `schemas.registry.TableSpec`)
from the assets, with Spark or Arrow."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import dagster as dg
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession

from schemas.registry import TableSpec
from storage.warehouse import Warehouse

#: The asset key prefix and group of the published sets.
PUBLISHED_GROUP = "published"


def asset_key(table: TableSpec) -> dg.AssetKey:
    """The asset of a table: ["<layer>", "<name>"] for a warehouse table, ["published", "<name>"]
    for a published set."""
    return dg.AssetKey([table.layer or PUBLISHED_GROUP, table.name])


def current_version(wh: Warehouse, table: TableSpec, partition: str) -> str:
    """The version directory of the partition that a read starting now reads whole; a lazy Spark
    DataFrame keeps reading it after a rewrite switches the partition (`Warehouse.resolve`)."""
    return wh.resolve(wh.table_path(table.layer, table.name, partition))


def partition_path(wh: Warehouse, table: TableSpec, partition: str) -> str:
    return wh.table_path(table.layer, table.name, partition)


def read_spark(session: SparkSession, wh: Warehouse, table: TableSpec, partition: str) -> DataFrame:
    return session.read.parquet(wh.to_uri(current_version(wh, table, partition)))


def read_arrow(wh: Warehouse, table: TableSpec, partition: str) -> pa.Table:
    return pq.read_table(current_version(wh, table, partition), filesystem=wh.fs)


@contextlib.contextmanager
def replacing_partition(wh: Warehouse, table: TableSpec, partition: str) -> Iterator[str]:
    """A directory that becomes the partition's new version when the block succeeds: atomic for
    readers, one writer of the partition at a time (`Warehouse.staged_dir`)."""
    with wh.staged_dir(wh.table_path(table.layer, table.name, partition)) as staging:
        yield staging


def write_spark(df: DataFrame, wh: Warehouse, table: TableSpec, partition: str) -> str:
    """Replace the partition with `df`; returns its path."""
    with replacing_partition(wh, table, partition) as staging:
        df.write.mode("overwrite").parquet(wh.to_uri(staging))
    return partition_path(wh, table, partition)


def write_arrow(data: pa.Table, wh: Warehouse, table: TableSpec, partition: str) -> str:
    with replacing_partition(wh, table, partition) as staging:
        pq.write_table(data, f"{staging}/part-0.parquet", filesystem=wh.fs)
    return partition_path(wh, table, partition)


def parquet_rows(wh: Warehouse, path: str) -> int:
    """Row count from Parquet footers, without reading data."""
    return pads.dataset(path, format="parquet", filesystem=wh.fs).count_rows()
