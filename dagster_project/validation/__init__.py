"""Validation of warehouse tables and published sets against their contracts (`validator`)."""

from dagster_project.validation.report import CheckResult, ValidationReport
from dagster_project.validation.validator import load_for_validation, same_engine, validate_parquet, validate_table

__all__ = ["CheckResult", "ValidationReport", "load_for_validation", "same_engine", "validate_parquet", "validate_table"]
