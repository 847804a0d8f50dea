"""Feature jobs on the real Amazon 2018 Magazine_Subscriptions data (duplicates included).

The raw tables are built here with gzip + json, independently of `transforms.readers`."""

import gzip
import json
from datetime import datetime, timezone

import pyarrow as pa
import pytest
from support.feature_fixtures import (
    assert_same_rows,
    duckdb_item_features,
    duckdb_user_features,
    rows_of,
    to_spark,
)

from schemas.tables import RAW_INTERACTIONS, RAW_ITEMS, RAW_REVIEWS
from transforms.cleaning import deduplicate_interactions, deduplicate_items
from transforms.config import FeatureConfig
from transforms.id_maps import build_id_maps
from transforms.item_features import item_features
from transforms.splits import assign_splits, indexed_splits, split_rows, training_rows
from transforms.user_features import user_features

REVIEWS_FILE = "Magazine_Subscriptions_5.json.gz"
META_FILE = "meta_Magazine_Subscriptions.json.gz"


def _lines(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        yield from enumerate(map(json.loads, f), start=1)


def _price(text: str) -> float | None:
    try:
        return float(text.removeprefix("$").replace(",", ""))
    except ValueError:
        return None


@pytest.fixture(scope="module")
def magazine(magazine_dir):
    reviews = [
        {
            "user_id": r["reviewerID"],
            "item_id": r["asin"],
            "ts": datetime.fromtimestamp(r["unixReviewTime"], timezone.utc),
            "rating": r["overall"],
            "summary": r.get("summary"),
            "review_text": r.get("reviewText", ""),
            "verified": r.get("verified"),
            "helpful_votes": int(r["vote"].replace(",", "")) if "vote" in r else None,
            "source_file": REVIEWS_FILE,
            "source_line": line,
        }
        for line, r in _lines(magazine_dir / REVIEWS_FILE)
    ]
    items = []
    for line, m in _lines(magazine_dir / META_FILE):
        title = m.get("title", "")
        fallback = not title.strip() or "<" in title
        categories = m.get("category") or None
        items.append(
            {
                "item_id": m["asin"],
                "title": m["asin"] if fallback else title,
                "title_is_fallback": fallback,
                "description": " ".join(m.get("description") or []) or None,
                "categories": categories,
                "category": categories[-1] if categories else None,
                "brand": m.get("brand") or None,
                "price": _price(m.get("price", "")),
                "price_raw": m.get("price") or None,
                "source_file": META_FILE,
                "source_line": line,
            }
        )
    interactions = [{k: r[k] for k in RAW_INTERACTIONS.names} for r in reviews]
    return interactions, reviews, items


def test_magazine_features_match_duckdb(spark, magazine):
    interactions, reviews, items = magazine
    cfg = FeatureConfig()
    clean = deduplicate_interactions(to_spark(spark, interactions, RAW_INTERACTIONS)).localCheckpoint()
    clean_rows = rows_of(clean)
    assert len(clean_rows) == 2302
    assert len({r["user_id"] for r in clean_rows}) == 348
    assert len({r["item_id"] for r in clean_rows}) == 157

    assigned = assign_splits(clean, cfg.split).localCheckpoint()
    id_maps = build_id_maps(training_rows(assigned)).localCheckpoint()
    train = split_rows(indexed_splits(assigned, id_maps), "train").localCheckpoint()
    id_maps_arrow, train_arrow = id_maps.toArrow(), train.toArrow()

    users = rows_of(user_features(train, id_maps, cfg.cold_max_history))
    assert len(users) == 348
    assert_same_rows(users, duckdb_user_features(id_maps_arrow, train_arrow, cfg.cold_max_history), ("user_idx",))

    raw_items = to_spark(spark, items, RAW_ITEMS)
    raw_reviews = to_spark(spark, reviews, RAW_REVIEWS)
    got = rows_of(item_features(train, id_maps, deduplicate_items(raw_items), raw_reviews, cfg.long_tail_quantile))
    expected = duckdb_item_features(
        id_maps_arrow,
        train_arrow,
        pa.Table.from_pylist(items, schema=RAW_ITEMS),
        pa.Table.from_pylist(reviews, schema=RAW_REVIEWS),
        cfg.long_tail_quantile,
    )
    assert_same_rows(got, expected, ("item_idx",))
    # Items seen only in valid or test have no id: the training side never learns they exist.
    train_items = {r["item_id"] for r in rows_of(training_rows(assigned))}
    assert len(got) == len(train_items) < 157
    assert sum(r["has_metadata"] for r in got) == len(train_items & {m["item_id"] for m in items}) <= 151
    assert sum(r["is_long_tail"] for r in got) == int(len(train_items) * cfg.long_tail_quantile)
