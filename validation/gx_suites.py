"""Run a table's Great Expectations suite on an Arrow table (in process, through pandas) or on a
Spark DataFrame (GX computes its metrics as Spark jobs: nothing is collected to the driver but
the metrics and a few offending rows)."""

from __future__ import annotations

from collections.abc import Sequence

import great_expectations as gx
import pyarrow as pa
from great_expectations.core import ExpectationValidationResult
from great_expectations.data_context.types.base import ProgressBarsConfig
from pyspark.sql import DataFrame

from schemas.registry import build_suite
from validation.report import SAMPLE_SIZE, CheckResult, arrow_rows, jsonable


def run_suite(table: str, data: pa.Table | DataFrame, columns: Sequence[str], keys: Sequence[str]) -> list[CheckResult]:
    """`columns` are the table's declared columns in order; `keys` identify an offending row when
    the data is a Spark DataFrame (on Arrow the whole row is shown)."""
    context = gx.get_context(mode="ephemeral")  # nothing read from or written to disk
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    result_format = {"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE}
    if isinstance(data, pa.Table):
        source, frame = context.data_sources.add_pandas("recaug"), data.to_pandas()
    else:
        source, frame = context.data_sources.add_spark("recaug"), data
        result_format["unexpected_index_column_names"] = [k for k in keys if k in data.columns]
    batch = source.add_dataframe_asset(table).add_batch_definition_whole_dataframe("whole").get_batch(
        batch_parameters={"dataframe": frame}
    )
    result = batch.validate(build_suite(table, columns), result_format=result_format)
    return [_from_gx(r, data) for r in result.results]


def _from_gx(result: ExpectationValidationResult, data: pa.Table | DataFrame) -> CheckResult:
    config = result.expectation_config
    column = config.kwargs.get("column") or ",".join(config.kwargs.get("column_list") or []) or None
    if config.type == "expect_table_columns_to_match_ordered_list":
        column = None  # the column list is the expectation's argument, not its subject
    details = result.result or {}
    offending = (details.get("partial_unexpected_index_list") or [])[:SAMPLE_SIZE]
    # pandas gives row positions; Spark gives the key columns and the value of each offending row.
    rows = arrow_rows(data, offending) if isinstance(data, pa.Table) else jsonable(offending)
    return CheckResult(
        name=config.type,
        column=column,
        severity=config.meta["severity"],
        success=bool(result.success),
        unexpected_count=details.get("unexpected_count"),
        sample_values=jsonable(details.get("partial_unexpected_list") or [])[:SAMPLE_SIZE],
        sample_rows=rows,
        observed=jsonable(details.get("observed_value")),
        message=_exception_message(result.exception_info),
    )


def _exception_message(info: dict | None) -> str | None:
    """GX reports a failed metric (e.g. a missing column) as an exception, not as a failure."""
    if not info:
        return None
    infos = [info] if "raised_exception" in info else list(info.values())
    messages = sorted({i["exception_message"] for i in infos if i.get("raised_exception")})
    return "; ".join(messages) or None
