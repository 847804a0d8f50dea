"""The one interface every LLM engine implements.

An engine takes a batch of chat requests, each with the JSON schema its output must follow, and
returns one completion per request, in order. Constrained decoding is the engine's job; parsing
and validating what comes back is the job runner's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Sampling:
    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    # How many alternatives per generated token to return log-probabilities for; 0 = none.
    top_logprobs: int = 0


@dataclass(frozen=True)
class EngineRequest:
    messages: tuple[dict[str, str], ...]  # ({"role": "system"|"user"|"assistant", "content": ...}, ...)
    json_schema: dict
    sampling: Sampling


@dataclass(frozen=True)
class TokenLogprobs:
    token: str
    logprob: float
    # The most likely alternatives at this position, token -> logprob (includes `token`).
    top: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop", "length", "error"
    logprobs: tuple[TokenLogprobs, ...] | None = None
    # Set when the engine refused this one request (a prompt longer than the context window, a
    # request the server calls invalid): the row is retried, then rejected, and the job goes on.
    error: str | None = None
    # The refusal's reason class ("invalid_request", "http_413", ...), set with `error`; a cached
    # refusal is sent again once it is older than the job's refusal_max_age_s.
    refusal: str | None = None


def refused(error: str, reason: str) -> Completion:
    return Completion(text="", prompt_tokens=0, completion_tokens=0, finish_reason="error", error=error, refusal=reason)


class EngineError(RuntimeError):
    """The engine as a whole failed (dead server, bad model, bad credentials): the job stops."""


class BatchFailed(EngineError):
    """A batch failed after some of its requests were answered; `answered` maps their positions in
    the batch to their completions, so the caller can keep them."""

    def __init__(self, message: str, answered: Mapping[int, Completion]) -> None:
        super().__init__(message)
        self.answered = dict(answered)


@runtime_checkable
class Engine(Protocol):
    #: Identifies the weights (and quantization) so caches never mix outputs of two models.
    model_id: str
    #: Whether completions carry token log-probabilities when asked.
    supports_logprobs: bool

    def generate(self, requests: Sequence[EngineRequest]) -> list[Completion]: ...

    def close(self) -> None: ...


# An engine may also say how many requests per `generate` call keep it busy, as an int attribute
# `preferred_batch_size` (llm_jobs.handler.batching reads it; 8 when absent).


@runtime_checkable
class HealthChecked(Protocol):
    """An engine behind a network hop, which can be dead or stalled while it is "built"."""

    def check_health(self) -> None:
        """Send one tiny request; raise EngineError, quickly, when no answer comes."""
