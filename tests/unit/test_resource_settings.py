"""Dagster resources take their fields and defaults from the configs they wrap; run config reaches them."""

import dagster as dg
import pytest

from dagster_project.llm_resource import LLMEngineResource, LLMJobSettings
from dagster_project.resources import FeaturesResource
from llm_jobs.config import LLMJobConfig
from transforms.config import FeatureConfig


def _resolved(resource_key: str, resource: dg.ConfigurableResource, config: dict):
    seen = {}

    @dg.asset(required_resource_keys={resource_key})
    def probe(context: dg.AssetExecutionContext) -> None:
        seen["resource"] = getattr(context.resources, resource_key)

    run_config = {"resources": {resource_key: {"config": config}}}
    dg.materialize([probe], resources={resource_key: resource}, run_config=run_config)
    return seen["resource"]


def test_resource_defaults_are_the_configs_defaults():
    assert FeaturesResource().config() == FeatureConfig()
    assert LLMEngineResource().job_config() == LLMJobConfig()


def test_nested_feature_settings_reach_the_feature_config():
    features = _resolved("features", FeaturesResource(), {"k_core": 5, "split": {"strategy": "time"}, "i2i": {"top_k": 7}})
    config = features.config()
    assert (config.k_core, config.split.strategy, config.i2i.top_k) == (5, "time", 7)
    assert config.split.valid_days == 7 and config.i2i.max_items_per_user == 100


def test_job_settings_from_run_config_reach_the_job_config():
    llm = _resolved("llm", LLMEngineResource(), {"job": {"max_batch_size": 1, "runner": "FlinkRunner"}})
    assert (llm.job_config().max_batch_size, llm.job_config().runner) == (1, "FlinkRunner")
    assert LLMEngineResource(job=LLMJobSettings(progress=False)).job_config().progress is False


@pytest.mark.parametrize(
    ("resource_key", "resource", "config", "named"),
    [
        ("llm", LLMEngineResource(), {"job": {"min_batch_size": 4, "max_batch_size": 2}}, "max_batch_size"),
        ("llm", LLMEngineResource(), {"job": {"max_reject_rate": -1}}, "max_reject_rate"),
        ("features", FeaturesResource(), {"split": {"test_days": 0}}, "test_days"),
    ],
)
def test_a_bad_setting_in_run_config_fails_the_run_before_any_asset_naming_it(resource_key, resource, config, named):
    with pytest.raises(dg.DagsterResourceFunctionError) as caught:
        _resolved(resource_key, resource, config)
    assert named in str(caught.value.__cause__)
