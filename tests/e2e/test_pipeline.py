"""End to end: raw files -> Dagster assets -> published sets -> DuckDB, on real Spark and Parquet."""

import gzip
import hashlib
import json
from collections import defaultdict
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from support.pipeline_support import materialize, read_set

from dagster_project.cli import main as cli
from dagster_project.resources import FeaturesResource
from storage.catalog import connect_read_only
from storage.publishing import latest_version, published_sets, read_manifest
from storage.warehouse import Warehouse

SETS = [
    "evaluation_report",
    "i2i_pairs",
    "i2i_train_interactions",
    "id_maps",
    "interactions_test",
    "interactions_train",
    "interactions_valid",
    "item_features",
    "llm_pairwise_supervision",
    "user_features",
    "user_sequences",
]


def distinct_pairs(path, as_of_unix=None) -> dict[tuple[str, str], int]:
    """Independent reading of an Amazon 2018 review file: latest timestamp per (user, item)."""
    latest = {}
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            if as_of_unix is not None and record["unixReviewTime"] > as_of_unix:
                continue
            key = (record["reviewerID"], record["asin"])
            latest[key] = max(latest.get(key, 0), record["unixReviewTime"])
    return latest


def training_items(pairs: dict[tuple[str, str], int]) -> set[str]:
    """Independent leave-last-out (transforms.splits, default settings) over `distinct_pairs`: the
    items with a training interaction, the only ones the training side may know."""
    by_user = defaultdict(list)
    for (user, item), ts in pairs.items():
        by_user[user].append((ts, hashlib.md5(f"0:{user}:{item}".encode()).hexdigest(), item))
    items = set()
    for rows in by_user.values():
        rows.sort()
        items |= {item for _, _, item in (rows if len(rows) < 3 else rows[:-2])}
    return items


def materialized_metadata(result: dg.ExecuteInProcessResult, key: str) -> dict:
    (event,) = [
        e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key
    ]
    return {k: v.value for k, v in event.materialization.metadata.items()}


@pytest.fixture(scope="module")
def magazine_run(tmp_path_factory, spark, magazine_dir):
    warehouse = tmp_path_factory.mktemp("wh_magazine")
    result = materialize(magazine_dir, warehouse, "2018-05-20")
    return Warehouse(str(warehouse)), result


def test_synthetic_run_publishes_every_set(synthetic_run):
    spec, source, wh, result = synthetic_run.spec, synthetic_run.source, synthetic_run.wh, synthetic_run.result
    assert result.success
    assert published_sets(wh) == SETS
    pairs = distinct_pairs(next(source.glob("*_5.json.gz")))
    splits = {name: read_set(wh, f"interactions_{name}") for name in ("train", "valid", "test")}
    assert sum(t.num_rows for t in splits.values()) == len(pairs) == spec.n_interactions
    for name in SETS:
        manifest = read_manifest(wh, name, latest_version(wh, name))
        assert manifest["row_count"] == read_set(wh, name).num_rows
        assert manifest["partition"] == spec.end_date.isoformat()
        assert len(manifest["lineage"]["inputs"]) == 2


def test_published_ids_are_contiguous_and_consistent(synthetic_run):
    wh = synthetic_run.wh
    id_maps = read_set(wh, "id_maps").to_pylist()
    n = {kind: sum(1 for r in id_maps if r["kind"] == kind) for kind in ("user", "item")}
    for kind in ("user", "item"):
        assert sorted(r["idx"] for r in id_maps if r["kind"] == kind) == list(range(n[kind]))
    for split in ("train", "valid", "test"):
        table = read_set(wh, f"interactions_{split}")
        assert max(table["user_idx"].to_pylist()) < n["user"]
        assert max(table["item_idx"].to_pylist()) < n["item"]
    assert read_set(wh, "user_features").num_rows == n["user"]
    assert read_set(wh, "item_features").num_rows == n["item"]
    pairs = read_set(wh, "i2i_pairs")
    assert set(pairs["method"].to_pylist()) == {"swing", "cooccurrence"}
    assert max(pairs["neighbor_idx"].to_pylist()) < n["item"]


def test_no_valid_or_test_interaction_precedes_training_history(synthetic_run):
    wh = synthetic_run.wh
    last_train = defaultdict(lambda: None)
    for row in read_set(wh, "interactions_train").to_pylist():
        u = row["user_idx"]
        last_train[u] = row["ts"] if last_train[u] is None else max(last_train[u], row["ts"])
    held_out = read_set(wh, "interactions_valid").to_pylist() + read_set(wh, "interactions_test").to_pylist()
    assert held_out
    assert all(last_train[r["user_idx"]] is None or r["ts"] >= last_train[r["user_idx"]] for r in held_out)


def test_duckdb_views_match_parquet(synthetic_run):
    wh = synthetic_run.wh
    with connect_read_only(wh) as con:
        for name in SETS:
            files = wh.path("published", name, latest_version(wh, name), "*.parquet")
            (view_rows,) = con.execute(f"SELECT count(*) FROM {name}").fetchone()
            (differing,) = con.execute(
                f"SELECT count(*) FROM (SELECT * FROM {name} EXCEPT ALL SELECT * FROM read_parquet('{files}'))"
            ).fetchone()
            assert view_rows == read_set(wh, name).num_rows and differing == 0


