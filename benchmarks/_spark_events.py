"""Where a Spark run's time went, from its event log (spark.eventLog.enabled).

The feature benchmarks tag each table's jobs with `SparkContext.setJobDescription(<table>)`;
this groups the completed stages by that tag and sums the stage metrics that explain time and
memory: wall time of the stages, executor run time, input, shuffle write/read, spill (memory and
disk), and the slowest stages. It reads the plain JSON-lines log Spark writes with
spark.eventLog.compress=false.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

_METRICS = {
    "internal.metrics.executorRunTime": "executor_run_s",
    "internal.metrics.executorCpuTime": "executor_cpu_s",
    "internal.metrics.jvmGCTime": "gc_s",
    "internal.metrics.input.bytesRead": "input_mib",
    "internal.metrics.shuffle.write.bytesWritten": "shuffle_write_mib",
    "internal.metrics.shuffle.write.writeTime": "shuffle_write_s",
    "internal.metrics.shuffle.read.localBytesRead": "shuffle_read_mib",
    "internal.metrics.shuffle.read.remoteBytesRead": "shuffle_read_mib",
    "internal.metrics.memoryBytesSpilled": "spill_memory_mib",
    "internal.metrics.diskBytesSpilled": "spill_disk_mib",
}
_SCALE = {"executor_run_s": 1e-3, "gc_s": 1e-3, "executor_cpu_s": 1e-9, "shuffle_write_s": 1e-9}  # -> s; bytes -> MiB


def event_log_conf(directory: Path) -> dict[str, str]:
    """The Spark conf that writes the log `summarize` reads: one plain JSON-lines file per
    application under `directory`."""
    return {
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": str(directory),
        "spark.eventLog.compress": "false",
        "spark.eventLog.rolling.enabled": "false",
    }


def summarize(event_log: Path, top: int = 5) -> dict[str, dict]:
    """Per job description: stage count, summed metrics, and the `top` longest stages."""
    stage_tag: dict[int, str] = {}
    stages: dict[str, list[dict]] = defaultdict(list)
    with open(event_log) as f:
        for line in f:
            event = json.loads(line)
            kind = event.get("Event")
            if kind == "SparkListenerJobStart":
                tag = (event.get("Properties") or {}).get("spark.job.description") or "untagged"
                for stage_id in event.get("Stage IDs", []):
                    stage_tag[stage_id] = tag
            elif kind == "SparkListenerStageCompleted":
                info = event["Stage Info"]
                stages[stage_tag.get(info["Stage ID"], "untagged")].append(_stage(info))
    report = {}
    for tag, done in stages.items():
        totals = defaultdict(float)
        for stage in done:
            for key in set(_METRICS.values()) | {"wall_s"}:
                totals[key] += stage[key]
        report[tag] = {
            "stages": len(done),
            **{k: round(v, 1) for k, v in sorted(totals.items())},
            "longest_stages": sorted(done, key=lambda s: -s["wall_s"])[:top],
        }
    return report


def _stage(info: dict) -> dict:
    stage = {
        "id": info["Stage ID"],
        "name": info["Stage Name"].split(" at ")[0],
        "tasks": info["Number of Tasks"],
        "wall_s": (info.get("Completion Time", 0) - info.get("Submission Time", 0)) / 1000,
        "failed": "Failure Reason" in info,
    }
    for key in set(_METRICS.values()):
        stage[key] = 0.0
    for acc in info.get("Accumulables", []):
        key = _METRICS.get(acc.get("Name"))
        if key and isinstance(acc.get("Value"), (int, float, str)):
            stage[key] += float(acc["Value"]) * _SCALE.get(key, 1 / 2**20)
    return {k: round(v, 1) if isinstance(v, float) else v for k, v in stage.items()}
