"""Arrow schemas of every warehouse table.

These are the contracts between layers: readers write the `raw` tables, Spark feature jobs write
the `features` tables, and the publisher writes the published sets with the same column names.
`schemas.registry` names the table each schema belongs to.
Timestamps are UTC; raw string ids are kept beside the contiguous int32 indices.
"""

from collections.abc import Sequence

import pyarrow as pa

from schemas.llm_outputs import KNOWLEDGE_FIELDS

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

# --- llm layer: augmentation outputs -----------------------------------------------------------

#: A prompt's list of items: the item_idx as the id the model answers with, and its catalog text.
PROMPT_ITEMS = pa.list_(pa.struct([pa.field("id", pa.string()), pa.field("text", pa.string())]))

_SOURCE = pa.field("source", pa.string(), nullable=False)  # "real" or "synthetic" ("negative" in judgements)

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

# --- llm layer: ReFORM profiles and ReaSeq knowledge, with text embeddings ----------------------
#
# Embeddings are fixed-size lists, so a column is one contiguous float32 buffer a loader reshapes
# without copying, and F (factors) and D (the text encoder's dimension) are part of the type. They
# depend on configuration (the factor set, the encoder), so these schemas are functions of them.
# A value without text (an empty factor, an item without knowledge) is a zero vector with a False
# mask bit, never null.

PROFILE_PREFIX = "profile_"
KNOWLEDGE_PREFIX = "knowledge_"
PRICE_TIERS = ("budget", "mid", "premium", "unknown")


def embedding_type(dimension: int) -> pa.DataType:
    return pa.list_(pa.float32(), dimension)


def factor_embeddings_type(n_factors: int, dimension: int) -> pa.DataType:
    """(F x D) per row: `fixed_size_list<fixed_size_list<float32, D>, F>`."""
    return pa.list_(embedding_type(dimension), n_factors)


def factor_mask_type(n_factors: int) -> pa.DataType:
    return pa.list_(pa.bool_(), n_factors)


def profile_column(factor: str) -> str:
    """The column of one factor's phrases (prefixed: a factor may be named like a feature column)."""
    return f"{PROFILE_PREFIX}{factor}"


def factor_profile_fields(factor_names: Sequence[str], dimension: int) -> list[pa.Field]:
    """One `list<string>` of phrases per factor, then the (F x D) embeddings and the F mask bits
    (True where the factor has phrases); the embeddings field's metadata names the factors in order."""
    n_factors = len(factor_names)
    return [
        *(pa.field(profile_column(name), pa.list_(pa.string()), nullable=False) for name in factor_names),
        pa.field(
            "factor_embeddings",
            factor_embeddings_type(n_factors, dimension),
            nullable=False,
            metadata={"factors": ",".join(factor_names)},
        ),
        pa.field("factor_mask", factor_mask_type(n_factors), nullable=False),
    ]


def reform_profiles_schema(key: str, factor_names: Sequence[str], dimension: int) -> pa.Schema:
    """llm/reform_user_profiles (key user_idx) and llm/reform_item_profiles (key item_idx): one row
    per profiled entity."""
    return pa.schema([pa.field(key, pa.int32(), nullable=False), *factor_profile_fields(factor_names, dimension)])


#: The three agents' verified knowledge per item (llm_jobs.tasks.reaseq_items).
ITEM_KNOWLEDGE = pa.schema(
    [
        pa.field("item_idx", pa.int32(), nullable=False),
        *(pa.field(field, pa.list_(pa.string()), nullable=False) for field in KNOWLEDGE_FIELDS),
        pa.field("price_tier", pa.string(), nullable=False),
        pa.field("summary", pa.string(), nullable=False),
        pa.field("claims_total", pa.int32(), nullable=False),
        pa.field("claims_dropped", pa.int32(), nullable=False),
        pa.field("claims_dropped_by_checks", pa.int32(), nullable=False),
    ]
)


