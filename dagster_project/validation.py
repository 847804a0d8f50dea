"""Validate a table against its published set's contract before it may be published.

Two kinds of check run: the set's Great Expectations suite (`schemas.expectations`: schema,
non-null and unique keys, value ranges), and recaug checks GX cannot express on one table: every
index is present in `id_maps`, and the row count moved by no more than a band against the
previous version (a 90% drop usually means a broken upstream, not a smaller dataset).

The result is a `ValidationReport` whose `passed` is false when any error-severity check failed;
`as_dict()` is JSON-able so it can be written into the version's manifest.

Tables are validated here as pandas DataFrames with an ephemeral GX context, which suits the
sizes recaug tests and small sources publish. Large tables should validate on Spark DataFrames
instead (GX 1.x has a Spark data source, `context.data_sources.add_spark`); that is left for later.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass, field

import duckdb
import great_expectations as gx
import numpy as np
import pandas as pd
import pyarrow as pa
from great_expectations.core import ExpectationValidationResult
from great_expectations.data_context.types.base import ProgressBarsConfig

from schemas.expectations import ERROR, build_suite

SAMPLE_SIZE = 5

# Which index columns of each set must appear in id_maps, and under which kind.
ID_COLUMNS: dict[str, dict[str, str]] = {
    "interactions_train": {"user_idx": "user", "item_idx": "item"},
    "interactions_valid": {"user_idx": "user", "item_idx": "item"},
    "interactions_test": {"user_idx": "user", "item_idx": "item"},
    "user_sequences": {"user_idx": "user", "item_idx": "item"},
    "user_features": {"user_idx": "user"},
    "item_features": {"item_idx": "item"},
    "i2i_pairs": {"item_idx": "item", "neighbor_idx": "item"},
    "i2i_train_interactions": {"user_idx": "user", "item_idx": "item"},
    "llm_pairwise_supervision": {"user_idx": "user", "item_i": "item", "item_j": "item"},
}


@dataclass(frozen=True)
class CheckResult:
    """One expectation or recaug check, in the shape a manifest stores."""

    name: str
    column: str | None
    severity: str
    success: bool
    unexpected_count: int | None = None
    sample_values: list = field(default_factory=list)
    sample_rows: list[dict] = field(default_factory=list)
    observed: object = None
    message: str | None = None


@dataclass(frozen=True)
class ValidationReport:
    set_name: str
    row_count: int
    results: list[CheckResult]

    @property
    def passed(self) -> bool:
        """Warnings are shown, never blocking: only an error-severity failure stops publication."""
        return not self.failures(ERROR)

    def failures(self, severity: str | None = None) -> list[CheckResult]:
        return [r for r in self.results if not r.success and severity in (None, r.severity)]

    def as_dict(self) -> dict:
        return {
            "set_name": self.set_name,
            "row_count": self.row_count,
            "passed": self.passed,
            "results": [asdict(r) for r in self.results],
        }


def validate_table(
    set_name: str,
    table: pa.Table,
    id_maps: pa.Table | None,
    previous_row_count: int | None,
    row_count_band: tuple[float, float] = (0.5, 2.0),
) -> ValidationReport:
    """Run the set's GX suite and the recaug checks on `table`.

    `id_maps` is required for every set that carries indices (all but id_maps itself);
    `previous_row_count` is None for a set's first version, which skips the row-count check.
    """
    if set_name in ID_COLUMNS and id_maps is None:
        raise ValueError(f"{set_name} carries indices: pass id_maps to validate them")
    results = _run_suite(set_name, table)
    results += [
        _ids_present(table, id_maps, column, kind) for column, kind in ID_COLUMNS.get(set_name, {}).items()
    ]
    if previous_row_count is not None:
        results.append(_row_count_within_band(table.num_rows, previous_row_count, row_count_band))
    return ValidationReport(set_name, table.num_rows, results)


# --- Great Expectations ----------------------------------------------------------------------


def _run_suite(set_name: str, table: pa.Table) -> list[CheckResult]:
    """Validate with a throwaway ephemeral context: nothing is read from or written to disk."""
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_definition = (
        context.data_sources.add_pandas("recaug")
        .add_dataframe_asset(set_name)
        .add_batch_definition_whole_dataframe("whole")
    )
    batch = batch_definition.get_batch(batch_parameters={"dataframe": table.to_pandas()})
    result = batch.validate(
        build_suite(set_name),
        result_format={"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE},
    )
    return [_from_gx(r, table) for r in result.results]


def _from_gx(result: ExpectationValidationResult, table: pa.Table) -> CheckResult:
    config = result.expectation_config
    column = config.kwargs.get("column") or ",".join(config.kwargs.get("column_list") or []) or None
    if config.type == "expect_table_columns_to_match_ordered_list":
        column = None  # the column list is the expectation's argument, not its subject
    details = result.result or {}
    rows = details.get("partial_unexpected_index_list") or []
    return CheckResult(
        name=config.type,
        column=column,
        severity=config.meta["severity"],
        success=bool(result.success),
        unexpected_count=details.get("unexpected_count"),
        sample_values=_jsonable(details.get("partial_unexpected_list") or [])[:SAMPLE_SIZE],
        sample_rows=_rows(table, rows[:SAMPLE_SIZE]),
        observed=_jsonable(details.get("observed_value")),
        message=_exception_message(result.exception_info),
    )


def _exception_message(info: dict | None) -> str | None:
    """GX reports a failed metric (e.g. a missing column) as an exception, not as a failure."""
    if not info:
        return None
    infos = [info] if "raised_exception" in info else list(info.values())
    messages = sorted({i["exception_message"] for i in infos if i.get("raised_exception")})
    return "; ".join(messages) or None


# --- recaug checks ---------------------------------------------------------------------------


def _ids_present(table: pa.Table, id_maps: pa.Table, column: str, kind: str) -> CheckResult:
    """Every index must resolve to a raw id, or a consumer cannot map it back (list columns too)."""
    is_list = pa.types.is_list(table.schema.field(column).type)
    value = f"unnest(t.{column})" if is_list else f"t.{column}"
    con = duckdb.connect()
    con.register("t", table.append_column("__row", pa.array(np.arange(table.num_rows))))
    con.register("id_maps", id_maps)
    con.execute(
        f"""CREATE TEMP TABLE missing AS
            SELECT v.__row, v.value FROM (SELECT t.__row, {value} AS value FROM t) v
            WHERE v.value IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM id_maps m WHERE m.kind = ? AND m.idx = v.value)""",
        [kind],
    )
    count = con.execute("SELECT count(*) FROM missing").fetchone()[0]
    sample = con.execute(
        "SELECT DISTINCT value FROM missing ORDER BY value LIMIT ?", [SAMPLE_SIZE]
    ).fetchall()
    rows = con.execute("SELECT DISTINCT __row FROM missing ORDER BY __row LIMIT ?", [SAMPLE_SIZE]).fetchall()
    con.close()
    return CheckResult(
        name="ids_present_in_id_maps",
        column=column,
        severity=ERROR,
        success=count == 0,
        unexpected_count=count,
        sample_values=[v for (v,) in sample],
        sample_rows=_rows(table, [r for (r,) in rows]),
    )


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


# --- JSON helpers ----------------------------------------------------------------------------


def _rows(table: pa.Table, indices: list[int]) -> list[dict]:
    return _jsonable(table.take(pa.array(indices, pa.int64())).to_pylist()) if indices else []


def _jsonable(value):
    """Turn numpy, pandas and datetime values into what json.dumps accepts (NaN becomes None)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
