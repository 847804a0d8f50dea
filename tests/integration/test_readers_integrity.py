"""Damaged inputs fail the ingest (or, with allow_partial_input, keep what precedes the break), and
ratings outside their format's scale are quarantined. Real Magazine data for Amazon."""

import gzip
import json
import shutil
import zlib

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas.registry import RAW_TABLES
from transforms.readers.ingest import UnreadableInput, ingest_to_dir
from transforms.readers.source import ColumnMapping, SourceSpec

REVIEWS = "Magazine_Subscriptions_5.json.gz"


def run(tmp_path, source, **spec):
    out = tmp_path / "out"
    report = ingest_to_dir(SourceSpec(path=str(source), **spec), str(out))
    return report, {t: pq.read_table(out / t, schema=s).to_pylist() for t, s in RAW_TABLES.items()}


def source_dir(tmp_path, name, data: bytes):
    src = tmp_path / "src"
    src.mkdir()
    (src / name).write_bytes(data)
    return src


@pytest.fixture
def cut_magazine(magazine_dir, tmp_path):
    """The real reviews .gz cut in half: (source dir, complete lines, decompressed bytes before the cut)."""
    whole = (magazine_dir / REVIEWS).read_bytes()
    cut = whole[: len(whole) // 2]
    data = zlib.decompressobj(wbits=31).decompress(cut)
    assert 0 < data.count(b"\n") < 2375
    return source_dir(tmp_path, REVIEWS, cut), data.count(b"\n"), len(data)


def test_truncated_magazine_reviews_fail_the_ingest(cut_magazine, tmp_path):
    src, complete, size = cut_magazine
    with pytest.raises(UnreadableInput) as raised:
        run(tmp_path, src)
    message = str(raised.value)
    assert message.startswith(f"{src / REVIEWS}: truncated gzip stream")
    assert f"at line {complete + 1}, byte {size} of the decompressed data" in message
    assert "download or export it again" in message and "allow_partial_input" in message
    assert (raised.value.line, raised.value.path) == (complete + 1, str(src / REVIEWS))


def test_truncated_magazine_reviews_with_allow_partial_input(cut_magazine, tmp_path):
    src, complete, size = cut_magazine
    report, tables = run(tmp_path, src, allow_partial_input=True)
    assert report.interactions == complete
    assert sorted(r["source_line"] for r in tables["interactions"]) == list(range(1, complete + 1))
    [brk] = [q for q in tables["quarantine"] if q["reason"].startswith("truncated gzip stream")]
    assert (brk["table"], brk["source_file"], brk["source_line"]) == ("interactions", REVIEWS, complete + 1)
    assert brk["reason"].endswith(f"at line {complete + 1}, byte {size} of the decompressed data")
    assert brk["raw"] and not brk["raw"].endswith("}")  # the fragment of the cut line
    assert report.partial_files == [str(src / REVIEWS)]
    meta = report.as_metadata()
    assert meta["partial_files"] == 1 and meta["quarantine_truncated_gzip_stream"] == 1


def test_plain_json_named_gz_fails_and_is_quarantined_whole_with_allow_partial_input(magazine_dir, tmp_path):
    with gzip.open(magazine_dir / REVIEWS) as f:
        src = source_dir(tmp_path, REVIEWS, f.read())  # not compressed, named .gz
    with pytest.raises(UnreadableInput, match="not a readable gzip file") as raised:
        run(tmp_path, src)
    assert str(raised.value).startswith(f"{src / REVIEWS}: not a readable gzip file")
    assert "at line 1, byte 0 of the decompressed data" in str(raised.value)

    report, tables = run(tmp_path, src, allow_partial_input=True)
    assert report.interactions == 0 and report.partial_files == [str(src / REVIEWS)]
    [q] = tables["quarantine"]
    assert (q["table"], q["source_line"], q["raw"]) == ("interactions", 1, None)
    assert report.quarantine_by_reason == {"not a readable gzip file": 1}


def test_corrupt_gzip_data_fails_naming_the_line(magazine_dir, tmp_path):
    whole = bytearray((magazine_dir / REVIEWS).read_bytes())
    whole[len(whole) // 2 : len(whole) // 2 + 64] = bytes(64)
    src = source_dir(tmp_path, REVIEWS, bytes(whole))
    with pytest.raises(UnreadableInput, match=r"not a readable gzip file: .*, at line \d+, byte \d+") as raised:
        run(tmp_path, src)
    assert str(raised.value).startswith(str(src / REVIEWS))


def test_truncated_gzip_csv_is_caught_like_json(tmp_path):
    rows = "".join(f"u{i},i{i % 7},{1_600_000_000 + i}\n" for i in range(20_000))
    whole = gzip.compress(("user_id,item_id,ts\n" + rows).encode())
    src = source_dir(tmp_path, "log.csv.gz", whole[: len(whole) // 2])
    with pytest.raises(UnreadableInput, match=r"log\.csv\.gz: truncated gzip stream"):
        run(tmp_path, src)
    report, tables = run(tmp_path, src, allow_partial_input=True)
    assert report.format == "table" and 0 < report.interactions < 20_000
    assert [q["reason"].split(":")[0] for q in tables["quarantine"]] == ["truncated gzip stream"]


def test_damaged_parquet_row_group_fails_naming_the_row(tmp_path):
    log = pa.table({"user_id": [f"u{i}" for i in range(1000)], "item_id": [f"i{i % 37}" for i in range(1000)],
                    "ts": list(range(1_600_000_000, 1_600_001_000))})  # fmt: skip
    path = tmp_path / "log.parquet"
    pq.write_table(log, path, row_group_size=250)
    page = pq.ParquetFile(path).metadata.row_group(2).column(0).data_page_offset
    data = bytearray(path.read_bytes())
    data[page + 20 : page + 60] = b"\xff" * 40
    src = source_dir(tmp_path, "log.parquet", bytes(data))
    with pytest.raises(UnreadableInput, match=r"log\.parquet: not a readable Parquet file: .*, at row 500 \(row group 2\)"):
        run(tmp_path, src)
    report, tables = run(tmp_path, src, allow_partial_input=True)
    assert report.interactions == 500
    [q] = tables["quarantine"]
    assert (q["source_line"], q["reason"].split(":")[0]) == (500, "not a readable Parquet file")


def test_amazon2018_rating_outside_1_to_5_is_quarantined(magazine_dir, tmp_path):
    with gzip.open(magazine_dir / REVIEWS) as f:
        lines = [json.loads(line) for _, line in zip(range(50), f)]
    lines[9]["overall"] = 7.0
    src = source_dir(tmp_path, "Magazine_Subscriptions_5.json", b"\n".join(json.dumps(r).encode() for r in lines))
    report, tables = run(tmp_path, src)
    assert report.interactions == 49 and 10 not in {r["source_line"] for r in tables["interactions"]}
    [q] = tables["quarantine"]
    assert (q["table"], q["source_line"]) == ("interactions", 10)
    assert q["reason"] == "rating out of range: field 'overall': 7 is outside 1-5 for amazon2018"
    assert report.quarantine_by_reason == {"rating out of range": 1}
    assert report.as_metadata()["quarantine_rating_out_of_range"] == 1


def test_amazon2023_rating_outside_1_to_5_is_quarantined(tmp_path):
    review = {"rating": 4.0, "title": "Nice", "text": "Works", "parent_asin": "P1", "user_id": "U1",
              "timestamp": 1588615855070, "helpful_vote": 0, "verified_purchase": True}  # fmt: skip
    data = b"\n".join(json.dumps({**review, "rating": r}).encode() for r in (4.0, 0.0, 5.0))
    report, tables = run(tmp_path, source_dir(tmp_path, "All_Beauty.jsonl", data))
    assert report.interactions == 2
    assert [q["reason"] for q in tables["quarantine"]] == [
        "rating out of range: field 'rating': 0 is outside 1-5 for amazon2023"
    ]


def test_movielens_rating_6_is_quarantined(tmp_path):
    data = b"196\t242\t3\t881250949\n186\t302\t6\t891717742\n22\t377\t1\t878887116\n"
    report, tables = run(tmp_path, source_dir(tmp_path, "u.data", data))
    assert [r["source_line"] for r in tables["interactions"]] == [1, 3]
    [q] = tables["quarantine"]
    assert (q["source_line"], q["reason"]) == (2, "rating out of range: field 'rating': 6 is outside 1-5 for movielens")


def test_mapped_table_rating_range(tmp_path):
    src = source_dir(tmp_path, "clicks.csv", b"uid,sku,time,score\nu1,a,1600000000,0\nu2,b,1600000001,0.5\n"
                                             b"u3,c,1600000002,1\nu4,d,1600000003,7\n")  # fmt: skip
    mapping = ColumnMapping(user_id="uid", item_id="sku", ts="time", rating="score", rating_range=(0, 1))
    report, tables = run(tmp_path, src, format="table", mapping=mapping)
    assert [r["rating"] for r in tables["interactions"]] == [0.0, 0.5, 1.0]
    assert [(q["source_line"], q["reason"]) for q in tables["quarantine"]] == [
        (5, "rating out of range: field 'score': 7 is outside 0-1 for table")
    ]
    # Without a range, a table accepts anything in 0-10.
    shutil.rmtree(tmp_path / "out")
    report, _ = run(tmp_path, src, format="table", mapping=mapping.model_copy(update={"rating_range": None}))
    assert report.interactions == 4 and report.quarantine == 0


@pytest.mark.parametrize(
    ("bad", "message"),
    [((5, 1), "expected LOW <= HIGH within 0-10, got 5-1"), ((0, 11), "within 0-10, got 0-11"),
     ((-1, 5), "within 0-10, got -1-5"), ("1to5", "expected LOW-HIGH such as 1-5, got '1to5'")],
)  # fmt: skip
def test_rating_range_must_lie_within_0_to_10(bad, message):
    with pytest.raises(ValueError, match="rating_range") as raised:
        ColumnMapping(user_id="u", item_id="i", ts="t", rating="r", rating_range=bad)
    assert message in str(raised.value)


def test_truncated_input_fails_the_dagster_run(cut_magazine, tmp_path):
    import dagster as dg

    from dagster_project.assets.raw import raw_tables
    from dagster_project.resources import SourceResource, WarehouseResource

    src, complete, _ = cut_magazine
    warehouse = WarehouseResource(base_url=str(tmp_path / "wh"))

    def materialize(**source):
        return dg.materialize(
            [raw_tables],
            resources={"source": SourceResource(path=str(src), **source), "warehouse": warehouse},
            partition_key="2018-06-01",
            raise_on_error=False,
        )

    failed = materialize()
    assert not failed.success
    [failure] = [e for e in failed.all_events if e.is_step_failure]
    error = str(failure.step_failure_data.error)
    assert "truncated gzip stream" in error and REVIEWS in error
    assert not any(warehouse.warehouse.exists(warehouse.warehouse.table_path("raw", t, "2018-06-01")) for t in RAW_TABLES)

    partial = materialize(allow_partial_input=True)
    assert partial.success
    materialized = {m.asset_key.path[-1]: m.metadata for m in partial.asset_materializations_for_node("raw_tables")}
    assert materialized["interactions"]["rows"].value == complete
    assert materialized["interactions"]["ingest"].value["partial_files"] == 1
    assert materialized["quarantine"]["partial_files"].value == [str(src / REVIEWS)]
