"""Engines by name, so configuration (not code) picks where a job's requests run."""

from __future__ import annotations

import importlib.util

from llm_jobs.engines.base import Engine


def build_engine(kind: str = "llamacpp", **options) -> Engine:
    """An engine of `kind` ("llamacpp", "openai", "vllm") built with its constructor's options."""
    if kind == "llamacpp":
        from llm_jobs.engines.llamacpp import LlamaCppEngine

        return LlamaCppEngine(**options)
    if kind == "openai":
        from llm_jobs.engines.openai_http import OpenAIEngine

        return OpenAIEngine(**options)
    if kind == "vllm":
        from llm_jobs.engines.vllm_engine import VLLMEngine

        return VLLMEngine(**options)
    raise ValueError(f"unknown engine kind {kind!r}; expected one of llamacpp, openai, vllm")


def _gpu_visible() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()


def available_engine_kinds() -> list[str]:
    """Kinds that can run here: llamacpp when the embedded model is installed, vllm with a GPU,
    openai always (it only needs a reachable server)."""
    from llm_jobs.engines.embedded_model import embedded_model_path

    kinds = []
    try:
        embedded_model_path()
        if importlib.util.find_spec("llama_cpp") is not None:
            kinds.append("llamacpp")
    except FileNotFoundError:
        pass
    if importlib.util.find_spec("vllm") is not None and _gpu_visible():
        kinds.append("vllm")
    kinds.append("openai")
    return kinds
