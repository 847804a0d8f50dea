"""Validation of published sets: real Great Expectations suites on small real Arrow tables."""

import datetime as dt
import json

import pyarrow as pa
import pytest

from dagster_project.validation import validate_table
from schemas.expectations import build_suite
from schemas.tables import I2I_PAIRS, ID_MAPS, INTERACTIONS_SPLIT, PUBLISHED_SETS, published_schema

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _id_maps(users=3, items=4) -> pa.Table:
    rows = [("user", f"u{i}", i) for i in range(users)] + [("item", f"i{i}", i) for i in range(items)]
    kind, raw_id, idx = zip(*rows)
    return pa.table({"kind": kind, "raw_id": raw_id, "idx": idx}, schema=ID_MAPS)


def _interactions(user_idx=(0, 1, 2, 2), item_idx=(0, 1, 2, 3), rating=(5.0, 4.0, None, 1.0)) -> pa.Table:
    ts = [T0 + dt.timedelta(days=d) for d in range(len(user_idx))]
    return pa.table(
        {"user_idx": user_idx, "item_idx": item_idx, "ts": ts, "rating": rating}, schema=INTERACTIONS_SPLIT
    )


def _i2i_pairs() -> pa.Table:
    return pa.table(
        {
            "method": ["swing", "swing", "cooccurrence"],
            "item_idx": [0, 0, 0],
            "neighbor_idx": [1, 2, 1],
            "score": [0.9, 0.5, 3.0],
            "rank": [1, 2, 1],
        },
        schema=I2I_PAIRS,
    )


def _only_failure(report):
    """The one failed check, so each test proves that exactly the right check caught the defect."""
    assert not report.passed
    (failure,) = report.failures()
    assert failure.severity == "error"
    return failure


def test_every_published_set_has_a_suite():
    assert all(build_suite(name).expectations for name in PUBLISHED_SETS)


@pytest.mark.parametrize(
    "set_name, table",
    [("interactions_train", _interactions()), ("id_maps", _id_maps()), ("i2i_pairs", _i2i_pairs())],
)
def test_clean_table_passes(set_name, table):
    report = validate_table(set_name, table, _id_maps(), previous_row_count=table.num_rows)

    assert report.passed, report.failures()
    assert not report.failures()
    json.dumps(report.as_dict())  # goes into the manifest as is


def test_null_key_fails_with_the_offending_row():
    table = _interactions(user_idx=(0, None, 2, 2))

    failure = _only_failure(validate_table("interactions_train", table, _id_maps(), None))

    assert (failure.name, failure.column) == ("expect_column_values_to_not_be_null", "user_idx")
    assert failure.unexpected_count == 1
    offending = {"user_idx": None, "item_idx": 1, "ts": "2024-01-02T00:00:00+00:00", "rating": 4.0}
    assert failure.sample_rows == [offending]


def test_out_of_range_rating_fails():
    table = _interactions(rating=(5.0, 11.0, None, 1.0))

    failure = _only_failure(validate_table("interactions_train", table, _id_maps(), None))

    assert (failure.name, failure.column) == ("expect_column_values_to_be_between", "rating")
    assert failure.sample_values == [11.0]
    assert [r["rating"] for r in failure.sample_rows] == [11.0]


def test_item_missing_from_id_maps_fails():
    table = _interactions(item_idx=(0, 1, 7, 3))

    failure = _only_failure(validate_table("interactions_train", table, _id_maps(), None))

    assert (failure.name, failure.column) == ("ids_present_in_id_maps", "item_idx")
    assert (failure.unexpected_count, failure.sample_values) == (1, [7])
    assert [r["item_idx"] for r in failure.sample_rows] == [7]


def test_neighbor_missing_from_id_maps_fails():
    failure = _only_failure(validate_table("i2i_pairs", _i2i_pairs(), _id_maps(items=2), None))

    assert (failure.name, failure.column) == ("ids_present_in_id_maps", "neighbor_idx")
    assert failure.sample_values == [2]


def test_duplicate_id_map_key_fails():
    clean = _id_maps()
    duplicate = pa.table({"kind": ["item"], "raw_id": ["i1"], "idx": [9]}, schema=ID_MAPS)

    failure = _only_failure(validate_table("id_maps", pa.concat_tables([clean, duplicate]), None, None))

    assert (failure.name, failure.column) == ("expect_compound_columns_to_be_unique", "kind,raw_id")
    assert failure.unexpected_count == 2
    assert {(r["raw_id"], r["idx"]) for r in failure.sample_rows} == {("i1", 1), ("i1", 9)}


def test_row_count_drop_beyond_band_fails():
    table = _interactions()

    failure = _only_failure(validate_table("interactions_train", table, _id_maps(), previous_row_count=40))

    assert failure.name == "row_count_change_within_band"
    assert failure.observed["ratio"] == pytest.approx(0.1)


def test_warning_shows_without_blocking():
    schema = published_schema("user_features", ["style"], 2)
    features = pa.table(
        {
            "user_idx": [0],
            "user_id": ["u0"],
            "history_len": [1],
            "is_cold": [True],
            "rating_mean": [12.0],
            "rating_std": [None],
            "first_ts": [T0],
            "last_ts": [T0],
            "activity_span_days": [0.0],
            "profile_style": [[]],
            "factor_embeddings": [[[0.0, 0.0]]],
            "factor_mask": [[False]],
        },
        schema=schema,
    )

    report = validate_table("user_features", features, _id_maps(), None, schema=schema)

    assert report.passed
    assert [(f.column, f.severity) for f in report.failures()] == [("rating_mean", "warning")]


def test_sets_with_indices_need_id_maps():
    with pytest.raises(ValueError, match="id_maps"):
        validate_table("interactions_train", _interactions(), None, None)


def test_sequence_item_missing_from_id_maps_fails():
    sequences = pa.table(
        {"user_idx": [0, 1], "item_idx": [[0, 1], [2, 8]], "ts": [[T0, T0], [T0, T0]], "beyond_log_item_idx": [[], []]},
        schema=PUBLISHED_SETS["user_sequences"],
    )

    failure = _only_failure(validate_table("user_sequences", sequences, _id_maps(), None))

    assert (failure.column, failure.sample_values) == ("item_idx", [8])
    assert [r["user_idx"] for r in failure.sample_rows] == [1]
