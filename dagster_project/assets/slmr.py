"""S-LLMR assets: candidate sets, LLM scores, and the pairwise supervision with gate inputs."""

from collections.abc import Callable, Sequence

import dagster as dg
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from dagster_project.assets.llm_tasks import daily_asset, job_metadata, run_llm_step, spark_prompt_inputs, spark_table
from dagster_project.assets.table_io import read_spark, write_spark
from dagster_project.llm_resource import LLMEngineResource
from dagster_project.resources import SLMRResource, SparkResource, WarehouseResource
from llm_jobs.tasks.slmr import score_metadata, scoring_step
from schemas.registry import Features, Llm, TableSpec
from transforms.slmr import candidate_sets, normalized_scores, pairwise_supervision

GROUP = "llm_slmr"


def _spark_asset(
    table: TableSpec,
    inputs: Sequence[TableSpec],
    description: str,
    build: Callable[..., DataFrame],
    summarize: Callable[[DataFrame], dict],
):
    """The asset of `table`: `build(*inputs, slmr config)` with Spark, and `summarize` of the table as written."""

    @daily_asset(table, GROUP, inputs, description)
    def _asset(
        context: dg.AssetExecutionContext, spark: SparkResource, warehouse: WarehouseResource, slmr: SLMRResource
    ) -> dg.MaterializeResult:
        config = slmr.config()
        path, written = spark_table(
            spark, warehouse.warehouse, context.partition_key, table, inputs, lambda *frames: build(*frames, config)
        )
        return dg.MaterializeResult(metadata={**summarize(written), "path": dg.MetadataValue.path(path)})

    return _asset


def _prompts_per_set(candidates: DataFrame) -> dict:
    counts = {row["candidate_set"]: row["count"] for row in candidates.groupBy("candidate_set").count().collect()}
    return {f"prompts.{name}": n for name, n in counts.items()}


def _pair_counts(pairs: DataFrame) -> dict:
    return {
        "pairs": pairs.count(),
        "cold_user_pairs": pairs.filter("is_cold").count(),
        "pairs_with_a_tail_item": pairs.filter(F.col("tail_i") | F.col("tail_j")).count(),
    }


slmr_candidates = _spark_asset(
    Llm.SLMR_CANDIDATES,
    (Features.SPLITS, Features.USER_FEATURES, Features.ITEM_FEATURES),
    "Per (user, candidate set): recent history and N candidates (popular, cold-user diverse, long-tail).",
    candidate_sets,
    _prompts_per_set,
)


@daily_asset(
    Llm.SLMR_SCORES,
    GROUP,
    [Llm.SLMR_CANDIDATES],
    "The LLM's score of every candidate, normalized per prompt; a missing score is filled and flagged.",
)
def slmr_scores(
    context: dg.AssetExecutionContext,
    spark: SparkResource,
    warehouse: WarehouseResource,
    llm: LLMEngineResource,
    slmr: SLMRResource,
) -> dg.MaterializeResult:
    wh, partition, cfg, session = warehouse.warehouse, context.partition_key, slmr.config(), spark.session
    step = scoring_step(cfg.candidates)
    prompts = spark_prompt_inputs(read_spark(session, wh, Llm.SLMR_CANDIDATES, partition), wh, step.task, partition)
    run = run_llm_step(llm, wh, step, prompts, partition)
    path = write_spark(normalized_scores(session.createDataFrame(run.rows), cfg), wh, Llm.SLMR_SCORES, partition)
    return dg.MaterializeResult(
        metadata={**score_metadata(run.rows), "path": dg.MetadataValue.path(path), **job_metadata(run.job)}
    )


llm_pairwise_supervision = _spark_asset(
    Llm.LLM_PAIRWISE_SUPERVISION,
    (Llm.SLMR_SCORES, Features.USER_FEATURES, Features.ITEM_FEATURES),
    "Per prompt, the K largest-gap pairs (i, j) with s_i > s_j, beside the gate's inputs.",
    pairwise_supervision,
    _pair_counts,
)


slmr_assets = [slmr_candidates, slmr_scores, llm_pairwise_supervision]
