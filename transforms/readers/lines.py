"""Numbered lines of plain or gzip text files, surviving a gzip stream that is cut off."""

from __future__ import annotations

import gzip
import logging
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from transforms.readers.errors import IngestError, RecordError

log = logging.getLogger(__name__)

RAW_CAP = 10_000
TRUNCATED = "truncated gzip stream: the file ends inside this line"
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Line:
    number: int  # 1-based
    data: bytes  # without the line terminator
    # The file's gzip stream ended inside this line: its bytes are a fragment.
    truncated: bool = False

    def text(self, encoding: str = "utf-8") -> str:
        if self.truncated:
            raise RecordError(TRUNCATED)
        try:
            return self.data.decode(encoding)
        except UnicodeDecodeError as e:
            raise RecordError(f"invalid utf-8 at byte {e.start} (0x{self.data[e.start]:02x})") from None

    def raw(self, encoding: str = "utf-8") -> str:
        """The line for the quarantine table: replacement characters, capped in length."""
        return self.data[: RAW_CAP * 4].decode(encoding, errors="replace")[:RAW_CAP]


def read_lines(path: str) -> Iterator[Line]:
    """Yield every line of `path` (gzip when it ends in .gz), streaming in chunks.

    A gzip stream that ends before its end-of-stream marker keeps the complete lines read before
    it; the fragment after the last newline, if any, comes last with `truncated=True`.
    """
    try:
        f = open(path, "rb")
    except OSError as e:
        raise IngestError(f"{path}: cannot open file: {e.strerror or e}") from e
    with f:
        # read1 returns whatever one decompression step produced, so an EOFError loses nothing.
        stream = gzip.GzipFile(fileobj=f, mode="rb") if path.endswith(".gz") else f
        number, pending = 0, b""
        while True:
            try:
                chunk = stream.read1(_CHUNK)
            except EOFError:
                if pending:
                    yield Line(number + 1, pending, truncated=True)
                else:
                    log.warning("%s: gzip stream is truncated at a line boundary", path)
                return
            except (gzip.BadGzipFile, zlib.error) as e:
                raise IngestError(f"{path}: not a readable gzip file: {e}") from e
            except OSError as e:
                raise IngestError(f"{path}: cannot read file: {e}") from e
            if not chunk:
                break
            parts = (pending + chunk).split(b"\n")
            pending = parts.pop()
            for part in parts:
                number += 1
                yield Line(number, part.removesuffix(b"\r"))
        if pending:
            yield Line(number + 1, pending.removesuffix(b"\r"))
