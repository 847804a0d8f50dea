"""The nightly refresh: at 01:30 UTC, materialize yesterday's partition end to end."""

import dagster as dg

from dagster_project.partitions import daily_partitions

daily_refresh_job = dg.define_asset_job(
    "daily_refresh",
    selection=dg.AssetSelection.all(),
    partitions_def=daily_partitions,
    description="Ingest, compute features and publish the training sets of one day.",
)

# A daily partitioned job's schedule targets the last complete day, i.e. yesterday.
nightly_schedule = dg.build_schedule_from_partitioned_job(
    daily_refresh_job, hour_of_day=1, minute_of_hour=30, name="nightly_refresh"
)
