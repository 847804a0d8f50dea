"""`warehouse.duckdb`: one DuckDB view per set of the live snapshot.

The catalog is rebuilt from one reading of the live snapshot into a temporary file and moved over
the old one, so a reader holding the old file keeps a consistent catalog and a crash never leaves a
half-built one. Rebuilds take a lock, so that of two rebuilds the last to rename is the one that
read the newer snapshot.
"""

from __future__ import annotations

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


def refresh_catalog(wh: Warehouse) -> dict[str, str]:
    """Point one view per set at the version the live snapshot names; returns {set: version}."""
    target = catalog_path(wh)
    tmp = f"{target}.tmp-{uuid.uuid4().hex}"
    with warehouse_lock(wh, CATALOG_FILE, LOCK_TIMEOUT_S):
        snapshot = live_snapshot(wh)
        live = snapshot.sets if snapshot else {}
        with duckdb.connect(tmp) as con:
            for name, version in live.items():
                files = wh.uri("published", name, version, "*.parquet")
                con.execute(
                    f"CREATE VIEW {_quote_identifier(name)} AS "
                    f"SELECT * FROM read_parquet({_quote_literal(files)})"
                )
        os.replace(tmp, target)
    return live


def connect_read_only(wh: Warehouse) -> duckdb.DuckDBPyConnection:
    path = catalog_path(wh)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"no DuckDB catalog at {path}: publish a set first (`recaug run` or `make demo`)"
        )
    return duckdb.connect(path, read_only=True)
