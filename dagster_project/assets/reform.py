"""ReFORM assets (arXiv 2603.16236): factor-specific user and item profiles from reviews, each
factor embedded by the text encoder, and user_features joined with them for publication."""

import time

import dagster as dg
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dagster_project.assets.llm_tasks import job_metadata, run_task
from dagster_project.assets.table_io import asset_key, read_arrow, write_arrow
from dagster_project.llm_resource import LLMEngineResource
from dagster_project.partitions import daily_partitions
from dagster_project.resources import (
    ReformResource,
    TextEncoderResource,
    WarehouseResource,
)
from llm_jobs.factor_embeddings import encode_factor_profiles
from llm_jobs.factor_sets import EntityKind, FactorSet
from llm_jobs.tasks.reform import (
    ReviewBudget,
    profile_rows,
    profile_schema,
    profile_task,
    read_profiles,
)
from schemas.tables import reform_profiles_schema
from transforms.augmented_features import augment_user_features
from transforms.knowledge_inputs import most_reviewed

GROUP = "llm_reform"
#: The feature tables joined with the LLM outputs: the sources of the published feature sets.
AUGMENTED_GROUP = "llm_features"


def profiles_table(profiles: pa.Table, encoded: pa.Table, key: str, factor_set: FactorSet, dimension: int) -> pa.Table:
    """`read_profiles` rows (entity_idx, one column per factor) and their `encode_factor_profiles`
    as schemas.tables.reform_profiles_schema."""
    schema = reform_profiles_schema(key, factor_set.names, dimension)
    columns = [
        profiles["entity_idx"].cast(pa.int32()),
        *(profiles[name] for name in factor_set.names),
        encoded["factor_embeddings"],
        encoded["factor_mask"],
    ]
    return pa.table(columns, schema=schema)


def profile_metadata(profiles: pa.Table, factor_set: FactorSet) -> dict:
    """How often each factor came back empty, and how many profiles said nothing at all."""
    n = profiles.num_rows
    empty = {name: [not phrases for phrases in profiles[name].to_pylist()] for name in factor_set.names}
    all_empty = sum(all(flags) for flags in zip(*empty.values())) if n else 0
    return {
        "profiles": n,
        "factor_texts_encoded": sum(not flag for flags in empty.values() for flag in flags),
        "profiles_all_factors_empty": all_empty,
        **{f"empty_factor_rate.{name}": round(sum(flags) / n, 4) if n else 0.0 for name, flags in empty.items()},
    }


def _profile_asset(kind: EntityKind) -> dg.AssetsDefinition:
    name = f"reform_{kind}_profiles"
    key_column = f"{kind}_idx"

    @dg.asset(
        key=asset_key(f"llm/{name}"),
        group_name=GROUP,
        deps=[asset_key("features/review_bundles")],
        partitions_def=daily_partitions,
        description=(
            f"ReFORM: per {kind} (the ones with the most reviews, up to the `reform` resource's cap), 0-5 short "
            "phrases per factor of the domain's factor set, and each factor's text embedded: an (F x D) array "
            "with a mask bit per factor (a zero vector where the factor is empty)."
        ),
    )
    def _asset(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        llm: LLMEngineResource,
        reform: ReformResource,
        text_encoder: TextEncoderResource,
    ) -> dg.MaterializeResult:
        wh, partition, cfg = warehouse.warehouse, context.partition_key, reform.config()
        factor_set = reform.factor_set()
        task = profile_task(factor_set, kind)
        bundles = read_arrow(wh, "features/review_bundles", partition)
        chosen = most_reviewed(bundles, kind, cfg.users if kind == "user" else cfg.items)
        budget = ReviewBudget(cfg.context_tokens, cfg.chars_per_token, max_review_tokens=cfg.max_review_tokens)
        rows = profile_rows(chosen, task, budget)
        metadata: dict = {
            "domain": factor_set.domain,
            "factor_set_fingerprint": factor_set.fingerprint,
            "factors": len(factor_set.names),
            f"{kind}s_with_reviews": pc.sum(pc.equal(bundles["entity_kind"], kind)).as_py() or 0,
            "entities_prompted": len(rows),
        }
        if rows:
            result, _ = run_task(llm, wh, task, pa.Table.from_pylist(rows), partition)
            profiles = read_profiles(wh, task, partition)
            metadata |= job_metadata(result)
        else:
            # Nothing prompted: no job runs (an earlier run's outputs are not read back).
            profiles = profile_schema(factor_set.names).empty_table()
        encoder = text_encoder.encoder()
        started = time.perf_counter()
        encoded = encode_factor_profiles(profiles, factor_set.names, encoder)
        metadata |= {
            "encoder": encoder.model_id,
            "encoder_dimension": encoder.dimension,
            "encoder_seconds": round(time.perf_counter() - started, 3),
        }
        table = profiles_table(profiles, encoded, key_column, factor_set, encoder.dimension)
        path = write_arrow(table, wh, f"llm/{name}", partition)
        return dg.MaterializeResult(
            metadata={**metadata, **profile_metadata(profiles, factor_set), "path": dg.MetadataValue.path(path)}
        )

    return _asset


reform_user_profiles = _profile_asset("user")
reform_item_profiles = _profile_asset("item")


def augmented_metadata(table: pa.Table) -> dict:
    """Rows, and how many carry a profile (any factor with phrases)."""
    mask = table["factor_mask"].combine_chunks().flatten().to_numpy(zero_copy_only=False)
    per_row = mask.reshape(table.num_rows, -1) if table.num_rows else np.zeros((0, 0), bool)
    return {"rows": table.num_rows, "rows_with_a_profile": int(per_row.any(axis=1).sum())}


@dg.asset(
    key=asset_key("llm/user_features_augmented"),
    group_name=AUGMENTED_GROUP,
    deps=[asset_key("features/user_features"), asset_key("llm/reform_user_profiles")],
    partitions_def=daily_partitions,
    description=(
        "features/user_features with each user's ReFORM profile: phrases per factor, (F x D) factor embeddings "
        "and mask; users not profiled get empty lists, zero vectors and all-False masks. Published as user_features."
    ),
)
def user_features_augmented(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    reform: ReformResource,
    text_encoder: TextEncoderResource,
) -> dg.MaterializeResult:
    wh, partition = warehouse.warehouse, context.partition_key
    factor_set = reform.factor_set()
    table = augment_user_features(
        read_arrow(wh, "features/user_features", partition),
        read_arrow(wh, "llm/reform_user_profiles", partition),
        factor_set.names,
        text_encoder.dimension,
    )
    path = write_arrow(table, wh, "llm/user_features_augmented", partition)
    return dg.MaterializeResult(metadata={**augmented_metadata(table), "path": dg.MetadataValue.path(path)})


reform_assets = [reform_user_profiles, reform_item_profiles, user_features_augmented]
