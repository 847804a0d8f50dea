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
#: The progress and report names of the LLM-preparation steps.
PREP = "llm_prep/"
WORK = Path(__file__).parent / "work"


# --- worker (child process) --------------------------------------------------------------------
def _prep_steps(read, spark, out: Path, prompts: int | None) -> dict:
    """The LLM-preparation steps of the LLM assets, each a function writing its prompt rows (or the
    SFT export) under `out` with the assets' own Spark functions and the resources' defaults, the
    number of prompts per task capped at `prompts` when given. No model runs: where a step reads an
    LLM output, a stand-in of the same size is used (ReaSeq knowledge: every analyst item, its title
    as the summary; I2I synthetic picks: each generator prompt's first candidate)."""
    from pyspark.sql import functions as F

    from dagster_project.assets.i2i import sft_rows, write_sft_export
    from dagster_project.resources import I2ISynthesisResource, ReaseqResource, ReformResource, SLMRResource
    from llm_jobs.tasks.reaseq_agents import ITEM_TEXT_CHARS, MAX_REVIEWS, REVIEW_CHARS
    from llm_jobs.tasks.reform import ReviewBudget, profile_task, review_packing
    from schemas.registry import Features, Raw
    from storage.warehouse import Warehouse
    from transforms.i2i_synthesis import discriminator_inputs, generator_inputs, synthetic_interactions
    from transforms.knowledge_inputs import (
        ReviewPacking,
        analyst_rows,
        interest_prompt_rows,
        interest_users,
        knowledge_item_inputs,
        profile_prompt_rows,
    )
    from transforms.slmr import candidate_sets

    def capped(resource, *fields):
        return resource.model_copy(update=dict.fromkeys(fields, prompts)) if prompts is not None else resource

    reform = capped(ReformResource(), "users", "items")
    reaseq = capped(ReaseqResource(), "users", "items").config()
    i2i = capped(I2ISynthesisResource(), "users", "sft_users").config()
    slmr = capped(SLMRResource(), "users", "cold_users", "tail_items").config()

    def write(df, name: str) -> str:
        path = str(out / name)
        df.write.mode("overwrite").parquet(path)
        return path

    def reform_prompts(kind: str):
        cfg, task = reform.config(), profile_task(reform.factor_set(), kind)
        budget = ReviewBudget(cfg.context_tokens, cfg.chars_per_token, max_review_tokens=cfg.max_review_tokens)
        packing = ReviewPacking(**review_packing(task, budget))
        limit = cfg.users if kind == "user" else cfg.items
        return lambda: write(profile_prompt_rows(read(Features.REVIEW_BUNDLES), kind, limit, packing), f"reform_{kind}_prompts")

    def analyst():
        items = knowledge_item_inputs(read(Features.ITEM_FEATURES), read(Raw.ITEMS), read(Features.REVIEW_BUNDLES), reaseq.items)
        return write(analyst_rows(items, ITEM_TEXT_CHARS, REVIEW_CHARS, MAX_REVIEWS), "reaseq_analyst_prompts")

    def interests():
        knowledge = spark.read.parquet(str(out / "reaseq_analyst_prompts")).select("item_idx", F.col("title").alias("summary"))
        sequences = read(Features.USER_SEQUENCES)
        wanted = reaseq.interests * reaseq.items_per_interest
        users = interest_users(sequences, knowledge.select("item_idx"), reaseq.history_length, wanted, reaseq.users)
        rows = interest_prompt_rows(sequences, users, read(Features.ITEM_FEATURES), knowledge, reaseq.history_length)
        return write(rows, "reaseq_interest_prompts")

    def generator():
        rows = generator_inputs(read(Features.SPLITS), read(Features.ITEM_FEATURES), read(Features.I2I_PAIRS), i2i)
        return write(rows, "i2i_generator_prompts")

    def discriminator():
        prompts = spark.read.parquet(str(out / "i2i_generator_prompts"))
        picks = prompts.select("user_idx", F.col("candidates")[0]["id"].cast("int").alias("item_idx"))
        synthetic = synthetic_interactions(picks.withColumn("pick_rank", F.lit(1)).withColumn("reason", F.lit("")), read(Features.SPLITS))
        return write(discriminator_inputs(synthetic, read(Features.SPLITS), read(Features.ITEM_FEATURES), i2i), "i2i_discriminator_prompts")

    def sft():
        wh, folder = Warehouse(str(out)), str(out / "i2i_sft_examples")
        for name, rows in sft_rows(read(Features.SPLITS), read(Features.ITEM_FEATURES), i2i).items():
            write_sft_export(wh, rows, name, i2i.max_picks, f"{folder}/{name}")
        return folder

    def slmr_candidates():
        return write(
            candidate_sets(read(Features.SPLITS), read(Features.USER_FEATURES), read(Features.ITEM_FEATURES), slmr), "slmr_candidates"
        )

    return {
        "reform_user_prompts": reform_prompts("user"),
        "reform_item_prompts": reform_prompts("item"),
        "reaseq_analyst_prompts": analyst,
        "reaseq_interest_prompts": interests,
        "i2i_generator_prompts": generator,
        "i2i_discriminator_prompts": discriminator,
        "i2i_sft_examples": sft,
        "slmr_candidates": slmr_candidates,
    }


def _rows(spark, path: str) -> int:
    """Rows of a step's output: Parquet footers, or the lines of the SFT export's JSONL parts."""
    import pyarrow.dataset as pads

    if Path(path, "generator").is_dir():
        return sum(spark.read.text(str(Path(path, name))).count() for name in ("generator", "discriminator"))
    return pads.dataset(path, format="parquet").count_rows()


