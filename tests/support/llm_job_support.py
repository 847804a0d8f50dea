"""A tiny demo task, its inputs, and engine factories for the LLM job tests (real SmolLM2 underneath).

Factories are frozen dataclasses: Beam pickles them to its workers, and `shared_engine` keys the
process's engines by them, so equal factories share one loaded model.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, Field

from llm_jobs.engines import build_engine
from llm_jobs.engines.base import Completion, Engine, EngineError, EngineRequest, Sampling
from llm_jobs.handler import EngineFactory, shared_engine
from llm_jobs.task import CandidateId, Task

PARTITION = "2024-03-01"


class Picks(BaseModel):
    picks: list[CandidateId] = Field(min_length=1, max_length=2)
    reason: str = Field(max_length=60)


def picks_task(name: str = "demo_picks", version: str = "1", max_tokens: int = 48) -> Task:
    return Task(
        name=name,
        version=version,
        system_prompt="You recommend products. Answer with JSON only.",
        user_template=(
            "A user wrote this review:\n{review}\n"
            "Candidate item ids: {candidates}\n"
            "Pick up to 2 candidates this user would like and give a short reason."
        ),
        output_model=Picks,
        key_columns=("user_id",),
        sampling=Sampling(max_tokens=max_tokens),
        untrusted_columns={"review": 300},
        candidates_column="candidates",
    )


_REVIEWS = [
    ("I love spicy ramen and chili oil on everything.", ["i_ramen", "i_salad", "i_chili_oil"]),
    ("Fresh salads and green smoothies every morning.", ["i_salad", "i_kale", "i_donut"]),
    ("Strong espresso is the only way to start my day.", ["i_espresso", "i_tea", "i_mug"]),
    ("My kids devour chocolate chip cookies.", ["i_cookies", "i_broccoli", "i_milk"]),
    ("I bake sourdough bread every weekend.", ["i_flour", "i_yeast", "i_soda"]),
    ("Green tea, never coffee, thank you.", ["i_tea", "i_espresso", "i_honey"]),
]


def review_rows(n: int) -> list[dict]:
    return [
        {"user_id": f"u{i}", "review": review, "candidates": candidates}
        for i, (review, candidates) in enumerate(_REVIEWS[:n])
    ]


@dataclass(frozen=True)
class EmbeddedEngine:
    """The embedded SmolLM2 through the engine registry, as configuration would build it."""

    def __call__(self) -> Engine:
        return build_engine("llamacpp")


class CountingEngine:
    """Instrumentation: a real engine underneath, counting the requests that reach it."""

    def __init__(self, inner: Engine) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.supports_logprobs = inner.supports_logprobs
        self.requests = 0
        self.batches = 0

    def generate(self, requests: Sequence[EngineRequest]) -> list[Completion]:
        self.batches += 1
        self.requests += len(requests)
        return self.inner.generate(requests)

    def close(self) -> None:
        """The inner engine is shared; its own factory's owner closes it."""


def sent(factory: Counting) -> int:
    """Requests that reached the engine behind `factory` so far in this process."""
    return shared_engine(factory).requests


@dataclass(frozen=True)
class Counting:
    inner: EngineFactory = EmbeddedEngine()

    def __call__(self) -> CountingEngine:
        return CountingEngine(shared_engine(self.inner))


class _FailingEngine(CountingEngine):
    def __init__(self, inner: Engine, fail_on_batch: int) -> None:
        super().__init__(inner)
        self.fail_on_batch = fail_on_batch

    def generate(self, requests: Sequence[EngineRequest]) -> list[Completion]:
        if self.batches + 1 == self.fail_on_batch:
            self.batches += 1
            raise EngineError(f"injected fault: server went away on batch {self.fail_on_batch}")
        return super().generate(requests)


@dataclass(frozen=True)
class FailingOnBatch:
    """Fault injection: a real engine that raises EngineError on its Nth batch."""

    fail_on_batch: int
    # Distinguishes instances, so each test gets a fresh batch count from `shared_engine`.
    tag: str = field(default="")
    inner: EngineFactory = EmbeddedEngine()

    def __call__(self) -> Engine:
        return _FailingEngine(shared_engine(self.inner), self.fail_on_batch)


class _LedgerEngine(CountingEngine):
    def __init__(self, inner: Engine, ledger: str) -> None:
        super().__init__(inner)
        self.ledger = ledger

    def generate(self, requests: Sequence[EngineRequest]) -> list[Completion]:
        completions = super().generate(requests)
        with open(self.ledger, "a") as ledger:  # one short append per batch: whole lines across processes
            ledger.write("".join(f"{os.getpid()}\n" for _ in requests))
        return completions


@dataclass(frozen=True)
class Ledger:
    """Instrumentation: a real engine underneath that appends one line per answered request, with the
    answering process's id, to a file, so requests are counted across worker processes."""

    path: str
    inner: EngineFactory = EmbeddedEngine()

    def __call__(self) -> Engine:
        return _LedgerEngine(shared_engine(self.inner), self.path)

    def answered_by(self) -> list[int]:
        """The process id of each request answered so far."""
        return [int(line) for line in Path(self.path).read_text().split()] if Path(self.path).exists() else []
