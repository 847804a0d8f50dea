"""Numbered lines of plain or gzip text files; a stream that breaks off raises UnreadableInput."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from transforms.readers.errors import IngestError, RecordError, UnreadableInput

RAW_CAP = 10_000
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Line:
    number: int  # 1-based
    data: bytes  # without the line terminator

    def text(self, encoding: str = "utf-8") -> str:
        try:
            return self.data.decode(encoding)
        except UnicodeDecodeError as e:
            raise RecordError(f"invalid utf-8 at byte {e.start} (0x{self.data[e.start]:02x})") from None

    def raw(self, encoding: str = "utf-8") -> str:
        """The line for the quarantine table: replacement characters, capped in length."""
        return self.data[: RAW_CAP * 4].decode(encoding, errors="replace")[:RAW_CAP]


def read_lines(path: str) -> Iterator[Line]:
    """Yield every line of `path` (gzip when it ends in .gz), streaming in chunks.

    When the stream breaks off (a gzip stream cut before its end-of-stream marker, corrupt
    compressed data, an I/O error), the complete lines before the break are yielded and then
    UnreadableInput is raised, carrying the fragment of the broken line.
    """
    try:
        f = open(path, "rb")
    except OSError as e:
        raise IngestError(f"{path}: cannot open file: {e.strerror or e}") from e
    compressed = path.endswith(".gz")
    with f:
        # read1 returns whatever one decompression step produced, so a break loses nothing.
        stream = gzip.GzipFile(fileobj=f, mode="rb") if compressed else f
        number, offset, pending = 0, 0, b""
        while True:
            try:
                chunk = stream.read1(_CHUNK)
            except (EOFError, OSError, zlib.error) as e:
                raise _broken(path, compressed, Line(number + 1, pending), offset, e) from e
            if not chunk:
                break
            offset += len(chunk)
            parts = (pending + chunk).split(b"\n")
            pending = parts.pop()
            for part in parts:
                number += 1
                yield Line(number, part.removesuffix(b"\r"))
        if pending:
            yield Line(number + 1, pending.removesuffix(b"\r"))


def _broken(path: str, compressed: bool, line: Line, offset: int, error: Exception) -> UnreadableInput:
    """The UnreadableInput for a stream that broke inside `line`, after `offset` bytes of data."""
    if isinstance(error, EOFError):
        reason = "truncated gzip stream: the file ends before the end-of-stream marker"
    elif isinstance(error, gzip.BadGzipFile | zlib.error):
        reason = f"not a readable gzip file: {error}"
    else:
        reason = f"cannot read file: {getattr(error, 'strerror', None) or error}"
    where = f"line {line.number}, byte {offset} of the {'decompressed ' if compressed else ''}data"
    return UnreadableInput(path, line.number, where, reason, line.raw() if line.data else None)
