"""Versioned, atomically switched training sets under `published/<set>/`.

A version directory is written completely (data files, then `_manifest.json`) before `LATEST` is
switched to it with one atomic write, so a reader that follows `LATEST` always finds a complete
version, whatever moment a writer dies at. A gate (the set's validation) sees the written version
first: when it fails, the version stays on disk with a `blocked` manifest for inspection and
`LATEST` keeps pointing at the previous one. `LATEST` only moves forward in partition date: a
backfill of older days writes their snapshots without taking the newest day's place. Old versions
are then pruned (`pruning`).

One publication of a set runs at a time (a lock per set): versions are named inside the lock, so
they sort in the order they were published, each manifest's `previous_version` is the version it
replaced, and pruning never meets a version that another writer is still writing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from dagster_project.locks import warehouse_lock
from dagster_project.pruning import MIN_KEEP, prune_versions
from dagster_project.published_layout import LATEST, MANIFEST, latest_version, read_manifest
from dagster_project.warehouse import Warehouse

ROWS_PER_FILE = 5_000_000
KEEP_VERSIONS = 5
# Another publication of the same set (a parallel backfill day) may hold the lock while it
# writes and validates; waiting for it is right, hanging forever is not.
LOCK_TIMEOUT_S = 1800.0


class Verdict(Protocol):
    passed: bool

    def as_dict(self) -> dict: ...


#: Judges a written version: (its directory, the live version's row count or None) -> verdict.
#: It reads the files itself, so a large version can be validated without loading it whole.
Gate = Callable[[str, "int | None"], Verdict]


class PublicationBlocked(RuntimeError):
    def __init__(self, manifest: dict) -> None:
        verdict = manifest["validation"]
        failed = [r for r in verdict.get("results", []) if not r["success"] and r["severity"] == "error"]
        names = ", ".join(f"{r['name']}({r['column']})" if r.get("column") else r["name"] for r in failed)
        super().__init__(
            f"{manifest['set']} version {manifest['version']} failed validation, LATEST unchanged: {names}"
        )
        self.manifest = manifest
        self.verdict = verdict


@dataclass(frozen=True)
class PublishedVersion:
    set_name: str
    version: str
    path: str
    row_count: int
    manifest: dict
    pruned: list[str]  # old versions deleted after this one was written
    # False for a snapshot of an older day than the live version's (a backfill): LATEST stays.
    is_live: bool = True


def new_version_id(now: dt.datetime) -> str:
    return f"{now:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:6]}"


def published_sets(wh: Warehouse) -> list[str]:
    """Names of the sets that have a live version."""
    root = wh.path("published")
    if not wh.exists(root):
        return []
    selector = pafs.FileSelector(root, recursive=False)
    names = (info.base_name for info in wh.fs.get_file_info(selector))
    return sorted(name for name in names if wh.exists(wh.path("published", name, LATEST)))


def _write_batches(
    wh: Warehouse, directory: str, schema: pa.Schema, batches: Iterable[pa.RecordBatch]
) -> list[str]:
    """Write batches as part files of at most ROWS_PER_FILE rows; returns the file names."""
    names: list[str] = []
    writer: pq.ParquetWriter | None = None
    rows_in_file = 0
    for batch in batches:
        if writer is None or rows_in_file >= ROWS_PER_FILE:
            if writer is not None:
                writer.close()
            names.append(f"part-{len(names):05d}.parquet")
            writer = pq.ParquetWriter(f"{directory}/{names[-1]}", schema, filesystem=wh.fs)
            rows_in_file = 0
        writer.write_batch(batch.cast(schema))
        rows_in_file += batch.num_rows
    if writer is None:  # an empty set still gets one file carrying its schema
        names.append("part-00000.parquet")
        writer = pq.ParquetWriter(f"{directory}/{names[-1]}", schema, filesystem=wh.fs)
    writer.close()
    return names


def _file_entry(wh: Warehouse, path: str) -> dict:
    with wh.fs.open_input_stream(path) as f:
        sha256 = hashlib.file_digest(f, "sha256").hexdigest()
    return {
        "name": path.rsplit("/", 1)[1],
        "bytes": wh.fs.get_file_info(path).size,
        "sha256": sha256,
        "rows": pq.read_metadata(path, filesystem=wh.fs).num_rows,
    }


def publish(
    wh: Warehouse,
    set_name: str,
    schema: pa.Schema,
    source: pads.Dataset,
    partition: str,
    lineage: dict,
    row_filter: pads.Expression | None = None,
    now: dt.datetime | None = None,
    gate: Gate | None = None,
    keep_versions: int = KEEP_VERSIONS,
    lock_timeout_s: float = LOCK_TIMEOUT_S,
) -> PublishedVersion:
    """Copy `source` (filtered, projected and cast to `schema`) into a new version and make it live,
    unless the live version is a snapshot of a later day.

    Then prunes the set to its newest `keep_versions` versions (see `pruning`). Raises
    PublicationBlocked, leaving LATEST as it was, when `gate` does not pass the version, and
    LockTimeout when another publication of the set holds it for longer than `lock_timeout_s`.
    """
    if keep_versions < MIN_KEEP:
        raise ValueError(f"keep_versions must be at least {MIN_KEEP}, got {keep_versions}")
    with warehouse_lock(wh, f"published/{set_name}", lock_timeout_s):
        now = now or dt.datetime.now(dt.timezone.utc)
        manifest = _write_version(wh, set_name, schema, source, partition, lineage, row_filter, now, gate)
        if manifest["status"] == "blocked":
            prune_versions(wh, set_name, keep_versions)
            raise PublicationBlocked(manifest)
        live = latest_version(wh, set_name)
        # A backfilled older day is published beside the live version but does not replace it.
        is_live = live is None or read_manifest(wh, set_name, live)["partition"] <= partition
        if is_live:
            wh.write_text_atomic(wh.path("published", set_name, LATEST), manifest["version"] + "\n")
        pruned = prune_versions(wh, set_name, keep_versions)
    directory = wh.path("published", set_name, manifest["version"])
    return PublishedVersion(
        set_name, manifest["version"], directory, manifest["row_count"], manifest, pruned, is_live
    )


def _write_version(
    wh: Warehouse,
    set_name: str,
    schema: pa.Schema,
    source: pads.Dataset,
    partition: str,
    lineage: dict,
    row_filter: pads.Expression | None,
    now: dt.datetime,
    gate: Gate | None,
) -> dict:
    """Write the data files, judge them, then write the manifest; returns the manifest."""
    version = new_version_id(now)
    directory = wh.path("published", set_name, version)
    wh.fs.create_dir(directory, recursive=True)

    batches = source.to_batches(columns=schema.names, filter=row_filter)
    files = [_file_entry(wh, f"{directory}/{name}") for name in _write_batches(wh, directory, schema, batches)]
    previous = latest_version(wh, set_name)
    verdict = None
    if gate is not None:
        previous_rows = read_manifest(wh, set_name, previous)["row_count"] if previous else None
        verdict = gate(directory, previous_rows)
    manifest = {
        "set": set_name,
        "version": version,
        "partition": partition,
        "created_at": now.isoformat(),
        "row_count": sum(f["rows"] for f in files),
        "schema": [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema],
        "files": files,
        "lineage": lineage,
        "previous_version": previous,
        "validation": verdict.as_dict() if verdict is not None else None,
        "status": "blocked" if verdict is not None and not verdict.passed else "published",
    }
    wh.write_text_atomic(f"{directory}/{MANIFEST}", json.dumps(manifest, indent=2, sort_keys=True, default=str))
    return manifest
