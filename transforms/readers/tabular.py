"""Interaction logs and catalogs as CSV (optionally .gz; .tsv is tab-separated) or Parquet.

Columns are chosen by a ColumnMapping, or by their names (`named_mapping`). CSV rows are
numbered by their first line in the file (the header is line 1); Parquet rows by their 0-based
row index. An empty CSV cell is a missing value. Catalog files have fixed column names: item_id,
title, and optionally description, category, brand, price.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from transforms.readers import fields
from transforms.readers.catalog import item_row
from transforms.readers.errors import IngestError, RecordError, UnreadableInput
from transforms.readers.fields import RATING_LIMITS, RatingScale
from transforms.readers.lines import RAW_CAP, Line, read_lines
from transforms.readers.records import EventLayout, Record, event_record, rejected
from transforms.readers.source import ColumnMapping

EVENT_COLUMNS = ("user_id", "item_id", "ts")
EVENT_OPTIONAL_COLUMNS = ("rating", "review_text", "summary")
ITEM_COLUMNS = ("item_id", "title")
ITEM_OPTIONAL_COLUMNS = ("description", "category", "brand", "price")


@dataclass(slots=True)
class TableRow:
    number: int
    values: dict | None  # None when the row could not be split into columns
    error: RecordError | None
    raw: Callable[[], str]


def named_mapping(columns: list[str]) -> ColumnMapping | None:
    """The mapping of a log whose columns already bear the canonical names; None if they do not."""
    if not set(EVENT_COLUMNS) <= set(columns):
        return None
    return ColumnMapping(**{name: name for name in EVENT_COLUMNS + EVENT_OPTIONAL_COLUMNS if name in columns})


def is_catalog(columns: list[str]) -> bool:
    """Whether a table file is a catalog (item_id, title, ...) rather than an interaction log."""
    return set(ITEM_COLUMNS) <= set(columns) and named_mapping(columns) is None


def column_names(path: str) -> list[str]:
    """The column names of a table file: its CSV header row or its Parquet schema."""
    if path.endswith(".parquet"):
        return _open_parquet(path).schema_arrow.names
    lines = read_lines(path)
    try:
        return _csv_header(path, csv.reader(_csv_text(lines, []), delimiter=_delimiter(path), strict=True))
    finally:
        lines.close()


def layout_for(mapping: ColumnMapping) -> EventLayout:
    return EventLayout(
        user=mapping.user_id,
        item=mapping.item_id,
        ts=mapping.ts,
        ts_unit=mapping.ts_unit,
        rating=mapping.rating,
        rating_scale=RatingScale(*(mapping.rating_range or RATING_LIMITS), "table"),
        text=mapping.review_text,
        summary=mapping.summary,
        text_required=False,
    )


def read_events(path: str, mapping: ColumnMapping) -> Iterator[Record]:
    layout = layout_for(mapping)
    # Every mapped column must exist; blank review text or summary cells are fine.
    mapped = (mapping.user_id, mapping.item_id, mapping.ts, mapping.rating, mapping.review_text, mapping.summary)
    columns = [c for c in mapped if c]
    id_columns = (mapping.user_id, mapping.item_id)
    source = os.path.basename(path)
    for row in read_table_rows(path, columns, [], id_columns):
        if row.error is not None:
            yield rejected("interactions", source, row.number, row.error, row.raw)
        else:
            yield event_record(row.values, layout, source, row.number, row.raw)


def read_items(path: str) -> Iterator[Record]:
    source = os.path.basename(path)
    for row in read_table_rows(path, list(ITEM_COLUMNS), list(ITEM_OPTIONAL_COLUMNS), ("item_id",)):
        try:
            if row.error is not None:
                raise row.error
            values = row.values
            item = item_row(
                fields.ident(values, "item_id"),
                fields.optional_str(values, "title"),
                source,
                row.number,
                brand=fields.optional_str(values, "brand"),
                categories=fields.str_list(values, "category"),
                description=fields.str_list(values, "description"),
                price=values.get("price"),
            )
        except RecordError as e:
            yield rejected("items", source, row.number, e, row.raw)
            continue
        yield Record(row.number, [("items", item)])


def read_table_rows(
    path: str, required: list[str], optional: list[str], id_columns: tuple[str, ...]
) -> Iterator[TableRow]:
    """Rows as {column: value} restricted to the mapped columns present in the file."""
    if path.endswith(".parquet"):
        return _parquet_rows(path, required, optional, id_columns)
    return _csv_rows(path, required, optional)


def _check_columns(path: str, present: list[str], required: list[str]) -> None:
    missing = [c for c in required if c not in present]
    if missing:
        raise IngestError(f"{path}: missing mapped column(s) {missing}; the file has {present}")


def _delimiter(path: str) -> str:
    return "\t" if path.removesuffix(".gz").endswith(".tsv") else ","


def _csv_text(lines: Iterator[Line], consumed: list[Line]) -> Iterator[str]:
    """The lines as text for csv.reader, each also appended to `consumed`."""
    for line in lines:
        consumed.append(line)
        # surrogateescape keeps bad bytes parseable; such rows are rejected by _row_error.
        yield line.data.decode("utf-8", "surrogateescape") + "\n"


def _csv_header(path: str, reader: Iterator[list[str]]) -> list[str]:
    try:
        header = next(reader)
    except StopIteration:
        raise IngestError(f"{path}: empty CSV file, no header row") from None
    except csv.Error as e:
        raise IngestError(f"{path}: unreadable CSV header: {e}") from e
    if not header:
        raise IngestError(f"{path}: the first line is blank, expected a CSV header row")
    header = [h.strip() for h in header]
    header[0] = header[0].removeprefix("\ufeff")
    return header


def _csv_rows(path: str, required: list[str], optional: list[str]) -> Iterator[TableRow]:
    consumed: list[Line] = []
    reader = csv.reader(_csv_text(read_lines(path), consumed), delimiter=_delimiter(path), strict=True)
    header = _csv_header(path, reader)
    _check_columns(path, header, required)
    wanted = {name: header.index(name) for name in required + optional if name in header}
    consumed.clear()
    while True:
        try:
            cells = next(reader)
            error = None
        except StopIteration:
            return
        except csv.Error as e:
            cells, error = None, RecordError(f"malformed line: {e}")
        lines, consumed[:] = list(consumed), []
        if not lines:  # csv.Error raised at the end of the input
            return
        row = TableRow(lines[0].number, None, error, _joined_raw(lines))
        if row.error is None:
            row.error = _row_error(lines, cells, len(header))
        if row.error is None:
            row.values = {name: (cells[i] if cells[i].strip() else None) for name, i in wanted.items()}
        yield row


def _row_error(lines: list[Line], cells: list[str], width: int) -> RecordError | None:
    try:
        for line in lines:
            line.text()
    except RecordError as e:
        return e
    if not cells or (len(cells) == 1 and not cells[0].strip()):
        return RecordError("empty line")
    if len(cells) != width:
        return RecordError(f"malformed line: expected {width} fields, got {len(cells)}")
    return None


def _joined_raw(lines: list[Line]) -> Callable[[], str]:
    return lambda: "\n".join(line.raw() for line in lines)[:RAW_CAP]


def _open_parquet(path: str) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except FileNotFoundError as e:
        raise IngestError(f"{path}: cannot open file: {e}") from e
    except (pa.ArrowException, OSError) as e:
        raise UnreadableInput(path, 0, "its footer (the file metadata)", _parquet_reason(e)) from e


def _parquet_rows(path: str, required: list[str], optional: list[str], id_columns: tuple[str, ...]) -> Iterator[TableRow]:
    parquet = _open_parquet(path)
    present = parquet.schema_arrow.names
    _check_columns(path, present, required)
    columns = [c for c in required + optional if c in present]
    number = 0
    # One row group at a time, so that a damaged group is named and the groups before it are kept.
    for group in range(parquet.num_row_groups):
        try:
            for batch in parquet.iter_batches(columns=columns, row_groups=[group]):
                for values in batch.to_pylist():
                    # Integer id columns are common in Parquet logs; ids are strings here.
                    ids = {n: str(values[n]) for n in id_columns if type(values.get(n)) is int}
                    yield TableRow(number, {**values, **ids} if ids else values, None, _row_raw(values))
                    number += 1
        except (pa.ArrowException, OSError) as e:
            raise UnreadableInput(path, number, f"row {number} (row group {group})", _parquet_reason(e)) from e


def _parquet_reason(error: Exception) -> str:
    return f"not a readable Parquet file: {' '.join(str(error).split()).rstrip('.')}"


def _row_raw(values: dict) -> Callable[[], str]:
    return lambda: orjson.dumps(values, default=str).decode()[:RAW_CAP]
