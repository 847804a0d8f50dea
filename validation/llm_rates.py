"""LLM quality rates against their thresholds: per job (from its run record) the parse rate, the
reject rate and answers naming an id outside the prompt's candidates; per table the share of
empty ReFORM factors and of ReaSeq claims dropped as unsupported, and the junk checks
(`junk_checks`).

A job's unparseable answers and hallucinated ids are warnings: retries replaced those answers (the
reject rate, an error, counts the rows retries could not save), and the table's own ids
are checked against `id_maps` (an error). Empty factors and unsupported claims describe the
model's quality, not a broken table, so they warn too."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame

from schemas.contracts import (
    EMPTY_FACTOR_RATE,
    INSTRUCTION_ECHO_RATE,
    NOT_EMPTY,
    PLACEHOLDER_RATE,
    REPETITION_RATE,
    TIED_PROMPT_RATE,
    UNSUPPORTED_CLAIM_RATE,
    ValidationThresholds,
)
from schemas.expectations import ERROR, WARNING
from schemas.tables import PROFILE_PREFIX
from validation.junk_checks import (
    instruction_echo_rate,
    not_empty,
    placeholder_rate,
    repetition_rate,
    tied_prompt_rate,
)
from validation.report import CheckResult, rate_check


def job_rate_checks(
    tasks: Sequence[str], runs: Mapping[str, dict], thresholds: ValidationThresholds, table_rows: int
) -> list[CheckResult]:
    """`runs` holds the latest run record of each task (`llm_jobs.accounting.latest_runs`). A task
    without one fails when the table has rows (they cannot have come from it); an empty table
    needs no job (nothing was prompted, e.g. a cap of 0)."""
    results = []
    for task in tasks:
        run = runs.get(task)
        if run is None:
            message = f"no run record of {task}" + ("" if table_rows else ": nothing was prompted")
            results.append(CheckResult("llm_job_ran", task, ERROR, table_rows == 0, message=message))
            continue
        answers = run["answers"] or 0
        parse_rate = 1.0 - (run["unparseable"] or 0) / answers if answers else 1.0
        hallucinated = (run["hallucinated_ids"] or 0) / answers if answers else 0.0
        context = {"run_id": run["run_id"], "rows": run["rows"], "answers": answers}
        results += [
            rate_check("llm_parse_rate", task, WARNING, parse_rate, thresholds.min_parse_rate, False, **context),
            rate_check("llm_reject_rate", task, ERROR, run["reject_rate"], thresholds.max_reject_rate, True, **context),
            rate_check("llm_hallucinated_id_rate", task, WARNING, hallucinated, 0.0, True, **context),
        ]
    return results


def table_rate_checks(
    rates: Sequence[str], data: pa.Table | DataFrame, keys: Sequence[str], thresholds: ValidationThresholds
) -> list[CheckResult]:
    """The contract's `rates` of `data`; `keys` identify a sample row. The empty-factor and
    unsupported-claim rates are of tables carrying embeddings, which always validate on Arrow."""
    checks = {
        EMPTY_FACTOR_RATE: lambda: _empty_factor_rate(data, thresholds),
        UNSUPPORTED_CLAIM_RATE: lambda: _unsupported_claim_rate(data, thresholds),
        PLACEHOLDER_RATE: lambda: placeholder_rate(data, keys, thresholds),
        REPETITION_RATE: lambda: repetition_rate(data, keys, thresholds),
        INSTRUCTION_ECHO_RATE: lambda: instruction_echo_rate(data, keys, thresholds),
        TIED_PROMPT_RATE: lambda: tied_prompt_rate(data, thresholds),
        NOT_EMPTY: lambda: not_empty(data, thresholds),
    }
    return [checks[rate]() for rate in rates]


def _empty_factor_rate(table: pa.Table, thresholds: ValidationThresholds) -> CheckResult:
    empty = {
        name.removeprefix(PROFILE_PREFIX): pc.sum(pc.equal(pc.list_value_length(table[name]), 0)).as_py() or 0
        for name in table.column_names
        if name.startswith(PROFILE_PREFIX)
    }
    cells = table.num_rows * len(empty)
    rate = sum(empty.values()) / cells if cells else 0.0
    return rate_check(
        EMPTY_FACTOR_RATE, None, WARNING, rate, thresholds.max_empty_factor_rate, True, empty_per_factor=empty
    )


def _unsupported_claim_rate(table: pa.Table, thresholds: ValidationThresholds) -> CheckResult:
    total = pc.sum(table["claims_total"]).as_py() or 0
    dropped = pc.sum(table["claims_dropped"]).as_py() or 0
    rate = dropped / total if total else 0.0
    return rate_check(
        UNSUPPORTED_CLAIM_RATE,
        "claims_dropped",
        WARNING,
        rate,
        thresholds.max_unsupported_claim_rate,
        True,
        claims=total,
        dropped=dropped,
    )
