"""A process that publishes `big_set` from a Parquet source, for tests/test_publish_processes.py.

    pause WAREHOUSE SOURCE POINT   publish once; at POINT print "paused POINT" and wait to be killed
    loop WAREHOUSE SOURCE          print "ready", then publish again and again
    once WAREHOUSE SOURCE          print "ready", wait for a line, publish, print the version

Pause points, in the order a publication passes them:
    data      part files half written (one still open)
    gate      every part file written, no manifest yet
    manifest  the manifest's temporary file written, not yet renamed into place
    snapshot  the snapshot naming the version written, not yet renamed into place
    switch    the snapshot in place, the SNAPSHOT switch not yet renamed into place
    prune     SNAPSHOT switched; pruning a version: its manifest deleted, its directory not yet
"""

import os
import signal
import sys

import pyarrow.dataset as pads
import pyarrow.fs as pafs

from schemas.tables import ID_MAPS
from storage import publishing
from storage.published_layout import MANIFEST, SNAPSHOT
from storage.warehouse import Warehouse

SET = "big_set"
KEEP = 2
ROWS_PER_FILE = 200_000


def pause(point: str) -> None:
    print(f"paused {point}", flush=True)
    signal.pause()


class PausingSource:
    """The source dataset, pausing once some batches have gone to the part files."""

    def __init__(self, dataset: pads.Dataset, after_batches: int) -> None:
        self.dataset, self.after_batches = dataset, after_batches

    def to_batches(self, **kwargs):
        for n, batch in enumerate(self.dataset.to_batches(**kwargs)):
            if n == self.after_batches:
                pause("data")
            yield batch


class PausingFileSystem(pafs.LocalFileSystem):
    def delete_dir(self, path: str) -> None:
        if "/published/" in path:
            pause("prune")
        super().delete_dir(path)


def pause_in_os_replace(points: dict[str, str]) -> None:
    """Pause before an atomic rename whose target ends with one of `points`' keys."""
    replace = os.replace

    def pausing_replace(src, dst):
        for suffix, point in points.items():
            if str(dst).endswith(suffix):
                pause(point)
        replace(src, dst)

    os.replace = pausing_replace


def main(mode: str, warehouse: str, source_dir: str, point: str | None = None) -> None:
    publishing.ROWS_PER_FILE = ROWS_PER_FILE
    wh = Warehouse(warehouse)
    source = pads.dataset(source_dir, format="parquet")
    gate = None
    if point == "data":
        source = PausingSource(source, after_batches=3)
    elif point == "gate":
        gate = lambda path, previous_rows: pause("gate")  # noqa: E731
    elif point == "manifest":
        pause_in_os_replace({MANIFEST: "manifest"})
    elif point == "snapshot":
        pause_in_os_replace({".json": "snapshot"})
    elif point == "switch":
        pause_in_os_replace({f"/{SNAPSHOT}": "switch"})
    elif point == "prune":
        object.__setattr__(wh, "fs", PausingFileSystem())

    def publish_once() -> publishing.PublishedVersion:
        return publishing.publish(wh, SET, ID_MAPS, source, "2024-01-01", {}, gate=gate, keep_versions=KEEP)

    if mode == "pause":
        publish_once()
        print("finished without pausing", flush=True)
    elif mode == "loop":
        print("ready", flush=True)
        while True:
            publish_once()
    elif mode == "once":
        print("ready", flush=True)
        sys.stdin.readline()
        print(publish_once().version, flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
