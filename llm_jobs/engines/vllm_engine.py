"""vLLM offline engine for GPU workers: one `vllm.LLM`, whole batches per call, prefix caching on.

Jobs send many requests that share a system prompt, so prefix caching saves most prompt compute.
Constrained decoding uses vLLM's structured outputs (`StructuredOutputsParams(json=...)`, the API
that replaced `guided_decoding` in v0.12). vLLM is imported only here, when the engine is built,
so the package works without the `gpu` extra.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llm_jobs.engines.base import Completion, EngineError, EngineRequest, TokenLogprobs


def _token_logprobs(output: Any) -> tuple[TokenLogprobs, ...] | None:
    """vLLM gives, per generated token, {token_id: Logprob(logprob, rank, decoded_token)}."""
    if output.logprobs is None:
        return None
    steps = []
    for token_id, alternatives in zip(output.token_ids, output.logprobs):
        chosen = alternatives[token_id]
        steps.append(
            TokenLogprobs(
                token=chosen.decoded_token or "",
                logprob=float(chosen.logprob),
                top={alt.decoded_token or "": float(alt.logprob) for alt in alternatives.values()},
            )
        )
    return tuple(steps)


class VLLMEngine:
    def __init__(
        self,
        model: str,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        enable_prefix_caching: bool = True,
        dtype: str = "auto",
    ) -> None:
        try:
            import vllm
        except ImportError as exc:
            raise EngineError("the vllm engine needs vLLM: pip install 'recaug[gpu]'") from exc
        self.model_id = f"vllm:{model}:{dtype}"
        self.supports_logprobs = True
        self._llm = vllm.LLM(
            model=model,
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
            enable_prefix_caching=enable_prefix_caching,
            dtype=dtype,
        )

    def __repr__(self) -> str:
        return f"VLLMEngine(model_id={self.model_id!r})"

    @staticmethod
    def _sampling_params(request: EngineRequest):
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        sampling = request.sampling
        return SamplingParams(
            max_tokens=sampling.max_tokens,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            seed=sampling.seed,
            logprobs=sampling.top_logprobs or None,
            structured_outputs=StructuredOutputsParams(json=request.json_schema),
        )

    def generate(self, requests: Sequence[EngineRequest]) -> list[Completion]:
        if not requests:
            return []
        outputs = self._llm.chat(
            [list(request.messages) for request in requests],
            sampling_params=[self._sampling_params(request) for request in requests],
            use_tqdm=False,
        )
        completions = []
        for result in outputs:
            output = result.outputs[0]
            completions.append(
                Completion(
                    text=output.text,
                    prompt_tokens=len(result.prompt_token_ids or ()),
                    completion_tokens=len(output.token_ids),
                    finish_reason=output.finish_reason or "stop",
                    logprobs=_token_logprobs(output),
                )
            )
        return completions

    def close(self) -> None:
        self._llm = None
