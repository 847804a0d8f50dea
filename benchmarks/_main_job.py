"""One measured run of the main job, what `recaug demo` runs, in a child process; shared by the
end-to-end and incremental benchmarks.

`run_main_job` starts this file as a child (`python benchmarks/_main_job.py --data ...`), which
runs `dagster_project.cli._run_pipeline` then `_print_published` (every asset of
`dagster_project.assets.all_assets`, the default resources) for one partition into the given
warehouse. The child's DAGSTER_HOME is a fresh temporary directory, so the run is recorded in a
persistent instance whose step stats (STEP_START to STEP_SUCCESS) give the per-step times; the
child prints them as JSON on its last stdout line. The parent times the whole child (interpreter
start, imports, Spark JVM start-up and shutdown included) and samples the peak memory of its
process tree (Python + the Spark JVM; benchmarks.feature_jobs.TreeMemory).

With `prompt_log`, the child also records every LLM job's prompts (benchmarks._prompt_log).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from benchmarks._report import spread
from benchmarks.feature_jobs import TreeMemory

WORK = Path(__file__).parent / "work"
DEMO_DATA = WORK / "demo_data"
MARKER = "MAIN_JOB_RESULT "
MAIN_JOB_PACKAGES = ("dagster", "pyspark", "duckdb", "pyarrow", "llama_cpp_python")


def demo_data() -> tuple[Path, dict, str]:
    """The synthetic marketplace `recaug demo` uses (`MarketplaceSpec()`), generated once into
    benchmarks/work/demo_data/; returns its directory, a description and the demo's partition."""
    from synthetic.marketplace import MarketplaceSpec, write_marketplace

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


def stage_of(step: dict) -> tuple[str, str]:
    """(stage, name) of a step: ingest for raw/*, features/<x>, llm/<x>, publish/<x>, evaluation for
    evaluation/<x> and the evaluation report's publication, and validation for a warehouse table's
    contract check (a step of its own; a published set's gate runs inside its publish step)."""
    # Not at module level: the child must install the prompt log before any asset module loads.
    from dagster_project.assets.contracts import CONTRACT_CHECK
    from dagster_project.assets.table_io import asset_key
    from schemas.registry import Published

    assets = step["assets"]
    if step["step_key"].endswith(f"_{CONTRACT_CHECK}"):
        return "validation", step["step_key"].removesuffix(f"_{CONTRACT_CHECK}").replace("__", "/", 1)
    if assets and all(a.startswith("raw/") for a in assets):
        return "ingest", "raw/* (" + ", ".join(a.removeprefix("raw/") for a in assets) + ")"
    if len(assets) == 1 and assets[0].startswith("features/"):
        return "features", assets[0]
    if len(assets) == 1 and assets[0].startswith("llm/"):
        return "llm", assets[0]
    if len(assets) == 1 and (assets[0].startswith("evaluation/") or assets[0] == asset_key(Published.EVALUATION_REPORT).to_user_string()):
        return "evaluation", assets[0]
    if len(assets) == 1 and assets[0].startswith("published/"):
        return "publish", assets[0]
    return "other", step["step_key"]


def stage_totals(steps: list[dict]) -> dict[str, float]:
    """Seconds per stage (sum of its steps) of one run."""
    totals: dict[str, float] = {}
    for step in steps:
        if step["seconds"] is not None:
            stage = stage_of(step)[0]
            totals[stage] = totals.get(stage, 0.0) + step["seconds"]
    return totals


def stage_spread(runs: list[dict]) -> dict[str, dict[str, float]]:
    """Seconds per stage over repeated runs of the main job: min, median, max of the per-run sums."""
    totals = [stage_totals(run["steps"]) for run in runs]
    return {stage: spread([t[stage] for t in totals]) for stage in totals[0]}


def run_main_job(data: Path, warehouse: Path, partition: str, log_file: Path, prompt_log: Path | None = None) -> dict:
    """Runs the main job for `partition` on `data` into `warehouse` (as it is: a fresh or an earlier
    run's) in a child process; its stderr goes to `log_file`, whose folder is the child's cwd."""
    with tempfile.TemporaryDirectory(prefix="recaug-bench-dagster-") as home:
        env = {**os.environ, "DAGSTER_HOME": home}
        for var in ("RECAUG_SPARK_MASTER", "RECAUG_SPARK_REMOTE"):  # the laptop defaults, as in the demo
            env.pop(var, None)
        cmd = [sys.executable, __file__, "--data", str(data), "--warehouse", str(warehouse), "--partition", partition]
        if prompt_log is not None:
            cmd += ["--prompt-log", str(prompt_log)]
        log_file.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        with open(log_file, "w") as log:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env, cwd=log_file.parent)
            with TreeMemory(proc.pid) as memory:
                out, _ = proc.communicate()
        wall = time.perf_counter() - started
    lines = [line for line in out.splitlines() if line.startswith(MARKER)]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(log_file.read_text().strip().splitlines()[-40:])
        raise RuntimeError(f"main job run failed (exit {proc.returncode}); log {log_file}:\n{tail}")
    result = json.loads(lines[-1][len(MARKER):])
    for step in result["steps"]:  # steps run one at a time (in-process executor)
        if step["seconds"] is not None:
            step["peak_rss_mib"] = memory.peak_mib_between(step["start_time"], step["start_time"] + step["seconds"])
    result.update(
        total_wall_s=wall,
        peak_rss_mib=memory.peak_kib / 1024,
        sum_vmhwm_mib=sum(memory.hwm_kib.values()) / 1024,
        processes=len(memory.hwm_kib),
        log=str(log_file),
    )
    return result


# --- child ---------------------------------------------------------------------------------------
def _child(data: Path, warehouse: Path, partition: str) -> dict:
    """The body of `recaug demo` (data already generated); returns the run's step stats."""
    started = time.perf_counter()
    import dagster as dg

    from dagster_project.cli import _print_published, _run_pipeline
    from dagster_project.resources import SourceResource

    with redirect_stdout(sys.stderr):  # stdout carries only the result line
        _run_pipeline(partition, str(warehouse), source=SourceResource(path=str(data), format="amazon2018"))
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


def main() -> None:
    parser = argparse.ArgumentParser(description="One run of the main job (the child of run_main_job).")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--partition", required=True)
    parser.add_argument("--prompt-log", type=Path)
    args = parser.parse_args()
    if args.prompt_log is not None:
        from benchmarks._prompt_log import record_prompts

        record_prompts(args.prompt_log)  # before the assets import run_llm_job
    print(MARKER + json.dumps(_child(args.data, args.warehouse, args.partition)), flush=True)


if __name__ == "__main__":
    main()
