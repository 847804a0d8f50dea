"""Materializing the Dagster graph in tests, and one shared end-to-end run on synthetic data with
the augmentation branches at a size the embedded model answers in about two minutes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest

from dagster_project.assets import assets_and_checks
from dagster_project.assets.published import SNAPSHOT_KEY
from dagster_project.llm_resource import LLMEngineResource, LLMJobSettings
from dagster_project.resources import (
    EvaluationResource,
    FeaturesResource,
    I2ISynthesisResource,
    ReaseqResource,
    ReformResource,
    SLMRResource,
    SourceResource,
    SparkResource,
    TextEncoderResource,
    ValidationResource,
    WarehouseResource,
)
from storage.publishing import latest_version
from storage.warehouse import Warehouse
from synthetic.marketplace import MarketplaceSpec, write_marketplace

__all__ = ["synthetic_run"]

#: Everything but the I2I and S-LLMR branches, the evaluation and what is published from them (the
#: snapshot then holds the other sets).
#: user_features, item_features and user_sequences are published through the ReFORM and ReaSeq
#: assets, which these runs keep but with caps of 0 (NO_REFORM, NO_REASEQ): nobody is prompted,
#: every entity gets zero vectors and all-False masks.
WITHOUT_LLM = (
    dg.AssetSelection.all() - dg.AssetSelection.groups("llm_i2i", "llm_slmr", "evaluation").downstream()
) | dg.AssetSelection.assets(SNAPSHOT_KEY)

TINY_I2I = I2ISynthesisResource(
    users=3, from_neighbourhood=2, from_categories=2, random_candidates=1, max_picks=2, real_pairs_judged=3
)
TINY_SLMR = SLMRResource(users=2, candidates=4, popular_pool=20, cold_users=1, tail_items=1, pairs_per_user=3)
TINY_REFORM = ReformResource(users=1, items=1, max_review_tokens=600)
TINY_REASEQ = ReaseqResource(items=2, users=2, interests=2, items_per_interest=1)
TINY_EVALUATION = EvaluationResource(seeds=2, epochs=10, probe_users=2, probe_negatives=3)
NO_REFORM = ReformResource(users=0, items=0)
NO_REASEQ = ReaseqResource(items=0, users=0)


def test_resources(source_dir, warehouse_dir, features=None, with_llm=True) -> dict:
    return {
        "source": SourceResource(path=str(source_dir)),
        "warehouse": WarehouseResource(base_url=str(warehouse_dir)),
        "spark": SparkResource(master="local[2]"),
        "features": features or FeaturesResource(),
        "llm": LLMEngineResource(job=LLMJobSettings(progress=False)),
        "i2i_synthesis": TINY_I2I,
        "slmr": TINY_SLMR,
        "reform": TINY_REFORM if with_llm else NO_REFORM,
        "reaseq": TINY_REASEQ if with_llm else NO_REASEQ,
        "text_encoder": TextEncoderResource(),
        "validation": ValidationResource(),
        "evaluation": TINY_EVALUATION,
    }


def materialize(
    source_dir, warehouse_dir, partition, features=None, with_llm=False, selection=None, raise_on_error=True
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        assets_and_checks,
        selection=selection or (None if with_llm else WITHOUT_LLM),
        partition_key=partition,
        resources=test_resources(source_dir, warehouse_dir, features, with_llm),
        raise_on_error=raise_on_error,
    )


def read_set(wh: Warehouse, name: str):
    return pq.read_table(wh.path("published", name, latest_version(wh, name)))


@dataclass
class Run:
    spec: MarketplaceSpec
    source: Path
    wh: Warehouse
    result: dg.ExecuteInProcessResult

    @property
    def partition(self) -> str:
        return self.spec.end_date.isoformat()


@pytest.fixture(scope="session")
def synthetic_run(tmp_path_factory, spark) -> Run:
    spec = MarketplaceSpec(n_users=300, n_items=120, n_interactions=3000, seed=3)
    source = tmp_path_factory.mktemp("synthetic")
    write_marketplace(spec, source)
    warehouse = tmp_path_factory.mktemp("wh")
    result = materialize(source, warehouse, spec.end_date.isoformat(), with_llm=True)
    return Run(spec, source, Warehouse(str(warehouse)), result)
