"""ReaSeq-inspired assets (arXiv 2512.21257): item knowledge from three agents with the summary
embedded, user interests beyond the logs mapped to catalog items, and item_features and
user_sequences joined with them (and with the ReFORM item profiles) for publication."""

import time

import dagster as dg
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dagster_project.assets.llm_tasks import job_metadata
from dagster_project.assets.reform import AUGMENTED_GROUP, augmented_metadata
from dagster_project.assets.table_io import (
    asset_key,
    read_arrow,
    read_spark,
    write_arrow,
)
from dagster_project.llm_resource import LLMEngineResource
from dagster_project.partitions import daily_partitions
from dagster_project.resources import (
    ReaseqResource,
    ReformResource,
    SparkResource,
    TextEncoderResource,
    WarehouseResource,
)
from llm_jobs.tasks.reaseq_agents import item_rows
from llm_jobs.tasks.reaseq_interests import (
    map_interests,
    run_user_interests,
    user_interest_rows,
)
from llm_jobs.tasks.reaseq_items import item_knowledge_metadata, run_item_knowledge
from schemas.tables import ITEM_KNOWLEDGE, REASEQ_USER_INTERESTS, item_knowledge_schema
from transforms.augmented_features import augment_item_features, augment_user_sequences
from transforms.knowledge_inputs import interest_users, knowledge_item_inputs

GROUP = "llm_reaseq"


def _vectors(table: pa.Table, column: str, dimension: int) -> np.ndarray:
    """An (n, D) float32 array of a fixed_size_list<float32, D> column."""
    values = table[column].combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return values.reshape(table.num_rows, dimension)


@dg.asset(
    key=asset_key("llm/reaseq_item_knowledge"),
    group_name=GROUP,
    deps=[asset_key("features/item_features"), asset_key("raw/items"), asset_key("features/review_bundles")],
    partitions_def=daily_partitions,
    description=(
        "Per item (the most popular, up to the `reaseq` resource's cap): an analyst's structured knowledge, "
        "checked claim by claim by a verifier (and deterministic grounding checks), condensed by a summarizer "
        "into at most 80 words, whose embedding is `knowledge_embedding`."
    ),
)
def reaseq_item_knowledge(
    context: dg.AssetExecutionContext,
    spark: SparkResource,
    warehouse: WarehouseResource,
    llm: LLMEngineResource,
    reaseq: ReaseqResource,
    text_encoder: TextEncoderResource,
) -> dg.MaterializeResult:
    wh, partition, cfg, session = warehouse.warehouse, context.partition_key, reaseq.config(), spark.session
    inputs = knowledge_item_inputs(
        read_spark(session, wh, "features/item_features", partition),
        read_spark(session, wh, "raw/items", partition),
        read_spark(session, wh, "features/review_bundles", partition),
        cfg.items,
    ).toArrow()
    rows = item_rows(inputs)
    if rows.num_rows:
        run = run_item_knowledge(rows, llm.engine_factory(), wh, partition, llm.job_config())
        knowledge, metadata = run.table, item_knowledge_metadata(run)
        for job in (run.analyst, run.verifier, run.summarizer):
            metadata[f"{job.task}.model_id"] = job.model_id
    else:
        # Nothing prompted: no job runs.
        knowledge, metadata = ITEM_KNOWLEDGE.empty_table(), {"items_in": 0, "items_out": 0}
    encoder = text_encoder.encoder()
    started = time.perf_counter()
    vectors = encoder.encode(knowledge["summary"].to_pylist())
    encoder_seconds = time.perf_counter() - started
    embeddings = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()), encoder.dimension)
    table = pa.table([*knowledge.columns, embeddings], schema=item_knowledge_schema(encoder.dimension))
    path = write_arrow(table, wh, "llm/reaseq_item_knowledge", partition)
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "items_without_description": pc.sum(pc.equal(rows["description"], "")).as_py() or 0,
            "encoder": encoder.model_id,
            "encoder_seconds": round(encoder_seconds, 3),
            "path": dg.MetadataValue.path(path),
        }
    )


def _train_histories(wh, partition: str, users: pa.Array) -> dict[int, set[int]]:
    """The training items of `users`, from features/splits."""
    splits = pq.read_table(
        wh.table_path("features", "splits", partition),
        filesystem=wh.fs,
        columns=["user_idx", "item_idx", "split"],
        filters=(pc.field("split") == "train") & pc.field("user_idx").isin(users.to_pylist()),
    )
    histories: dict[int, set[int]] = {}
    for user_idx, item_idx in zip(splits["user_idx"].to_pylist(), splits["item_idx"].to_pylist()):
        histories.setdefault(user_idx, set()).add(item_idx)
    return histories


