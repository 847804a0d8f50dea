"""Scale: every Spark feature job of the Dagster assets at 100M synthetic interactions, one machine.

What runs: each table of `dagster_project.assets.features.FEATURE_TABLES`, in asset order, with
the asset's own `build` (i2i with Swing and co-occurrence, review_bundles included) and its
`summarize` counts, on the FeaturesResource defaults and the `transforms.spark` session defaults
the assets get -- so a failure here is a failure of the real jobs. Each table reads its inputs
from the raw Parquet and from the Parquet the earlier tables wrote, as the assets do (the
warehouse's staging directories and locks are left out). Everything runs in one fresh child
process; its process tree's summed VmRSS is sampled every 50 ms (`feature_jobs.TreeMemory`).

Input: a synthetic marketplace of n interactions (n/10 users, n/50 items) as raw Parquet, by
default written directly from the generator's draws (`_inputs.prepare(direct=True)`), which gives
the rows JSON + ingest would give without the hour of text work; neither step is timed.

Reported per table: seconds to build and write it, seconds of the asset's summary counts, rows,
and the peak process-tree RSS while it ran; in total: seconds, peak RSS, the machine's load
average before and after (the 2 cores are shared), and, from Spark's event log, per table the
stage time, shuffle and spill (`_spark_events.summarize`) -- the evidence when a job fails or
crawls. A failed run is recorded with the tables it finished and the tail of its log.

--resume continues the last run of that size in a fresh process: the tables it finished (listed
in the run directory's _progress.json, with their seconds and memory) are kept and the others
are built. The report marks which process built each table; for a run made in one go, use
neither --resume nor a stopped run.

    python benchmarks/scale.py [--size 100000000] [--repeats 1] [--input direct|ingest]
                               [--conf spark.key=value ...] [--resume]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from benchmarks._report import machine, spread
from benchmarks.feature_jobs import TreeMemory, run_child

RESULTS = Path(__file__).parent / "results" / "scale.json"
WORK = Path(__file__).parent / "work"


# --- worker (child process) --------------------------------------------------------------------
def _worker(raw: Path, out: Path, conf: dict[str, str], progress: Path, skip: list[str]) -> dict:
    """Builds the tables not in `skip`; after each, rewrites `progress` with all finished so far."""
    started = time.perf_counter()
    # Its own process tree (this Python and the JVM), so per-table peaks survive a crash or a stop.
    memory = TreeMemory(os.getpid()).__enter__()
    import pyarrow.dataset as pads

    from dagster_project.assets.features import FEATURE_TABLES
    from dagster_project.resources import FeaturesResource
    from transforms.spark import build_spark_session

    spark = build_spark_session(master="local[*]", conf=conf, app_name="bench-scale")
    spark.range(1).count()  # the JVM and the session are up
    startup = time.perf_counter() - started
    effective = {k: spark.conf.get(k, None) for k in ("spark.driver.memory", "spark.sql.shuffle.partitions", "spark.master")}
    cfg = FeaturesResource().config()

    def read(name: str):  # "<layer>/<table>", as the assets name their inputs
        layer, table = name.split("/")
        return spark.read.parquet(str((raw if layer == "raw" else out) / table))

    tables = json.loads(progress.read_text()) if skip else {}
    for table in FEATURE_TABLES:
        if table.name in skip:
            continue
        path = str(out / table.name)
        spark.sparkContext.setJobDescription(table.name)
        t0 = time.time()
        table.build({name: read(name) for name in table.inputs}, cfg).write.mode("overwrite").parquet(path)
        t1 = time.time()
        spark.sparkContext.setJobDescription(f"{table.name} summary")
        summary = table.summarize(spark.read.parquet(path))
        t2 = time.time()
        tables[table.name] = {
            "build_write_s": t1 - t0,
            "summary_s": t2 - t1,
            "rows": pads.dataset(path, format="parquet").count_rows(),
            "summary": summary,
            "peak_rss_mib": memory.peak_mib_between(t0, t2),
            "process": os.getpid(),
        }
        progress.write_text(json.dumps(tables))  # what was finished survives a crash of the JVM
        print(f"{table.name}: {t1 - t0:.1f}s (+{t2 - t1:.1f}s summary)", flush=True)
    spark.stop()
    return {"startup_s": startup, "session": effective, "tables": tables, "jobs_s": sum(t["build_write_s"] for t in tables.values())}


# --- driver ------------------------------------------------------------------------------------
def _load() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def _mem_available_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return round(int(line.split()[1]) / 2**20, 1)
    return float("nan")


def _run(raw: Path, conf: dict[str, str], run_dir: Path, resume: bool) -> dict:
    from benchmarks._spark_events import event_log_conf, summarize

    progress = run_dir / "_progress.json"
    done = list(json.loads(progress.read_text())) if resume and progress.exists() else []
    if not resume:
        shutil.rmtree(run_dir, ignore_errors=True)
    events = run_dir / "events"
    events.mkdir(parents=True, exist_ok=True)
    conf = {
        "spark.local.dir": str(WORK / "spark-tmp"),
        **event_log_conf(events),
        "spark.ui.showConsoleProgress": "false",
        **conf,
    }
    result_file, log = run_dir / "_worker.json", run_dir / f"worker-{len(list(events.iterdir()))}.log"
    cmd = [
        sys.executable, __file__, "--worker", "--raw", str(raw), "--outdir", str(run_dir / "tables"),
        "--result", str(result_file), "--progress", str(progress), "--conf-json", json.dumps(conf),
        "--skip", ",".join(done),
    ]  # fmt: skip
    before = {"load_avg_1_5_15": _load(), "mem_available_gib": _mem_available_gib(), "at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    try:
        result, _ = run_child(cmd, result_file, f"scale worker on {raw}", log_file=log)
    except RuntimeError as error:
        finished = json.loads(progress.read_text()) if progress.exists() else {}
        result = {"error": str(error)[-6000:], "finished_tables": list(finished), "tables": finished, "log": str(log)}
    result["machine_state"] = {"before": before, "after": {"load_avg_1_5_15": _load(), "mem_available_gib": _mem_available_gib()}}
    result["conf"] = conf
    result["resumed_after"] = done
    # A failed or resumed run: the peaks the worker recorded per table are all there is of the others.
    result["peak_rss_mib"] = max([result.get("peak_rss_mib", 0)] + [t.get("peak_rss_mib") or 0 for t in result["tables"].values()])
    # Tables are tagged by name, so the logs of a resumed run's processes do not overlap.
    result["spark_stages"] = {tag: entry for log_file in sorted(events.iterdir()) for tag, entry in summarize(log_file).items()}
    return result


def _parse_conf(pairs: list[str]) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000_000, help="interactions")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--input", choices=("direct", "ingest"), default="direct", help="how the raw Parquet is made")
    parser.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="Spark settings over the defaults")
    parser.add_argument("--resume", action="store_true", help="keep the tables the last run finished")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--raw", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--outdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--progress", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--conf-json", help=argparse.SUPPRESS)
    parser.add_argument("--skip", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        skip = [t for t in args.skip.split(",") if t]
        args.result.write_text(json.dumps(_worker(args.raw, args.outdir, json.loads(args.conf_json), args.progress, skip)))
        return

    from benchmarks._inputs import prepare, spec_for

    raw, info = prepare(spec_for(args.size, args.seed), log=lambda m: print(m, flush=True), direct=args.input == "direct")
    runs = []
    for i in range(args.repeats):
        run = _run(raw, _parse_conf(args.conf), WORK / "runs" / f"scale-n{args.size}", args.resume and i == 0)
        runs.append(run)
        state = "FAILED" if "error" in run else f"jobs {run['jobs_s']:.0f}s, peak {run['peak_rss_mib']:.0f} MiB"
        print(f"n={args.size:,} run {i + 1}/{args.repeats}: {state}", flush=True)
    ok = [r for r in runs if "error" not in r]
    report = {
        "machine": machine(("pyspark", "pyarrow")),
        "inputs": {
            "size": args.size,
            "input_path": info.get("path", "ingest"),
            "marketplace": info,
            "repeats": args.repeats,
            "spark_conf_overrides": _parse_conf(args.conf),
            "tables": "all of dagster_project.assets.features.FEATURE_TABLES (i2i: Swing + co-occurrence; review_bundles)",
            "timed": "per table: build + write (build_write_s) and the asset's summary counts (summary_s); session start-up apart",
            "memory": "peak of the summed VmRSS of the child process tree (Python + JVM), sampled every 50 ms; per table: the peak while it ran",
        },
        "passed": bool(ok) and len(ok) == len(runs),
        "summary": None if not ok else {
            "jobs_s": spread([r["jobs_s"] for r in ok]),
            "process_wall_s": spread([r["process_wall_s"] for r in ok]),
            "peak_rss_mib": max(r["peak_rss_mib"] for r in ok),
            "tables_build_write_s_median": {t: statistics.median(r["tables"][t]["build_write_s"] for r in ok) for t in ok[0]["tables"]},
        },
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")

    print(f"\n{'table':<20}{'build+write s':>15}{'summary s':>11}{'rows':>15}{'peak MiB':>10}")
    for run in runs:
        for name, t in run["tables"].items():
            print(f"{name:<20}{t['build_write_s']:>15.1f}{t['summary_s']:>11.1f}{t['rows']:>15,}{t.get('peak_rss_mib', 0):>10.0f}")
        if "error" in run:
            print(f"FAILED after {run['finished_tables']}; log: {run['log']}\n{run['error'][-1500:]}")
        else:
            print(f"{'total':<20}{run['jobs_s']:>15.1f}{'':>11}{'':>15}{run['peak_rss_mib']:>10.0f}")
        print(f"load before/after: {run['machine_state']['before']['load_avg_1_5_15']} / {run['machine_state']['after']['load_avg_1_5_15']}")
    print(f"written: {args.out}")
    if not report["passed"]:
        sys.exit("scale run failed")


if __name__ == "__main__":
    main()