def _worker(raw: Path, out: Path, conf: dict[str, str], progress: Path, skip: list[str], prompts: int | None) -> dict:
    """Builds the tables not in `skip`, then runs the LLM-preparation steps not in `skip`; after
    each, rewrites `progress` with all finished so far."""
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

    def read(spec):  # as the assets read their inputs: raw tables from the raw Parquet, the others as written here
        return spark.read.parquet(str((raw if spec.layer == "raw" else out) / spec.name))

    tables = json.loads(progress.read_text()) if skip else {}
    for feature in FEATURE_TABLES:
        name = feature.table.name
        if name in skip:
            continue
        path = str(out / name)
        spark.sparkContext.setJobDescription(name)
        t0 = time.time()
        inputs = {spec: read(spec) for spec in feature.inputs}
        feature.build(inputs, cfg).write.mode("overwrite").parquet(path)
        t1 = time.time()
        spark.sparkContext.setJobDescription(f"{name} summary")
        summary = feature.summarize(spark.read.parquet(path), inputs, cfg)
        t2 = time.time()
        tables[name] = {
            "build_write_s": t1 - t0,
            "summary_s": t2 - t1,
            "rows": pads.dataset(path, format="parquet").count_rows(),
            "summary": summary,
            "peak_rss_mib": memory.peak_mib_between(t0, t2),
            "process": os.getpid(),
        }
        progress.write_text(json.dumps(tables))  # what was finished survives a crash of the JVM
        print(f"{name}: {t1 - t0:.1f}s (+{t2 - t1:.1f}s summary)", flush=True)

    prep = {name: tables.pop(name) for name in list(tables) if name.startswith(PREP)}
    for name, step in _prep_steps(read, spark, out / "llm_prep", prompts).items():
        if PREP + name in skip:
            continue
        spark.sparkContext.setJobDescription(PREP + name)
        t0 = time.time()
        path = step()
        t1 = time.time()
        prep[PREP + name] = {"build_write_s": t1 - t0, "rows": _rows(spark, path), "peak_rss_mib": memory.peak_mib_between(t0, t1), "process": os.getpid()}
        progress.write_text(json.dumps({**tables, **prep}))
        print(f"{PREP}{name}: {t1 - t0:.1f}s", flush=True)
    spark.stop()
    return {
        "startup_s": startup,
        "session": effective,
        "tables": tables,
        "jobs_s": sum(t["build_write_s"] for t in tables.values()),
        "llm_prep": prep,
        "llm_prep_s": sum(t["build_write_s"] for t in prep.values()),
        "prompts_cap": prompts,
    }


# --- driver ------------------------------------------------------------------------------------
def _load() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def _mem_available_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return round(int(line.split()[1]) / 2**20, 1)
    return float("nan")


def _run(raw: Path, conf: dict[str, str], run_dir: Path, resume: bool, prompts: int | None) -> dict:
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
        "--skip", ",".join(done), *(["--prompts", str(prompts)] if prompts is not None else []),
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
    parser.add_argument("--prompts", type=int, help="cap on the prompts per LLM task (default: the resources' defaults)")
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
        result = _worker(args.raw, args.outdir, json.loads(args.conf_json), args.progress, skip, args.prompts)
        args.result.write_text(json.dumps(result))
        return

    from benchmarks._inputs import prepare, spec_for

    raw, info = prepare(spec_for(args.size, args.seed), log=lambda m: print(m, flush=True), direct=args.input == "direct")
    runs = []
    for i in range(args.repeats):
        run = _run(raw, _parse_conf(args.conf), WORK / "runs" / f"scale-n{args.size}", args.resume and i == 0, args.prompts)
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
            "llm_prep": "then each LLM asset's preparation (prompt rows, SFT export) with the assets' Spark functions; "
            "prompts per task: the resources' defaults, or --prompts; LLM outputs read by a step are stand-ins (`_prep_steps`)",
            "prompts_cap": args.prompts,
            "timed": "per table: build + write (build_write_s) and the asset's summary counts (summary_s); session start-up apart",
            "memory": "peak of the summed VmRSS of the child process tree (Python + JVM), sampled every 50 ms; per table: the peak while it ran",
        },
        "passed": bool(ok) and len(ok) == len(runs),
        "summary": None if not ok else {
            "jobs_s": spread([r["jobs_s"] for r in ok]),
            "process_wall_s": spread([r["process_wall_s"] for r in ok]),
            "peak_rss_mib": max(r["peak_rss_mib"] for r in ok),
            "tables_build_write_s_median": {t: statistics.median(r["tables"][t]["build_write_s"] for r in ok) for t in ok[0]["tables"]},
            "llm_prep_s_median": {t: statistics.median(r["llm_prep"][t]["build_write_s"] for r in ok) for t in ok[0]["llm_prep"]},
        },
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")

    print(f"\n{'table':<20}{'build+write s':>15}{'summary s':>11}{'rows':>15}{'peak MiB':>10}")
    for run in runs:
        for name, t in run["tables"].items():
            print(f"{name:<20}{t['build_write_s']:>15.1f}{t['summary_s']:>11.1f}{t['rows']:>15,}{t.get('peak_rss_mib', 0):>10.0f}")
        for name, t in run.get("llm_prep", {}).items():
            print(f"{name:<36}{t['build_write_s']:>10.1f}{t['rows']:>15,}{t.get('peak_rss_mib', 0):>10.0f}")
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
