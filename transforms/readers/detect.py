"""Which files of a SourceSpec to read, and with which reader, from their names."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

from transforms.readers import amazon2018, amazon2023, movielens, tabular
from transforms.readers.errors import IngestError
from transforms.readers.records import Record
from transforms.readers.source import SourceSpec

Reader = Callable[[str], Iterator[Record]]


@dataclass(frozen=True)
class FileJob:
    path: str
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


@dataclass(frozen=True)
class _Match:
    path: str
    pattern: _Pattern
    category: str | None


def plan(spec: SourceSpec) -> Plan:
    if spec.format == "table" or (spec.format == "auto" and spec.mapping is not None):
        return _table_plan(spec)
    matches = [m for m in map(_match, _files(spec.path)) if m is not None]
    if spec.format != "auto":
        matches = [m for m in matches if m.pattern.format == spec.format]
    if spec.category is not None:
        wanted = spec.category.replace(" ", "_")
        matches = [m for m in matches if m.category in (None, wanted)]
    if not matches:
        what = "" if spec.format == "auto" else f"{spec.format} "
        category = f" for category {spec.category!r}" if spec.category else ""
        raise IngestError(f"{spec.path}: no recognizable {what}files{category} (see SourceSpec for the names)")
    _require_one("formats", spec, {m.pattern.format for m in matches})
    _require_one("categories (set `category`)", spec, {m.category for m in matches})
    jobs = []
    for role in ("events", "items"):
        found = [m for m in matches if m.pattern.role == role]
        _require_one(f"{role} files", spec, {os.path.basename(m.path) for m in found}, allow_none=True)
        jobs += [FileJob(m.path, m.pattern.read) for m in found]
    return Plan(matches[0].pattern.format, jobs)


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


def _table_plan(spec: SourceSpec) -> Plan:
    if spec.mapping is None:
        raise IngestError(f"{spec.path}: format 'table' needs a column mapping")
    paths = [p for p in _files(spec.path) if _TABLE_FILE.fullmatch(os.path.basename(p))]
    if not paths:
        raise IngestError(f"{spec.path}: no CSV or Parquet files")
    jobs = [FileJob(p, partial(tabular.read_events, mapping=spec.mapping)) for p in paths]
    if spec.items_path is not None:
        for items_path in _files(spec.items_path):
            jobs.append(FileJob(items_path, tabular.read_items))
    return Plan("table", jobs)
