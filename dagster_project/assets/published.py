"""Published training sets: versioned Parquet with a manifest, LATEST switch, DuckDB views.

Each set's contract (its Great Expectations suite plus the id and row-count checks) runs as a
blocking asset check on the written version: LATEST switches only when it passes.
"""

import json
from dataclasses import dataclass

import dagster as dg
import pyarrow.dataset as pads

from dagster_project.assets.contracts import CONTRACT_CHECK, check_metadata, resolved_schema
from dagster_project.assets.raw import ingest_report_path
from dagster_project.catalog import catalog_path, refresh_catalog
from dagster_project.data_docs import write_validation_docs
from dagster_project.lineage import code_version
from dagster_project.partitions import daily_partitions
from dagster_project.publishing import PublicationBlocked, publish
from dagster_project.resources import (
    FeaturesResource,
    ReaseqResource,
    ReformResource,
    SparkResource,
    TextEncoderResource,
    ValidationResource,
    WarehouseResource,
)
from dagster_project.validation import validate_parquet

ID_MAPS_KEY = dg.AssetKey(["features", "id_maps"])


@dataclass(frozen=True)
class PublishedSet:
    name: str
    source: str  # "<layer>/<table>" it is published from
    split: str | None = None  # publish only the rows of this split


PUBLICATIONS = [
    PublishedSet("interactions_train", "features/splits", split="train"),
    PublishedSet("interactions_valid", "features/splits", split="valid"),
    PublishedSet("interactions_test", "features/splits", split="test"),
    # The feature tables joined with the ReFORM profiles and ReaSeq knowledge / beyond-log items.
    PublishedSet("user_sequences", "llm/user_sequences_augmented"),
    PublishedSet("user_features", "llm/user_features_augmented"),
    PublishedSet("item_features", "llm/item_features_augmented"),
    # Swing and co-occurrence on the interactions fused with kept synthetic ones (LLM-I2I).
    PublishedSet("i2i_pairs", "llm/i2i_pairs"),
    PublishedSet("i2i_train_interactions", "llm/i2i_train_interactions"),
    PublishedSet("llm_pairwise_supervision", "llm/llm_pairwise_supervision"),
    PublishedSet("id_maps", "features/id_maps"),
]


def _lineage(warehouse: WarehouseResource, features: FeaturesResource, partition: str) -> dict:
    wh = warehouse.warehouse
    ingest = json.loads(wh.read_text(ingest_report_path(warehouse, partition)))
    return {
        "code_version": code_version(),
        "feature_config": features.config().model_dump(mode="json"),
        **ingest["lineage"],
    }


#: Sets carrying text embeddings: their lineage names the factor set and the text encoder.
_EMBEDDED_SETS = {"user_features", "item_features", "user_sequences"}


def _embedding_lineage(reform: ReformResource, reaseq: ReaseqResource, text_encoder: TextEncoderResource) -> dict:
    factor_set = reform.factor_set()
    return {
        "factor_set": {
            "domain": factor_set.domain,
            "fingerprint": factor_set.fingerprint,
            "factors": list(factor_set.names),
        },
        "text_encoder": text_encoder.encoder().model_id,
        "reform_config": reform.config().model_dump(mode="json"),
        "reaseq_config": reaseq.config().model_dump(mode="json"),
    }


def _published_asset(spec: PublishedSet) -> dg.AssetsDefinition:
    key = dg.AssetKey(["published", spec.name])

    @dg.asset(
        key=key,
        group_name="published",
        deps=list(dict.fromkeys([dg.AssetKey(spec.source.split("/")), ID_MAPS_KEY])),
        partitions_def=daily_partitions,
        description=f"Published training set `{spec.name}`: published/{spec.name}/<version>/",
        check_specs=[
            dg.AssetCheckSpec(
                CONTRACT_CHECK,
                asset=key,
                blocking=True,
                description="Schema, keys, ranges, ids in id_maps, row-count change: errors block LATEST.",
            )
        ],
    )
    def _asset(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        features: FeaturesResource,
        reform: ReformResource,
        reaseq: ReaseqResource,
        text_encoder: TextEncoderResource,
        spark: SparkResource,
        validation: ValidationResource,
    ):
        wh, thresholds = warehouse.warehouse, validation.thresholds()
        partition = context.partition_key
        schema = resolved_schema(spec.name, reform, text_encoder)
        lineage = _lineage(warehouse, features, partition)
        if spec.name in _EMBEDDED_SETS:
            lineage |= _embedding_lineage(reform, reaseq, text_encoder)
        source = pads.dataset(wh.table_path(*spec.source.split("/"), partition), format="parquet", filesystem=wh.fs)
        id_maps_path = wh.table_path("features", "id_maps", partition)

        def gate(path: str, previous_rows: int | None):
            return validate_parquet(
                wh, spec.name, path, id_maps_path, schema, thresholds, lambda: spark.session, previous_rows
            )

        try:
            version = publish(
                wh,
                spec.name,
                schema,
                source,
                partition,
                lineage,
                row_filter=pads.field("split") == spec.split if spec.split else None,
                gate=gate,
                keep_versions=warehouse.keep_versions,
                lock_timeout_s=warehouse.lock_timeout_s,
            )
        except PublicationBlocked as blocked:
            docs = write_validation_docs(wh, blocked.manifest)
            yield dg.AssetCheckResult(
                check_name=CONTRACT_CHECK,
                passed=False,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={**check_metadata(blocked.verdict), "data_docs": dg.MetadataValue.url(docs)},
            )
            raise dg.Failure(description=f"{blocked}\nData Docs: {docs}") from blocked
        refresh_catalog(wh)
        docs = dg.MetadataValue.url(write_validation_docs(wh, version.manifest))
        yield dg.AssetCheckResult(
            check_name=CONTRACT_CHECK,
            passed=True,
            metadata={**check_metadata(version.manifest["validation"]), "data_docs": docs},
        )
        yield dg.MaterializeResult(
            metadata={
                "rows": version.row_count,
                "version": version.version,
                "path": dg.MetadataValue.path(version.path),
                "previous_version": version.manifest["previous_version"] or "",
                "pruned_versions": dg.MetadataValue.json(version.pruned),
                "duckdb_catalog": dg.MetadataValue.path(catalog_path(wh)),
                "data_docs": docs,
            }
        )

    return _asset


published_assets = [_published_asset(spec) for spec in PUBLICATIONS]
