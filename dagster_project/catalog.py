"""`warehouse.duckdb`: one DuckDB view per live published set.

The catalog is rebuilt into a temporary file and moved over the old one, so a reader holding the
old file keeps a consistent catalog and a crash never leaves a half-built one. Rebuilds take a
lock: two sets published at once would otherwise each read LATEST before the other's switch, and
whichever rename came last would leave the other set's view on its old version.
"""

from __future__ import annotations

import os
import uuid

import duckdb

from dagster_project.locks import warehouse_lock
from dagster_project.publishing import latest_version, published_sets
from dagster_project.warehouse import Warehouse

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
    """Point one view per published set at its LATEST version; returns {set: version}."""
    target = catalog_path(wh)
    tmp = f"{target}.tmp-{uuid.uuid4().hex}"
    with warehouse_lock(wh, CATALOG_FILE, LOCK_TIMEOUT_S):
        live = {name: latest_version(wh, name) for name in published_sets(wh)}
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
