"""An engine that answers every request at once with a scripted text: it measures the LLM runtime's
own cost (rendering, cache, Beam, validation, Parquet), and is never a correctness test of a task."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from llm_jobs.engines.base import Completion, EngineRequest


class InstantScriptedEngine:
    model_id = "instant-scripted"
    supports_logprobs = False

    def __init__(self, answer: str, batch_size: int) -> None:
        self.answer = answer
        self.preferred_batch_size = batch_size
        self._tokens = max(1, len(answer) // 4)

    def generate(self, requests: Sequence[EngineRequest]) -> list[Completion]:
        return [Completion(self.answer, 100, self._tokens, "stop") for _ in requests]

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class InstantScripted:
    """Factory of `InstantScriptedEngine`; batch_size as a vLLM or server-fleet engine would ask for."""

    answer: str
    batch_size: int = 256

    def __call__(self) -> InstantScriptedEngine:
        return InstantScriptedEngine(self.answer, self.batch_size)
