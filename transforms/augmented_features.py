"""The published user_features, item_features and user_sequences: the Spark feature tables joined
with the ReFORM profiles, the ReaSeq knowledge and the beyond-log items.

These are pyarrow joins, not Spark ones, because Spark cannot carry the fixed-size-list embedding
columns. Every feature row is kept; an entity the LLM jobs did not reach gets empty phrase lists,
zero vectors and all-False masks (never nulls), so a loader always gets dense tensors. The whole
table is joined in memory, like the publisher's validation reads it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas.registry import Llm
from schemas.tables import (
    AUGMENTED_USER_SEQUENCES,
    KNOWLEDGE_FIELDS,
    KNOWLEDGE_PREFIX,
    augmented_item_features,
    augmented_user_features,
    embedding_type,
    factor_embeddings_type,
    factor_mask_type,
    profile_column,
)


def positions(keys: pa.Array | pa.ChunkedArray, lookup: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """For each key, its row in `lookup` (distinct values), or -1."""
    index = pc.index_in(keys, value_set=lookup.combine_chunks() if isinstance(lookup, pa.ChunkedArray) else lookup)
    return pc.fill_null(index, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def _flat_floats(column: pa.Array | pa.ChunkedArray, depth: int) -> np.ndarray:
    """The float32 values of a (nested) fixed-size-list column, flattened."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    for _ in range(depth):
        array = array.flatten()
    return array.to_numpy(zero_copy_only=False).astype(np.float32, copy=False)


def _fixed_size(values: np.ndarray, *sizes: int) -> pa.FixedSizeListArray:
    """Nested fixed-size lists over a contiguous float32 or bool buffer, innermost size last."""
    array: pa.Array = pa.array(values.reshape(-1))
    for size in reversed(sizes):
        array = pa.FixedSizeListArray.from_arrays(array, size)
    return array


def _taken_lists(column: pa.ChunkedArray | pa.Array, rows: np.ndarray) -> pa.Array:
    """`column[rows]` for a list column, an empty list where rows is -1."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    taken = array.take(pa.array(np.where(rows >= 0, rows, 0))) if len(array) else pa.nulls(len(rows), array.type)
    taken = pc.if_else(pa.array(rows >= 0), taken, pa.scalar(None, array.type))
    lengths = pc.fill_null(pc.list_value_length(taken), 0).to_numpy(zero_copy_only=False)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), taken.flatten(), type=array.type)


def _taken(column: pa.ChunkedArray | pa.Array, rows: np.ndarray, missing) -> pa.Array:
    """`column[rows]` for a scalar column, `missing` where rows is -1."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    taken = array.take(pa.array(np.where(rows >= 0, rows, 0))) if len(array) else pa.nulls(len(rows), array.type)
    return pc.if_else(pa.array(rows >= 0), taken, pa.scalar(missing, array.type))


def _check_type(table: pa.Table, column: str, expected: pa.DataType, producer: str) -> None:
    actual = table.schema.field(column).type
    if actual != expected:
        raise ValueError(
            f"{producer}.{column} is {actual}, but the configured factor set and text encoder give {expected}; "
            f"materialize {producer} again with this configuration"
        )


def profile_columns(
    keys: pa.ChunkedArray | pa.Array,
    profiles: pa.Table,
    key: str,
    factor_names: Sequence[str],
    dimension: int,
    producer: str,
) -> dict[str, pa.Array]:
    """The profile columns (reform_profiles_schema) of `profiles` aligned to `keys`, zero-filled."""
    n_factors = len(factor_names)
    _check_type(profiles, "factor_embeddings", factor_embeddings_type(n_factors, dimension), producer)
    _check_type(profiles, "factor_mask", factor_mask_type(n_factors), producer)
    rows = positions(keys, profiles[key])
    found = rows >= 0
    vectors = np.zeros((len(rows), n_factors, dimension), np.float32)
    mask = np.zeros((len(rows), n_factors), bool)
    if profiles.num_rows:
        vectors[found] = _flat_floats(profiles["factor_embeddings"], 2).reshape(-1, n_factors, dimension)[rows[found]]
        source_mask = _flat_floats(profiles["factor_mask"], 1).astype(bool).reshape(-1, n_factors)
        mask[found] = source_mask[rows[found]]
    columns = {profile_column(n): _taken_lists(profiles[profile_column(n)], rows) for n in factor_names}
    columns["factor_embeddings"] = _fixed_size(vectors, n_factors, dimension)
    columns["factor_mask"] = _fixed_size(mask, n_factors)
    return columns


