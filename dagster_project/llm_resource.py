"""The LLM engine and job settings as one Dagster resource, so an asset never names an engine.

`kind` picks the engine (`llamacpp` embedded default, `openai` for any OpenAI-compatible server,
`vllm` on a GPU); the rest of the fields are that engine's options and how jobs run (batching,
retries, reject threshold, Beam runner). Secrets stay in the environment: only the *name* of the
variable holding the API key is configuration.
"""

from __future__ import annotations

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


class LLMJobSettings(dg.Config):
    """How jobs run; see llm_jobs.config.LLMJobConfig."""

    min_batch_size: int = 1
    max_batch_size: int = 8
    max_attempts: int = 3
    max_reject_rate: float = 0.2
    runner: str = "DirectRunner"
    pipeline_options: dict[str, str] = {}
    share_engine_across_processes: bool = False
    progress: bool = True


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
        return LLMJobConfig(**self.job.model_dump())
