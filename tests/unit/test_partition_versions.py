"""Partition writes racing each other and readers, in real processes (tests/concurrent_child.py),
and a killed writer's leftovers."""

import signal
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support import SUPPORT, TESTS
from support.child_processes import Children, read_line, send_line

from storage.partition_versions import VERSIONS_DIR
from storage.warehouse import Warehouse

DAY = "2024-01-01"  # as in concurrent_child.py


@pytest.fixture
def children():
    with Children(SUPPORT / "concurrent_child.py") as started:
        yield started


def _finish(proc) -> list[str]:
    """The child's lines up to its last, "done ..."; the earlier ones (failures) go into assertion messages."""
    lines = []
    while not (lines and lines[-1].startswith("done ")):
        lines.append(read_line(proc))
    assert proc.wait() == 0, lines
    return lines


def test_two_writers_and_a_reader_never_meet_a_missing_or_torn_partition(tmp_path, children):
    writers = [children.start("write", str(tmp_path), name, "40") for name in ("a", "b")]
    reader = children.start("read", str(tmp_path))
    for proc in [*writers, reader]:
        assert read_line(proc) == "ready"
    for proc in writers:
        send_line(proc, "go")
    failed = [int(_finish(proc)[-1].split()[1]) for proc in writers]
    send_line(reader, "stop")
    reads, missing, torn = map(int, _finish(reader)[-1].split()[1:])

    assert failed == [0, 0]
    assert reads > 100 and (missing, torn) == (0, 0)
    wh = Warehouse(str(tmp_path))
    table_dir = Path(wh.table_path("features", "t"))
    assert [p.name for p in table_dir.iterdir()] == ["date=2024-01-01"]  # no staging directory left
    assert pq.read_table(wh.resolve(wh.table_path("features", "t", DAY))).num_rows == 1000


def test_a_killed_writers_staging_is_swept_by_the_next_write(tmp_path):
    wh = Warehouse(str(tmp_path))
    final = wh.table_path("features", "t", DAY)
    killed = subprocess.run(
        [sys.executable, "-c", (
            "import os, signal\n"
            "from storage.warehouse import Warehouse\n"
            f"wh = Warehouse({str(tmp_path)!r})\n"
            f"with wh.staged_dir({final!r}) as staging:\n"
            "    open(staging + '/part-0.parquet', 'w').write('half')\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n"
        )],
        cwd=TESTS.parent,
        check=False,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    old_style = Path(tmp_path, "features", "t", ".date=2024-01-01.staging-0123")  # left by earlier releases
    old_style.mkdir(parents=True)
    with wh.staged_dir(final) as staging:
        pq.write_table(pa.table({"x": [1]}), f"{staging}/part-0.parquet")
    versions = list(Path(tmp_path, VERSIONS_DIR, "features", "t", f"date={DAY}").iterdir())
    assert sorted(p.name for p in versions if p.is_dir()) == [Path(wh.resolve(final)).name]
    assert not old_style.exists()
