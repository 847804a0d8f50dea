"""Validation of published sets: real Great Expectations suites on small real tables, each defect
caught the same way in process on Arrow and on Spark DataFrames."""

import datetime as dt
import json
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas.contracts import ValidationThresholds
from schemas.registry import CONTRACTS, PUBLISHED_SETS, SUITES, build_suite, published_schema
from schemas.tables import I2I_PAIRS, ID_MAPS, INTERACTIONS_SPLIT
from validation import validate_table

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(params=["arrow", "spark"])
def engine(request, tmp_path):
    """Turns an Arrow table into what the validator gets on that engine (Spark reads it from Parquet)."""
    if request.param == "arrow":
        return lambda table: table
    spark = request.getfixturevalue("spark")

    def on_spark(table: pa.Table):
        nullable = pa.schema([f.with_nullable(True) for f in table.schema])  # Parquet refuses nulls otherwise
        return spark.read.parquet(_write(tmp_path, table.cast(nullable)))

    return on_spark


def _keys(rows: list[dict], *columns: str) -> list[tuple]:
    """The identifying columns of sample rows (Spark samples carry only the keys and the column)."""
    return [tuple(r[c] for c in columns) for r in rows]


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


def test_every_table_with_a_suite_has_a_contract_and_the_reverse():
    assert CONTRACTS.keys() == SUITES.keys()
    assert set(PUBLISHED_SETS) <= SUITES.keys()


def test_every_published_set_has_a_suite():
    assert all(build_suite(name, PUBLISHED_SETS[name].names).expectations for name in PUBLISHED_SETS)


@pytest.mark.parametrize(
    "set_name, table",
    [("interactions_train", _interactions()), ("id_maps", _id_maps()), ("i2i_pairs", _i2i_pairs())],
)
def test_clean_table_passes(set_name, table, engine):
    report = validate_table(set_name, engine(table), engine(_id_maps()), previous_row_count=table.num_rows)

    assert report.passed, report.failures()
    assert report.row_count == table.num_rows
    assert not report.failures()
    json.dumps(report.as_dict())  # goes into the manifest as is


def test_null_key_fails_with_the_offending_row():
    table = _interactions(user_idx=(0, None, 2, 2))

    failure = _only_failure(validate_table("interactions_train", table, _id_maps(), None))

    assert (failure.name, failure.column) == ("expect_column_values_to_not_be_null", "user_idx")
    assert failure.unexpected_count == 1
    offending = {"user_idx": None, "item_idx": 1, "ts": "2024-01-02T00:00:00+00:00", "rating": 4.0}
    assert failure.sample_rows == [offending]


def test_null_key_fails_on_spark_with_the_offending_rows_keys(engine):
    table = _interactions(user_idx=(0, None, 2, 2))

    report = validate_table("interactions_train", engine(table), engine(_id_maps()), None)

    failure = _only_failure(report)
    assert (failure.name, failure.column, failure.unexpected_count) == ("expect_column_values_to_not_be_null", "user_idx", 1)
    assert _keys(failure.sample_rows, "user_idx", "item_idx") == [(None, 1)]


def test_out_of_range_rating_fails(engine):
    table = _interactions(rating=(5.0, 11.0, None, 1.0))

    failure = _only_failure(validate_table("interactions_train", engine(table), engine(_id_maps()), None))

    assert (failure.name, failure.column) == ("expect_column_values_to_be_between", "rating")
    assert failure.sample_values == [11.0]
    assert [r["rating"] for r in failure.sample_rows] == [11.0]


def test_item_missing_from_id_maps_fails(engine):
    table = _interactions(item_idx=(0, 1, 7, 3))

    failure = _only_failure(validate_table("interactions_train", engine(table), engine(_id_maps()), None))

    assert (failure.name, failure.column) == ("ids_present_in_id_maps", "item_idx")
    assert (failure.unexpected_count, failure.sample_values) == (1, [7])
    assert _keys(failure.sample_rows, "user_idx", "item_idx") == [(2, 7)]
    assert failure.observed == {"ids_checked": 4, "rate": 0.25}


