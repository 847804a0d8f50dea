"""In-process llama.cpp engine: the embedded default for laptops and CI.

Constrained decoding compiles the request's JSON schema to a GBNF grammar; many requests of a job
share one schema shape, so compiled grammars are kept in a small LRU keyed by the schema's JSON.
Log-probabilities need llama.cpp to keep logits for every position (`logits_all`). Measured on 2
CPU cores with SmolLM2-135M, that alone costs under 10% (a ~300-token prompt: 0.87 -> 0.95 s per
request); requests that ask for top_logprobs then take about twice as long, because
llama-cpp-python ranks the whole vocabulary in Python per token. `logprobs=False` drops
`logits_all` for jobs that never read them. Weight repacking is off unless asked for (see
`llamacpp_repack`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from llm_jobs.engines.base import Completion, EngineError, EngineRequest, refused
from llm_jobs.engines.embedded_model import embedded_model_path
from llm_jobs.engines.llamacpp_repack import without_weight_repacking
from llm_jobs.engines.openai_format import completion_from_response


@functools.lru_cache(maxsize=8)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    """Hash of the weights, once per file version (size and mtime are part of the key)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def gguf_model_id(path: str) -> str:
    """`llamacpp:<file name>:<sha256 prefix>` — names the exact weights and quantization."""
    stat = os.stat(path)
    return f"llamacpp:{Path(path).name}:{_file_sha256(path, stat.st_size, stat.st_mtime_ns)[:12]}"


@functools.lru_cache(maxsize=64)
def _grammar(schema_json: str):
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_json_schema(schema_json, verbose=False)


class LlamaCppEngine:
    """Runs a GGUF model in this process; requests run one after another (one llama.cpp context)."""

    def __init__(
        self,
        model_path: str | None = None,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_batch: int = 512,
        logprobs: bool = True,
        repack_weights: bool = False,
    ) -> None:
        from llama_cpp import Llama

        path = model_path or embedded_model_path()
        if not Path(path).is_file():
            raise EngineError(f"GGUF model file not found: {path}")
        self.model_id = gguf_model_id(path)
        self.supports_logprobs = logprobs
        self._lock = threading.Lock()  # one context: Beam may call generate from several threads
        loading = contextlib.nullcontext() if repack_weights else without_weight_repacking()
        try:
            with loading:
                self._llama = Llama(
                    model_path=path,
                    n_ctx=n_ctx,
                    n_threads=n_threads,
                    n_batch=n_batch,
                    logits_all=logprobs,
                    verbose=False,
                )
        except ValueError as exc:  # llama-cpp-python's way of saying the file did not load
            raise EngineError(f"could not load {path}: {exc}") from exc

    def __repr__(self) -> str:
        return f"LlamaCppEngine(model_id={self.model_id!r}, logprobs={self.supports_logprobs})"

    def _one(self, request: EngineRequest) -> Completion:
        sampling = request.sampling
        want_logprobs = self.supports_logprobs and sampling.top_logprobs > 0
        # Key order is kept: the grammar emits properties in the schema's order.
        schema_json = json.dumps(request.json_schema, separators=(",", ":"))
        try:
            response = self._llama.create_chat_completion(
                messages=list(request.messages),
                grammar=_grammar(schema_json),
                max_tokens=sampling.max_tokens,
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                # Only temperature and top_p shape sampling, as on every other engine.
                top_k=0,
                min_p=0.0,
                seed=sampling.seed,
                logprobs=want_logprobs or None,
                top_logprobs=sampling.top_logprobs if want_logprobs else None,
            )
        except ValueError as exc:  # e.g. the prompt does not fit the context window
            return refused(f"{self.model_id}: {exc}", "invalid_request")
        return completion_from_response(response)

    def generate(self, requests: Sequence[EngineRequest]) -> list[Completion]:
        with self._lock:
            return [self._one(request) for request in requests]

    def close(self) -> None:
        with self._lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None
