"""MovieLens, CSV/Parquet tables with a ColumnMapping, and files that cannot be read at all."""

import gzip
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas.registry import RAW_TABLES
from transforms.readers.ingest import IngestError, ingest_to_dir
from transforms.readers.source import ColumnMapping, SourceSpec


def run(tmp_path, source, **spec):
    out = tmp_path / "out"
    report = ingest_to_dir(SourceSpec(path=str(source), **spec), str(out), batch_rows=2)
    return report, {t: pq.read_table(out / t, schema=s).to_pylist() for t, s in RAW_TABLES.items()}


def quarantined(tables):
    return sorted((q["table"], q["source_file"], q["source_line"], q["reason"].split(":")[0]) for q in tables["quarantine"])


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


def test_movielens_100k(tmp_path):
    src = tmp_path / "ml-100k"
    src.mkdir()
    (src / "u.data").write_text("196\t242\t3\t881250949\n186\t302\t3.5\t891717742\nbad line\n22\t377\t11\t878887116\n")
    flags = ["0"] * 19
    toy, miz, unknown = list(flags), list(flags), list(flags)
    toy[3] = toy[4] = toy[5] = "1"
    miz[8] = miz[12] = "1"
    unknown[0] = "1"
    u_item = [
        "242|Toy Story (1995)|01-Jan-1995||http://x|" + "|".join(toy),
        "302|Misérables, Les (1995)|01-Jan-1995||http://y|" + "|".join(miz),
        "267|unknown||||" + "|".join(unknown),
        "5|Too|few",
        "6|Bad flags|||x|" + "|".join(["2"] * 19),
    ]
    (src / "u.item").write_bytes("\n".join(u_item).encode("latin-1"))
    (src / "u1.base").write_text("ignored\n")

    report, tables = run(tmp_path, src)
    assert report.format == "movielens"
    assert [(r["user_id"], r["item_id"], r["rating"], r["ts"]) for r in tables["interactions"]] == [
        ("196", "242", 3.0, datetime.fromtimestamp(881250949, timezone.utc)),
        ("186", "302", 3.5, datetime.fromtimestamp(891717742, timezone.utc)),
    ]
    assert tables["reviews"] == []
    toy_row, miz_row, unknown_row = tables["items"]
    assert (toy_row["title"], toy_row["categories"], toy_row["category"]) == (
        "Toy Story (1995)", ["Animation", "Children's", "Comedy"], "Animation")
    assert (miz_row["title"], miz_row["categories"]) == ("Misérables, Les (1995)", ["Drama", "Musical"])
    assert (unknown_row["title"], unknown_row["categories"]) == ("unknown", ["unknown"])
    assert quarantined(tables) == [
        ("interactions", "u.data", 3, "malformed line"),
        ("interactions", "u.data", 4, "rating out of range"),
        ("items", "u.item", 4, "malformed line"),
        ("items", "u.item", 5, "malformed line"),
    ]
    assert report.records_by_file == {"u.data": 4, "u.item": 5}


def test_movielens_1m(tmp_path):
    src = tmp_path / "ml-1m"
    src.mkdir()
    (src / "ratings.dat").write_text("1::1193::5::978300760\n1::661::x::978302109\n2::3408::4\n1::914::3::978301968\n")
    movies = "1::Toy Story (1995)::Animation|Children's|Comedy\n73::Misérables, Les (1995)::Drama|Musical\nbad\n"
    (src / "movies.dat").write_bytes(movies.encode("latin-1"))
    (src / "users.dat").write_text("1::F::1::10::48067\n")

    report, tables = run(tmp_path, src, format="movielens")
    assert [(r["item_id"], r["rating"], r["source_line"]) for r in tables["interactions"]] == [
        ("1193", 5.0, 1), ("914", 3.0, 4)]  # fmt: skip
    assert [(r["item_id"], r["title"], r["category"]) for r in tables["items"]] == [
        ("1", "Toy Story (1995)", "Animation"),
        ("73", "Misérables, Les (1995)", "Drama"),
    ]
    assert quarantined(tables) == [
        ("interactions", "ratings.dat", 2, "wrong type"),
        ("interactions", "ratings.dat", 3, "malformed line"),
        ("items", "movies.dat", 3, "malformed line"),
    ]
    assert tables["quarantine"][0]["reason"] == "wrong type: field 'rating': expected a number, got str 'x'"


