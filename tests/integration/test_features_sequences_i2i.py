"""User sequences and item-to-item neighbours against plain-Python brute force."""

from collections import defaultdict
from itertools import combinations

import pytest
from support.feature_fixtures import assert_contract, rows_of, synthetic

from schemas.tables import I2I_PAIRS, USER_SEQUENCES
from transforms.config import I2IConfig
from transforms.i2i import i2i_pairs
from transforms.sequences import user_sequences


@pytest.fixture(scope="module")
def train_rows(spark):
    return rows_of(synthetic(spark).train)


def test_user_sequences_are_the_last_n_oldest_first(spark, train_rows):
    got = user_sequences(synthetic(spark).train, max_len=5)
    assert_contract(got, USER_SEQUENCES)
    history = defaultdict(list)
    for r in train_rows:
        history[r["user_idx"]].append((r["ts"], r["item_idx"]))
    expected = {}
    for user, events in history.items():
        last = sorted(events)[-5:]
        expected[user] = ([i for _, i in last], [t for t, _ in last])
    assert {r["user_idx"]: (r["item_idx"], r["ts"]) for r in rows_of(got)} == expected
    assert any(len(events) > 5 for events in history.values())


def reference_scores(rows: list[dict], cfg: I2IConfig) -> dict[str, dict[tuple[int, int], float]]:
    """Brute force straight from the definitions in transforms.i2i."""
    by_user = defaultdict(list)
    for r in rows:
        by_user[r["user_idx"]].append(r)
    kept = [r for hist in by_user.values() for r in sorted(hist, key=lambda r: (r["ts"], r["item_idx"]))[-cfg.max_items_per_user :]]
    by_item = defaultdict(list)
    for r in kept:
        by_item[r["item_idx"]].append(r)
    edges = [r for hist in by_item.values() for r in sorted(hist, key=lambda r: (r["ts"], r["user_idx"]))[-cfg.max_users_per_item :]]

    users_of, items_of = defaultdict(set), defaultdict(set)
    for r in edges:
        users_of[r["item_idx"]].add(r["user_idx"])
        items_of[r["user_idx"]].add(r["item_idx"])
    scores = {"cooccurrence": {}, "swing": {}}
    for i in users_of:
        for j in users_of:
            common = users_of[i] & users_of[j]
            if i == j or not common:
                continue
            scores["cooccurrence"][(i, j)] = float(len(common))
            swing = sum(1.0 / (cfg.swing_alpha + len(items_of[u] & items_of[v])) for u, v in combinations(sorted(common), 2))
            if swing:
                scores["swing"][(i, j)] = swing
    return scores


@pytest.mark.parametrize(
    "cfg",
    [
        I2IConfig(top_k=3, swing_alpha=0.5, max_items_per_user=4, max_users_per_item=5),
        I2IConfig(top_k=50, swing_alpha=1.0),
    ],
    ids=["capped", "uncapped"],
)
def test_i2i_pairs_match_brute_force(spark, train_rows, cfg):
    got = i2i_pairs(synthetic(spark).train, cfg)
    assert_contract(got, I2I_PAIRS)
    rows = rows_of(got)
    reference = reference_scores(train_rows, cfg)
    for method, scores in reference.items():
        by_item = defaultdict(list)
        for (i, j), score in scores.items():
            by_item[i].append((-round(score, 9), j, score))
        expected = {
            (i, rank, j): score
            for i, candidates in by_item.items()
            for rank, (_, j, score) in enumerate(sorted(candidates)[: cfg.top_k], start=1)
        }
        actual = {(r["item_idx"], r["rank"], r["neighbor_idx"]): r["score"] for r in rows if r["method"] == method}
        assert actual.keys() == expected.keys(), method
        for key, score in expected.items():
            assert actual[key] == pytest.approx(score, rel=1e-9), (method, key)
    assert all(r["item_idx"] != r["neighbor_idx"] for r in rows)
    assert {r["method"] for r in rows} == {"swing", "cooccurrence"}
