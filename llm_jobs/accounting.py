"""What one job run did, returned to the caller and appended to `llm/_runs/` (one file per run)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

from llm_jobs.parquet_io import write_parquet_atomic
from storage.warehouse import Warehouse

RUN_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("task", pa.string()),
        ("task_version", pa.string()),
        ("model_id", pa.string()),
        ("partition", pa.string()),
        ("rows", pa.int64()),
        ("requests_sent", pa.int64()),
        ("cache_hits", pa.int64()),
        ("cache_quarantined", pa.int64()),  # null in records written before it existed
        ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()),
        ("wall_seconds", pa.float64()),
        ("output_tokens_per_second", pa.float64()),
        ("accepted", pa.int64()),
        ("rejected", pa.int64()),
        ("reject_rate", pa.float64()),
        ("answers", pa.int64()),
        ("unparseable", pa.int64()),
        ("hallucinated_ids", pa.int64()),
        ("runner", pa.string()),
        ("started_at", pa.timestamp("us", tz="UTC")),
    ]
)


SUMMARY_FIELDS = (
    "rows",
    "requests_sent",
    "cache_hits",
    "cache_quarantined",
    "prompt_tokens",
    "completion_tokens",
    "wall_seconds",
    "output_tokens_per_second",
    "rejected",
    "parse_rate",
    "hallucinated_ids",
    "model_id",
)


@dataclass(frozen=True)
class JobResult:
    run_id: str
    task: str
    task_version: str
    model_id: str
    partition: str
    rows: int
    # Distinct requests sent to the engine, over all attempts; the rest were answered by the cache.
    requests_sent: int
    cache_hits: int
    # Unreadable cache batch files moved to llm/_cache_quarantine/ (their requests were sent again).
    cache_quarantined: int
    prompt_tokens: int
    completion_tokens: int
    wall_seconds: float
    output_tokens_per_second: float
    accepted: int
    rejected: int
    reject_rate: float
    # Answers judged over every attempt, and those that were not JSON or named an id outside the
    # row's candidates (retries may have replaced them: `rejected` counts the rows that stayed bad).
    answers: int
    unparseable: int
    hallucinated_ids: int
    runner: str
    started_at: datetime
    output_path: str
    rejects_path: str

    @property
    def parse_rate(self) -> float:
        return 1.0 - self.unparseable / self.answers if self.answers else 1.0

    def summary(self) -> dict[str, str | int | float]:
        """What a run's report shows: its size, requests, tokens, timing and rejects."""
        return {name: getattr(self, name) for name in SUMMARY_FIELDS}

    def as_metadata(self) -> dict[str, str | int | float]:
        """Dagster materialization metadata (plain values)."""
        values = asdict(self)
        values["started_at"] = self.started_at.isoformat()
        return values


def runs_dir(warehouse: Warehouse) -> str:
    return warehouse.path("llm", "_runs")


def write_run(warehouse: Warehouse, result: JobResult) -> str:
    path = f"{runs_dir(warehouse)}/{result.started_at:%Y%m%dT%H%M%S}-{result.run_id}.parquet"
    write_parquet_atomic(warehouse, path, pa.Table.from_pylist([asdict(result)], schema=RUN_SCHEMA))
    return path


def latest_runs(warehouse: Warehouse, partition: str, tasks: Iterable[str]) -> dict[str, dict]:
    """The newest run record of each of `tasks` for `partition` (tasks never run are absent).
    Records written before a column existed read it as null."""
    root = runs_dir(warehouse)
    if not warehouse.exists(root):
        return {}
    records = pads.dataset(root, schema=RUN_SCHEMA, format="parquet", filesystem=warehouse.fs).to_table(
        filter=(pc.field("partition") == partition) & pc.field("task").isin(list(tasks))
    )
    latest: dict[str, dict] = {}
    for record in records.sort_by("started_at").to_pylist():
        latest[record["task"]] = record
    return latest
