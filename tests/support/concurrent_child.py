"""A process writing or reading one warehouse partition, or running the pipeline for one day, for
tests/test_concurrent_runs.py.

    write WAREHOUSE WRITER N   print "ready", wait for a line, replace the partition N times with
                               ROWS rows stamped WRITER; print "done FAILED" (writes that raised)
    read WAREHOUSE             print "ready", read the partition from its first write until a
                               line comes; print "done READS MISSING TORN" (reads that found the
                               partition absent, reads whose rows were not all of one write)
    run SOURCE WAREHOUSE DAY   print "ready", wait for a line, materialize the day up to ReFORM's
                               user profiles with the embedded model; print "done SUCCESS"
"""

import os
import select
import sys

import pyarrow as pa
import pyarrow.parquet as pq

from storage.warehouse import Warehouse

PARTITION = ("features", "t", "2024-01-01")
ROWS = 1000


def write(warehouse: str, writer: str, times: str) -> None:
    wh = Warehouse(warehouse)
    print("ready", flush=True)
    sys.stdin.readline()
    failed = 0
    for n in range(int(times)):
        try:
            with wh.staged_dir(wh.table_path(*PARTITION)) as staging:
                for part in range(2):  # two files: a reader mixing writes would see two stamps
                    stamp = pa.array([f"{writer}-{n}"] * (ROWS // 2))
                    pq.write_table(pa.table({"stamp": stamp}), f"{staging}/part-{part}.parquet")
        except OSError:
            failed += 1
    print(f"done {failed}", flush=True)


def read(warehouse: str) -> None:
    wh = Warehouse(warehouse)
    print("ready", flush=True)
    reads = missing = torn = 0
    while not select.select([sys.stdin], [], [], 0)[0]:
        if not reads and not os.path.lexists(wh.table_path(*PARTITION)):
            continue  # not written yet
        reads += 1
        try:
            stamps = pq.read_table(wh.resolve(wh.table_path(*PARTITION)))["stamp"].unique()
        except (FileNotFoundError, OSError):
            missing += 1
            continue
        torn += len(stamps) != 1
    print(f"done {reads} {missing} {torn}", flush=True)


def run(source: str, warehouse: str, day: str) -> None:
    import dagster as dg

    import support.pipeline_support as pipeline_support
    from dagster_project.llm_resource import LLMEngineResource, LLMJobSettings
    from dagster_project.resources import ReformResource

    # Dagster's and Spark's logs go to a file: a full stderr pipe would stall the run.
    os.dup2(os.open(f"{warehouse}-{os.getpid()}.log", os.O_WRONLY | os.O_CREAT), 2)
    print("ready", flush=True)
    sys.stdin.readline()
    resources = pipeline_support.test_resources(source, warehouse, with_llm=True) | {
        "reform": ReformResource(users=2, items=0, max_review_tokens=300),
        "llm": LLMEngineResource(job=LLMJobSettings(progress=False)),
    }
    result = dg.materialize(
        pipeline_support.assets_and_checks,
        selection=dg.AssetSelection.assets(dg.AssetKey(["llm", "reform_user_profiles"]))
        .upstream()
        .required_multi_asset_neighbors(),
        partition_key=day,
        resources=resources,
        raise_on_error=False,
    )
    for event in result.get_step_failure_events():
        print(f"failure {event.step_key}: {event.step_failure_data.error.message.splitlines()[0]}", flush=True)
    print(f"done {result.success}", flush=True)


if __name__ == "__main__":
    {"write": write, "read": read, "run": run}[sys.argv[1]](*sys.argv[2:])
