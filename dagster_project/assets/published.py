"""Published training sets: versioned Parquet with a manifest, one snapshot switch, DuckDB views.

Each set's asset writes a new version and runs its contract (its Great Expectations suite plus the
id and row-count checks) as a blocking asset check on it; nothing goes live yet. `published/snapshot`
runs only when every set of the run passed: it switches the live snapshot to this run's versions,
all at once, and refreshes the DuckDB catalog. A blocked set stops it, and the previous snapshot
stays live and whole. The evaluation report, computed on the new snapshot afterwards, joins it.
"""

import json
from dataclasses import dataclass

import dagster as dg
import pyarrow.dataset as pads

from dagster_project.assets.contracts import (
    CONTRACT_CHECK,
    check_metadata,
    resolved_schema,
)
from dagster_project.assets.raw import ingest_report_path
from dagster_project.assets.table_io import PUBLISHED_GROUP, asset_key, partition_path
from dagster_project.partitions import daily_partitions
from dagster_project.resources import (
    FeaturesResource,
    ReaseqResource,
    ReformResource,
    SparkResource,
    TextEncoderResource,
    ValidationResource,
    WarehouseResource,
)
from schemas.registry import Evaluation, Features, Llm, Published, TableSpec
from storage.catalog import catalog_path, refresh_catalog
from storage.lineage import code_version
from storage.published_layout import live_snapshot, read_manifest, version_names
from storage.publishing import PublicationBlocked, prune, switch_snapshot, write_version
from validation import validate_parquet
from validation.data_docs import write_validation_docs


@dataclass(frozen=True)
class PublishedSet:
    table: TableSpec
    source: TableSpec  # the warehouse table it is published from
    split: str | None = None  # publish only the rows of this split


PUBLICATIONS = [
    PublishedSet(Published.INTERACTIONS_TRAIN, Features.SPLITS, split="train"),
    PublishedSet(Published.INTERACTIONS_VALID, Features.SPLITS, split="valid"),
    PublishedSet(Published.INTERACTIONS_TEST, Features.SPLITS, split="test"),
    # The feature tables joined with the ReFORM profiles and ReaSeq knowledge / beyond-log items.
    PublishedSet(Published.USER_SEQUENCES, Llm.USER_SEQUENCES_AUGMENTED),
    PublishedSet(Published.USER_FEATURES, Llm.USER_FEATURES_AUGMENTED),
    PublishedSet(Published.ITEM_FEATURES, Llm.ITEM_FEATURES_AUGMENTED),
    # Swing and co-occurrence on the interactions fused with kept synthetic ones (LLM-I2I).
    PublishedSet(Published.I2I_PAIRS, Llm.I2I_PAIRS),
    PublishedSet(Published.I2I_TRAIN_INTERACTIONS, Llm.I2I_TRAIN_INTERACTIONS),
    PublishedSet(Published.LLM_PAIRWISE_SUPERVISION, Llm.LLM_PAIRWISE_SUPERVISION),
    PublishedSet(Published.ID_MAPS, Features.ID_MAPS),
]

#: What each augmentation buys (dagster_project.assets.evaluation), measured on the snapshot of the
#: sets above and added to it.
EVALUATION_REPORT = PublishedSet(Published.EVALUATION_REPORT, Evaluation.REPORT)
#: The Parquet schema metadata key of evaluation/report naming the snapshot it evaluated.
EVALUATED_SNAPSHOT = b"evaluated_snapshot"
SNAPSHOT_KEY = dg.AssetKey([PUBLISHED_GROUP, "snapshot"])


def _lineage(warehouse: WarehouseResource, features: FeaturesResource, partition: str) -> dict:
    wh = warehouse.warehouse
    ingest = json.loads(wh.read_text(ingest_report_path(warehouse, partition)))
    return {
        "code_version": code_version(),
        "feature_config": features.config().model_dump(mode="json"),
        **ingest["lineage"],
    }


#: Sets carrying text embeddings: their lineage names the factor set and the text encoder.
_EMBEDDED_SETS = {Published.USER_FEATURES, Published.ITEM_FEATURES, Published.USER_SEQUENCES}


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


