"""S-LLMR (arXiv 2512.21526): the LLM scores candidate items for a user, offline, as supervision for
a pairwise ranking regularizer.

Input rows (built by `transforms.slmr`): user_idx, candidate_set, history and candidates (lists of
{"id", "text"}). The output maps every candidate id to an integer score 0-10 (`candidate_map`:
one required property per candidate, so a constrained engine scores each exactly once). `scoring_step`
turns outputs into one row per candidate with score / 10, null where an unconstrained engine left
one out.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
from pydantic import BaseModel

from llm_jobs.engines.base import Sampling
from llm_jobs.step import LLMStep
from llm_jobs.task import Task, candidate_map
from llm_jobs.tasks.shopper import (
    HISTORY_COLUMNS,
    HISTORY_HEADER,
    LINE_LISTS,
    SYSTEM_PROMPT,
    ZeroToTen,
)
from schemas.llm_outputs import SCORER
from schemas.tables import SLMR_RAW_SCORES

SCORE_SCALE = 10


class CandidateScores(BaseModel):
    scores: candidate_map(ZeroToTen)


def scoring_task(max_candidates: int, name: str = SCORER) -> Task:
    return Task(
        name=name,
        version=f"2-n{max_candidates}",
        system_prompt=SYSTEM_PROMPT,
        user_template=(
            HISTORY_HEADER
            + "\nCandidate products:\n{candidates}\n\n"
            + "Score every candidate product by its number: how likely is this customer to buy it, "
            + f"from 0 (not at all) to {SCORE_SCALE} (certainly)?"
        ),
        output_model=CandidateScores,
        key_columns=("user_idx", "candidate_set"),
        # `"123": 7, ` is about six tokens.
        sampling=Sampling(max_tokens=16 + 8 * max_candidates),
        untrusted_columns=HISTORY_COLUMNS,
        line_lists=LINE_LISTS,
        candidates_column="candidates",
    )


def _candidate_scores(row: dict, output: dict) -> Iterator[dict]:
    """One row per candidate of the prompt; raw_score is null where the model gave none."""
    given = {item: score / SCORE_SCALE for item, score in output["scores"].items()}
    for candidate in row["candidates"]:
        yield {
            "user_idx": row["user_idx"],
            "candidate_set": row["candidate_set"],
            "item_idx": int(candidate["id"]),
            "raw_score": given.get(candidate["id"]),
        }


def scoring_step(max_candidates: int, name: str = SCORER) -> LLMStep:
    """The scorer, its outputs as SLMR_RAW_SCORES rows: every candidate of every accepted prompt."""
    return LLMStep(scoring_task(max_candidates, name), _candidate_scores, SLMR_RAW_SCORES)


def score_metadata(raw: pa.Table) -> dict[str, int]:
    return {"scores": raw.num_rows, "missing_scores": raw["raw_score"].null_count}
