"""The LLM engine and job settings as one Dagster resource, so an asset never names an engine.

`kind` picks the engine (`llamacpp` embedded default, `openai` for any OpenAI-compatible server,
`vllm` on a GPU); the rest of the fields are that engine's options and how jobs run (batching,
retries, reject threshold, Beam runner). Secrets stay in the environment: only the *name* of the
variable holding the API key is configuration. `llm_resource_from_env` picks the engine from
RECAUG_ENGINE / RECAUG_BASE_URL / RECAUG_MODEL (and `recaug run --engine/--base-url/--model`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg

from llm_jobs.config import LLMJobConfig
from llm_jobs.engines import build_engine
from llm_jobs.engines.base import Engine


@dataclass(frozen=True)
class BuildEngine:
    """Picklable and hashable engine factory: travels to Beam workers and keys the shared engine."""

    kind: str
    options: tuple[tuple[str, Any], ...]

    def __call__(self) -> Engine:
        return build_engine(self.kind, **dict(self.options))


class LLMJobSettings(dg.Config, LLMJobConfig):
    """How jobs run: the fields, defaults and bounds of llm_jobs.config.LLMJobConfig."""


class LLMEngineResource(dg.ConfigurableResource):
    kind: str = "llamacpp"
    # llamacpp: a GGUF path (default: the embedded SmolLM2); openai and vllm: the model's name.
    model: str | None = None
    # llamacpp only (the others always return them): log-probabilities for every task, not only
    # for the tasks that read them.
    logprobs: bool = False
    base_url: str | None = None
    api_key_env: str | None = "OPENAI_API_KEY"
    concurrency: int = 8
    timeout_s: float = 60
    max_retries: int = 4
    # openai: one request's time over all its attempts.
    deadline_s: float = 120
    # openai: "json_schema" (OpenAI, vllm serve) or "json_object" (llama-cpp-python's server).
    structured_output: str = "json_schema"
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    job: LLMJobSettings = LLMJobSettings()

    def engine_options(self, logprobs: bool = False) -> dict[str, Any]:
        """`logprobs` asks for an engine that returns log-probabilities (a separate llama.cpp
        instance, since keeping every logit slows all its other requests down)."""
        if self.kind == "llamacpp":
            return {"model_path": self.model, "logprobs": self.logprobs or logprobs}
        if self.kind == "openai":
            if not (self.base_url and self.model):
                raise ValueError("the openai engine needs base_url and model")
            return {
                "base_url": self.base_url,
                "model": self.model,
                "api_key_env": self.api_key_env,
                "concurrency": self.concurrency,
                "timeout_s": self.timeout_s,
                "max_retries": self.max_retries,
                "deadline_s": self.deadline_s,
                "structured_output": self.structured_output,
            }
        if self.kind == "vllm":
            if not self.model:
                raise ValueError("the vllm engine needs model")
            return {
                "model": self.model,
                "tensor_parallel_size": self.tensor_parallel_size,
                "gpu_memory_utilization": self.gpu_memory_utilization,
            }
        raise ValueError(f"unknown engine kind {self.kind!r}; expected one of llamacpp, openai, vllm")

    def engine_factory(self, logprobs: bool = False) -> BuildEngine:
        return BuildEngine(self.kind, tuple(sorted(self.engine_options(logprobs).items())))

    def job_config(self) -> LLMJobConfig:
        return LLMJobConfig.model_validate(self.job.model_dump())


ENGINE_ENV = {"kind": "RECAUG_ENGINE", "base_url": "RECAUG_BASE_URL", "model": "RECAUG_MODEL"}


def llm_resource_from_env(environ: Mapping[str, str] = os.environ, **overrides: Any) -> LLMEngineResource:
    """The engine named by `overrides` (None values are skipped), else by RECAUG_ENGINE,
    RECAUG_BASE_URL and RECAUG_MODEL, else the embedded default."""
    fields = {name: environ[var] for name, var in ENGINE_ENV.items() if environ.get(var)}
    fields |= {name: value for name, value in overrides.items() if value is not None}
    return LLMEngineResource(**fields)
