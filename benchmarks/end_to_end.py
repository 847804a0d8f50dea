"""The README's main job end to end on the demo data (goals: the whole demo within 10 minutes, and
its evaluation stage within 2 of them).

The input is the synthetic marketplace `recaug demo` uses (`MarketplaceSpec()` defaults), generated
once into benchmarks/work/demo_data/ (not timed). Each repeat runs, in a fresh child process
(benchmarks._main_job), the same code path as `recaug demo` (`dagster_project.cli._run_pipeline`
then `_print_published`: every asset of `dagster_project.assets.all_assets`, the default resources,
the partition `MarketplaceSpec().end_date`) into a fresh warehouse under benchmarks/work/end_to_end/.
The child's DAGSTER_HOME is a fresh temporary directory, so the run is recorded in a persistent
instance whose step stats (STEP_START to STEP_SUCCESS) give the per-stage times; the child prints
them as JSON on its last stdout line.

Reported: total wall time of the child (interpreter start, imports, Spark JVM start-up and shutdown
included), peak memory (largest summed VmRSS of the child's process tree, Python + the Spark JVM,
sampled from /proc every 50 ms by benchmarks.feature_jobs.TreeMemory), and per stage: ingest (the
raw/* multi-asset, one step), features (each features/* asset), llm (each llm/* asset: its Spark
preparation and its LLM job with the embedded engine, model load included), publish (each
published/* asset: its publication gate, which validates the new version, included), evaluation
(evaluation/*: the S-LLMR scorer probe and the report's training runs, and the report's
publication) and validation (each warehouse table's blocking contract check), each with its seconds and the peak memory while
it ran (steps run one at a time). The first Spark step includes the Spark session start-up
(SparkResource starts it lazily).

    python benchmarks/end_to_end.py [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from benchmarks._main_job import (
    MAIN_JOB_PACKAGES,
    WORK,
    demo_data,
    run_main_job,
    stage_of,
    stage_spread,
)
from benchmarks._report import machine, spread

GOAL_S = 600.0
RESULTS = Path(__file__).parent / "results" / "end_to_end.json"
RUNS = WORK / "end_to_end"


def _measure(data: Path, partition: str, index: int) -> dict:
    """One run into a fresh warehouse."""
    warehouse = RUNS / f"warehouse-{index}"
    shutil.rmtree(warehouse, ignore_errors=True)
    return run_main_job(data, warehouse, partition, RUNS / f"run-{index}.log")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    data, data_info, partition = demo_data()
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
    per_step: dict[tuple[str, str], list[dict]] = {}
    for run in runs:
        for step in run["steps"]:
            if step["seconds"] is not None:
                per_step.setdefault(stage_of(step), []).append(step)
    order = {"ingest": 0, "features": 1, "llm": 2, "validation": 3, "publish": 4, "evaluation": 5, "other": 6}
    stages = [
        {
            "stage": stage,
            "name": name,
            "seconds": spread([s["seconds"] for s in steps]),
            "peak_rss_mib": max(s["peak_rss_mib"] for s in steps),
        }
        for (stage, name), steps in sorted(per_step.items(), key=lambda kv: order[kv[0][0]])
    ]  # within a stage, execution order of the first run (dict insertion order, sort is stable)
    stage_peaks: dict[str, float] = {}
    for s in stages:
        stage_peaks[s["stage"]] = max(stage_peaks.get(s["stage"], 0), s["peak_rss_mib"])
    total = spread([r["total_wall_s"] for r in runs])
    report = {
        "machine": machine(MAIN_JOB_PACKAGES),
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
            "every 50 ms (benchmarks.feature_jobs.TreeMemory); per step, the peak of the samples taken while it ran "
            "(steps run one at a time); sum_vmhwm_mib: sum of per-process VmHWM, an upper bound",
        },
        "stages": stages,
        "stage_totals_s": stage_spread(runs),
        "stage_peak_rss_mib": stage_peaks,
        "total_wall_s": total,
        "dagster_run_s": spread([r["run_s"] for r in runs]),
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
    print(f"\n{'stage':<{width}}{median:>10}{'peak MiB':>10}")
    for s in stages:
        print(f"{s['stage'] + '  ' + s['name']:<{width}}{s['seconds']['median']:>10.1f}{s['peak_rss_mib']:>10.0f}")
    for stage, seconds in report["stage_totals_s"].items():
        print(f"{'sum of ' + stage:<{width}}{seconds['median']:>10.1f}{stage_peaks[stage]:>10.0f}")
    print(f"{'Dagster run':<{width}}{report['dagster_run_s']['median']:>10.1f}")
    print(f"{'TOTAL wall (child process)':<{width}}{total['median']:>10.1f}")
    print(f"peak memory: {report['peak_rss_mib']:.0f} MiB (process tree RSS incl. the Spark JVM)")
    print(f"goal: {report['goal']}; met: {report['goal_met']}")
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
