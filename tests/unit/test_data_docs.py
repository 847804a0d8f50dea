"""Great Expectations Data Docs written for published and blocked versions (real GX rendering)."""

import uuid
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from schemas.registry import PUBLISHED_SETS
from storage.publishing import PublicationBlocked, publish
from storage.warehouse import Warehouse
from validation import validate_table
from validation.data_docs import data_docs_root, write_validation_docs


class _ExpectationRows(HTMLParser):
    """The rows of a GX validation page as (text, passed), passed read from the row's status icon."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, bool]] = []
        self._open: list[dict] = []  # rows nest: sampled values are a table inside a row

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self._open.append({"text": [], "icons": []})
        elif tag == "i" and self._open:
            self._open[-1]["icons"].append(dict(attrs).get("class") or "")

    def handle_endtag(self, tag):
        if tag != "tr" or not self._open:
            return
        row = self._open.pop()
        if self._open:
            self._open[-1]["text"] += row["text"]
            self._open[-1]["icons"] += row["icons"]
        elif row["icons"]:
            self.rows.append((" ".join(" ".join(row["text"]).split()), "text-success" in row["icons"][0]))

    def handle_data(self, data):
        if self._open:
            self._open[-1]["text"].append(data)


def _page(url: str) -> str:
    assert url.startswith("file://")
    path = Path(unquote(urlparse(url).path))
    assert path.is_file()
    return path.read_text()


def _rows(html: str) -> list[tuple[str, bool]]:
    parser = _ExpectationRows()
    parser.feed(html)
    return parser.rows


def _failed(html: str) -> list[str]:
    return [text for text, passed in _rows(html) if not passed]


def _publish(tmp_path: Path, wh: Warehouse, set_name: str, table: pa.Table, gate=None) -> dict:
    """Publish `table` as a new version of `set_name`; returns its manifest, published or blocked."""
    source = tmp_path / "src" / uuid.uuid4().hex
    source.mkdir(parents=True)
    pq.write_table(table, source / "p.parquet")
    schema = PUBLISHED_SETS[set_name]
    try:
        return publish(wh, set_name, schema, pads.dataset(str(source)), "2024-01-01", {}, gate=gate).manifest
    except PublicationBlocked as blocked:
        return blocked.manifest


def _id_maps(n: int, first_idx: int = 0) -> pa.Table:
    indices = list(range(first_idx, first_idx + n))
    return pa.table({"kind": ["user"] * n, "raw_id": [f"u{i}" for i in indices], "idx": indices})


def _id_maps_gate(path, previous_rows):
    return validate_table("id_maps", pq.read_table(path), None, previous_rows)


def test_pages_name_the_suite_and_show_which_expectations_failed(tmp_path):
    wh = Warehouse(str(tmp_path / "wh"))
    good = _publish(tmp_path, wh, "id_maps", _id_maps(40), _id_maps_gate)
    # Four rows after forty (a 90% drop), one of them with a negative index.
    bad = _publish(tmp_path, wh, "id_maps", _id_maps(4, first_idx=-1), _id_maps_gate)
    assert (good["status"], bad["status"]) == ("published", "blocked")

    good_url, bad_url = write_validation_docs(wh, good), write_validation_docs(wh, bad)

    good_page, bad_page = _page(good_url), _page(bad_url)
    assert good_url.startswith(f"file://{data_docs_root(wh)}/validations/recaug/id_maps/{good['version']}/")
    for page in (good_page, bad_page):
        assert "recaug.id_maps" in page
    assert "Succeeded" in good_page and _failed(good_page) == []
    assert "Failed" in bad_page
    failed = _failed(bad_page)
    assert len(failed) == 2
    assert any("values must be greater than or equal to 0" in text and "-1" in text for text in failed)
    assert any("Row count between 0.5 and 2.0 times the previous version's 40 rows 4" in text for text in failed)
    assert any("values must never be null" in text for text, passed in _rows(bad_page) if passed)

    # The index lists both validations and the suite's own page.
    index = (Path(data_docs_root(wh)) / "index.html").read_text()
    assert good["version"] in index and bad["version"] in index
    assert (Path(data_docs_root(wh)) / "expectations" / "recaug" / "id_maps.html").is_file()


def test_recaug_checks_render_with_their_offending_count(tmp_path):
    wh = Warehouse(str(tmp_path / "wh"))
    id_maps = pa.table({"kind": ["user", "item"], "raw_id": ["u0", "i0"], "idx": pa.array([0, 0], pa.int32())})
    interactions = pa.table(
        {
            "user_idx": [0, 0, 0],
            "item_idx": [0, 7, 9],  # 7 and 9 are not in id_maps
            "ts": pa.array([1, 2, 3], pa.timestamp("us", "UTC")),
            "rating": [5.0, 4.0, 3.0],
        }
    )
    manifest = _publish(
        tmp_path, wh, "interactions_train", interactions,
        lambda path, previous_rows: validate_table("interactions_train", pq.read_table(path), id_maps, previous_rows),
    )

    page = _page(write_validation_docs(wh, manifest))

    assert "recaug.interactions_train" in page
    assert _failed(page) == ["recaug check ids_present_in_id_maps on item_idx 2"]


def test_a_version_published_without_validation_has_no_page(tmp_path):
    wh = Warehouse(str(tmp_path / "wh"))
    manifest = _publish(tmp_path, wh, "id_maps", _id_maps(3))
    with pytest.raises(ValueError, match="without validation"):
        write_validation_docs(wh, manifest)


def test_a_failed_check_with_a_message_renders(tmp_path):
    """A recaug check that explains itself with a message (and no traceback) still gets its page."""
    wh = Warehouse(str(tmp_path / "wh"))
    manifest = _publish(tmp_path, wh, "id_maps", _id_maps(4), _id_maps_gate)
    explained = {**manifest["validation"]["results"][-1], "success": False, "message": "phrases longer than 32 characters"}
    manifest["validation"]["results"].append(explained)
    page = _page(write_validation_docs(wh, manifest))
    assert "phrases longer than 32 characters" in page
