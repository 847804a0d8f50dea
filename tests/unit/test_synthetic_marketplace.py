"""The synthetic marketplace: real files written, read back with gzip + json."""

import gzip
import hashlib
import json
import re
import tracemalloc
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from synthetic import marketplace as synthetic_marketplace
from synthetic.marketplace import CATEGORIES, MarketplaceSpec, write_marketplace

DEFAULT = MarketplaceSpec()


def read_lines(path: str | Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def default_market(tmp_path_factory):
    summary = write_marketplace(DEFAULT, tmp_path_factory.mktemp("market"))
    reviews = read_lines(summary["files"]["reviews"])
    meta = read_lines(summary["files"]["meta"])
    return summary, reviews, meta


def test_file_names_follow_the_amazon_layout(default_market):
    summary, _, _ = default_market
    assert Path(summary["files"]["reviews"]).name == "Synthetic_Marketplace_5.json.gz"
    assert Path(summary["files"]["meta"]).name == "meta_Synthetic_Marketplace.json.gz"
    for kind, path in summary["files"].items():
        assert Path(path).stat().st_size == summary["bytes"][kind]
    assert not list(Path(summary["files"]["reviews"]).parent.glob("*.tmp"))


def test_same_spec_gives_identical_bytes_and_another_seed_differs(tmp_path):
    spec = MarketplaceSpec(n_users=300, n_items=120, n_interactions=3000)
    a = write_marketplace(spec, tmp_path / "a")
    b = write_marketplace(spec, tmp_path / "b")
    c = write_marketplace(spec.model_copy(update={"seed": 8}), tmp_path / "c")
    for kind in ("reviews", "meta"):
        assert sha256(a["files"][kind]) == sha256(b["files"][kind])
        assert sha256(a["files"][kind]) != sha256(c["files"][kind])


def test_counts_match_the_spec(default_market):
    summary, reviews, meta = default_market
    pairs = {(r["reviewerID"], r["asin"]) for r in reviews}
    assert len(reviews) == len(pairs) == DEFAULT.n_interactions == summary["interactions"]
    assert len({r["reviewerID"] for r in reviews}) == DEFAULT.n_users == summary["users"]
    assert len(meta) == len({m["asin"] for m in meta}) == DEFAULT.n_items == summary["items"]
    assert len({r["asin"] for r in reviews}) == summary["items_reviewed"] <= DEFAULT.n_items


def test_a_full_user_item_matrix_is_possible(tmp_path):
    # Every user takes every item: exercises the completion of users short after rejection,
    # and a catalog smaller than the number of categories.
    spec = MarketplaceSpec(n_users=4, n_items=6, n_interactions=24)
    summary = write_marketplace(spec, tmp_path)
    reviews = read_lines(summary["files"]["reviews"])
    assert len({(r["reviewerID"], r["asin"]) for r in reviews}) == 24


@pytest.mark.parametrize(
    "bad",
    [
        {"n_users": 10, "n_interactions": 5},  # fewer interactions than users
        {"n_users": 2, "n_items": 3, "n_interactions": 7},  # more than distinct pairs
        {"start_date": date(2024, 1, 2), "end_date": date(2024, 1, 1)},
        {"category_name": "../escape"},
    ],
)
def test_infeasible_specs_are_rejected(bad):
    with pytest.raises(ValidationError):
        MarketplaceSpec(**bad)


def test_review_rows_have_the_amazon_2018_shape(default_market):
    _, reviews, _ = default_market
    required = {"overall", "verified", "reviewTime", "reviewerID", "asin", "reviewerName", "reviewText",
                "summary", "unixReviewTime"}
    for r in reviews:
        assert required <= r.keys() <= required | {"vote"}
        assert r["overall"] in (1.0, 2.0, 3.0, 4.0, 5.0)
        assert re.fullmatch(r"U\d{7}", r["reviewerID"])
        assert re.fullmatch(r"B[0-9A-Z]{9}", r["asin"])
        assert r["reviewText"] and r["summary"]
    assert any("vote" in r for r in reviews) and any(not r["verified"] for r in reviews)


def test_times_are_midnight_utc_inside_the_range_and_match_review_time(default_market):
    _, reviews, _ = default_market
    lo = datetime(2023, 1, 1, tzinfo=UTC).timestamp()
    hi = datetime(2024, 12, 31, tzinfo=UTC).timestamp()
    for r in reviews:
        ts = r["unixReviewTime"]
        assert lo <= ts <= hi and ts % 86400 == 0
        d = datetime.fromtimestamp(ts, UTC)
        assert r["reviewTime"] == f"{d.month:02d} {d.day}, {d.year}"  # Amazon's "MM D, YYYY"


def test_lines_are_grouped_by_user_in_time_order(default_market):
    _, reviews, _ = default_market
    users = [r["reviewerID"] for r in reviews]
    assert users == sorted(users)
    keys = [(r["reviewerID"], r["unixReviewTime"]) for r in reviews]
    assert keys == sorted(keys)


def test_every_reviewed_asin_is_in_the_catalog(default_market):
    _, reviews, meta = default_market
    catalog = {m["asin"] for m in meta}
    assert {r["asin"] for r in reviews} <= catalog
    for m in meta:
        assert set(m["also_buy"]) <= catalog and m["asin"] not in m["also_buy"]


def test_catalog_rows_have_the_amazon_2018_shape(default_market):
    _, _, meta = default_market
    paths = {c.path for c in CATEGORIES}
    for m in meta:
        assert tuple(m["category"]) in paths
        assert m["title"].startswith(m["brand"] + " ") and "<" not in m["title"]
        assert 1 <= len(m["description"]) <= 2
        assert m["price"] == "" or re.fullmatch(r"\$\d+\.\d\d", m["price"])
        assert (m["feature"], m["rank"], m["details"], m["image"]) == ([], "", {}, [])
        assert m["main_cat"]
    empty_prices = sum(m["price"] == "" for m in meta) / len(meta)
    assert 0 < empty_prices < 0.1
    assert sum(bool(m["also_buy"]) for m in meta) > len(meta) / 2


def top_share(counts: Counter, fraction: float) -> float:
    values = sorted(counts.values(), reverse=True)
    return sum(values[: max(1, int(len(values) * fraction))]) / sum(values)


def test_item_popularity_is_heavy_tailed(default_market):
    _, reviews, _ = default_market
    assert top_share(Counter(r["asin"] for r in reviews), 0.10) > 0.40


def test_user_activity_is_heavy_tailed(default_market):
    _, reviews, _ = default_market
    per_user = Counter(r["reviewerID"] for r in reviews)
    values = np.array(list(per_user.values()))
    assert values.min() >= 1
    assert np.median(values) < values.mean()  # most users are below average...
    assert values.max() > 10 * values.mean()  # ...and a few are far above
    assert top_share(per_user, 0.10) > 0.25


def test_users_concentrate_on_few_categories(default_market):
    _, reviews, meta = default_market
    category_of = {m["asin"]: tuple(m["category"]) for m in meta}
    by_user: dict[str, Counter] = {}
    for r in reviews:
        by_user.setdefault(r["reviewerID"], Counter())[category_of[r["asin"]]] += 1
    # Share of a user's interactions in their 3 most frequent categories, for users with >= 10.
    shares = [sum(c for _, c in cats.most_common(3)) / sum(cats.values()) for cats in by_user.values()
              if sum(cats.values()) >= 10]
    assert np.mean(shares) > 0.75  # uniform over 16 categories would give about 0.3


def test_ratings_are_skewed_positive(default_market):
    _, reviews, _ = default_market
    ratings = Counter(r["overall"] for r in reviews)
    shares = {k: v / len(reviews) for k, v in ratings.items()}
    assert shares[5.0] > 0.45 and shares[5.0] > shares[4.0] > shares[1.0]
    assert 0.01 < shares[1.0] < 0.1


def test_review_texts_name_an_aspect_of_the_items_category_and_follow_the_rating(default_market):
    _, reviews, meta = default_market
    category_of = {m["asin"]: tuple(m["category"]) for m in meta}
    aspects = {c.path: c.aspects for c in CATEGORIES}
    for r in reviews:
        cat_aspects = aspects[category_of[r["asin"]]]
        assert any(a.keyword in r["reviewText"].lower() for a in cat_aspects)
        n_sentences = len(re.findall(r"[.!?](?:\s|$)", r["reviewText"]))
        assert 1 <= n_sentences <= 4
        clauses_pos = [a.positive for a in cat_aspects]
        clauses_neg = [a.negative for a in cat_aspects]
        text = r["reviewText"].lower()
        if r["overall"] == 5.0:
            assert not any(c.lower() in text for c in clauses_neg)
        if r["overall"] <= 2.0:
            assert not any(c.lower() in text for c in clauses_pos)
            assert any(c.lower() in text for c in clauses_neg)


def test_review_text_rate_leaves_some_texts_empty(tmp_path):
    spec = MarketplaceSpec(n_users=200, n_items=100, n_interactions=2000, review_text_rate=0.5)
    reviews = read_lines(write_marketplace(spec, tmp_path)["files"]["reviews"])
    empty = sum(r["reviewText"] == "" for r in reviews) / len(reviews)
    assert 0.4 < empty < 0.6
    assert all(r["summary"] for r in reviews)


def peak_traced_bytes(spec: MarketplaceSpec, out_dir: Path) -> int:
    tracemalloc.start()
    try:
        write_marketplace(spec, out_dir)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_number_of_interactions(tmp_path, monkeypatch):
    # Smaller chunks than the default keep this fast under tracemalloc; 4x the interactions
    # means 4x the chunks, which must not mean 4x the memory.
    monkeypatch.setattr(synthetic_marketplace, "CHUNK_INTERACTIONS", 10_000)
    small = MarketplaceSpec(n_users=3000, n_items=1000, n_interactions=20_000)
    large = small.model_copy(update={"n_interactions": 80_000})
    peak_small = peak_traced_bytes(small, tmp_path / "small")
    peak_large = peak_traced_bytes(large, tmp_path / "large")
    assert peak_large < 1.5 * peak_small, (peak_small, peak_large)
