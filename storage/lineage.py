"""What a published version was made from: input fingerprints and code version."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import subprocess


def fingerprint_file(path: str) -> dict:
    with open(path, "rb") as f:
        sha256 = hashlib.file_digest(f, "sha256").hexdigest()
    return {"file": os.path.basename(path), "bytes": os.path.getsize(path), "sha256": sha256}


def code_version() -> str:
    """The package version, plus the git commit when running from a checkout."""
    version = importlib.metadata.version("recaug")
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=os.path.dirname(__file__),
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{version}+{commit}" if commit else version
