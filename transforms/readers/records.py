"""What one source record turns into: rows for the raw tables, quarantine rows, and its time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from transforms.readers import fields
from transforms.readers.errors import RecordError
from transforms.readers.fields import ANY_FORMAT, RatingScale, TsUnit

Row = tuple[str, dict]  # (raw table name, row)


@dataclass(slots=True)
class Record:
    line: int
    rows: list[Row] = field(default_factory=list)
    # Event time in epoch seconds; None for catalog rows, which no as-of cut excludes.
    ts: int | None = None


def quarantine_row(table: str, source_file: str, line: int, reason: str, raw: str | None) -> Row:
    return "quarantine", {"table": table, "source_file": source_file, "source_line": line, "reason": reason, "raw": raw}


def rejected(table: str, source_file: str, line: int, error: RecordError, raw: Callable[[], str]) -> Record:
    return Record(line, [quarantine_row(table, source_file, line, error.reason, raw())])


@dataclass(frozen=True)
class EventLayout:
    """Which fields of a parsed record hold an interaction and, optionally, its review."""

    user: str
    item: str
    ts: str
    ts_unit: TsUnit = "s"
    rating: str | None = None
    rating_scale: RatingScale = ANY_FORMAT
    text: str | None = None
    summary: str | None = None
    verified: str | None = None
    votes: str | None = None
    # Review sources (Amazon) quarantine a review with no text; logs with an optional text
    # column simply have no review for those rows.
    text_required: bool = True


def event_record(obj: dict, layout: EventLayout, source_file: str, line: int, raw: Callable[[], str]) -> Record:
    """One interaction row, plus a review row when the layout has a text field.

    A problem in the interaction's fields rejects the whole record (table "interactions"); a
    problem only in the review's fields keeps the interaction and quarantines the review.
    """
    try:
        interaction = {
            "user_id": fields.ident(obj, layout.user),
            "item_id": fields.ident(obj, layout.item),
            "ts": fields.timestamp(obj, layout.ts, layout.ts_unit),
            "rating": fields.rating(obj, layout.rating, layout.rating_scale) if layout.rating else None,
            "source_file": source_file,
            "source_line": line,
        }
    except RecordError as e:
        return rejected("interactions", source_file, line, e, raw)
    record = Record(line, [("interactions", interaction)], ts=interaction["ts"])
    if layout.text is None:
        return record
    try:
        review = _review(obj, layout, interaction)
    except RecordError as e:
        record.rows.append(quarantine_row("reviews", source_file, line, e.reason, raw()))
        return record
    if review is not None:
        record.rows.append(("reviews", review))
    return record


def _review(obj: dict, layout: EventLayout, interaction: dict) -> dict | None:
    text = fields.optional_str(obj, layout.text)
    review = {
        **interaction,
        "summary": fields.optional_str(obj, layout.summary),
        "review_text": text,
        "verified": fields.boolean(obj, layout.verified),
        "helpful_votes": fields.count(obj, layout.votes),
    }
    if text is None or not text.strip():
        if layout.text_required:
            raise RecordError(f"empty review text: field '{layout.text}' is missing or blank")
        return None
    return review
