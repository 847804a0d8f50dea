"""The OpenAI chat-completion wire format, shared by every engine that speaks it.

llama-cpp-python's in-process `create_chat_completion` returns the same dicts an OpenAI-compatible
server sends, so one mapping turns both into a `Completion`.
"""

from __future__ import annotations

from typing import Any

from llm_jobs.engines.base import Completion, EngineError, TokenLogprobs


def _logprobs(choice: dict[str, Any]) -> tuple[TokenLogprobs, ...] | None:
    content = (choice.get("logprobs") or {}).get("content")
    if content is None:
        return None
    return tuple(
        TokenLogprobs(
            token=entry["token"],
            logprob=float(entry["logprob"]),
            top={alt["token"]: float(alt["logprob"]) for alt in entry.get("top_logprobs") or ()},
        )
        for entry in content
    )


def completion_from_response(response: dict[str, Any]) -> Completion:
    """The first choice of a chat-completion response, with its usage; malformed -> EngineError."""
    try:
        choice = response["choices"][0]
        usage = response.get("usage") or {}
        return Completion(
            text=choice["message"].get("content") or "",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            finish_reason=choice.get("finish_reason") or "stop",
            logprobs=_logprobs(choice),
        )
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise EngineError(f"malformed chat completion response: {exc!r}") from exc
