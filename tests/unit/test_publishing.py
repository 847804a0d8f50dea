import hashlib
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from schemas.tables import ID_MAPS
from storage.catalog import catalog_path, connect_read_only, refresh_catalog
from storage.publishing import latest_version, publish, published_sets, read_manifest
from storage.warehouse import Warehouse


def _id_maps_source(tmp_path: Path, n_users: int, name: str) -> pads.Dataset:
    table = pa.table(
        {
            "kind": ["user"] * n_users + ["item"],
            "raw_id": [f"u{i}" for i in range(n_users)] + ["i0"],
            "idx": pa.array(list(range(n_users)) + [0], pa.int64()),  # cast to int32 on publish
        }
    )
    path = tmp_path / "src" / name
    path.mkdir(parents=True)
    pq.write_table(table, path / "part-0.parquet")
    return pads.dataset(str(path))


def test_publish_writes_version_manifest_and_switches_latest(tmp_path):
    wh = Warehouse(str(tmp_path / "wh"))
    first = publish(wh, "id_maps", ID_MAPS, _id_maps_source(tmp_path, 3, "a"), "2024-01-01", {"x": 1})
    second = publish(wh, "id_maps", ID_MAPS, _id_maps_source(tmp_path, 5, "b"), "2024-01-02", {"x": 2})

    assert latest_version(wh, "id_maps") == second.version != first.version
    manifest = read_manifest(wh, "id_maps", second.version)
    assert manifest["previous_version"] == first.version
    assert manifest["row_count"] == 6 and manifest["partition"] == "2024-01-02"
    assert manifest["lineage"] == {"x": 2}
    for entry in manifest["files"]:
        data = (Path(second.path) / entry["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert len(data) == entry["bytes"]
    published = pq.read_table(second.path)
    assert published.schema.field("idx").type == pa.int32()
    assert published.num_rows == 6
    # The first version is kept intact beside the live one.
    assert pq.read_table(first.path).num_rows == 4


def test_failed_publish_leaves_previous_latest_live(tmp_path):
    wh = Warehouse(str(tmp_path / "wh"))
    good = publish(wh, "id_maps", ID_MAPS, _id_maps_source(tmp_path, 3, "a"), "2024-01-01", {})
    bad_path = tmp_path / "src" / "bad"
    bad_path.mkdir()
    pq.write_table(pa.table({"kind": ["user"], "raw_id": ["u"], "idx": ["not a number"]}), bad_path / "p.parquet")

    with pytest.raises(pa.ArrowInvalid):
        publish(wh, "id_maps", ID_MAPS, pads.dataset(str(bad_path)), "2024-01-02", {})

    assert latest_version(wh, "id_maps") == good.version
    assert pq.read_table(good.path).num_rows == 4


def test_catalog_views_return_the_published_rows(tmp_path):
    wh = Warehouse(str(tmp_path / "wh"))
    version = publish(wh, "id_maps", ID_MAPS, _id_maps_source(tmp_path, 7, "a"), "2024-01-01", {})
    assert refresh_catalog(wh) == {"id_maps": version.version}
    assert published_sets(wh) == ["id_maps"]

    direct = duckdb.sql(f"SELECT * FROM read_parquet('{version.path}/*.parquet') ORDER BY kind, idx").fetchall()
    with connect_read_only(wh) as con:
        assert con.sql("SELECT * FROM id_maps ORDER BY kind, idx").fetchall() == direct
        with pytest.raises(duckdb.Error):
            con.execute("CREATE TABLE t (x INT)")  # read-only


def test_catalog_refresh_follows_latest(tmp_path):
    wh = Warehouse(str(tmp_path / "wh"))
    publish(wh, "id_maps", ID_MAPS, _id_maps_source(tmp_path, 2, "a"), "2024-01-01", {})
    refresh_catalog(wh)
    publish(wh, "id_maps", ID_MAPS, _id_maps_source(tmp_path, 9, "b"), "2024-01-02", {})
    refresh_catalog(wh)
    with duckdb.connect(catalog_path(wh), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM id_maps").fetchone() == (10,)


def test_staged_dir_replaces_only_on_success(tmp_path):
    wh = Warehouse(str(tmp_path))
    final = wh.path("features", "t", "date=2024-01-01")
    with wh.staged_dir(final) as staging:
        Path(staging, "a.txt").write_text("v1")
    with pytest.raises(RuntimeError):
        with wh.staged_dir(final) as staging:
            Path(staging, "a.txt").write_text("v2")
            raise RuntimeError("job died")
    assert Path(final, "a.txt").read_text() == "v1"
    assert sorted(p.name for p in Path(final).parent.iterdir()) == ["date=2024-01-01"]


def test_manifest_is_json_with_schema(tmp_path):
    wh = Warehouse(str(tmp_path / "wh"))
    version = publish(wh, "id_maps", ID_MAPS, _id_maps_source(tmp_path, 1, "a"), "2024-01-01", {})
    manifest = json.loads((Path(version.path) / "_manifest.json").read_text())
    assert [f["name"] for f in manifest["schema"]] == ID_MAPS.names
    assert manifest["version"] == version.version


def test_a_failing_gate_blocks_the_switch_and_keeps_the_version_for_inspection(tmp_path):
    from storage.publishing import PublicationBlocked
    from validation import validate_table

    wh = Warehouse(str(tmp_path / "wh"))
    gate = lambda path, previous_rows: validate_table("id_maps", pq.read_table(path), None, previous_rows)  # noqa: E731
    good = publish(wh, "id_maps", ID_MAPS, _id_maps_source(tmp_path, 40, "a"), "2024-01-01", {}, gate=gate)
    assert good.manifest["validation"]["passed"] and good.manifest["status"] == "published"

    # Four rows against forty: the row-count band catches a 90% drop.
    with pytest.raises(PublicationBlocked, match="row_count_change_within_band") as blocked:
        publish(wh, "id_maps", ID_MAPS, _id_maps_source(tmp_path, 3, "b"), "2024-01-02", {}, gate=gate)

    assert latest_version(wh, "id_maps") == good.version
    blocked_dirs = [p for p in (tmp_path / "wh" / "published" / "id_maps").iterdir() if p.name not in (good.version, "LATEST")]
    (blocked_dir,) = blocked_dirs
    manifest = json.loads((blocked_dir / "_manifest.json").read_text())
    assert manifest["status"] == "blocked" and not manifest["validation"]["passed"]
    assert blocked.value.verdict == manifest["validation"]
