from dagster_project.assets.features import feature_assets
from dagster_project.assets.published import published_assets
from dagster_project.assets.raw import raw_tables

all_assets = [raw_tables, *feature_assets, *published_assets]
