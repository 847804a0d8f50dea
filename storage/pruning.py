"""Delete a published set's old versions, keeping the newest few, without ever breaking a reader.

What stays, with `keep` = N (the live version is the one the live snapshot names):
- The live version, and every published or incomplete version newer than it: a newer one may
  still be being written, or be about to go live with the next snapshot.
- The newest N published versions, the live one among them.
- The newest N blocked versions (failed validation, kept for inspection), counted apart from the
  published ones: a run of bad nights never pushes the good history out, and good nights do not
  erase the evidence of the last failures. A blocked version never goes live, so it may go
  whether it is older or newer than the live one.
What goes: every other version, and incomplete directories (no manifest) older than the live
one, which a killed writer left behind.

A version is deleted manifest first, then its directory: a prune killed half-way leaves an
incomplete directory, never one that looks complete, and the next prune removes it. Pruning must
run under the set's publish lock (publish() holds it), so that no writer is between its data
files and its manifest when an incomplete directory is judged abandoned.
"""

from __future__ import annotations

from storage.published_layout import (
    MANIFEST,
    latest_version,
    read_manifest,
    version_names,
)
from storage.warehouse import Warehouse

# A reader, or the DuckDB catalog until its next refresh, may still be reading the version that
# the live snapshot named a moment ago: that one must survive the switch.
MIN_KEEP = 2


def prune_versions(wh: Warehouse, set_name: str, keep: int) -> list[str]:
    """Delete the versions the rules above let go (`keep` >= MIN_KEEP); returns them, oldest first."""
    live = latest_version(wh, set_name)
    by_status: dict[str | None, list[str]] = {"published": [], "blocked": [], None: []}
    for version in version_names(wh, set_name):
        by_status[_status(wh, set_name, version)].append(version)

    def older_than_live(version: str) -> bool:
        return live is not None and version < live

    doomed = sorted(
        [v for v in by_status[None] if older_than_live(v)]
        + [v for v in by_status["published"][:-keep] if older_than_live(v)]
        + by_status["blocked"][:-keep]
    )
    for version in doomed:
        _delete_version(wh, wh.path("published", set_name, version))
    return doomed


def _status(wh: Warehouse, set_name: str, version: str) -> str | None:
    """The manifest's status ("published" or "blocked"), None for an incomplete version."""
    if not wh.exists(wh.path("published", set_name, version, MANIFEST)):
        return None
    return read_manifest(wh, set_name, version)["status"]


def _delete_version(wh: Warehouse, directory: str) -> None:
    manifest = f"{directory}/{MANIFEST}"
    if wh.exists(manifest):
        wh.fs.delete_file(manifest)
    wh.fs.delete_dir(directory)
