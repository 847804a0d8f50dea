"""Published training sets: versioned Parquet with a manifest, LATEST switch, DuckDB views."""

import json
from dataclasses import dataclass

import dagster as dg
import pyarrow.dataset as pads

from dagster_project.assets.raw import ingest_report_path
from dagster_project.catalog import catalog_path, refresh_catalog
from dagster_project.lineage import code_version
from dagster_project.partitions import daily_partitions
from dagster_project.publishing import publish
from dagster_project.resources import FeaturesResource, WarehouseResource
from schemas.tables import PUBLISHED_SETS


@dataclass(frozen=True)
class PublishedSet:
    name: str
    feature_table: str
    split: str | None = None  # publish only the rows of this split


PUBLICATIONS = [
    PublishedSet("interactions_train", "splits", split="train"),
    PublishedSet("interactions_valid", "splits", split="valid"),
    PublishedSet("interactions_test", "splits", split="test"),
    PublishedSet("user_sequences", "user_sequences"),
    PublishedSet("user_features", "user_features"),
    PublishedSet("item_features", "item_features"),
    PublishedSet("i2i_pairs", "i2i_pairs"),
    PublishedSet("id_maps", "id_maps"),
]


def _lineage(warehouse: WarehouseResource, features: FeaturesResource, partition: str) -> dict:
    wh = warehouse.warehouse
    ingest = json.loads(wh.read_text(ingest_report_path(warehouse, partition)))
    return {
        "code_version": code_version(),
        "feature_config": features.config().model_dump(mode="json"),
        **ingest["lineage"],
    }


def _published_asset(spec: PublishedSet) -> dg.AssetsDefinition:
    @dg.asset(
        name=spec.name,
        key_prefix="published",
        group_name="published",
        deps=[dg.AssetKey(["features", spec.feature_table])],
        partitions_def=daily_partitions,
        description=f"Published training set `{spec.name}`: published/{spec.name}/<version>/",
    )
    def _asset(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, features: FeaturesResource
    ) -> dg.MaterializeResult:
        wh = warehouse.warehouse
        partition = context.partition_key
        source = pads.dataset(
            wh.table_path("features", spec.feature_table, partition), format="parquet", filesystem=wh.fs
        )
        version = publish(
            wh,
            spec.name,
            PUBLISHED_SETS[spec.name],
            source,
            partition,
            _lineage(warehouse, features, partition),
            row_filter=pads.field("split") == spec.split if spec.split else None,
        )
        refresh_catalog(wh)
        return dg.MaterializeResult(
            metadata={
                "rows": version.row_count,
                "version": version.version,
                "path": dg.MetadataValue.path(version.path),
                "previous_version": version.manifest["previous_version"] or "",
                "duckdb_catalog": dg.MetadataValue.path(catalog_path(wh)),
            }
        )

    return _asset


published_assets = [_published_asset(spec) for spec in PUBLICATIONS]
