"""ReFORM profiles as the `llm/reform_<kind>_profiles` table: each factor's phrases beside the
factor embeddings, and what the assets report about the profiles and the features they augment."""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa

from llm_jobs.factor_embeddings import encode_factor_profiles
from llm_jobs.factor_sets import FactorSet
from llm_jobs.text_encoder import TextEncoder
from schemas.tables import reform_profiles_schema


def profiles_table(profiles: pa.Table, encoded: pa.Table, key: str, factor_set: FactorSet, dimension: int) -> pa.Table:
    """Profile rows (entity_idx, one column per factor) and their `encode_factor_profiles` as
    schemas.tables.reform_profiles_schema, whose key column is `key`."""
    schema = reform_profiles_schema(key, factor_set.names, dimension)
    columns = [
        profiles["entity_idx"].cast(pa.int32()),
        *(profiles[name] for name in factor_set.names),
        encoded["factor_embeddings"],
        encoded["factor_mask"],
    ]
    return pa.table(columns, schema=schema)


def embedded_profiles(
    profiles: pa.Table, key: str, factor_set: FactorSet, encoder: TextEncoder
) -> tuple[pa.Table, dict]:
    """`profiles_table` of `profiles` embedded by `encoder`, and the encoder's name, dimension and time."""
    started = time.perf_counter()
    encoded = encode_factor_profiles(profiles, factor_set.names, encoder)
    metadata = {
        "encoder": encoder.model_id,
        "encoder_dimension": encoder.dimension,
        "encoder_seconds": round(time.perf_counter() - started, 3),
    }
    return profiles_table(profiles, encoded, key, factor_set, encoder.dimension), metadata


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


def augmented_metadata(table: pa.Table) -> dict:
    """Rows of a feature table joined with profiles, and how many carry one (any factor with phrases)."""
    mask = table["factor_mask"].combine_chunks().flatten().to_numpy(zero_copy_only=False)
    per_row = mask.reshape(table.num_rows, -1) if table.num_rows else np.zeros((0, 0), bool)
    return {"rows": table.num_rows, "rows_with_a_profile": int(per_row.any(axis=1).sum())}
