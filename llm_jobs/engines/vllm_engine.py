"""vLLM offline engine for GPU workers: one `vllm.LLM`, whole batches per call, prefix caching on.

Jobs send many requests that share a system prompt, so prefix caching saves most prompt compute.
Constrained decoding uses vLLM's structured outputs (`StructuredOutputsParams(json=...)`, the API
that replaced `guided_decoding` in v0.12). vLLM is imported only here, when the engine is built,
so the package works without the `gpu` extra.

The keyword arguments the engine passes to vLLM are built by `llm_kwargs`, `sampling_kwargs` and
`chat_kwargs`, so tests/unit/test_vllm_api.py checks exactly these against the installed vLLM.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from llm_jobs.engines.base import Completion, EngineError, EngineRequest, TokenLogprobs, refused

VLLM_API_VERSION = "0.32.0"
"""The vLLM release whose API this engine follows: `vllm.LLM(...)`, `LLM.chat(...)`,
`SamplingParams`, `StructuredOutputsParams`, `RequestOutput`/`CompletionOutput` and `Logprob`, as
read in that release's wheel. The `gpu` extra pins it: 0.32.0 is the newest vLLM built on the
project's torch 2.13.0 (0.33.0 requires torch 2.14.0)."""

_T = TypeVar("_T")


def llm_kwargs(
    model: str,
    *,
    tensor_parallel_size: int = 1,
    gpu_memory_utilization: float = 0.9,
    max_model_len: int | None = None,
    enable_prefix_caching: bool = True,
    dtype: str = "auto",
) -> dict[str, Any]:
    """Keyword arguments for `vllm.LLM`; max_model_len=None takes the model's own context length.

    `max_model_len` and `enable_prefix_caching` are not in `LLM.__init__`'s signature: it passes
    them on, through `**kwargs`, to `vllm.EngineArgs`.
    """
    return {
        "model": model,
        "tensor_parallel_size": tensor_parallel_size,
        "gpu_memory_utilization": gpu_memory_utilization,
        "max_model_len": max_model_len,
        "enable_prefix_caching": enable_prefix_caching,
        "dtype": dtype,
    }


def sampling_kwargs(request: EngineRequest) -> dict[str, Any]:
    """Keyword arguments for `vllm.SamplingParams`; `structured_outputs` holds those of
    `StructuredOutputsParams`. top_k and min_p keep vLLM's "off" defaults, so only temperature and
    top_p shape sampling, as on every other engine."""
    sampling = request.sampling
    return {
        "max_tokens": sampling.max_tokens,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "seed": sampling.seed,
        "logprobs": sampling.top_logprobs or None,
        "structured_outputs": {"json": request.json_schema},
    }


def chat_kwargs(sampling_params: Sequence[Any]) -> dict[str, Any]:
    """Keyword arguments for `LLM.chat`, besides the conversations: one SamplingParams each."""
    return {"sampling_params": list(sampling_params), "use_tqdm": False}


def answer_or_refuse(
    items: Sequence[_T],
    answer: Callable[[Sequence[_T]], list[Completion]],
    refusal: type[Exception],
    describe: Callable[[Exception], str],
) -> list[Completion]:
    """`answer(items)`, where a `refusal` raised for the whole batch refuses only the items causing it.

    vLLM validates every request (prompt length, logprobs count) before generating any, and raises
    for the batch; the batch is halved until the refused requests stand alone, so the rest are
    still answered in batches and a failed call costs only prompt rendering.
    """
    if not items:
        return []
    try:
        return answer(items)
    except refusal as exc:
        if len(items) == 1:
            return [refused(describe(exc), "invalid_request")]
    middle = len(items) // 2
    return answer_or_refuse(items[:middle], answer, refusal, describe) + answer_or_refuse(
        items[middle:], answer, refusal, describe
    )


def refusal_error() -> type[Exception]:
    """What vLLM raises for a request it will not serve (its VLLMValidationError's base), not for a broken engine."""
    from vllm.exceptions import VLLMClientError

    return VLLMClientError


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


def completion_from_output(result: Any) -> Completion:
    """A Completion from one `vllm.RequestOutput` (one sample per request, so `outputs[0]`)."""
    output = result.outputs[0]
    return Completion(
        text=output.text,
        prompt_tokens=len(result.prompt_token_ids or ()),
        completion_tokens=len(output.token_ids),
        finish_reason=output.finish_reason or "stop",
        logprobs=_token_logprobs(output),
    )


class VLLMEngine:
    def __init__(self, model: str, **options: Any) -> None:
        """`options` are `llm_kwargs`'s keywords (tensor_parallel_size, max_model_len, ...)."""
        kwargs = llm_kwargs(model, **options)
        try:
            import vllm
        except ImportError as exc:
            raise EngineError(
                f"the vllm engine needs vLLM {VLLM_API_VERSION} on a CUDA machine: pip install 'recaug[gpu]'"
            ) from exc
        self.model_id = f"vllm:{model}:{kwargs['dtype']}"
        self.supports_logprobs = True
        # vLLM schedules a whole batch at once: hundreds of sequences in flight keep a GPU busy.
        self.preferred_batch_size = 256
        self._refusal = refusal_error()
        self._llm = vllm.LLM(**kwargs)

    def __repr__(self) -> str:
        return f"VLLMEngine(model_id={self.model_id!r})"

    @staticmethod
    def _sampling_params(request: EngineRequest):
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        kwargs = sampling_kwargs(request)
        kwargs["structured_outputs"] = StructuredOutputsParams(**kwargs["structured_outputs"])
        return SamplingParams(**kwargs)

    def _answer(self, requests: Sequence[EngineRequest]) -> list[Completion]:
        outputs = self._llm.chat(
            [list(request.messages) for request in requests],
            **chat_kwargs([self._sampling_params(request) for request in requests]),
        )
        return [completion_from_output(result) for result in outputs]

    def generate(self, requests: Sequence[EngineRequest]) -> list[Completion]:
        return answer_or_refuse(requests, self._answer, self._refusal, self._describe_refusal)

    def _describe_refusal(self, exc: Exception) -> str:
        # vLLM's prompt-length message says "maximum model length"; the window size names the limit.
        return f"{self.model_id} (context window {self._llm.model_config.max_model_len} tokens): {exc}"

    def close(self) -> None:
        self._llm = None
