"""LLMEngineResource: configuration picks the engine and job settings; assets never name an engine."""

from __future__ import annotations

import pickle

import dagster as dg
import pytest
from support.llm_job_support import PARTITION, picks_task, review_rows

from dagster_project.llm_resource import BuildEngine, LLMEngineResource, LLMJobSettings
from llm_jobs.job import run_llm_job
from storage.warehouse import Warehouse

# Every test here talks to the embedded model, some through engines built in the test body.
pytestmark = pytest.mark.llm


def test_configured_resource_runs_a_job_with_the_embedded_engine(tmp_path):
    seen = {}

    @dg.asset
    def picks(llm: LLMEngineResource) -> dg.MaterializeResult:
        result = run_llm_job(
            picks_task(), review_rows(2), llm.engine_factory(), Warehouse(str(tmp_path)), PARTITION, llm.job_config()
        )
        seen["config"] = llm.job_config()
        return dg.MaterializeResult(metadata=result.as_metadata())

    run_config = {"resources": {"llm": {"config": {"job": {"max_batch_size": 1, "max_attempts": 2, "progress": False}}}}}
    outcome = dg.materialize([picks], resources={"llm": LLMEngineResource()}, run_config=run_config)

    assert outcome.success
    metadata = outcome.asset_materializations_for_node("picks")[0].metadata
    assert metadata["accepted"].value == 2 and metadata["requests_sent"].value == 2
    assert metadata["model_id"].value.startswith("llamacpp:SmolLM2-135M-Instruct")
    assert (seen["config"].max_batch_size, seen["config"].max_attempts) == (1, 2)


def test_zero_attempts_fail_the_run_by_name_instead_of_recording_untried_rows_as_accepted(tmp_path):
    @dg.asset
    def picks(llm: LLMEngineResource) -> dg.MaterializeResult:
        result = run_llm_job(
            picks_task(), review_rows(20), llm.engine_factory(), Warehouse(str(tmp_path)), PARTITION, llm.job_config()
        )
        return dg.MaterializeResult(metadata=result.as_metadata())

    # Before: the job tried no row, wrote no accepted row, and its run record said accepted=20, rejected=0.
    run_config = {"resources": {"llm": {"config": {"job": {"max_attempts": 0, "progress": False}}}}}
    with pytest.raises(dg.DagsterResourceFunctionError) as caught:
        dg.materialize([picks], resources={"llm": LLMEngineResource()}, run_config=run_config)

    assert "max_attempts" in str(caught.value.__cause__)
    assert list(tmp_path.iterdir()) == []  # no run record, no outputs


def test_engine_factories_are_picklable_keys_and_options_follow_the_kind():
    openai = LLMEngineResource(
        kind="openai",
        base_url="http://127.0.0.1:8000/v1",
        model="served-model",
        api_key_env="MY_KEY",
        structured_output="json_object",
        job=LLMJobSettings(runner="FlinkRunner", pipeline_options={"flink_master": "localhost:8081"}),
    )
    factory = openai.engine_factory()
    assert pickle.loads(pickle.dumps(factory)) == factory and hash(factory) == hash(openai.engine_factory())
    assert dict(factory.options)["structured_output"] == "json_object"
    assert dict(factory.options)["api_key_env"] == "MY_KEY" and "tensor_parallel_size" not in dict(factory.options)
    assert openai.job_config().pipeline_options == {"flink_master": "localhost:8081"}
    vllm = LLMEngineResource(kind="vllm", model="Qwen/Qwen2.5-0.5B-Instruct", tensor_parallel_size=2)
    assert vllm.engine_factory() == BuildEngine(
        "vllm",
        (("gpu_memory_utilization", 0.9), ("model", "Qwen/Qwen2.5-0.5B-Instruct"), ("tensor_parallel_size", 2)),
    )
    with pytest.raises(ValueError, match="needs base_url and model"):
        LLMEngineResource(kind="openai").engine_factory()
    with pytest.raises(ValueError, match="unknown engine kind 'tgi'"):
        LLMEngineResource(kind="tgi").engine_factory()
