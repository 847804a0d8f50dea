"""Pruning old versions of a published set (rules in storage/pruning.py)."""

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from schemas.tables import ID_MAPS
from storage.pruning import prune_versions
from storage.published_layout import MANIFEST, latest_version, read_manifest, version_names
from storage.publishing import PublicationBlocked, PublishedVersion, new_version_id, publish, switch_snapshot
from storage.warehouse import Warehouse
from validation import CheckResult, ValidationReport


@pytest.fixture
def wh(tmp_path) -> Warehouse:
    return Warehouse(str(tmp_path / "wh"))


@pytest.fixture
def source(tmp_path) -> pads.Dataset:
    path = tmp_path / "source"
    path.mkdir()
    table = pa.table({"kind": ["user", "item"], "raw_id": ["u0", "i0"], "idx": [0, 0]})
    pq.write_table(table, path / "p.parquet")
    return pads.dataset(str(path))


def _block(path: str, previous_rows: int | None) -> ValidationReport:
    return ValidationReport("id_maps", 0, [CheckResult("made_to_fail", None, "error", False)])


def _publish(wh: Warehouse, source: pads.Dataset, keep: int) -> PublishedVersion:
    return publish(wh, "id_maps", ID_MAPS, source, "2024-01-01", {}, keep_versions=keep)


def _publish_blocked(wh: Warehouse, source: pads.Dataset, keep: int) -> str:
    with pytest.raises(PublicationBlocked) as blocked:
        publish(wh, "id_maps", ID_MAPS, source, "2024-01-01", {}, gate=_block, keep_versions=keep)
    return blocked.value.manifest["version"]


def _incomplete_version(wh: Warehouse, created: dt.datetime) -> str:
    """A version directory a killed writer left: a part file, no manifest."""
    version = new_version_id(created)
    directory = Path(wh.path("published", "id_maps", version))
    directory.mkdir(parents=True)
    pq.write_table(pa.table({"idx": [1]}), directory / "part-00000.parquet")
    return version


def test_publish_keeps_the_newest_versions_and_deletes_older_ones_whole(wh, source):
    published = [_publish(wh, source, keep=3) for _ in range(5)]
    names = [p.version for p in published]

    assert version_names(wh, "id_maps") == names[2:]
    assert [p.pruned for p in published] == [[], [], [], names[:1], names[1:2]]
    assert not any(Path(wh.path("published", "id_maps", v)).exists() for v in names[:2])
    assert latest_version(wh, "id_maps") == names[-1]


def test_blocked_versions_are_kept_apart_and_pruned_even_when_newer_than_latest(wh, source):
    good = [_publish(wh, source, keep=2).version]
    blocked = [_publish_blocked(wh, source, keep=2) for _ in range(3)]
    # Three nights failed: the live version stays, the oldest failure goes.
    assert version_names(wh, "id_maps") == [good[0], *blocked[1:]]

    good += [_publish(wh, source, keep=2).version for _ in range(2)]
    assert version_names(wh, "id_maps") == [*blocked[1:], *good[1:]]
    assert [read_manifest(wh, "id_maps", v)["status"] for v in version_names(wh, "id_maps")] == [
        "blocked", "blocked", "published", "published"
    ]


def test_incomplete_versions_go_only_when_older_than_latest(wh, source):
    now = dt.datetime.now(dt.timezone.utc)
    abandoned = _incomplete_version(wh, now - dt.timedelta(hours=1))
    still_writing = _incomplete_version(wh, now + dt.timedelta(hours=1))

    published = _publish(wh, source, keep=2)

    assert published.pruned == [abandoned]
    assert version_names(wh, "id_maps") == [published.version, still_writing]
    assert latest_version(wh, "id_maps") == published.version


def test_latest_and_every_version_newer_than_it_survive(wh, source):
    names = [_publish(wh, source, keep=5).version for _ in range(4)]
    switch_snapshot(wh, "2024-01-01", {"id_maps": names[0]})  # a rollback

    assert prune_versions(wh, "id_maps", keep=2) == []
    assert version_names(wh, "id_maps") == names
    assert all(Path(wh.path("published", "id_maps", v, MANIFEST)).exists() for v in names)


def test_keeping_fewer_than_two_versions_is_refused_before_anything_is_written(wh, source):
    with pytest.raises(ValueError, match="keep_versions must be at least 2"):
        _publish(wh, source, keep=1)
    assert version_names(wh, "id_maps") == []
