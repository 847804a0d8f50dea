"""Both split strategies against plain-Python references, plus the no-leakage invariants."""

from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from feature_fixtures import assert_contract, rows_of, synthetic

from schemas.tables import SPLITS
from transforms.config import SplitConfig
from transforms.id_maps import index_interactions
from transforms.splits import split_interactions

KEY = ("user_idx", "item_idx")


def reference_leave_last_out(rows: list[dict], min_history: int) -> dict[tuple, str]:
    by_user = defaultdict(list)
    for r in rows:
        by_user[r["user_idx"]].append(r)
    split = {}
    for history in by_user.values():
        history.sort(key=lambda r: (r["ts"], r["item_idx"]))
        for position, r in enumerate(reversed(history)):
            name = "train" if len(history) < min_history or position >= 2 else ("test", "valid")[position]
            split[(r["user_idx"], r["item_idx"])] = name
    return split


def reference_time(rows: list[dict], valid_days: int, test_days: int) -> dict[tuple, str]:
    test_cut = max(r["ts"] for r in rows) - timedelta(days=test_days)
    valid_cut = test_cut - timedelta(days=valid_days)
    name = lambda ts: "test" if ts > test_cut else "valid" if ts > valid_cut else "train"  # noqa: E731
    return {(r["user_idx"], r["item_idx"]): name(r["ts"]) for r in rows}


@pytest.fixture(scope="module")
def indexed(spark):
    data = synthetic(spark)
    return index_interactions(data.clean, data.id_maps)


@pytest.mark.parametrize(
    "cfg",
    [
        SplitConfig(strategy="leave_last_out", min_history_for_holdout=3),
        SplitConfig(strategy="leave_last_out", min_history_for_holdout=7),
        SplitConfig(strategy="time", valid_days=5, test_days=10),
    ],
    ids=["llo3", "llo7", "time"],
)
def test_split_matches_reference_and_does_not_leak(indexed, cfg):
    splits = split_interactions(indexed, cfg)
    assert_contract(splits, SPLITS)
    rows, inputs = rows_of(splits), rows_of(indexed)

    # Every input row exactly once, with its values unchanged.
    assert Counter((r["user_idx"], r["item_idx"], r["ts"], r["rating"]) for r in rows) == Counter(
        (r["user_idx"], r["item_idx"], r["ts"], r["rating"]) for r in inputs
    )
    if cfg.strategy == "leave_last_out":
        expected = reference_leave_last_out(inputs, cfg.min_history_for_holdout)
    else:
        expected = reference_time(inputs, cfg.valid_days, cfg.test_days)
    assert {(r["user_idx"], r["item_idx"]): r["split"] for r in rows} == expected
    assert set(expected.values()) == {"train", "valid", "test"}

    by_split = defaultdict(list)
    for r in rows:
        by_split[r["split"]].append(r)
    if cfg.strategy == "time":
        assert max(r["ts"] for r in by_split["train"]) < min(r["ts"] for r in by_split["valid"])
        assert max(r["ts"] for r in by_split["valid"]) < min(r["ts"] for r in by_split["test"])
    else:
        last_train = {}
        for r in by_split["train"]:
            last_train[r["user_idx"]] = max(last_train.get(r["user_idx"], r["ts"]), r["ts"])
        for r in by_split["valid"] + by_split["test"]:
            assert r["ts"] >= last_train[r["user_idx"]]
        per_user = Counter((r["user_idx"], r["split"]) for r in by_split["valid"] + by_split["test"])
        assert set(per_user.values()) == {1}
