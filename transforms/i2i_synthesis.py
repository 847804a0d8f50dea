"""LLM-I2I data preparation around the LLM jobs: generator and discriminator inputs, synthetic
timestamps, the fused training interactions and the SFT examples.

The held-out rule: every input here is training data. Prompts show training interactions only;
candidates exclude the user's training items only (excluding held-out items too would tell the
generator what the future holds); a synthetic pick is timestamped at the user's last training
interaction, so it follows the history that motivated it and is never later than the user's
held-out interactions; a real pair is judged with the history before it.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from schemas.tables import (
    I2I_DISCRIMINATOR_INPUTS,
    I2I_GENERATOR_INPUTS,
    I2I_SYNTHETIC,
    I2I_TRAIN_INTERACTIONS,
)
from transforms.config import I2ISynthesisConfig
from transforms.prompt_inputs import (
    PROMPT_ITEMS_TYPE,
    collect_items,
    first_n_per,
    interacted,
    item_texts,
    pool_for_unseen,
    recent_histories,
    sample_per_user,
    seeded_hash,
    seeded_sample,
    unseen_per_user,
)
from transforms.tables import conform


def select_users(train: DataFrame, item_features: DataFrame, cfg: I2ISynthesisConfig) -> DataFrame:
    """The users prompted this run (user_idx), by `cfg.user_selection`."""
    users = train.join(item_features.select("item_idx", "is_long_tail"), "item_idx").groupBy("user_idx").agg(
        F.count(F.lit(1)).alias("history_len"), F.avg(F.col("is_long_tail").cast("double")).alias("tail_share")
    )
    if cfg.user_selection == "random":
        return seeded_sample(users, "user_idx", cfg.users, cfg.seed, "i2i-users").select("user_idx")
    first = F.col("history_len") if cfg.user_selection == "active" else F.col("tail_share")
    return users.orderBy(first.desc(), F.col("user_idx")).limit(cfg.users).select("user_idx")


def _candidates(
    users: DataFrame,
    train: DataFrame,
    seen: DataFrame,
    item_features: DataFrame,
    i2i_pairs: DataFrame,
    cfg: I2ISynthesisConfig,
) -> DataFrame:
    """(user_idx, item_idx, _rank) long-tail candidates the user never interacted with, at most
    cfg.candidates per user: neighbourhood first, then categories, then random ones."""

    def unseen(pairs: DataFrame) -> DataFrame:
        return pairs.join(seen, ["user_idx", "item_idx"], "left_anti")

    tail = item_features.filter("is_long_tail").select("item_idx", "category")
    history = users.join(train.select("user_idx", "item_idx"), "user_idx")
    cooccurrence = i2i_pairs.filter(F.col("method") == "cooccurrence").select("item_idx", "neighbor_idx", "score")
    neighbours = (
        history.join(cooccurrence, "item_idx")
        .groupBy("user_idx", F.col("neighbor_idx").alias("item_idx"))
        .agg(F.sum("score").alias("strength"))
        .join(tail.select("item_idx"), "item_idx")
    )
    by_neighbourhood = first_n_per(
        unseen(neighbours), "user_idx", cfg.from_neighbourhood, [F.col("strength").desc(), F.col("item_idx")]
    )
    categories = history.join(item_features.select("item_idx", "category"), "item_idx").select("user_idx", "category")
    in_categories = categories.distinct().join(tail, "category").select("user_idx", "item_idx")
    by_category = sample_per_user(unseen(in_categories), cfg.from_categories, cfg.seed, "i2i-category")
    # Random candidates come from a seeded pool, large enough to fill the other tiers' shortfall.
    pool = pool_for_unseen(tail, seen, cfg.candidates, cfg.seed, "i2i-random-pool")
    by_random = sample_per_user(unseen(users.crossJoin(pool)), cfg.candidates, cfg.seed, "i2i-random")
    tiers = (
        by_neighbourhood.select("user_idx", "item_idx", F.lit(0).alias("tier"), F.col("_rank").alias("_within"))
        .unionByName(by_category.select("user_idx", "item_idx", F.lit(1).alias("tier"), F.col("_rank").alias("_within")))
        .unionByName(by_random.select("user_idx", "item_idx", F.lit(2).alias("tier"), F.col("_rank").alias("_within")))
    )
    best_tier = first_n_per(tiers, ["user_idx", "item_idx"], 1, [F.col("tier"), F.col("_within")]).drop("_rank")
    return first_n_per(best_tier, "user_idx", cfg.candidates, [F.col("tier"), F.col("_within"), F.col("item_idx")])


def generator_inputs(
    splits: DataFrame, item_features: DataFrame, i2i_pairs: DataFrame, cfg: I2ISynthesisConfig
) -> DataFrame:
    """One prompt row per selected user: recent history and long-tail candidates (I2I_GENERATOR_INPUTS)."""
    train = splits.filter(F.col("split") == "train")
    texts = item_texts(item_features)
    users = select_users(train, item_features, cfg)
    candidates = _candidates(users, train, interacted(train), item_features, i2i_pairs, cfg).join(texts, "item_idx")
    # Shown in a seeded order, so the model's position bias does not favour one tier.
    listed = collect_items(candidates, "user_idx", [seeded_hash(cfg.seed, "i2i-order", "user_idx", "item_idx")], "candidates")
    histories = recent_histories(users.join(train, "user_idx"), texts, cfg.history_length)
    return conform(histories.join(listed, "user_idx"), I2I_GENERATOR_INPUTS)


def synthetic_interactions(picks: DataFrame, splits: DataFrame) -> DataFrame:
    """The generator's picks, each at the user's last training timestamp: a pick is the next item
    after the history it was chosen from, and leave-last-out holds out nothing earlier than that."""
    last = splits.filter(F.col("split") == "train").groupBy("user_idx").agg(F.max("ts").alias("ts"))
    return conform(picks.join(last, "user_idx"), I2I_SYNTHETIC)


def _negative_pairs(train: DataFrame, item_features: DataFrame, cfg: I2ISynthesisConfig) -> DataFrame:
    """Seeded (user, item) pairs of sampled training users and items they never interacted with:
    the negatives against which the judge's P(yes) on real pairs is measured (its AUC)."""
    users = seeded_sample(train.select("user_idx").distinct(), "user_idx", cfg.negative_pairs_judged, cfg.seed, "i2i-negative-users")
    seen = interacted(train)
    pool = pool_for_unseen(item_features, seen, 1, cfg.seed, "i2i-negative-pool")
    unseen = users.crossJoin(pool).join(seen, ["user_idx", "item_idx"], "left_anti")
    return sample_per_user(unseen, 1, cfg.seed, "i2i-negatives").select("user_idx", "item_idx")