def test_every_published_set_passed_its_blocking_contract_check(synthetic_run):
    wh, result = synthetic_run.wh, synthetic_run.result
    evaluations = result.get_asset_check_evaluations()
    published = [e for e in evaluations if e.asset_key.path[0] == "published"]
    assert sorted(e.asset_key.path[-1] for e in published) == SETS
    assert all(e.passed for e in evaluations)  # the warehouse tables' contracts too
    for name in SETS:
        validation = read_manifest(wh, name, latest_version(wh, name))["validation"]
        assert validation["passed"] and validation["row_count"] == read_set(wh, name).num_rows


def test_a_failing_check_blocks_publication_and_keeps_latest(synthetic_run, tmp_path):
    spec, source, wh = synthetic_run.spec, synthetic_run.source, synthetic_run.wh
    partition = spec.end_date.isoformat()
    live = latest_version(wh, "interactions_train")
    splits_dir = Path(wh.table_path("features", "splits", partition))
    train_row = pq.read_table(splits_dir, filters=[("split", "=", "train")]).slice(0, 1)
    bad_row = train_row.set_column(1, "item_idx", pa.array([10_000_000], pa.int32()))
    pq.write_table(bad_row, splits_dir / "zz-injected.parquet")
    try:
        result = materialize(
            source, wh.base_url, partition, selection=["published/interactions_train"], raise_on_error=False
        )
    finally:
        (splits_dir / "zz-injected.parquet").unlink()
    assert not result.success
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed
    failures = evaluation.metadata["failures"].value
    assert [(f["name"], f["column"]) for f in failures] == [("ids_present_in_id_maps", "item_idx")]
    assert failures[0]["sample_values"] == [10_000_000]
    assert latest_version(wh, "interactions_train") == live
    with connect_read_only(wh) as con:
        (rows,) = con.execute("SELECT count(*) FROM interactions_train").fetchone()
    assert rows == read_set(wh, "interactions_train").num_rows


def test_feature_settings_reach_the_jobs(synthetic_run, tmp_path):
    spec, source = synthetic_run.spec, synthetic_run.source
    result = materialize(source, tmp_path / "wh", spec.end_date.isoformat(), FeaturesResource(k_core=5))
    assert result.success
    wh = Warehouse(str(tmp_path / "wh"))
    rows = [r for s in ("train", "valid", "test") for r in read_set(wh, f"interactions_{s}").to_pylist()]
    per_user, per_item = defaultdict(int), defaultdict(int)
    for row in rows:
        per_user[row["user_idx"]] += 1
        per_item[row["item_idx"]] += 1
    assert rows and min(per_user.values()) >= 5 and min(per_item.values()) >= 5
    assert len(rows) < spec.n_interactions


def test_magazine_run_counts_match_the_source(magazine_run, magazine_dir):
    wh, result = magazine_run
    assert result.success
    pairs = distinct_pairs(magazine_dir / "Magazine_Subscriptions_5.json.gz")
    assert len(pairs) == 2302
    known = training_items(pairs)
    # Held-out rows of items no one trained on have no id (the held-out rule): 4 of 2,302 here.
    kept = [pair for pair in pairs if pair[1] in known]
    assert len(kept) == 2302 - 4
    total = sum(read_set(wh, f"interactions_{s}").num_rows for s in ("train", "valid", "test"))
    assert total == len(kept) == 2302 - materialized_metadata(result, "features/splits")["rows_without_training_ids"]
    items = read_set(wh, "item_features").to_pylist()
    assert {r["item_id"] for r in items} == known and read_set(wh, "user_features").num_rows == 348
    assert sum(not r["has_metadata"] for r in items) <= 6
    assert not any("<" in r["title"] for r in items)

    assert materialized_metadata(result, "raw/interactions")["rows"] == 2375
    assert materialized_metadata(result, "raw/reviews")["rows"] == 2374
    assert materialized_metadata(result, "raw/quarantine")["rows"] == 1


def test_magazine_as_of_partition_excludes_later_records(magazine_run, magazine_dir, tmp_path):
    result = materialize(magazine_dir, tmp_path / "wh", "2010-12-31")
    assert result.success
    wh = Warehouse(str(tmp_path / "wh"))
    cutoff = 1293839999  # 2010-12-31T23:59:59Z
    expected = distinct_pairs(magazine_dir / "Magazine_Subscriptions_5.json.gz", as_of_unix=cutoff)
    known = training_items(expected)
    tables = [read_set(wh, f"interactions_{s}") for s in ("train", "valid", "test")]
    assert sum(t.num_rows for t in tables) == sum(item in known for _, item in expected) < 2302
    assert all(ts.timestamp() <= cutoff for t in tables for ts in t["ts"].to_pylist())


def test_cli_reads_the_catalog(magazine_run):
    wh, _ = magazine_run
    runner = CliRunner()
    listing = runner.invoke(cli, ["tables", "--warehouse", wh.base_url])
    assert listing.exit_code == 0, listing.output
    assert "interactions_train" in listing.output and "2,302" not in listing.output
    answer = runner.invoke(
        cli,
        [
            "query",
            "--warehouse",
            wh.base_url,
            "SELECT (SELECT count(*) FROM interactions_train) + (SELECT count(*) FROM interactions_valid)"
            " + (SELECT count(*) FROM interactions_test) AS total",
        ],
    )
    assert answer.exit_code == 0, answer.output
    assert answer.output.split() == ["total", str(2302 - 4)]
    bad = runner.invoke(cli, ["query", "--warehouse", wh.base_url, "SELECT * FROM no_such_set"])
    assert bad.exit_code != 0 and "no_such_set" in bad.output
