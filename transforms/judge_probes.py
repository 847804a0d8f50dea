"""Evaluation-side prompt inputs: the one place in `transforms` that reads held-out rows.

The S-LLMR scorer is measured the way the evaluation measures recommenders: per sampled user with
a valid interaction, one prompt whose candidates are that valid item and `negatives` items the
user never interacted with (in any split), in a seeded order. Its scores feed only the evaluation
report (the scorer's AUC), never a training set.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from schemas.tables import SLMR_CANDIDATES
from transforms.prompt_inputs import (
    collect_items,
    item_texts,
    pool_for_unseen,
    recent_histories,
    sample_per_user,
    seeded_hash,
    seeded_sample,
)
from transforms.tables import conform

PROBE_SET = "valid_probe"


def scorer_probe_sets(
    splits: DataFrame, item_features: DataFrame, users: int, negatives: int, history_length: int, seed: int
) -> DataFrame:
    """SLMR_CANDIDATES rows (candidate_set "valid_probe") for up to `users` users."""
    valid = splits.filter(F.col("split") == "valid").select("user_idx", "item_idx")
    probed = seeded_sample(valid, "user_idx", users, seed, "probe-users")
    everything = splits.select("user_idx", "item_idx").distinct()
    pool = pool_for_unseen(item_features, everything, negatives, seed, "probe-pool")
    unseen = probed.select("user_idx").crossJoin(pool).join(everything, ["user_idx", "item_idx"], "left_anti")
    shown = probed.unionByName(sample_per_user(unseen, negatives, seed, "probe-negatives").select("user_idx", "item_idx"))
    candidates = collect_items(
        shown.join(item_texts(item_features), "item_idx").withColumn("candidate_set", F.lit(PROBE_SET)),
        ["user_idx", "candidate_set"],
        [seeded_hash(seed, "probe-order", "user_idx", "item_idx")],
        "candidates",
    )
    train = splits.filter(F.col("split") == "train").join(probed.select("user_idx"), "user_idx")
    histories = recent_histories(train, item_texts(item_features), history_length)
    return conform(candidates.join(histories, "user_idx"), SLMR_CANDIDATES)
