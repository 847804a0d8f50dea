"""Seeded sampling for prompt and SFT inputs (transforms.prompt_inputs): positions in a hash order
and the per-user unseen-item sample that bounds the SFT export."""

from __future__ import annotations

from collections import defaultdict

from transforms.prompt_inputs import hash_positions, seeded_sample, unseen_per_user


def _items(spark, n: int):
    return spark.createDataFrame([(i,) for i in range(n)], "item_idx int")


def test_hash_positions_number_the_seeded_order_without_gaps(spark):
    items = _items(spark, 700)

    positions, total = hash_positions(items, "item_idx", seed=3, salt="pool")

    by_position = sorted((r["_pos"], r["item_idx"]) for r in positions.collect())
    assert total == 700
    assert [p for p, _ in by_position] == list(range(700))
    in_order = [r["item_idx"] for r in seeded_sample(items, "item_idx", 700, 3, "pool").collect()]
    assert [i for _, i in by_position] == in_order


def test_every_user_gets_n_unseen_items_even_one_who_has_seen_almost_all(spark):
    catalog = 60
    seen_rows = [(0, i) for i in range(catalog - 5)] + [(u, u) for u in range(1, 40)]
    seen = spark.createDataFrame(seen_rows, "user_idx int, item_idx int")
    users = spark.createDataFrame([(u,) for u in range(40)], "user_idx int")

    rows = unseen_per_user(users, _items(spark, catalog), seen, 5, seed=1, salt="neg").collect()

    drawn = defaultdict(set)
    for r in rows:
        drawn[r["user_idx"]].add(r["item_idx"])
    assert sorted(drawn) == list(range(40))
    assert drawn[0] == set(range(catalog - 5, catalog))  # the only five it never saw
    assert all(len(items) == 5 for items in drawn.values())
    assert all((u, i) not in set(seen_rows) for u, items in drawn.items() for i in items)
    # Each user reads a window of their own, so light users do not all share one set of negatives.
    assert len({frozenset(items) for u, items in drawn.items() if u}) > 20


def test_the_sample_is_the_same_whatever_the_partitioning(spark):
    seen = spark.createDataFrame([(u, (u * 7) % 90) for u in range(30)], "user_idx int, item_idx int")
    users = spark.createDataFrame([(u,) for u in range(30)], "user_idx int")

    def sample(partitions: int) -> set:
        items = _items(spark, 90).repartition(partitions)
        drawn = unseen_per_user(users.repartition(partitions), items, seen.repartition(partitions), 3, 5, "neg")
        return {(r["user_idx"], r["item_idx"], r["_rank"]) for r in drawn.collect()}

    assert sample(1) == sample(7)
