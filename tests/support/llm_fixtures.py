"""Session fixtures for LLM engine tests: the embedded GGUF, one real llama.cpp server, and the
embedded engine behind a request counter."""

from __future__ import annotations

import pytest

from llm_jobs.handler import shared_engine
from support.llm_job_support import Counting
from support.llm_server import LlamaServer

__all__ = ["counting", "embedded_gguf", "llama_server"]


@pytest.fixture(scope="session")
def embedded_gguf() -> str:
    from llm_jobs.engines.embedded_model import embedded_model_path

    return embedded_model_path()


@pytest.fixture(scope="session")
def llama_server(embedded_gguf):
    with LlamaServer(embedded_gguf) as server:
        yield server


@pytest.fixture(scope="session")
def counting() -> Counting:
    """The embedded engine counting its requests (compare before and after: the count is shared)."""
    factory = Counting()
    shared_engine(factory)  # one model load for the session
    return factory
