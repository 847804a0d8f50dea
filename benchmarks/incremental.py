"""The nightly run after a full one (goal: at most 2% of the LLM requests re-sent, at most 10% of the time).

Day D is the synthetic marketplace `recaug demo` uses (`MarketplaceSpec()` defaults, generated once
into benchmarks/work/demo_data/); partition D is `MarketplaceSpec().end_date`. Day D+1 is the same
log with 1% new reviews appended, by existing users about existing items, stamped on D+1
(benchmarks.next_day, seeded, into benchmarks/work/incremental/). Neither is timed.

Each repeat runs, in a fresh child process each (benchmarks._main_job: what `recaug demo` runs,
every asset, the default resources, the embedded engine), partition D on day D's data into a
fresh warehouse (the full run), then partition D+1 on day D+1's data into the same warehouse (the
incremental run), which finds the LLM cache the full run filled, as a nightly run would, then
partition D+2 on day D+1's data again (the unchanged run: a night without new data, every request
answered by the cache; its time is the fixed cost of a nightly run, the floor under the
incremental one).

Reported per LLM task: requests sent by the full run and by the incremental one (from `llm/_runs`,
retries included) and their ratio; the incremental run's prompts by why they were sent or not
(benchmarks._resends: answered by the cache; sent because the entity's own data changed, because
a cap or sample newly selected it, or because its prompt changed while its data did not, with
examples of the changed lines). Also the wall time of each run (the whole child: imports and
Spark start-up included) and its stages, its ratio to the full run, and the peak memory of each.

    python benchmarks/incremental.py [--repeats 1] [--share 0.01]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from benchmarks._main_job import (
    MAIN_JOB_PACKAGES,
    WORK,
    demo_data,
    run_main_job,
    stage_spread,
)
from benchmarks._prompt_log import read_prompt_log
from benchmarks._report import machine, spread
from benchmarks._resends import (
    CLASSES,
    changed_entities,
    classify,
    item_stats,
    run_records,
    same_id_maps,
)
from benchmarks.next_day import write_next_day
from storage.warehouse import Warehouse

GOAL_RESENT = 0.02
GOAL_TIME = 0.10
RESULTS = Path(__file__).parent / "results" / "incremental.json"
RUNS = WORK / "incremental"
NEXT_DAY_SEED = 0
# full: day D's data, partition D; incremental: day D+1's data (1% new reviews), partition D+1;
# unchanged: day D+1's data again, partition D+2 -- a night without new data, whose every request
# the cache answers, so its time is the fixed cost of a nightly run.
RUN_NAMES = ("full", "incremental", "unchanged")


def _run_nights(data: Path, next_data: Path, partitions: tuple[str, str, str], index: int) -> dict:
    """The three runs of one repeat (RUN_NAMES), with the re-send analysis of the incremental one."""
    warehouse = RUNS / f"warehouse-{index}"
    shutil.rmtree(warehouse, ignore_errors=True)
    runs, prompts = {}, {}
    for name, source, partition in zip(RUN_NAMES, (data, next_data, next_data), partitions):
        log = RUNS / f"prompts-{index}-{name}.jsonl"
        log.unlink(missing_ok=True)
        runs[name] = run_main_job(source, warehouse, partition, RUNS / f"run-{index}-{name}.log", prompt_log=log)
        prompts[name] = read_prompt_log(log)
        print(
            f"repeat {index + 1} {name} ({partition}): {runs[name]['total_wall_s']:.1f}s, "
            f"peak {runs[name]['peak_rss_mib']:.0f} MiB",
            flush=True,
        )
    wh = Warehouse(str(warehouse))
    requests = {name: run_records(wh, partition) for name, partition in zip(runs, partitions)}
    for name in runs:  # every job with rows must have been recorded, or the reasons would be partial
        jobs = sum(task["jobs"] for task in requests[name].values() if task["rows"])
        logged = len({record["job"] for record in prompts[name]})
        if jobs != logged:
            raise RuntimeError(f"{name} run: {jobs} LLM jobs with rows, {logged} in the prompt log")
    if not same_id_maps(wh, *partitions[:2]):
        raise RuntimeError("the id maps differ between the partitions; prompts cannot be compared by entity")
    changed = changed_entities(wh, *partitions[:2])
    stats = (item_stats(wh, partitions[0]), item_stats(wh, partitions[1]))
    return {
        "runs": runs,
        "requests": requests,
        "reasons": classify(prompts["full"], prompts["incremental"], changed, stats),
        "entities_changed": {kind: len(indices) for kind, indices in changed.items()},
    }


def _task_rows(pair: dict) -> list[dict]:
    full, incremental, reasons = pair["requests"]["full"], pair["requests"]["incremental"], pair["reasons"]
    rows = []
    for task in sorted(full.keys() | incremental.keys()):
        sent_full = full.get(task, {}).get("requests_sent", 0)
        sent = incremental.get(task, {}).get("requests_sent", 0)
        why = reasons.get(task, {})
        rows.append(
            {
                "task": task,
                "requests_full": sent_full,
                "requests_incremental": sent,
                "fraction_resent": sent / sent_full if sent_full else None,
                "prompts_incremental": why.get("prompts", 0),
                "prompts_cached": why.get("cached", 0),
                **{f"prompts_{reason}": why.get(reason, 0) for reason in CLASSES},
                "prompt_changed_examples": why.get("examples", []),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--share", type=float, default=0.01, help="new reviews, as a share of day D's")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    load_at_start = os.getloadavg()  # the machine is shared: the timings mean little without it

    data, data_info, partition = demo_data()
    next_data = RUNS / "data-next-day"
    shutil.rmtree(next_data, ignore_errors=True)
    next_day = write_next_day(data, next_data, args.share, NEXT_DAY_SEED)
    partitions = (partition, next_day["day"], (date.fromisoformat(next_day["day"]) + timedelta(days=1)).isoformat())
    pairs = [_run_nights(data, next_data, partitions, i) for i in range(args.repeats)]

    tasks = _task_rows(pairs[-1])  # requests are deterministic; every repeat's are kept under "repeats"
    sent_full = sum(t["requests_full"] for t in tasks)
    sent = sum(t["requests_incremental"] for t in tasks)
    sent_unchanged = sum(task["requests_sent"] for task in pairs[-1]["requests"]["unchanged"].values())
    walls = {name: [p["runs"][name]["total_wall_s"] for p in pairs] for name in RUN_NAMES}
    ratios = {
        name: [p["runs"][name]["total_wall_s"] / p["runs"]["full"]["total_wall_s"] for p in pairs]
        for name in RUN_NAMES[1:]
    }
    resent = sent / sent_full if sent_full else 0.0
    report = {
        "machine": {**machine(MAIN_JOB_PACKAGES), "load_average": {"start": load_at_start, "end": os.getloadavg()}},
        "inputs": {
            "demo_data": data_info,
            "next_day": {**next_day, "path": str(next_data), "generator": "benchmarks.next_day.write_next_day"},
            "partitions": dict(zip(RUN_NAMES, partitions)),
            "format": "amazon2018",
            "repeats": args.repeats,
            "job": "dagster_project.cli._run_pipeline + _print_published (what `recaug demo` runs), all_assets, "
            "default resources, embedded llama.cpp engine; the three runs into one warehouse, fresh per repeat",
            "timed": "total_wall_s: the whole child process (imports, Spark JVM start-up/shutdown included); "
            "stage_totals_s: sums of Dagster step stats per stage",
            "memory": "peak of the summed VmRSS of the child process tree (Python + Spark JVM), sampled from /proc "
            "every 50 ms (benchmarks.feature_jobs.TreeMemory)",
            "requests": "requests_sent of llm/_runs per task and partition (distinct requests sent to the engine, "
            "retries included); prompts_*: the incremental run's first-attempt prompts by reason "
            "(benchmarks._resends)",
        },
        "entities_changed": pairs[-1]["entities_changed"],
        "tasks": tasks,
        "requests_full": sent_full,
        "requests_incremental": sent,
        "fraction_resent": resent,
        "requests_unchanged": sent_unchanged,
        "wall_s": {name: spread(values) for name, values in walls.items()},
        "wall_ratio": {name: spread(values) for name, values in ratios.items()},
        "stage_totals_s": {name: stage_spread([p["runs"][name] for p in pairs]) for name in RUN_NAMES},
        "peak_rss_mib": {name: max(p["runs"][name]["peak_rss_mib"] for p in pairs) for name in RUN_NAMES},
        "goal": f"at most {GOAL_RESENT:.0%} of the LLM requests re-sent and at most {GOAL_TIME:.0%} of the full run's time",
        "goal_met": {"requests": resent <= GOAL_RESENT, "time": max(ratios["incremental"]) <= GOAL_TIME},
        "repeats": [
            {
                "requests": p["requests"],
                "runs": {
                    name: {k: run[k] for k in ("run_id", "status", "total_wall_s", "run_s", "peak_rss_mib", "steps")}
                    for name, run in p["runs"].items()
                },
            }
            for p in pairs
        ],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")

    header = ("task", "full", "incr.", "re-sent", "cached", "input chg", "new sel.", "prompt chg")
    print(f"\n{header[0]:<28}" + "".join(f"{h:>11}" for h in header[1:]))
    for t in tasks:
        fraction = f"{t['fraction_resent']:.1%}" if t["fraction_resent"] is not None else "-"
        cells = (t["requests_full"], t["requests_incremental"], fraction, t["prompts_cached"],
                 *(t[f"prompts_{reason}"] for reason in CLASSES))  # fmt: skip
        print(f"{t['task']:<28}" + "".join(f"{c:>11}" for c in cells))
    print(f"{'ALL TASKS':<28}{sent_full:>11}{sent:>11}{resent:>11.1%}")
    print(
        "full, incr.: requests sent (retries included); cached .. prompt chg: the incremental run's prompts, "
        "answered by the cache or sent because the entity's data changed, it was newly selected, or its prompt "
        "changed while its data did not"
    )
    median = {name: report["wall_s"][name]["median"] for name in walls}
    ratio = {name: report["wall_ratio"][name]["median"] for name in ratios}
    print(
        f"\nwall: full {median['full']:.1f}s, incremental {median['incremental']:.1f}s "
        f"({ratio['incremental']:.1%} of the full run), unchanged {median['unchanged']:.1f}s "
        f"({ratio['unchanged']:.1%}; {sent_unchanged} requests sent)"
    )
    for name in RUN_NAMES:
        stages = ", ".join(f"{s} {v['median']:.1f}s" for s, v in report["stage_totals_s"][name].items())
        print(f"  {name}: {stages}; peak {report['peak_rss_mib'][name]:.0f} MiB")
    print(f"entities whose data changed: {report['entities_changed']}")
    print(f"goal: {report['goal']}; met: {report['goal_met']}")
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
