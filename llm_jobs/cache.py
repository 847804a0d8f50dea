"""Content-addressed response cache of one task: a keyed dataset that is looked up, never loaded.

    llm/_cache/<task>/batch-<run>-<uuid>.parquet    committed batches, one file per engine batch
    llm/_cache/<task>/bucket=<h>/run-<uuid>.parquet  compacted: sorted by key, small row groups

Every engine batch is committed as one small file that appears whole (see parquet_io), so a job
killed at any moment loses at most the batches it had in flight, and a reader never sees a torn
file. `cache_compaction` folds committed batches into the 16 buckets (the key's first hex digit)
before a job looks anything up. A lookup reads only the row groups whose key range holds one of
the keys asked for (the files are sorted, so a row group spans a narrow range): its cost follows
the run's keys, not the cache's lifetime size. Keys come from `cache_key.request_key`.

A file that cannot be read (truncated, not Parquet, missing columns) is moved aside to
`llm/_cache_quarantine/<task>/`, logged and counted, and its requests are simply sent again. A
refusal is stored with its reason class and a truncated, redacted message; whether a stored
refusal still answers a request is the job's decision (`is_fresh`).
"""

from __future__ import annotations

import bisect
import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from llm_jobs.engines.base import Completion, TokenLogprobs
from llm_jobs.engines.redaction import redact
from llm_jobs.metrics import count
from llm_jobs.parquet_io import committed_files, write_parquet_atomic
from storage.warehouse import Warehouse

logger = logging.getLogger(__name__)

CACHE_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("model_id", pa.string()),
        ("task", pa.string()),
        ("task_version", pa.string()),
        ("text", pa.string()),
        ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()),
        ("finish_reason", pa.string()),
        ("logprobs", pa.string()),  # JSON list of {token, logprob, top}, or null
        ("error", pa.string()),  # why the engine refused the request (truncated, redacted), or null
        ("refusal", pa.string()),  # the refusal's reason class, or null (and in batches written before it)
        ("created_at", pa.timestamp("us", tz="UTC")),
    ]
)
#: Rows per row group of a compacted file: a lookup reads whole row groups, so small ones keep
#: sparse lookups cheap; the footer grows by one key range per row group.
LOOKUP_ROW_GROUP = 64
#: Buckets of the compacted cache: the key's first hex digit.
BUCKETS = tuple("0123456789abcdef")

_UNREADABLE = (OSError, pa.ArrowException, ValueError, KeyError, TypeError)


@dataclass(frozen=True)
class CachedResponse:
    key: str
    model_id: str
    task: str
    task_version: str
    completion: Completion
    created_at: datetime


def _logprobs_json(logprobs: tuple[TokenLogprobs, ...] | None) -> str | None:
    if logprobs is None:
        return None
    return json.dumps([{"token": t.token, "logprob": t.logprob, "top": t.top} for t in logprobs])


def _logprobs_from_json(text: str | None) -> tuple[TokenLogprobs, ...] | None:
    if text is None:
        return None
    return tuple(TokenLogprobs(**item) for item in json.loads(text))


def as_stored(completion: Completion) -> Completion:
    """The completion as the cache keeps it: a refusal's message truncated and redacted."""
    if completion.error is None:
        return completion
    return replace(completion, error=redact(completion.error))


def _to_row(entry: CachedResponse) -> dict:
    c = as_stored(entry.completion)
    return {
        "key": entry.key,
        "model_id": entry.model_id,
        "task": entry.task,
        "task_version": entry.task_version,
        "text": c.text,
        "prompt_tokens": c.prompt_tokens,
        "completion_tokens": c.completion_tokens,
        "finish_reason": c.finish_reason,
        "logprobs": _logprobs_json(c.logprobs),
        "error": c.error,
        "refusal": c.refusal,
        "created_at": entry.created_at,
    }


def from_row(row: Mapping) -> CachedResponse:
    completion = Completion(
        text=row["text"],
        prompt_tokens=row["prompt_tokens"],
        completion_tokens=row["completion_tokens"],
        finish_reason=row["finish_reason"],
        logprobs=_logprobs_from_json(row["logprobs"]),
        error=row["error"],
        refusal=row.get("refusal"),
    )
    return CachedResponse(
        key=row["key"],
        model_id=row["model_id"],
        task=row["task"],
        task_version=row["task_version"],
        completion=completion,
        created_at=row["created_at"],
    )


def now_utc() -> datetime:
    return datetime.now(UTC)


def is_fresh(entry: CachedResponse, refusals_since: datetime) -> bool:
    """Whether `entry` still answers its request: an answer always does, a refusal only when it was
    stored after `refusals_since` (the server may have been fixed since)."""
    return entry.completion.error is None or entry.created_at > refusals_since


def newest_per_key(table: pa.Table) -> pa.Table:
    """One row per key, the newest (a refusal sent again is replaced by its new answer), sorted by key."""
    ordered = table.sort_by([("key", "ascending"), ("created_at", "descending")])
    keys = ordered["key"]
    if len(keys) < 2:
        return ordered
    first = pc.not_equal(keys.slice(1), keys.slice(0, len(keys) - 1))
    return ordered.filter(pa.concat_arrays([pa.array([True]), first.combine_chunks()]))


def bucket_of(key: str) -> str:
    return key[0]


def quarantine_dir(warehouse: Warehouse, task_name: str) -> str:
    return warehouse.path("llm", "_cache_quarantine", task_name)


@dataclass(frozen=True, eq=False)  # keyed by identity
class _SortedFile:
    path: str
    file: pq.ParquetFile
    mins: list[str]  # per row group, ascending
    maxs: list[str]

    def row_group_holding(self, key: str) -> int | None:
        group = bisect.bisect_right(self.mins, key) - 1
        return group if group >= 0 and key <= self.maxs[group] else None


