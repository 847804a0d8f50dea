"""How much of the bare engine's output-token rate a full LLM job keeps, on realistic prompts (goal: >= 97%).

The prompts are ReFORM user profiles (the e-commerce factor set, the pipeline's default) of real
Amazon Magazine customers, from their reviews (see benchmarks/_magazine_prompts.py): 200 by
default, each 300 to 1,000 tokens as the embedded model's tokenizer counts them.

- Bare engine: the rendered requests (`task.render(row)`) handed to one `engine.generate` call.
  The llama.cpp engine has one context, so "all at once" means it runs them one after another
  inside that call; no engine call is cheaper per request than that.
- Job: `run_llm_job` on the same rows, in a fresh warehouse with a fresh cache, with LLMJobConfig's
  default batching. Its rate is completion tokens / the job's whole wall time: rendering, cache,
  Beam, validation and Parquet writes included.

Both sides use one already-loaded engine (the pipeline's embedded llama.cpp default), greedy
decoding (temperature 0, seed 0) and the same max_tokens, so they generate the same tokens: each
prompt is sent exactly once on each side (the job's retries are off, since a retry samples again at
a higher temperature), and the completion-token totals of the two sides are compared and reported.

    python benchmarks/llm_overhead.py [--prompts 200] [--max-tokens N] [--repeats 1] [--out FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from benchmarks._magazine_prompts import MAGAZINE_FILE, Prompts, magazine_user_prompts
from benchmarks._report import machine, spread
from dagster_project.llm_resource import LLMEngineResource
from llm_jobs.config import LLMJobConfig
from llm_jobs.factor_sets import resolve_factor_set
from llm_jobs.handler import batching, shared_engine
from llm_jobs.job import run_llm_job
from llm_jobs.tasks.reform import profile_task
from storage.warehouse import Warehouse

GOAL = 0.97
RESULTS = Path(__file__).parent / "results" / "llm_overhead.json"
SIDES = ("bare_engine", "job")


def _bare(engine, prompts: Prompts) -> tuple[float, int]:
    started = time.perf_counter()
    completions = engine.generate(prompts.requests)
    seconds = time.perf_counter() - started
    refused = [c.error for c in completions if c.error]
    if refused:
        raise RuntimeError(f"the engine refused {len(refused)} of {len(completions)} prompts, e.g. {refused[0]}")
    return seconds, sum(c.completion_tokens for c in completions)


def _job(task, prompts: Prompts, factory, config: LLMJobConfig) -> tuple[float, int, int]:
    with tempfile.TemporaryDirectory(prefix="llm-overhead-") as base:
        result = run_llm_job(task, prompts.rows, factory, Warehouse(base), "2024-01-01", config)
    if result.requests_sent != len(prompts.rows):
        raise RuntimeError(f"the job sent {result.requests_sent} requests for {len(prompts.rows)} prompts")
    return result.wall_seconds, result.completion_tokens, result.rejected


def _batching(config: LLMJobConfig, engine) -> dict:
    """The config's batch settings and the batch sizes they resolve to for `engine`."""
    settings = {name: value for name, value in config.model_dump().items() if "batch" in name}
    return {"config": settings, "resolved": dataclasses.asdict(batching(config, engine))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--max-tokens", type=int, default=None, help="default: the ReFORM task's own")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    factor_set = resolve_factor_set()
    task = profile_task(factor_set, "user", max_tokens=args.max_tokens)
    prompts = magazine_user_prompts(task, args.prompts)
    factory = LLMEngineResource().engine_factory()
    engine = shared_engine(factory)
    # Each prompt once, as on the bare side; an output cut off at max_tokens is a reject, counted below.
    config = LLMJobConfig(max_attempts=1, max_reject_rate=1.0, progress=False)
    print(f"{args.prompts} prompts, prompt tokens {prompts.token_spread()}, max_tokens {task.sampling.max_tokens}")
    print(f"job batching (LLMJobConfig defaults): {_batching(config, engine)}")

    [warm] = engine.generate(prompts.requests[:1])  # untimed: loads pages, compiles the grammar
    if warm.prompt_tokens != prompts.tokens[0]:
        raise RuntimeError(
            f"the engine read {warm.prompt_tokens} prompt tokens where the count says {prompts.tokens[0]}"
        )

    seconds: dict[str, list[float]] = {side: [] for side in SIDES}
    tokens: dict[str, list[int]] = {side: [] for side in SIDES}
    rejected: list[int] = []
    for _ in range(args.repeats):  # interleaved, so drift in machine load hits both alike
        wall, completion_tokens = _bare(engine, prompts)
        seconds["bare_engine"].append(wall)
        tokens["bare_engine"].append(completion_tokens)
        wall, completion_tokens, job_rejected = _job(task, prompts, factory, config)
        seconds["job"].append(wall)
        tokens["job"].append(completion_tokens)
        rejected.append(job_rejected)
    rates = {side: [t / s for t, s in zip(tokens[side], seconds[side], strict=True)] for side in SIDES}
    ratio = statistics.median(rates["job"]) / statistics.median(rates["bare_engine"])
    same_tokens = tokens["job"] == tokens["bare_engine"]

    report = {
        "machine": machine(("llama_cpp_python", "apache-beam", "pyarrow", "pydantic")),
        "inputs": {
            "engine": "llamacpp",
            "model_id": engine.model_id,
            "data": MAGAZINE_FILE,
            "task": f"{task.name} {task.version}",
            "factor_set": factor_set.domain,
            "prompts": args.prompts,
            "prompt_tokens": prompts.token_spread(),
            "max_tokens": task.sampling.max_tokens,
            "job_batching": _batching(config, engine),
            "repeats": args.repeats,
        },
        "seconds": {side: spread(values) for side, values in seconds.items()},
        "completion_tokens_per_repeat": tokens,
        "same_completion_tokens": same_tokens,
        "job_rejected_per_repeat": rejected,
        "output_tokens_per_second": {side: spread(values) for side, values in rates.items()},
        "job_over_bare_median": ratio,
        "goal": GOAL,
        "meets_goal": ratio >= GOAL,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")

    print(f"{'median':<12}{'seconds':>9}{'tokens':>8}{'tok/s':>8}")
    for side in SIDES:
        print(
            f"{side:<12}{statistics.median(seconds[side]):>9.1f}{statistics.median(tokens[side]):>8.0f}"
            f"{statistics.median(rates[side]):>8.1f}"
        )
    print(f"same completion tokens on both sides: {same_tokens}; job rejects: {rejected}")
    print(f"job / bare (medians): {ratio:.3f}  goal >= {GOAL}  {'met' if ratio >= GOAL else 'NOT met'}")
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
