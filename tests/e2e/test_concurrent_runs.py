"""Two runs of one day in real processes (tests/concurrent_child.py) while a real Spark session
reads a table they both write."""

import os
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from support import SUPPORT
from support.child_processes import Children, read_line, send_line

from dagster_project.assets.table_io import read_spark
from llm_jobs.accounting import runs_dir
from schemas.registry import Features
from storage.warehouse import Warehouse
from synthetic.marketplace import MarketplaceSpec, write_marketplace


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


@pytest.fixture(scope="module")
def small_source(tmp_path_factory) -> tuple[Path, str]:
    spec = MarketplaceSpec(n_users=60, n_items=30, n_interactions=500, seed=5)
    source = tmp_path_factory.mktemp("source")
    write_marketplace(spec, source)
    return source, spec.end_date.isoformat()


def test_two_runs_of_one_day_and_a_spark_reader_all_succeed_and_no_request_is_sent_twice(
    tmp_path, children, spark, small_source
):
    source, day = small_source
    wh = Warehouse(str(tmp_path / "wh"))
    runs = [children.start("run", str(source), wh.base_url, day) for _ in range(2)]
    for proc in runs:
        assert read_line(proc) == "ready"
    for proc in runs:
        send_line(proc, "go")
    table = Features.CLEAN_INTERACTIONS  # the table whose read failed mid-swap before
    reads, failures = 0, []
    while any(proc.poll() is None for proc in runs):
        if os.path.lexists(wh.table_path(table.layer, table.name, day)):
            try:
                read_spark(spark, wh, table, day).count()
                reads += 1
            except Exception as exc:  # noqa: BLE001 - any failed read is the finding
                failures.append(str(exc).splitlines()[0])
        time.sleep(0.5)
    outcomes = [_finish(proc) for proc in runs]

    assert [lines[-1] for lines in outcomes] == ["done True", "done True"], outcomes
    assert reads > 0 and failures == []
    records = pq.read_table(runs_dir(wh)).to_pylist()
    profiles = [r for r in records if r["task"] == "reform_user_profiler"]  # the task of llm/reform_user_profiles
    assert len(profiles) == 2, records
    first, second = sorted(profiles, key=lambda r: r["started_at"])
    assert first["requests_sent"] > 0
    assert second["requests_sent"] == 0 and second["cache_hits"] >= first["requests_sent"]
