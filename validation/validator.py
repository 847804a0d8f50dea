"""Validate one table against its contract: its Great Expectations suite (`schemas.expectations`)
and the recaug checks of its `schemas.registry` contract (ids present in `id_maps`, LLM quality rates and junk
checks, embedding shapes and masks, row-count change against the previous version).

Small tables validate in process on Arrow; tables above `ValidationThresholds.spark_above_rows`
rows validate on Spark, so a 100M-row table is never collected to the driver. Tables carrying
embeddings are built in Arrow and always validate there.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import pyarrow as pa
import pyarrow.dataset as pads
from pyspark.sql import DataFrame, SparkSession

from schemas.contracts import ValidationThresholds
from schemas.expectations import ERROR
from schemas.registry import contract, table_schema
from storage.warehouse import Warehouse
from validation.augmentation_checks import augmentation_checks, has_embeddings
from validation.gx_suites import run_suite
from validation.id_checks import ids_present
from validation.llm_rates import job_rate_checks, table_rate_checks
from validation.report import CheckResult, ValidationReport

Data = pa.Table | DataFrame


def validate_table(
    table: str,
    data: Data,
    id_maps: Data | None,
    previous_row_count: int | None,
    schema: pa.Schema | None = None,
    thresholds: ValidationThresholds = ValidationThresholds(),
    llm_runs: Mapping[str, dict] | None = None,
) -> ValidationReport:
    """Run `table`'s contract on `data` (an Arrow table or a Spark DataFrame).

    `id_maps` (of the same kind as `data`) is required for tables that carry indices;
    `previous_row_count` is None when there is no previous version, which skips the row-count
    check. `schema` is the table's resolved schema (`schemas.registry.table_schema`), required for
    the tables whose embedding shapes depend on the configuration. `llm_runs` (the latest run
    record per task, `llm_jobs.accounting.latest_runs`) is required for tables an LLM job produced.
    """
    started = time.perf_counter()
    terms = contract(table)
    if terms.ids and id_maps is None:
        raise ValueError(f"{table} carries indices: pass id_maps to validate them")
    if terms.llm_tasks and llm_runs is None:
        raise ValueError(f"{table} is produced by LLM jobs {list(terms.llm_tasks)}: pass their run records")
    schema = schema if schema is not None else table_schema(table)
    on_arrow = isinstance(data, pa.Table)
    if not on_arrow and has_embeddings(schema):
        raise ValueError(f"{table} carries embeddings: validate it as an Arrow table")
    rows = data.num_rows if on_arrow else data.count()
    results = run_suite(table, data, schema.names, terms.keys)
    results += [ids_present(data, id_maps, column, kind, terms.keys) for column, kind in terms.ids.items()]
    if on_arrow:
        results += augmentation_checks(data, schema)
    results += table_rate_checks(terms.rates, data, terms.keys, thresholds)
    if terms.llm_tasks:
        results += job_rate_checks(terms.llm_tasks, llm_runs, thresholds, rows)
    if previous_row_count is not None:
        results.append(_row_count_within_band(rows, previous_row_count, thresholds.row_count_band))
    engine = "arrow" if on_arrow else "spark"
    return ValidationReport(table, rows, results, engine, seconds=time.perf_counter() - started)


def _row_count_within_band(rows: int, previous: int, band: tuple[float, float]) -> CheckResult:
    """An empty previous version gives no baseline to compare a ratio with, so it passes."""
    ratio = rows / previous if previous else None
    return CheckResult(
        name="row_count_change_within_band",
        column=None,
        severity=ERROR,
        success=ratio is None or band[0] <= ratio <= band[1],
        observed={"rows": rows, "previous_rows": previous, "ratio": ratio, "band": list(band)},
    )


def load_for_validation(
    wh: Warehouse,
    path: str,
    schema: pa.Schema,
    thresholds: ValidationThresholds,
    spark: Callable[[], SparkSession],
) -> Data:
    """The Parquet at `path` as what it should be validated as: a Spark DataFrame when it has more
    than `thresholds.spark_above_rows` rows (footers tell, no data is read) and no embeddings,
    else an Arrow table. `spark` starts or returns the session; it is only called when needed."""
    path = wh.resolve(path)  # one version of the partition, however often it is rewritten meanwhile
    dataset = pads.dataset(path, format="parquet", filesystem=wh.fs)
    if dataset.count_rows() > thresholds.spark_above_rows and not has_embeddings(schema):
        return spark().read.parquet(wh.to_uri(path))
    return dataset.to_table()


def same_engine(wh: Warehouse, path: str, like: Data) -> Data:
    """The table at `path` (id_maps) read the way `like` was: Spark or Arrow."""
    path = wh.resolve(path)
    if isinstance(like, pa.Table):
        return pads.dataset(path, format="parquet", filesystem=wh.fs).to_table()
    return like.sparkSession.read.parquet(wh.to_uri(path))


def validate_parquet(
    wh: Warehouse,
    table: str,
    path: str,
    id_maps_path: str,
    schema: pa.Schema,
    thresholds: ValidationThresholds,
    spark: Callable[[], SparkSession],
    previous_row_count: int | None = None,
    llm_runs: Mapping[str, dict] | None = None,
) -> ValidationReport:
    """`validate_table` on the Parquet at `path`, read as `load_for_validation` decides, with the
    id_maps at `id_maps_path` read the same way when the table's contract needs them."""
    data = load_for_validation(wh, path, schema, thresholds, spark)
    id_maps = same_engine(wh, id_maps_path, data) if contract(table).ids else None
    return validate_table(table, data, id_maps, previous_row_count, schema, thresholds, llm_runs)
