from dagster_project.assets.features import feature_assets
from dagster_project.assets.i2i import i2i_assets
from dagster_project.assets.published import published_assets
from dagster_project.assets.raw import raw_tables
from dagster_project.assets.slmr import slmr_assets

all_assets = [raw_tables, *feature_assets, *i2i_assets, *slmr_assets, *published_assets]
