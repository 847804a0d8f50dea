"""The publish lock waits for another publication by default (WarehouseResource's one timeout)."""

import threading
import time

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from dagster_project.resources import WarehouseResource
from schemas.tables import ID_MAPS
from storage.locks import warehouse_lock
from storage.publishing import publish
from storage.warehouse import Warehouse


def test_a_publication_waits_for_another_holding_the_set_by_default(tmp_path):
    wh = Warehouse(str(tmp_path / "wh"))
    pq.write_table(pa.table({"kind": ["user"], "raw_id": ["u"], "idx": [0]}), tmp_path / "ids.parquet")
    locked, release = threading.Event(), threading.Event()

    def another_publication() -> None:
        with warehouse_lock(wh, "published/id_maps", timeout_s=5):
            locked.set()
            release.wait(5)

    holder = threading.Thread(target=another_publication)
    holder.start()
    locked.wait(5)
    threading.Timer(1.0, release.set).start()
    started = time.monotonic()
    lock_timeout_s = WarehouseResource(base_url=wh.base_url).lock_timeout_s
    version = publish(
        wh,
        "id_maps",
        ID_MAPS,
        pads.dataset(str(tmp_path / "ids.parquet")),
        "2024-01-01",
        {},
        lock_timeout_s=lock_timeout_s,
    )
    holder.join()
    assert version.row_count == 1 and time.monotonic() - started >= 0.9
