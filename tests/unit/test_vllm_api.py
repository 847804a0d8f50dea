"""The vLLM engine against the vLLM API it follows.

The first tests run everywhere: the `gpu` extra pins the release the engine names, and the
keyword builders and the refusal split behave. The rest read the installed vLLM itself (its
signatures, and real SamplingParams / RequestOutput objects, which need no GPU) and are skipped
where vLLM is not installed.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import tomllib
from pathlib import Path

import pytest

from llm_jobs.engines.base import Completion, EngineRequest, Sampling
from llm_jobs.engines.vllm_engine import (
    VLLM_API_VERSION,
    VLLMEngine,
    answer_or_refuse,
    chat_kwargs,
    completion_from_output,
    llm_kwargs,
    refusal_error,
    sampling_kwargs,
)

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
SCHEMA = {"type": "object", "properties": {"item_ids": {"type": "array", "items": {"enum": ["B1", "B2"]}}}}
MESSAGES = ({"role": "system", "content": "Answer with JSON."}, {"role": "user", "content": "Pick."})


def _request(top_logprobs: int = 0) -> EngineRequest:
    return EngineRequest(MESSAGES, SCHEMA, Sampling(max_tokens=40, temperature=0.2, top_p=0.9, seed=7,
                                                    top_logprobs=top_logprobs))  # fmt: skip


needs_vllm = pytest.mark.skipif(
    importlib.util.find_spec("vllm") is None,
    reason=f"vLLM {VLLM_API_VERSION} is not installed: it comes with the `gpu` extra "
    "(pip install 'recaug[gpu]'), on a CUDA machine",
)


def test_gpu_extra_pins_the_vllm_release_the_engine_follows():
    extras = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]
    assert extras["gpu"] == [f"vllm=={VLLM_API_VERSION}"]


def test_llm_kwargs_turn_prefix_caching_on_and_pass_settings_through():
    assert llm_kwargs("org/model") == {
        "model": "org/model",
        "tensor_parallel_size": 1,
        "gpu_memory_utilization": 0.9,
        "max_model_len": None,
        "enable_prefix_caching": True,
        "dtype": "auto",
    }
    assert llm_kwargs("m", tensor_parallel_size=2, max_model_len=2048)["tensor_parallel_size"] == 2
    with pytest.raises(TypeError, match="tensor_parallel"):
        llm_kwargs("m", tensor_parallel=2)


def test_sampling_kwargs_ask_logprobs_only_when_the_request_does():
    # vLLM reads logprobs=0 as "the chosen token's logprob", so "none asked" must be None.
    assert sampling_kwargs(_request(top_logprobs=0)) == {
        "max_tokens": 40,
        "temperature": 0.2,
        "top_p": 0.9,
        "seed": 7,
        "logprobs": None,
        "structured_outputs": {"json": SCHEMA},
    }
    assert sampling_kwargs(_request(top_logprobs=3))["logprobs"] == 3
    assert chat_kwargs(()) == {"sampling_params": [], "use_tqdm": False}


class TooLong(Exception):
    pass


def test_answer_or_refuse_refuses_only_the_requests_vllm_rejects():
    """vLLM raises for a whole batch when one request is invalid; only that one is refused."""
    items = [3, 1, 99, 2, 98, 4, 5]
    calls = []

    def answer(batch):
        calls.append(list(batch))
        if any(item > 10 for item in batch):
            raise TooLong(f"prompt of {max(batch)} tokens")
        return [Completion(str(item), item, 1, "stop") for item in batch]

    completions = answer_or_refuse(items, answer, TooLong, lambda exc: f"engine: {exc}")

    assert [c.text for c in completions] == ["3", "1", "", "2", "", "4", "5"]
    refusals = [c for c in completions if c.finish_reason == "error"]
    assert [(c.error, c.refusal) for c in refusals] == [
        ("engine: prompt of 99 tokens", "invalid_request"),
        ("engine: prompt of 98 tokens", "invalid_request"),
    ]
    answered_in = [batch for batch in calls if all(item <= 10 for item in batch)]
    assert sorted(item for batch in answered_in for item in batch) == [1, 2, 3, 4, 5]
    assert max(len(batch) for batch in answered_in) > 1  # the valid ones still go in batches
    assert answer_or_refuse([], answer, TooLong, str) == []


# --- against the installed vLLM --------------------------------------------------------------


@needs_vllm
def test_installed_vllm_is_the_pinned_release():
    import vllm

    assert vllm.__version__ == VLLM_API_VERSION


@needs_vllm
def test_llm_and_chat_take_every_keyword_the_engine_passes():
    from vllm import LLM
    from vllm.engine.arg_utils import EngineArgs

    init = inspect.signature(LLM.__init__).parameters
    engine_args = {field.name for field in dataclasses.fields(EngineArgs)}
    # LLM(...) hands keywords outside its signature, through **kwargs, to EngineArgs.
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in init.values())
    passed = llm_kwargs("m", max_model_len=2048)
    assert {key for key in passed if key not in init and key not in engine_args} == set()

    chat = inspect.signature(LLM.chat).parameters
    assert list(chat)[1] == "messages"
    assert set(chat_kwargs(())) - set(chat) == set()


@needs_vllm
def test_sampling_params_built_from_a_request():
    from vllm import SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    params = VLLMEngine._sampling_params(_request(top_logprobs=3))

    assert isinstance(params, SamplingParams) and isinstance(params.structured_outputs, StructuredOutputsParams)
    assert (params.max_tokens, params.temperature, params.top_p, params.seed, params.logprobs) == (40, 0.2, 0.9, 7, 3)
    assert params.structured_outputs.json == SCHEMA
    assert (params.top_k, params.min_p) == (0, 0.0)  # vLLM's "off": only temperature and top_p sample
    assert VLLMEngine._sampling_params(_request()).logprobs is None


@needs_vllm
def test_completion_read_from_real_vllm_outputs():
    from vllm.logprobs import Logprob
    from vllm.outputs import CompletionOutput, RequestOutput

    steps = [
        {11: Logprob(logprob=-0.1, rank=1, decoded_token='{"'), 12: Logprob(logprob=-2.5, rank=2, decoded_token="{")},
        {
            13: Logprob(logprob=-0.7, rank=2, decoded_token="item"),
            14: Logprob(logprob=-0.6, rank=1, decoded_token="id"),
        },
    ]
    output = CompletionOutput(index=0, text='{"item', token_ids=[11, 13], cumulative_logprob=-0.8, logprobs=steps,
                              finish_reason="length")  # fmt: skip
    result = RequestOutput(request_id="0", prompt=None, prompt_token_ids=[1, 2, 3, 4], prompt_logprobs=None,
                           outputs=[output], finished=True)  # fmt: skip

    completion = completion_from_output(result)

    assert (completion.text, completion.prompt_tokens, completion.completion_tokens) == ('{"item', 4, 2)
    assert completion.finish_reason == "length" and completion.error is None
    assert [(step.token, step.logprob) for step in completion.logprobs] == [('{"', -0.1), ("item", -0.7)]
    assert completion.logprobs[1].top == {"item": -0.7, "id": -0.6}


@needs_vllm
def test_prompt_validation_errors_are_the_refusals_the_engine_catches():
    from vllm.exceptions import VLLMClientError, VLLMValidationError

    # vLLM raises VLLMValidationError for a prompt longer than max_model_len (or too many logprobs).
    assert refusal_error() is VLLMClientError
    assert issubclass(VLLMValidationError, refusal_error())
