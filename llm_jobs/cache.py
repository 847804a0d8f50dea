"""Content-addressed response cache: `llm/_cache/<task>/batch-*.parquet`.

Every committed batch is one small Parquet file that appears whole (see parquet_io), so a job
killed at any moment loses at most the batches it had in flight, and a reader never sees a torn
file. Keys come from `cache_key.request_key`: a changed prompt, task version, model or sampling
parameter (seed included) changes exactly the keys it affects.

A batch file that cannot be read (truncated, not Parquet, missing columns) is moved aside to
`llm/_cache_quarantine/<task>/`, logged and counted, and its requests are simply sent again. A
refusal is stored with its reason class and a truncated, redacted message; whether a stored
refusal still answers a request is the job's decision (`is_fresh`).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

import pyarrow as pa

from llm_jobs.engines.base import Completion, TokenLogprobs
from llm_jobs.engines.redaction import redact
from llm_jobs.parquet_io import committed_files, read_parquet, write_parquet_atomic
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


def _to_row(entry: CachedResponse) -> dict:
    c = entry.completion
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
        "error": None if c.error is None else redact(c.error),
        "refusal": c.refusal,
        "created_at": entry.created_at,
    }


def _from_row(row: dict) -> CachedResponse:
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
    return datetime.now(timezone.utc)


def is_fresh(entry: CachedResponse, refusals_since: datetime) -> bool:
    """Whether `entry` still answers its request: an answer always does, a refusal only when it was
    stored after `refusals_since` (the server may have been fixed since)."""
    return entry.completion.error is None or entry.created_at > refusals_since


def quarantine_dir(warehouse: Warehouse, task_name: str) -> str:
    return warehouse.path("llm", "_cache_quarantine", task_name)


class ResponseCache:
    """One task's responses; `load()` reads only the batch files it has not read before, and keeps
    the newest response per key (a refusal sent again is replaced by its new answer)."""

    def __init__(self, warehouse: Warehouse, task_name: str) -> None:
        self.warehouse = warehouse
        self.task_name = task_name
        self.directory = warehouse.path("llm", "_cache", task_name)
        self._entries: dict[str, CachedResponse] = {}
        self._read: set[str] = set()
        #: Where the unreadable batch files this cache moved aside now lie.
        self.quarantined: list[str] = []

    def load(self) -> dict[str, CachedResponse]:
        for path in committed_files(self.warehouse, self.directory):
            if path in self._read:
                continue
            self._read.add(path)
            try:
                entries = [_from_row(row) for row in read_parquet(self.warehouse, path).to_pylist()]
            except (OSError, pa.ArrowException, ValueError, KeyError, TypeError) as exc:
                self._quarantine(path, exc)
                continue
            for entry in entries:
                held = self._entries.get(entry.key)
                if held is None or held.created_at <= entry.created_at:
                    self._entries[entry.key] = entry
        return self._entries

    def _quarantine(self, path: str, error: Exception) -> None:
        target_dir = quarantine_dir(self.warehouse, self.task_name)
        target = f"{target_dir}/{path.rsplit('/', 1)[1]}"
        self.warehouse.fs.create_dir(target_dir, recursive=True)
        try:
            self.warehouse.fs.move(path, target)
        except FileNotFoundError:  # another run moved it first
            pass
        self.quarantined.append(target)
        logger.warning(
            "task %s: unreadable response cache batch %s moved to %s (%s: %s); its requests are sent again",
            self.task_name, path, target, type(error).__name__, error,
        )  # fmt: skip

    def commit(self, entries: Iterable[CachedResponse]) -> str | None:
        """Store one batch as one file; returns its path (None for an empty batch)."""
        rows = [_to_row(entry) for entry in entries]
        if not rows:
            return None
        path = f"{self.directory}/batch-{uuid.uuid4().hex}.parquet"
        write_parquet_atomic(self.warehouse, path, pa.Table.from_pylist(rows, schema=CACHE_SCHEMA))
        return path
