"""LLM-I2I assets: synthetic interactions for long-tail items, their discrimination, the fused
training interactions, Swing / co-occurrence recomputed on them, and SFT exports."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import dagster as dg
import pyarrow as pa
import pyarrow.fs as pafs
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from dagster_project.assets.llm_tasks import (
    daily_asset,
    engine_has_logprobs,
    job_metadata,
    run_llm_step,
    spark_prompt_inputs,
)
from dagster_project.assets.table_io import asset_key, read_spark, write_arrow, write_spark
from dagster_project.llm_resource import LLMEngineResource
from dagster_project.partitions import daily_partitions
from dagster_project.resources import (
    FeaturesResource,
    I2ISynthesisResource,
    SparkResource,
    WarehouseResource,
)
from llm_jobs.accounting import JobResult
from llm_jobs.tasks.i2i import discriminator_step, generator_metadata, generator_step, judgement_metadata
from llm_jobs.tasks.i2i_sft import EXPORTS, sft_lines
from schemas.registry import Features, Llm, TableSpec
from storage.warehouse import Warehouse
from transforms.config import I2ISynthesisConfig
from transforms.i2i import i2i_pairs
from transforms.i2i_synthesis import (
    discriminator_inputs,
    fused_interactions,
    generator_inputs,
    long_tail_coverage,
    sft_examples,
    synthetic_interactions,
)

GROUP = "llm_i2i"


@dataclass(frozen=True)
class _Run:
    """What an I2I LLM asset runs with."""

    session: SparkSession
    wh: Warehouse
    partition: str
    llm: LLMEngineResource
    cfg: I2ISynthesisConfig


#: (run, the input tables read with Spark) -> the path written, the asset's numbers and the step's job.
_Materialize = Callable[..., tuple[str, dict, JobResult]]


def _llm_asset(table: TableSpec, inputs: Sequence[TableSpec], description: str, materialize: _Materialize):
    """The asset of `table`: `materialize` over `inputs`, its numbers then the job's."""

    @daily_asset(table, GROUP, inputs, description)
    def _asset(
        context: dg.AssetExecutionContext,
        spark: SparkResource,
        warehouse: WarehouseResource,
        llm: LLMEngineResource,
        i2i_synthesis: I2ISynthesisResource,
    ) -> dg.MaterializeResult:
        run = _Run(spark.session, warehouse.warehouse, context.partition_key, llm, i2i_synthesis.config())
        frames = [read_spark(run.session, run.wh, spec, run.partition) for spec in inputs]
        path, metadata, job = materialize(run, *frames)
        return dg.MaterializeResult(metadata={**metadata, "path": dg.MetadataValue.path(path), **job_metadata(job)})

    return _asset


def _synthetic(run: _Run, splits: DataFrame, items: DataFrame, pairs: DataFrame) -> tuple[str, dict, JobResult]:
    step = generator_step(run.cfg.max_picks)
    rows = spark_prompt_inputs(generator_inputs(splits, items, pairs, run.cfg), run.wh, step.task, run.partition)
    picks = run_llm_step(run.llm, run.wh, step, rows, run.partition)
    synthetic = synthetic_interactions(run.session.createDataFrame(picks.rows), splits)
    return write_spark(synthetic, run.wh, Llm.I2I_SYNTHETIC, run.partition), generator_metadata(picks), picks.job


def _judgements(run: _Run, synthetic: DataFrame, splits: DataFrame, items: DataFrame) -> tuple[str, dict, JobResult]:
    logprobs = engine_has_logprobs(run.llm)
    step = discriminator_step(logprobs, run.cfg.keep_synthetic_at, run.cfg.drop_real_below)
    rows = spark_prompt_inputs(
        discriminator_inputs(synthetic, splits, items, run.cfg), run.wh, step.task, run.partition
    )
    verdicts = run_llm_step(run.llm, run.wh, step, rows, run.partition, logprobs=logprobs)
    path = write_arrow(verdicts.rows, run.wh, Llm.I2I_JUDGEMENTS, run.partition)
    return path, judgement_metadata(verdicts.rows, logprobs), verdicts.job


i2i_synthetic = _llm_asset(
    Llm.I2I_SYNTHETIC,
    (Features.SPLITS, Features.ITEM_FEATURES, Features.I2I_PAIRS),
    "Generator: per selected user, up to k long-tail items picked from C candidates, timestamped at the user's "
    "last training interaction.",
    _synthetic,
)
i2i_judgements = _llm_asset(
    Llm.I2I_JUDGEMENTS,
    (Llm.I2I_SYNTHETIC, Features.SPLITS, Features.ITEM_FEATURES),
    "Discriminator: P(yes) for every synthetic pair, a sample of real ones and of random negatives; `kept` "
    "applies the thresholds.",
    _judgements,
)


