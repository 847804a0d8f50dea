"""Deduplication, k-core and id maps against plain-Python reference implementations."""

from collections import Counter

import pytest
from support.feature_fixtures import assert_contract, rows_of, synthetic, to_spark

from schemas.tables import CLEAN_INTERACTIONS, ID_MAPS, RAW_INTERACTIONS
from transforms.cleaning import deduplicate_interactions, deduplicate_items, filter_k_core
from transforms.id_maps import with_indices


def reference_dedup(rows: list[dict]) -> list[dict]:
    def preference(r):
        return (-r["ts"].timestamp(), r["rating"] is None, -(r["rating"] or 0), r["source_file"], r["source_line"])

    best = {}
    for r in sorted(rows, key=preference):
        best.setdefault((r["user_id"], r["item_id"]), r)
    return [{k: r[k] for k in ("user_id", "item_id", "ts", "rating")} for r in best.values()]


def reference_k_core(rows: list[dict], k: int) -> tuple[list[dict], int]:
    """The k-core and the number of removal rounds it took."""
    rounds = 0
    while True:
        users = Counter(r["user_id"] for r in rows)
        items = Counter(r["item_id"] for r in rows)
        kept = [r for r in rows if users[r["user_id"]] >= k and items[r["item_id"]] >= k]
        if len(kept) == len(rows):
            return rows, rounds
        rows, rounds = kept, rounds + 1


def test_dedup_keeps_latest_with_deterministic_ties(spark):
    data = synthetic(spark)
    clean = deduplicate_interactions(data.raw_interactions)
    assert_contract(clean, CLEAN_INTERACTIONS)
    expected = reference_dedup(data.interactions)
    assert len(expected) < len(data.interactions)
    assert sorted(rows_of(clean), key=repr) == sorted(expected, key=repr)


@pytest.mark.parametrize("k", [1, 5])
def test_k_core_matches_python_loop(spark, k):
    data = synthetic(spark)
    expected, rounds = reference_k_core(reference_dedup(data.interactions), k)
    assert k == 1 or rounds >= 2, "the data should need several rounds"
    got = rows_of(filter_k_core(deduplicate_interactions(data.raw_interactions), k))
    assert sorted(got, key=repr) == sorted(expected, key=repr)
    users, items = Counter(r["user_id"] for r in got), Counter(r["item_id"] for r in got)
    assert min(users.values()) >= k and min(items.values()) >= k


def test_k_core_gives_up_after_bounded_rounds(spark):
    data = synthetic(spark)
    with pytest.raises(RuntimeError, match="did not converge"):
        filter_k_core(deduplicate_interactions(data.raw_interactions), 5, max_rounds=1)


def test_k_core_of_an_empty_input_is_empty(spark):
    assert filter_k_core(deduplicate_interactions(to_spark(spark, [], RAW_INTERACTIONS)), 5).count() == 0


def test_deduplicate_items_keeps_first_by_provenance(spark):
    data = synthetic(spark)
    first = {}
    for r in sorted(data.catalog, key=lambda r: (r["source_file"], r["source_line"])):
        first.setdefault(r["item_id"], {k: v for k, v in r.items() if k not in ("source_file", "source_line")})
    got = rows_of(deduplicate_items(data.raw_items))
    assert sorted(got, key=repr) == sorted(first.values(), key=repr)
    assert len(got) < len(data.catalog)


def test_id_maps_are_contiguous_and_ordered_by_raw_id(spark):
    data = synthetic(spark)
    assert_contract(data.id_maps, ID_MAPS)
    maps = rows_of(data.id_maps)
    clean = rows_of(data.train_raw)
    for kind, column in [("user", "user_id"), ("item", "item_id")]:
        got = sorted((r["idx"], r["raw_id"]) for r in maps if r["kind"] == kind)
        assert got == list(enumerate(sorted({r[column] for r in clean})))

    indexed = rows_of(with_indices(data.train_raw, data.id_maps).select("user_idx", "item_idx", "ts", "rating"))
    user_idx = {r["raw_id"]: r["idx"] for r in maps if r["kind"] == "user"}
    item_idx = {r["raw_id"]: r["idx"] for r in maps if r["kind"] == "item"}
    expected = [
        {"user_idx": user_idx[r["user_id"]], "item_idx": item_idx[r["item_id"]], "ts": r["ts"], "rating": r["rating"]}
        for r in clean
    ]
    assert sorted(indexed, key=repr) == sorted(expected, key=repr)
