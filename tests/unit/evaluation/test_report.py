"""The report's table schema, markdown summary and self-contained HTML page."""

import dataclasses
import math
import re
import xml.etree.ElementTree as ET

import numpy as np
import pyarrow as pa
import pytest

from evaluation.intervals import Comparison
from evaluation.judges import reliability_curve
from evaluation.report import (
    REPORT_SCHEMA,
    ReportPlots,
    ReportRow,
    html_report,
    markdown_summary,
    report_table,
    rows_from,
)

NAN = float("nan")
SVG = "{http://www.w3.org/2000/svg}"
PLOT_NAMES = ["metrics", "long_tail", "p_yes", "reliability"]


def comparison(baseline: float, augmented: float) -> Comparison:
    lift = augmented / baseline - 1 if baseline else NAN
    return Comparison(
        baseline=baseline,
        baseline_lo=baseline * 0.9,
        baseline_hi=baseline * 1.1,
        augmented=augmented,
        augmented_lo=augmented * 0.9,
        augmented_hi=augmented * 1.1,
        lift=lift,
        lift_lo=lift - 0.01,
        lift_hi=lift + 0.01,
        delta=augmented - baseline,
        delta_lo=-0.001,
        delta_hi=0.002,
        users=120,
    )


def rows() -> list[ReportRow]:
    return [
        rows_from(aug, model, segment, metric, comparison(0.123456, 0.13), seeds=3)
        for aug, model in [("planted", "bpr_mf"), ("random", "swing")]
        for segment in ["overall", "long_tail", "cold_users"]
        for metric in ["recall@10", "ndcg@10", "recall@20"]
    ]


def plots() -> ReportPlots:
    rng = np.random.default_rng(0)
    p = rng.random(200)
    return ReportPlots(
        popularity_curves={"train": rng.integers(0, 50, 300), "train + planted": rng.integers(1, 60, 300)},
        p_yes={"real positives": p, "random negatives": rng.random(100) ** 2, "synthetic": np.array([])},
        reliability=reliability_curve(p, rng.random(200) < p),
    )


def svgs(page: str) -> dict[str, ET.Element]:
    found = [ET.fromstring(s) for s in re.findall(r"<svg\b.*?</svg>", page, flags=re.S)]
    return {svg.get("data-plot"): svg for svg in found}


def test_schema_columns_and_types():
    assert REPORT_SCHEMA.names == (
        ["augmentation", "model", "segment", "metric", "users", "seeds"]
        + ["baseline", "baseline_lo", "baseline_hi", "augmented", "augmented_lo", "augmented_hi"]
        + ["lift", "lift_lo", "lift_hi", "delta", "delta_lo", "delta_hi"]
    )
    assert REPORT_SCHEMA.names == [f.name for f in dataclasses.fields(ReportRow)]
    for name in ["augmentation", "model", "segment", "metric"]:
        assert REPORT_SCHEMA.field(name).type == pa.string() and not REPORT_SCHEMA.field(name).nullable
    assert REPORT_SCHEMA.field("users").type == pa.int32() and REPORT_SCHEMA.field("seeds").type == pa.int32()
    assert REPORT_SCHEMA.field("lift_hi").type == pa.float64() and REPORT_SCHEMA.field("lift_hi").nullable


def test_rows_from_copies_the_comparison_and_the_table_writes_nan_as_null():
    row = rows_from("planted", "bpr_mf", "overall", "recall@10", comparison(0.0, 0.1), seeds=2)
    assert (row.users, row.seeds, row.augmented, row.augmented_hi) == (120, 2, 0.1, 0.1 * 1.1)
    table = report_table([row])
    assert table.schema == REPORT_SCHEMA
    assert table.column("lift").to_pylist() == [None]  # lift over a zero baseline is undefined
    assert table.column("baseline").to_pylist() == [0.0]


def test_rows_reject_an_unknown_segment():
    with pytest.raises(ValueError, match="segment"):
        rows_from("planted", "bpr_mf", "tail", "recall@10", comparison(0.1, 0.1), seeds=1)


