"""Great Expectations suites, as code: the expectations of each kind of warehouse table and published set.

A suite is the single-table part of a table's contract; `schemas.registry` pairs each table with
its builder here. Keeping the suites beside the Arrow schemas (rather than in a GX project
directory) means they are reviewed, versioned and imported like any other code, and that the
expected column order comes straight from the table's Arrow schema, so schema and suite cannot
drift apart. A builder takes the column names of the schema resolved for the run, so tables whose
columns depend on the factor set or the text encoder get their suites from the same builders.

Every expectation carries `meta["severity"]`: "error" blocks (publication, or the assets
downstream of the table), "warning" is reported only. Checks GX cannot express on one table (ids
present in `id_maps`, row-count change, embedding shapes, finiteness and masks, LLM quality rates)
live in `validation`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import great_expectations as gx
from great_expectations.expectations import Expectation

from schemas.tables import KNOWLEDGE_PREFIX, PRICE_TIERS, PROFILE_PREFIX

ERROR = "error"
WARNING = "warning"

# Wide enough for every rating scale recaug reads (1-5 stars, 1-10 scores); nulls (implicit
# feedback) are ignored by GX range expectations.
RATING_RANGE = (0, 10)


def _meta(severity: str) -> dict:
    return {"severity": severity}


def _columns_in_order(columns: Sequence[str]) -> Expectation:
    return gx.expectations.ExpectTableColumnsToMatchOrderedList(column_list=list(columns), meta=_meta(ERROR))


def _augmentation_columns(columns: Sequence[str]) -> list[str]:
    """The ReFORM / ReaSeq columns: never null (an entity without them has empty values)."""
    prefixes = (PROFILE_PREFIX, KNOWLEDGE_PREFIX, "factor_", "has_knowledge", "beyond_log_")
    return [name for name in columns if name.startswith(prefixes)]


def _not_null(*columns: str) -> list[Expectation]:
    return [gx.expectations.ExpectColumnValuesToNotBeNull(column=c, meta=_meta(ERROR)) for c in columns]


def _unique(*columns: str) -> Expectation:
    if len(columns) == 1:
        return gx.expectations.ExpectColumnValuesToBeUnique(column=columns[0], meta=_meta(ERROR))
    return gx.expectations.ExpectCompoundColumnsToBeUnique(column_list=list(columns), meta=_meta(ERROR))


def _between(column: str, low=None, high=None, severity: str = ERROR) -> Expectation:
    return gx.expectations.ExpectColumnValuesToBeBetween(
        column=column, min_value=low, max_value=high, meta=_meta(severity)
    )


def _in_set(column: str, values: list[str]) -> Expectation:
    return gx.expectations.ExpectColumnValuesToBeInSet(column=column, value_set=values, meta=_meta(ERROR))


def _present(columns: Sequence[str], *names: str) -> list[str]:
    """The `names` the table has: optional columns (the augmentation ones) are checked when present."""
    return [name for name in names if name in columns]


def raw_events(columns: Sequence[str]) -> list[Expectation]:
    """raw/interactions and raw/reviews: readers quarantine what they cannot use, so nulls here are
    a reader bug, not bad input."""
    return [
        _columns_in_order(columns),
        *_not_null("user_id", "item_id", "ts", "source_file", "source_line", *_present(columns, "review_text")),
        _between("rating", *RATING_RANGE),
        _between("source_line", 0),  # Parquet rows are 0-based, text lines 1-based
        *[_between(c, 0, severity=WARNING) for c in _present(columns, "helpful_votes")],
    ]


def raw_items(columns: Sequence[str]) -> list[Expectation]:
    # A catalog may list an item twice (features deduplicate): a warning, not an error.
    return [
        _columns_in_order(columns),
        *_not_null("item_id", "title", "title_is_fallback", "source_file", "source_line"),
        gx.expectations.ExpectColumnValuesToBeUnique(column="item_id", meta=_meta(WARNING)),
        _between("price", 0, severity=WARNING),
    ]


def raw_quarantine(columns: Sequence[str]) -> list[Expectation]:
    return [
        _columns_in_order(columns),
        *_not_null("table", "source_file", "source_line", "reason"),
        _in_set("table", ["interactions", "reviews", "items"]),
    ]


def clean_interactions(columns: Sequence[str]) -> list[Expectation]:
    return [
        _columns_in_order(columns),
        *_not_null("user_id", "item_id", "ts"),
        _unique("user_id", "item_id"),
        _between("rating", *RATING_RANGE),
    ]


def interactions(columns: Sequence[str]) -> list[Expectation]:
    return [
        _columns_in_order(columns),
        *_not_null("user_idx", "item_idx", "ts"),
        _between("user_idx", 0),
        _between("item_idx", 0),
        _between("rating", *RATING_RANGE),
    ]


def splits(columns: Sequence[str]) -> list[Expectation]:
    return [*interactions(columns), _unique("user_idx", "item_idx"), _in_set("split", ["train", "valid", "test"])]


def user_sequences(columns: Sequence[str]) -> list[Expectation]:
    # The list elements are checked against id_maps by the validator; GX sees only the row key.
    return [
        _columns_in_order(columns),
        *_not_null("user_idx", "item_idx", "ts", *_augmentation_columns(columns)),
        _unique("user_idx"),
        _between("user_idx", 0),
    ]


def user_features(columns: Sequence[str]) -> list[Expectation]:
    return [
        _columns_in_order(columns),
        *_not_null("user_idx", "user_id", "history_len", "is_cold", *_augmentation_columns(columns)),
        _unique("user_idx"),
        _between("user_idx", 0),
        _between("history_len", 0),
        _between("rating_mean", *RATING_RANGE, severity=WARNING),
        _between("activity_span_days", 0, severity=WARNING),
    ]


def item_features(columns: Sequence[str]) -> list[Expectation]:
    price_tier = _present(columns, f"{KNOWLEDGE_PREFIX}price_tier")
    return [
        _columns_in_order(columns),
        *_not_null("item_idx", "item_id", "popularity", "title", "category", *_augmentation_columns(columns)),
        *[_in_set(column, list(PRICE_TIERS)) for column in price_tier],
        _unique("item_idx"),
        _between("item_idx", 0),
        _between("popularity", 0),
        _between("rating_count", 0),
        _between("review_count", 0),
        _between("rating_mean", *RATING_RANGE, severity=WARNING),
        _between("price", 0, severity=WARNING),
    ]


def i2i_pairs(columns: Sequence[str]) -> list[Expectation]:
    return [
        _columns_in_order(columns),
        *_not_null("method", "item_idx", "neighbor_idx", "score", "rank"),
        _unique("method", "item_idx", "neighbor_idx"),
        _in_set("method", ["swing", "cooccurrence"]),
        _between("item_idx", 0),
        _between("neighbor_idx", 0),
        _between("rank", 1),
        _between("score", 0, severity=WARNING),
    ]


def review_bundles(columns: Sequence[str]) -> list[Expectation]:
    return [
        _columns_in_order(columns),
        *_not_null(*columns),
        _unique("entity_kind", "entity_idx"),
        _in_set("entity_kind", ["user", "item"]),
        _between("entity_idx", 0),
        _between("n_reviews_total", 1),
    ]


def i2i_synthetic(columns: Sequence[str]) -> list[Expectation]:
    return [
        _columns_in_order(columns),
        *_not_null(*columns),
        _unique("user_idx", "item_idx"),
        _between("pick_rank", 1),
    ]


def i2i_judgements(columns: Sequence[str]) -> list[Expectation]:
    return [
        _columns_in_order(columns),
        *_not_null(*columns),
        _unique("user_idx", "item_idx", "source"),
        _in_set("source", ["real", "synthetic", "negative"]),
        _in_set("answer", ["yes", "no"]),
        _in_set("p_yes_from", ["logprobs", "confidence"]),
        _between("p_yes", 0, 1),
    ]


def i2i_train_interactions(columns: Sequence[str]) -> list[Expectation]:
    return [
        *interactions(columns),
        *_not_null("source"),
        _unique("user_idx", "item_idx"),
        _in_set("source", ["real", "synthetic"]),
        _between("judge_p_yes", 0, 1),
    ]


_CANDIDATE_SETS = ["popular", "cold_diverse", "long_tail"]


def slmr_candidates(columns: Sequence[str]) -> list[Expectation]:
    return [
        _columns_in_order(columns),
        *_not_null(*columns),
        _unique("user_idx", "candidate_set"),
        _in_set("candidate_set", _CANDIDATE_SETS),
    ]


def slmr_scores(columns: Sequence[str]) -> list[Expectation]:
    return [
        _columns_in_order(columns),
        *_not_null("user_idx", "candidate_set", "item_idx", "is_missing", "score"),
        _unique("user_idx", "candidate_set", "item_idx"),
        _in_set("candidate_set", _CANDIDATE_SETS),
        _between("raw_score", 0, 1),
        _between("score", 0, 1),
    ]


def llm_pairwise_supervision(columns: Sequence[str]) -> list[Expectation]:
    return [
        _columns_in_order(columns),
        *_not_null(*columns),
        _unique("user_idx", "candidate_set", "item_i", "item_j"),
        _in_set("candidate_set", _CANDIDATE_SETS),
        _between("s_i", 0, 1),
        _between("s_j", 0, 1),
        gx.expectations.ExpectColumnValuesToBeBetween(
            column="gap", min_value=0, max_value=1, strict_min=True, meta=_meta(ERROR)
        ),
        gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="s_i", column_B="s_j", or_equal=False, meta=_meta(ERROR)
        ),
        *[_between(column, 0) for column in ("user_idx", "item_i", "item_j", "hist_len", "pop_i", "pop_j")],
    ]


def reform_profiles(columns: Sequence[str]) -> list[Expectation]:
    key = columns[0]  # user_idx or item_idx
    return [_columns_in_order(columns), *_not_null(*columns), _unique(key), _between(key, 0)]


def item_knowledge(columns: Sequence[str]) -> list[Expectation]:
    return [
        _columns_in_order(columns),
        *_not_null(*columns),
        _unique("item_idx"),
        _in_set("price_tier", list(PRICE_TIERS)),
        *[_between(c, 0) for c in ("claims_total", "claims_dropped", "claims_dropped_by_checks")],
        gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="claims_total", column_B="claims_dropped", or_equal=True, meta=_meta(ERROR)
        ),
    ]


def user_interests(columns: Sequence[str]) -> list[Expectation]:
    return [_columns_in_order(columns), *_not_null(*columns), _unique("user_idx"), _between("user_idx", 0)]


def id_maps(columns: Sequence[str]) -> list[Expectation]:
    return [
        _columns_in_order(columns),
        *_not_null("kind", "raw_id", "idx"),
        _unique("kind", "raw_id"),
        _unique("kind", "idx"),
        _in_set("kind", ["user", "item"]),
        _between("idx", 0),
    ]


def scorer_probe(columns: Sequence[str]) -> list[Expectation]:
    return [
        _columns_in_order(columns),
        *_not_null("user_idx", "candidate_set", "item_idx", "is_valid"),
        _unique("user_idx", "item_idx"),
        _in_set("candidate_set", ["valid_probe"]),
        _between("raw_score", 0, 1),
    ]


def evaluation_report(columns: Sequence[str]) -> list[Expectation]:
    return [
        _columns_in_order(columns),
        *_not_null("augmentation", "model", "segment", "metric", "users", "seeds"),
        _unique("augmentation", "model", "segment", "metric"),
        _in_set("augmentation", ["llm_i2i", "slmr", "reform", "reaseq"]),
        _in_set("segment", ["overall", "long_tail", "cold_users"]),
        _between("users", 0),
        _between("seeds", 1),
        *[_between(column, 0, 1) for column in ("baseline", "baseline_lo", "baseline_hi", "augmented", "augmented_lo", "augmented_hi")],
    ]


#: A table's expectations, given the names of its schema as resolved for the run, in order.
SuiteBuilder = Callable[[Sequence[str]], list[Expectation]]
