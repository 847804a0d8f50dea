"""The direct raw-Parquet writer against the JSON files ingested by the readers."""

import pyarrow.parquet as pq
import pytest

from synthetic.marketplace import MarketplaceSpec, write_marketplace
from synthetic.raw import write_raw_marketplace
from transforms.readers.ingest import ingest_to_dir
from transforms.readers.source import SourceSpec

BY_ROW = [("source_file", "ascending"), ("source_line", "ascending")]


def raw_table(base, table):
    return pq.read_table(base / table).sort_by(BY_ROW)


@pytest.mark.parametrize("text_rate", [1.0, 0.7])
def test_direct_rows_equal_json_plus_ingest(tmp_path, text_rate):
    spec = MarketplaceSpec(n_users=300, n_items=120, n_interactions=4000, review_text_rate=text_rate)
    write_marketplace(spec, tmp_path / "source")
    ingest_to_dir(SourceSpec(path=str(tmp_path / "source")), str(tmp_path / "ingested"))
    counts = write_raw_marketplace(spec, tmp_path / "direct")

    assert counts["interactions"] == spec.n_interactions
    for table in ("interactions", "reviews", "items"):
        assert raw_table(tmp_path / "direct", table).equals(raw_table(tmp_path / "ingested", table)), table
    # Ingest quarantines the reviews with empty text; the direct writer only leaves them out.
    quarantined = pq.read_table(tmp_path / "ingested" / "quarantine").num_rows
    assert counts["reviews"] == spec.n_interactions - quarantined
    assert (quarantined == 0) == (text_rate == 1.0)
