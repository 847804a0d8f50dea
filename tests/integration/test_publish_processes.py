"""Publications SIGKILLed at every step and at random moments, and publications racing each other,
in real processes (tests/publish_child.py) over a real Parquet source of 400,000 rows."""

import hashlib
import os
import random
import signal
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from support import SUPPORT
from support.child_processes import Children, read_line, send_line

from schemas.tables import ID_MAPS
from storage.published_layout import MANIFEST, SNAPSHOTS_DIR, latest_version, read_manifest, version_names
from storage.publishing import PublishedVersion, publish
from storage.warehouse import Warehouse

SET = "big_set"  # as in publish_child.py
SOURCE_ROWS = 400_000


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("source")
    table = pa.table(
        {
            "kind": pa.array(["user"] * SOURCE_ROWS),
            "raw_id": pa.array(np.char.add("user-", np.arange(SOURCE_ROWS).astype(str))),
            "idx": pa.array(np.arange(SOURCE_ROWS), pa.int64()),
        }
    )
    pq.write_table(table, path / "part-0.parquet", row_group_size=100_000)
    return path


@pytest.fixture
def children():
    with Children(SUPPORT / "publish_child.py") as started:
        yield started


def _publish_here(wh: Warehouse, source: Path, keep: int) -> PublishedVersion:
    # A killed child's lock must already be free: a short timeout fails fast if it is not.
    return publish(
        wh, SET, ID_MAPS, pads.dataset(source), "2024-01-01", {}, keep_versions=keep, lock_timeout_s=5
    )


def _kill(proc) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL


def _has_manifest(wh: Warehouse, version: str) -> bool:
    return Path(wh.path("published", SET, version, MANIFEST)).exists()


def _assert_complete(wh: Warehouse, version: str) -> None:
    directory = Path(wh.path("published", SET, version))
    manifest = read_manifest(wh, SET, version)
    assert sorted(p.name for p in directory.glob("*.parquet")) == sorted(f["name"] for f in manifest["files"])
    for entry in manifest["files"]:
        data = (directory / entry["name"]).read_bytes()
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (entry["sha256"], entry["bytes"]), entry["name"]
    assert pq.read_table(directory).num_rows == manifest["row_count"] == SOURCE_ROWS


def _assert_readable(wh: Warehouse) -> str:
    """The live snapshot names a complete published version, and every version with a manifest is complete."""
    live = latest_version(wh, SET)
    assert live is not None and read_manifest(wh, SET, live)["status"] == "published"
    for version in version_names(wh, SET):
        if _has_manifest(wh, version):
            _assert_complete(wh, version)
    return live


def _assert_next_publish_cleans_up(wh: Warehouse, source: Path) -> None:
    after = _publish_here(wh, source, keep=2)
    assert _assert_readable(wh) == after.version
    versions = version_names(wh, SET)
    assert len(versions) == 2 and versions[-1] == after.version
    assert all(_has_manifest(wh, v) for v in versions)
    # No half-deleted version, no abandoned snapshot or SNAPSHOT temporary file.
    assert sorted(os.listdir(wh.path("published", SET))) == sorted(versions)
    for directory in (wh.path("published"), wh.path("published", SNAPSHOTS_DIR)):
        assert not [name for name in os.listdir(directory) if ".tmp-" in name]


@pytest.mark.parametrize(
    "point, goes_live",
    [
        ("data", False),
        ("gate", False),
        ("manifest", False),
        ("snapshot", False),
        ("switch", False),
        ("prune", True),
    ],
)
def test_a_publication_killed_at_any_step_leaves_latest_complete(
    tmp_path, source, children, point, goes_live
):
    wh = Warehouse(str(tmp_path / "wh"))
    before = [_publish_here(wh, source, keep=5).version for _ in range(2)]

    child = children.start("pause", wh.base_url, str(source), point)
    assert read_line(child) == f"paused {point}"
    _kill(child)

    killed = version_names(wh, SET)[-1]
    assert killed not in before
    assert _assert_readable(wh) == (killed if goes_live else before[-1])
    if point == "prune":
        # Killed half-way through deleting the oldest version: it no longer looks complete.
        assert not _has_manifest(wh, before[0]) and Path(wh.path("published", SET, before[0])).is_dir()
    _assert_next_publish_cleans_up(wh, source)


def test_publications_killed_at_random_moments_leave_latest_complete(tmp_path, source, children):
    wh = Warehouse(str(tmp_path / "wh"))
    _publish_here(wh, source, keep=2)
    rng = random.Random(20240101)
    for _ in range(6):
        child = children.start("loop", wh.base_url, str(source))
        assert read_line(child) == "ready"
        time.sleep(rng.uniform(0.0, 0.8))  # when the kill lands is what varies, not a wait for an event
        _kill(child)
        _assert_readable(wh)
    _assert_next_publish_cleans_up(wh, source)


def test_two_publications_of_a_set_at_once_run_one_after_the_other(tmp_path, source, children):
    wh = Warehouse(str(tmp_path / "wh"))
    first = _publish_here(wh, source, keep=5)
    racers = [children.start("once", wh.base_url, str(source)) for _ in range(2)]
    for racer in racers:
        assert read_line(racer) == "ready"
    for racer in racers:
        send_line(racer, "go")
    second, third = sorted(read_line(racer) for racer in racers)
    assert [racer.wait() for racer in racers] == [0, 0]

    # Each publication saw the other's result: one chain of versions, not two siblings of `first`.
    assert read_manifest(wh, SET, second)["previous_version"] == first.version
    assert read_manifest(wh, SET, third)["previous_version"] == second
    assert _assert_readable(wh) == third
