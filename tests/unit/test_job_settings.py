"""LLMJobConfig rejects settings that would make a job silently wrong, naming the setting."""

from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from llm_jobs.config import LLMJobConfig
from llm_jobs.handler import DEFAULT_BATCH_SIZE, Batching, batching


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        # 0 attempts judged no row, yet the run record counted every row as accepted.
        ({"max_attempts": 0}, "max_attempts"),
        ({"min_batch_size": 0}, "min_batch_size"),
        ({"min_batch_size": -1}, "min_batch_size"),
        ({"max_batch_size": 0}, "max_batch_size"),
        # Below 0 every job failed on its reject rate, even with no reject.
        ({"max_reject_rate": -1}, "max_reject_rate"),
        ({"max_reject_rate": 1.5}, "max_reject_rate"),
        ({"runner": ""}, "runner"),
    ],
)
def test_out_of_bound_settings_are_rejected_by_name(settings, named):
    with pytest.raises(ValidationError) as caught:
        LLMJobConfig(**settings)
    assert [error["loc"] for error in caught.value.errors()] == [(named,)]


def test_max_batch_size_below_min_batch_size_is_rejected_when_given():
    with pytest.raises(ValidationError, match="max_batch_size 2 is below min_batch_size 4") as caught:
        LLMJobConfig(min_batch_size=4, max_batch_size=2)
    assert caught.value.errors()[0]["loc"] == ("max_batch_size",)


def test_the_bounds_themselves_are_accepted():
    config = LLMJobConfig(min_batch_size=3, max_batch_size=3, max_attempts=1, max_reject_rate=0)
    assert (config.min_batch_size, config.max_batch_size, config.max_attempts) == (3, 3, 1)
    assert LLMJobConfig(max_reject_rate=1).max_reject_rate == 1


def test_defaults_and_options_are_kept_and_the_config_is_frozen():
    config = LLMJobConfig(runner="FlinkRunner", pipeline_options={"flink_master": "localhost:8081"})
    assert config.pipeline_options == {"flink_master": "localhost:8081"} and LLMJobConfig().pipeline_options == {}
    assert (config.min_batch_size, config.max_batch_size, config.max_attempts, config.max_reject_rate) == (1, None, 3, 0.2)
    with pytest.raises(ValidationError):
        config.max_attempts = 0


def test_batches_follow_the_engines_preference_unless_configured():
    fleet, plain = SimpleNamespace(preferred_batch_size=256), SimpleNamespace()

    assert batching(LLMJobConfig(), fleet) == Batching(1, 256)
    assert batching(LLMJobConfig(), plain) == Batching(1, DEFAULT_BATCH_SIZE)
    assert batching(LLMJobConfig(min_batch_size=4, max_batch_size=16), fleet) == Batching(4, 16)
    assert batching(LLMJobConfig(min_batch_size=64), plain) == Batching(DEFAULT_BATCH_SIZE, DEFAULT_BATCH_SIZE)
