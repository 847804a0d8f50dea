"""The two ways reading can fail: a whole file (IngestError) or one record (RecordError)."""

from __future__ import annotations

# Every quarantine reason starts with one of these; IngestReport counts rows by them.
REASON_KINDS = (
    "invalid utf-8",
    "invalid json",
    "truncated gzip stream",
    "empty line",
    "malformed line",
    "missing field",
    "wrong type",
    "invalid timestamp",
    "invalid rating",
    "empty review text",
)


class IngestError(ValueError):
    """A source file cannot be read at all; the message names the file and the problem."""


class RecordError(Exception):
    """One record cannot be used; `reason` is the quarantine reason."""

    def __init__(self, reason: str) -> None:
        assert reason_kind(reason) != "other", reason
        super().__init__(reason)
        self.reason = reason


def reason_kind(reason: str) -> str:
    """The vocabulary prefix of a quarantine reason."""
    return next((kind for kind in REASON_KINDS if reason.startswith(kind)), "other")
