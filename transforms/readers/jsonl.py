"""JSON-lines files: one record per line, with parse failures quarantined."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from transforms.readers import fields
from transforms.readers.errors import RecordError
from transforms.readers.lines import read_lines
from transforms.readers.records import EventLayout, Record, event_record, rejected

# (object, source file name, line number, raw line thunk) -> Record; may raise RecordError.
Build = Callable[[dict, str, int, Callable[[], str]], Record]


def read_json_records(path: str, table: str, build: Build) -> Iterator[Record]:
    """One Record per line; a line that fails is quarantined under `table`."""
    source = os.path.basename(path)
    for line in read_lines(path):
        try:
            record = build(fields.json_object(line), source, line.number, line.raw)
        except RecordError as e:
            record = rejected(table, source, line.number, e, line.raw)
        yield record


def read_json_events(path: str, layout: EventLayout) -> Iterator[Record]:
    return read_json_records(
        path, "interactions", lambda obj, source, number, raw: event_record(obj, layout, source, number, raw)
    )
