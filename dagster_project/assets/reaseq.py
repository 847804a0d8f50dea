"""ReaSeq-inspired assets (arXiv 2512.21257): item knowledge from three agents with the summary
embedded, user interests beyond the logs mapped to catalog items, and item_features and
user_sequences joined with them (and with the ReFORM item profiles) for publication."""

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import functions as F

from dagster_project.assets.llm_tasks import daily_asset, job_metadata, spark_prompt_inputs
from dagster_project.assets.reform import AUGMENTED_GROUP, augmented_features_asset
from dagster_project.assets.table_io import read_arrow, read_spark, write_arrow
from dagster_project.llm_resource import LLMEngineResource
from dagster_project.resources import (
    ReaseqResource,
    SparkResource,
    TextEncoderResource,
    WarehouseResource,
)
from llm_jobs.reform_profiles import augmented_metadata
from llm_jobs.tasks.reaseq_agents import ITEM_TEXT_CHARS, MAX_REVIEWS, REVIEW_CHARS
from llm_jobs.tasks.reaseq_interests import (
    beyond_log_interests,
    interest_metadata,
    run_user_interests,
    user_interests_task,
)
from llm_jobs.tasks.reaseq_items import ANALYST_STEP, embedded_knowledge, item_knowledge
from schemas.registry import Features, Llm, Raw
from schemas.tables import REASEQ_USER_INTERESTS
from transforms.augmented_features import augment_item_features, augment_user_sequences
from transforms.knowledge_inputs import (
    analyst_rows,
    interest_prompt_rows,
    interest_users,
    knowledge_item_inputs,
    training_items,
)

GROUP = "llm_reaseq"


@daily_asset(
    Llm.REASEQ_ITEM_KNOWLEDGE,
    GROUP,
    [Features.ITEM_FEATURES, Raw.ITEMS, Features.REVIEW_BUNDLES],
    "Per item (the most popular, up to the `reaseq` resource's cap): an analyst's structured knowledge, "
    "checked claim by claim by a verifier (and deterministic grounding checks), condensed by a summarizer "
    "into at most 80 words, whose embedding is `knowledge_embedding`.",
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
        read_spark(session, wh, Features.ITEM_FEATURES, partition),
        read_spark(session, wh, Raw.ITEMS, partition),
        read_spark(session, wh, Features.REVIEW_BUNDLES, partition),
        cfg.items,
    )
    rows = spark_prompt_inputs(
        analyst_rows(inputs, ITEM_TEXT_CHARS, REVIEW_CHARS, MAX_REVIEWS), wh, ANALYST_STEP.task, partition
    )
    written = session.read.parquet(wh.to_uri(wh.resolve(rows.path)))
    without_description = written.where(F.col("description") == "").count()
    knowledge, metadata = item_knowledge(rows, llm.engine_factory(), wh, partition, llm.job_config())
    encoder = text_encoder.encoder()
    table, encoder_seconds = embedded_knowledge(knowledge, encoder)
    path = write_arrow(table, wh, Llm.REASEQ_ITEM_KNOWLEDGE, partition)
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "items_without_description": without_description,
            "encoder": encoder.model_id,
            "encoder_seconds": round(encoder_seconds, 3),
            "path": dg.MetadataValue.path(path),
        }
    )


