"""Tables from outside Python: a mapping file, KEY=COLUMN pairs, and auto-detection by column names."""

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from schemas.registry import RAW_TABLES
from transforms.readers.errors import IngestError, MappingError
from transforms.readers.ingest import ingest_to_dir
from transforms.readers.mapping import load_mapping_file, parse_mapping_pairs
from transforms.readers.source import ColumnMapping, SourceSpec

CLICKS = b"uid,sku,time,stars\nu1,a,2020-01-02T03:04:05Z,4\nu2,b,2020-01-03T00:00:00Z,2\n"
MAPPING = ColumnMapping(user_id="uid", item_id="sku", ts="time", rating="stars", ts_unit="iso", rating_range=(1, 5))


def run(tmp_path, source, **spec):
    out = tmp_path / "out"
    report = ingest_to_dir(SourceSpec(path=str(source), **spec), str(out))
    return report, {t: pq.read_table(out / t, schema=s).to_pylist() for t, s in RAW_TABLES.items()}


def write(path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("dump", [yaml.safe_dump, json.dumps])
def test_mapping_file_round_trip_and_ingest(tmp_path, dump):
    mapping_file = write(tmp_path / "mapping.yaml", dump(MAPPING.model_dump(mode="json")).encode())
    assert load_mapping_file(str(mapping_file)) == MAPPING
    log = write(tmp_path / "src" / "clicks.csv", CLICKS)
    report, tables = run(tmp_path, log, format="table", mapping_file=str(mapping_file))
    assert report.format == "table"
    assert [(r["user_id"], r["item_id"], r["rating"]) for r in tables["interactions"]] == [("u1", "a", 4.0), ("u2", "b", 2.0)]


def test_mapping_file_as_written_by_hand(tmp_path):
    text = "user_id: uid\nitem_id: sku\nts: time\nrating: stars\nts_unit: iso\nrating_range: 1-5\n"
    assert load_mapping_file(str(write(tmp_path / "m.yml", text.encode()))) == MAPPING


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("user: uid\nitem_id: sku\nts: time\n", "unknown key 'user' (the keys are user_id, item_id, ts,"),
        ("user: uid\nitem_id: sku\nts: time\n", "key 'user_id' is missing (required: user_id, item_id, ts)"),
        ("user_id: uid\nitem_id: sku\nts: time\nts_unit: hours\n", "key 'ts_unit': Input should be 's', 'ms' or 'iso'"),
        ("user_id: uid\nitem_id: sku\nts: time\nrating_range: 5-1\n", "key 'rating_range': expected LOW <= HIGH"),
        ("- user_id\n- uid\n", "must hold KEY: COLUMN entries"),
        ("user_id: [uid\n", "not valid YAML or JSON"),
    ],
)
def test_bad_mapping_file_names_the_file_and_the_key(tmp_path, text, problem):
    mapping_file = write(tmp_path / "mapping.yaml", text.encode())
    with pytest.raises(MappingError) as raised:
        load_mapping_file(str(mapping_file))
    assert str(raised.value).startswith(f"{mapping_file}: ")
    assert problem in str(raised.value)


def test_bad_mapping_file_fails_the_ingest(tmp_path):
    mapping_file = write(tmp_path / "mapping.yaml", b"user_id: uid\nitem: sku\nts: time\n")
    log = write(tmp_path / "src" / "clicks.csv", CLICKS)
    with pytest.raises(IngestError, match=f"^{mapping_file}: bad column mapping: unknown key 'item'"):
        run(tmp_path, log, format="table", mapping_file=str(mapping_file))
    with pytest.raises(IngestError, match="cannot read the mapping file"):
        run(tmp_path, log, format="table", mapping_file=str(tmp_path / "missing.yaml"))
    with pytest.raises(IngestError, match="not both"):
        run(tmp_path, log, mapping=MAPPING, mapping_file=str(mapping_file))


def test_parse_mapping_pairs():
    pairs = ["user_id=uid", "item_id=sku", " ts = time ", "rating=stars", "ts_unit=iso", "rating_range=1-5"]
    assert parse_mapping_pairs(pairs) == MAPPING
    assert parse_mapping_pairs(["user_id=uid", "item_id=sku", "ts=time"]) == ColumnMapping(user_id="uid", item_id="sku", ts="time")


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (["user_id", "item_id=sku", "ts=t"], "mapping pair 'user_id': expected KEY=COLUMN"),
        (["user_id=", "item_id=sku", "ts=t"], "mapping pair 'user_id=': expected KEY=COLUMN"),
        (["uid=u", "user_id=u", "item_id=sku", "ts=t"], "mapping pair 'uid=u': unknown key 'uid'"),
        (["user_id=u", "user_id=v", "item_id=sku", "ts=t"], "mapping pair 'user_id=v': key 'user_id' is already given by 'user_id=u'"),
        (["user_id=u", "item_id=sku", "ts=t", "ts_unit=days"], "mapping pair 'ts_unit=days': key 'ts_unit'"),
        (["user_id=u", "item_id=sku", "ts=t", "rating_range=1"], "mapping pair 'rating_range=1': key 'rating_range': expected LOW-HIGH"),
        (["user_id=u", "item_id=sku"], "mapping pairs: key 'ts' is missing"),
    ],
)
def test_bad_mapping_pairs_name_the_pair(pairs, message):
    with pytest.raises(MappingError) as raised:
        parse_mapping_pairs(pairs)
    assert message in str(raised.value)


