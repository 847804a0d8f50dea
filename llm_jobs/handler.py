"""A Beam `ModelHandler` that sends batches of requests to an engine and commits the responses.

Engines are shared per process and factory (`shared_engine`); so are the health check, done once
before an engine's first request (`checked_engine`), and the engine time spent, which the
handler holds against `LLMJobConfig.engine_budget_s`. A `recaug run` is one process, so these
are per run there; under Dagster's multiprocess executor they are per step.
"""

from __future__ import annotations

import atexit
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from llm_jobs.cache import CachedResponse, ResponseCache, as_stored, now_utc
from llm_jobs.config import LLMJobConfig
from llm_jobs.engines.base import BatchFailed, Completion, Engine, EngineError, EngineRequest, HealthChecked
from llm_jobs.metrics import METRICS_NAMESPACE, count
from llm_jobs.progress import advance

#: A picklable, hashable callable building an engine (e.g. a frozen dataclass); it travels to workers.
EngineFactory = Callable[[], Engine]

#: Requests per engine call for an engine that states no preference (`preferred_batch_size`).
DEFAULT_BATCH_SIZE = 8

_engines: dict[EngineFactory, Engine] = {}
_engines_lock = threading.RLock()  # factories may build on other shared engines


def shared_engine(factory: EngineFactory) -> Engine:
    """One engine per process and factory: the job reads `model_id` from it on the driver, and the
    in-process DirectRunner then reuses it instead of loading the weights a second time."""
    with _engines_lock:
        engine = _engines.get(factory)
        if engine is None:
            engine = _engines[factory] = factory()
        return engine


_healthy: set[EngineFactory] = set()
_engine_seconds: dict[EngineFactory, float] = {}


class EngineBudgetSpent(EngineError):
    """The engine time allowed to this run (`engine_budget_s`) is used up."""


def checked_engine(factory: EngineFactory) -> Engine:
    """`shared_engine(factory)`, health-checked before its first use in this process when it sits
    behind a network hop (a failed check raises EngineError and is tried again next time)."""
    engine = shared_engine(factory)
    with _engines_lock:
        if factory not in _healthy:
            if isinstance(engine, HealthChecked):
                engine.check_health()
            _healthy.add(factory)
    return engine


def engine_seconds(factory: EngineFactory) -> float:
    """Seconds this process has spent waiting on the engine of `factory`."""
    with _engines_lock:
        return _engine_seconds.get(factory, 0.0)


def _spend(factory: EngineFactory, seconds: float) -> None:
    with _engines_lock:
        _engine_seconds[factory] = _engine_seconds.get(factory, 0.0) + seconds


@atexit.register
def _close_engines() -> None:
    # Closed while the interpreter is still whole; native engines crash if left to garbage collection.
    with _engines_lock:
        while _engines:
            _engines.popitem()[1].close()


@dataclass(frozen=True, slots=True)
class RowRequest:
    """One input row's request at one attempt, as it flows through the pipeline."""

    row: dict[str, Any]
    attempt: int  # 0 for the first
    key: str  # cache_key.request_key of the request
    request: EngineRequest


@dataclass(frozen=True)
class Batching:
    min_size: int
    max_size: int


def batching(config: LLMJobConfig, engine: Engine) -> Batching:
    """The configured batch sizes, or the engine's own preference (hundreds for vLLM and server fleets)."""
    largest = config.max_batch_size or getattr(engine, "preferred_batch_size", DEFAULT_BATCH_SIZE)
    return Batching(min(config.min_batch_size, largest), largest)


class LLMModelHandler(ModelHandler[RowRequest, PredictionResult, Engine]):
    def __init__(
        self,
        engine_factory: EngineFactory,
        cache: ResponseCache,
        model_id: str,
        task_version: str,
        run_id: str,
        sizes: Batching,
        config: LLMJobConfig,
        progress_total: int | None = None,
    ) -> None:
        super().__init__(
            min_batch_size=sizes.min_size,
            max_batch_size=sizes.max_size,
            large_model=config.share_engine_across_processes,
        )
        self._factory = engine_factory
        self._cache = cache
        self._model_id = model_id
        self._task_version = task_version
        self._run_id = run_id
        self._budget_s = config.engine_budget_s
        # The first round's handler advances the run's progress bar (`llm_jobs.progress`).
        self._progress_total = progress_total if config.progress else None

    def load_model(self) -> Engine:
        return shared_engine(self._factory)

    def get_metrics_namespace(self) -> str:
        return METRICS_NAMESPACE

    def run_inference(
        self, batch: Sequence[RowRequest], model: Engine, inference_args: dict[str, Any] | None = None
    ) -> list[PredictionResult]:
        spent = engine_seconds(self._factory)
        if self._budget_s is not None and spent >= self._budget_s:
            raise EngineBudgetSpent(
                f"{self._model_id}: the run's engine time budget (engine_budget_s={self._budget_s:g}) is spent "
                f"({spent:.0f} s); responses committed so far stay cached"
            )
        engine = checked_engine(self._factory)  # once per process, before its first request
        clock = time.perf_counter()
        try:
            completions = engine.generate([element.request for element in batch])
        except BatchFailed as failure:
            # Answers that came back before the failure are kept, so a rerun does not pay for them again.
            self._commit(batch, failure.answered)
            raise
        finally:
            _spend(self._factory, time.perf_counter() - clock)
        if len(completions) != len(batch):
            raise EngineError(f"{self._model_id}: {len(completions)} completions for {len(batch)} requests")
        completions = [as_stored(completion) for completion in completions]  # judged as a rerun would
        # Committed before returning, batch by batch: whatever a kill interrupts later, these
        # responses are durable, so a job loses at most the batches still in flight.
        self._commit(batch, dict(enumerate(completions)))
        self._record(completions)
        return [
            PredictionResult(element, completion, self._model_id) for element, completion in zip(batch, completions)
        ]

    def _commit(self, batch: Sequence[RowRequest], completions: Mapping[int, Completion]) -> None:
        created_at = now_utc()
        self._cache.commit(
            (
                CachedResponse(
                    batch[i].key, self._model_id, self._cache.task_name, self._task_version, completion, created_at
                )
                for i, completion in sorted(completions.items())
            ),
            self._run_id,
        )

    def _record(self, completions: Sequence[Completion]) -> None:
        completion_tokens = sum(c.completion_tokens for c in completions)
        count("requests_sent", len(completions))
        count("prompt_tokens", sum(c.prompt_tokens for c in completions))
        count("completion_tokens", completion_tokens)
        if self._progress_total is not None:
            advance(self._run_id, self._cache.task_name, self._progress_total, len(completions), completion_tokens)
