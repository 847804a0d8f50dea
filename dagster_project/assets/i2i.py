"""LLM-I2I assets: synthetic interactions for long-tail items, their discrimination, the fused
training interactions, Swing / co-occurrence recomputed on them, and SFT exports."""

import json
from collections import Counter

import dagster as dg
from pyspark.sql import functions as F

from dagster_project.assets.llm_tasks import engine_has_logprobs, job_metadata, run_task
from dagster_project.assets.table_io import (
    asset_key,
    read_spark,
    write_arrow,
    write_spark,
)
from dagster_project.llm_resource import LLMEngineResource
from dagster_project.partitions import daily_partitions
from dagster_project.resources import (
    FeaturesResource,
    I2ISynthesisResource,
    SparkResource,
    WarehouseResource,
)
from llm_jobs.tasks.i2i import (
    discriminator_task,
    generator_task,
    judgements,
    synthetic_picks,
)
from llm_jobs.tasks.i2i_sft import discriminator_sft_records, generator_sft_records
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


@dg.asset(
    key=asset_key("llm/i2i_synthetic"),
    group_name=GROUP,
    deps=[asset_key("features/splits"), asset_key("features/item_features"), asset_key("features/i2i_pairs")],
    partitions_def=daily_partitions,
    description="Generator: per selected user, up to k long-tail items picked from C candidates, timestamped at the user's last training interaction.",
)
def i2i_synthetic(
    context: dg.AssetExecutionContext,
    spark: SparkResource,
    warehouse: WarehouseResource,
    llm: LLMEngineResource,
    i2i_synthesis: I2ISynthesisResource,
) -> dg.MaterializeResult:
    wh, partition, cfg, session = warehouse.warehouse, context.partition_key, i2i_synthesis.config(), spark.session
    splits = read_spark(session, wh, "features/splits", partition)
    rows = generator_inputs(
        splits,
        read_spark(session, wh, "features/item_features", partition),
        read_spark(session, wh, "features/i2i_pairs", partition),
        cfg,
    ).toArrow()
    result, accepted = run_task(llm, wh, generator_task(cfg.max_picks), rows, partition)
    picks = synthetic_picks(accepted)
    synthetic = synthetic_interactions(session.createDataFrame(picks), splits)
    path = write_spark(synthetic, wh, "llm/i2i_synthetic", partition)
    return dg.MaterializeResult(
        metadata={
            "users_prompted": rows.num_rows,
            "synthetic_pairs_generated": picks.num_rows,
            "users_with_no_pick": sum(not json.loads(o)["picks"] for o in accepted["output"].to_pylist()),
            "path": dg.MetadataValue.path(path),
            **job_metadata(result),
        }
    )


@dg.asset(
    key=asset_key("llm/i2i_judgements"),
    group_name=GROUP,
    deps=[asset_key("llm/i2i_synthetic"), asset_key("features/splits"), asset_key("features/item_features")],
    partitions_def=daily_partitions,
    description="Discriminator: P(yes) for every synthetic pair, a sample of real ones and of random negatives; `kept` applies the thresholds.",
)
def i2i_judgements(
    context: dg.AssetExecutionContext,
    spark: SparkResource,
    warehouse: WarehouseResource,
    llm: LLMEngineResource,
    i2i_synthesis: I2ISynthesisResource,
) -> dg.MaterializeResult:
    wh, partition, cfg, session = warehouse.warehouse, context.partition_key, i2i_synthesis.config(), spark.session
    rows = discriminator_inputs(
        read_spark(session, wh, "llm/i2i_synthetic", partition),
        read_spark(session, wh, "features/splits", partition),
        read_spark(session, wh, "features/item_features", partition),
        cfg,
    ).toArrow()
    logprobs = engine_has_logprobs(llm)
    result, accepted = run_task(llm, wh, discriminator_task(logprobs), rows, partition, logprobs=logprobs)
    verdicts = judgements(accepted, cfg.keep_synthetic_at, cfg.drop_real_below)
    path = write_arrow(verdicts, wh, "llm/i2i_judgements", partition)
    counts = Counter(zip(verdicts["source"].to_pylist(), verdicts["kept"].to_pylist()))
    return dg.MaterializeResult(
        metadata={
            "synthetic_judged": counts[("synthetic", True)] + counts[("synthetic", False)],
            "synthetic_kept": counts[("synthetic", True)],
            "real_judged": counts[("real", True)] + counts[("real", False)],
            "real_dropped": counts[("real", False)],
            "negatives_judged": counts[("negative", False)],
            "p_yes_from": "logprobs" if logprobs else "confidence",
            "path": dg.MetadataValue.path(path),
            **job_metadata(result),
        }
    )


