"""Dagster resources: where data lives, which Spark and LLM engine to use, what to ingest, and the
settings of the feature jobs and augmentation tasks.

Every field has a laptop default and can be set from the environment, so moving a run to a cluster
is configuration, not code.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator

import dagster as dg
from pydantic import PrivateAttr
from pyspark.sql import SparkSession

from dagster_project.llm_resource import llm_resource_from_env
from evaluation.run import EvaluationConfig
from llm_jobs.augmentation_config import ReaseqConfig, ReformConfig
from llm_jobs.factor_sets import FactorSet, resolve_factor_set
from llm_jobs.text_encoder import TextEncoder
from schemas.contracts import ValidationThresholds
from storage.catalog import sync_catalog
from storage.locks import DEFAULT_TIMEOUT_S, run_lock
from storage.warehouse import Warehouse
from transforms.config import (
    FeatureConfig,
    I2IConfig,
    I2ISynthesisConfig,
    SLMRConfig,
    SplitConfig,
)
from transforms.readers.source import SourceSpec
from transforms.spark import build_spark_session

PARTITION_TAG = "dagster/partition"  # the partition of a run, as Dagster tags it


class WarehouseResource(dg.ConfigurableResource):
    """Base URL of the warehouse: a local directory or any pyarrow/fsspec filesystem URL."""

    base_url: str = "./warehouse"
    # Published versions kept per set (at least 2); older ones are pruned after each publication.
    keep_versions: int = 5
    # How long a run waits for another run of the same day to finish, or for another run publishing
    # the same set; past it, the run fails naming the holder. The one setting for every lock wait.
    lock_timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def warehouse(self) -> Warehouse:
        return Warehouse(self.base_url)

    @contextlib.contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[WarehouseResource]:
        """Held for the whole run (one process per run): the day's run lock, so a second run of the
        same day waits for the first instead of racing it; and, once it holds it, the DuckDB catalog
        synced with the live snapshot, should a killed run have left it stale."""
        partition = context.dagster_run.tags.get(PARTITION_TAG) if context.dagster_run else None
        owner = f"run {context.dagster_run.run_id}" if context.dagster_run else None
        held = run_lock(self.warehouse, partition, self.lock_timeout_s, owner) if partition else contextlib.nullcontext()
        with held:
            sync_catalog(self.warehouse)
            yield self


class SparkResource(dg.ConfigurableResource):
    """`local[*]` by default; any Spark master, or a Spark Connect URL (`sc://host:15002`)."""

    master: str = "local[*]"
    remote: str | None = None
    conf: dict[str, str] = {}

    _session: SparkSession | None = PrivateAttr(default=None)

    @property
    def session(self) -> SparkSession:
        if self._session is None:
            self._session = build_spark_session(self.master, self.remote, self.conf)
        return self._session


class SourceResource(dg.ConfigurableResource):
    """The raw logs to ingest: a directory or file in one of the supported formats.

    For format "table": `mapping_file` (a YAML or JSON ColumnMapping) or `mapping_pairs`
    (KEY=COLUMN strings, as `--map` takes them) name the columns; `items_path` is a catalog file.
    `allow_partial_input` ingests a truncated or corrupt file up to the break, quarantining the
    break, instead of failing the run.
    """

    path: str
    format: str = "auto"
    category: str | None = None
    mapping_file: str | None = None
    mapping_pairs: list[str] = []
    items_path: str | None = None
    allow_partial_input: bool = False

    def spec(self) -> SourceSpec:
        from transforms.readers.mapping import parse_mapping_pairs

        return SourceSpec(
            path=self.path,
            format=self.format,
            category=self.category,
            mapping=parse_mapping_pairs(self.mapping_pairs) if self.mapping_pairs else None,
            mapping_file=self.mapping_file,
            items_path=self.items_path,
            allow_partial_input=self.allow_partial_input,
        )


class SplitSettings(dg.Config, SplitConfig):
    """The train/valid/test split (transforms.config.SplitConfig), as Dagster config."""


class I2ISettings(dg.Config, I2IConfig):
    """Item-to-item retrieval (transforms.config.I2IConfig), as Dagster config."""


class FeaturesResource(dg.ConfigurableResource, FeatureConfig):
    """Settings of the Spark feature jobs (see transforms.config.FeatureConfig for their meaning).

    Dagster config takes only dg.Config models as nested fields, hence the two Settings twins of
    FeatureConfig's nested models; their fields and defaults are the configs' own."""

    split: SplitSettings = SplitSettings()
    i2i: I2ISettings = I2ISettings()

    def config(self) -> FeatureConfig:
        return FeatureConfig.model_validate(self.model_dump())


class I2ISynthesisResource(dg.ConfigurableResource, I2ISynthesisConfig):
    """LLM-I2I settings (see transforms.config.I2ISynthesisConfig); defaults size the demo."""

    def config(self) -> I2ISynthesisConfig:
        return I2ISynthesisConfig.model_validate(self.model_dump())


class SLMRResource(dg.ConfigurableResource, SLMRConfig):
    """S-LLMR settings (see transforms.config.SLMRConfig); defaults size the demo."""

    def config(self) -> SLMRConfig:
        return SLMRConfig.model_validate(self.model_dump())


class ReformResource(dg.ConfigurableResource, ReformConfig):
    """ReFORM settings (see llm_jobs.augmentation_config.ReformConfig): the domain's factor set
    (a new domain is a YAML file in `factor_set_sources`, no code) and the caps that size the demo."""

    def config(self) -> ReformConfig:
        return ReformConfig.model_validate(self.model_dump())

    def factor_set(self) -> FactorSet:
        return resolve_factor_set(self.domain, self.factor_set_sources)


class ReaseqResource(dg.ConfigurableResource, ReaseqConfig):
    """ReaSeq-inspired settings (see llm_jobs.augmentation_config.ReaseqConfig); defaults size the demo."""

    def config(self) -> ReaseqConfig:
        return ReaseqConfig.model_validate(self.model_dump())


@functools.lru_cache(maxsize=4)
def _loaded_encoder(model: str | None, device: str, batch_size: int, local_files_only: bool) -> TextEncoder:
    return TextEncoder(model, device=device, batch_size=batch_size, local_files_only=local_files_only)


class EvaluationResource(dg.ConfigurableResource, EvaluationConfig):
    """Evaluation settings (see evaluation.run.EvaluationConfig): seeds, metrics, segments, BPR."""

    def config(self) -> EvaluationConfig:
        return EvaluationConfig.model_validate(self.model_dump())


class ValidationResource(dg.ConfigurableResource, ValidationThresholds):
    """Thresholds of the validation checks (schemas.contracts.ValidationThresholds)."""

    def thresholds(self) -> ValidationThresholds:
        return ValidationThresholds.model_validate(self.model_dump())


class TextEncoderResource(dg.ConfigurableResource):
    """The sentence-transformers model that embeds factor profiles, item knowledge and interests.

    `model`: a local folder or a Hugging Face name already in the local cache (None: the packaged
    all-MiniLM-L6-v2, 384 dimensions); set `local_files_only` False to let it download. The model
    loads once per process and configuration.
    """

    model: str | None = None
    device: str = "cpu"
    batch_size: int = 64
    local_files_only: bool = True

    def encoder(self) -> TextEncoder:
        return _loaded_encoder(self.model, self.device, self.batch_size, self.local_files_only)

    @property
    def dimension(self) -> int:
        return self.encoder().dimension


def default_resources() -> dict[str, dg.ConfigurableResource]:
    """Resources from the environment, falling back to the embedded laptop defaults."""
    return {
        "warehouse": WarehouseResource(base_url=os.environ.get("RECAUG_WAREHOUSE", "./warehouse")),
        "spark": SparkResource(
            master=os.environ.get("RECAUG_SPARK_MASTER", "local[*]"),
            remote=os.environ.get("RECAUG_SPARK_REMOTE"),
        ),
        "source": SourceResource(
            path=os.environ.get("RECAUG_SOURCE", "./demo_data"),
            format=os.environ.get("RECAUG_SOURCE_FORMAT", "auto"),
        ),
        "features": FeaturesResource(),
        "llm": llm_resource_from_env(),
        "i2i_synthesis": I2ISynthesisResource(),
        "slmr": SLMRResource(),
        "reform": ReformResource(),
        "reaseq": ReaseqResource(),
        "validation": ValidationResource(),
        "evaluation": EvaluationResource(),
        "text_encoder": TextEncoderResource(
            model=os.environ.get("RECAUG_TEXT_ENCODER") or None,
            device=os.environ.get("RECAUG_TEXT_ENCODER_DEVICE", "cpu"),
        ),
    }
