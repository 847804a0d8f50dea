"""Dirty Amazon 2018 and 2023 files written by the tests: exact counts per table and reason."""

import gzip
import json
import random
import zlib

import pyarrow.parquet as pq
import pytest

from schemas.registry import RAW_TABLES
from transforms.readers.ingest import UnreadableInput, ingest_to_dir
from transforms.readers.prices import parse_price
from transforms.readers.source import SourceSpec
from transforms.readers.titles import clean_text, item_title

HTML_TITLE = '<span class="a-size-medium a-color-secondary"'


def run(tmp_path, source, **spec):
    out = tmp_path / "out"
    report = ingest_to_dir(SourceSpec(path=str(source), **spec), str(out))
    return report, {t: pq.read_table(out / t, schema=s).to_pylist() for t, s in RAW_TABLES.items()}


def review(user="u1", item="i1", overall=5.0, ts=1393372800, **extra):
    return {"overall": overall, "verified": True, "reviewTime": "02 26, 2014", "reviewerID": user,
            "asin": item, "reviewerName": "N", "reviewText": "Great read.", "summary": "Good",
            "unixReviewTime": ts, **extra}  # fmt: skip


def dumps(obj) -> bytes:
    return json.dumps(obj).encode()


def quarantined(tables):
    return sorted((q["table"], q["source_line"], q["reason"].split(":")[0]) for q in tables["quarantine"])


