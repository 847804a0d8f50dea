"""Warehouse partitions replaced atomically for readers: every write is a new version directory,
and the partition's name is a symlink switched to it by one rename.

    <layer>/<table>/date=<p>                       -> ../../_partitions/<layer>/<table>/date=<p>/<version>
    _partitions/<layer>/<table>/date=<p>/<version>/  part files of one write, never changed once linked
    _partitions/<layer>/<table>/date=<p>/RETIRED     {version: when the link left it}

A reader resolves the link once (`resolve`) and reads that one version, whole, however many
writes switch the link meanwhile. Writers of one partition take its lock from staging to switch;
under it they delete what no reader can still be using: versions the link left more than
READ_GRACE_S ago, and unlinked versions (a killed writer's), and the hidden `.<name>.*` leftovers
of killed writers beside the link.

An object store has no symlink and no rename: there a partition is replaced in place under the
same lock, and a reader racing the replacement can miss files.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pyarrow.fs as pafs

from storage.locks import warehouse_lock

if TYPE_CHECKING:  # storage.warehouse calls into this module
    from storage.warehouse import Warehouse

VERSIONS_DIR = "_partitions"
RETIRED = "RETIRED"
# How long a version stays readable after the link left it: longer than a reader takes between
# resolving the link and opening the last file (a lazy Spark DataFrame included).
READ_GRACE_S = 900.0
LOCK_TIMEOUT_S = 600.0


def resolve(wh: Warehouse, path: str) -> str:
    """The version directory a partition path names now; other paths unchanged."""
    return os.path.realpath(path) if wh.is_local else path


@contextlib.contextmanager
def replacing_partition(wh: Warehouse, final: str, lock_timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[str]:
    """Yield a fresh version directory that `final` (a partition path) names once the block
    succeeds; a failed block leaves `final` as it was."""
    relative = os.path.relpath(final, wh.root) if wh.is_local else final.removeprefix(wh.root + "/")
    with warehouse_lock(wh, relative, lock_timeout_s):
        versions = wh.path(VERSIONS_DIR, relative)
        if wh.is_local:
            _sweep(wh, final, versions)
        staging = f"{versions}/{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}"
        wh.fs.create_dir(staging, recursive=True)
        try:
            yield staging
        except BaseException:
            wh.fs.delete_dir(staging)
            raise
        if wh.is_local:
            _switch(wh, final, staging, versions)
        else:
            if wh.exists(final):
                wh.fs.delete_dir(final)
            wh.fs.move(staging, final)


def _switch(wh: Warehouse, final: str, version_dir: str, versions: str) -> None:
    parent, name = final.rsplit("/", 1)
    os.makedirs(parent, exist_ok=True)
    retired = _read_retired(wh, versions)
    if os.path.islink(final):
        retired[os.path.basename(os.readlink(final))] = time.time()
    elif os.path.isdir(final):  # written before partitions were versioned: becomes a version itself
        legacy = f"legacy-{uuid.uuid4().hex[:8]}"
        os.rename(final, f"{versions}/{legacy}")
        retired[legacy] = time.time()
    link = f"{parent}/.{name}.link-{uuid.uuid4().hex}"
    os.symlink(os.path.relpath(version_dir, parent), link)
    wh.write_text_atomic(f"{versions}/{RETIRED}", json.dumps(retired, sort_keys=True))
    os.replace(link, final)  # atomic: readers see the old version or the new one


def _sweep(wh: Warehouse, final: str, versions: str) -> None:
    """Delete, under the partition's lock, what the module docstring says may go."""
    parent, name = final.rsplit("/", 1)
    live = os.path.basename(os.readlink(final)) if os.path.islink(final) else None
    retired = _read_retired(wh, versions)
    now = time.time()
    kept = {v: at for v, at in retired.items() if now - at < READ_GRACE_S}
    selector = pafs.FileSelector(versions, allow_not_found=True)
    for info in wh.fs.get_file_info(selector):
        if info.type == pafs.FileType.Directory and info.base_name != live and info.base_name not in kept:
            wh.fs.delete_dir(info.path)
        elif info.base_name.startswith(f".{RETIRED}.tmp-"):
            wh.fs.delete_file(info.path)
    if kept != retired:
        wh.write_text_atomic(f"{versions}/{RETIRED}", json.dumps(kept, sort_keys=True))
    for info in wh.fs.get_file_info(pafs.FileSelector(parent, allow_not_found=True)):
        if info.base_name.startswith(f".{name}."):  # a killed writer's staging directory or link
            if info.type == pafs.FileType.Directory and not os.path.islink(info.path):
                wh.fs.delete_dir(info.path)
            else:
                os.unlink(info.path)


def _read_retired(wh: Warehouse, versions: str) -> dict[str, float]:
    path = f"{versions}/{RETIRED}"
    return json.loads(wh.read_text(path)) if wh.exists(path) else {}
