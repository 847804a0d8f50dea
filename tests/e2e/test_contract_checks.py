"""The blocking `contract` checks of the raw, feature and LLM warehouse tables, and the LLM
quality rates they read from job run records."""

import dagster as dg
import pytest
from pydantic import BaseModel, ValidationError
from pyspark.sql import functions as F

from dagster_project.assets import all_assets, contract_checks
from dagster_project.assets.contracts import CONTRACT_CHECK
from llm_jobs.task import HALLUCINATED_ID, INVALID, UNPARSEABLE, CandidateId, failure_kind
from schemas.contracts import ValidationThresholds
from schemas.tables import SPLITS
from validation import load_for_validation, same_engine, validate_table
from validation.llm_rates import job_rate_checks

NOT_A_TABLE = {"llm/i2i_sft_examples"}  # JSONL files for fine-tuning, not a Parquet table


def _warehouse_tables() -> set[str]:
    keys = {key.to_user_string() for asset in all_assets for key in asset.keys}
    return {key for key in keys if not key.startswith("published/")} - NOT_A_TABLE


def test_every_warehouse_table_has_a_blocking_partitioned_contract_check():
    specs = {spec.asset_key.to_user_string(): spec for checks in contract_checks for spec in checks.check_specs}

    assert set(specs) == _warehouse_tables()
    assert all(spec.name == CONTRACT_CHECK and spec.blocking for spec in specs.values())
    assert all(checks.partitions_def is not None for checks in contract_checks)


def _run(task: str, answers: int, unparseable: int = 0, hallucinated: int = 0, reject_rate: float = 0.0) -> dict:
    return {
        "run_id": "r1", "task": task, "rows": answers, "answers": answers, "unparseable": unparseable,
        "hallucinated_ids": hallucinated, "reject_rate": reject_rate,
    }  # fmt: skip


def test_job_rates_block_on_the_reject_rate_and_warn_on_parse_rate_and_hallucinated_ids():
    thresholds = ValidationThresholds(min_parse_rate=0.8, max_reject_rate=0.2)
    runs = {"ok": _run("ok", 10, unparseable=2), "bad": _run("bad", 10, unparseable=3, hallucinated=1, reject_rate=0.3)}

    results = {(r.name, r.column): r for r in job_rate_checks(["ok", "bad", "never_ran"], runs, thresholds, 10)}

    assert results["llm_parse_rate", "ok"].success and results["llm_parse_rate", "ok"].observed["rate"] == 0.8
    assert not results["llm_parse_rate", "bad"].success and results["llm_parse_rate", "bad"].severity == "warning"
    assert not results["llm_reject_rate", "bad"].success
    hallucinated = results["llm_hallucinated_id_rate", "bad"]
    assert (hallucinated.success, hallucinated.severity, hallucinated.observed["rate"]) == (False, "warning", 0.1)
    assert results["llm_hallucinated_id_rate", "ok"].success
    assert not results["llm_job_ran", "never_ran"].success
    (empty,) = job_rate_checks(["never_ran"], {}, thresholds, table_rows=0)
    assert empty.success and "nothing was prompted" in empty.message


class _Pick(BaseModel):
    item: CandidateId
    score: int


@pytest.mark.parametrize(
    "text, kind",
    [('{"item": "7", "score": 1', UNPARSEABLE), ('{"item": "9", "score": 1}', HALLUCINATED_ID), ('{"item": "7"}', INVALID)],
)
def test_failed_outputs_are_told_apart(text, kind):
    with pytest.raises(ValidationError) as error:
        _Pick.model_validate_json(text, context={"candidates": {"7", "8"}})

    assert failure_kind(error.value) == kind


def _evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations()}


def test_the_synthetic_run_passes_every_contract_with_llm_rates_measured(synthetic_run):
    evaluations = _evaluations(synthetic_run.result)

    assert _warehouse_tables() <= set(evaluations)
    failed = {key: e.metadata["failures"].value for key, e in evaluations.items() if not e.passed}
    assert not failed
    scores = evaluations["llm/slmr_scores"].metadata
    assert scores["validated_on"].value == "arrow" and scores["rows"].value > 0
    assert scores["failed_errors"].value == 0


def test_a_broken_feature_table_fails_its_contract_with_the_offending_rows(synthetic_run, spark):
    """What the features/splits check runs, on Spark as for a large table (the threshold forces it)."""
    wh, partition = synthetic_run.wh, synthetic_run.partition
    thresholds = ValidationThresholds(spark_above_rows=0)
    splits = load_for_validation(wh, wh.table_path("features", "splits", partition), SPLITS, thresholds, lambda: spark)
    broken = splits.withColumn("user_idx", F.when(F.col("item_idx") == 0, F.lit(10**6)).otherwise(F.col("user_idx")))
    id_maps = same_engine(wh, wh.table_path("features", "id_maps", partition), splits)

    report = validate_table("features/splits", broken, id_maps, None, schema=SPLITS, thresholds=thresholds)

    assert (report.engine, report.passed) == ("spark", False)
    failure = {f.name: f for f in report.failures()}["ids_present_in_id_maps"]
    assert (failure.column, failure.sample_values) == ("user_idx", [10**6])
    assert {row["item_idx"] for row in failure.sample_rows} == {0}


def test_an_empty_llm_table_with_no_job_run_passes_its_contract():
    """A cap of 0 prompts nobody: the table is empty and no job ran."""
    from schemas.registry import table_schema
    from schemas.tables import ID_MAPS

    schema = table_schema("llm/reaseq_item_knowledge", ["style"], 4)

    report = validate_table("llm/reaseq_item_knowledge", schema.empty_table(), ID_MAPS.empty_table(), None, schema=schema, llm_runs={})

    assert report.passed, report.failures()
    assert report.row_count == 0
