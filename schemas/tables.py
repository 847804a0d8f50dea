"""Arrow schemas of every warehouse table.

These are the contracts between layers: readers write the `raw` tables, Spark feature jobs write
the `features` tables, and the publisher writes the published sets with the same column names.
Timestamps are UTC; raw string ids are kept beside the contiguous int32 indices.
"""

import pyarrow as pa

# Microseconds: what Spark writes, and a unit Parquet stores natively.
TIMESTAMP = pa.timestamp("us", tz="UTC")

# --- raw layer -------------------------------------------------------------------------------

_PROVENANCE = [
    pa.field("source_file", pa.string(), nullable=False),
    pa.field("source_line", pa.int64(), nullable=False),
]

RAW_INTERACTIONS = pa.schema(
    [
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("item_id", pa.string(), nullable=False),
        pa.field("ts", TIMESTAMP, nullable=False),
        # Implicit-feedback sources have no rating.
        pa.field("rating", pa.float32()),
        *_PROVENANCE,
    ]
)

RAW_REVIEWS = pa.schema(
    [
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("item_id", pa.string(), nullable=False),
        pa.field("ts", TIMESTAMP, nullable=False),
        pa.field("rating", pa.float32()),
        pa.field("summary", pa.string()),
        pa.field("review_text", pa.string(), nullable=False),
        pa.field("verified", pa.bool_()),
        pa.field("helpful_votes", pa.int32()),
        *_PROVENANCE,
    ]
)

RAW_ITEMS = pa.schema(
    [
        pa.field("item_id", pa.string(), nullable=False),
        pa.field("title", pa.string(), nullable=False),
        # True when the source title was unusable (empty, an HTML fragment) and `title` was
        # rebuilt from other fields.
        pa.field("title_is_fallback", pa.bool_(), nullable=False),
        pa.field("description", pa.string()),
        pa.field("categories", pa.list_(pa.string())),
        # The most specific category: the last element of `categories`.
        pa.field("category", pa.string()),
        pa.field("brand", pa.string()),
        pa.field("price", pa.float64()),
        pa.field("price_raw", pa.string()),
        *_PROVENANCE,
    ]
)

