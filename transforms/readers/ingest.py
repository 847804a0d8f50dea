"""Ingest one raw source into the canonical raw tables (+ quarantine), streaming."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pyarrow.fs as pafs

from schemas.registry import RAW_TABLES
from transforms.readers.detect import FileJob, plan
from transforms.readers.errors import IngestError, UnreadableInput, reason_kind
from transforms.readers.records import Record, quarantine_row
from transforms.readers.sink import RawSinks
from transforms.readers.source import SourceSpec

__all__ = ["IngestError", "IngestReport", "UnreadableInput", "ingest", "ingest_to_dir"]


@dataclass
class IngestReport:
    format: str
    interactions: int = 0
    reviews: int = 0
    items: int = 0
    quarantine: int = 0
    # Quarantine rows by reason kind (errors.REASON_KINDS).
    quarantine_by_reason: dict[str, int] = field(default_factory=dict)
    # Source records (lines; CSV records; Parquet rows) dropped for being after `as_of`.
    excluded_after_as_of: int = 0
    files: list[str] = field(default_factory=list)
    # Source records read per file (basename). Each one is kept, quarantined or excluded; the
    # break of a partial file counts as one quarantined record.
    records_by_file: dict[str, int] = field(default_factory=dict)
    # Files whose reading broke off, ingested up to the break (only with allow_partial_input).
    partial_files: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_metadata(self) -> dict:
        meta = {
            "format": self.format,
            "rows_interactions": self.interactions,
            "rows_reviews": self.reviews,
            "rows_items": self.items,
            "rows_quarantine": self.quarantine,
            "excluded_after_as_of": self.excluded_after_as_of,
            "records_read": sum(self.records_by_file.values()),
            "files": "\n".join(self.files),
            "partial_files": len(self.partial_files),
            "seconds": round(self.seconds, 3),
        }
        meta.update({f"quarantine_{kind.replace(' ', '_')}": n for kind, n in sorted(self.quarantine_by_reason.items())})
        return meta


def ingest(
    spec: SourceSpec,
    out_dirs: dict[str, str],
    filesystem: pafs.FileSystem,
    as_of: datetime | None = None,
    batch_rows: int = 50_000,
) -> IngestReport:
    """Read `spec` and write part-00000.parquet into each of out_dirs' four directories.

    Records with an event time after `as_of` (naive: UTC) are left out and counted; catalog rows
    have no time and are always kept. Raises IngestError when a file cannot be read at all, and
    UnreadableInput when reading one breaks off, unless `spec.allow_partial_input`.
    """
    started = time.perf_counter()
    source_plan = plan(spec)
    cutoff = None if as_of is None else (as_of if as_of.tzinfo else as_of.replace(tzinfo=timezone.utc)).timestamp()
    report = IngestReport(format=source_plan.format)
    reasons: Counter[str] = Counter()
    with RawSinks(filesystem, out_dirs, batch_rows) as sinks:
        for job in source_plan.jobs:
            records = 0
            for record in _file_records(job, spec.allow_partial_input, report):
                records += 1
                if cutoff is not None and record.ts is not None and record.ts > cutoff:
                    report.excluded_after_as_of += 1
                    continue
                for table, row in record.rows:
                    sinks[table].append(row)
                    if table == "quarantine":
                        reasons[reason_kind(row["reason"])] += 1
            report.files.append(job.path)
            report.records_by_file[os.path.basename(job.path)] = records
    for table in RAW_TABLES:
        setattr(report, table, sinks[table].rows)
    report.quarantine_by_reason = dict(reasons)
    report.seconds = time.perf_counter() - started
    return report


def _file_records(job: FileJob, allow_partial: bool, report: IngestReport) -> Iterator[Record]:
    """The records of one file. If its reading breaks off, UnreadableInput propagates, or with
    `allow_partial` the break comes last as a quarantine record and the file is reported partial."""
    try:
        yield from job.read(job.path)
    except UnreadableInput as e:
        if not allow_partial:
            raise
        report.partial_files.append(job.path)
        source = os.path.basename(job.path)
        yield Record(e.line, [quarantine_row(job.table, source, e.line, e.quarantine_reason, e.raw)])


def ingest_to_dir(spec: SourceSpec, base_dir: str, as_of: datetime | None = None, batch_rows: int = 50_000) -> IngestReport:
    """`ingest` into `<base_dir>/<table>/` on the local filesystem (for the CLI, notebooks, tests)."""
    out_dirs = {table: os.path.join(base_dir, table) for table in RAW_TABLES}
    for directory in out_dirs.values():
        os.makedirs(directory, exist_ok=True)
    return ingest(spec, out_dirs, pafs.LocalFileSystem(), as_of=as_of, batch_rows=batch_rows)