def discriminator_inputs(
    synthetic: DataFrame, splits: DataFrame, item_features: DataFrame, cfg: I2ISynthesisConfig
) -> DataFrame:
    """Every synthetic pair, a seeded sample of real training pairs and of negative pairs (items the
    user never interacted with), each with the user's recent history and the judged item's text.

    A real pair's history is what came before it in the user's (ts, item_idx) order, so the judge
    never sees the future of the pair it judges; synthetic and negative pairs see the whole
    training history, as a pick made after it would."""
    train = splits.filter(F.col("split") == "train")
    texts = item_texts(item_features)
    real = seeded_sample(
        train.withColumn("_pair", F.concat_ws(":", "user_idx", "item_idx")), "_pair", cfg.real_pairs_judged, cfg.seed, "i2i-real"
    ).select("user_idx", "item_idx", F.lit("real").alias("source"), "ts")
    pairs = (
        synthetic.select("user_idx", "item_idx", F.lit("synthetic").alias("source"), F.lit(None).cast("timestamp").alias("ts"))
        .unionByName(_negative_pairs(train, item_features, cfg).select("*", F.lit("negative").alias("source")), allowMissingColumns=True)
        .unionByName(real)
    )
    pair_key = ["user_idx", "item_idx", "source"]
    history = train.select("user_idx", F.col("item_idx").alias("history_item"), F.col("ts").alias("history_ts"))
    before_pair = F.col("ts").isNull() | (F.col("history_ts") < F.col("ts")) | (
        (F.col("history_ts") == F.col("ts")) & (F.col("history_item") < F.col("item_idx"))
    )
    others = (
        pairs.join(history, "user_idx")
        .filter(before_pair & (F.col("history_item") != F.col("item_idx")))
        .drop("ts")
        .withColumnRenamed("history_ts", "ts")
    )
    histories = recent_histories(others, texts, cfg.judge_history_length, pair_key, item="history_item")
    judged = pairs.drop("ts").join(texts, "item_idx").select(*pair_key, F.col("prompt_item.text").alias("item"))
    # A user whose only training item is the judged one is asked with an empty history.
    with_history = judged.join(histories, pair_key, "left").withColumn(
        "history", F.coalesce("history", F.array().cast(PROMPT_ITEMS_TYPE))
    )
    return conform(with_history, I2I_DISCRIMINATOR_INPUTS)