def item_knowledge_schema(dimension: int) -> pa.Schema:
    """llm/reaseq_item_knowledge: the verified knowledge and the summary's embedding."""
    return pa.schema([*ITEM_KNOWLEDGE, pa.field("knowledge_embedding", embedding_type(dimension), nullable=False)])


REASEQ_USER_INTERESTS = pa.schema(
    [
        pa.field("user_idx", pa.int32(), nullable=False),
        pa.field("interests", pa.list_(pa.string()), nullable=False),  # K phrases
        # Per interest in order, its nearest items by knowledge embedding, outside the history.
        pa.field("beyond_log_item_idx", pa.list_(pa.int32()), nullable=False),
    ]
)

# --- evaluation layer: what each augmentation buys ---------------------------------------------

#: evaluation/scorer_probe: the S-LLMR scorer's scores of users' valid items and of random items.
SCORER_PROBE = pa.schema([*SLMR_RAW_SCORES, pa.field("is_valid", pa.bool_(), nullable=False)])

#: evaluation/report and the published evaluation_report: one row per augmentation x consumer
#: model x segment x metric; means over `users` test users of per-user values averaged over
#: `seeds` training seeds, with 95% paired-bootstrap intervals; lift = augmented / baseline - 1,
#: delta = augmented - baseline. Undefined values (a lift over a zero baseline) are null.
EVALUATION_REPORT = pa.schema(
    [
        pa.field("augmentation", pa.string(), nullable=False),  # llm_i2i, slmr, reform, reaseq
        pa.field("model", pa.string(), nullable=False),
        pa.field("segment", pa.string(), nullable=False),  # overall, long_tail, cold_users
        pa.field("metric", pa.string(), nullable=False),  # recall@k, ndcg@k
        pa.field("users", pa.int32(), nullable=False),
        pa.field("seeds", pa.int32(), nullable=False),
        *(
            pa.field(name, pa.float64())
            for name in (
                "baseline", "baseline_lo", "baseline_hi", "augmented", "augmented_lo", "augmented_hi",
                "lift", "lift_lo", "lift_hi", "delta", "delta_lo", "delta_hi",
            )
        ),
    ]
)

# --- published sets --------------------------------------------------------------------------

AUGMENTED_USER_SEQUENCES = pa.schema(
    [
        *USER_SEQUENCES,
        # ReaSeq-inspired interests beyond the logs mapped to catalog items; empty for users not prompted.
        pa.field("beyond_log_item_idx", pa.list_(pa.int32()), nullable=False),
    ]
)


def knowledge_fields(dimension: int) -> list[pa.Field]:
    """item_features' ReaSeq columns: for an item without knowledge, empty lists, price tier
    "unknown", an empty summary, a zero embedding and has_knowledge False."""
    return [
        pa.field("has_knowledge", pa.bool_(), nullable=False),
        *(pa.field(f"{KNOWLEDGE_PREFIX}{field}", pa.list_(pa.string()), nullable=False) for field in KNOWLEDGE_FIELDS),
        pa.field(f"{KNOWLEDGE_PREFIX}price_tier", pa.string(), nullable=False),
        pa.field(f"{KNOWLEDGE_PREFIX}summary", pa.string(), nullable=False),
        pa.field(f"{KNOWLEDGE_PREFIX}embedding", embedding_type(dimension), nullable=False),
    ]


def augmented_user_features(factor_names: Sequence[str], dimension: int) -> pa.Schema:
    """Published user_features: the Spark features, then the ReFORM profile (F factors, D dims)."""
    return pa.schema([*USER_FEATURES, *factor_profile_fields(factor_names, dimension)])


def augmented_item_features(factor_names: Sequence[str], dimension: int) -> pa.Schema:
    """Published item_features: the Spark features, the ReaSeq knowledge, then the ReFORM profile."""
    return pa.schema([*ITEM_FEATURES, *knowledge_fields(dimension), *factor_profile_fields(factor_names, dimension)])
