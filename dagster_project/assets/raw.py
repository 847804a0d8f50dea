"""Ingestion: raw logs -> raw.interactions, raw.reviews, raw.items and raw.quarantine."""

import contextlib
import json

import dagster as dg

from dagster_project.assets.table_io import asset_key, partition_path
from dagster_project.partitions import daily_partitions, end_of_day
from dagster_project.resources import SourceResource, WarehouseResource
from schemas.registry import Raw, specs_of
from storage.lineage import fingerprint_file
from transforms.readers.ingest import ingest

#: The readers' table names ("interactions" ...), as `ingest` takes its output directories.
RAW_SPECS = {spec.name: spec for spec in specs_of(Raw)}


def ingest_report_path(warehouse: WarehouseResource, partition: str) -> str:
    return warehouse.warehouse.path("raw", "_ingest", f"date={partition}.json")


@dg.multi_asset(
    specs=[
        dg.AssetSpec(asset_key(raw), group_name="raw", description=f"Canonical raw {table} as of the partition day")
        for table, raw in RAW_SPECS.items()
    ],
    partitions_def=daily_partitions,
)
def raw_tables(context: dg.AssetExecutionContext, source: SourceResource, warehouse: WarehouseResource):
    """Parse the source logs; unusable records go to raw.quarantine with file, line and reason.

    A truncated or corrupt file fails the run, and no raw table of the partition is replaced,
    unless the source allows partial input.
    """
    wh = warehouse.warehouse
    partition = context.partition_key
    spec = source.spec()
    finals = {table: partition_path(wh, raw, partition) for table, raw in RAW_SPECS.items()}
    with contextlib.ExitStack() as stack:
        staged = {table: stack.enter_context(wh.staged_dir(path)) for table, path in finals.items()}
        report = ingest(spec, staged, wh.fs, as_of=end_of_day(partition))
    summary = report.as_metadata()
    if report.partial_files:
        context.log.warning(
            f"allow_partial_input: ingested only the readable part of {report.partial_files}; "
            "the breaks are in raw.quarantine"
        )
    inputs = report.files + ([spec.mapping_file] if spec.mapping_file else [])
    lineage = {"source": spec.model_dump(), "inputs": [fingerprint_file(f) for f in inputs]}
    wh.write_text_atomic(
        ingest_report_path(warehouse, partition),
        json.dumps({"report": summary, "lineage": lineage}, indent=2, sort_keys=True),
    )
    for table, raw in RAW_SPECS.items():
        metadata = {"rows": getattr(report, table), "path": dg.MetadataValue.path(finals[table])}
        if raw is Raw.QUARANTINE:
            metadata["quarantined_by_reason"] = dg.MetadataValue.json(report.quarantine_by_reason)
            metadata["partial_files"] = dg.MetadataValue.json(report.partial_files)
        else:
            metadata["ingest"] = dg.MetadataValue.json(summary)
        yield dg.MaterializeResult(asset_key=asset_key(raw), metadata=metadata)
