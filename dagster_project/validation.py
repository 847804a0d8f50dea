"""Validate a table against its published set's contract before it may be published.

Two kinds of check run: the set's Great Expectations suite (`schemas.expectations`: schema,
non-null and unique keys, value ranges), and recaug checks GX cannot express on one table: every
index is present in `id_maps`, the row count moved by no more than a band against the
previous version (a 90% drop usually means a broken upstream, not a smaller dataset), and for the
LLM-augmented columns: every embedding has the declared (F x D) or D shape and finite values, a
factor's mask bit is set exactly when it has phrases and its vector is zero exactly when not,
phrase lists are short, knowledge vectors follow `has_knowledge`, and beyond-log items are outside
the user's sequence.

The result is a `ValidationReport` whose `passed` is false when any error-severity check failed;
`as_dict()` is JSON-able so it can be written into the version's manifest.

Tables are validated here as pandas DataFrames with an ephemeral GX context, which suits the
sizes recaug tests and small sources publish. Large tables should validate on Spark DataFrames
instead (GX 1.x has a Spark data source, `context.data_sources.add_spark`); that is left for later.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass, field

import duckdb
import great_expectations as gx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from great_expectations.core import ExpectationValidationResult
from great_expectations.data_context.types.base import ProgressBarsConfig

from llm_jobs.tasks.reform import MAX_PHRASES, PHRASE_CHARS
from schemas.expectations import ERROR, build_suite
from schemas.tables import KNOWLEDGE_PREFIX, PROFILE_PREFIX, published_schema

SAMPLE_SIZE = 5

# Which index columns of each set must appear in id_maps, and under which kind.
ID_COLUMNS: dict[str, dict[str, str]] = {
    "interactions_train": {"user_idx": "user", "item_idx": "item"},
    "interactions_valid": {"user_idx": "user", "item_idx": "item"},
    "interactions_test": {"user_idx": "user", "item_idx": "item"},
    "user_sequences": {"user_idx": "user", "item_idx": "item", "beyond_log_item_idx": "item"},
    "user_features": {"user_idx": "user"},
    "item_features": {"item_idx": "item"},
    "i2i_pairs": {"item_idx": "item", "neighbor_idx": "item"},
    "i2i_train_interactions": {"user_idx": "user", "item_idx": "item"},
    "llm_pairwise_supervision": {"user_idx": "user", "item_i": "item", "item_j": "item"},
}


@dataclass(frozen=True)
class CheckResult:
    """One expectation or recaug check, in the shape a manifest stores."""

    name: str
    column: str | None
    severity: str
    success: bool
    unexpected_count: int | None = None
    sample_values: list = field(default_factory=list)
    sample_rows: list[dict] = field(default_factory=list)
    observed: object = None
    message: str | None = None


@dataclass(frozen=True)
class ValidationReport:
    set_name: str
    row_count: int
    results: list[CheckResult]

    @property
    def passed(self) -> bool:
        """Warnings are shown, never blocking: only an error-severity failure stops publication."""
        return not self.failures(ERROR)

    def failures(self, severity: str | None = None) -> list[CheckResult]:
        return [r for r in self.results if not r.success and severity in (None, r.severity)]

    def as_dict(self) -> dict:
        return {
            "set_name": self.set_name,
            "row_count": self.row_count,
            "passed": self.passed,
            "results": [asdict(r) for r in self.results],
        }


def validate_table(
    set_name: str,
    table: pa.Table,
    id_maps: pa.Table | None,
    previous_row_count: int | None,
    row_count_band: tuple[float, float] = (0.5, 2.0),
    schema: pa.Schema | None = None,
) -> ValidationReport:
    """Run the set's GX suite and the recaug checks on `table`.

    `id_maps` is required for every set that carries indices (all but id_maps itself);
    `previous_row_count` is None for a set's first version, which skips the row-count check.
    `schema` is the set's resolved schema (`schemas.tables.published_schema`), required for the
    sets whose embedding shapes depend on the configuration.
    """
    if set_name in ID_COLUMNS and id_maps is None:
        raise ValueError(f"{set_name} carries indices: pass id_maps to validate them")
    schema = schema if schema is not None else published_schema(set_name)
    results = _run_suite(set_name, table, schema)
    results += [
        _ids_present(table, id_maps, column, kind) for column, kind in ID_COLUMNS.get(set_name, {}).items()
    ]
    results += _augmentation_checks(table, schema)
    if previous_row_count is not None:
        results.append(_row_count_within_band(table.num_rows, previous_row_count, row_count_band))
    return ValidationReport(set_name, table.num_rows, results)


# --- Great Expectations ----------------------------------------------------------------------


def _run_suite(set_name: str, table: pa.Table, schema: pa.Schema) -> list[CheckResult]:
    """Validate with a throwaway ephemeral context: nothing is read from or written to disk."""
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_definition = (
        context.data_sources.add_pandas("recaug")
        .add_dataframe_asset(set_name)
        .add_batch_definition_whole_dataframe("whole")
    )
    batch = batch_definition.get_batch(batch_parameters={"dataframe": table.to_pandas()})
    result = batch.validate(
        build_suite(set_name, schema.names),
        result_format={"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE},
    )
    return [_from_gx(r, table) for r in result.results]


def _from_gx(result: ExpectationValidationResult, table: pa.Table) -> CheckResult:
    config = result.expectation_config
    column = config.kwargs.get("column") or ",".join(config.kwargs.get("column_list") or []) or None
    if config.type == "expect_table_columns_to_match_ordered_list":
        column = None  # the column list is the expectation's argument, not its subject
    details = result.result or {}
    rows = details.get("partial_unexpected_index_list") or []
    return CheckResult(
        name=config.type,
        column=column,
        severity=config.meta["severity"],
        success=bool(result.success),
        unexpected_count=details.get("unexpected_count"),
        sample_values=_jsonable(details.get("partial_unexpected_list") or [])[:SAMPLE_SIZE],
        sample_rows=_rows(table, rows[:SAMPLE_SIZE]),
        observed=_jsonable(details.get("observed_value")),
        message=_exception_message(result.exception_info),
    )


def _exception_message(info: dict | None) -> str | None:
    """GX reports a failed metric (e.g. a missing column) as an exception, not as a failure."""
    if not info:
        return None
    infos = [info] if "raised_exception" in info else list(info.values())
    messages = sorted({i["exception_message"] for i in infos if i.get("raised_exception")})
    return "; ".join(messages) or None


# --- recaug checks ---------------------------------------------------------------------------


def _ids_present(table: pa.Table, id_maps: pa.Table, column: str, kind: str) -> CheckResult:
    """Every index must resolve to a raw id, or a consumer cannot map it back (list columns too)."""
    is_list = pa.types.is_list(table.schema.field(column).type)
    value = f"unnest(t.{column})" if is_list else f"t.{column}"
    con = duckdb.connect()
    con.register("t", table.append_column("__row", pa.array(np.arange(table.num_rows))))
    con.register("id_maps", id_maps)
    con.execute(
        f"""CREATE TEMP TABLE missing AS
            SELECT v.__row, v.value FROM (SELECT t.__row, {value} AS value FROM t) v
            WHERE v.value IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM id_maps m WHERE m.kind = ? AND m.idx = v.value)""",
        [kind],
    )
    count = con.execute("SELECT count(*) FROM missing").fetchone()[0]
    sample = con.execute(
        "SELECT DISTINCT value FROM missing ORDER BY value LIMIT ?", [SAMPLE_SIZE]
    ).fetchall()
    rows = con.execute("SELECT DISTINCT __row FROM missing ORDER BY __row LIMIT ?", [SAMPLE_SIZE]).fetchall()
    con.close()
    return CheckResult(
        name="ids_present_in_id_maps",
        column=column,
        severity=ERROR,
        success=count == 0,
        unexpected_count=count,
        sample_values=[v for (v,) in sample],
        sample_rows=_rows(table, [r for (r,) in rows]),
    )


def _is_fixed_size(data_type: pa.DataType) -> bool:
    return pa.types.is_fixed_size_list(data_type)


def _fixed_values(table: pa.Table, column: str) -> np.ndarray | None:
    """A fixed-size-list column as an (n, *sizes) array; None when it holds nulls (not-null fails then)."""
    array = table[column].combine_chunks()
    if array.null_count:
        return None
    sizes = []
    while _is_fixed_size(array.type):
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
        sample_rows=_rows(table, rows[:SAMPLE_SIZE].tolist()),
        message=message if rows.size else None,
    )


def _augmentation_checks(table: pa.Table, schema: pa.Schema) -> list[CheckResult]:
    """The LLM-augmented columns' checks: shapes and finiteness of every embedding, profile phrase
    limits and masks, knowledge vectors, and beyond-log items."""
    results, values = _shape_checks(table, schema)
    for name, array in values.items():
        if array is not None and array.dtype.kind == "f":
            bad = ~np.isfinite(array.reshape(table.num_rows, -1)).all(axis=1)
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
    if "beyond_log_item_idx" in schema.names and "beyond_log_item_idx" in table.column_names:
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
        if not _is_fixed_size(declared.type) or declared.name not in table.column_names:
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


def _row_count_within_band(rows: int, previous: int, band: tuple[float, float]) -> CheckResult:
    """An empty previous version gives no baseline to compare a ratio with, so it passes."""
    ratio = rows / previous if previous else None
    return CheckResult(
        name="row_count_change_within_band",
        column=None,
        severity=ERROR,
        success=ratio is None or band[0] <= ratio <= band[1],
        observed={"rows": rows, "previous_rows": previous, "ratio": ratio, "band": list(band)},
    )


# --- JSON helpers ----------------------------------------------------------------------------


def _rows(table: pa.Table, indices: list[int]) -> list[dict]:
    """The rows as JSON-able dicts, without their embedding vectors and masks (too big for a manifest)."""
    if not indices:
        return []
    shown = [name for name, field in zip(table.column_names, table.schema) if not _is_fixed_size(field.type)]
    return _jsonable(table.select(shown).take(pa.array(indices, pa.int64())).to_pylist())


def _jsonable(value):
    """Turn numpy, pandas and datetime values into what json.dumps accepts (NaN becomes None)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
