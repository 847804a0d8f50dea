"""Each table's contract beyond its Great Expectations suite (`schemas.expectations`).

- `keys`: the columns that identify a row, shown for every offending row in a failure sample.
- `ids`: index columns (list columns included) that must resolve in `id_maps`, by id kind. An LLM
  table's ids are what the model chose: one missing from `id_maps` is a hallucinated id, and the
  rate of those must be 0.
- `llm_tasks`: the LLM jobs that produced the table; their run records give the parse rate, the
  reject rate and how many answers named an id outside the prompt's candidates.
- `rates`: the table's own LLM quality rates (`EMPTY_FACTOR_RATE`, `UNSUPPORTED_CLAIM_RATE`) and
  junk checks (`PLACEHOLDER_RATE`, `REPETITION_RATE` of its LLM free text, `TIED_PROMPT_RATE`,
  `NOT_EMPTY`): warnings, errors with `ValidationThresholds.block_on_junk`.

`validation` runs them with the thresholds of `ValidationThresholds`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from schemas.llm_outputs import (
    ANALYST,
    DISCRIMINATOR,
    GENERATOR,
    REFORM_TASKS,
    SCORER,
    SCORER_PROBE,
    SUMMARIZER,
    USER_INTERESTS,
    VERIFIER,
)

EMPTY_FACTOR_RATE = "empty_factor_rate"
UNSUPPORTED_CLAIM_RATE = "unsupported_claim_rate"
PLACEHOLDER_RATE = "placeholder_rate"
REPETITION_RATE = "repetition_rate"
TIED_PROMPT_RATE = "tied_prompt_rate"
NOT_EMPTY = "not_empty"
_JUNK_TEXT = (PLACEHOLDER_RATE, REPETITION_RATE)


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


_RAW_LINE = ("source_file", "source_line")
_INTERACTION = ("user_idx", "item_idx")
_INTERACTION_IDS = {"user_idx": "user", "item_idx": "item"}
_USER = Contract(("user_idx",), {"user_idx": "user"})
_ITEM = Contract(("item_idx",), {"item_idx": "item"})
_AUGMENTED_USER = Contract(_USER.keys, _USER.ids, rates=_JUNK_TEXT)  # ReFORM phrases
_AUGMENTED_ITEM = Contract(_ITEM.keys, _ITEM.ids, rates=_JUNK_TEXT)  # ReaSeq knowledge, ReFORM phrases
_SEQUENCES = Contract(("user_idx",), {"user_idx": "user", "item_idx": "item"})
_AUGMENTED_SEQUENCES = Contract(("user_idx",), {**_SEQUENCES.ids, "beyond_log_item_idx": "item"})
_I2I_PAIRS = Contract(("method", "item_idx", "neighbor_idx"), {"item_idx": "item", "neighbor_idx": "item"})
_INTERACTIONS = Contract(_INTERACTION, _INTERACTION_IDS)
_ID_MAPS = Contract(("kind", "raw_id"))
_PAIRWISE = Contract(
    ("user_idx", "candidate_set", "item_i", "item_j"),
    {"user_idx": "user", "item_i": "item", "item_j": "item"},
    rates=(NOT_EMPTY,),
)

_REPORT = Contract(("augmentation", "model", "segment", "metric"))

CONTRACTS: dict[str, Contract] = {
    "raw/interactions": Contract(_RAW_LINE),
    "raw/reviews": Contract(_RAW_LINE),
    "raw/items": Contract(_RAW_LINE),
    "raw/quarantine": Contract(_RAW_LINE),
    "features/clean_interactions": Contract(("user_id", "item_id")),
    "features/id_maps": _ID_MAPS,
    "features/splits": _INTERACTIONS,
    "features/user_features": _USER,
    "features/item_features": _ITEM,
    "features/user_sequences": _SEQUENCES,
    "features/i2i_pairs": _I2I_PAIRS,
    "features/review_bundles": Contract(("entity_kind", "entity_idx")),
    "llm/i2i_synthetic": Contract(_INTERACTION, _INTERACTION_IDS, llm_tasks=(GENERATOR,), rates=_JUNK_TEXT),
    "llm/i2i_judgements": Contract((*_INTERACTION, "source"), _INTERACTION_IDS, llm_tasks=(DISCRIMINATOR,)),
    "llm/i2i_train_interactions": _INTERACTIONS,
    "llm/i2i_pairs": _I2I_PAIRS,
    "llm/slmr_candidates": Contract(("user_idx", "candidate_set"), {"user_idx": "user"}),
    "llm/slmr_scores": Contract(
        ("user_idx", "candidate_set", "item_idx"), _INTERACTION_IDS, llm_tasks=(SCORER,), rates=(TIED_PROMPT_RATE,)
    ),
    "llm/llm_pairwise_supervision": _PAIRWISE,
    "llm/reform_user_profiles": Contract(
        ("user_idx",), {"user_idx": "user"}, llm_tasks=(REFORM_TASKS["user"],), rates=(EMPTY_FACTOR_RATE, *_JUNK_TEXT)
    ),
    "llm/reform_item_profiles": Contract(
        ("item_idx",), {"item_idx": "item"}, llm_tasks=(REFORM_TASKS["item"],), rates=(EMPTY_FACTOR_RATE, *_JUNK_TEXT)
    ),
    "llm/reaseq_item_knowledge": Contract(
        ("item_idx",),
        {"item_idx": "item"},
        llm_tasks=(ANALYST, VERIFIER, SUMMARIZER),
        rates=(UNSUPPORTED_CLAIM_RATE, *_JUNK_TEXT),
    ),
    "llm/reaseq_user_interests": Contract(
        ("user_idx",),
        {"user_idx": "user", "beyond_log_item_idx": "item"},
        llm_tasks=(USER_INTERESTS,),
        rates=_JUNK_TEXT,
    ),
    "llm/user_features_augmented": _AUGMENTED_USER,
    "llm/item_features_augmented": _AUGMENTED_ITEM,
    "llm/user_sequences_augmented": _AUGMENTED_SEQUENCES,
    "interactions_train": _INTERACTIONS,
    "interactions_valid": _INTERACTIONS,
    "interactions_test": _INTERACTIONS,
    "user_sequences": _AUGMENTED_SEQUENCES,
    "user_features": _AUGMENTED_USER,
    "item_features": _AUGMENTED_ITEM,
    "i2i_pairs": _I2I_PAIRS,
    "i2i_train_interactions": _INTERACTIONS,
    "llm_pairwise_supervision": _PAIRWISE,
    "id_maps": _ID_MAPS,
    "evaluation/scorer_probe": Contract(("user_idx", "item_idx"), _INTERACTION_IDS, llm_tasks=(SCORER_PROBE,)),
    "evaluation/report": _REPORT,
    "evaluation_report": _REPORT,
}

def contract(table: str) -> Contract:
    if table not in CONTRACTS:
        raise KeyError(f"no contract for {table!r}; known: {sorted(CONTRACTS)}")
    return CONTRACTS[table]
