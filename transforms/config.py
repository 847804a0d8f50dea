"""Typed settings of the Spark feature jobs, with defaults that run on a laptop."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator


class SplitConfig(BaseModel):
    # leave_last_out: per user, the last interaction is test and the one before is valid.
    # time: every interaction after a global cut is valid or test, the rest is train.
    strategy: Literal["leave_last_out", "time"] = "leave_last_out"
    # Users with fewer interactions than this keep all of them in train (leave_last_out only).
    min_history_for_holdout: int = Field(3, ge=3)
    # time strategy: the last `test_days` days are test, the `valid_days` before them valid.
    valid_days: int = Field(7, ge=1)
    test_days: int = Field(7, ge=1)
    # leave_last_out: the seed of the hash that orders a user's interactions with equal ts.
    seed: int = 0


class I2IConfig(BaseModel):
    top_k: int = Field(50, ge=1)
    swing_alpha: float = Field(1.0, gt=0)
    # Bounds on the quadratic parts of Swing and co-occurrence; the most recent interactions win.
    max_items_per_user: int = Field(100, ge=2)
    max_users_per_item: int = Field(200, ge=2)


class FeatureConfig(BaseModel):
    k_core: int = Field(0, ge=0, description="0 or 1 disables k-core filtering")
    k_core_max_rounds: int = Field(30, ge=1, description="k-core fails if not stable after this many rounds")
    cold_max_history: int = Field(3, ge=0)
    long_tail_quantile: float = Field(0.2, gt=0, lt=1)
    sequence_length: int = Field(50, ge=1)
    max_reviews_per_entity: int = Field(100, ge=1)
    seed: int = 0
    split: SplitConfig = SplitConfig()
    i2i: I2IConfig = I2IConfig()


class I2ISynthesisConfig(BaseModel):
    """LLM-I2I: which users are prompted, which long-tail candidates they see, what is kept.

    Long-tail items are item_features' `is_long_tail` (FeatureConfig.long_tail_quantile)."""

    # "random": a seeded sample; "active": the longest training histories first; "tail_lovers":
    # users with the largest share of long-tail items in their history first.
    user_selection: Literal["random", "active", "tail_lovers"] = "random"
    users: int = Field(12, ge=1, description="users prompted per run")
    history_length: int = Field(10, ge=1)
    # Candidates per prompt, drawn in this order: co-occurrence neighbours of the history, items of
    # the history's categories, then random long-tail items (which also fill any shortfall).
    from_neighbourhood: int = Field(4, ge=0)
    from_categories: int = Field(4, ge=0)
    random_candidates: int = Field(2, ge=0)
    max_picks: int = Field(3, ge=1, description="k: picks per generator prompt")
    real_pairs_judged: int = Field(8, ge=0, description="sampled real training pairs the discriminator also judges")
    negative_pairs_judged: int = Field(
        8, ge=0, description="sampled (user, never-interacted item) pairs the discriminator judges, for its AUC"
    )
    # The discriminator sees a shorter history: it runs once per pair, and with log-probabilities
    # on, llama.cpp's cost grows with every prompt token.
    judge_history_length: int = Field(5, ge=1)
    keep_synthetic_at: float = Field(0.9, ge=0, le=1)
    drop_real_below: float | None = Field(None, ge=0, le=1, description="None keeps every real pair")
    long_tail_target_weight: float = Field(4.0, gt=0, description="SFT sample weight of a long-tail target")
    sft_negatives_per_positive: int = Field(1, ge=0)
    sft_users: int | None = Field(
        None, ge=1, description="users with an SFT example, a seeded sample; None: every user with two training items"
    )
    seed: int = 0

    @property
    def candidates(self) -> int:
        return self.from_neighbourhood + self.from_categories + self.random_candidates

    @model_validator(mode="after")
    def _some_candidates(self) -> I2ISynthesisConfig:
        if self.candidates < 1:
            raise ValueError("from_neighbourhood + from_categories + random_candidates is 0: prompts would have no candidates")
        return self


class SLMRConfig(BaseModel):
    """S-LLMR: candidate sets per user, score normalization and the pairs kept."""

    users: int = Field(4, ge=0, description="users prompted with popular candidates")
    candidates: int = Field(20, ge=2, description="N: candidates per prompt")
    popular_pool: int = Field(
        200, ge=2, description="M: the top-M popular items candidates are drawn from, with any tied with the M-th"
    )
    history_length: int = Field(10, ge=1)
    # Cold users are user_features' `is_cold` (FeatureConfig.cold_max_history).
    cold_users: int = Field(3, ge=0, description="cold users prompted with category-diverse candidates")
    tail_quantile: float = Field(0.1, gt=0, lt=1, description="the long-tail set's items: this bottom share by popularity")
    tail_items: int = Field(3, ge=0, description="long-tail items placed before sampled users")
    users_per_tail_item: int = Field(1, ge=1)
    # minmax: (s - min) / (max - min) per (user, candidate set), 0.5 when all are equal;
    # rank: the average-rank percentile; none: the model's score / 10.
    normalization: Literal["minmax", "rank", "none"] = "minmax"
    missing_score: float = Field(0.5, ge=0, le=1)
    pairs_per_user: int = Field(10, ge=1, description="K: the largest-gap pairs kept per (user, candidate set)")
    seed: int = 0

    @field_validator("popular_pool")
    @classmethod
    def _pool_holds_a_candidate_set(cls, value: int, info: ValidationInfo) -> int:
        candidates = info.data.get("candidates")
        if candidates is not None and value < candidates:
            raise ValueError(f"popular_pool {value} is below candidates {candidates}: popular sets could never be full")
        return value
