"""The code location that `dagster dev -w workspace.yaml` loads."""

import dagster as dg

from dagster_project.assets import all_assets, contract_checks
from dagster_project.resources import default_resources
from dagster_project.schedules import daily_refresh_job, nightly_schedule

# One process per run: every step shares one SparkSession instead of starting a JVM per step.
defs = dg.Definitions(
    assets=all_assets,
    asset_checks=contract_checks,
    jobs=[daily_refresh_job],
    schedules=[nightly_schedule],
    resources=default_resources(),
    executor=dg.in_process_executor,
)
