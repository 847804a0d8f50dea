"""What validation found, in the shape a manifest and the Dagster UI show."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from schemas.expectations import ERROR

SAMPLE_SIZE = 5


@dataclass(frozen=True)
class CheckResult:
    """One expectation or recaug check."""

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
    table: str
    row_count: int
    results: list[CheckResult]
    engine: str = "arrow"  # where it ran: "arrow" (in process) or "spark"
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """Warnings are shown, never blocking: only an error-severity failure blocks."""
        return not self.failures(ERROR)

    def failures(self, severity: str | None = None) -> list[CheckResult]:
        return [r for r in self.results if not r.success and severity in (None, r.severity)]

    def as_dict(self) -> dict:
        return {
            "table": self.table,
            "row_count": self.row_count,
            "engine": self.engine,
            "seconds": self.seconds,
            "passed": self.passed,
            "results": [asdict(r) for r in self.results],
        }


def rate_check(
    name: str,
    column: str | None,
    severity: str,
    rate: float,
    limit: float,
    above: bool,
    *,
    unexpected_count: int | None = None,
    sample_rows: list[dict] | None = None,
    **observed,
) -> CheckResult:
    """A rate against its threshold: passes when `rate` is at most `limit` (`above`: a maximum) or
    at least it (a minimum). `observed` adds what the rate was computed from."""
    return CheckResult(
        name=name,
        column=column,
        severity=severity,
        success=rate <= limit if above else rate >= limit,
        unexpected_count=unexpected_count,
        sample_rows=sample_rows or [],
        observed={"rate": rate, "max" if above else "min": limit, **observed},
    )


def is_vector(data_type: pa.DataType) -> bool:
    """Embeddings and masks: fixed-size lists."""
    return pa.types.is_fixed_size_list(data_type)


def arrow_rows(table: pa.Table, indices: list[int]) -> list[dict]:
    """The rows as JSON-able dicts, without their embedding vectors and masks (too big for a manifest)."""
    if not indices:
        return []
    shown = [name for name, f in zip(table.column_names, table.schema) if not is_vector(f.type)]
    return jsonable(table.select(shown).take(pa.array(indices, pa.int64())).to_pylist())


def jsonable(value):
    """Turn numpy, pandas and datetime values into what json.dumps accepts (NaN becomes None)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
