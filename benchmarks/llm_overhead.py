"""How much of the bare engine's output-token rate an LLM job keeps (goal: >= 95%).

The same N prompts go through `engine.generate` in batches, then through `run_llm_job` with a fresh
cache, so the job's rate (completion tokens / job wall time, rendering, cache, Beam and Parquet
writes included) is compared with the engine's alone. Both use one already-loaded engine and
greedy decoding, so they generate the same tokens.

    python benchmarks/llm_overhead.py [--prompts 12] [--repeats 3] [--batch-size 4] [--max-tokens 64]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from pydantic import BaseModel, Field, StringConstraints

from benchmarks._report import machine, spread
from dagster_project.llm_resource import BuildEngine
from llm_jobs.config import LLMJobConfig
from llm_jobs.engines.base import Sampling
from llm_jobs.handler import shared_engine
from llm_jobs.job import run_llm_job
from llm_jobs.task import Task
from storage.warehouse import Warehouse

GOAL = 0.95
RESULTS = Path(__file__).parent / "results" / "llm_overhead.json"
_PRODUCTS = ["headphones", "coffee grinder", "yoga mat", "desk lamp", "hiking boots", "board game"]
_VERDICTS = ["works great, would buy again", "broke after a week", "fine for the price"]


class ReviewTags(BaseModel):
    # Bounded strings keep every answer within max_tokens, so no prompt is retried.
    tags: list[Annotated[str, StringConstraints(max_length=16)]] = Field(min_length=1, max_length=3)
    sentiment: str = Field(pattern="^(positive|negative|mixed)$")


def _task(max_tokens: int) -> Task:
    return Task(
        name="bench_review_tags",
        version="1",
        system_prompt="You tag product reviews. Answer with JSON only.",
        user_template="Review of a {product}:\n{review}\nGive up to 3 short tags and the sentiment.",
        output_model=ReviewTags,
        key_columns=("review_id",),
        sampling=Sampling(max_tokens=max_tokens),
        untrusted_columns={"review": 300},
    )


def _rows(n: int) -> list[dict]:
    return [
        {
            "review_id": f"r{i}",
            "product": _PRODUCTS[i % len(_PRODUCTS)],
            "review": f"My {_PRODUCTS[i % len(_PRODUCTS)]} {_VERDICTS[i % len(_VERDICTS)]} (order {i}).",
        }
        for i in range(n)
    ]


def _bare_rate(engine, requests, batch_size: int) -> tuple[float, int]:
    started, tokens = time.perf_counter(), 0
    for start in range(0, len(requests), batch_size):
        tokens += sum(c.completion_tokens for c in engine.generate(requests[start : start + batch_size]))
    return tokens / (time.perf_counter() - started), tokens


def _job_rate(task, rows, factory, config) -> tuple[float, int]:
    with tempfile.TemporaryDirectory(prefix="llm-overhead-") as base:
        result = run_llm_job(task, rows, factory, Warehouse(base), "2024-01-01", config)
    assert result.requests_sent == len(rows), f"{result.rejected} rows were retried or rejected; raise --max-tokens"
    return result.output_tokens_per_second, result.completion_tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    factory = BuildEngine("llamacpp", ())
    engine = shared_engine(factory)
    task, rows = _task(args.max_tokens), _rows(args.prompts)
    requests = [task.render(row) for row in rows]
    config = LLMJobConfig(min_batch_size=args.batch_size, max_batch_size=args.batch_size, progress=False)
    engine.generate(requests[:1])  # warm-up, untimed

    rates: dict[str, list[float]] = {"bare_engine": [], "job": []}
    tokens: dict[str, list[int]] = {"bare_engine": [], "job": []}
    for _ in range(args.repeats):  # interleaved, so drift in machine load hits both alike
        for name, measure in (
            ("bare_engine", lambda: _bare_rate(engine, requests, args.batch_size)),
            ("job", lambda: _job_rate(task, rows, factory, config)),
        ):
            rate, n = measure()
            rates[name].append(rate)
            tokens[name].append(n)

    ratio = statistics.median(rates["job"]) / statistics.median(rates["bare_engine"])
    report = {
        "machine": machine(("llama_cpp_python", "apache-beam", "pyarrow", "pydantic")),
        "inputs": {
            "engine": "llamacpp",
            "model_id": engine.model_id,
            "prompts": args.prompts,
            "max_tokens": args.max_tokens,
            "batch_size": args.batch_size,
            "repeats": args.repeats,
        },
        "output_tokens_per_second": {name: spread(values) for name, values in rates.items()},
        "completion_tokens_per_repeat": tokens,
        "job_over_bare_median": ratio,
        "goal": GOAL,
        "meets_goal": ratio >= GOAL,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")

    print(f"{'output tokens/s':<16}{'min':>9}{'median':>9}{'max':>9}")
    for name, values in rates.items():
        s = spread(values)
        print(f"{name:<16}{s['min']:>9.1f}{s['median']:>9.1f}{s['max']:>9.1f}")
    print(f"job / bare (medians): {ratio:.3f}  goal >= {GOAL}  {'met' if ratio >= GOAL else 'NOT met'}")
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
