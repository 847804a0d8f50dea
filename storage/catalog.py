"""`warehouse.duckdb`: one DuckDB view per set of the live snapshot.

The catalog is rebuilt from one reading of the live snapshot into a temporary file and moved over
the old one, so a reader holding the old file keeps a consistent catalog and a crash never leaves a
half-built one. Rebuilds take a lock, so that of two rebuilds the last to rename is the one that
read the newer snapshot.

A run killed between the snapshot switch and the rebuild leaves views of the previous snapshot,
and a rebuild killed half-way leaves its temporary file and WAL: `sync_catalog`, which every run
calls at its start (and `connect_read_only` before a query), removes those files and rebuilds the
catalog when its views are not those of the live snapshot.
"""

from __future__ import annotations

import glob
import os
import uuid

import duckdb

from storage.locks import warehouse_lock
from storage.published_layout import live_snapshot
from storage.warehouse import Warehouse

CATALOG_FILE = "warehouse.duckdb"
LOCK_TIMEOUT_S = 120.0


def catalog_path(wh: Warehouse) -> str:
    # DuckDB needs a local file; a warehouse on an object store keeps its catalog locally.
    return wh.path(CATALOG_FILE) if wh.is_local else os.path.abspath(CATALOG_FILE)


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _files(wh: Warehouse, name: str, version: str) -> str:
    return wh.uri("published", name, version, "*.parquet")


def refresh_catalog(wh: Warehouse) -> dict[str, str]:
    """Point one view per set at the version the live snapshot names; returns {set: version}."""
    with warehouse_lock(wh, CATALOG_FILE, LOCK_TIMEOUT_S):
        _delete_abandoned_files(wh)
        return _rebuild(wh)


def sync_catalog(wh: Warehouse) -> bool:
    """Remove a killed rebuild's files, and rebuild the catalog unless its views already read the
    live snapshot's versions; returns whether it rebuilt. Nothing published, no catalog: nothing to do."""
    with warehouse_lock(wh, CATALOG_FILE, LOCK_TIMEOUT_S):
        _delete_abandoned_files(wh)
        snapshot = live_snapshot(wh)
        live = snapshot.sets if snapshot else {}
        views = _views(wh)
        if (views is None and not live) or (views is not None and _serves(wh, views, live)):
            return False
        _rebuild(wh)
        return True


def _rebuild(wh: Warehouse) -> dict[str, str]:
    """Under the catalog lock."""
    target = catalog_path(wh)
    tmp = f"{target}.tmp-{uuid.uuid4().hex}"
    snapshot = live_snapshot(wh)
    live = snapshot.sets if snapshot else {}
    with duckdb.connect(tmp) as con:
        for name, version in live.items():
            con.execute(
                f"CREATE VIEW {_quote_identifier(name)} AS SELECT * FROM read_parquet({_quote_literal(_files(wh, name, version))})"
            )
    os.replace(tmp, target)
    return live


def _delete_abandoned_files(wh: Warehouse) -> None:
    """A killed rebuild's temporary database and WAL; and a WAL beside the catalog, which only a
    killed writer of the file itself leaves, and which DuckDB would replay into the next catalog."""
    target = catalog_path(wh)
    for path in [*glob.glob(glob.escape(target) + ".tmp-*"), f"{target}.wal"]:
        if os.path.exists(path):
            os.unlink(path)


def _views(wh: Warehouse) -> dict[str, str] | None:
    """{view: its SQL} of the catalog, None when there is no catalog."""
    path = catalog_path(wh)
    if not os.path.exists(path):
        return None
    with duckdb.connect(path, read_only=True) as con:
        return dict(con.execute("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal").fetchall())


def _serves(wh: Warehouse, views: dict[str, str], live: dict[str, str]) -> bool:
    return views.keys() == live.keys() and all(
        _quote_literal(_files(wh, name, version)) in views[name] for name, version in live.items()
    )


def connect_read_only(wh: Warehouse) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the catalog, synced first with the live snapshot (`sync_catalog`)."""
    sync_catalog(wh)
    path = catalog_path(wh)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no DuckDB catalog at {path}: publish a set first (`recaug run` or `make demo`)")
    return duckdb.connect(path, read_only=True)
