"""A backfill over a date range rebuilds each day's snapshot, one run per day (as-of semantics)."""

from __future__ import annotations

import dagster as dg
from support.pipeline_support import materialize

from dagster_project.assets import all_assets
from dagster_project.partitions import daily_partitions
from storage.published_layout import version_names
from storage.publishing import latest_version, read_manifest
from storage.warehouse import Warehouse

# The last three days with activity in the synthetic run's data (it ends on 2024-12-28).
DAYS = dg.PartitionKeyRange("2024-12-26", "2024-12-28")


def test_every_asset_backfills_one_day_per_run():
    # Each day is a separate snapshot (everything known at its end), so a run computes one day.
    assert {asset.backfill_policy for asset in all_assets} == {dg.BackfillPolicy.multi_run(1)}


def test_a_three_day_backfill_yields_growing_snapshots_and_keeps_the_newest_live(synthetic_run, tmp_path):
    wh = Warehouse(str(tmp_path / "wh"))
    days = daily_partitions.get_partition_keys_in_range(DAYS)
    # Backfill runs finish in any order: the newest day first here, the older ones after it.
    for day in [days[-1], *days[:-1]]:
        assert materialize(synthetic_run.source, wh.base_url, day).success
    totals = {}
    for split in ("train", "valid", "test"):
        for version in version_names(wh, f"interactions_{split}"):
            manifest = read_manifest(wh, f"interactions_{split}", version)
            totals[manifest["partition"]] = totals.get(manifest["partition"], 0) + manifest["row_count"]
    assert list(totals) == [days[-1], *days[:-1]]
    assert totals[days[0]] < totals[days[1]] < totals[days[2]] == synthetic_run.spec.n_interactions
    live = read_manifest(wh, "interactions_train", latest_version(wh, "interactions_train"))
    assert live["partition"] == days[-1]
