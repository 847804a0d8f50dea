"""Every index must resolve to a raw id in `id_maps`, or a consumer cannot map it back (list
columns element by element). In an LLM table an id the model chose that is not in `id_maps` is a
hallucinated id; `observed.rate` is their share, which the contract requires to be 0.

Arrow tables are checked with DuckDB in process, Spark DataFrames with an anti-join on Spark."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from schemas.expectations import ERROR
from validation.report import SAMPLE_SIZE, CheckResult, arrow_rows, jsonable

NAME = "ids_present_in_id_maps"


def ids_present(
    data: pa.Table | DataFrame, id_maps: pa.Table | DataFrame, column: str, kind: str, keys: Sequence[str]
) -> CheckResult:
    if isinstance(data, pa.Table):
        return _arrow(data, id_maps, column, kind)
    return _spark(data, id_maps, column, kind, keys)


def _result(column: str, checked: int, missing: int, sample_values: list, sample_rows: list[dict]) -> CheckResult:
    return CheckResult(
        name=NAME,
        column=column,
        severity=ERROR,
        success=missing == 0,
        unexpected_count=missing,
        sample_values=sample_values,
        sample_rows=sample_rows,
        observed={"ids_checked": checked, "rate": missing / checked if checked else 0.0},
    )


def _arrow(table: pa.Table, id_maps: pa.Table, column: str, kind: str) -> CheckResult:
    is_list = pa.types.is_list(table.schema.field(column).type)
    value = f"unnest(t.{column})" if is_list else f"t.{column}"
    con = duckdb.connect()
    con.register("t", table.select([column]).append_column("__row", pa.array(np.arange(table.num_rows))))
    con.register("maps", id_maps)
    con.execute(
        f"""CREATE TEMP TABLE ids AS
            SELECT v.__row, v.value,
                   NOT EXISTS (SELECT 1 FROM maps m WHERE m.kind = ? AND m.idx = v.value) AS missing
            FROM (SELECT t.__row, {value} AS value FROM t) v WHERE v.value IS NOT NULL""",
        [kind],
    )
    checked, missing = con.execute("SELECT count(*), count(*) FILTER (missing) FROM ids").fetchone()
    sample = con.execute("SELECT DISTINCT value FROM ids WHERE missing ORDER BY value LIMIT ?", [SAMPLE_SIZE]).fetchall()
    rows = con.execute("SELECT DISTINCT __row FROM ids WHERE missing ORDER BY __row LIMIT ?", [SAMPLE_SIZE]).fetchall()
    con.close()
    return _result(column, checked, missing, [v for (v,) in sample], arrow_rows(table, [r for (r,) in rows]))


def _spark(df: DataFrame, id_maps: DataFrame, column: str, kind: str, keys: Sequence[str]) -> CheckResult:
    is_list = df.schema[column].dataType.typeName() == "array"
    shown = [k for k in keys if k != column]
    values = df.select(*shown, (F.explode(column) if is_list else F.col(column)).alias("__value")).where(
        F.col("__value").isNotNull()
    )
    known = id_maps.where(F.col("kind") == kind).select(F.col("idx").alias("__value"), F.lit(True).alias("__known"))
    judged = values.join(known, "__value", "left")
    checked, missing = judged.agg(F.count(F.lit(1)), F.count_if(F.col("__known").isNull())).first()
    offending = judged.where(F.col("__known").isNull()).limit(SAMPLE_SIZE).collect() if missing else []
    rows = [{**{k: r[k] for k in shown}, column: r["__value"]} for r in offending]
    return _result(column, checked, missing, sorted({r[column] for r in rows}), jsonable(rows))
