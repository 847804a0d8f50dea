"""What a table's contract holds beyond its Great Expectations suite (`schemas.expectations`);
`schemas.registry` gives each table its `Contract`.

- `keys`: the columns that identify a row, shown for every offending row in a failure sample.
- `ids`: index columns (list columns included) that must resolve in `id_maps`, by id kind. An LLM
  table's ids are what the model chose: one missing from `id_maps` is a hallucinated id, and the
  rate of those must be 0.
- `llm_tasks`: the LLM jobs that produced the table; their run records give the parse rate, the
  reject rate and how many answers named an id outside the prompt's candidates.
- `rates`: the table's own LLM quality rates (`EMPTY_FACTOR_RATE`, `UNSUPPORTED_CLAIM_RATE`) and
  junk checks (`PLACEHOLDER_RATE`, `REPETITION_RATE`, `INSTRUCTION_ECHO_RATE` of its LLM free text, `TIED_PROMPT_RATE`,
  `NOT_EMPTY`): warnings, errors with `ValidationThresholds.block_on_junk`.

`validation` runs them with the thresholds of `ValidationThresholds`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

EMPTY_FACTOR_RATE = "empty_factor_rate"
UNSUPPORTED_CLAIM_RATE = "unsupported_claim_rate"
PLACEHOLDER_RATE = "placeholder_rate"
REPETITION_RATE = "repetition_rate"
INSTRUCTION_ECHO_RATE = "instruction_echo_rate"
TIED_PROMPT_RATE = "tied_prompt_rate"
NOT_EMPTY = "not_empty"
#: The junk checks of a table with LLM free text.
JUNK_TEXT = (PLACEHOLDER_RATE, REPETITION_RATE, INSTRUCTION_ECHO_RATE)


class ValidationThresholds(BaseModel):
    """Limits of the checks that compare a number with a threshold."""

    min_row_count_ratio: float = Field(0.5, ge=0, description="a new version's rows over the live one's: below blocks")
    max_row_count_ratio: float = Field(2.0, ge=0, description="a new version's rows over the live one's: above blocks")
    min_parse_rate: float = Field(
        0.8, ge=0, le=1, description="share of an LLM job's answers (retries included) that parsed; below warns"
    )
    max_reject_rate: float = Field(
        0.2, ge=0, le=1, description="share of an LLM job's rows rejected after all attempts; above blocks"
    )  # the job itself stops above its own LLMJobConfig.max_reject_rate
    max_empty_factor_rate: float = Field(
        0.8, ge=0, le=1, description="share of ReFORM (entity, factor) cells left empty; above warns"
    )
    max_unsupported_claim_rate: float = Field(
        0.5, ge=0, le=1, description="share of ReaSeq claims dropped as unsupported; above warns"
    )
    max_placeholder_rate: float = Field(
        0.0, ge=0, le=1, description="share of LLM free texts holding a template token ([TITLE], {brand}); above warns"
    )
    max_repetition_rate: float = Field(
        0.05, ge=0, le=1, description="share of LLM free texts that loop (a phrase 3 times in a row); above warns"
    )
    max_instruction_echo_rate: float = Field(
        0.0, ge=0, le=1, description="share of LLM free texts holding a model instruction or copying 8+ words of the "
        "entity's input text (prompt injection); above warns"
    )
    max_tied_prompt_rate: float = Field(
        0.5, ge=0, le=1, description="share of S-LLMR prompts (2+ candidates) scored all alike; above warns"
    )
    block_on_junk: bool = Field(
        False, description="junk checks (placeholders, loops, tied prompts, an empty pairwise set) block, not warn"
    )
    spark_above_rows: int = Field(
        1_000_000, ge=0, description="tables with more rows validate on Spark, the rest in process on Arrow"
    )

    @property
    def row_count_band(self) -> tuple[float, float]:
        return (self.min_row_count_ratio, self.max_row_count_ratio)


@dataclass(frozen=True)
class Contract:
    keys: tuple[str, ...]
    ids: Mapping[str, str] = field(default_factory=dict)
    llm_tasks: tuple[str, ...] = ()
    rates: tuple[str, ...] = ()
