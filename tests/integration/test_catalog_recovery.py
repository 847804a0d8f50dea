"""The DuckDB catalog after a run killed between the snapshot switch and the catalog refresh, and
after a refresh killed half-way: the next run serves the live snapshot and leaves no temp file."""

import glob
import signal
import subprocess
import sys

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from dagster_project.resources import WarehouseResource
from schemas.tables import ID_MAPS
from storage.catalog import catalog_path, connect_read_only, refresh_catalog
from storage.publishing import publish
from storage.warehouse import Warehouse


def _kill_mid_refresh(wh: Warehouse) -> None:
    """A rebuild SIGKILLed with its temporary catalog open: the file and its WAL stay behind."""
    tmp = f"{catalog_path(wh)}.tmp-deadbeef"
    code = (
        "import duckdb, os, signal\n"
        f"con = duckdb.connect({tmp!r})\n"
        "con.execute('CREATE TABLE t AS SELECT 1 AS x')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == -signal.SIGKILL


def test_a_run_after_a_kill_before_the_catalog_refresh_serves_the_live_snapshot(tmp_path):
    wh = Warehouse(str(tmp_path / "wh"))
    for rows, day in ((2, "2024-01-01"), (5, "2024-01-02")):
        pq.write_table(
            pa.table({"kind": ["user"] * rows, "raw_id": [f"u{i}" for i in range(rows)], "idx": list(range(rows))}),
            tmp_path / f"{day}.parquet",
        )
    publish(wh, "id_maps", ID_MAPS, pads.dataset(str(tmp_path / "2024-01-01.parquet")), "2024-01-01", {})
    refresh_catalog(wh)
    # The next day's run switches the snapshot and is killed before it refreshes the catalog.
    publish(wh, "id_maps", ID_MAPS, pads.dataset(str(tmp_path / "2024-01-02.parquet")), "2024-01-02", {})
    _kill_mid_refresh(wh)
    assert glob.glob(f"{catalog_path(wh)}.tmp-*")  # the leak the next run must clean
    with duckdb.connect(catalog_path(wh), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM id_maps").fetchone() == (2,)  # stale, as the kill left it

    @dg.asset(partitions_def=dg.DailyPartitionsDefinition(start_date="2024-01-01"))
    def next_run(warehouse: WarehouseResource) -> None:
        with duckdb.connect(catalog_path(warehouse.warehouse), read_only=True) as con:
            assert con.execute("SELECT count(*) FROM id_maps").fetchone() == (5,)

    assert dg.materialize(
        [next_run], partition_key="2024-01-03", resources={"warehouse": WarehouseResource(base_url=wh.base_url)}
    ).success
    assert glob.glob(f"{catalog_path(wh)}*") == [catalog_path(wh)]
    with connect_read_only(wh) as con:
        assert con.execute("SELECT count(*) FROM id_maps").fetchone() == (5,)