def _published_asset(spec: PublishedSet, joins_live_snapshot: bool = False) -> dg.AssetsDefinition:
    """The asset that writes and validates a version of `spec`; with `joins_live_snapshot`, it then
    adds the version to the live snapshot it was computed from (the evaluation report)."""
    key = asset_key(spec.table)
    name = spec.table.key

    @dg.asset(
        key=key,
        group_name=PUBLISHED_GROUP,
        deps=list(dict.fromkeys([asset_key(spec.source), asset_key(Features.ID_MAPS)])),
        partitions_def=daily_partitions,
        description=f"Published set `{name}`: published/{name}/(version)/, live once the snapshot names it",
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
        schema = resolved_schema(spec.table, reform, text_encoder)
        lineage = {**_lineage(warehouse, features, partition), "run_id": context.run_id}
        if spec.table in _EMBEDDED_SETS:
            lineage |= _embedding_lineage(reform, reaseq, text_encoder)
        source = pads.dataset(partition_path(wh, spec.source, partition), format="parquet", filesystem=wh.fs)
        id_maps_path = partition_path(wh, Features.ID_MAPS, partition)

        def gate(path: str, previous_rows: int | None):
            return validate_parquet(
                wh, name, path, id_maps_path, schema, thresholds, lambda: spark.session, previous_rows
            )

        try:
            version = write_version(
                wh,
                name,
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
        live = {}
        if joins_live_snapshot:
            live = _join_live_snapshot(warehouse, name, version.version, partition, source.schema.metadata or {}, context)
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
                "data_docs": docs,
                **live,
            }
        )

    return _asset


def _join_live_snapshot(warehouse: WarehouseResource, set_name: str, version: str, partition: str, metadata: dict, context) -> dict:
    """Add `version` to the live snapshot when it is the one the set was computed from."""
    wh = warehouse.warehouse
    evaluated = metadata.get(EVALUATED_SNAPSHOT, b"").decode()
    live = live_snapshot(wh)
    if live is None or live.id != evaluated or live.partition != partition:
        context.log.warning(
            f"{set_name} {version} evaluated snapshot {evaluated or '?'}, but {live.id if live else 'none'} is live: not added"
        )
        return {"joined_snapshot": ""}
    snapshot, _ = switch_snapshot(
        wh, partition, {set_name: version}, context.run_id, lock_timeout_s=warehouse.lock_timeout_s, keep_other_sets=True
    )
    refresh_catalog(wh)
    prune(wh, set_name, warehouse.keep_versions, warehouse.lock_timeout_s)
    return {"joined_snapshot": snapshot.id, "duckdb_catalog": dg.MetadataValue.path(catalog_path(wh))}


def _versions_of_run(wh, set_name: str, run_id: str) -> str | None:
    """The newest validated version of `set_name` written by run `run_id`."""
    for version in reversed(version_names(wh, set_name)):
        try:
            manifest = read_manifest(wh, set_name, version)
        except FileNotFoundError:  # incomplete
            continue
        if manifest["status"] == "published" and manifest["lineage"].get("run_id") == run_id:
            return version
    return None


@dg.asset(
    key=SNAPSHOT_KEY,
    group_name=PUBLISHED_GROUP,
    deps=[asset_key(spec.table) for spec in PUBLICATIONS],
    partitions_def=daily_partitions,
    description="Makes every set this run published live at once: one snapshot naming a version per set, switched atomically.",
)
def published_snapshot(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    wh, partition = warehouse.warehouse, context.partition_key
    # A set blocked in this run stops this asset before it starts; a set without a version from
    # this run was not selected, and is left out: a snapshot holds one run's sets only.
    found = {spec.table.key: _versions_of_run(wh, spec.table.key, context.run_id) for spec in PUBLICATIONS}
    versions = {name: version for name, version in found.items() if version is not None}
    if not versions:
        raise dg.Failure(description="no set was published by this run: the live snapshot is unchanged")
    snapshot, is_live = switch_snapshot(wh, partition, versions, context.run_id, lock_timeout_s=warehouse.lock_timeout_s)
    if is_live:
        refresh_catalog(wh)
    pruned = {name: prune(wh, name, warehouse.keep_versions, warehouse.lock_timeout_s) for name in versions}
    live = live_snapshot(wh)
    return dg.MaterializeResult(
        metadata={
            "snapshot": snapshot.id,
            "live": is_live,
            "live_snapshot": live.id if live else "",
            "live_partition": live.partition if live else "",
            "previous_snapshot": snapshot.previous or "",
            "versions": dg.MetadataValue.json(versions),
            "pruned_versions": dg.MetadataValue.json({name: gone for name, gone in pruned.items() if gone}),
            "duckdb_catalog": dg.MetadataValue.path(catalog_path(wh)),
        }
    )


published_assets = [
    *(_published_asset(spec) for spec in PUBLICATIONS),
    published_snapshot,
    _published_asset(EVALUATION_REPORT, joins_live_snapshot=True),
]