def test_auto_reads_a_folder_of_tables_with_the_expected_columns(tmp_path):
    src = tmp_path / "src"
    write(src / "day1.csv", b"user_id,item_id,ts,rating,review_text\nu1,a,1600000000,5,Great\nu2,b,1600000100,3,\n")
    with gzip.open(write(src / "day2.csv.gz", b""), "wb") as f:
        f.write(b"user_id,item_id,ts\nu3,a,1600000200\n")
    write(src / "day3.tsv", b"ts\titem_id\tuser_id\n1600000300\tc\tu4\n")
    pq.write_table(pa.table({"user_id": ["u5"], "item_id": ["b"], "ts": [1600000400]}), src / "day4.parquet")
    write(src / "items.csv", b"item_id,title,category\na,Alpha,Tools\nb,Beta,\n")
    write(src / "README.md", b"not a table\n")

    report, tables = run(tmp_path, src)
    assert report.format == "table"
    assert [(r["user_id"], r["item_id"], r["rating"]) for r in tables["interactions"]] == [
        ("u1", "a", 5.0), ("u2", "b", 3.0), ("u3", "a", None), ("u4", "c", None), ("u5", "b", None)]  # fmt: skip
    assert [(r["user_id"], r["review_text"]) for r in tables["reviews"]] == [("u1", "Great")]
    assert [(r["item_id"], r["title"], r["category"]) for r in tables["items"]] == [("a", "Alpha", "Tools"), ("b", "Beta", None)]
    assert tables["quarantine"] == []


def test_auto_reads_a_single_table_file(tmp_path):
    report, tables = run(tmp_path, write(tmp_path / "log.csv", b"user_id,item_id,ts\nu1,a,1600000000\n"))
    assert report.format == "table" and report.interactions == 1


def test_auto_refuses_to_leave_a_log_with_other_columns_out(tmp_path):
    src = tmp_path / "src"
    write(src / "a.csv", b"user_id,item_id,ts\nu1,a,1600000000\n")
    write(src / "b.csv", b"userId,movieId,timestamp\n1,2,1600000000\n")
    with pytest.raises(IngestError) as raised:
        run(tmp_path, src)
    assert str(raised.value).startswith(f"{src / 'b.csv'}: format 'table' needs a column mapping")
    assert "['userId', 'movieId', 'timestamp']" in str(raised.value)


def test_auto_without_recognizable_files_lists_what_each_format_expects(tmp_path):
    src = tmp_path / "src"
    write(src / "clicks.csv", CLICKS)
    with pytest.raises(IngestError, match="no recognizable files") as raised:
        run(tmp_path, src)
    message = str(raised.value)
    for expected in ("amazon2018: <Category>_5.json", "amazon2023: <Category>.jsonl", "movielens: u.data + u.item",
                     "table: .csv, .tsv, .csv.gz or .parquet files with columns user_id, item_id, ts"):  # fmt: skip
        assert expected in message


def test_format_table_without_mapping_uses_the_column_names(tmp_path):
    report, _ = run(tmp_path, write(tmp_path / "log.csv", b"user_id,item_id,ts\nu1,a,1600000000\n"), format="table")
    assert report.interactions == 1


def test_source_resource_passes_the_new_fields_to_the_spec(tmp_path):
    from dagster_project.resources import SourceResource

    spec = SourceResource(
        path=str(tmp_path), format="table", mapping_pairs=["user_id=uid", "item_id=sku", "ts=time"],
        mapping_file=None, items_path="items.csv", allow_partial_input=True,
    ).spec()  # fmt: skip
    assert spec.mapping == ColumnMapping(user_id="uid", item_id="sku", ts="time")
    assert (spec.items_path, spec.allow_partial_input) == ("items.csv", True)
    spec = SourceResource(path=str(tmp_path), mapping_file="m.yaml").spec()
    assert (spec.mapping, spec.mapping_file, spec.allow_partial_input) == (None, "m.yaml", False)
    with pytest.raises(MappingError, match="mapping pair 'uid'"):
        SourceResource(path=str(tmp_path), mapping_pairs=["uid"]).spec()
