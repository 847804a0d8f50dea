"""The layers of pyproject.toml's import-linter contracts hold: a wrong import fails the suite."""

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAYERED_PACKAGES = ("dagster_project", "synthetic", "transforms", "llm_jobs", "evaluation", "validation", "storage", "schemas")


def test_every_import_goes_down_a_layer_and_only_the_wiring_imports_dagster():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_linter_catches_an_upward_import(tmp_path):
    """The contracts are live: a copy of the tree with one upward import breaks the layers contract."""
    tree = tmp_path / "tree"
    for package in LAYERED_PACKAGES:
        shutil.copytree(REPO / package, tree / package)
    (tree / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text())
    (tree / "schemas" / "upward.py").write_text("import storage.warehouse\n")
    lint = Path(sys.executable).with_name("lint-imports")
    env = {"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([str(lint), "--no-cache"], cwd=tree, capture_output=True, text=True, env=env)
    assert result.returncode != 0
    assert "schemas.upward -> storage.warehouse" in result.stdout
