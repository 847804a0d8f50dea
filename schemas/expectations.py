"""Great Expectations suites, as code, for every published set.

A suite is the contract a table must meet before it may become a published version. Keeping the
suites beside the Arrow schemas (rather than in a GX project directory) means they are reviewed,
versioned and imported like any other code, and that the expected column order comes straight
from the set's Arrow schema (`schemas.tables.published_schema`), so schema and suite cannot drift
apart. user_features and item_features carry columns that depend on the factor set, so their
suites are built from the column names of the schema resolved for the run.

Every expectation carries `meta["severity"]`: "error" blocks publication, "warning" is reported
but lets the version go live. Checks GX cannot express on one table (ids present in `id_maps`,
row-count change against the previous version, embedding shapes, finiteness and masks) live in
`dagster_project.validation`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import great_expectations as gx
from great_expectations.expectations import Expectation

from schemas.tables import KNOWLEDGE_PREFIX, PRICE_TIERS, PROFILE_PREFIX, published_schema

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


def _interactions(columns: Sequence[str]) -> list[Expectation]:
    return [
        _columns_in_order(columns),
        *_not_null("user_idx", "item_idx", "ts"),
        _between("user_idx", 0),
        _between("item_idx", 0),
        _between("rating", *RATING_RANGE),
    ]


def _user_sequences(columns: Sequence[str]) -> list[Expectation]:
    # The list elements are checked against id_maps by the validator; GX sees only the row key.
    return [
        _columns_in_order(columns),
        *_not_null("user_idx", "item_idx", "ts", *_augmentation_columns(columns)),
        _unique("user_idx"),
        _between("user_idx", 0),
    ]


def _user_features(columns: Sequence[str]) -> list[Expectation]:
    return [
        _columns_in_order(columns),
        *_not_null("user_idx", "user_id", "history_len", "is_cold", *_augmentation_columns(columns)),
        _unique("user_idx"),
        _between("user_idx", 0),
        _between("history_len", 0),
        _between("rating_mean", *RATING_RANGE, severity=WARNING),
        _between("activity_span_days", 0, severity=WARNING),
    ]


def _item_features(columns: Sequence[str]) -> list[Expectation]:
    return [
        _columns_in_order(columns),
        *_not_null("item_idx", "item_id", "popularity", "title", "category", *_augmentation_columns(columns)),
        _in_set(f"{KNOWLEDGE_PREFIX}price_tier", list(PRICE_TIERS)),
        _unique("item_idx"),
        _between("item_idx", 0),
        _between("popularity", 0),
        _between("rating_count", 0),
        _between("review_count", 0),
        _between("rating_mean", *RATING_RANGE, severity=WARNING),
        _between("price", 0, severity=WARNING),
    ]


def _i2i_pairs(columns: Sequence[str]) -> list[Expectation]:
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


def _i2i_train_interactions(columns: Sequence[str]) -> list[Expectation]:
    return [
        *_interactions(columns),
        *_not_null("source"),
        _unique("user_idx", "item_idx"),
        _in_set("source", ["real", "synthetic"]),
        _between("judge_p_yes", 0, 1),
    ]


def _llm_pairwise_supervision(columns: Sequence[str]) -> list[Expectation]:
    return [
        _columns_in_order(columns),
        *_not_null(*columns),
        _unique("user_idx", "candidate_set", "item_i", "item_j"),
        _in_set("candidate_set", ["popular", "cold_diverse", "long_tail"]),
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


def _id_maps(columns: Sequence[str]) -> list[Expectation]:
    return [
        _columns_in_order(columns),
        *_not_null("kind", "raw_id", "idx"),
        _unique("kind", "raw_id"),
        _unique("kind", "idx"),
        _in_set("kind", ["user", "item"]),
        _between("idx", 0),
    ]


_BUILDERS: dict[str, Callable[[Sequence[str]], list[Expectation]]] = {
    "interactions_train": _interactions,
    "interactions_valid": _interactions,
    "interactions_test": _interactions,
    "user_sequences": _user_sequences,
    "user_features": _user_features,
    "item_features": _item_features,
    "i2i_pairs": _i2i_pairs,
    "i2i_train_interactions": _i2i_train_interactions,
    "llm_pairwise_supervision": _llm_pairwise_supervision,
    "id_maps": _id_maps,
}


def build_suite(set_name: str, columns: Sequence[str] | None = None) -> gx.ExpectationSuite:
    """A fresh suite for a published set (fresh, because GX binds a suite to one context).

    `columns` are the names of the set's resolved schema, in order; required for user_features
    and item_features, whose columns depend on the factor set (`schemas.tables.published_schema`)."""
    if set_name not in _BUILDERS:
        raise KeyError(f"no expectation suite for {set_name!r}; known: {sorted(_BUILDERS)}")
    columns = columns if columns is not None else published_schema(set_name).names
    return gx.ExpectationSuite(name=f"recaug.{set_name}", expectations=_BUILDERS[set_name](columns))
