"""The evaluation report: one row per augmentation x model x segment x metric as a published
table, a markdown summary for the Dagster UI, and one self-contained HTML page with SVG plots
(inline CSS and SVG only: no scripts, fonts or other resources, so it renders offline)."""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from numbers import Integral, Real

import numpy as np
import pyarrow as pa

from evaluation.intervals import Comparison, Estimates
from schemas.tables import EVALUATION_REPORT

SEGMENTS = ("overall", "long_tail", "cold_users")
SUMMARY_METRICS = ("recall@10", "ndcg@10")
"""The metrics of the markdown summary and the bar plot; the table and the HTML rows hold all."""


@dataclass(frozen=True)
class _RowLabels:
    augmentation: str
    model: str
    segment: str
    metric: str
    users: int
    seeds: int


@dataclass(frozen=True)
class ReportRow(Estimates, _RowLabels):
    """One metric of one consumer model trained without (baseline) and with (augmented) one
    augmentation, on one segment of test users: means over `users` users of per-user values
    averaged over `seeds` training seeds, with 95% paired bootstrap intervals; lift is
    augmented / baseline - 1 and delta augmented - baseline. NaN marks an undefined value (a lift
    over a zero baseline)."""

    def __post_init__(self) -> None:
        if self.segment not in SEGMENTS:
            raise ValueError(f"segment must be one of {SEGMENTS}, got {self.segment!r}")


_STRING_COLUMNS = ("augmentation", "model", "segment", "metric")
_COUNT_COLUMNS = ("users", "seeds")
_FLOAT_COLUMNS = tuple(f.name for f in fields(Estimates))
"""baseline ... delta_hi."""


def rows_from(
    augmentation: str, model: str, segment: str, metric: str, comparison: Comparison, seeds: int
) -> ReportRow:
    """The report row of one comparison."""
    estimates = {name: getattr(comparison, name) for name in _FLOAT_COLUMNS}
    return ReportRow(augmentation, model, segment, metric, comparison.users, seeds, **estimates)


REPORT_SCHEMA = EVALUATION_REPORT
"""The published report: ReportRow's columns, in order; undefined (NaN) values are written as null."""


def report_table(rows: Iterable[ReportRow]) -> pa.Table:
    """The rows as a REPORT_SCHEMA table."""
    rows = list(rows)
    arrays = [
        pa.array([getattr(row, f.name) for row in rows], type=f.type, from_pandas=True)  # NaN -> null
        for f in REPORT_SCHEMA
    ]
    return pa.Table.from_arrays(arrays, schema=REPORT_SCHEMA)


@dataclass(frozen=True)
class ReportPlots:
    """What the HTML page plots besides the rows: per-item interaction counts per curve (e.g.
    "train", "train + llm_i2i"), judge P(yes) values per pair kind (e.g. "real positives"), and
    a reliability curve as returned by judges.reliability_curve."""

    popularity_curves: dict[str, np.ndarray] = field(default_factory=dict)
    p_yes: dict[str, np.ndarray] = field(default_factory=dict)
    reliability: list[dict[str, float]] = field(default_factory=list)


# Formatting shared by the markdown and the HTML.


def _finite(value: object) -> bool:
    return isinstance(value, Real) and math.isfinite(float(value))


def _number(value: float) -> str:
    """Four significant digits, or "n/a" for NaN."""
    return f"{float(value):.4g}" if _finite(value) else "n/a"


def _percent(value: float) -> str:
    return f"{100.0 * float(value):+.4g}%" if _finite(value) else "n/a"


def _interval_text(lo: float, hi: float, format_value: Callable[[float], str] = _number) -> str:
    return f"[{format_value(lo)}, {format_value(hi)}]"


def _lift_text(row: ReportRow) -> str:
    return f"{_percent(row.lift)} {_interval_text(row.lift_lo, row.lift_hi, _percent)}"


def _judge_value(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, Integral):  # counts and flags, as they are
        return str(value)
    if isinstance(value, Real):
        return _number(value)  # type: ignore[arg-type]
    return str(value)


# Markdown.


