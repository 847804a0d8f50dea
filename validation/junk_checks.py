"""Checks of LLM outputs that parse and pass their schema but are junk; each is a warning, an
error with `ValidationThresholds.block_on_junk`.

- `PLACEHOLDER_RATE`, `REPETITION_RATE`: the share of a table's non-empty LLM free texts (a string
  cell, or one phrase of a list cell) holding a template placeholder or looping (`junk_text`).
- `INSTRUCTION_ECHO_RATE`: the share of those texts holding an instruction aimed at a model, or
  copying ECHO_SPAN_WORDS words of the row's input text (INPUT_TEXT_COLUMNS the table carries, the
  item's title in item_features): what an injected review or title leaves in an output.
- `TIED_PROMPT_RATE`: the share of S-LLMR prompts (user, candidate set) of 2+ candidates whose
  scores are all equal: fewer than two distinct scores among those the model gave (a missing
  score forms no pair), so the prompt gives no pairwise supervision.
- `NOT_EMPTY`: the table has rows: an empty pairwise set trains nothing. Validation sees one
  table, not the one it was derived from, so it warns even when nothing was prompted (a cap of 0).

The tied-prompt rate is computed where the table is, over all of it (Arrow or Spark). The text
detectors run in process: a Spark DataFrame's texts are judged on a seeded random sample of at
most SPARK_TEXT_SAMPLE rows (`observed.sampled_rows`), never the whole table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from schemas.contracts import (
    INSTRUCTION_ECHO_RATE,
    NOT_EMPTY,
    PLACEHOLDER_RATE,
    REPETITION_RATE,
    TIED_PROMPT_RATE,
    ValidationThresholds,
)
from schemas.expectations import ERROR, WARNING
from schemas.llm_outputs import KNOWLEDGE_FIELDS, SLMR_PROMPT
from schemas.tables import KNOWLEDGE_PREFIX, PROFILE_PREFIX
from validation.junk_text import copies_input, has_instruction, has_placeholder, is_repetitive
from validation.report import SAMPLE_SIZE, CheckResult, jsonable, rate_check

SPARK_TEXT_SAMPLE = 100_000
TEXT_BATCH = 1_000_000  # texts judged at once: bounds the detectors' memory on a large Arrow table

_KNOWLEDGE_TEXT = ("summary", *KNOWLEDGE_FIELDS)
#: LLM-written text columns besides ReFORM's `profile_` ones: ReaSeq knowledge as the agents wrote
#: it and as item_features publishes it, ReaSeq interests, and the I2I generator's reasons.
FREE_TEXT_COLUMNS = frozenset(
    {*_KNOWLEDGE_TEXT, *(KNOWLEDGE_PREFIX + column for column in _KNOWLEDGE_TEXT), "interests", "reason"}
)

#: A row's own input text, which its free texts must not copy at length.
INPUT_TEXT_COLUMNS = ("title",)

Data = pa.Table | DataFrame
#: A detector judges a table of texts (`_texts`: keys, column, text, the row's input texts).
Detector = Callable[[pa.Table], np.ndarray]


def junk_severity(thresholds: ValidationThresholds) -> str:
    return ERROR if thresholds.block_on_junk else WARNING


def free_text_columns(names: Sequence[str]) -> list[str]:
    return [name for name in names if name in FREE_TEXT_COLUMNS or name.startswith(PROFILE_PREFIX)]


def placeholder_rate(data: Data, keys: Sequence[str], thresholds: ValidationThresholds) -> CheckResult:
    return _text_rate(
        PLACEHOLDER_RATE, _of_text(has_placeholder), thresholds.max_placeholder_rate, data, keys, thresholds
    )


def repetition_rate(data: Data, keys: Sequence[str], thresholds: ValidationThresholds) -> CheckResult:
    return _text_rate(REPETITION_RATE, _of_text(is_repetitive), thresholds.max_repetition_rate, data, keys, thresholds)


def instruction_echo_rate(data: Data, keys: Sequence[str], thresholds: ValidationThresholds) -> CheckResult:
    limit = thresholds.max_instruction_echo_rate
    return _text_rate(INSTRUCTION_ECHO_RATE, _echoes, limit, data, keys, thresholds)


def _of_text(detector: Callable[[pa.Array], np.ndarray]) -> Detector:
    return lambda texts: detector(texts["text"].combine_chunks())


def _echoes(texts: pa.Table) -> np.ndarray:
    text = texts["text"].combine_chunks()
    inputs = [texts[name].combine_chunks() for name in INPUT_TEXT_COLUMNS if name in texts.column_names]
    return has_instruction(text) | copies_input(text, inputs)


def _text_rate(
    name: str,
    detector: Detector,
    limit: float,
    data: Data,
    keys: Sequence[str],
    thresholds: ValidationThresholds,
) -> CheckResult:
    """The share of the free texts that `detector` flags; a sample row shows the keys of the text's
    row, its column and the text."""
    names = data.columns if isinstance(data, DataFrame) else data.column_names
    columns = free_text_columns(names)
    inputs = [name for name in INPUT_TEXT_COLUMNS if name in names and name not in keys]
    table, sampling = _in_process(data, [*keys, *inputs, *columns])
    texts = _texts(table, columns, [*keys, *inputs])
    flagged = _judge(detector, texts)
    offending = np.flatnonzero(flagged)
    per_column = pc.value_counts(texts["column"].filter(flagged)).to_pylist()
    return rate_check(
        name,
        ",".join(columns) or None,
        junk_severity(thresholds),
        offending.size / texts.num_rows if texts.num_rows else 0.0,
        limit,
        True,
        unexpected_count=int(offending.size),
        sample_rows=jsonable(texts.drop_columns(inputs).take(offending[:SAMPLE_SIZE]).to_pylist()),
        texts=texts.num_rows,
        flagged_per_column={c["values"]: c["counts"] for c in per_column},
        **sampling,
    )


def _in_process(data: Data, columns: list[str]) -> tuple[pa.Table, dict]:
    """`columns` of `data` as an Arrow table, with how it was sampled (nothing for an Arrow table)."""
    if isinstance(data, pa.Table):
        return data.select(columns), {}
    rows = data.count()
    fraction = min(1.0, SPARK_TEXT_SAMPLE / rows) if rows else 1.0
    sample = data.select(*columns).sample(fraction=fraction, seed=0).limit(SPARK_TEXT_SAMPLE).toArrow()
    return sample, {"sampled_rows": sample.num_rows, "of_rows": rows}


def _judge(detector: Detector, texts: pa.Table) -> np.ndarray:
    batches = range(0, texts.num_rows or 1, TEXT_BATCH)
    return np.concatenate([detector(texts.slice(start, TEXT_BATCH)) for start in batches])


def _texts(table: pa.Table, columns: list[str], keys: Sequence[str]) -> pa.Table:
    """One row per non-empty text of `columns`: its row's keys, the column and the text (a list
    cell gives one row per phrase)."""
    parts = []
    for column in columns:
        values = table[column].combine_chunks()
        if pa.types.is_list(values.type):
            rows, values = pc.list_parent_indices(values), pc.list_flatten(values)
        else:
            rows = pa.array(np.arange(len(values)))
        part = table.select(keys).take(rows).append_column("column", pa.repeat(column, len(values)))
        parts.append(part.append_column("text", values))
    if not parts:
        return pa.schema([*table.select(keys).schema, ("column", pa.string()), ("text", pa.string())]).empty_table()
    texts = pa.concat_tables(parts)
    return texts.filter(pc.fill_null(pc.greater(pc.utf8_length(texts["text"]), 0), False))


def tied_prompt_rate(data: Data, thresholds: ValidationThresholds) -> CheckResult:
    """Over the S-LLMR scores; sample rows are tied prompts with their candidates, distinct scores
    and the score they share (null when the model gave none)."""
    prompts, tied, sample = _tied_prompts(data) if isinstance(data, pa.Table) else _tied_prompts_on_spark(data)
    return rate_check(
        TIED_PROMPT_RATE,
        "raw_score",
        junk_severity(thresholds),
        tied / prompts if prompts else 0.0,
        thresholds.max_tied_prompt_rate,
        True,
        unexpected_count=tied,
        sample_rows=jsonable(sample),
        prompts=prompts,
    )


def _tied_prompts(table: pa.Table) -> tuple[int, int, list[dict]]:
    """(prompts of 2+ candidates, tied ones, up to SAMPLE_SIZE tied ones)."""
    grouped = table.group_by(SLMR_PROMPT).aggregate(
        [("item_idx", "count"), ("raw_score", "count_distinct"), ("raw_score", "max")]  # nulls are not counted
    )
    names = {"item_idx_count": "candidates", "raw_score_count_distinct": "distinct_scores", "raw_score_max": "score"}
    grouped = grouped.rename_columns(names).select([*SLMR_PROMPT, *names.values()])
    ranked = grouped.filter(pc.greater(grouped["candidates"], 1))
    tied = ranked.filter(pc.less(ranked["distinct_scores"], 2))
    return ranked.num_rows, tied.num_rows, tied.slice(0, SAMPLE_SIZE).to_pylist()


def _tied_prompts_on_spark(df: DataFrame) -> tuple[int, int, list[dict]]:
    """As `_tied_prompts`, as Spark jobs that collect two counts and the sample."""
    ranked = (
        df.groupBy(*SLMR_PROMPT)
        .agg(
            F.count(F.lit(1)).alias("candidates"),
            F.countDistinct("raw_score").alias("distinct_scores"),  # nulls are not counted
            F.max("raw_score").alias("score"),
        )
        .where(F.col("candidates") > 1)
    )
    is_tied = F.col("distinct_scores") < 2
    prompts, tied = ranked.agg(F.count(F.lit(1)), F.count_if(is_tied)).first()
    sample = ranked.where(is_tied).limit(SAMPLE_SIZE).collect() if tied else []
    return prompts, tied, [row.asDict() for row in sample]


def not_empty(data: Data, thresholds: ValidationThresholds) -> CheckResult:
    rows = data.num_rows if isinstance(data, pa.Table) else data.count()
    return CheckResult(NOT_EMPTY, None, junk_severity(thresholds), rows > 0, observed={"rows": rows})
