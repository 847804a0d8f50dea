"""The evaluator proves it can see a lift: on the synthetic marketplace, whose generator knows each
user's true preferences, extra interactions drawn from those preferences must lift long-tail
recall with an interval that excludes zero, and as many random interactions must not.

Planted: for a random half of the users, one long-tail item they never had in training, drawn from
their true mixture. Random: the same items given to other users (a permutation of the planted
pairs), so both arms add exactly as many interactions to exactly the same items and differ only
in whether an item fits its user: a popularity push alone cannot pass for a lift.

The split, the id maps and the neighbours are the pipeline's own (Spark); only the augmentation is
planted, in place of what an LLM would have generated.
"""

from __future__ import annotations

import dagster as dg
import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from support.pipeline_support import materialize

from dagster_project.assets.evaluation import spark_neighbours
from evaluation.data import Interactions, segments
from evaluation.run import EvaluationConfig, EvaluationInputs, compare_interactions
from storage.warehouse import Warehouse
from synthetic.marketplace import MarketplaceSpec, asin_of, hidden_preferences, preference_weights, write_marketplace
from transforms.config import I2IConfig

SPEC = MarketplaceSpec(n_users=3000, n_items=200, n_interactions=24_000, seed=11)
SHARE = 0.5
CFG = EvaluationConfig(seeds=2, epochs=20)


@pytest.fixture(scope="module")
def marketplace(tmp_path_factory, spark):
    source = tmp_path_factory.mktemp("planted_source")
    write_marketplace(SPEC, source)
    warehouse = tmp_path_factory.mktemp("planted_wh")
    partition = SPEC.end_date.isoformat()
    materialize(source, warehouse, partition, selection=dg.AssetSelection.groups("raw", "features"))
    wh = Warehouse(str(warehouse))
    splits = pq.read_table(wh.table_path("features", "splits", partition))
    id_maps = pq.read_table(wh.table_path("features", "id_maps", partition))
    return splits, id_maps


def _inputs(splits, n_users: int, n_items: int) -> EvaluationInputs:
    def rows(name):
        chosen = splits.filter(pc.equal(splits["split"], name))
        return Interactions(chosen["user_idx"].to_numpy(), chosen["item_idx"].to_numpy()), chosen

    (train, train_rows), (valid, _), (test, _) = rows("train"), rows("valid"), rows("test")
    ts = train_rows["ts"].cast("int64").to_numpy() // 1_000_000
    return EvaluationInputs(n_users, n_items, train, ts, valid, test)


def _augmentations(inputs: EvaluationInputs, id_maps) -> dict[str, tuple[Interactions, np.ndarray]]:
    catalog, prefs = hidden_preferences(SPEC)
    maps = sorted(id_maps.to_pylist(), key=lambda m: m["idx"])
    marketplace_item = {asin_of(i): i for i in range(SPEC.n_items)}
    item_of_idx = np.array([marketplace_item[m["raw_id"]] for m in maps if m["kind"] == "item"])
    user_of_idx = np.array([int(m["raw_id"][1:]) for m in maps if m["kind"] == "user"])  # reviewer_id_of
    tail = segments(inputs.train, inputs.n_users, inputs.n_items).long_tail_items
    trained = inputs.train.matrix(inputs.n_users, inputs.n_items).toarray() > 0
    last_ts = np.zeros(inputs.n_users, np.int64)
    np.maximum.at(last_ts, inputs.train.users, inputs.train_ts)
    rng = np.random.default_rng(0)
    users, items = [], []
    for user in np.flatnonzero(rng.random(inputs.n_users) < SHARE):
        weights = np.where(tail & ~trained[user], preference_weights(int(user_of_idx[user]), prefs, catalog)[item_of_idx], 0.0)
        if weights.sum() > 0:
            users.append(user)
            items.append(rng.choice(inputs.n_items, p=weights / weights.sum()))
    users, items = np.array(users), np.array(items)
    others = rng.permutation(users)
    fits = ~trained[others, items]  # a permuted pair the other user already has is left out of both arms
    planted, random = Interactions(users[fits], items[fits]), Interactions(others[fits], items[fits])
    return {"planted": (planted, last_ts[planted.users]), "random": (random, last_ts[random.users])}


@pytest.fixture(scope="module")
def report(marketplace, spark):
    splits, id_maps = marketplace
    kinds = id_maps["kind"].to_numpy(zero_copy_only=False)
    inputs = _inputs(splits, int((kinds == "user").sum()), int((kinds == "item").sum()))
    rows = compare_interactions(
        inputs, spark_neighbours(spark, I2IConfig()), _augmentations(inputs, id_maps), ("bpr_mf", "cooccurrence"), CFG
    )
    return {(r.augmentation, r.model, r.segment, r.metric): r for r in rows}


@pytest.mark.parametrize("model", ["bpr_mf", "cooccurrence"])
def test_planted_preferences_lift_long_tail_recall(report, model):
    row = report[("planted", model, "long_tail", "recall@20")]
    assert row.users >= 30
    assert row.delta_lo > 0, f"planted lift not seen: {row}"


@pytest.mark.parametrize("model", ["bpr_mf", "cooccurrence"])
def test_random_interactions_show_no_lift(report, model):
    row = report[("random", model, "long_tail", "recall@20")]
    assert not row.delta_lo > 0, f"a random augmentation showed a lift: {row}"


def test_the_planted_arm_beats_the_random_one(report):
    for model in ("bpr_mf", "cooccurrence"):
        planted, random = report[("planted", model, "long_tail", "recall@20")], report[("random", model, "long_tail", "recall@20")]
        assert planted.augmented > random.augmented
