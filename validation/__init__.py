"""Validation of warehouse tables and published sets against their contracts (`validator`)."""

from validation.report import CheckResult, ValidationReport
from validation.validator import (
    load_for_validation,
    same_engine,
    validate_parquet,
    validate_table,
)

__all__ = ["CheckResult", "ValidationReport", "load_for_validation", "same_engine", "validate_parquet", "validate_table"]
