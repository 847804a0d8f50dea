"""Where every table lives, on a local directory or any pyarrow/fsspec filesystem URL.

Layout (DESIGN.md): `<base>/<layer>/<table>/date=<partition>/part-*.parquet`, published sets under
`<base>/published/<set>/<version>/`. A partition is a link to its newest complete version, switched
atomically (`storage.partition_versions`): a crash mid-write never leaves a half-written partition
where readers look, and a reader never sees one vanish.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import dataclass, field

import pyarrow.fs as pafs

from storage.partition_versions import replacing_partition, resolve


@dataclass(frozen=True)
class Warehouse:
    base_url: str
    fs: pafs.FileSystem = field(init=False, compare=False, repr=False)
    root: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        url = self.base_url
        if "://" not in url:
            url = os.path.abspath(url)
            fs, root = pafs.LocalFileSystem(), url
        else:
            fs, root = pafs.FileSystem.from_uri(url)
        object.__setattr__(self, "fs", fs)
        object.__setattr__(self, "root", root.rstrip("/"))

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    def path(self, *parts: str) -> str:
        """A path inside the warehouse filesystem."""
        return "/".join([self.root, *parts])

    def uri(self, *parts: str) -> str:
        """A URL for engines that open files themselves (Spark, DuckDB)."""
        return self.to_uri(self.path(*parts))

    def to_uri(self, path: str) -> str:
        if self.is_local:
            return path
        scheme = self.base_url.split("://", 1)[0]
        return f"{scheme}://{path}"

    def table_path(self, layer: str, table: str, partition: str | None = None) -> str:
        parts = [layer, table] + ([f"date={partition}"] if partition else [])
        return self.path(*parts)

    def table_uri(self, layer: str, table: str, partition: str | None = None) -> str:
        return self.to_uri(self.table_path(layer, table, partition))

    def exists(self, path: str) -> bool:
        return self.fs.get_file_info(path).type != pafs.FileType.NotFound

    def read_text(self, path: str) -> str:
        with self.fs.open_input_stream(path) as f:
            return f.read().decode("utf-8")

    def write_text_atomic(self, path: str, text: str) -> None:
        self.write_bytes_atomic(path, text.encode("utf-8"))

    def write_bytes_atomic(self, path: str, data: bytes) -> None:
        """Write a file so that readers see the old or the new content, never a mix."""
        parent, name = path.rsplit("/", 1)
        self.fs.create_dir(parent, recursive=True)
        if not self.is_local:
            # Object stores have no rename; a single-object PUT is atomic by itself.
            with self.fs.open_output_stream(path) as f:
                f.write(data)
            return
        # Hidden, so dataset readers skip it if a kill leaves it behind.
        tmp = f"{parent}/.{name}.tmp-{uuid.uuid4().hex}"
        with self.fs.open_output_stream(tmp) as f:
            f.write(data)
        os.replace(tmp, path)  # atomic on POSIX

    def staged_dir(self, final: str) -> contextlib.AbstractContextManager[str]:
        """A fresh directory that replaces the partition `final` atomically for readers when the
        block succeeds, under the partition's lock (`storage.partition_versions`)."""
        return replacing_partition(self, final)

    def resolve(self, path: str) -> str:
        """What a reader of the partition `path` reads: the version it names now, which stays
        whole while the reader reads it (`storage.partition_versions`)."""
        return resolve(self, path)