def test_markdown_rounds_shows_lift_as_percent_and_escapes_cells():
    text = markdown_summary(
        [rows_from("a|b", "<m>", "overall", "ndcg@10", comparison(0.123456, 0.13), seeds=1)],
        {"discriminator_auc": 0.612345, "keep_threshold_calibrated": None, "scorer_auc": NAN, "kept_at_fixed": 0},
    )
    assert "a\\|b" in text and "&lt;m&gt;" in text and "<m>" not in text
    # 0.123456 -> 0.1235; lift 0.13 / 0.123456 - 1 = 5.3007% -> +5.301% with interval +/- 1 point.
    assert "| 0.1235 | 0.13 | +5.301% [+4.301%, +6.301%] |" in text
    assert "| discriminator_auc | 0.6123 |" in text
    assert "| keep_threshold_calibrated | n/a |" in text and "| scorer_auc | n/a |" in text
    assert "| kept_at_fixed | 0 |" in text


def test_markdown_has_one_line_per_augmentation_model_segment():
    table_lines = [line for line in markdown_summary(rows(), {}).splitlines() if line.startswith("| ")]
    assert len(table_lines) == 1 + 2 * 3  # header + 2 augmentation x model pairs x 3 segments
    assert "recall@20" not in "\n".join(table_lines)


def test_html_is_well_formed_with_the_four_named_plots_and_nothing_external():
    page = html_report(rows(), {"discriminator_auc": 0.61}, plots(), "Eval <night> & day")
    ET.fromstring(page.replace("<!DOCTYPE html>", ""))  # the page parses as XML: tags balance
    found = svgs(page)
    assert list(found) == PLOT_NAMES and page.count("<svg") == 4
    for svg in found.values():
        assert svg.get("class") == "plot"
        assert svg[0].tag == f"{SVG}title" and svg[0].text
        assert "no data" not in ET.tostring(svg, encoding="unicode")
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) == {"http://www.w3.org/2000/svg"}
    assert "<script" not in page.lower() and "@import" not in page and "url(" not in page
    assert "<title>Eval &lt;night&gt; &amp; day</title>" in page


def test_html_plots_have_axis_labels_and_error_bars():
    found = svgs(html_report(rows(), {}, plots(), "t"))
    texts = {name: [t.text for t in svg.iter(f"{SVG}text")] for name, svg in found.items()}
    assert "P(yes)" in texts["p_yes"] and "share of pairs" in texts["p_yes"]
    assert "mean P(yes) in bin" in texts["reliability"] and "share of positives in bin" in texts["reliability"]
    assert "item rank (most to least popular)" in texts["long_tail"]
    assert {"segment: overall", "segment: long_tail", "segment: cold_users"} <= set(texts["metrics"])
    # 2 pairs x 3 segments x 2 metrics x 2 arms = 24 bars, each with its interval's error bar.
    assert len(list(found["metrics"].iter(f"{SVG}rect"))) == 4 + 24  # 4 legend swatches
    assert len([g for g in found["metrics"].iter(f"{SVG}g") if g.get("class") == "interval"]) == 24
    assert len(found["p_yes"].findall(f"{SVG}polyline")) == 2  # the empty "synthetic" draws nothing


def test_every_plot_shows_no_data_for_empty_input():
    page = html_report([], {}, ReportPlots(), "empty")
    found = svgs(page)
    assert list(found) == PLOT_NAMES
    for svg in found.values():
        assert "no data" in [t.text for t in svg.iter(f"{SVG}text")]
    empty_arrays = ReportPlots(popularity_curves={"train": np.array([])}, p_yes={"synthetic": np.array([math.nan])})
    found = svgs(html_report(rows(), {}, empty_arrays, "t"))
    assert "no data" in ET.tostring(found["long_tail"], encoding="unicode")
    assert "no data" in ET.tostring(found["p_yes"], encoding="unicode")
    assert "no data" not in ET.tostring(found["metrics"], encoding="unicode")