def test_csv_with_mapping_iso_timestamps_and_items(tmp_path):
    log = tmp_path / "log.csv"
    log.write_bytes(
        b"uid,iid,when,stars,text\n"
        b"u1,i1,2020-01-02T03:04:05Z,4,\"Good,\nreally\"\n"  # lines 2-3: one record with a quoted newline
        b"u2,i2,2020-01-03 00:00:00,5,\n"  # line 4: naive time is UTC; no text, no review
        b"u3,i1,not a date,3,x\n"  # line 5
        b"u4,i1,2020-01-04T00:00:00+02:00,4,caf\xe9\n"  # line 6
        b"u5,i2,2020-01-05T00:00:00Z\n"  # line 7
        b",i2,2020-01-05T00:00:00Z,3,\n"  # line 8
        b"u6,i2,2030-01-01T00:00:00Z,3,late\n"  # line 9: after as_of
    )
    items = tmp_path / "items.csv"
    items.write_text('item_id,title,price,category,brand\ni1,Widget &amp; Co,"$1,299.99",Tools,Acme\ni2,,,,\n')
    mapping = ColumnMapping(user_id="uid", item_id="iid", ts="when", rating="stars", review_text="text", ts_unit="iso")
    out = tmp_path / "out"
    report = ingest_to_dir(
        SourceSpec(path=str(log), mapping=mapping, items_path=str(items)), str(out), as_of=utc(2025, 1, 1)
    )
    tables = {t: pq.read_table(out / t, schema=s).to_pylist() for t, s in RAW_TABLES.items()}
    assert report.format == "table"
    assert [(r["user_id"], r["ts"], r["source_line"]) for r in tables["interactions"]] == [
        ("u1", utc(2020, 1, 2, 3, 4, 5), 2),
        ("u2", utc(2020, 1, 3), 4),
    ]
    [r] = tables["reviews"]
    assert (r["review_text"], r["rating"], r["summary"], r["helpful_votes"]) == ("Good,\nreally", 4.0, None, None)
    assert report.excluded_after_as_of == 1
    assert quarantined(tables) == [
        ("interactions", "log.csv", 5, "invalid timestamp"),
        ("interactions", "log.csv", 6, "invalid utf-8 at byte 37 (0xe9)"),
        ("interactions", "log.csv", 7, "malformed line"),
        ("interactions", "log.csv", 8, "missing field 'uid'"),
    ]
    i1, i2 = tables["items"]
    assert (i1["title"], i1["price"], i1["price_raw"], i1["categories"], i1["brand"]) == (
        "Widget & Co", 1299.99, "$1,299.99", ["Tools"], "Acme")
    assert (i2["title"], i2["title_is_fallback"], i2["price_raw"]) == ("i2", True, None)
    assert report.records_by_file == {"log.csv": 7, "items.csv": 2}


def test_gzip_csv_with_ms_timestamps(tmp_path):
    log = tmp_path / "events.csv.gz"
    with gzip.open(log, "wt") as f:
        f.write("user,item,ts_ms\nu1,i1,1588615855070\nu2,i2,1588615855\nu3,i3,-5\n")
    report, tables = run(tmp_path, log, mapping=ColumnMapping(user_id="user", item_id="item", ts="ts_ms", ts_unit="ms"))
    assert [(r["user_id"], r["ts"], r["rating"]) for r in tables["interactions"]] == [
        ("u1", datetime.fromtimestamp(1588615855, timezone.utc), None),
        ("u2", datetime.fromtimestamp(1588615, timezone.utc), None),
    ]
    assert quarantined(tables) == [("interactions", "events.csv.gz", 4, "invalid timestamp")]


def test_parquet_with_mapping(tmp_path):
    table = pa.table(
        {
            "user": pa.array([1, 2, 3, 4, 5], pa.int64()),
            "item": ["a", "b", None, "c", "d"],
            "ts": pa.array([1_600_000_000_000, 1_600_000_100_000, 1, 1_600_000_200_000, 1_600_000_300_000], pa.int64()),
            "score": [1.0, 2.0, 3.0, float("nan"), 4.0],
            "body": ["fine", None, "x", "y", "  "],
        }
    )
    path = tmp_path / "log.parquet"
    pq.write_table(table, path, row_group_size=2)
    mapping = ColumnMapping(user_id="user", item_id="item", ts="ts", ts_unit="ms", rating="score", review_text="body")
    report, tables = run(tmp_path, path, format="table", mapping=mapping)
    assert [(r["user_id"], r["item_id"], r["source_line"]) for r in tables["interactions"]] == [
        ("1", "a", 0), ("2", "b", 1), ("5", "d", 4)]  # fmt: skip
    assert [(r["user_id"], r["review_text"]) for r in tables["reviews"]] == [("1", "fine")]
    assert quarantined(tables) == [
        ("interactions", "log.parquet", 2, "missing field 'item'"),
        ("interactions", "log.parquet", 3, "invalid rating"),
    ]
    assert tables["quarantine"][0]["raw"] == '{"user":3,"item":null,"ts":1,"score":3.0,"body":"x"}'
    assert '"user":3' in tables["quarantine"][0]["raw"]
    # batch_rows=2 streams: several row groups rather than one table held in memory.
    assert pq.ParquetFile(tmp_path / "out" / "interactions" / "part-00000.parquet").num_row_groups == 2


