"""Versioned training sets under `published/<set>/`, made live together by one snapshot switch.

Publishing a partition is two steps. `write_version` writes each set's version completely (data
files, then `_manifest.json`) and runs its gate (the set's validation): a version that fails stays
on disk with a `blocked` manifest for inspection and raises PublicationBlocked. Once every set of
the partition has passed, `switch_snapshot` writes one snapshot naming a version per set and
switches `published/SNAPSHOT` to it with one atomic write (`published_layout`): every set goes
live at once, and a blocked set keeps the previous snapshot live and whole. The live snapshot only
moves forward in partition date: a backfill of older days records their snapshots without taking
the newest day's place. Old versions are pruned (`pruning`); a version the live snapshot names is
never pruned.

One write of a set runs at a time (a lock per set): versions are named inside the lock, so they
sort in the order they were written, and pruning never meets a version another writer is still
writing. Snapshot switches take their own lock.
"""

from __future__ import annotations

import dataclasses
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

from storage.locks import DEFAULT_TIMEOUT_S, warehouse_lock
from storage.pruning import MIN_KEEP, prune_versions
from storage.published_layout import (
    MANIFEST,
    SNAPSHOT,
    SNAPSHOTS_DIR,
    Snapshot,
    latest_version,
    live_snapshot,
    read_manifest,
    write_snapshot,
)
from storage.warehouse import Warehouse

ROWS_PER_FILE = 5_000_000
KEEP_VERSIONS = 5
# Another publication of the same set (a parallel backfill day) may hold the lock while it
# writes and validates; a run's own wait is WarehouseResource.lock_timeout_s.
LOCK_TIMEOUT_S = DEFAULT_TIMEOUT_S


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
            f"{manifest['set']} version {manifest['version']} failed validation, the live snapshot is unchanged: {names}"
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


def new_version_id(now: dt.datetime) -> str:
    return f"{now:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:6]}"


def published_sets(wh: Warehouse) -> list[str]:
    """Names of the sets the live snapshot holds."""
    snapshot = live_snapshot(wh)
    return sorted(snapshot.sets) if snapshot else []


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


def write_version(
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
    """Copy `source` (filtered, projected and cast to `schema`) into a new, validated version that
    is not live yet (see `switch_snapshot`, then `prune`).

    Raises PublicationBlocked when `gate` does not pass the version (after pruning the set's blocked
    versions to the newest `keep_versions`), and LockTimeout when another write of the set holds
    it for longer than `lock_timeout_s`.
    """
    if keep_versions < MIN_KEEP:
        raise ValueError(f"keep_versions must be at least {MIN_KEEP}, got {keep_versions}")
    with warehouse_lock(wh, f"published/{set_name}", lock_timeout_s):
        now = now or dt.datetime.now(dt.UTC)
        manifest = _write_version(wh, set_name, schema, source, partition, lineage, row_filter, now, gate)
        if manifest["status"] == "blocked":
            prune_versions(wh, set_name, keep_versions)
            raise PublicationBlocked(manifest)
    directory = wh.path("published", set_name, manifest["version"])
    return PublishedVersion(set_name, manifest["version"], directory, manifest["row_count"], manifest, [])


def prune(wh: Warehouse, set_name: str, keep_versions: int = KEEP_VERSIONS, lock_timeout_s: float = LOCK_TIMEOUT_S) -> list[str]:
    """Prune the set to its newest `keep_versions` versions (see `pruning`), under its lock."""
    with warehouse_lock(wh, f"published/{set_name}", lock_timeout_s):
        return prune_versions(wh, set_name, keep_versions)


def switch_snapshot(
    wh: Warehouse,
    partition: str,
    sets: dict[str, str],
    run_id: str | None = None,
    now: dt.datetime | None = None,
    lock_timeout_s: float = LOCK_TIMEOUT_S,
    keep_other_sets: bool = False,
) -> tuple[Snapshot, bool]:
    """Record a snapshot of `partition` naming `sets` ({set: version}, every version complete and
    validated), plus the live snapshot's other sets with `keep_other_sets`, and make it live unless
    the live snapshot is of a later day; returns it and whether it went live."""
    with warehouse_lock(wh, f"published/{SNAPSHOT}", lock_timeout_s):
        _delete_abandoned_snapshot_writes(wh)
        now = now or dt.datetime.now(dt.UTC)
        live = live_snapshot(wh)
        if keep_other_sets and live is not None:
            sets = {**live.sets, **sets}
        snapshot = Snapshot(new_version_id(now), partition, now.isoformat(), dict(sorted(sets.items())), live and live.id, run_id)
        write_snapshot(wh, snapshot)
        is_live = live is None or live.partition <= partition
        if is_live:
            wh.write_text_atomic(wh.path("published", SNAPSHOT), snapshot.id + "\n")
    return snapshot, is_live


def _delete_abandoned_snapshot_writes(wh: Warehouse) -> None:
    """Temporary files of a snapshot write or SNAPSHOT switch killed before its rename
    (Warehouse.write_text_atomic); under the snapshot lock, every one is abandoned."""
    for directory in (wh.path("published"), wh.path("published", SNAPSHOTS_DIR)):
        for info in wh.fs.get_file_info(pafs.FileSelector(directory, recursive=False, allow_not_found=True)):
            if info.base_name.startswith(".") and ".tmp-" in info.base_name:
                wh.fs.delete_file(info.path)


def publish(
    wh: Warehouse,
    set_name: str,
    schema: pa.Schema,
    source: pads.Dataset,
    partition: str,
    lineage: dict,
    *,
    now: dt.datetime | None = None,
    keep_versions: int = KEEP_VERSIONS,
    lock_timeout_s: float = LOCK_TIMEOUT_S,
    **write_options,
) -> PublishedVersion:
    """Publish one set alone: `write_version` (`write_options`: its `row_filter` and `gate`), then a
    snapshot that replaces only this set's version in the live one. The pipeline publishes a
    partition's sets together instead (write every version, then one `switch_snapshot`)."""
    version = write_version(
        wh, set_name, schema, source, partition, lineage,
        now=now, keep_versions=keep_versions, lock_timeout_s=lock_timeout_s, **write_options,
    )  # fmt: skip
    switch_snapshot(wh, partition, {set_name: version.version}, now=now, lock_timeout_s=lock_timeout_s, keep_other_sets=True)
    return dataclasses.replace(version, pruned=prune(wh, set_name, keep_versions, lock_timeout_s))


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
