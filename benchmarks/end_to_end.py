"""The README's main job end to end on the demo data (goal: the whole demo within 10 minutes).

The input is the synthetic marketplace `recaug demo` uses (`MarketplaceSpec()` defaults), generated
once into benchmarks/work/demo_data/ (not timed). Each repeat runs, in a fresh child process, the
same code path as `recaug demo` (`dagster_project.cli._run_pipeline` then `_print_published`: every
asset of `dagster_project.assets.all_assets`, the default resources, the partition
`MarketplaceSpec().end_date`) into a fresh warehouse under benchmarks/work/end_to_end/. The child's
DAGSTER_HOME is a fresh temporary directory, so the run is recorded in a persistent instance whose
step stats (STEP_START to STEP_SUCCESS) give the per-stage times; the child prints them as JSON on
its last stdout line.

Reported: total wall time of the child (interpreter start, imports, Spark JVM start-up and shutdown
included), peak memory (largest summed VmRSS of the child's process tree, Python + the Spark JVM,
sampled from /proc every 50 ms by benchmarks.feature_jobs.TreeMemory), and per stage: ingest (the
raw/* multi-asset, one step), features (each features/* asset), llm (each llm/* asset: its Spark
preparation and its LLM job with the embedded engine, model load included), publish (each
published/* asset). The first Spark step includes the Spark session start-up (SparkResource starts
it lazily). Validation runs inside each publish step (the blocking contract check), so its time is
part of the publish rows.

    python benchmarks/end_to_end.py [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import redirect_stdout
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from benchmarks.feature_jobs import TreeMemory  # noqa: E402

GOAL_S = 600.0
RESULTS = Path(__file__).parent / "results" / "end_to_end.json"
WORK = Path(__file__).parent / "work"
DEMO_DATA = WORK / "demo_data"
RUNS = WORK / "end_to_end"
MARKER = "E2E_RESULT "
# --- worker (one run of the main job, in a child process) --------------------------------------
def _worker(data: Path, warehouse: Path, partition: str) -> dict:
    """The body of `recaug demo` (data already generated); returns the run's step stats."""
    started = time.perf_counter()
    import dagster as dg

    from dagster_project.cli import _print_published, _run_pipeline

    with redirect_stdout(sys.stderr):  # stdout carries only the result line
        _run_pipeline(str(data), "amazon2018", partition, str(warehouse))
        _print_published(str(warehouse))
    wall = time.perf_counter() - started

    instance = dg.DagsterInstance.get()  # DAGSTER_HOME: the fresh temporary directory
    (run,) = instance.get_runs(limit=1)
    # Which assets each step materialized (the raw multi-asset is one step for all raw/* tables).
    assets_of_step: dict[str, list[str]] = {}
    for record in instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records:
        entry = record.event_log_entry
        assets_of_step.setdefault(entry.step_key, []).append(entry.dagster_event.asset_key.to_user_string())
    steps = []
    for stat in instance.get_run_step_stats(run.run_id):
        steps.append(
            {
                "step_key": stat.step_key,
                "status": stat.status.value if stat.status else None,
                "seconds": (stat.end_time - stat.start_time) if stat.start_time and stat.end_time else None,
                "start_time": stat.start_time,
                "assets": sorted(assets_of_step.get(stat.step_key, [])),
            }
        )
    stats = instance.get_run_stats(run.run_id)
    return {
        "run_id": run.run_id,
        "status": run.status.value,
        "child_wall_s": wall,
        "run_s": (stats.end_time - stats.start_time) if stats.start_time and stats.end_time else None,
        "steps": sorted(steps, key=lambda s: s["start_time"] or 0),
    }


def _stage_of(step: dict) -> tuple[str, str]:
    """(stage, name) of a step: ingest for raw/*, features/<x>, llm/<x>, publish/<x>."""
    assets = step["assets"]
    if assets and all(a.startswith("raw/") for a in assets):
        return "ingest", "raw/* (" + ", ".join(a.removeprefix("raw/") for a in assets) + ")"
    if len(assets) == 1 and assets[0].startswith("features/"):
        return "features", assets[0]
    if len(assets) == 1 and assets[0].startswith("llm/"):
        return "llm", assets[0]
    if len(assets) == 1 and assets[0].startswith("published/"):
        return "publish", assets[0]
    return "other", step["step_key"]


def _measure(data: Path, partition: str, index: int) -> dict:
    warehouse = RUNS / f"warehouse-{index}"
    shutil.rmtree(warehouse, ignore_errors=True)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="recaug-e2e-dagster-") as home:
        env = {**os.environ, "DAGSTER_HOME": home}
        for var in ("RECAUG_SPARK_MASTER", "RECAUG_SPARK_REMOTE"):  # the laptop defaults, as in the demo
            env.pop(var, None)
        cmd = [
            sys.executable, __file__, "--worker", "--data", str(data), "--warehouse", str(warehouse),
            "--partition", partition,
        ]  # fmt: skip
        log_file = RUNS / f"run-{index}.log"
        started = time.perf_counter()
        with open(log_file, "w") as log:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env, cwd=RUNS)
            with TreeMemory(proc.pid) as memory:
                out, _ = proc.communicate()
        wall = time.perf_counter() - started
    lines = [line for line in out.splitlines() if line.startswith(MARKER)]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(log_file.read_text().strip().splitlines()[-40:])
        raise RuntimeError(f"end-to-end run failed (exit {proc.returncode}); log {log_file}:\n{tail}")
    result = json.loads(lines[-1][len(MARKER):])
    result.update(
        total_wall_s=wall,
        peak_rss_mib=memory.peak_kib / 1024,
        sum_vmhwm_mib=sum(memory.hwm_kib.values()) / 1024,
        processes=len(memory.hwm_kib),
        log=str(log_file),
    )
    return result