def fused_interactions(splits: DataFrame, synthetic: DataFrame, judgements: DataFrame) -> DataFrame:
    """Training interactions after discrimination: real ones not dropped, synthetic ones kept
    (I2I_TRAIN_INTERACTIONS); judge_p_yes is null for real pairs that were not judged."""
    pair = ["user_idx", "item_idx"]
    verdicts = judgements.select(*pair, "source", F.col("p_yes").alias("judge_p_yes"), "kept")
    real = (
        splits.filter(F.col("split") == "train")
        .join(verdicts.filter(F.col("source") == "real").drop("source"), pair, "left")
        .filter(F.col("kept").isNull() | F.col("kept"))
        .withColumn("source", F.lit("real"))
    )
    kept_synthetic = (
        synthetic.join(verdicts.filter((F.col("source") == "synthetic") & F.col("kept")), pair)
        .withColumn("rating", F.lit(None).cast("float"))
    )
    return conform(real.unionByName(kept_synthetic, allowMissingColumns=True), I2I_TRAIN_INTERACTIONS)


def long_tail_coverage(i2i_pairs: DataFrame, item_features: DataFrame) -> dict[str, float]:
    """Per method, the share of long-tail items that some item lists as a neighbour (0 when none)."""
    tail = item_features.filter("is_long_tail").select(F.col("item_idx").alias("neighbor_idx"))
    n_tail = tail.count()
    covered = i2i_pairs.join(tail, "neighbor_idx").groupBy("method").agg(F.countDistinct("neighbor_idx").alias("n"))
    shares = {row["method"]: row["n"] / n_tail for row in covered.collect()} if n_tail else {}
    return {method: shares.get(method, 0.0) for method in ("swing", "cooccurrence")}


def sft_examples(splits: DataFrame, item_features: DataFrame, cfg: I2ISynthesisConfig) -> tuple[DataFrame, DataFrame]:
    """Fine-tuning examples from real training data, one target per user (every user with two
    training items, or a seeded sample of `cfg.sft_users`): the user's last training item, with the
    items before it as history. Sampled items come from `unseen_per_user`, so the export grows with
    the users and their interactions, not with users x catalog.

    - generator: user_idx, history, candidates (the target among sampled items), target_idx, weight
      (cfg.long_tail_target_weight for a long-tail target, else 1.0).
    - discriminator: user_idx, item_idx, answer ("yes" for the target, "no" for sampled items the
      user never interacted with), history, item.
    """
    train = splits.filter(F.col("split") == "train")
    texts = item_texts(item_features)
    ranked = first_n_per(train, "user_idx", cfg.history_length + 1, [F.col("ts").desc(), F.col("item_idx").desc()])
    targets = ranked.filter(F.col("_rank") == 1).select("user_idx", F.col("item_idx").alias("target_idx"))
    histories = recent_histories(ranked.filter(F.col("_rank") > 1).drop("_rank"), texts, cfg.history_length)
    targets = targets.join(histories, "user_idx")  # users with at least two training items
    if cfg.sft_users is not None:
        targets = seeded_sample(targets, "user_idx", cfg.sft_users, cfg.seed, "sft-users")
    negatives_needed = max(cfg.candidates - 1, cfg.sft_negatives_per_positive)
    negatives = unseen_per_user(targets, item_features, interacted(train), negatives_needed, cfg.seed, "sft-negatives")
    target_rows = targets.select("user_idx", F.col("target_idx").alias("item_idx"))
    shown = target_rows.unionByName(negatives.filter(F.col("_rank") < cfg.candidates).select("user_idx", "item_idx"))
    candidates = collect_items(
        shown.join(texts, "item_idx"), "user_idx", [seeded_hash(cfg.seed, "sft-order", "user_idx", "item_idx")], "candidates"
    )
    weight = F.when(F.col("is_long_tail"), F.lit(cfg.long_tail_target_weight)).otherwise(F.lit(1.0))
    generator = (
        targets.join(candidates, "user_idx")
        .join(item_features.select(F.col("item_idx").alias("target_idx"), "is_long_tail"), "target_idx")
        .select("user_idx", "history", "candidates", "target_idx", weight.alias("weight"))
    )
    judged = target_rows.withColumn("answer", F.lit("yes")).unionByName(
        negatives.filter(F.col("_rank") <= cfg.sft_negatives_per_positive).select(
            "user_idx", "item_idx", F.lit("no").alias("answer")
        )
    )
    discriminator = (
        judged.join(targets.select("user_idx", "history"), "user_idx")
        .join(texts, "item_idx")
        .select("user_idx", "item_idx", "answer", "history", F.col("prompt_item.text").alias("item"))
    )
    return generator, discriminator
