"""Where a published set's versions live, and how to read them.

`published/<set>/<version>/` holds a version's part files and `_manifest.json`, written last, so
a version directory without a manifest is incomplete. `published/<set>/LATEST` names the live
version. Version names start with their creation time, so they sort oldest first.
"""

from __future__ import annotations

import json

import pyarrow.fs as pafs

from dagster_project.warehouse import Warehouse

MANIFEST = "_manifest.json"
LATEST = "LATEST"


def latest_version(wh: Warehouse, set_name: str) -> str | None:
    pointer = wh.path("published", set_name, LATEST)
    return wh.read_text(pointer).strip() if wh.exists(pointer) else None


def read_manifest(wh: Warehouse, set_name: str, version: str) -> dict:
    return json.loads(wh.read_text(wh.path("published", set_name, version, MANIFEST)))


def version_names(wh: Warehouse, set_name: str) -> list[str]:
    """Every version directory of the set, complete or not, oldest first."""
    selector = pafs.FileSelector(wh.path("published", set_name), recursive=False, allow_not_found=True)
    return sorted(
        info.base_name
        for info in wh.fs.get_file_info(selector)
        if info.type == pafs.FileType.Directory and not info.base_name.startswith(".")
    )
