"""One partition, one consistent snapshot: a run whose training set is blocked switches no set."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from support.pipeline_support import materialize

from dagster_project.cli import main as cli
from storage.catalog import connect_read_only
from storage.published_layout import latest_version, live_snapshot, read_manifest
from storage.publishing import published_sets
from storage.warehouse import Warehouse

PER_USER = 3


def _first_reviews_per_user(source, target) -> None:
    """A copy of the marketplace holding only each user's first PER_USER reviews: every user and most
    items are still there, but the training interactions shrink far below half."""
    (reviews,) = source.glob("*_5.json.gz")
    kept, seen = [], defaultdict(int)
    for line in gzip.open(reviews, "rt"):
        user = json.loads(line)["reviewerID"]
        seen[user] += 1
        if seen[user] <= PER_USER:
            kept.append(line)
    target.mkdir()
    for other in source.iterdir():
        if other != reviews:
            (target / other.name).write_bytes(other.read_bytes())
    with gzip.open(target / reviews.name, "wt") as f:
        f.writelines(kept)


@pytest.fixture(scope="module")
def two_runs(synthetic_run, tmp_path_factory):
    """A good run, then a run of the same day on shrunken logs into the same warehouse."""
    warehouse = tmp_path_factory.mktemp("wh_snapshot")
    partition = synthetic_run.partition
    assert materialize(synthetic_run.source, warehouse, partition).success
    wh = Warehouse(str(warehouse))
    before = live_snapshot(wh)
    shrunk = tmp_path_factory.mktemp("shrunk") / "source"
    _first_reviews_per_user(synthetic_run.source, shrunk)
    second = materialize(shrunk, warehouse, partition, raise_on_error=False)
    return wh, before, second


def test_a_blocked_set_keeps_the_whole_previous_snapshot_live(two_runs):
    wh, before, second = two_runs
    assert not second.success
    blocked = {
        e.asset_key.path[-1] for e in second.get_asset_check_evaluations() if e.asset_key.path[0] == "published" and not e.passed
    }
    assert "interactions_train" in blocked
    # Sets that passed this time wrote new versions, yet none of them went live.
    passed = {
        e.asset_key.path[-1] for e in second.get_asset_check_evaluations() if e.asset_key.path[0] == "published" and e.passed
    }
    assert {"id_maps", "interactions_test"} <= passed
    assert live_snapshot(wh) == before
    for name in published_sets(wh):
        assert latest_version(wh, name) == before.sets[name]
    # Every live set decodes with the live id_maps: one id space.
    ids = pq.read_table(wh.path("published", "id_maps", before.sets["id_maps"])).to_pylist()
    users = {r["idx"] for r in ids if r["kind"] == "user"}
    for name in ("interactions_train", "interactions_valid", "interactions_test"):
        table = pq.read_table(wh.path("published", name, latest_version(wh, name)))
        assert set(table["user_idx"].to_pylist()) <= users


def test_the_catalog_serves_the_live_snapshot(two_runs):
    wh, before, _ = two_runs
    with connect_read_only(wh) as con:
        for name in ("id_maps", "interactions_train", "interactions_test"):
            (rows,) = con.execute(f"SELECT count(*) FROM {name}").fetchone()
            assert rows == read_manifest(wh, name, before.sets[name])["row_count"]


def test_a_snapshot_names_one_run_of_one_day(two_runs):
    wh, before, _ = two_runs
    run_ids = {read_manifest(wh, name, version)["lineage"]["run_id"] for name, version in before.sets.items()}
    partitions = {read_manifest(wh, name, version)["partition"] for name, version in before.sets.items()}
    assert run_ids == {before.run_id} and partitions == {before.partition}


def test_tables_shows_the_live_snapshot_and_what_was_blocked(two_runs):
    wh, before, _ = two_runs
    listing = CliRunner().invoke(cli, ["tables", "--warehouse", wh.base_url])
    assert listing.exit_code == 0, listing.output
    assert f"Live snapshot {before.id} of {before.partition}" in listing.output
    blocked = [line for line in listing.output.splitlines() if line.strip().startswith("blocked:")]
    assert any("interactions_train" in line and "row_count_change_within_band" in line for line in blocked), listing.output