def markdown_summary(rows: Sequence[ReportRow], judges: Mapping[str, object]) -> str:
    """A GitHub-markdown summary: per augmentation x model x segment, recall@10 and ndcg@10 of
    baseline and augmented and the lift with its interval, then the judges' measures."""
    lines = [
        "**Evaluation on test**: 95% paired bootstrap intervals over users; "
        "lift = augmented / baseline - 1.",
        "",
        *_markdown_metrics(rows),
        "",
        "**Judges**",
        "",
        *_markdown_judges(judges),
    ]
    return "\n".join(lines) + "\n"


def _md(text: object) -> str:
    """A markdown table cell: no HTML, no column breaks, one line."""
    escaped = html.escape(str(text), quote=False).replace("|", "\\|")
    return " ".join(escaped.splitlines())


def _md_row(cells: Iterable[object]) -> str:
    return "| " + " | ".join(_md(cell) for cell in cells) + " |"


def _markdown_metrics(rows: Sequence[ReportRow]) -> list[str]:
    groups: dict[tuple[str, str, str], dict[str, ReportRow]] = {}
    for row in rows:
        if row.metric in SUMMARY_METRICS:
            groups.setdefault((row.augmentation, row.model, row.segment), {})[row.metric] = row
    if not groups:
        return [f"No {' / '.join(SUMMARY_METRICS)} rows."]
    header = ["augmentation", "model", "segment", "users"]
    for metric in SUMMARY_METRICS:
        header += [f"{metric} baseline", f"{metric} augmented", f"{metric} lift [95% CI]"]
    lines = [_md_row(header), "|" + "---|" * len(header)]
    for key, by_metric in groups.items():
        cells = [*key, next(iter(by_metric.values())).users]
        for metric in SUMMARY_METRICS:
            row = by_metric.get(metric)
            cells += [_number(row.baseline), _number(row.augmented), _lift_text(row)] if row else ["n/a"] * 3
        lines.append(_md_row(cells))
    return lines


def _markdown_judges(judges: Mapping[str, object]) -> list[str]:
    if not judges:
        return ["No judge measures."]
    return [_md_row(["measure", "value"]), "|---|---|"] + [
        _md_row([name, _judge_value(value)]) for name, value in judges.items()
    ]


