"""S-LLMR data preparation around the scoring job: candidate sets, score normalization, and the
pairwise supervision with the gate's inputs.

Candidate sets (each prompt is one user and one set; candidates exclude the user's training items
only, since excluding held-out ones would leak them, and every draw is seeded):
- popular: sampled users with N items drawn from the top-M popular items (`popular_items`);
- cold_diverse: sampled cold users with N items spread over categories (each category's three
  most popular items form the pool; a category's second item comes only after every category's
  first, and so on);
- long_tail: items of the bottom `tail_quantile` by popularity, each placed before sampled users,
  the rest of those users' N candidates drawn from the top-M popular items.
Pairs are formed within one prompt, whose scores share a scale, from scores the model gave (a
missing score is a filler, not a preference); a long_tail prompt gives only pairs with its tail
item, the supervision it exists for.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from schemas.llm_outputs import SLMR_PROMPT
from schemas.tables import LLM_PAIRWISE_SUPERVISION, SLMR_CANDIDATES, SLMR_SCORES
from transforms.config import SLMRConfig
from transforms.item_features import in_bottom_quantile
from transforms.prompt_inputs import (
    collect_items,
    first_n_per,
    interacted,
    item_texts,
    recent_histories,
    sample_per_user,
    seeded_hash,
    seeded_sample,
)
from transforms.tables import conform


def _tail_items(item_features: DataFrame, quantile: float) -> DataFrame:
    return item_features.withColumn("_tail", in_bottom_quantile(quantile)).filter("_tail").select("item_idx")


def popular_items(item_features: DataFrame, m: int) -> DataFrame:
    """item_idx of the `m` most popular items and of every item as popular as the m-th.

    The pool is recomputed every day, and its cut usually falls inside a group of equally popular
    items. Cutting inside the group would choose members by index, so when a neighbour's popularity
    rose into the group, a member whose popularity did not change would drop out, and every prompt
    that had it as a candidate would change and be sent again the next night. Keeping the whole
    group leaves a member in the pool until its own popularity falls below the cut (or the cut rises
    past it)."""
    cut = item_features.orderBy(F.col("popularity").desc()).limit(m).agg(F.min("popularity").alias("_cut"))
    return item_features.crossJoin(cut).filter(F.col("popularity") >= F.col("_cut")).select("item_idx")


def candidate_sets(splits: DataFrame, user_features: DataFrame, item_features: DataFrame, cfg: SLMRConfig) -> DataFrame:
    """One row per (user, candidate set): recent history and candidates (SLMR_CANDIDATES)."""
    train = splits.filter(F.col("split") == "train")
    seen = interacted(train)

    def unseen(pairs: DataFrame) -> DataFrame:
        return pairs.join(seen, ["user_idx", "item_idx"], "left_anti")

    active = user_features.filter(F.col("history_len") > 0).select("user_idx", "is_cold")
    popular = popular_items(item_features, cfg.popular_pool)

    popular_users = seeded_sample(active, "user_idx", cfg.users, cfg.seed, "slmr-users").select("user_idx")
    popular_set = sample_per_user(unseen(popular_users.crossJoin(popular)), cfg.candidates, cfg.seed, "slmr-popular")

    cold_users = seeded_sample(active.filter("is_cold"), "user_idx", cfg.cold_users, cfg.seed, "slmr-cold")
    diverse_pool = first_n_per(item_features, "category", 3, [F.col("popularity").desc(), F.col("item_idx")])
    cold_pairs = unseen(cold_users.select("user_idx").crossJoin(diverse_pool.select("item_idx", "category")))
    round_robin = first_n_per(
        cold_pairs, ["user_idx", "category"], 3, [seeded_hash(cfg.seed, "slmr-diverse", "user_idx", "item_idx")]
    ).withColumnRenamed("_rank", "_round")
    cold_set = first_n_per(
        round_robin, "user_idx", cfg.candidates, [F.col("_round"), seeded_hash(cfg.seed, "slmr-round", "user_idx", "item_idx")]
    )

    placed = seeded_sample(_tail_items(item_features, cfg.tail_quantile), "item_idx", cfg.tail_items, cfg.seed, "slmr-tail")
    assignments = first_n_per(
        unseen(placed.crossJoin(active.select("user_idx"))),
        "item_idx",
        cfg.users_per_tail_item,
        [seeded_hash(cfg.seed, "slmr-tail-users", "item_idx", "user_idx"), F.col("user_idx")],
    )
    tail_users = assignments.select("user_idx").distinct()
    fill = sample_per_user(unseen(tail_users.crossJoin(popular)), cfg.candidates, cfg.seed, "slmr-tail-fill")
    tiers = assignments.select("user_idx", "item_idx", F.lit(0).alias("tier"), F.lit(0).alias("_within")).unionByName(
        fill.select("user_idx", "item_idx", F.lit(1).alias("tier"), F.col("_rank").alias("_within"))
    )
    distinct_tiers = first_n_per(tiers, ["user_idx", "item_idx"], 1, [F.col("tier")]).drop("_rank")
    tail_set = first_n_per(distinct_tiers, "user_idx", cfg.candidates, [F.col("tier"), F.col("_within"), F.col("item_idx")])

    chosen = (
        popular_set.select("user_idx", "item_idx", F.lit("popular").alias("candidate_set"))
        .unionByName(cold_set.select("user_idx", "item_idx", F.lit("cold_diverse").alias("candidate_set")))
        .unionByName(tail_set.select("user_idx", "item_idx", F.lit("long_tail").alias("candidate_set")))
    )
    texts = item_texts(item_features)
    candidates = collect_items(
        chosen.join(texts, "item_idx"), SLMR_PROMPT, [seeded_hash(cfg.seed, "slmr-order", "user_idx", "item_idx")], "candidates"
    )
    users = chosen.select("user_idx").distinct()
    histories = recent_histories(users.join(train, "user_idx"), texts, cfg.history_length)
    return conform(candidates.join(histories, "user_idx"), SLMR_CANDIDATES)


def normalized_scores(raw_scores: DataFrame, cfg: SLMRConfig) -> DataFrame:
    """Missing scores become cfg.missing_score (and is_missing); then normalization per prompt (SLMR_SCORES)."""
    filled = raw_scores.withColumn("is_missing", F.col("raw_score").isNull()).withColumn(
        "_s", F.coalesce("raw_score", F.lit(cfg.missing_score))
    )
    prompt = Window.partitionBy(*SLMR_PROMPT)
    if cfg.normalization == "minmax":
        low, high = F.min("_s").over(prompt), F.max("_s").over(prompt)
        score = F.when(high > low, (F.col("_s") - low) / (high - low)).otherwise(F.lit(0.5))
    elif cfg.normalization == "rank":
        n = F.count(F.lit(1)).over(prompt)
        below = F.rank().over(prompt.orderBy("_s")) - 1
        ties = F.count(F.lit(1)).over(Window.partitionBy(*SLMR_PROMPT, "_s"))
        # The tied block's average 0-based rank, over n - 1.
        score = F.when(n > 1, (below + (ties - 1) / 2) / (n - 1)).otherwise(F.lit(0.5))
    else:
        score = F.col("_s")
    return conform(filled.withColumn("score", score.cast("double")), SLMR_SCORES)


def pairwise_supervision(
    scores: DataFrame, user_features: DataFrame, item_features: DataFrame, cfg: SLMRConfig
) -> DataFrame:
    """Within each prompt, the pairs (i, j) with s_i > s_j of the K largest gaps (ties: item_i,
    item_j ascending), with the gate's inputs (LLM_PAIRWISE_SUPERVISION). Missing scores form no
    pair; in a long_tail prompt, every pair has the prompt's tail item on one side."""
    tail = _tail_items(item_features, cfg.tail_quantile).withColumn("_tail", F.lit(True))
    given = (
        scores.filter(~F.col("is_missing"))
        .join(F.broadcast(tail), "item_idx", "left")
        .withColumn("_tail", F.coalesce("_tail", F.lit(False)))
    )
    left = given.select(*SLMR_PROMPT, F.col("item_idx").alias("item_i"), F.col("score").alias("s_i"), F.col("_tail").alias("_tail_i"))
    right = given.select(*SLMR_PROMPT, F.col("item_idx").alias("item_j"), F.col("score").alias("s_j"), F.col("_tail").alias("_tail_j"))
    pairs = (
        left.join(right, SLMR_PROMPT)
        .filter(F.col("s_i") > F.col("s_j"))
        .filter((F.col("candidate_set") != "long_tail") | F.col("_tail_i") | F.col("_tail_j"))
        .withColumn("gap", F.col("s_i") - F.col("s_j"))
    )
    largest = first_n_per(pairs, SLMR_PROMPT, cfg.pairs_per_user, [F.col("gap").desc(), F.col("item_i"), F.col("item_j")])
    items = item_features.select("item_idx", "popularity", "is_long_tail")
    gated = (
        largest.join(user_features.select("user_idx", F.col("history_len").alias("hist_len"), "is_cold"), "user_idx")
        .join(items.toDF("item_i", "pop_i", "tail_i"), "item_i")
        .join(items.toDF("item_j", "pop_j", "tail_j"), "item_j")
    )
    return conform(gated, LLM_PAIRWISE_SUPERVISION)
