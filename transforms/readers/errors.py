"""How reading can fail: a whole file (IngestError), a file that breaks off while being read
(UnreadableInput), a column mapping (MappingError), or one record (RecordError)."""

from __future__ import annotations

# Every quarantine reason starts with one of these; IngestReport counts rows by them.
REASON_KINDS = (
    "invalid utf-8",
    "invalid json",
    "truncated gzip stream",
    "not a readable gzip file",
    "not a readable Parquet file",
    "cannot read file",
    "empty line",
    "malformed line",
    "missing field",
    "wrong type",
    "invalid timestamp",
    "invalid rating",
    "rating out of range",
    "empty review text",
)


class IngestError(ValueError):
    """A source file cannot be read at all; the message names the file and the problem."""


class UnreadableInput(IngestError):
    """Reading a source file broke off: a truncated or corrupt stream, or an I/O error.

    `line` is where reading broke, numbered like the file's records (1-based lines; 0-based
    Parquet rows); `where` says it for people (line, byte offset, row group); `reason` is what
    broke, starting with a REASON_KINDS entry; `raw` the fragment of the broken line, if any.
    With allow_partial_input the ingest keeps what was read before and quarantines the break.
    """

    def __init__(self, path: str, line: int, where: str, reason: str, raw: str | None = None) -> None:
        assert reason_kind(reason) != "other", reason
        self.path, self.line, self.where, self.reason, self.raw = path, line, where, reason, raw
        super().__init__(
            f"{path}: {self.quarantine_reason}. The file is damaged or incomplete: download or export it "
            "again, or set allow_partial_input (--allow-partial-input) to ingest what precedes this point "
            "and quarantine the break"
        )

    @property
    def quarantine_reason(self) -> str:
        return f"{self.reason}, at {self.where}"


class MappingError(IngestError):
    """A column mapping (a mapping file or KEY=COLUMN pairs) is invalid; the message names the
    file or pair and the key."""


class RecordError(Exception):
    """One record cannot be used; `reason` is the quarantine reason."""

    def __init__(self, reason: str) -> None:
        assert reason_kind(reason) != "other", reason
        super().__init__(reason)
        self.reason = reason


def reason_kind(reason: str) -> str:
    """The vocabulary prefix of a quarantine reason."""
    return next((kind for kind in REASON_KINDS if reason.startswith(kind)), "other")
