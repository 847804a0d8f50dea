"""Ingest of the real Amazon 2018 Magazine_Subscriptions data: the facts of SOURCE.md, exactly."""

import gzip
import json
from collections import Counter
from datetime import datetime, timezone

import pyarrow.parquet as pq
import pytest

from schemas.registry import RAW_TABLES
from transforms.readers.ingest import ingest_to_dir
from transforms.readers.source import SourceSpec

REVIEWS = "Magazine_Subscriptions_5.json.gz"
META = "meta_Magazine_Subscriptions.json.gz"


def read(base, table):
    return pq.read_table(base / table, schema=RAW_TABLES[table]).to_pylist()


@pytest.fixture(scope="module")
def magazine(magazine_dir, tmp_path_factory):
    base = tmp_path_factory.mktemp("magazine")
    report = ingest_to_dir(SourceSpec(path=str(magazine_dir)), str(base), batch_rows=1000)
    return report, {table: read(base, table) for table in RAW_TABLES}


def test_interactions_match_source_facts(magazine):
    report, tables = magazine
    rows = tables["interactions"]
    assert report.format == "amazon2018"
    assert report.interactions == len(rows) == 2375
    assert len({r["user_id"] for r in rows}) == 348
    assert len({r["item_id"] for r in rows}) == 157
    assert len({(r["user_id"], r["item_id"]) for r in rows}) == 2302
    assert Counter(r["rating"] for r in rows) == {1.0: 102, 2.0: 118, 3.0: 239, 4.0: 375, 5.0: 1541}
    days = sorted(r["ts"].date().isoformat() for r in rows)
    assert (days[0], days[-1]) == ("2001-11-12", "2018-05-20")
    assert {r["source_file"] for r in rows} == {REVIEWS}
    assert sorted(r["source_line"] for r in rows) == list(range(1, 2376))


def test_reviews_and_the_one_empty_text(magazine):
    report, tables = magazine
    assert report.reviews == len(tables["reviews"]) == 2374
    assert all(r["review_text"].strip() for r in tables["reviews"])
    [quarantined] = tables["quarantine"]
    assert quarantined["table"] == "reviews"
    assert quarantined["reason"].startswith("empty review text")
    assert quarantined["source_file"] == REVIEWS
    raw = json.loads(quarantined["raw"])
    assert "reviewText" not in raw and raw["reviewerID"] == "A1LUTC4A8E99WF"
    assert report.quarantine_by_reason == {"empty review text": 1}
    # The interaction of that review is kept.
    lines = {r["source_line"] for r in tables["interactions"]}
    assert quarantined["source_line"] in lines
    votes = [r["helpful_votes"] for r in tables["reviews"] if r["helpful_votes"] is not None]
    assert len(votes) == 569


def test_items_match_source_facts(magazine):
    report, tables = magazine
    items = tables["items"]
    assert report.items == len(items) == 3385
    assert len({r["item_id"] for r in items}) == 2320
    reviewed = {r["item_id"] for r in tables["interactions"]}
    # Catalog rows repeat; one row per item is enough to check per-item facts.
    by_item = {r["item_id"]: r for r in items if r["item_id"] in reviewed}
    assert len(by_item) == 151
    assert sum(r["title_is_fallback"] for r in by_item.values()) == 148
    assert not any("<" in r["title"] for r in items)
    assert all(r["title"].strip() for r in items)
    assert not any("&amp;" in c for r in items for c in r["categories"])
    assert all(r["category"] == (r["categories"][-1] if r["categories"] else None) for r in items)
    # The Magazine prices are all empty or HTML/CSS garbage: no price, raw kept.
    assert sum(r["price_raw"] is not None for r in items) == 18
    assert all(r["price"] is None for r in items)


def test_every_line_is_kept_quarantined_or_excluded(magazine, magazine_dir):
    report, tables = magazine
    for name in (REVIEWS, META):
        with gzip.open(magazine_dir / name) as f:
            total = sum(1 for _ in f)
        kept = {r["source_line"] for t in ("interactions", "items") for r in tables[t] if r["source_file"] == name}
        rejected_only = {
            r["source_line"] for r in tables["quarantine"] if r["source_file"] == name and r["source_line"] not in kept
        }
        assert report.records_by_file[name] == total
        assert len(kept) + len(rejected_only) + report.excluded_after_as_of == total


def test_as_of_excludes_later_reviews(magazine_dir, tmp_path):
    as_of = datetime(2010, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
    with gzip.open(magazine_dir / REVIEWS) as f:
        times = [json.loads(line)["unixReviewTime"] for line in f]
    expected = sum(t <= as_of.timestamp() for t in times)
    report = ingest_to_dir(SourceSpec(path=str(magazine_dir), format="amazon2018"), str(tmp_path), as_of=as_of)
    interactions = read(tmp_path, "interactions")
    assert 0 < expected < 2375
    assert report.interactions == len(interactions) == expected
    assert report.excluded_after_as_of == 2375 - expected
    assert max(r["ts"] for r in interactions) <= as_of
    # The empty-text review is from 2017: excluded, so not quarantined either.
    assert report.quarantine == 0
    assert report.items == 3385


def test_written_files_and_metadata(magazine_dir, tmp_path):
    report = ingest_to_dir(SourceSpec(path=str(magazine_dir / REVIEWS)), str(tmp_path))
    for table, schema in RAW_TABLES.items():
        written = pq.read_schema(tmp_path / table / "part-00000.parquet")
        assert written.names == schema.names
    assert report.items == 0 and report.interactions == 2375
    meta = report.as_metadata()
    assert meta["rows_interactions"] == 2375 and meta["quarantine_empty_review_text"] == 1
    assert all(isinstance(v, (str, int, float)) for v in meta.values())
    json.dumps(meta)