class ResponseCache:
    """One task's cache: `commit` a batch, `lookup` keys, `pending_batches` to compact. Picklable:
    workers build their lookups from it."""

    def __init__(self, warehouse: Warehouse, task_name: str) -> None:
        self.warehouse = warehouse
        self.task_name = task_name
        self.directory = warehouse.path("llm", "_cache", task_name)
        self._buckets: dict[str, list[_SortedFile]] = {}

    def __getstate__(self) -> dict:
        return {"warehouse": self.warehouse, "task_name": self.task_name}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["warehouse"], state["task_name"])

    def bucket_dir(self, bucket: str) -> str:
        return f"{self.directory}/bucket={bucket}"

    def pending_batches(self) -> list[str]:
        """Committed batches not yet compacted into the buckets."""
        return committed_files(self.warehouse, self.directory)

    def commit(self, entries: Iterable[CachedResponse], run_id: str) -> str | None:
        """Store one batch as one file; returns its path (None for an empty batch)."""
        rows = [_to_row(entry) for entry in entries]
        if not rows:
            return None
        path = f"{self.directory}/batch-{run_id}-{uuid.uuid4().hex}.parquet"
        write_parquet_atomic(self.warehouse, path, pa.Table.from_pylist(rows, schema=CACHE_SCHEMA))
        return path

    def write_sorted(self, bucket: str, table: pa.Table) -> str:
        """A compacted file of `bucket` (rows sorted by key, one per key)."""
        path = f"{self.bucket_dir(bucket)}/run-{uuid.uuid4().hex}.parquet"
        write_parquet_atomic(self.warehouse, path, table, row_group_size=LOOKUP_ROW_GROUP)
        return path

    def compacted_files(self, bucket: str) -> list[str]:
        return committed_files(self.warehouse, self.bucket_dir(bucket))

    def lookup(self, keys: Iterable[str]) -> dict[str, CachedResponse]:
        """The newest compacted response of each key that has one."""
        wanted: dict[tuple[_SortedFile, int], set[str]] = {}
        for key in keys:
            for sorted_file in self._bucket(bucket_of(key)):
                group = sorted_file.row_group_holding(key)
                if group is not None:
                    wanted.setdefault((sorted_file, group), set()).add(key)
        found: dict[str, CachedResponse] = {}
        for (sorted_file, group), group_keys in wanted.items():
            # The keys first: most lookups of a new night miss, and a miss then reads 64 keys only.
            held = pc.is_in(sorted_file.file.read_row_group(group, columns=["key"])["key"], pa.array(list(group_keys)))
            if not pc.any(held).as_py():
                continue
            rows = sorted_file.file.read_row_group(group).filter(held)
            for row in rows.to_pylist():
                held = found.get(row["key"])
                if held is None or held.created_at <= row["created_at"]:
                    found[row["key"]] = from_row(row)
        return found

    def _bucket(self, bucket: str) -> list[_SortedFile]:
        """The bucket's compacted files with their row groups' key ranges, read once per instance
        (a job's lookups run after its compaction, while the bucket stands still)."""
        files = self._buckets.get(bucket)
        if files is None:
            files = self._buckets[bucket] = []
            for path in self.compacted_files(bucket):
                sorted_file = self._open_sorted(path)
                if sorted_file is not None:
                    files.append(sorted_file)
        return files

    def _open_sorted(self, path: str) -> _SortedFile | None:
        try:
            parquet = pq.ParquetFile(self.warehouse.fs.open_input_file(path))
            if parquet.schema_arrow.names != CACHE_SCHEMA.names:
                raise ValueError(f"columns {parquet.schema_arrow.names} are not the cache's")
            column = CACHE_SCHEMA.get_field_index("key")
            groups = [parquet.metadata.row_group(i).column(column).statistics for i in range(parquet.num_row_groups)]
            return _SortedFile(path, parquet, [g.min for g in groups], [g.max for g in groups])
        except FileNotFoundError:  # a concurrent compaction merged it away; its rows are in the merged file
            return None
        except _UNREADABLE as exc:
            self.quarantine(path, exc)
            return None

    def read(self, path: str) -> pa.Table | None:
        """A cache file whole, or None (and the file quarantined) when it cannot be read."""
        try:
            return pq.read_table(path, filesystem=self.warehouse.fs, schema=CACHE_SCHEMA)
        except FileNotFoundError:
            return None
        except _UNREADABLE as exc:
            self.quarantine(path, exc)
            return None

    def entries(self) -> pa.Table:
        """Every key's newest response, pending batches included: for inspection and tests, not for jobs."""
        paths = self.pending_batches() + [p for b in BUCKETS for p in self.compacted_files(b)]
        tables = [t for t in map(self.read, paths) if t is not None]
        return newest_per_key(pa.concat_tables(tables) if tables else CACHE_SCHEMA.empty_table())

    def quarantine(self, path: str, error: Exception) -> None:
        target_dir = quarantine_dir(self.warehouse, self.task_name)
        target = f"{target_dir}/{path.rsplit('/', 1)[1]}"
        self.warehouse.fs.create_dir(target_dir, recursive=True)
        try:
            self.warehouse.fs.move(path, target)
        except FileNotFoundError:  # another run moved it first
            pass
        count("cache_quarantined")
        logger.warning(
            "task %s: unreadable response cache file %s moved to %s (%s: %s); its requests are sent again",
            self.task_name, path, target, type(error).__name__, error,
        )  # fmt: skip
