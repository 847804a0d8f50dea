"""S-LLMR assets: candidate sets, LLM scores, and the pairwise supervision with gate inputs."""

import dagster as dg
from pyspark.sql import functions as F

from dagster_project.assets.llm_tasks import job_metadata, run_task
from dagster_project.assets.table_io import (
    asset_key,
    read_arrow,
    read_spark,
    write_spark,
)
from dagster_project.llm_resource import LLMEngineResource
from dagster_project.partitions import daily_partitions
from dagster_project.resources import SLMRResource, SparkResource, WarehouseResource
from llm_jobs.tasks.slmr import raw_scores, scoring_task
from transforms.slmr import candidate_sets, normalized_scores, pairwise_supervision

GROUP = "llm_slmr"


@dg.asset(
    key=asset_key("llm/slmr_candidates"),
    group_name=GROUP,
    deps=[asset_key("features/splits"), asset_key("features/user_features"), asset_key("features/item_features")],
    partitions_def=daily_partitions,
    description="Per (user, candidate set): recent history and N candidates (popular, cold-user diverse, long-tail).",
)
def slmr_candidates(
    context: dg.AssetExecutionContext, spark: SparkResource, warehouse: WarehouseResource, slmr: SLMRResource
) -> dg.MaterializeResult:
    wh, partition, session = warehouse.warehouse, context.partition_key, spark.session
    sets = candidate_sets(
        read_spark(session, wh, "features/splits", partition),
        read_spark(session, wh, "features/user_features", partition),
        read_spark(session, wh, "features/item_features", partition),
        slmr.config(),
    )
    path = write_spark(sets, wh, "llm/slmr_candidates", partition)
    written = session.read.parquet(wh.to_uri(path))
    prompts = {row["candidate_set"]: row["count"] for row in written.groupBy("candidate_set").count().collect()}
    return dg.MaterializeResult(
        metadata={**{f"prompts.{name}": n for name, n in prompts.items()}, "path": dg.MetadataValue.path(path)}
    )


@dg.asset(
    key=asset_key("llm/slmr_scores"),
    group_name=GROUP,
    deps=[asset_key("llm/slmr_candidates")],
    partitions_def=daily_partitions,
    description="The LLM's score of every candidate, normalized per prompt; a missing score is filled and flagged.",
)
def slmr_scores(
    context: dg.AssetExecutionContext,
    spark: SparkResource,
    warehouse: WarehouseResource,
    llm: LLMEngineResource,
    slmr: SLMRResource,
) -> dg.MaterializeResult:
    wh, partition, cfg, session = warehouse.warehouse, context.partition_key, slmr.config(), spark.session
    prompts = read_arrow(wh, "llm/slmr_candidates", partition)
    result, accepted = run_task(llm, wh, scoring_task(cfg.candidates), prompts, partition)
    raw = raw_scores(prompts, accepted)
    path = write_spark(normalized_scores(session.createDataFrame(raw), cfg), wh, "llm/slmr_scores", partition)
    return dg.MaterializeResult(
        metadata={
            "scores": raw.num_rows,
            "missing_scores": raw["raw_score"].null_count,
            "path": dg.MetadataValue.path(path),
            **job_metadata(result),
        }
    )


@dg.asset(
    key=asset_key("llm/llm_pairwise_supervision"),
    group_name=GROUP,
    deps=[asset_key("llm/slmr_scores"), asset_key("features/user_features"), asset_key("features/item_features")],
    partitions_def=daily_partitions,
    description="Per prompt, the K largest-gap pairs (i, j) with s_i > s_j, beside the gate's inputs.",
)
def llm_pairwise_supervision(
    context: dg.AssetExecutionContext, spark: SparkResource, warehouse: WarehouseResource, slmr: SLMRResource
) -> dg.MaterializeResult:
    wh, partition, session = warehouse.warehouse, context.partition_key, spark.session
    pairs = pairwise_supervision(
        read_spark(session, wh, "llm/slmr_scores", partition),
        read_spark(session, wh, "features/user_features", partition),
        read_spark(session, wh, "features/item_features", partition),
        slmr.config(),
    )
    path = write_spark(pairs, wh, "llm/llm_pairwise_supervision", partition)
    written = session.read.parquet(wh.to_uri(path))
    return dg.MaterializeResult(
        metadata={
            "pairs": written.count(),
            "cold_user_pairs": written.filter("is_cold").count(),
            "pairs_with_a_tail_item": written.filter(F.col("tail_i") | F.col("tail_j")).count(),
            "path": dg.MetadataValue.path(path),
        }
    )


slmr_assets = [slmr_candidates, slmr_scores, llm_pairwise_supervision]
