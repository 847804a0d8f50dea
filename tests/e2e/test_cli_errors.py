"""`recaug` fails the way a person can act on: one message before anything runs for a bad
partition or source, a short message naming the file for an unreadable one (the trace only with
--traceback), and every run recorded where `make dev` shows it.

The runs here fail in the raw ingest step or stop after it, so neither Spark nor the LLM runs.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys

import dagster as dg
import pytest
from click.testing import CliRunner

from dagster_project import cli
from dagster_project.partitions import PARTITIONS_START, daily_partitions
from dagster_project.resources import SourceResource
from synthetic.marketplace import MarketplaceSpec, write_marketplace
from transforms.readers.ingest import ingest_to_dir
from transforms.readers.source import ColumnMapping

PARTITION = "2024-12-31"


@pytest.fixture(autouse=True)
def dagster_home(tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


@pytest.fixture
def corrupt_source(tmp_path):
    source = tmp_path / "corrupt"
    source.mkdir()
    (source / "Foo_5.json.gz").write_bytes(b"this is not gzip data\n")
    return source


def invoke(*args: str):
    return CliRunner().invoke(cli.main, [str(a) for a in args])


def error_message(output: str) -> list[str]:
    """The lines from click's `Error:` on; the run's own lines (summary, run id) come before."""
    return output[output.index("Error: ") :].strip().splitlines()


@pytest.mark.parametrize("day", ["1994-04-23", "2030-01-01"])
@pytest.mark.parametrize("command", [["run", "--source", "logs"], ["evaluate"]])
def test_a_day_outside_the_partitions_fails_with_one_line_before_anything_runs(tmp_path, command, day):
    wh = tmp_path / "wh"
    result = invoke(*command, "--partition", day, "--warehouse", wh)
    assert result.exit_code != 0 and isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    (line,) = result.output.strip().splitlines()
    assert day in line and f"{PARTITIONS_START} to {daily_partitions.get_last_partition_key()}" in line
    if day < PARTITIONS_START:
        assert "RECAUG_PARTITIONS_START=1994-01-01" in line
    assert not wh.exists()


def test_the_first_partition_is_configurable():
    code = (
        "from dagster_project.partitions import check_partition, daily_partitions as p; "
        "check_partition('1990-04-23'); print(p.get_first_partition_key())"
    )
    env = {**os.environ, "RECAUG_PARTITIONS_START": "1990-01-01"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.split()[-1] == "1990-01-01"


def test_a_missing_source_fails_with_one_line_and_creates_no_warehouse(tmp_path):
    wh = tmp_path / "wh"
    result = invoke("run", "--source", tmp_path / "nope", "--partition", PARTITION, "--warehouse", wh)
    assert result.exit_code != 0
    assert result.output.strip().splitlines() == [f"Error: {tmp_path / 'nope'}: no such file or directory"]
    assert not wh.exists()


def test_a_source_without_recognizable_files_creates_no_warehouse(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "notes.txt").write_text("nothing to ingest\n")
    wh = tmp_path / "wh"
    result = invoke("run", "--source", tmp_path / "logs", "--partition", PARTITION, "--warehouse", wh)
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert error_message(result.output)[0].startswith(f"Error: {tmp_path / 'logs'}: no recognizable files")
    assert not wh.exists()


def test_an_unreadable_file_fails_the_run_with_a_short_message_naming_it(tmp_path, corrupt_source):
    result = invoke("run", "--source", corrupt_source, "--partition", PARTITION, "--warehouse", tmp_path / "wh")
    assert result.exit_code != 0 and isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and "Stack Trace" not in result.output
    first, *rest = error_message(result.output)
    assert first.startswith("Error: step raw_tables (raw/interactions")
    assert f"{corrupt_source / 'Foo_5.json.gz'}: not a readable gzip file" in first
    assert rest == ["Rerun with --traceback for the full trace."]
    assert result.output.count("not a readable gzip file") == 1


def test_traceback_prints_the_full_dagster_error(tmp_path, corrupt_source):
    result = invoke(
        "run", "--source", corrupt_source, "--partition", PARTITION, "--warehouse", tmp_path / "wh", "--traceback"
    )
    assert result.exit_code != 0
    assert "DagsterExecutionStepExecutionError" in result.output and "Stack Trace" in result.output
    assert 'raw.py", line' in result.output  # the frame of the asset that raised
    assert "--traceback" not in error_message(result.output)[-1]


def test_runs_are_recorded_in_dot_dagster_home_without_dagster_home(tmp_path, corrupt_source, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME")
    monkeypatch.chdir(tmp_path)
    result = invoke("run", "--source", corrupt_source, "--partition", PARTITION, "--warehouse", tmp_path / "wh")
    assert result.exit_code != 0
    home = tmp_path / ".dagster_home"
    with dg.DagsterInstance.from_config(str(home)) as instance:
        (run,) = instance.get_runs()
    assert f"Run {run.run_id} is recorded in {home}" in result.output


@pytest.fixture
def uid_sku_csv(tmp_path):
    path = tmp_path / "table" / "log.csv"
    path.parent.mkdir()
    path.write_text("uid,sku,time\nu1,i1,1700000000\nu1,i2,1700000100\nu2,i1,1700000200\n")
    return path


def source_passed_to_the_run(monkeypatch, tmp_path, *args: str) -> SourceResource:
    """The SourceResource `recaug run ARGS` hands to the pipeline; the run itself (Spark and the
    LLM, minutes) is not started."""
    passed = {}
    monkeypatch.setattr(cli, "_run_pipeline", lambda partition, warehouse, source, **_: passed.update(source=source))
    monkeypatch.setattr(cli, "_print_published", lambda warehouse: None)
    result = invoke("run", *args, "--partition", PARTITION, "--warehouse", tmp_path / "wh")
    assert result.exit_code == 0, result.output
    return passed["source"]


def test_map_options_reach_the_source_and_ingest(monkeypatch, tmp_path, uid_sku_csv):
    maps = ["--map", "user_id=uid", "--map", "item_id=sku", "--map", "ts=time"]
    source = source_passed_to_the_run(
        monkeypatch, tmp_path, "--source", uid_sku_csv.parent, "--format", "table", "--allow-partial-input", *maps
    )
    spec = source.spec()
    assert spec.mapping == ColumnMapping(user_id="uid", item_id="sku", ts="time") and spec.allow_partial_input
    report = ingest_to_dir(spec, str(tmp_path / "raw"))
    assert (report.interactions, report.quarantine) == (3, 0)


def test_a_mapping_file_reaches_the_source(monkeypatch, tmp_path, uid_sku_csv):
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"user_id": "uid", "item_id": "sku", "ts": "time"}))
    source = source_passed_to_the_run(
        monkeypatch, tmp_path, "--source", uid_sku_csv.parent, "--format", "table", "--mapping-file", mapping
    )
    assert source.mapping_file == str(mapping) and not source.allow_partial_input
    assert ingest_to_dir(source.spec(), str(tmp_path / "raw")).interactions == 3


def test_a_bad_map_pair_fails_with_one_line(tmp_path, uid_sku_csv):
    wh = tmp_path / "wh"
    source = ["--source", uid_sku_csv.parent, "--format", "table", "--map", "user_id"]
    result = invoke("run", *source, "--partition", PARTITION, "--warehouse", wh)
    assert result.exit_code != 0
    (line,) = result.output.strip().splitlines()
    assert line == "Error: mapping pair 'user_id': expected KEY=COLUMN, such as user_id=uid"
    assert not wh.exists()


def test_the_summary_shows_quarantine_counts_and_contract_warnings(tmp_path, capsys):
    source = tmp_path / "dirty"
    spec = MarketplaceSpec(n_users=100, n_items=40, n_interactions=800)
    write_marketplace(spec, source)
    # A second gzip member is read as more of the same file.
    with gzip.open(next(source.glob("*_5.json.gz")), "ab") as f:
        f.write(b'{not json\n{"reviewerID": "u1"}\n')
    catalog = next(source.glob("meta_*.json.gz"))
    with gzip.open(catalog, "ab") as f:
        f.write(gzip.decompress(catalog.read_bytes()).splitlines(keepends=True)[0])
    raw_only = dg.AssetSelection.groups("raw")
    cli._run_pipeline(
        spec.end_date.isoformat(), str(tmp_path / "wh"), source=SourceResource(path=str(source)), selection=raw_only
    )
    out = capsys.readouterr().out
    assert "Quarantined: 2 records (invalid json 1, missing field 1)" in out
    assert "  raw/items: warning expect_column_values_to_be_unique(item_id): 2 rows" in out


def test_a_failed_blocking_check_is_named_with_its_failed_expectations():
    @dg.asset(key=["raw", "things"])
    def things():
        return dg.MaterializeResult(metadata={"rows": 3})

    @dg.asset_check(asset=things, name="contract", blocking=True)
    def contract():
        failed = {
            "name": "expect_column_values_to_not_be_null",
            "column": "user_id",
            "severity": "error",
            "unexpected_count": 2,
        }
        return dg.AssetCheckResult(passed=False, metadata={"failures": dg.MetadataValue.json([failed])})

    result = dg.materialize([things, contract], raise_on_error=False)
    assert cli._contract_lines(result.get_asset_check_evaluations()) == [
        "Contract checks with failed expectations:",
        "  raw/things: error expect_column_values_to_not_be_null(user_id): 2 rows",
    ]
    first, *_, hint, rerun = cli._failure_message(result, show_traceback=False).splitlines()
    assert first.startswith("step raw__things_contract (raw/things:contract) failed: 1 blocking asset check failed")
    assert hint == cli.FAILURE_HINTS["DagsterAssetCheckFailedError"]
    assert rerun == "Rerun with --traceback for the full trace."


def test_no_evaluation_report_prints_nothing(tmp_path, capsys):
    cli._print_evaluation(str(tmp_path / "wh"), PARTITION)
    assert capsys.readouterr().out == ""