def test_neighbor_missing_from_id_maps_fails(engine):
    failure = _only_failure(validate_table("i2i_pairs", engine(_i2i_pairs()), engine(_id_maps(items=2)), None))

    assert (failure.name, failure.column) == ("ids_present_in_id_maps", "neighbor_idx")
    assert failure.sample_values == [2]


def test_duplicate_id_map_key_fails(engine):
    clean = _id_maps()
    duplicate = pa.table({"kind": ["item"], "raw_id": ["i1"], "idx": [9]}, schema=ID_MAPS)

    failure = _only_failure(validate_table("id_maps", engine(pa.concat_tables([clean, duplicate])), None, None))

    assert (failure.name, failure.column) == ("expect_compound_columns_to_be_unique", "kind,raw_id")
    assert failure.unexpected_count == 2
    assert set(_keys(failure.sample_rows, "kind", "raw_id")) == {("item", "i1")}


def test_row_count_drop_beyond_band_fails(engine):
    table = _interactions()

    failure = _only_failure(validate_table("interactions_train", engine(table), engine(_id_maps()), previous_row_count=40))

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


def test_sequence_item_missing_from_id_maps_fails(engine):
    sequences = pa.table(
        {"user_idx": [0, 1], "item_idx": [[0, 1], [2, 8]], "ts": [[T0, T0], [T0, T0]], "beyond_log_item_idx": [[], []]},
        schema=PUBLISHED_SETS["user_sequences"],
    )

    failure = _only_failure(validate_table("user_sequences", engine(sequences), engine(_id_maps()), None))

    assert (failure.column, failure.sample_values) == ("item_idx", [8])
    assert [r["user_idx"] for r in failure.sample_rows] == [1]


def test_tables_above_the_threshold_validate_on_spark_and_the_rest_on_arrow(tmp_path, spark):
    from storage.warehouse import Warehouse
    from validation import load_for_validation

    wh = Warehouse(str(tmp_path))
    pq.write_table(_interactions(), tmp_path / "t.parquet")
    schema = INTERACTIONS_SPLIT
    small = load_for_validation(wh, str(tmp_path / "t.parquet"), schema, ValidationThresholds(spark_above_rows=4), lambda: spark)
    large = load_for_validation(wh, str(tmp_path / "t.parquet"), schema, ValidationThresholds(spark_above_rows=3), lambda: spark)

    assert isinstance(small, pa.Table)
    assert validate_table("interactions_train", large, spark.read.parquet(_write(tmp_path, _id_maps())), None).engine == "spark"


def _write(tmp_path, table: pa.Table) -> str:
    path = tmp_path / f"{uuid.uuid4().hex}.parquet"
    pq.write_table(table, path)
    return str(path)


def test_an_out_of_range_probability_blocks_publication_and_leaves_latest_readable(tmp_path):
    from schemas.tables import I2I_TRAIN_INTERACTIONS
    from storage.published_layout import latest_version
    from storage.publishing import PublicationBlocked, publish
    from storage.warehouse import Warehouse

    wh = Warehouse(str(tmp_path / "wh"))

    def fused(p_yes: float) -> pa.Table:
        rows = _interactions().to_pylist()
        columns = {name: [r[name] for r in rows] for name in ("user_idx", "item_idx", "ts", "rating")}
        columns |= {"source": ["real", "real", "real", "synthetic"], "judge_p_yes": [None, None, None, p_yes]}
        return pa.table(columns, schema=I2I_TRAIN_INTERACTIONS)

    def gate(path, previous_rows):
        return validate_table("i2i_train_interactions", pq.read_table(path), _id_maps(), previous_rows)

    def source(table: pa.Table):
        import pyarrow.dataset as pads

        return pads.dataset(_write(tmp_path, table))

    good = publish(wh, "i2i_train_interactions", I2I_TRAIN_INTERACTIONS, source(fused(0.95)), "2024-01-01", {}, gate=gate)
    with pytest.raises(PublicationBlocked, match=r"expect_column_values_to_be_between\(judge_p_yes\)"):
        publish(wh, "i2i_train_interactions", I2I_TRAIN_INTERACTIONS, source(fused(1.5)), "2024-01-02", {}, gate=gate)

    assert latest_version(wh, "i2i_train_interactions") == good.version
    assert pq.read_table(good.path)["judge_p_yes"].to_pylist()[-1] == 0.95
