import dagster as dg

from dagster_project.assets.contracts import contract_checks
from dagster_project.assets.evaluation import evaluation_assets
from dagster_project.assets.features import feature_assets
from dagster_project.assets.i2i import i2i_assets
from dagster_project.assets.published import published_assets
from dagster_project.assets.raw import raw_tables
from dagster_project.assets.reaseq import reaseq_assets
from dagster_project.assets.reform import reform_assets
from dagster_project.assets.slmr import slmr_assets

# Each partition is its own day's snapshot, so a backfill runs one day per run (the run's one
# SparkSession then serves every asset of that day); days run in parallel as separate runs.
ONE_DAY_PER_RUN = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)

all_assets = [
    asset.with_attributes(backfill_policy=ONE_DAY_PER_RUN)
    for asset in [raw_tables, *feature_assets, *i2i_assets, *slmr_assets, *reform_assets, *reaseq_assets, *evaluation_assets, *published_assets]
]

#: Every asset with the contract checks of the warehouse tables (the published sets carry theirs).
assets_and_checks = [*all_assets, *contract_checks]