# HTML.

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 80rem; }
table { border-collapse: collapse; font-size: 0.85rem; margin-bottom: 1.5rem; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: right; }
th { background: #f3f3f3; }
td.text { text-align: left; }
svg.plot { display: block; margin: 1rem 0 2rem; max-width: 100%; height: auto; }
"""


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def html_report(rows: Sequence[ReportRow], judges: Mapping[str, object], plots: ReportPlots, title: str) -> str:
    """One self-contained HTML page: the title, how to read the intervals, every row, the judges'
    measures and four SVG plots (metrics, long_tail, p_yes, reliability)."""
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            '<head><meta charset="utf-8"/>',
            f"<title>{_esc(title)}</title>",
            f"<style>{_CSS}</style></head>",
            "<body>",
            f"<h1>{_esc(title)}</h1>",
            "<p>Intervals are 95% paired bootstrap percentile intervals over users: each resample draws "
            "the same users for the baseline and the augmented model, whose per-user values are first "
            "averaged over training seeds. Lift is augmented / baseline - 1. The valid split was used only "
            "for model selection and the test split only for this report.</p>",
            "<h2>Results</h2>",
            _rows_table(rows),
            "<h2>Judges</h2>",
            _judges_table(judges),
            "<h2>Plots</h2>",
            _metrics_plot(rows),
            _long_tail_plot(plots.popularity_curves),
            _p_yes_plot(plots.p_yes),
            _reliability_plot(plots.reliability),
            "</body>",
            "</html>",
        ]
    )


def _html_table(header: Sequence[str], body: Iterable[Sequence[str]], text_columns: int) -> str:
    """A table whose first `text_columns` columns are left-aligned text."""
    head = "".join(f"<th>{_esc(name)}</th>" for name in header)
    lines = [f"<table><thead><tr>{head}</tr></thead><tbody>"]
    for cells in body:
        tds = "".join(
            f'<td class="text">{_esc(cell)}</td>' if i < text_columns else f"<td>{_esc(cell)}</td>"
            for i, cell in enumerate(cells)
        )
        lines.append(f"<tr>{tds}</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


def _rows_table(rows: Sequence[ReportRow]) -> str:
    if not rows:
        return "<p>No result rows.</p>"
    header = [*_STRING_COLUMNS, *_COUNT_COLUMNS]
    header += ["baseline", "baseline 95% CI", "augmented", "augmented 95% CI", "lift", "lift 95% CI"]
    return _html_table(header, [_row_cells(row) for row in rows], text_columns=len(_STRING_COLUMNS))


def _row_cells(row: ReportRow) -> list[str]:
    return [
        *(getattr(row, name) for name in _STRING_COLUMNS),
        *(str(getattr(row, name)) for name in _COUNT_COLUMNS),
        _number(row.baseline),
        _interval_text(row.baseline_lo, row.baseline_hi),
        _number(row.augmented),
        _interval_text(row.augmented_lo, row.augmented_hi),
        _percent(row.lift),
        _interval_text(row.lift_lo, row.lift_hi, _percent),
    ]


def _judges_table(judges: Mapping[str, object]) -> str:
    if not judges:
        return "<p>No judge measures.</p>"
    return _html_table(["measure", "value"], [[name, _judge_value(v)] for name, v in judges.items()], 1)


# SVG plots.

_SVG_NS = "http://www.w3.org/2000/svg"
_PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1", "#9c755f", "#edc948")
_MUTED = "#777"


@dataclass(frozen=True)
class _Frame:
    """A plot area: its pixel box inside the SVG and the data ranges it shows."""

    left: float
    top: float
    width: float
    height: float
    x_range: tuple[float, float]
    y_range: tuple[float, float]

    @property
    def bottom(self) -> float:
        return self.top + self.height

    def x(self, value: float) -> float:
        lo, hi = self.x_range
        return self.left + (value - lo) / (hi - lo) * self.width

    def y(self, value: float) -> float:
        lo, hi = self.y_range
        return self.bottom - (value - lo) / (hi - lo) * self.height


def _f(value: float) -> str:
    return f"{value:.1f}"


def _text(x: float, y: float, content: object, size: int = 11, anchor: str = "middle", attrs: str = "") -> str:
    return (
        f'<text x="{_f(x)}" y="{_f(y)}" font-size="{size}" text-anchor="{anchor}"{attrs}>{_esc(content)}</text>'
    )


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str = "#333", attrs: str = "") -> str:
    return f'<line x1="{_f(x1)}" y1="{_f(y1)}" x2="{_f(x2)}" y2="{_f(y2)}" stroke="{stroke}"{attrs}/>'


def _points(xs: Iterable[float], ys: Iterable[float]) -> str:
    return " ".join(f"{_f(x)},{_f(y)}" for x, y in zip(xs, ys))


def _svg(name: str, title: str, width: float, height: float, body: Iterable[str]) -> str:
    """An SVG plot named `name` for the page (class "plot", data-plot=name) with a visible heading."""
    return (
        f'<svg class="plot" data-plot="{_esc(name)}" xmlns="{_SVG_NS}" width="{_f(width)}" height="{_f(height)}" '
        f'viewBox="0 0 {_f(width)} {_f(height)}" font-family="system-ui, sans-serif" role="img" '
        f'aria-label="{_esc(title)}">'
        f"<title>{_esc(title)}</title>"
        + _text(12, 20, title, size=13, anchor="start", attrs=' font-weight="bold"')
        + "".join(body)
        + "</svg>"
    )


def _no_data(name: str, title: str) -> str:
    return _svg(name, title, 520, 120, [_text(260, 70, "no data", size=14, attrs=f' fill="{_MUTED}"')])


def _axes(
    frame: _Frame,
    x_ticks: Iterable[tuple[float, str]],
    y_ticks: Iterable[tuple[float, str]],
    x_label: str,
    y_label: str,
) -> list[str]:
    """Axis lines, ticks with labels and light horizontal grid lines, and the two axis labels."""
    right = frame.left + frame.width
    parts = [
        _line(frame.left, frame.bottom, right, frame.bottom),
        _line(frame.left, frame.top, frame.left, frame.bottom),
    ]
    for value, label in x_ticks:
        x = frame.x(value)
        parts += [_line(x, frame.bottom, x, frame.bottom + 4), _text(x, frame.bottom + 16, label, size=10)]
    for value, label in y_ticks:
        y = frame.y(value)
        parts += [
            _line(frame.left, y, right, y, stroke="#e4e4e4"),
            _line(frame.left - 4, y, frame.left, y),
            _text(frame.left - 6, y + 3.5, label, size=10, anchor="end"),
        ]
    mid_y = frame.top + frame.height / 2
    parts.append(_text(frame.left + frame.width / 2, frame.bottom + 34, x_label))
    parts.append(_text(16, mid_y, y_label, attrs=f' transform="rotate(-90 16 {_f(mid_y)})"'))
    return parts


def _legend(x: float, y: float, entries: Sequence[tuple[str, str]], step: tuple[float, float]) -> list[str]:
    """Colour swatches with labels, the i-th at (x, y) + i * step."""
    parts = []
    for i, (label, colour) in enumerate(entries):
        left, baseline = x + i * step[0], y + i * step[1]
        parts.append(f'<rect x="{_f(left)}" y="{_f(baseline - 9)}" width="10" height="10" fill="{colour}"/>')
        parts.append(_text(left + 14, baseline, label, size=10, anchor="start"))
    return parts


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5 or 5 times a power of ten that is >= value (1 for value <= 0)."""
    if not value > 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    return next(step * magnitude for step in (1.0, 2.0, 2.5, 5.0, 10.0) if step * magnitude >= value)


def _linear_ticks(top: float, percent: bool = False) -> list[tuple[float, str]]:
    """Six evenly spaced ticks from 0 to `top`, labelled as numbers or percentages."""
    values = np.linspace(0.0, top, 6)
    return [(float(v), f"{100 * v:.3g}%" if percent else f"{v:.3g}") for v in values]


def _unit_ticks() -> list[tuple[float, str]]:
    return [(v, f"{v:g}") for v in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)]


