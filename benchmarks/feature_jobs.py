"""recaug's Spark feature jobs against the same features in DuckDB SQL (goal: Spark <= 3x DuckDB at
10M interactions, the gap shrinking with size).

Inputs are synthetic marketplaces (`synthetic.marketplace`, n/10 users, n/50 items),
ingested once to raw Parquet and cached under benchmarks/work/inputs/ (neither step is timed).
Each measurement runs one engine in a fresh child process: Spark runs the `transforms` functions
the Dagster feature assets run, DuckDB the SQL of benchmarks/duckdb_features.py; both read the raw
Parquet, write every table to Parquet and read each job's inputs back from the Parquet written
before it, as the assets do. The timed part is the feature jobs (Spark session start-up and
imports excluded, reported separately). Peak memory is the largest sum of VmRSS over the child's
process tree (Python + the JVM for Spark), sampled from /proc every 50 ms. The Spark worker keeps
its event log, and the last repeat's stage metrics per table (executor run and CPU time, GC,
shuffle, spill, the longest stages; `_spark_events.summarize`) are the profile behind the ratio.

Compared tables: clean_interactions, id_maps, splits, user_features, item_features,
user_sequences, i2i_pairs (co-occurrence only), on the default FeatureConfig (k-core off). Skipped:
Swing i2i, review_bundles. Before timing, the outputs of both engines are checked for equality at
--check-size (and again at every benchmarked size): same schema, same row count, and no row in one
that is not in the other (all columns, doubles rounded to 9 decimals); any difference fails the run.

    python benchmarks/feature_jobs.py [--sizes 1000000,10000000] [--repeats N] [--check-size 50000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from benchmarks._report import machine, spread
from benchmarks._spark_events import event_log_conf, summarize

GOAL = 3.0
RESULTS = Path(__file__).parent / "results" / "feature_jobs.json"
WORK = Path(__file__).parent / "work"
ENGINES = ("spark", "duckdb")
SKIPPED = {
    "i2i_pairs swing": "no DuckDB equivalent written; co-occurrence only on both sides (Swing runs in benchmarks/scale.py)",
    "review_bundles": "no DuckDB equivalent written",
    "k-core filtering": "off in the default FeatureConfig (k_core=0), so not exercised",
}


# --- workers (one engine, one child process) ---------------------------------------------------
def _spark_worker(raw: Path, out: Path, threads: int, driver_memory: str) -> dict:
    started = time.perf_counter()
    from pyspark.sql import functions as F

    from schemas.registry import Features, Raw
    from schemas.tables import I2I_PAIRS
    from transforms.cleaning import deduplicate_interactions, deduplicate_items
    from transforms.config import FeatureConfig
    from transforms.i2i import _top_k, capped_pairs, cooccurrence_scores
    from transforms.id_maps import build_id_maps
    from transforms.item_features import item_features
    from transforms.sequences import user_sequences
    from transforms.spark import build_spark_session
    from transforms.splits import assign_splits, indexed_splits, training_rows
    from transforms.tables import conform
    from transforms.user_features import user_features

    events = out / "_events"  # the profile: where each table's time went (_spark_events)
    events.mkdir()
    spark = build_spark_session(
        master=f"local[{threads}]",
        conf={
            "spark.driver.memory": driver_memory,
            "spark.local.dir": str(WORK / "spark-tmp"),
            **event_log_conf(events),
        },
        app_name="bench-feature-jobs",
    )
    spark.range(1).count()  # the JVM and the session are up
    startup = time.perf_counter() - started
    cfg = FeatureConfig()

    def raw_table(spec):
        return spark.read.parquet(str(raw / spec.name))

    def table(spec):
        return spark.read.parquet(str(out / spec.name))

    def train():
        return table(Features.SPLITS).where(F.col("split") == "train")

    # The builds of dagster_project/assets/features.py FEATURE_TABLES; i2i without Swing.
    builds = {
        Features.CLEAN_INTERACTIONS.name: lambda: deduplicate_interactions(raw_table(Raw.INTERACTIONS)),
        Features.ID_MAPS.name: lambda: build_id_maps(
            training_rows(assign_splits(table(Features.CLEAN_INTERACTIONS), cfg.split))
        ),
        Features.SPLITS.name: lambda: indexed_splits(
            assign_splits(table(Features.CLEAN_INTERACTIONS), cfg.split), table(Features.ID_MAPS)
        ),
        Features.USER_FEATURES.name: lambda: user_features(train(), table(Features.ID_MAPS), cfg.cold_max_history),
        Features.ITEM_FEATURES.name: lambda: item_features(
            train(),
            table(Features.ID_MAPS),
            deduplicate_items(raw_table(Raw.ITEMS)),
            raw_table(Raw.REVIEWS),
            cfg.long_tail_quantile,
        ),
        Features.USER_SEQUENCES.name: lambda: user_sequences(train(), cfg.sequence_length),
        Features.I2I_PAIRS.name: lambda: conform(
            _top_k(cooccurrence_scores(capped_pairs(train(), cfg.i2i)), "cooccurrence", cfg.i2i.top_k), I2I_PAIRS
        ),
    }
    seconds = {}
    for name, build in builds.items():
        spark.sparkContext.setJobDescription(name)
        t0 = time.perf_counter()
        build().write.mode("overwrite").parquet(str(out / name))
        seconds[name] = time.perf_counter() - t0
    spark.stop()
    [event_log] = events.iterdir()
    stages = {tag: profile for tag, profile in summarize(event_log, top=3).items() if tag in seconds}
    return {"startup_s": startup, "tables_s": seconds, "jobs_s": sum(seconds.values()), "spark_stages": stages}


def _duckdb_worker(raw: Path, out: Path, threads: int) -> dict:
    started = time.perf_counter()
    from benchmarks.duckdb_features import connect, run_features

    con = connect(threads, temp_dir=str(WORK / "duckdb-tmp"))
    startup = time.perf_counter() - started
    seconds = run_features(con, raw, out)
    con.close()
    return {"startup_s": startup, "tables_s": seconds, "jobs_s": sum(seconds.values())}


# --- process-tree memory -----------------------------------------------------------------------
def _children(pid: int) -> list[int]:
    kids = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids.extend(int(k) for k in f.read().split())
    except OSError:
        pass
    return kids


def _status_kib(pid: int, fields: tuple[str, ...]) -> dict[str, int]:
    values = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key = line.split(":", 1)[0]
                if key in fields:
                    values[key] = int(line.split()[1])
    except OSError:
        pass
    return values


def _exe(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def _shares_parent_memory(pid: int, status: dict[str, int], parent: tuple[int, dict[str, int]] | None) -> bool:
    """A child that has not exec'd yet: the same executable and about its parent's RSS, which are
    the parent's own pages (the JVM starts each subprocess this way; summing them counted the JVM
    twice for a moment, +2-4 GB peaks in 1-second steps)."""
    if parent is None:
        return False
    parent_pid, parent_status = parent
    parent_rss = parent_status.get("VmRSS", 0)
    return _exe(pid) == _exe(parent_pid) and status.get("VmRSS", 0) >= 0.9 * parent_rss > 0


class TreeMemory:
    """Samples the summed VmRSS of a process and all its descendants; keeps the peak, and the
    samples as (time.time(), KiB) so a caller can attribute the peak to a phase of the child."""

    def __init__(self, pid: int, interval: float = 0.05):
        self.pid, self.interval = pid, interval
        self.peak_kib = 0
        self.samples: list[tuple[float, int]] = []
        self.hwm_kib: dict[int, int] = {}  # per process, the last VmHWM seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        stack, total = [(self.pid, None)], 0
        while stack:
            pid, parent = stack.pop()
            status = _status_kib(pid, ("VmRSS", "VmHWM"))
            if not _shares_parent_memory(pid, status, parent):
                total += status.get("VmRSS", 0)
                if "VmHWM" in status:
                    self.hwm_kib[pid] = status["VmHWM"]
            stack.extend((child, (pid, status)) for child in _children(pid))
        self.peak_kib = max(self.peak_kib, total)
        self.samples.append((time.time(), total))

    def peak_mib_between(self, start: float, end: float) -> float:
        """The peak of the samples taken from `start` to `end` (time.time() seconds), in MiB."""
        inside = [kib for t, kib in self.samples if start <= t <= end]
        if not inside:  # shorter than the sampling interval: the last sample before its end
            inside = [kib for t, kib in self.samples if t <= end][-1:]
        return round(max(inside, default=0) / 1024)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def run_child(cmd: list[str], result_file: Path, label: str, log_file: Path | None = None) -> tuple[dict, TreeMemory]:
    """Runs a worker command under TreeMemory; returns the JSON it wrote to result_file and the
    memory samples. The worker's output goes to log_file when given (kept for post-mortems),
    else it is captured; a non-zero exit raises with the last 40 lines of it."""
    started = time.perf_counter()
    with open(log_file, "w") if log_file else contextlib.nullcontext(subprocess.PIPE) as sink:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, text=True)
        with TreeMemory(proc.pid) as memory:
            captured, _ = proc.communicate()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        log = log_file.read_text(errors="replace") if log_file else captured
        tail = "\n".join(log.strip().splitlines()[-40:])
        raise RuntimeError(f"{label} failed (exit {proc.returncode}):\n{tail}")
    result = json.loads(result_file.read_text())
    result_file.unlink()
    result.update(
        process_wall_s=wall,
        peak_rss_mib=memory.peak_kib / 1024,
        sum_vmhwm_mib=sum(memory.hwm_kib.values()) / 1024,
        processes=len(memory.hwm_kib),
    )
    return result, memory


def _measure(engine: str, raw: Path, out: Path, args) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    result_file = out / "_worker.json"
    cmd = [
        sys.executable, __file__, "--worker", engine, "--raw", str(raw), "--outdir", str(out),
        "--result", str(result_file), "--threads", str(args.threads), "--spark-driver-memory", args.spark_driver_memory,
    ]  # fmt: skip
    return run_child(cmd, result_file, f"{engine} worker on {raw}")[0]


# --- equality ------------------------------------------------------------------------------------
def compare_outputs(spark_out: Path, duckdb_out: Path) -> dict[str, dict]:
    """Per table: schema, row count and symmetric row difference (doubles rounded to 9 places)."""
    import duckdb

    from benchmarks.duckdb_features import TABLES

    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute("SET TimeZone = 'UTC'")
    report = {}
    for name in TABLES:
        a = f"read_parquet('{spark_out / name}/*.parquet')"
        b = f"read_parquet('{duckdb_out / name}/*.parquet')"
        schema_a = [(r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {a}").fetchall()]
        schema_b = [(r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {b}").fetchall()]
        entry = {"schema_equal": schema_a == schema_b}
        entry["rows_spark"] = con.execute(f"SELECT count(*) FROM {a}").fetchone()[0]
        entry["rows_duckdb"] = con.execute(f"SELECT count(*) FROM {b}").fetchone()[0]
        if entry["schema_equal"]:
            cols = ", ".join(
                f'round("{c}", 9) AS "{c}"' if t == "DOUBLE" else f'"{c}"' for c, t in schema_a
            )
            entry["only_in_spark"] = con.execute(
                f"SELECT count(*) FROM (SELECT {cols} FROM {a} EXCEPT ALL SELECT {cols} FROM {b})"
            ).fetchone()[0]
            entry["only_in_duckdb"] = con.execute(
                f"SELECT count(*) FROM (SELECT {cols} FROM {b} EXCEPT ALL SELECT {cols} FROM {a})"
            ).fetchone()[0]
        else:
            entry["schema_spark"], entry["schema_duckdb"] = schema_a, schema_b
        entry["equal"] = (
            entry["schema_equal"]
            and entry["rows_spark"] == entry["rows_duckdb"]
            and entry["only_in_spark"] == 0
            and entry["only_in_duckdb"] == 0
        )
        report[name] = entry
    con.close()
    return report


def _check(size: int, spark_out: Path, duckdb_out: Path) -> dict:
    tables = compare_outputs(spark_out, duckdb_out)
    bad = {name: entry for name, entry in tables.items() if not entry["equal"]}
    print(f"equality at {size:,}: {'all ' + str(len(tables)) + ' tables equal' if not bad else 'DIFFERENT: ' + json.dumps(bad)}", flush=True)
    return {"size": size, "passed": not bad, "tables": tables}


# --- driver --------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000,10000000", help="interactions, comma-separated")
    parser.add_argument("--repeats", type=int, default=None, help="default: 3 up to 1M, 1 above")
    parser.add_argument("--check-size", type=int, default=50_000, help="equality check before timing; 0 skips")
    parser.add_argument("--threads", type=int, default=2, help="local[N] for Spark, SET threads for DuckDB")
    parser.add_argument("--spark-driver-memory", default="8g")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--worker", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--raw", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--outdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        if args.worker == "spark":
            result = _spark_worker(args.raw, args.outdir, args.threads, args.spark_driver_memory)
        else:
            result = _duckdb_worker(args.raw, args.outdir, args.threads)
        args.result.write_text(json.dumps(result))
        return

    from benchmarks._inputs import prepare, spec_for

    sizes = [int(s) for s in args.sizes.split(",") if s]
    runs = WORK / "runs"
    checks = []
    if args.check_size:
        raw, _ = prepare(spec_for(args.check_size, args.seed))
        outs = {e: runs / f"n{args.check_size}" / e for e in ENGINES}
        for engine in ENGINES:
            _measure(engine, raw, outs[engine], args)
        checks.append(_check(args.check_size, outs["spark"], outs["duckdb"]))
        if not checks[-1]["passed"]:
            sys.exit(f"Spark and DuckDB outputs differ at {args.check_size:,} interactions; not timing.")

    results, inputs = {}, {}
    for size in sizes:
        raw, info = prepare(spec_for(size, args.seed), log=lambda m: print(m, flush=True))
        inputs[str(size)] = info
        repeats = args.repeats or (3 if size <= 1_000_000 else 1)
        outs = {e: runs / f"n{size}" / e for e in ENGINES}
        measured: dict[str, list[dict]] = {e: [] for e in ENGINES}
        for i in range(repeats):  # interleaved, so drift in machine load hits both alike
            for engine in ENGINES:
                try:
                    m = _measure(engine, raw, outs[engine], args)
                except RuntimeError as error:
                    print(str(error), flush=True)
                    measured[engine].append({"error": str(error)[-4000:]})
                    continue
                measured[engine].append(m)
                print(
                    f"n={size:,} {engine:<6} repeat {i + 1}/{repeats}: jobs {m['jobs_s']:.1f}s "
                    f"(+{m['startup_s']:.1f}s start-up), peak {m['peak_rss_mib']:.0f} MiB",
                    flush=True,
                )
        per_engine = {}
        for engine, ms in measured.items():
            ok = [m for m in ms if "error" not in m]
            per_engine[engine] = {"repeats": len(ms), "failed": len(ms) - len(ok), "errors": [m["error"] for m in ms if "error" in m]}
            if ok:
                per_engine[engine].update(
                    jobs_s=spread([m["jobs_s"] for m in ok]),
                    process_wall_s=spread([m["process_wall_s"] for m in ok]),
                    startup_s=spread([m["startup_s"] for m in ok]),
                    peak_rss_mib=max(m["peak_rss_mib"] for m in ok),
                    sum_vmhwm_mib=max(m["sum_vmhwm_mib"] for m in ok),
                    tables_s_median={t: statistics.median(m["tables_s"][t] for m in ok) for t in ok[0]["tables_s"]},
                )
                if "spark_stages" in ok[-1]:
                    per_engine[engine]["spark_stages_last_repeat"] = ok[-1]["spark_stages"]
        both = all("jobs_s" in per_engine[e] for e in ENGINES)
        entry = {"engines": per_engine}
        if both:
            entry["ratio_spark_over_duckdb"] = {
                "jobs_median": per_engine["spark"]["jobs_s"]["median"] / per_engine["duckdb"]["jobs_s"]["median"],
                "process_wall_median": per_engine["spark"]["process_wall_s"]["median"]
                / per_engine["duckdb"]["process_wall_s"]["median"],
                "peak_rss": per_engine["spark"]["peak_rss_mib"] / per_engine["duckdb"]["peak_rss_mib"],
            }
            checks.append(_check(size, outs["spark"], outs["duckdb"]))
        results[str(size)] = entry

    ratios = {s: r["ratio_spark_over_duckdb"]["jobs_median"] for s, r in results.items() if "ratio_spark_over_duckdb" in r}
    ordered = [ratios[str(s)] for s in sorted(sizes) if str(s) in ratios]
    at_10m = ratios.get("10000000")
    report = {
        "machine": machine(("pyspark", "duckdb", "pyarrow")),
        "inputs": {
            "sizes": sizes,
            "marketplace": inputs,
            "threads": args.threads,
            "spark_driver_memory": args.spark_driver_memory,
            "repeats": {str(s): args.repeats or (3 if s <= 1_000_000 else 1) for s in sizes},
            "tables": ["clean_interactions", "id_maps", "splits", "user_features", "item_features", "user_sequences", "i2i_pairs (cooccurrence)"],
            "skipped": SKIPPED,
            "timed": "feature jobs only (Spark session start-up / imports in startup_s); fresh child process per run",
            "memory": "peak of the summed VmRSS of the child process tree (Python + JVM for Spark), sampled from /proc every 50 ms (psutil not installed); sum_vmhwm_mib: sum of per-process VmHWM, an upper bound",
        },
        "results": results,
        "ratio_spark_over_duckdb_jobs_median": ratios,
        "goal": f"spark/duckdb <= {GOAL} at 10M, shrinking with size",
        "meets_goal_at_10m": None if at_10m is None else at_10m <= GOAL,
        "gap_shrinks_with_size": None if len(ordered) < 2 else all(b <= a for a, b in pairwise(ordered)),
        "equality": [{k: c[k] for k in ("size", "passed")} | {"tables": c["tables"]} for c in checks],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")

    print(f"\n{'size':>11} {'engine':<7}{'min s':>8}{'median s':>10}{'max s':>8}{'peak MiB':>10}{'spark/duckdb':>14}")
    for size, entry in results.items():
        for engine in ENGINES:
            e = entry["engines"][engine]
            if "jobs_s" not in e:
                print(f"{int(size):>11,} {engine:<7}  FAILED ({e['failed']}/{e['repeats']} runs)")
                continue
            ratio = f"{entry['ratio_spark_over_duckdb']['jobs_median']:.2f}" if engine == "spark" and "ratio_spark_over_duckdb" in entry else ""
            j = e["jobs_s"]
            print(f"{int(size):>11,} {engine:<7}{j['min']:>8.1f}{j['median']:>10.1f}{j['max']:>8.1f}{e['peak_rss_mib']:>10.0f}{ratio:>14}")
    print(f"goal: {report['goal']}; met at 10M: {report['meets_goal_at_10m']}; shrinking: {report['gap_shrinks_with_size']}")
    print(f"written: {args.out}")
    failed = [c["size"] for c in checks if not c["passed"]]
    if failed:
        sys.exit(f"Spark and DuckDB outputs differ at {failed}")


if __name__ == "__main__":
    main()