@daily_asset(
    Llm.I2I_TRAIN_INTERACTIONS,
    GROUP,
    [Llm.I2I_JUDGEMENTS, Llm.I2I_SYNTHETIC, Features.SPLITS],
    "Training interactions after discrimination: real ones not dropped plus kept synthetic ones, with source "
    "and judge_p_yes.",
)
def i2i_train_interactions(
    context: dg.AssetExecutionContext, spark: SparkResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    wh, partition, session = warehouse.warehouse, context.partition_key, spark.session
    fused = fused_interactions(
        read_spark(session, wh, Features.SPLITS, partition),
        read_spark(session, wh, Llm.I2I_SYNTHETIC, partition),
        read_spark(session, wh, Llm.I2I_JUDGEMENTS, partition),
    )
    path = write_spark(fused, wh, Llm.I2I_TRAIN_INTERACTIONS, partition)
    written = session.read.parquet(wh.to_uri(path))
    by_source = {row["source"]: row["count"] for row in written.groupBy("source").count().collect()}
    synthetic = written.filter(F.col("source") == "synthetic")
    return dg.MaterializeResult(
        metadata={
            "real_rows": by_source.get("real", 0),
            "synthetic_rows": by_source.get("synthetic", 0),
            "long_tail_items_gained_interactions": synthetic.select("item_idx").distinct().count(),
            "path": dg.MetadataValue.path(path),
        }
    )


@daily_asset(
    Llm.I2I_PAIRS,
    GROUP,
    [Llm.I2I_TRAIN_INTERACTIONS, Features.I2I_PAIRS, Features.ITEM_FEATURES],
    "Top-K item neighbours by Swing and co-occurrence, recomputed on the fused training interactions.",
)
def fused_i2i_pairs(
    context: dg.AssetExecutionContext, spark: SparkResource, warehouse: WarehouseResource, features: FeaturesResource
) -> dg.MaterializeResult:
    wh, partition, session = warehouse.warehouse, context.partition_key, spark.session
    fused = read_spark(session, wh, Llm.I2I_TRAIN_INTERACTIONS, partition)
    path = write_spark(i2i_pairs(fused, features.config().i2i), wh, Llm.I2I_PAIRS, partition)
    items = read_spark(session, wh, Features.ITEM_FEATURES, partition)
    before = long_tail_coverage(read_spark(session, wh, Features.I2I_PAIRS, partition), items)
    after = long_tail_coverage(session.read.parquet(wh.to_uri(path)), items)
    return dg.MaterializeResult(
        metadata={
            **{f"long_tail_coverage_before.{method}": round(share, 4) for method, share in before.items()},
            **{f"long_tail_coverage_after.{method}": round(share, 4) for method, share in after.items()},
            "path": dg.MetadataValue.path(path),
        }
    )


# JSONL files, not a table: the registry has no spec for them.
SFT_EXAMPLES = ("llm", "i2i_sft_examples")


def write_sft_export(wh: Warehouse, rows: DataFrame, export: str, max_picks: int, folder: str) -> None:
    """`rows` rendered by Spark's Python workers as `export`'s JSONL records (`sft_lines`), a
    `part-*.jsonl` file per Spark partition in `folder`, in `rows`' order."""

    def render(batches):
        for batch in batches:
            yield pa.RecordBatch.from_arrays([sft_lines(export, batch, max_picks)], names=["value"])

    rows.mapInArrow(render, "value string").write.mode("overwrite").text(wh.to_uri(folder))
    # Spark names text parts `.txt`; trainers pick JSONL files by extension.
    for info in wh.fs.get_file_info(pafs.FileSelector(folder)):
        if info.base_name.startswith("part-") and info.base_name.endswith(".txt"):
            wh.fs.move(info.path, info.path.removesuffix(".txt") + ".jsonl")


def sft_rows(splits: DataFrame, items: DataFrame, cfg: I2ISynthesisConfig) -> dict[str, DataFrame]:
    """Each export's rows (`sft_examples`), in the order its files list them."""
    generator, discriminator = sft_examples(splits, items, cfg)
    return {"generator": generator.orderBy("user_idx"), "discriminator": discriminator.orderBy("user_idx", "item_idx")}


@dg.asset(
    key=dg.AssetKey(list(SFT_EXAMPLES)),
    group_name=GROUP,
    deps=[asset_key(Features.SPLITS), asset_key(Features.ITEM_FEATURES)],
    partitions_def=daily_partitions,
    description="SFT JSONL for fine-tuning a generator (history -> next item, long-tail targets up-weighted) and a "
    "discriminator: `generator/` and `discriminator/`, each a folder of JSONL part files.",
)
def i2i_sft_examples(
    context: dg.AssetExecutionContext,
    spark: SparkResource,
    warehouse: WarehouseResource,
    i2i_synthesis: I2ISynthesisResource,
) -> dg.MaterializeResult:
    wh, partition, cfg, session = warehouse.warehouse, context.partition_key, i2i_synthesis.config(), spark.session
    splits = read_spark(session, wh, Features.SPLITS, partition)
    items = read_spark(session, wh, Features.ITEM_FEATURES, partition)
    directory = wh.table_path(*SFT_EXAMPLES, partition)
    with wh.staged_dir(directory) as staging:
        for name, rows in sft_rows(splits, items, cfg).items():
            write_sft_export(wh, rows, name, cfg.max_picks, f"{staging}/{name}")
    counts = {
        f"{name}_examples": session.read.text(wh.to_uri(f"{wh.resolve(directory)}/{name}")).count() for name in EXPORTS
    }
    return dg.MaterializeResult(metadata={**counts, "path": dg.MetadataValue.path(directory)})


i2i_assets = [i2i_synthetic, i2i_judgements, i2i_train_interactions, fused_i2i_pairs, i2i_sft_examples]
