"""Review bundles against a plain-Python selection of usable reviews."""

from collections import defaultdict

from support.feature_fixtures import assert_contract, rows_of, synthetic

from schemas.tables import REVIEW_BUNDLES
from transforms.review_bundles import review_bundles

MAX_REVIEWS = 2


def reference_usable(data, id_maps: list[dict], train: list[dict]) -> dict[tuple[str, int], list[dict]]:
    """Usable reviews grouped by entity: non-blank text, latest per pair, pair in train."""
    idx = {(r["kind"], r["raw_id"]): r["idx"] for r in id_maps}
    train_pairs = {(r["user_idx"], r["item_idx"]) for r in train}
    latest = {}
    for r in sorted(data.reviews, key=lambda r: (-r["ts"].timestamp(), r["source_file"], r["source_line"])):
        if r["review_text"].strip():
            latest.setdefault((r["user_id"], r["item_id"]), r)
    groups = defaultdict(list)
    for (user_id, item_id), r in latest.items():
        pair = (idx.get(("user", user_id)), idx.get(("item", item_id)))
        if pair in train_pairs:
            review = {"user_idx": pair[0], "item_idx": pair[1], "rating": r["rating"], "ts": r["ts"], "summary": r["summary"], "review_text": r["review_text"]}
            groups[("user", pair[0])].append(review)
            groups[("item", pair[1])].append(review)
    return groups


def test_review_bundles_sample_usable_reviews_deterministically(spark):
    data = synthetic(spark)
    bundles = review_bundles(data.raw_reviews, data.id_maps, data.train, MAX_REVIEWS, seed=1)
    assert_contract(bundles, REVIEW_BUNDLES)
    rows = rows_of(bundles)
    expected = reference_usable(data, rows_of(data.id_maps), rows_of(data.train))

    got = {(r["entity_kind"], r["entity_idx"]): r for r in rows}
    assert len(got) == len(rows)
    assert got.keys() == expected.keys()
    for key, usable in expected.items():
        bundle = got[key]
        assert bundle["n_reviews_total"] == len(usable)
        assert len(bundle["reviews"]) == min(len(usable), MAX_REVIEWS)
        assert all(review in usable for review in bundle["reviews"])
        assert len({(r["user_idx"], r["item_idx"]) for r in bundle["reviews"]}) == len(bundle["reviews"])
    assert any(r["n_reviews_total"] > MAX_REVIEWS for r in rows), "the cap should bind somewhere"

    again = rows_of(review_bundles(data.raw_reviews, data.id_maps, data.train, MAX_REVIEWS, seed=1))
    assert sorted(again, key=repr) == sorted(rows, key=repr)
    reseeded = rows_of(review_bundles(data.raw_reviews, data.id_maps, data.train, MAX_REVIEWS, seed=2))
    assert sorted(reseeded, key=repr) != sorted(rows, key=repr)