RAW_QUARANTINE = pa.schema(
    [
        pa.field("table", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_line", pa.int64(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        # The offending line, decoded with replacement characters and capped in length.
        pa.field("raw", pa.string()),
    ]
)

RAW_TABLES = {
    "interactions": RAW_INTERACTIONS,
    "reviews": RAW_REVIEWS,
    "items": RAW_ITEMS,
    "quarantine": RAW_QUARANTINE,
}

# --- features layer --------------------------------------------------------------------------

CLEAN_INTERACTIONS = pa.schema([f for f in RAW_INTERACTIONS if f.name not in ("source_file", "source_line")])

ID_MAPS = pa.schema(
    [
        pa.field("kind", pa.string(), nullable=False),  # "user" or "item"
        pa.field("raw_id", pa.string(), nullable=False),
        pa.field("idx", pa.int32(), nullable=False),
    ]
)

SPLITS = pa.schema(
    [
        pa.field("user_idx", pa.int32(), nullable=False),
        pa.field("item_idx", pa.int32(), nullable=False),
        pa.field("ts", TIMESTAMP, nullable=False),
        pa.field("rating", pa.float32()),
        pa.field("split", pa.string(), nullable=False),  # "train", "valid" or "test"
    ]
)

INTERACTIONS_SPLIT = pa.schema([f for f in SPLITS if f.name != "split"])

USER_FEATURES = pa.schema(
    [
        pa.field("user_idx", pa.int32(), nullable=False),
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("history_len", pa.int32(), nullable=False),
        pa.field("is_cold", pa.bool_(), nullable=False),
        pa.field("rating_mean", pa.float64()),
        pa.field("rating_std", pa.float64()),
        # Null for a user with no training history (possible under a time-based split).
        pa.field("first_ts", TIMESTAMP),
        pa.field("last_ts", TIMESTAMP),
        pa.field("activity_span_days", pa.float64()),
    ]
)

ITEM_FEATURES = pa.schema(
    [
        pa.field("item_idx", pa.int32(), nullable=False),
        pa.field("item_id", pa.string(), nullable=False),
        pa.field("popularity", pa.int32(), nullable=False),
        pa.field("is_long_tail", pa.bool_(), nullable=False),
        pa.field("rating_mean", pa.float64()),
        pa.field("rating_count", pa.int32(), nullable=False),
        pa.field("review_count", pa.int32(), nullable=False),
        pa.field("has_metadata", pa.bool_(), nullable=False),
        pa.field("title", pa.string(), nullable=False),
        pa.field("title_is_fallback", pa.bool_(), nullable=False),
        pa.field("category", pa.string(), nullable=False),
        pa.field("price", pa.float64()),
    ]
)

USER_SEQUENCES = pa.schema(
    [
        pa.field("user_idx", pa.int32(), nullable=False),
        # Oldest first, at most the configured last N.
        pa.field("item_idx", pa.list_(pa.int32()), nullable=False),
        pa.field("ts", pa.list_(TIMESTAMP), nullable=False),
    ]
)

I2I_PAIRS = pa.schema(
    [
        pa.field("method", pa.string(), nullable=False),  # "swing" or "cooccurrence"
        pa.field("item_idx", pa.int32(), nullable=False),
        pa.field("neighbor_idx", pa.int32(), nullable=False),
        pa.field("score", pa.float64(), nullable=False),
        pa.field("rank", pa.int32(), nullable=False),  # 1 = best neighbour
    ]
)

REVIEW_BUNDLES = pa.schema(
    [
        pa.field("entity_kind", pa.string(), nullable=False),  # "user" or "item"
        pa.field("entity_idx", pa.int32(), nullable=False),
        pa.field(
            "reviews",
            pa.list_(
                pa.struct(
                    [
                        pa.field("user_idx", pa.int32()),
                        pa.field("item_idx", pa.int32()),
                        pa.field("rating", pa.float32()),
                        pa.field("ts", TIMESTAMP),
                        pa.field("summary", pa.string()),
                        pa.field("review_text", pa.string()),
                    ]
                )
            ),
            nullable=False,
        ),
        pa.field("n_reviews_total", pa.int32(), nullable=False),
    ]
)

FEATURE_TABLES = {
    "clean_interactions": CLEAN_INTERACTIONS,
    "id_maps": ID_MAPS,
    "splits": SPLITS,
    "user_features": USER_FEATURES,
    "item_features": ITEM_FEATURES,
    "user_sequences": USER_SEQUENCES,
    "i2i_pairs": I2I_PAIRS,
    "review_bundles": REVIEW_BUNDLES,
}

# --- llm layer: augmentation outputs -----------------------------------------------------------

#: A prompt's list of items: the item_idx as the id the model answers with, and its catalog text.
PROMPT_ITEMS = pa.list_(pa.struct([pa.field("id", pa.string()), pa.field("text", pa.string())]))

_SOURCE = pa.field("source", pa.string(), nullable=False)  # "real" or "synthetic"

I2I_GENERATOR_INPUTS = pa.schema(
    [
        pa.field("user_idx", pa.int32(), nullable=False),
        pa.field("history", PROMPT_ITEMS, nullable=False),
        pa.field("candidates", PROMPT_ITEMS, nullable=False),
    ]
)

SYNTHETIC_PICKS = pa.schema(
    [
        pa.field("user_idx", pa.int32(), nullable=False),
        pa.field("item_idx", pa.int32(), nullable=False),
        pa.field("pick_rank", pa.int32(), nullable=False),  # 1 = the generator's first pick
        pa.field("reason", pa.string(), nullable=False),
    ]
)

I2I_SYNTHETIC = pa.schema([*SYNTHETIC_PICKS, pa.field("ts", TIMESTAMP, nullable=False)])

I2I_DISCRIMINATOR_INPUTS = pa.schema(
    [
        pa.field("user_idx", pa.int32(), nullable=False),
        pa.field("item_idx", pa.int32(), nullable=False),
        _SOURCE,
        pa.field("history", PROMPT_ITEMS, nullable=False),
        pa.field("item", pa.string(), nullable=False),
    ]
)

I2I_JUDGEMENTS = pa.schema(
    [
        pa.field("user_idx", pa.int32(), nullable=False),
        pa.field("item_idx", pa.int32(), nullable=False),
        _SOURCE,
        pa.field("answer", pa.string(), nullable=False),  # "yes" or "no"
        pa.field("p_yes", pa.float64(), nullable=False),
        pa.field("p_yes_from", pa.string(), nullable=False),  # "logprobs" or "confidence"
        pa.field("kept", pa.bool_(), nullable=False),
    ]
)

I2I_TRAIN_INTERACTIONS = pa.schema(
    [
        pa.field("user_idx", pa.int32(), nullable=False),
        pa.field("item_idx", pa.int32(), nullable=False),
        pa.field("ts", TIMESTAMP, nullable=False),
        pa.field("rating", pa.float32()),  # null for synthetic interactions
        _SOURCE,
        pa.field("judge_p_yes", pa.float64()),  # null for real interactions that were not judged
    ]
)

SLMR_CANDIDATES = pa.schema(
    [
        pa.field("user_idx", pa.int32(), nullable=False),
        # "popular", "cold_diverse" or "long_tail": which rule drew the candidates.
        pa.field("candidate_set", pa.string(), nullable=False),
        pa.field("history", PROMPT_ITEMS, nullable=False),
        pa.field("candidates", PROMPT_ITEMS, nullable=False),
    ]
)

SLMR_RAW_SCORES = pa.schema(
    [
        pa.field("user_idx", pa.int32(), nullable=False),
        pa.field("candidate_set", pa.string(), nullable=False),
        pa.field("item_idx", pa.int32(), nullable=False),
        pa.field("raw_score", pa.float64()),  # the model's score / 10; null when it gave none
    ]
)

SLMR_SCORES = pa.schema(
    [
        *SLMR_RAW_SCORES,
        pa.field("is_missing", pa.bool_(), nullable=False),
        pa.field("score", pa.float64(), nullable=False),  # normalized per (user, candidate set)
    ]
)

LLM_PAIRWISE_SUPERVISION = pa.schema(
    [
        pa.field("user_idx", pa.int32(), nullable=False),
        pa.field("candidate_set", pa.string(), nullable=False),
        pa.field("item_i", pa.int32(), nullable=False),
        pa.field("item_j", pa.int32(), nullable=False),
        pa.field("s_i", pa.float64(), nullable=False),
        pa.field("s_j", pa.float64(), nullable=False),
        pa.field("gap", pa.float64(), nullable=False),  # s_i - s_j > 0
        # The gate's inputs.
        pa.field("hist_len", pa.int32(), nullable=False),
        pa.field("is_cold", pa.bool_(), nullable=False),
        pa.field("pop_i", pa.int32(), nullable=False),
        pa.field("pop_j", pa.int32(), nullable=False),
        pa.field("tail_i", pa.bool_(), nullable=False),
        pa.field("tail_j", pa.bool_(), nullable=False),
    ]
)

LLM_TABLES = {
    "i2i_synthetic": I2I_SYNTHETIC,
    "i2i_judgements": I2I_JUDGEMENTS,
    "i2i_train_interactions": I2I_TRAIN_INTERACTIONS,
    "i2i_pairs": I2I_PAIRS,
    "slmr_candidates": SLMR_CANDIDATES,
    "slmr_scores": SLMR_SCORES,
    "llm_pairwise_supervision": LLM_PAIRWISE_SUPERVISION,
}

# --- published sets --------------------------------------------------------------------------

PUBLISHED_SETS = {
    "interactions_train": INTERACTIONS_SPLIT,
    "interactions_valid": INTERACTIONS_SPLIT,
    "interactions_test": INTERACTIONS_SPLIT,
    "user_sequences": USER_SEQUENCES,
    "user_features": USER_FEATURES,
    "item_features": ITEM_FEATURES,
    "i2i_pairs": I2I_PAIRS,
    "i2i_train_interactions": I2I_TRAIN_INTERACTIONS,
    "llm_pairwise_supervision": LLM_PAIRWISE_SUPERVISION,
    "id_maps": ID_MAPS,
}