@pytest.fixture
def amazon2018_dir(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    good = dumps(review(vote="1,234"))
    reviews = [
        good,  # 1
        good,  # 2 duplicate, kept
        dumps(review(overall="five")),  # 3
        dumps(review(user=123)),  # 4
        dumps(review(user=["a"])),  # 5
        dumps(review(ts="yesterday")),  # 6
        dumps(review(overall=7)),  # 7 outside Amazon's 1-5
        dumps(review(user="u2", reviewText="   ")),  # 8 interaction kept, review quarantined
        dumps(review(user="u3", reviewText="caf\u00e9")).replace(b"caf\\u00e9", b"caf\xe9"),  # 9 latin-1 byte
        b"[1, 2]",  # 10
        b"",  # 11
        dumps(review(user="u4", item="i9", vote="many")),  # 12 item without metadata; bad vote
        dumps({k: v for k, v in review(user="u5").items() if k != "asin"}),  # 13
        dumps(review(user="u6", item="i2", vote="3", verified=False, summary=None)),  # 14
        dumps(review(user="u7"))[:40],  # 15 truncated last line, no newline
    ]
    (src / "Toys_5.json").write_bytes(b"\n".join(reviews))
    meta_a = {"asin": "i1", "title": "Good &amp; Bad <b>Title</b>", "brand": "Acme",
              "category": ["Books", "Arts &amp; Crafts", ""], "description": ["<p>First one. Second.</p>", ""],
              "price": "$25.00", "imageURL": ["u"], "imageURLHighRes": ["h"]}  # fmt: skip
    meta = [
        meta_a,  # 1
        meta_a,  # 2 duplicate, kept
        {"asin": "i2", "title": HTML_TITLE, "brand": "Pub", "category": ["Magazines", "Music"], "price": "$1,299.99",
         "description": ["Written by musicians. For all."], "image": ["x"]},  # 3
        {"asin": "i3", "title": "", "description": ["Only a description here. More."], "price": "$10.00 - $20.00"},  # 4
        {"asin": "i4", "title": "   ", "price": ".a-box-inner{background-color:#fff}", "image": []},  # 5
        {"asin": "i5", "title": "T5", "price": ""},  # 6
        {"asin": "i6", "title": "T6", "price": "None", "description": "<br />"},  # 7
        {"asin": 42, "title": "int id"},  # 8
        {"asin": "i8", "title": ["list"]},  # 9
    ]  # fmt: skip
    lines = [dumps(m) for m in meta] + [b'{"asin": "i9", "title": "cut']  # 10
    with gzip.open(src / "meta_Toys.json.gz", "wb") as f:
        f.write(b"\n".join(lines) + b"\n")
    return src


def test_amazon2018_dirty_reviews(amazon2018_dir, tmp_path):
    report, tables = run(tmp_path, amazon2018_dir)
    assert report.format == "amazon2018"
    bad_byte = (amazon2018_dir / "Toys_5.json").read_bytes().split(b"\n")[8].index(b"\xe9")
    # Lines 1, 2 (duplicate), 8, 12, 14 are interactions; 1, 2, 14 also reviews.
    assert sorted(r["source_line"] for r in tables["interactions"]) == [1, 2, 8, 12, 14]
    assert sorted(r["source_line"] for r in tables["reviews"]) == [1, 2, 14]
    by_line = {r["source_line"]: r for r in tables["reviews"]}
    assert by_line[1]["helpful_votes"] == 1234 and by_line[1]["verified"] is True
    assert by_line[14]["helpful_votes"] == 3 and by_line[14]["verified"] is False and by_line[14]["summary"] is None
    assert [q for q in quarantined(tables) if q[0] != "items"] == [
        ("interactions", 3, "wrong type"),
        ("interactions", 4, "wrong type"),
        ("interactions", 5, "wrong type"),
        ("interactions", 6, "invalid timestamp"),
        ("interactions", 7, "rating out of range"),
        ("interactions", 9, f"invalid utf-8 at byte {bad_byte} (0xe9)"),
        ("interactions", 10, "wrong type"),
        ("interactions", 11, "empty line"),
        ("interactions", 13, "missing field 'asin'"),
        ("interactions", 15, "invalid json"),
        ("reviews", 8, "empty review text"),
        ("reviews", 12, "wrong type"),
    ]
    reasons = {q["source_line"]: q["reason"] for q in tables["quarantine"] if q["source_file"] == "Toys_5.json"}
    assert reasons[3] == "wrong type: field 'overall': expected a number, got str 'five'"
    assert reasons[4] == "wrong type: field 'reviewerID': expected a string id, got int 123"
    assert reasons[7] == "rating out of range: field 'overall': 7 is outside 1-5 for amazon2018"
    raw9 = next(q["raw"] for q in tables["quarantine"] if q["source_line"] == 9 and q["table"] == "interactions")
    assert "caf\ufffd" in raw9


def test_amazon2018_dirty_meta(amazon2018_dir, tmp_path):
    report, tables = run(tmp_path, amazon2018_dir)
    items = tables["items"]
    assert [r["source_line"] for r in items] == [1, 2, 3, 4, 5, 6, 7]
    assert "i9" not in {r["item_id"] for r in items}  # reviewed, but no metadata: absent
    i1, i1_again, i2, i3, i4, i5, i6 = items
    assert i1 == {**i1_again, "source_line": 1}
    assert i1["title"] == "Good & Bad Title" and not i1["title_is_fallback"]
    assert i1["categories"] == ["Books", "Arts & Crafts"] and i1["category"] == "Arts & Crafts"
    assert i1["description"] == "First one. Second."
    assert (i1["price"], i1["price_raw"]) == (25.0, "$25.00")
    assert (i2["title"], i2["title_is_fallback"]) == ("Pub - Music: Written by musicians.", True)
    assert (i2["price"], i2["price_raw"]) == (1299.99, "$1,299.99")
    assert (i3["title"], i3["title_is_fallback"]) == ("Only a description here.", True)
    assert (i3["price"], i3["price_raw"]) == (10.0, "$10.00 - $20.00")
    assert (i4["title"], i4["title_is_fallback"], i4["categories"], i4["category"]) == ("i4", True, [], None)
    assert (i4["price"], i4["price_raw"]) == (None, ".a-box-inner{background-color:#fff}")
    assert (i5["price"], i5["price_raw"]) == (None, None)
    assert (i6["price"], i6["price_raw"], i6["description"]) == (None, "None", None)
    assert [q for q in quarantined(tables) if q[0] == "items"] == [
        ("items", 8, "wrong type"),
        ("items", 9, "wrong type"),
        ("items", 10, "invalid json"),
    ]
    assert report.quarantine_by_reason == {
        "wrong type": 7, "invalid timestamp": 1, "rating out of range": 1, "invalid utf-8": 1, "empty line": 1,
        "missing field": 1, "invalid json": 2, "empty review text": 1,
    }  # fmt: skip
    assert report.records_by_file == {"Toys_5.json": 15, "meta_Toys.json.gz": 10}


def test_every_dirty_line_is_kept_or_quarantined(amazon2018_dir, tmp_path):
    report, tables = run(tmp_path, amazon2018_dir)
    for name, table, total in (("Toys_5.json", "interactions", 15), ("meta_Toys.json.gz", "items", 10)):
        kept = {r["source_line"] for r in tables[table] if r["source_file"] == name}
        rejected = {q["source_line"] for q in tables["quarantine"] if q["source_file"] == name} - kept
        assert len(kept) + len(rejected) == total == report.records_by_file[name]
        assert kept | rejected == set(range(1, total + 1))


@pytest.fixture
def cut_gzip(tmp_path):
    """A reviews .gz cut at 2/3 of its bytes, with what a reader can get out of it computed
    independently: (source dir, complete lines, decompressed bytes, fragment of the cut line)."""
    rng = random.Random(7)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(500)]
    lines = [dumps(review(user=f"u{i}", reviewText=" ".join(rng.choices(words, k=80)))) for i in range(300)]
    whole = gzip.compress(b"\n".join(lines) + b"\n")
    cut = whole[: len(whole) * 2 // 3]
    src = tmp_path / "src"
    src.mkdir()
    (src / "Toys_5.json.gz").write_bytes(cut)
    data = zlib.decompressobj(wbits=31).decompress(cut)
    complete, partial = data.count(b"\n"), data.rsplit(b"\n", 1)[1]
    assert 0 < complete < 300 and partial
    return src, complete, len(data), partial


def test_truncated_gzip_stream_fails_naming_line_and_byte(cut_gzip, tmp_path):
    src, complete, size, _ = cut_gzip
    with pytest.raises(UnreadableInput) as raised:
        run(tmp_path, src)
    message = str(raised.value)
    assert message.startswith(f"{src / 'Toys_5.json.gz'}: truncated gzip stream")
    assert f"at line {complete + 1}, byte {size} of the decompressed data" in message
    assert "allow_partial_input" in message


def test_truncated_gzip_stream_with_allow_partial_input_keeps_complete_lines(cut_gzip, tmp_path):
    src, complete, size, partial = cut_gzip
    report, tables = run(tmp_path, src, allow_partial_input=True)
    assert report.interactions == report.reviews == complete
    [q] = tables["quarantine"]
    assert (q["table"], q["source_line"]) == ("interactions", complete + 1)
    assert q["reason"].startswith("truncated gzip stream") and f"byte {size} " in q["reason"]
    assert q["raw"] == partial.decode()[:10_000]
    assert report.records_by_file == {"Toys_5.json.gz": complete + 1}
    assert report.partial_files == [str(src / "Toys_5.json.gz")]
    assert report.quarantine_by_reason == {"truncated gzip stream": 1}


AMAZON2023_REVIEW = {"rating": 4.0, "title": "Nice", "text": "Works well", "images": [], "asin": "B1",
                     "parent_asin": "P1", "user_id": "U1", "timestamp": 1588615855070, "helpful_vote": 2,
                     "verified_purchase": True}  # fmt: skip


def test_amazon2023(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    reviews = [
        AMAZON2023_REVIEW,
        {**AMAZON2023_REVIEW, "asin": "B2", "user_id": "U2", "text": ""},
        {**AMAZON2023_REVIEW, "timestamp": "soon"},
        {**AMAZON2023_REVIEW, "rating": None},
    ]
    with gzip.open(src / "All_Beauty.jsonl.gz", "wb") as f:
        f.write(b"\n".join(map(dumps, reviews)) + b"\n")
    meta = [
        {"main_category": "All Beauty", "title": "Howard LC0008 Leather Conditioner", "features": ["Feature one"],
         "description": [], "price": None, "store": "Howard Products", "categories": [], "details": {"a": "b"},
         "parent_asin": "P1"},
        {"main_category": "All Beauty", "title": "", "features": [], "description": ["Desc &amp; more."],
         "price": 9.99, "store": None, "categories": ["Beauty", "Skin Care"], "parent_asin": "P2"},
        {"title": "x", "price": "None", "parent_asin": "P3"},
        {"title": "no id"},
    ]  # fmt: skip
    (src / "meta_All_Beauty.jsonl").write_bytes(b"\n".join(map(dumps, meta)) + b"\n")

    report, tables = run(tmp_path, src)
    assert report.format == "amazon2023"
    [a, b] = tables["interactions"]
    assert (a["user_id"], a["item_id"], a["rating"], int(a["ts"].timestamp())) == ("U1", "P1", 4.0, 1588615855)
    assert b["item_id"] == "P1"  # parent_asin, not asin
    [r] = tables["reviews"]
    assert (r["summary"], r["review_text"], r["helpful_votes"], r["verified"]) == ("Nice", "Works well", 2, True)
    assert quarantined(tables) == [
        ("interactions", 3, "invalid timestamp"),
        ("interactions", 4, "missing field 'rating'"),
        ("items", 4, "missing field 'parent_asin'"),
        ("reviews", 2, "empty review text"),
    ]
    p1, p2, p3 = tables["items"]
    assert (p1["title"], p1["brand"], p1["categories"], p1["description"]) == (
        "Howard LC0008 Leather Conditioner", "Howard Products", ["All Beauty"], "Feature one")
    assert (p1["price"], p1["price_raw"]) == (None, None)
    assert (p2["title"], p2["title_is_fallback"], p2["category"]) == ("Skin Care: Desc & more.", True, "Skin Care")
    assert (p2["price"], p2["price_raw"]) == (9.99, "9.99")
    assert (p3["price"], p3["price_raw"]) == (None, "None")


@pytest.mark.parametrize(
    ("raw", "price"),
    [
        ("$25.00", 25.0),
        ("$1,299.99", 1299.99),
        ("$10.00 - $20.00", 10.0),
        ("12", 12.0),
        (" $ 7.5 ", 7.5),
        (".a-box-inner{background-color:#fff}", None),
        ("\n\n\n<script", None),
        ("None", None),
        ("$1,29", None),
        ("free", None),
    ],
)
def test_parse_price_strings(raw, price):
    assert parse_price(raw) == (price, raw)


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_parse_price_absent(raw):
    assert parse_price(raw) == (None, None)


def test_parse_price_numbers():
    assert parse_price(9.99) == (9.99, "9.99")
    assert parse_price(float("nan"))[0] is None
    assert parse_price(-1) == (None, "-1")


def test_clean_text_and_titles():
    assert clean_text(HTML_TITLE) == ""
    assert clean_text("A &amp; B <i>c</i>\n d") == "A & B c d"
    assert clean_text("<script>var x = 1;</script>Kept") == "Kept"
    assert clean_text("Kids < 5") == "Kids < 5"
    assert item_title("Real", "id", "Brand", "Cat", "Desc.") == ("Real", False)
    assert item_title(HTML_TITLE, "id", "Brand", None, None) == ("Brand", True)
    assert item_title(None, "id", None, None, None) == ("id", True)
    long, fallback = item_title("", "id", None, None, "word " * 100)
    assert fallback and len(long) <= 120 and long.endswith("…")