_GROUP_WIDTH = 112
_BAR_WIDTH = 20
_PANEL_HEIGHT = 215
_BAR_SERIES = tuple(
    (metric, arm, colour)
    for metric, colours in zip(SUMMARY_METRICS, (("#a0cbe8", "#4e79a7"), ("#ffbe7d", "#f28e2b")))
    for arm, colour in zip(("baseline", "augmented"), colours)
)


def _metrics_plot(rows: Sequence[ReportRow]) -> str:
    """Per segment, bars of baseline and augmented recall@10 and ndcg@10 for each augmentation x
    model, with their intervals as error bars."""
    title = "Baseline vs augmented on test, with 95% paired bootstrap intervals"
    shown = [row for row in rows if row.metric in SUMMARY_METRICS]
    if not shown:
        return _no_data("metrics", title)
    groups = list(dict.fromkeys((row.augmentation, row.model) for row in shown))
    segments = [segment for segment in SEGMENTS if any(row.segment == segment for row in shown)]
    width = max(660, 70 + len(groups) * _GROUP_WIDTH + 20)
    body = _legend(70, 42, [(f"{metric} {arm}", colour) for metric, arm, colour in _BAR_SERIES], (145, 0))
    for i, segment in enumerate(segments):
        panel_rows = [row for row in shown if row.segment == segment]
        body += _metrics_panel(segment, groups, panel_rows, 56 + i * _PANEL_HEIGHT)
    return _svg("metrics", title, width, 56 + len(segments) * _PANEL_HEIGHT, body)


