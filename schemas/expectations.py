"""Great Expectations suites, as code, for every published set.

A suite is the contract a table must meet before it may become a published version. Keeping the
suites beside the Arrow schemas (rather than in a GX project directory) means they are reviewed,
versioned and imported like any other code, and that the expected column order comes straight
from `schemas.tables.PUBLISHED_SETS`, so schema and suite cannot drift apart.

Every expectation carries `meta["severity"]`: "error" blocks publication, "warning" is reported
but lets the version go live. Checks GX cannot express on one table (ids present in `id_maps`,
row-count change against the previous version) live in `dagster_project.validation`.
"""

from __future__ import annotations

from collections.abc import Callable

import great_expectations as gx
from great_expectations.expectations import Expectation

from schemas.tables import PUBLISHED_SETS

ERROR = "error"
WARNING = "warning"

# Wide enough for every rating scale recaug reads (1-5 stars, 1-10 scores); nulls (implicit
# feedback) are ignored by GX range expectations.
RATING_RANGE = (0, 10)


def _meta(severity: str) -> dict:
    return {"severity": severity}


def _columns_in_order(set_name: str) -> Expectation:
    return gx.expectations.ExpectTableColumnsToMatchOrderedList(
        column_list=PUBLISHED_SETS[set_name].names, meta=_meta(ERROR)
    )


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


def _interactions(set_name: str) -> list[Expectation]:
    return [
        _columns_in_order(set_name),
        *_not_null("user_idx", "item_idx", "ts"),
        _between("user_idx", 0),
        _between("item_idx", 0),
        _between("rating", *RATING_RANGE),
    ]


def _user_sequences() -> list[Expectation]:
    # The list elements are checked against id_maps by the validator; GX sees only the row key.
    return [
        _columns_in_order("user_sequences"),
        *_not_null("user_idx", "item_idx", "ts"),
        _unique("user_idx"),
        _between("user_idx", 0),
    ]


def _user_features() -> list[Expectation]:
    return [
        _columns_in_order("user_features"),
        *_not_null("user_idx", "user_id", "history_len", "is_cold"),
        _unique("user_idx"),
        _between("user_idx", 0),
        _between("history_len", 0),
        _between("rating_mean", *RATING_RANGE, severity=WARNING),
        _between("activity_span_days", 0, severity=WARNING),
    ]


def _item_features() -> list[Expectation]:
    return [
        _columns_in_order("item_features"),
        *_not_null("item_idx", "item_id", "popularity", "title", "category"),
        _unique("item_idx"),
        _between("item_idx", 0),
        _between("popularity", 0),
        _between("rating_count", 0),
        _between("review_count", 0),
        _between("rating_mean", *RATING_RANGE, severity=WARNING),
        _between("price", 0, severity=WARNING),
    ]


def _i2i_pairs() -> list[Expectation]:
    return [
        _columns_in_order("i2i_pairs"),
        *_not_null("method", "item_idx", "neighbor_idx", "score", "rank"),
        _unique("method", "item_idx", "neighbor_idx"),
        _in_set("method", ["swing", "cooccurrence"]),
        _between("item_idx", 0),
        _between("neighbor_idx", 0),
        _between("rank", 1),
        _between("score", 0, severity=WARNING),
    ]


def _i2i_train_interactions() -> list[Expectation]:
    return [
        *_interactions("i2i_train_interactions"),
        *_not_null("source"),
        _unique("user_idx", "item_idx"),
        _in_set("source", ["real", "synthetic"]),
        _between("judge_p_yes", 0, 1),
    ]


def _llm_pairwise_supervision() -> list[Expectation]:
    names = PUBLISHED_SETS["llm_pairwise_supervision"].names
    return [
        _columns_in_order("llm_pairwise_supervision"),
        *_not_null(*names),
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


def _id_maps() -> list[Expectation]:
    return [
        _columns_in_order("id_maps"),
        *_not_null("kind", "raw_id", "idx"),
        _unique("kind", "raw_id"),
        _unique("kind", "idx"),
        _in_set("kind", ["user", "item"]),
        _between("idx", 0),
    ]


_BUILDERS: dict[str, Callable[[], list[Expectation]]] = {
    "interactions_train": lambda: _interactions("interactions_train"),
    "interactions_valid": lambda: _interactions("interactions_valid"),
    "interactions_test": lambda: _interactions("interactions_test"),
    "user_sequences": _user_sequences,
    "user_features": _user_features,
    "item_features": _item_features,
    "i2i_pairs": _i2i_pairs,
    "i2i_train_interactions": _i2i_train_interactions,
    "llm_pairwise_supervision": _llm_pairwise_supervision,
    "id_maps": _id_maps,
}


def build_suite(set_name: str) -> gx.ExpectationSuite:
    """A fresh suite for a published set (fresh, because GX binds a suite to one context)."""
    if set_name not in _BUILDERS:
        raise KeyError(f"no expectation suite for {set_name!r}; known: {sorted(_BUILDERS)}")
    return gx.ExpectationSuite(name=f"recaug.{set_name}", expectations=_BUILDERS[set_name]())
