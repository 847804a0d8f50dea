"""Evaluation assets: what each augmentation buys, measured on the published sets.

`evaluation/scorer_probe` asks the S-LLMR scorer about users' valid items among random ones (its
AUC); `evaluation/report` trains every consumer model without and with its augmentation
(`evaluation.run`) and writes the report table, a markdown summary and an HTML page; the report
is published as `evaluation_report` like every other set.
"""

import time

import dagster as dg
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dagster_project.assets.llm_tasks import job_metadata, run_llm_step
from dagster_project.assets.published import EVALUATED_SNAPSHOT, SNAPSHOT_KEY
from dagster_project.assets.table_io import (
    asset_key,
    read_arrow,
    read_spark,
    write_arrow,
)
from dagster_project.llm_resource import LLMEngineResource
from dagster_project.partitions import daily_partitions
from dagster_project.resources import (
    EvaluationResource,
    FeaturesResource,
    I2ISynthesisResource,
    SLMRResource,
    SparkResource,
    WarehouseResource,
)
from evaluation.inputs import evaluation_inputs, judgements_from, scorer_probe_from
from evaluation.loader import PublishedSets
from evaluation.report import html_report, markdown_summary, report_table
from evaluation.run import NeighbourFn, evaluate
from llm_jobs.tasks.slmr import scoring_step
from schemas.llm_outputs import SCORER_PROBE
from schemas.registry import Evaluation, Features, Llm
from storage.published_layout import snapshot_of
from transforms.config import I2IConfig
from transforms.i2i import i2i_pairs
from transforms.judge_probes import scorer_probe_sets

GROUP = "evaluation"
def report_dir(warehouse: WarehouseResource, partition: str) -> str:
    """Where the report's HTML page and markdown summary of a partition are written."""
    return warehouse.warehouse.path("evaluation", "report_pages", f"date={partition}")


@dg.asset(
    key=asset_key(Evaluation.SCORER_PROBE),
    group_name=GROUP,
    deps=[asset_key(Features.SPLITS), asset_key(Features.ITEM_FEATURES)],
    partitions_def=daily_partitions,
    description="The S-LLMR scorer's scores of users' valid items among random ones: its AUC in the report.",
)
def scorer_probe(
    context: dg.AssetExecutionContext,
    spark: SparkResource,
    warehouse: WarehouseResource,
    llm: LLMEngineResource,
    slmr: SLMRResource,
    evaluation: EvaluationResource,
) -> dg.MaterializeResult:
    wh, partition, session, cfg = warehouse.warehouse, context.partition_key, spark.session, evaluation.config()
    splits = read_spark(session, wh, Features.SPLITS, partition)
    prompts = scorer_probe_sets(
        splits,
        read_spark(session, wh, Features.ITEM_FEATURES, partition),
        cfg.probe_users,
        cfg.probe_negatives,
        slmr.history_length,
        slmr.seed,
    ).toArrow()
    run = run_llm_step(llm, wh, scoring_step(cfg.probe_negatives + 1, SCORER_PROBE), prompts, partition)
    scores = run.rows
    valid = splits.filter("split = 'valid'").select("user_idx", "item_idx").toArrow()
    valid_keys = pc.binary_join_element_wise(pc.cast(valid["user_idx"], pa.string()), pc.cast(valid["item_idx"], pa.string()), ":")
    keys = pc.binary_join_element_wise(pc.cast(scores["user_idx"], pa.string()), pc.cast(scores["item_idx"], pa.string()), ":")
    labelled = scores.append_column("is_valid", pc.is_in(keys, value_set=valid_keys)).cast(Evaluation.SCORER_PROBE.schema)
    path = write_arrow(labelled, wh, Evaluation.SCORER_PROBE, partition)
    return dg.MaterializeResult(
        metadata={"prompts": prompts.num_rows, "scores": labelled.num_rows, "path": dg.MetadataValue.path(path), **job_metadata(run.job)}
    )


def spark_neighbours(session, cfg: I2IConfig) -> NeighbourFn:
    """The pipeline's own Swing and co-occurrence (transforms.i2i) on given interactions."""

    def neighbours(users: np.ndarray, items: np.ndarray, ts: np.ndarray):
        rows = pa.table(
            {
                "user_idx": pa.array(users, pa.int32()),
                "item_idx": pa.array(items, pa.int32()),
                "ts": pa.array(ts, pa.int64()).cast(pa.timestamp("s", tz="UTC")),
            }
        )
        pairs = i2i_pairs(session.createDataFrame(rows), cfg).toArrow()
        by_method = {}
        for method in ("swing", "cooccurrence"):
            chosen = pairs.filter(pc.equal(pairs["method"], method))
            by_method[method] = tuple(chosen[c].to_numpy() for c in ("item_idx", "neighbor_idx", "score"))
        return by_method

    return neighbours


@dg.asset(
    key=asset_key(Evaluation.REPORT),
    group_name=GROUP,
    deps=[SNAPSHOT_KEY, asset_key(Llm.I2I_JUDGEMENTS), scorer_probe.key],
    partitions_def=daily_partitions,
    description="Every augmentation's consumer model trained without and with it (same split and seeds) on the partition's snapshot, selected on valid, reported on test.",
)
def evaluation_report(
    context: dg.AssetExecutionContext,
    spark: SparkResource,
    warehouse: WarehouseResource,
    features: FeaturesResource,
    i2i_synthesis: I2ISynthesisResource,
    evaluation: EvaluationResource,
) -> dg.MaterializeResult:
    started = time.monotonic()
    wh, partition = warehouse.warehouse, context.partition_key
    snapshot = snapshot_of(wh, partition)
    if snapshot is None:
        raise dg.Failure(description=f"nothing was published for {partition}: publish the day before evaluating it")
    inputs = evaluation_inputs(
        PublishedSets(warehouse.base_url, snapshot.id),
        judgements_from(read_arrow(wh, Llm.I2I_JUDGEMENTS, partition), i2i_synthesis.keep_synthetic_at),
        scorer_probe_from(read_arrow(wh, Evaluation.SCORER_PROBE, partition)),
    )
    result = evaluate(inputs, spark_neighbours(spark.session, features.config().i2i), evaluation.config())
    report = report_table(result.rows).replace_schema_metadata({EVALUATED_SNAPSHOT: snapshot.id.encode()})
    path = write_arrow(report, wh, Evaluation.REPORT, partition)
    summary = markdown_summary(result.rows, result.judges)
    if result.skipped:
        summary += "\n\nNot evaluated: " + "; ".join(f"{name} ({why})" for name, why in result.skipped.items())
    pages = report_dir(warehouse, partition)
    page = f"{pages}/report.html"
    wh.write_text_atomic(page, html_report(result.rows, result.judges, result.plots, f"recaug evaluation, {partition}"))
    wh.write_text_atomic(f"{pages}/summary.md", summary)
    return dg.MaterializeResult(
        metadata={
            "summary": dg.MetadataValue.md(summary),
            "report": dg.MetadataValue.path(page),
            "rows": len(result.rows),
            "snapshot": snapshot.id,
            "seconds": round(time.monotonic() - started, 1),
            "path": dg.MetadataValue.path(path),
        }
    )


evaluation_assets = [scorer_probe, evaluation_report]
