"""User and item features against DuckDB SQL over the same inputs."""

import pyarrow as pa
from support.feature_fixtures import (
    assert_contract,
    assert_same_rows,
    duckdb_item_features,
    duckdb_user_features,
    rows_of,
    synthetic,
)

from schemas.tables import ITEM_FEATURES, RAW_ITEMS, RAW_REVIEWS, USER_FEATURES
from transforms.cleaning import deduplicate_items
from transforms.config import SplitConfig
from transforms.id_maps import build_id_maps
from transforms.item_features import item_features
from transforms.splits import assign_splits, indexed_splits, split_rows, training_rows
from transforms.user_features import user_features


def test_user_features_match_duckdb(spark):
    data = synthetic(spark)
    # A time split leaves some users without train rows: they get no id, so no features.
    assigned = assign_splits(data.clean, SplitConfig(strategy="time", valid_days=10, test_days=45))
    id_maps = build_id_maps(training_rows(assigned))
    train = split_rows(indexed_splits(assigned, id_maps), "train")
    got = user_features(train, id_maps, cold_max_history=3)
    assert_contract(got, USER_FEATURES)
    rows = rows_of(got)
    expected = duckdb_user_features(id_maps.toArrow(), train.toArrow(), 3)
    assert_same_rows(rows, expected, ("user_idx",))
    heldout_only = {r["user_id"] for r in rows_of(assigned)} - {r["user_id"] for r in rows_of(training_rows(assigned))}
    assert heldout_only, "the time split should leave some users without train rows"
    assert min(r["history_len"] for r in rows) >= 1
    assert not heldout_only & {r["user_id"] for r in rows}


def test_item_features_match_duckdb(spark):
    data = synthetic(spark)
    got = item_features(data.train, data.id_maps, deduplicate_items(data.raw_items), data.raw_reviews, 0.3)
    assert_contract(got, ITEM_FEATURES)
    rows = rows_of(got)
    expected = duckdb_item_features(
        data.id_maps.toArrow(),
        data.train.toArrow(),
        pa.Table.from_pylist(data.catalog, schema=RAW_ITEMS),
        pa.Table.from_pylist(data.reviews, schema=RAW_REVIEWS),
        0.3,
    )
    assert_same_rows(rows, expected, ("item_idx",))
    assert sum(r["is_long_tail"] for r in rows) == int(0.3 * len(rows))
    assert {r["has_metadata"] for r in rows} == {True, False}
    assert any(r["review_count"] > 0 for r in rows)
