"""Blocking `contract` checks on every raw, feature and LLM warehouse table.

Each check validates the partition its asset just wrote against the table's contract
(`schemas.registry`, `validation`). A failed error-severity check stops the
assets downstream of the table in the same run, so a broken table never reaches an LLM job or a
published set; failed warnings are shown in the metadata only. The published sets run the same
contracts inside publication (`assets.published`), where a failure also keeps LATEST where it was.
"""

import dagster as dg

from dagster_project.assets.table_io import asset_key, partition_path
from dagster_project.partitions import daily_partitions
from dagster_project.resources import (
    ReformResource,
    SparkResource,
    TextEncoderResource,
    ValidationResource,
    WarehouseResource,
)
from llm_jobs.accounting import latest_runs
from schemas.registry import WAREHOUSE_TABLES, Features, TableSpec
from validation import validate_parquet

CONTRACT_CHECK = "contract"


def resolved_schema(table: TableSpec, reform: ReformResource, text_encoder: TextEncoderResource):
    """`table`'s schema; F and D of the tables with ReFORM / ReaSeq embeddings come from the
    configured factor set and text encoder."""
    if table.is_configured:
        return table.resolve_schema(reform.factor_set().names, text_encoder.dimension)
    return table.resolve_schema()


def check_metadata(verdict: dict) -> dict:
    failed = [r for r in verdict["results"] if not r["success"]]
    return {
        "rows": verdict["row_count"],
        "validated_on": verdict["engine"],
        "validation_seconds": round(verdict["seconds"], 3),
        "checks": len(verdict["results"]),
        "failed_errors": sum(r["severity"] == "error" for r in failed),
        "failed_warnings": sum(r["severity"] == "warning" for r in failed),
        # Which expectations failed, with up to five offending rows each.
        "failures": dg.MetadataValue.json(failed),
    }


def _contract_check(table: TableSpec) -> dg.AssetChecksDefinition:
    terms = table.contract

    @dg.asset_check(
        asset=asset_key(table),
        name=CONTRACT_CHECK,
        blocking=True,
        partitions_def=daily_partitions,
        description=f"{table.key}: its Great Expectations suite, ids in id_maps and LLM quality rates; errors stop downstream assets.",
    )
    def _check(
        context: dg.AssetCheckExecutionContext,
        warehouse: WarehouseResource,
        spark: SparkResource,
        validation: ValidationResource,
        reform: ReformResource,
        text_encoder: TextEncoderResource,
    ) -> dg.AssetCheckResult:
        wh, partition, thresholds = warehouse.warehouse, context.partition_key, validation.thresholds()
        schema = resolved_schema(table, reform, text_encoder)
        report = validate_parquet(
            wh,
            table.key,
            partition_path(wh, table, partition),
            partition_path(wh, Features.ID_MAPS, partition),
            schema,
            thresholds,
            lambda: spark.session,
            llm_runs=latest_runs(wh, partition, terms.llm_tasks) if terms.llm_tasks else None,
        )
        return dg.AssetCheckResult(
            passed=report.passed, severity=dg.AssetCheckSeverity.ERROR, metadata=check_metadata(report.as_dict())
        )

    return _check


contract_checks = [_contract_check(table) for table in WAREHOUSE_TABLES]
