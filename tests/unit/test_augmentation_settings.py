"""Feature and augmentation configs reject settings that cannot describe a working run, naming them."""

import pytest
from pydantic import ValidationError

from llm_jobs.augmentation_config import ReaseqConfig, ReformConfig
from transforms.config import FeatureConfig, I2ISynthesisConfig, SLMRConfig


@pytest.mark.parametrize(
    ("model", "settings", "named"),
    [
        (FeatureConfig, {"sequence_length": 0}, "sequence_length"),
        (FeatureConfig, {"long_tail_quantile": 1}, "long_tail_quantile"),
        (FeatureConfig, {"i2i": {"top_k": 0}}, "top_k"),
        (FeatureConfig, {"split": {"valid_days": 0}}, "valid_days"),
        (I2ISynthesisConfig, {"keep_synthetic_at": 1.5}, "keep_synthetic_at"),
        (SLMRConfig, {"candidates": 1}, "candidates"),
        (ReformConfig, {"users": -1}, "users"),
        (ReaseqConfig, {"interests": 0}, "interests"),
    ],
)
def test_out_of_bound_settings_are_rejected_by_name(model, settings, named):
    with pytest.raises(ValidationError) as caught:
        model(**settings)
    assert caught.value.errors()[0]["loc"][-1] == named


def test_llm_i2i_needs_at_least_one_candidate_per_prompt():
    with pytest.raises(ValidationError, match="from_neighbourhood \\+ from_categories \\+ random_candidates is 0"):
        I2ISynthesisConfig(from_neighbourhood=0, from_categories=0, random_candidates=0)
    assert I2ISynthesisConfig(from_neighbourhood=0, from_categories=0, random_candidates=1).candidates == 1


def test_slmr_popular_pool_holds_a_full_candidate_set():
    with pytest.raises(ValidationError, match="popular_pool 10 is below candidates 20") as caught:
        SLMRConfig(candidates=20, popular_pool=10)
    assert caught.value.errors()[0]["loc"] == ("popular_pool",)
    assert SLMRConfig(candidates=20, popular_pool=20).popular_pool == 20
