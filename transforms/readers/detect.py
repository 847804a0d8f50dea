"""Which files of a SourceSpec to read, and with which reader: from their names, and for tables
without a mapping from their column names."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

from transforms.readers import amazon2018, amazon2023, movielens, tabular
from transforms.readers.errors import IngestError
from transforms.readers.mapping import spec_mapping
from transforms.readers.records import Record
from transforms.readers.source import ColumnMapping, SourceSpec

Reader = Callable[[str], Iterator[Record]]


@dataclass(frozen=True)
class FileJob:
    path: str
    table: str  # the raw table its records are for: "interactions" or "items"
    read: Reader


@dataclass(frozen=True)
class Plan:
    format: str
    jobs: list[FileJob]  # event files first, then catalogs


@dataclass(frozen=True)
class _Pattern:
    name: re.Pattern
    format: str
    role: str  # "events" or "items"
    read: Reader


# Order matters: the first full match wins (meta_ files before review files).
_PATTERNS = (
    _Pattern(re.compile(r"meta_(?P<category>.+)\.json(?:\.gz)?"), "amazon2018", "items", amazon2018.read_meta),
    _Pattern(re.compile(r"(?P<category>.+?)(?:_5)?\.json(?:\.gz)?"), "amazon2018", "events", amazon2018.read_reviews),
    _Pattern(re.compile(r"meta_(?P<category>.+)\.jsonl(?:\.gz)?"), "amazon2023", "items", amazon2023.read_meta),
    _Pattern(re.compile(r"(?P<category>.+)\.jsonl(?:\.gz)?"), "amazon2023", "events", amazon2023.read_reviews),
    _Pattern(re.compile(r"u\.data"), "movielens", "events", movielens.read_ratings_100k),
    _Pattern(re.compile(r"u\.item"), "movielens", "items", movielens.read_items_100k),
    _Pattern(re.compile(r"ratings\.dat"), "movielens", "events", movielens.read_ratings_1m),
    _Pattern(re.compile(r"movies\.dat"), "movielens", "items", movielens.read_items_1m),
)
_TABLE_FILE = re.compile(r".+\.(?:csv|tsv)(?:\.gz)?|.+\.parquet")
_ROLE_TABLES = {"events": "interactions", "items": "items"}

# What each format's files look like, for the error when none are found.
_EXPECTED = {
    "amazon2018": "<Category>_5.json[.gz] reviews (or <Category>.json[.gz]) + meta_<Category>.json[.gz]",
    "amazon2023": "<Category>.jsonl[.gz] reviews + meta_<Category>.jsonl[.gz]",
    "movielens": "u.data + u.item (100K) or ratings.dat + movies.dat (1M)",
    "table": (
        ".csv, .tsv, .csv.gz or .parquet files with columns user_id, item_id, ts and optionally rating, "
        "review_text, summary (catalogs: item_id, title); other column names need a mapping "
        "(mapping_file or --map KEY=COLUMN)"
    ),
}


@dataclass(frozen=True)
class _Match:
    path: str
    pattern: _Pattern
    category: str | None


def plan(spec: SourceSpec) -> Plan:
    mapping = spec_mapping(spec)
    if spec.format == "table" or (spec.format == "auto" and mapping is not None):
        return _table_plan(spec, mapping)
    matches = [m for m in map(_match, _files(spec.path)) if m is not None]
    if spec.format != "auto":
        matches = [m for m in matches if m.pattern.format == spec.format]
    if spec.category is not None:
        wanted = spec.category.replace(" ", "_")
        matches = [m for m in matches if m.category in (None, wanted)]
    if not matches and spec.format == "auto" and spec.category is None and _named_tables(spec.path):
        return _table_plan(spec, None)
    if not matches:
        raise _nothing_recognized(spec)
    _require_one("formats", spec, {m.pattern.format for m in matches})
    _require_one("categories (set `category`)", spec, {m.category for m in matches})
    jobs = []
    for role in ("events", "items"):
        found = [m for m in matches if m.pattern.role == role]
        _require_one(f"{role} files", spec, {os.path.basename(m.path) for m in found}, allow_none=True)
        jobs += [FileJob(m.path, _ROLE_TABLES[role], m.pattern.read) for m in found]
    return Plan(matches[0].pattern.format, jobs)


def _nothing_recognized(spec: SourceSpec) -> IngestError:
    what = "" if spec.format == "auto" else f"{spec.format} "
    category = f" for category {spec.category!r}" if spec.category else ""
    formats = list(_EXPECTED) if spec.format == "auto" else [spec.format]
    expected = "".join(f"\n  - {name}: {_EXPECTED[name]}" for name in formats)
    return IngestError(f"{spec.path}: no recognizable {what}files{category}; expected{expected}")


def _files(path: str) -> list[str]:
    if os.path.isdir(path):
        return sorted(os.path.join(path, n) for n in os.listdir(path) if os.path.isfile(os.path.join(path, n)))
    if os.path.isfile(path):
        return [path]
    raise IngestError(f"{path}: no such file or directory")


def _match(path: str) -> _Match | None:
    name = os.path.basename(path)
    for pattern in _PATTERNS:
        m = pattern.name.fullmatch(name)
        if m:
            return _Match(path, pattern, m.groupdict().get("category"))
    return None


def _require_one(what: str, spec: SourceSpec, values: set, allow_none: bool = False) -> None:
    if len(values) > 1 or (not values and not allow_none):
        raise IngestError(f"{spec.path}: found several {what}: {sorted(map(str, values))}")


def _table_files(path: str) -> list[str]:
    return [p for p in _files(path) if _TABLE_FILE.fullmatch(os.path.basename(p))]


def _named_tables(path: str) -> bool:
    """Whether `path` has table files and one of them is a log with the canonical column names."""
    return any(tabular.named_mapping(tabular.column_names(p)) is not None for p in _table_files(path))


def _table_plan(spec: SourceSpec, mapping: ColumnMapping | None) -> Plan:
    """Every table file read with `mapping`, or without one by its column names; then `items_path`."""
    paths = _table_files(spec.path)
    if not paths:
        raise IngestError(f"{spec.path}: no CSV or Parquet files")
    if mapping is None:
        jobs = [_named_table_job(p) for p in paths]
    else:
        jobs = [FileJob(p, "interactions", partial(tabular.read_events, mapping=mapping)) for p in paths]
    if spec.items_path is not None:
        jobs += [FileJob(p, "items", tabular.read_items) for p in _files(spec.items_path)]
    if not any(job.table == "interactions" for job in jobs):
        expected = f"expected\n  - table: {_EXPECTED['table']}"
        raise IngestError(f"{spec.path}: catalog files only, no interaction log; {expected}")
    return Plan("table", jobs)


def _named_table_job(path: str) -> FileJob:
    """A log or catalog file recognized by its column names; anything else is an error, so that
    no log in the source is left out silently."""
    columns = tabular.column_names(path)
    mapping = tabular.named_mapping(columns)
    if mapping is not None:
        return FileJob(path, "interactions", partial(tabular.read_events, mapping=mapping))
    if tabular.is_catalog(columns):
        return FileJob(path, "items", tabular.read_items)
    raise IngestError(
        f"{path}: format 'table' needs a column mapping for these columns {columns} (mapping_file or "
        f"--map KEY=COLUMN), or a header naming user_id, item_id, ts (catalogs: item_id, title)"
    )