def test_parquet_timestamp_column(tmp_path):
    path = tmp_path / "log.parquet"
    ts = pa.array([datetime(2021, 5, 1, 12)], pa.timestamp("us"))
    pq.write_table(pa.table({"u": ["u1"], "i": ["i1"], "t": ts}), path)
    _, tables = run(tmp_path, path, mapping=ColumnMapping(user_id="u", item_id="i", ts="t"))
    assert tables["interactions"][0]["ts"] == utc(2021, 5, 1, 12)


def test_empty_source_still_writes_every_table(tmp_path):
    (tmp_path / "Empty_5.json").write_bytes(b"")
    report, tables = run(tmp_path, tmp_path / "Empty_5.json")
    assert all(rows == [] for rows in tables.values())
    for table in RAW_TABLES:
        assert (tmp_path / "out" / table / "part-00000.parquet").exists()


def write(path, data=b"x"):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("make", "spec", "message"),
    [
        (lambda d: d / "missing", {}, "missing: no such file or directory"),
        (lambda d: write(d / "README.md").parent, {}, "no recognizable files"),
        (lambda d: write(d / "Toys_5.json.gz", b"plain text\n"), {}, "Toys_5.json.gz: not a readable gzip file"),
        (lambda d: write(d / "log.parquet", b"PAR1garbage"), {"format": "table"}, "log.parquet: not a readable Parquet"),
        (lambda d: write(d / "log.csv", b"a,b\n1,2\n"), {"format": "table"}, "log.csv: missing mapped column(s) ['t']"),
        (lambda d: write(d / "log.csv"), {"format": "table", "mapping": None}, "needs a column mapping"),
        (
            lambda d: write(d / "log.csv", b"a,b,t\n1,2,3\n"),
            {"format": "table", "mapping": ColumnMapping(user_id="a", item_id="b", ts="t", review_text="body")},
            "log.csv: missing mapped column(s) ['body']",
        ),
        (lambda d: write(write(d / "A_5.json").parent / "B_5.json").parent, {}, "several categories"),
        (lambda d: write(d / "u.data").parent, {"format": "amazon2023"}, "no recognizable amazon2023 files"),
    ],
)
def test_unreadable_sources_raise_ingest_error(tmp_path, make, spec, message):
    src_dir = tmp_path / "src"
    src_dir.mkdir()
    path = make(src_dir)
    if "format" in spec:
        spec = {"mapping": ColumnMapping(user_id="a", item_id="b", ts="t"), **spec}
    with pytest.raises(IngestError, match="^" + str(src_dir).replace(".", r"\.")) as raised:
        run(tmp_path, path, **spec)
    assert message in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_category_picks_one_of_several(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "A_5.json").write_text('{"reviewerID": "u", "asin": "i", "overall": 1, "unixReviewTime": 5, "reviewText": "t"}\n')
    (src / "B_5.json").write_text("")
    report, tables = run(tmp_path, src, category="A")
    assert report.files == [str(src / "A_5.json")] and report.interactions == 1


STAR_WARS_100K = (
    "50|Star Wars (1977)|01-Jan-1977||http://us.imdb.com/M/title-exact?Star%20Wars%20(1977)"
    "|0|1|1|0|0|0|0|0|0|0|0|0|0|0|1|1|0|1|0"
)  # the line of u.item as published
STAR_WARS_1M = "260::Star Wars: Episode IV - A New Hope (1977)::Action|Adventure|Fantasy|Sci-Fi"


@pytest.mark.parametrize(
    ("name", "line", "genres"),
    [
        ("u.item", STAR_WARS_100K, ["Action", "Adventure", "Romance", "Sci-Fi", "War"]),
        ("movies.dat", STAR_WARS_1M, ["Action", "Adventure", "Fantasy", "Sci-Fi"]),
    ],
)
def test_movielens_items_keep_every_genre_and_the_first_is_the_category(tmp_path, name, line, genres):
    src = tmp_path / "ml"
    src.mkdir()
    (src / name).write_bytes((line + "\n").encode("latin-1"))
    _, tables = run(tmp_path, src)
    [star_wars] = tables["items"]
    assert (star_wars["categories"], star_wars["category"]) == (genres, "Action")
