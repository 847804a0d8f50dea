"""Where published sets live, and which versions are live.

`published/<set>/<version>/` holds a version's part files and `_manifest.json`, written last, so
a version directory without a manifest is incomplete. Version names start with their creation
time, so they sort oldest first.

What is live is one snapshot for all sets: `published/_snapshots/<id>.json` names one version per
set (and the partition they are a snapshot of), and `published/SNAPSHOT` names the live snapshot.
Switching that one pointer switches every set at once, so a reader that resolves versions through
it (`latest_version`, the DuckDB catalog, `evaluation.loader`) never sees train from one run and
test from another.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import pyarrow.fs as pafs

from storage.warehouse import Warehouse

MANIFEST = "_manifest.json"
SNAPSHOT = "SNAPSHOT"
SNAPSHOTS_DIR = "_snapshots"


@dataclass(frozen=True)
class Snapshot:
    """One version per published set, all of one partition day."""

    id: str
    partition: str
    created_at: str
    sets: dict[str, str]
    previous: str | None  # the snapshot that was live when this one was made
    run_id: str | None = None  # the run that made it, where a run did


def snapshot_path(wh: Warehouse, snapshot_id: str) -> str:
    return wh.path("published", SNAPSHOTS_DIR, f"{snapshot_id}.json")


def read_snapshot(wh: Warehouse, snapshot_id: str) -> Snapshot:
    return Snapshot(**json.loads(wh.read_text(snapshot_path(wh, snapshot_id))))


def write_snapshot(wh: Warehouse, snapshot: Snapshot) -> None:
    wh.write_text_atomic(snapshot_path(wh, snapshot.id), json.dumps(asdict(snapshot), indent=2, sort_keys=True))


def live_snapshot(wh: Warehouse) -> Snapshot | None:
    pointer = wh.path("published", SNAPSHOT)
    return read_snapshot(wh, wh.read_text(pointer).strip()) if wh.exists(pointer) else None


def snapshot_of(wh: Warehouse, partition: str) -> Snapshot | None:
    """The newest snapshot recorded for `partition`, live or not (a backfilled day's)."""
    selector = pafs.FileSelector(wh.path("published", SNAPSHOTS_DIR), allow_not_found=True)
    ids = sorted((i.base_name.removesuffix(".json") for i in wh.fs.get_file_info(selector) if i.base_name.endswith(".json")), reverse=True)
    return next((s for s in map(lambda i: read_snapshot(wh, i), ids) if s.partition == partition), None)


def latest_version(wh: Warehouse, set_name: str) -> str | None:
    """The live version of `set_name`: the one the live snapshot names."""
    snapshot = live_snapshot(wh)
    return snapshot.sets.get(set_name) if snapshot else None


def read_manifest(wh: Warehouse, set_name: str, version: str) -> dict:
    return json.loads(wh.read_text(wh.path("published", set_name, version, MANIFEST)))


def version_names(wh: Warehouse, set_name: str) -> list[str]:
    """Every version directory of the set, complete or not, oldest first."""
    selector = pafs.FileSelector(wh.path("published", set_name), recursive=False, allow_not_found=True)
    return sorted(
        info.base_name
        for info in wh.fs.get_file_info(selector)
        if info.type == pafs.FileType.Directory and not info.base_name.startswith(".")
    )