def knowledge_columns(keys: pa.ChunkedArray | pa.Array, knowledge: pa.Table, dimension: int) -> dict[str, pa.Array]:
    """item_features' knowledge columns (schemas.tables.knowledge_fields) of `knowledge`
    (item_knowledge_schema) aligned to `keys`; items without knowledge get the empty values."""
    _check_type(knowledge, "knowledge_embedding", embedding_type(dimension), Llm.REASEQ_ITEM_KNOWLEDGE.key)
    rows = positions(keys, knowledge["item_idx"])
    found = rows >= 0
    vectors = np.zeros((len(rows), dimension), np.float32)
    if knowledge.num_rows:
        vectors[found] = _flat_floats(knowledge["knowledge_embedding"], 1).reshape(-1, dimension)[rows[found]]
    return {
        "has_knowledge": pa.array(found),
        **{f"{KNOWLEDGE_PREFIX}{field}": _taken_lists(knowledge[field], rows) for field in KNOWLEDGE_FIELDS},
        f"{KNOWLEDGE_PREFIX}price_tier": _taken(knowledge["price_tier"], rows, "unknown"),
        f"{KNOWLEDGE_PREFIX}summary": _taken(knowledge["summary"], rows, ""),
        f"{KNOWLEDGE_PREFIX}embedding": _fixed_size(vectors, dimension),
    }


def _assemble(features: pa.Table, extra: dict[str, pa.Array], schema: pa.Schema) -> pa.Table:
    columns = {name: features[name] for name in features.column_names} | extra
    return pa.table([columns[field.name] for field in schema], schema=schema)


def augment_user_features(
    user_features: pa.Table, profiles: pa.Table, factor_names: Sequence[str], dimension: int
) -> pa.Table:
    """features/user_features with llm/reform_user_profiles: schemas.tables.augmented_user_features."""
    schema = augmented_user_features(factor_names, dimension)
    keys = user_features["user_idx"]
    extra = profile_columns(keys, profiles, "user_idx", factor_names, dimension, Llm.REFORM_USER_PROFILES.key)
    return _assemble(user_features, extra, schema)


def augment_item_features(
    item_features: pa.Table, profiles: pa.Table, knowledge: pa.Table, factor_names: Sequence[str], dimension: int
) -> pa.Table:
    """features/item_features with llm/reaseq_item_knowledge and llm/reform_item_profiles:
    schemas.tables.augmented_item_features."""
    schema = augmented_item_features(factor_names, dimension)
    keys = item_features["item_idx"]
    extra = knowledge_columns(keys, knowledge, dimension) | profile_columns(
        keys, profiles, "item_idx", factor_names, dimension, Llm.REFORM_ITEM_PROFILES.key
    )
    return _assemble(item_features, extra, schema)


def augment_user_sequences(user_sequences: pa.Table, interests: pa.Table) -> pa.Table:
    """features/user_sequences with the beyond-log items of llm/reaseq_user_interests (empty for
    users not prompted): schemas.tables.AUGMENTED_USER_SEQUENCES."""
    rows = positions(user_sequences["user_idx"], interests["user_idx"])
    extra = {"beyond_log_item_idx": _taken_lists(interests["beyond_log_item_idx"], rows)}
    return _assemble(user_sequences, extra, AUGMENTED_USER_SEQUENCES)
