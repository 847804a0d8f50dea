"""Checks of the LLM-augmented columns, on Arrow tables (they are built and published in Arrow):
every embedding has the declared (F x D) or D shape and finite values, a factor's mask bit is set
exactly when it has phrases and its vector is zero exactly when not, phrase lists are short,
knowledge vectors follow `has_knowledge`, and beyond-log items are outside the user's sequence."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas.expectations import ERROR
from schemas.llm_outputs import REFORM_MAX_PHRASES as MAX_PHRASES
from schemas.llm_outputs import REFORM_PHRASE_CHARS as PHRASE_CHARS
from schemas.tables import KNOWLEDGE_PREFIX, PROFILE_PREFIX
from validation.report import SAMPLE_SIZE, CheckResult, arrow_rows, is_vector


def has_embeddings(schema: pa.Schema) -> bool:
    return any(is_vector(f.type) for f in schema)


def _fixed_values(table: pa.Table, column: str) -> np.ndarray | None:
    """A fixed-size-list column as an (n, *sizes) array; None when it holds nulls (not-null fails then)."""
    array = table[column].combine_chunks()
    if array.null_count:
        return None
    sizes = []
    while is_vector(array.type):
        sizes.append(array.type.list_size)
        array = array.flatten()
    if array.null_count:
        return None
    return array.to_numpy(zero_copy_only=False).reshape(table.num_rows, *sizes)


def _check(
    name: str, column: str | None, table: pa.Table, bad_rows: np.ndarray, message: str | None = None
) -> CheckResult:
    """A recaug check failing on the rows where `bad_rows` is True."""
    rows = np.flatnonzero(bad_rows)
    return CheckResult(
        name=name,
        column=column,
        severity=ERROR,
        success=rows.size == 0,
        unexpected_count=int(rows.size),
        sample_rows=arrow_rows(table, rows[:SAMPLE_SIZE].tolist()),
        message=message if rows.size else None,
    )


def augmentation_checks(table: pa.Table, schema: pa.Schema) -> list[CheckResult]:
    """The LLM-augmented columns' checks: shapes and finiteness of every embedding, profile phrase
    limits and masks, knowledge vectors, and beyond-log items."""
    results, values = _shape_checks(table, schema)
    for name, array in values.items():
        if array is not None and array.dtype.kind == "f":
            bad = ~np.isfinite(array).all(axis=tuple(range(1, array.ndim)))  # per row; empty tables too
            results.append(_check("embeddings_finite", name, table, bad))
    profiles = [name for name in schema.names if name.startswith(PROFILE_PREFIX) and name in table.column_names]
    if profiles:
        results += _profile_checks(table, profiles, values.get("factor_mask"), values.get("factor_embeddings"))
    knowledge = values.get(f"{KNOWLEDGE_PREFIX}embedding")
    if knowledge is not None and "has_knowledge" in table.column_names:
        flag = table["has_knowledge"].to_numpy(zero_copy_only=False)
        summary = pc.fill_null(pc.utf8_length(table[f"{KNOWLEDGE_PREFIX}summary"]), 0).to_numpy() > 0
        has_vector = np.abs(knowledge).sum(axis=1) > 0
        message = "an item has a summary and a non-zero knowledge vector exactly when has_knowledge is True"
        bad = (has_vector != flag) | (summary != flag)
        results.append(_check("knowledge_embedding_matches_flag", f"{KNOWLEDGE_PREFIX}embedding", table, bad, message))
    sequence = table.schema.field("item_idx").type if "item_idx" in table.column_names else None
    if "beyond_log_item_idx" in table.column_names and sequence is not None and pa.types.is_list(sequence):
        pairs = zip(table["beyond_log_item_idx"].to_pylist(), table["item_idx"].to_pylist())
        overlap = np.array([bool(set(beyond or ()) & set(history or ())) for beyond, history in pairs], bool)
        message = "a beyond-log item must not be in the user's sequence"
        results.append(_check("beyond_log_items_outside_history", "beyond_log_item_idx", table, overlap, message))
    return results


def _shape_checks(table: pa.Table, schema: pa.Schema) -> tuple[list[CheckResult], dict[str, np.ndarray | None]]:
    """One check per fixed-size-list column of `schema`: its type in `table` is the declared one
    (F x D, D or F). Returns the checks and the values of the columns that passed."""
    results, values = [], {}
    for declared in schema:
        if not is_vector(declared.type) or declared.name not in table.column_names:
            continue
        actual = table.schema.field(declared.name).type
        results.append(
            CheckResult(
                name="embedding_shape",
                column=declared.name,
                severity=ERROR,
                success=actual == declared.type,
                observed={"declared": str(declared.type), "actual": str(actual)},
            )
        )
        if actual == declared.type:
            values[declared.name] = _fixed_values(table, declared.name)
    return results, values


def _profile_checks(
    table: pa.Table, profiles: list[str], mask: np.ndarray | None, vectors: np.ndarray | None
) -> list[CheckResult]:
    """Each factor holds at most MAX_PHRASES phrases of 1 to PHRASE_CHARS characters; its mask bit
    is set exactly when it has phrases, and its vector is zero exactly when the bit is not."""
    n_phrases = np.zeros((table.num_rows, len(profiles)), np.int64)
    bad = np.zeros((table.num_rows, len(profiles)), bool)
    for f, name in enumerate(profiles):
        lists = table[name].combine_chunks()
        lengths = pc.list_value_length(lists)
        n_phrases[:, f] = pc.fill_null(lengths, 0).to_numpy()
        bad[:, f] = pc.fill_null(pc.greater(lengths, MAX_PHRASES), True).to_numpy(zero_copy_only=False)
        chars = pc.fill_null(pc.utf8_length(pc.list_flatten(lists)), 0).to_numpy()
        bad[pc.list_parent_indices(lists).to_numpy()[(chars < 1) | (chars > PHRASE_CHARS)], f] = True
    limits = f"at most {MAX_PHRASES} phrases of 1 to {PHRASE_CHARS} characters per factor"
    results = [_check("profile_phrases_are_short", ",".join(profiles), table, bad.any(axis=1), limits)]
    if mask is not None and vectors is not None and mask.shape[1:] == (len(profiles),):
        message = "a factor's mask bit must be set exactly when it has phrases"
        bad_mask = (mask != (n_phrases > 0)).any(axis=1)
        results.append(_check("factor_mask_matches_profiles", "factor_mask", table, bad_mask, message))
        has_vector = np.abs(vectors).sum(axis=2) > 0
        message = "a factor's vector must be zero exactly when its mask bit is False"
        bad_vectors = (has_vector != mask).any(axis=1)
        results.append(_check("masked_factor_embeddings_are_zero", "factor_embeddings", table, bad_vectors, message))
    return results