@dg.asset(
    key=asset_key("llm/reaseq_user_interests"),
    group_name=GROUP,
    deps=[
        asset_key("llm/reaseq_item_knowledge"),
        asset_key("features/user_sequences"),
        asset_key("features/item_features"),
        asset_key("features/splits"),
    ],
    partitions_def=daily_partitions,
    description=(
        "Per user (up to the `reaseq` resource's cap; users whose recent items have knowledge and who have "
        "items with knowledge left outside their history first): K interests beyond the logs, inferred from the "
        "titles and knowledge summaries of the last items, each mapped to its nearest items by knowledge "
        "embedding, never an item of the user's training history."
    ),
)
def reaseq_user_interests(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    llm: LLMEngineResource,
    reaseq: ReaseqResource,
    text_encoder: TextEncoderResource,
) -> dg.MaterializeResult:
    wh, partition, cfg = warehouse.warehouse, context.partition_key, reaseq.config()
    knowledge = read_arrow(wh, "llm/reaseq_item_knowledge", partition)
    sequences = read_arrow(wh, "features/user_sequences", partition)
    wanted = cfg.interests * cfg.items_per_interest
    users = interest_users(sequences, knowledge["item_idx"], cfg.history_length, wanted, cfg.users)
    sequences = sequences.filter(pc.is_in(sequences["user_idx"], value_set=users))
    items = read_arrow(wh, "features/item_features", partition).select(["item_idx", "title"])
    rows = user_interest_rows(sequences, items, knowledge, cfg.history_length)
    metadata: dict = {"knowledge_items": knowledge.num_rows, "users_prompted": 0}
    interests = REASEQ_USER_INTERESTS.empty_table()
    encoder_seconds = 0.0
    # No user is chosen when no item has knowledge: there would be nothing to map interests to.
    if rows.num_rows:
        found, job = run_user_interests(rows, llm.engine_factory(), wh, partition, llm.job_config(), k=cfg.interests)
        encoder = text_encoder.encoder()
        started = time.perf_counter()
        vectors = encoder.encode([phrase for phrases in found["interests"].to_pylist() for phrase in phrases])
        encoder_seconds = time.perf_counter() - started
        interests = map_interests(
            found,
            vectors,
            knowledge["item_idx"].to_numpy(),
            _vectors(knowledge, "knowledge_embedding", encoder.dimension),
            _train_histories(wh, partition, rows["user_idx"].combine_chunks()),
            cfg.items_per_interest,
        )
        metadata |= {"users_prompted": rows.num_rows, **job_metadata(job)}
    picks = [len(p) for p in interests["beyond_log_item_idx"].to_pylist()]
    path = write_arrow(interests, wh, "llm/reaseq_user_interests", partition)
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "users_with_interests": interests.num_rows,
            "beyond_log_items": sum(picks),
            "beyond_log_items_per_user": round(sum(picks) / len(picks), 3) if picks else 0.0,
            "encoder_seconds": round(encoder_seconds, 3),
            "path": dg.MetadataValue.path(path),
        }
    )


@dg.asset(
    key=asset_key("llm/item_features_augmented"),
    group_name=AUGMENTED_GROUP,
    deps=[
        asset_key("features/item_features"),
        asset_key("llm/reaseq_item_knowledge"),
        asset_key("llm/reform_item_profiles"),
    ],
    partitions_def=daily_partitions,
    description=(
        "features/item_features with the ReaSeq knowledge (fields, summary, embedding, has_knowledge) and the "
        "ReFORM item profile (phrases, (F x D) embeddings, mask); items without them get empty values, zero "
        "vectors and False flags. Published as item_features."
    ),
)
def item_features_augmented(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    reform: ReformResource,
    text_encoder: TextEncoderResource,
) -> dg.MaterializeResult:
    wh, partition = warehouse.warehouse, context.partition_key
    table = augment_item_features(
        read_arrow(wh, "features/item_features", partition),
        read_arrow(wh, "llm/reform_item_profiles", partition),
        read_arrow(wh, "llm/reaseq_item_knowledge", partition),
        reform.factor_set().names,
        text_encoder.dimension,
    )
    path = write_arrow(table, wh, "llm/item_features_augmented", partition)
    return dg.MaterializeResult(
        metadata={
            **augmented_metadata(table),
            "rows_with_knowledge": pc.sum(table["has_knowledge"]).as_py() or 0,
            "path": dg.MetadataValue.path(path),
        }
    )


@dg.asset(
    key=asset_key("llm/user_sequences_augmented"),
    group_name=AUGMENTED_GROUP,
    deps=[asset_key("features/user_sequences"), asset_key("llm/reaseq_user_interests")],
    partitions_def=daily_partitions,
    description=(
        "features/user_sequences with each user's beyond-log items (empty for users not prompted). "
        "Published as user_sequences."
    ),
)
def user_sequences_augmented(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    wh, partition = warehouse.warehouse, context.partition_key
    table = augment_user_sequences(
        read_arrow(wh, "features/user_sequences", partition),
        read_arrow(wh, "llm/reaseq_user_interests", partition),
    )
    path = write_arrow(table, wh, "llm/user_sequences_augmented", partition)
    lengths = pc.list_value_length(table["beyond_log_item_idx"])
    return dg.MaterializeResult(
        metadata={
            "rows": table.num_rows,
            "rows_with_beyond_log_items": pc.sum(pc.greater(lengths, 0)).as_py() or 0,
            "path": dg.MetadataValue.path(path),
        }
    )


reaseq_assets = [reaseq_item_knowledge, reaseq_user_interests, item_features_augmented, user_sequences_augmented]