# --- driver --------------------------------------------------------------------------------------
def _spread(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def _demo_data() -> tuple[Path, dict, str]:
    from transforms.synthetic_marketplace import MarketplaceSpec, write_marketplace

    spec = MarketplaceSpec()  # the `recaug demo` defaults
    generated = None
    if not any(DEMO_DATA.glob("*.json.gz")):
        print(f"generating the demo marketplace into {DEMO_DATA}", flush=True)
        summary = write_marketplace(spec, DEMO_DATA)
        generated = {k: summary[k] for k in ("users", "items", "items_reviewed", "interactions") if k in summary}
    info = {
        "spec": json.loads(spec.model_dump_json()),
        "path": str(DEMO_DATA),
        "files": {p.name: p.stat().st_size for p in sorted(DEMO_DATA.glob("*.json.gz"))},
        "generated_now": generated,
    }
    return DEMO_DATA, info, spec.end_date.isoformat()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--warehouse", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--partition", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        result = _worker(args.data, args.warehouse, args.partition)
        print(MARKER + json.dumps(result), flush=True)
        return

    data, data_info, partition = _demo_data()
    runs = []
    for i in range(args.repeats):
        m = _measure(data, partition, i)
        runs.append(m)
        print(
            f"repeat {i + 1}/{args.repeats}: total {m['total_wall_s']:.1f}s (Dagster run {m['run_s']:.1f}s), "
            f"peak {m['peak_rss_mib']:.0f} MiB",
            flush=True,
        )

    # Per stage over repeats; steps identified by their stage/name (stable across runs).
    per_step: dict[tuple[str, str], list[float]] = {}
    for run in runs:
        for step in run["steps"]:
            if step["seconds"] is not None:
                per_step.setdefault(_stage_of(step), []).append(step["seconds"])
    order = {"ingest": 0, "features": 1, "llm": 2, "publish": 3, "other": 4}
    stages = [
        {"stage": stage, "name": name, "seconds": _spread(values)}
        for (stage, name), values in sorted(per_step.items(), key=lambda kv: order[kv[0][0]])
    ]  # within a stage, execution order of the first run (dict insertion order, sort is stable)
    stage_totals = {}
    for run in runs:
        for step in run["steps"]:
            if step["seconds"] is not None:
                stage = _stage_of(step)[0]
                stage_totals.setdefault(stage, {}).setdefault(run["run_id"], 0.0)
                stage_totals[stage][run["run_id"]] += step["seconds"]
    total = _spread([r["total_wall_s"] for r in runs])
    report = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "versions": {p: version(p) for p in ("dagster", "pyspark", "duckdb", "pyarrow")},
            "java": subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0],
        },
        "inputs": {
            "demo_data": data_info,
            "partition": partition,
            "format": "amazon2018",
            "repeats": args.repeats,
            "job": "dagster_project.cli._run_pipeline + _print_published (what `recaug demo` runs), all_assets, default resources",
            "spark_master": "local[*] (default resources)",
            "timed": "total_wall_s: the whole child process (imports, Spark JVM start-up/shutdown included); "
            "stages: Dagster step stats (STEP_START to STEP_SUCCESS) from the run's event log; the first Spark step "
            "(features/clean_interactions) includes the Spark session start-up (SparkResource starts it lazily)",
            "memory": "peak of the summed VmRSS of the child process tree (Python + Spark JVM), sampled from /proc "
            "every 50 ms (benchmarks.feature_jobs.TreeMemory); sum_vmhwm_mib: sum of per-process VmHWM, an upper bound",
        },
        "stages": stages,
        "stage_totals_s": {stage: _spread(list(v.values())) for stage, v in stage_totals.items()},
        "total_wall_s": total,
        "dagster_run_s": _spread([r["run_s"] for r in runs]),
        "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
        "sum_vmhwm_mib": max(r["sum_vmhwm_mib"] for r in runs),
        "goal": f"the whole demo within {GOAL_S / 60:.0f} minutes on this machine",
        "goal_met": total["max"] <= GOAL_S,
        "runs": [{k: r[k] for k in ("run_id", "status", "total_wall_s", "run_s", "peak_rss_mib", "processes", "steps")} for r in runs],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")

    width = max(len(f"{s['stage']}  {s['name']}") for s in stages) + 2
    median = "median s" if args.repeats > 1 else "seconds"
    print(f"\n{'stage':<{width}}{median:>10}")
    for s in stages:
        print(f"{s['stage'] + '  ' + s['name']:<{width}}{s['seconds']['median']:>10.1f}")
    for stage, spread in report["stage_totals_s"].items():
        print(f"{'sum of ' + stage:<{width}}{spread['median']:>10.1f}")
    print(f"{'Dagster run':<{width}}{report['dagster_run_s']['median']:>10.1f}")
    print(f"{'TOTAL wall (child process)':<{width}}{total['median']:>10.1f}")
    print(f"peak memory: {report['peak_rss_mib']:.0f} MiB (process tree RSS incl. the Spark JVM)")
    print(f"goal: {report['goal']}; met: {report['goal_met']}")
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
