"""LLM-I2I (arXiv 2512.21595): a generator proposes long-tail items a user would interact with, and
a discriminator judges (user, item) pairs, real and synthetic, with P(yes).

Input rows (built by `transforms.i2i_synthesis`):
- generator: user_idx, history and candidates (lists of {"id", "text"}); the output picks up to
  k candidates (an enum of the row's candidate ids), each with a short reason.
- discriminator: user_idx, item_idx, source, history, item (the judged item's text).

Our choices where the paper gives none: the paper keeps only synthetic pairs judged with
confidence 1.0 by a fine-tuned model; here the keep threshold is a P(yes) (0.9 by default), read
from log-probabilities where the engine has them, else from a constrained 0-10 confidence.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Literal

import pyarrow as pa
from pydantic import BaseModel, Field, create_model

from llm_jobs.engines.base import Completion, Sampling
from llm_jobs.step import LLMStep, StepRun
from llm_jobs.task import CandidateId, Task
from llm_jobs.tasks.shopper import (
    HISTORY_COLUMNS,
    HISTORY_HEADER,
    LINE_LISTS,
    SYSTEM_PROMPT,
    ZeroToTen,
)
from llm_jobs.tasks.yes_no import p_yes_from_confidence, p_yes_from_logprobs
from schemas.llm_outputs import DISCRIMINATOR, GENERATOR
from schemas.tables import I2I_JUDGEMENTS, SYNTHETIC_PICKS

REASON_CHARS = 60
#: Alternatives per token asked for when reading P(yes) from log-probabilities.
TOP_LOGPROBS = 10


class Pick(BaseModel):
    item: CandidateId
    reason: str = Field(max_length=REASON_CHARS)


def generator_task(max_picks: int) -> Task:
    output = create_model("GeneratorOutput", picks=(list[Pick], Field(max_length=max_picks)), __base__=BaseModel)
    return Task(
        name=GENERATOR,
        version=f"1-k{max_picks}",
        system_prompt=SYSTEM_PROMPT,
        user_template=(
            HISTORY_HEADER
            + "\nCandidate products:\n{candidates}\n\n"
            + f"Pick up to {max_picks} candidate products this customer would most likely buy next, "
            + "by their number, each with a short reason."
        ),
        output_model=output,
        key_columns=("user_idx",),
        # A pick is ~15 tokens; a degenerate one-character-per-token reason can take ~75.
        sampling=Sampling(max_tokens=16 + max_picks * 80),
        untrusted_columns=HISTORY_COLUMNS,
        line_lists=LINE_LISTS,
        candidates_column="candidates",
    )


class Judgement(BaseModel):
    answer: Literal["yes", "no"]


class JudgementWithConfidence(BaseModel):
    answer: Literal["yes", "no"]
    confidence: ZeroToTen


def _p_yes_from_logprobs(parsed: BaseModel, completion: Completion) -> dict:
    if not completion.logprobs:
        raise ValueError("the engine returned no log-probabilities")
    return {"p_yes": p_yes_from_logprobs(completion.text, completion.logprobs), "p_yes_from": "logprobs"}


def _p_yes_from_confidence(parsed: JudgementWithConfidence, completion: Completion) -> dict:
    return {"p_yes": p_yes_from_confidence(parsed.answer, parsed.confidence), "p_yes_from": "confidence"}


def discriminator_task(logprobs: bool) -> Task:
    """Reads P(yes) from log-probabilities when the engine returns them, else asks for a confidence."""
    question = "Would this customer buy this product? Answer yes or no"
    return Task(
        name=DISCRIMINATOR,
        version="1-logprobs" if logprobs else "1-confidence",
        system_prompt=SYSTEM_PROMPT,
        user_template=(
            HISTORY_HEADER
            + "\nProduct:\n{item}\n\n"
            + (f"{question}." if logprobs else f"{question}, with your confidence from 0 to 10.")
        ),
        output_model=Judgement if logprobs else JudgementWithConfidence,
        key_columns=("user_idx", "item_idx", "source"),
        sampling=Sampling(max_tokens=16, top_logprobs=TOP_LOGPROBS) if logprobs else Sampling(max_tokens=24),
        untrusted_columns=HISTORY_COLUMNS,
        line_lists=LINE_LISTS,
        derive=_p_yes_from_logprobs if logprobs else _p_yes_from_confidence,
    )


def _picks(row: dict, output: dict) -> Iterator[dict]:
    """One row per distinct item the user's output picked, in pick order."""
    seen: set[int] = set()
    for pick in output["picks"]:
        item_idx = int(pick["item"])
        if item_idx not in seen:
            seen.add(item_idx)
            yield {"user_idx": row["user_idx"], "item_idx": item_idx, "pick_rank": len(seen), "reason": pick["reason"]}


def generator_step(max_picks: int) -> LLMStep:
    """The generator, its outputs as SYNTHETIC_PICKS rows."""
    return LLMStep(generator_task(max_picks), _picks, SYNTHETIC_PICKS)


def generator_metadata(run: StepRun) -> dict[str, int]:
    """Users prompted, pairs generated, and users whose accepted output picked nothing."""
    users_with_picks = len(set(run.rows["user_idx"].to_pylist()))
    return {
        "users_prompted": run.job.rows,
        "synthetic_pairs_generated": run.rows.num_rows,
        "users_with_no_pick": run.job.accepted - users_with_picks,
    }


def _kept(source: str, p_yes: float, keep_synthetic_at: float, drop_real_below: float | None) -> bool:
    if source == "synthetic":
        return p_yes >= keep_synthetic_at
    if source == "real":
        return drop_real_below is None or p_yes >= drop_real_below
    return False


def discriminator_step(logprobs: bool, keep_synthetic_at: float, drop_real_below: float | None) -> LLMStep:
    """The discriminator, its outputs as I2I_JUDGEMENTS rows; `kept` applies the thresholds: a
    synthetic pair is kept at P(yes) >= keep_synthetic_at, a real pair is dropped below
    drop_real_below (None keeps all), and a negative pair (judged only to measure the judge) is
    never kept."""

    def verdict(row: dict, output: dict) -> Iterator[dict]:
        yield {
            "user_idx": row["user_idx"],
            "item_idx": row["item_idx"],
            "source": row["source"],
            "answer": output["answer"],
            "p_yes": output["p_yes"],
            "p_yes_from": output["p_yes_from"],
            "kept": _kept(row["source"], output["p_yes"], keep_synthetic_at, drop_real_below),
        }

    return LLMStep(discriminator_task(logprobs), verdict, I2I_JUDGEMENTS)


def judgement_metadata(verdicts: pa.Table, logprobs: bool) -> dict[str, int | str]:
    """Pairs judged and kept (or dropped) per source, and where P(yes) came from."""
    counts = Counter(zip(verdicts["source"].to_pylist(), verdicts["kept"].to_pylist()))
    return {
        "synthetic_judged": counts[("synthetic", True)] + counts[("synthetic", False)],
        "synthetic_kept": counts[("synthetic", True)],
        "real_judged": counts[("real", True)] + counts[("real", False)],
        "real_dropped": counts[("real", False)],
        "negatives_judged": counts[("negative", False)],
        "p_yes_from": "logprobs" if logprobs else "confidence",
    }