@daily_asset(
    Llm.REASEQ_USER_INTERESTS,
    GROUP,
    [Llm.REASEQ_ITEM_KNOWLEDGE, Features.USER_SEQUENCES, Features.ITEM_FEATURES, Features.SPLITS],
    "Per user (up to the `reaseq` resource's cap; users whose recent items have knowledge and who have "
    "items with knowledge left outside their history first): K interests beyond the logs, inferred from the "
    "titles and knowledge summaries of the last items, each mapped to its nearest items by knowledge "
    "embedding, never an item of the user's training history.",
)
def reaseq_user_interests(
    context: dg.AssetExecutionContext,
    spark: SparkResource,
    warehouse: WarehouseResource,
    llm: LLMEngineResource,
    reaseq: ReaseqResource,
    text_encoder: TextEncoderResource,
) -> dg.MaterializeResult:
    wh, partition, cfg, session = warehouse.warehouse, context.partition_key, reaseq.config(), spark.session
    # The knowledge is an LLM output, capped by `cfg.items`: the mapping onto its items needs it whole.
    knowledge = read_arrow(wh, Llm.REASEQ_ITEM_KNOWLEDGE, partition)
    sequences = read_spark(session, wh, Features.USER_SEQUENCES, partition)
    known = read_spark(session, wh, Llm.REASEQ_ITEM_KNOWLEDGE, partition)
    wanted = cfg.interests * cfg.items_per_interest
    users = interest_users(sequences, known.select("item_idx"), cfg.history_length, wanted, cfg.users)
    items = read_spark(session, wh, Features.ITEM_FEATURES, partition)
    task = user_interests_task(cfg.interests)
    rows = spark_prompt_inputs(
        interest_prompt_rows(sequences, users, items, known, cfg.history_length), wh, task, partition
    )
    prompted = rows.num_rows(wh)
    metadata: dict = {"knowledge_items": knowledge.num_rows, "users_prompted": 0}
    interests = REASEQ_USER_INTERESTS.empty_table()
    encoder_seconds = 0.0
    # No user is chosen when no item has knowledge: there would be nothing to map interests to.
    if prompted:
        found, job = run_user_interests(rows, llm.engine_factory(), wh, partition, llm.job_config(), k=cfg.interests)
        # The training items of the users with interests (at most `cfg.users`), which they never map to.
        splits = read_spark(session, wh, Features.SPLITS, partition)
        found_users = session.createDataFrame(found.select(["user_idx"]).to_pylist(), "user_idx int")
        histories = {row["user_idx"]: set(row["items"]) for row in training_items(splits, found_users).collect()}
        interests, encoder_seconds = beyond_log_interests(
            found, knowledge, text_encoder.encoder(), histories, cfg.items_per_interest
        )
        metadata |= {"users_prompted": prompted, **job_metadata(job)}
    path = write_arrow(interests, wh, Llm.REASEQ_USER_INTERESTS, partition)
    return dg.MaterializeResult(
        metadata={
            **metadata,
            **interest_metadata(interests),
            "encoder_seconds": round(encoder_seconds, 3),
            "path": dg.MetadataValue.path(path),
        }
    )


def _with_knowledge_count(table: pa.Table) -> dict:
    return {**augmented_metadata(table), "rows_with_knowledge": pc.sum(table["has_knowledge"]).as_py() or 0}


item_features_augmented = augmented_features_asset(
    Llm.ITEM_FEATURES_AUGMENTED,
    (Features.ITEM_FEATURES, Llm.REFORM_ITEM_PROFILES, Llm.REASEQ_ITEM_KNOWLEDGE),
    "features/item_features with the ReaSeq knowledge (fields, summary, embedding, has_knowledge) and the "
    "ReFORM item profile (phrases, (F x D) embeddings, mask); items without them get empty values, zero "
    "vectors and False flags. Published as item_features.",
    augment_item_features,
    _with_knowledge_count,
)


@daily_asset(
    Llm.USER_SEQUENCES_AUGMENTED,
    AUGMENTED_GROUP,
    [Features.USER_SEQUENCES, Llm.REASEQ_USER_INTERESTS],
    "features/user_sequences with each user's beyond-log items (empty for users not prompted). "
    "Published as user_sequences.",
)
def user_sequences_augmented(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    wh, partition = warehouse.warehouse, context.partition_key
    table = augment_user_sequences(
        read_arrow(wh, Features.USER_SEQUENCES, partition),
        read_arrow(wh, Llm.REASEQ_USER_INTERESTS, partition),
    )
    path = write_arrow(table, wh, Llm.USER_SEQUENCES_AUGMENTED, partition)
    lengths = pc.list_value_length(table["beyond_log_item_idx"])
    return dg.MaterializeResult(
        metadata={
            "rows": table.num_rows,
            "rows_with_beyond_log_items": pc.sum(pc.greater(lengths, 0)).as_py() or 0,
            "path": dg.MetadataValue.path(path),
        }
    )


reaseq_assets = [reaseq_item_knowledge, reaseq_user_interests, item_features_augmented, user_sequences_augmented]