@dg.asset(
    key=asset_key("llm/i2i_train_interactions"),
    group_name=GROUP,
    deps=[asset_key("llm/i2i_judgements"), asset_key("llm/i2i_synthetic"), asset_key("features/splits")],
    partitions_def=daily_partitions,
    description="Training interactions after discrimination: real ones not dropped plus kept synthetic ones, with source and judge_p_yes.",
)
def i2i_train_interactions(
    context: dg.AssetExecutionContext, spark: SparkResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    wh, partition, session = warehouse.warehouse, context.partition_key, spark.session
    fused = fused_interactions(
        read_spark(session, wh, "features/splits", partition),
        read_spark(session, wh, "llm/i2i_synthetic", partition),
        read_spark(session, wh, "llm/i2i_judgements", partition),
    )
    path = write_spark(fused, wh, "llm/i2i_train_interactions", partition)
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


@dg.asset(
    key=asset_key("llm/i2i_pairs"),
    group_name=GROUP,
    deps=[asset_key("llm/i2i_train_interactions"), asset_key("features/i2i_pairs"), asset_key("features/item_features")],
    partitions_def=daily_partitions,
    description="Top-K item neighbours by Swing and co-occurrence, recomputed on the fused training interactions.",
)
def fused_i2i_pairs(
    context: dg.AssetExecutionContext, spark: SparkResource, warehouse: WarehouseResource, features: FeaturesResource
) -> dg.MaterializeResult:
    wh, partition, session = warehouse.warehouse, context.partition_key, spark.session
    fused = read_spark(session, wh, "llm/i2i_train_interactions", partition)
    path = write_spark(i2i_pairs(fused, features.config().i2i), wh, "llm/i2i_pairs", partition)
    items = read_spark(session, wh, "features/item_features", partition)
    before = long_tail_coverage(read_spark(session, wh, "features/i2i_pairs", partition), items)
    after = long_tail_coverage(session.read.parquet(wh.to_uri(path)), items)
    return dg.MaterializeResult(
        metadata={
            **{f"long_tail_coverage_before.{method}": round(share, 4) for method, share in before.items()},
            **{f"long_tail_coverage_after.{method}": round(share, 4) for method, share in after.items()},
            "path": dg.MetadataValue.path(path),
        }
    )


@dg.asset(
    key=asset_key("llm/i2i_sft_examples"),
    group_name=GROUP,
    deps=[asset_key("features/splits"), asset_key("features/item_features")],
    partitions_def=daily_partitions,
    description="SFT JSONL for fine-tuning a generator (history -> next item, long-tail targets up-weighted) and a discriminator.",
)
def i2i_sft_examples(
    context: dg.AssetExecutionContext,
    spark: SparkResource,
    warehouse: WarehouseResource,
    i2i_synthesis: I2ISynthesisResource,
) -> dg.MaterializeResult:
    wh, partition, cfg, session = warehouse.warehouse, context.partition_key, i2i_synthesis.config(), spark.session
    generator_rows, discriminator_rows = sft_examples(
        read_spark(session, wh, "features/splits", partition),
        read_spark(session, wh, "features/item_features", partition),
        cfg,
    )
    directory = wh.table_path("llm", "i2i_sft_examples", partition)
    counts = {}
    for name, records in (
        ("generator", generator_sft_records(generator_rows.toArrow(), generator_task(cfg.max_picks))),
        ("discriminator", discriminator_sft_records(discriminator_rows.toArrow(), discriminator_task(logprobs=True))),
    ):
        lines = [json.dumps(record, ensure_ascii=False) for record in records]
        wh.write_text_atomic(f"{directory}/{name}.jsonl", "".join(f"{line}\n" for line in lines))
        counts[f"{name}_examples"] = len(lines)
    return dg.MaterializeResult(metadata={**counts, "path": dg.MetadataValue.path(directory)})


i2i_assets = [i2i_synthetic, i2i_judgements, i2i_train_interactions, fused_i2i_pairs, i2i_sft_examples]
