"""Session fixtures for LLM engine tests: the embedded GGUF and one real llama.cpp server."""

from __future__ import annotations

import pytest
from llm_server import LlamaServer

__all__ = ["embedded_gguf", "llama_server"]


@pytest.fixture(scope="session")
def embedded_gguf() -> str:
    from llm_jobs.engines.embedded_model import embedded_model_path

    return embedded_model_path()


@pytest.fixture(scope="session")
def llama_server(embedded_gguf):
    with LlamaServer(embedded_gguf) as server:
        yield server