def _metrics_panel(
    segment: str, groups: Sequence[tuple[str, str]], panel_rows: Sequence[ReportRow], top: float
) -> list[str]:
    """One segment's bars, `top` pixels down the SVG; every panel has the same groups in order."""
    by_key = {(row.augmentation, row.model, row.metric): row for row in panel_rows}
    values = [v for row in panel_rows for v in (row.baseline, row.baseline_hi, row.augmented, row.augmented_hi)]
    y_top = _nice_ceiling(max((v for v in values if _finite(v)), default=0.0))
    frame = _Frame(70, top + 30, len(groups) * _GROUP_WIDTH, 140, (0.0, float(len(groups))), (0.0, y_top))
    parts = [_text(frame.left, top + 16, f"segment: {segment}", size=12, anchor="start", attrs=' font-weight="bold"')]
    parts += _axes(frame, [], _linear_ticks(y_top), "", "metric value")
    for g, (augmentation, model) in enumerate(groups):
        first_bar = frame.x(g) + (_GROUP_WIDTH - len(_BAR_SERIES) * _BAR_WIDTH) / 2
        for s, (metric, arm, colour) in enumerate(_BAR_SERIES):
            row = by_key.get((augmentation, model, metric))
            if row is not None:
                parts += _bar(frame, first_bar + s * _BAR_WIDTH, row, arm, colour)
        centre = frame.x(g + 0.5)
        parts.append(_text(centre, frame.bottom + 14, augmentation, size=10))
        parts.append(_text(centre, frame.bottom + 26, model, size=10))
    return parts


def _bar(frame: _Frame, left: float, row: ReportRow, arm: str, colour: str) -> list[str]:
    """One arm's bar (absent for NaN) and error bar (absent for a NaN bound)."""
    value, lo, hi = getattr(row, arm), getattr(row, f"{arm}_lo"), getattr(row, f"{arm}_hi")
    parts = []
    if _finite(value):
        y = frame.y(max(float(value), 0.0))
        tooltip = f"{row.augmentation} / {row.model}, {row.metric} {arm}: {_number(value)} {_interval_text(lo, hi)}"
        parts.append(
            f'<rect x="{_f(left + 1)}" y="{_f(y)}" width="{_BAR_WIDTH - 2}" height="{_f(frame.bottom - y)}" '
            f'fill="{colour}"><title>{_esc(tooltip)}</title></rect>'
        )
    if _finite(lo) and _finite(hi):
        x, y_lo, y_hi = left + _BAR_WIDTH / 2, frame.y(max(float(lo), 0.0)), frame.y(max(float(hi), 0.0))
        whisker = _line(x, y_lo, x, y_hi) + _line(x - 4, y_lo, x + 4, y_lo) + _line(x - 4, y_hi, x + 4, y_hi)
        parts.append(f'<g class="interval">{whisker}</g>')
    return parts


