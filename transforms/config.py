"""Typed settings of the Spark feature jobs, with defaults that run on a laptop."""

from typing import Literal

from pydantic import BaseModel, Field


class SplitConfig(BaseModel):
    # leave_last_out: per user, the last interaction is test and the one before is valid.
    # time: every interaction after a global cut is valid or test, the rest is train.
    strategy: Literal["leave_last_out", "time"] = "leave_last_out"
    # Users with fewer interactions than this keep all of them in train (leave_last_out only).
    min_history_for_holdout: int = Field(3, ge=3)
    # time strategy: the last `test_days` days are test, the `valid_days` before them valid.
    valid_days: int = Field(7, ge=1)
    test_days: int = Field(7, ge=1)


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