def _clean(values: np.ndarray) -> np.ndarray:
    """Finite values as float64 (NaN and inf dropped)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    return values[np.isfinite(values)]


def _long_tail_plot(curves: Mapping[str, np.ndarray]) -> str:
    """Per curve, item interaction counts sorted from most to least popular, on a log y axis."""
    title = "Item popularity long tail before and after augmentation"
    ranked = {name: np.sort(np.maximum(_clean(counts), 0.0))[::-1] for name, counts in curves.items()}
    ranked = {name: counts for name, counts in ranked.items() if len(counts)}
    if not ranked:
        return _no_data("long_tail", title)
    n_max = max(len(counts) for counts in ranked.values())
    top_power = math.ceil(math.log10(max(max(counts[0] for counts in ranked.values()), 1.0)))
    # log10(1 + count) keeps items without interactions on the axis (at 0).
    frame = _Frame(70, 40, 420, 240, (0.0, float(max(n_max - 1, 1))), (0.0, math.log10(1.0 + 10.0**top_power)))
    x_ticks = [(float(r), str(r + 1)) for r in sorted({round(v) for v in np.linspace(0, n_max - 1, 5)})]
    y_ticks = [(0.0, "0")] + [(math.log10(1.0 + 10.0**p), f"{10**p:g}") for p in range(top_power + 1)]
    parts = _axes(frame, x_ticks, y_ticks, "item rank (most to least popular)", "interactions per item (log)")
    entries = []
    for i, (name, counts) in enumerate(ranked.items()):
        colour = _PALETTE[i % len(_PALETTE)]
        # A few hundred points draw the curve; a polyline per item would bloat the page.
        shown = np.unique(np.linspace(0, len(counts) - 1, min(len(counts), 400)).round().astype(np.int64))
        xs = [frame.x(float(x)) for x in shown]
        ys = [frame.y(math.log10(1.0 + counts[x])) for x in shown]
        parts.append(f'<polyline points="{_points(xs, ys)}" fill="none" stroke="{colour}" stroke-width="2"/>')
        entries.append((f"{name} ({counts.sum():.0f} interactions)", colour))
    return _svg("long_tail", title, 760, 330, parts + _legend(510, 50, entries, (0, 18)))


def _p_yes_plot(p_yes: Mapping[str, np.ndarray]) -> str:
    """Per pair kind, the share of its pairs in each of 20 equal P(yes) bins, overlaid."""
    title = "Judge P(yes) by pair kind (share of each kind per bin, 20 bins)"
    series = {name: np.clip(_clean(values), 0.0, 1.0) for name, values in p_yes.items()}
    if not any(len(values) for values in series.values()):
        return _no_data("p_yes", title)
    edges = np.linspace(0.0, 1.0, 21)
    shares = {name: np.histogram(v, bins=edges)[0] / len(v) for name, v in series.items() if len(v)}
    y_top = _nice_ceiling(max(float(share.max()) for share in shares.values()))
    frame = _Frame(70, 40, 420, 220, (0.0, 1.0), (0.0, y_top))
    x_ticks = [(v, f"{v:g}") for v in (0.0, 0.25, 0.5, 0.75, 1.0)]
    parts = _axes(frame, x_ticks, _linear_ticks(y_top, percent=True), "P(yes)", "share of pairs")
    entries = []
    for i, (name, values) in enumerate(series.items()):
        colour = _PALETTE[i % len(_PALETTE)]
        entries.append((f"{name} (n={len(values)})", colour))
        if name in shares:
            # A step outline: each bin's share held across the bin, closed down to 0 at both ends.
            xs = np.concatenate([[0.0], np.repeat(edges, 2)[1:-1], [1.0]])
            ys = np.concatenate([[0.0], np.repeat(shares[name], 2), [0.0]])
            points = _points(map(frame.x, xs), map(frame.y, ys))
            parts.append(f'<polygon points="{points}" fill="{colour}" fill-opacity="0.15" stroke="none"/>')
            parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
    return _svg("p_yes", title, 760, 310, parts + _legend(510, 50, entries, (0, 18)))


def _reliability_plot(curve: Sequence[Mapping[str, float]]) -> str:
    """Share of positives against mean P(yes) per bin, marker area by pairs in the bin, against
    the diagonal of perfect calibration."""
    title = "Reliability of the judge's P(yes) on the judged sample"
    points = sorted(
        (float(entry["mean_p"]), float(entry["positive_rate"]), float(entry["count"]))
        for entry in curve
        if all(_finite(entry.get(key)) for key in ("mean_p", "positive_rate", "count")) and entry["count"] > 0
    )
    if not points:
        return _no_data("reliability", title)
    frame = _Frame(70, 60, 300, 300, (0.0, 1.0), (0.0, 1.0))
    parts = _axes(frame, _unit_ticks(), _unit_ticks(), "mean P(yes) in bin", "share of positives in bin")
    dashed = ' stroke-dasharray="4 4"'
    parts.append(_line(frame.x(0.0), frame.y(0.0), frame.x(1.0), frame.y(1.0), stroke=_MUTED, attrs=dashed))
    xs = [frame.x(min(max(p, 0.0), 1.0)) for p, _, _ in points]
    ys = [frame.y(min(max(rate, 0.0), 1.0)) for _, rate, _ in points]
    parts.append(f'<polyline points="{_points(xs, ys)}" fill="none" stroke="{_PALETTE[0]}" stroke-width="1.5"/>')
    most = max(count for _, _, count in points)
    for x, y, (_, _, count) in zip(xs, ys, points):
        radius = 2.5 + 5.0 * math.sqrt(count / most)
        parts.append(f'<circle cx="{_f(x)}" cy="{_f(y)}" r="{_f(radius)}" fill="{_PALETTE[0]}"/>')
    entries = [("observed (area ~ pairs in bin)", _PALETTE[0]), ("perfect calibration", _MUTED)]
    legend = _legend(70, 42, entries, (200, 0))
    return _svg("reliability", title, 460, 420, parts + legend)
