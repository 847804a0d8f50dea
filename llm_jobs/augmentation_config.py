"""Settings of the ReFORM and ReaSeq branches (those of LLM-I2I and S-LLMR are in transforms.config).

Caps (`users`, `items`) bound how many entities are prompted per run, chosen deterministically so
that a rerun renders the same prompts and the LLM cache answers them; None prompts every entity,
0 none (the assets then publish zero vectors and all-False masks for everyone).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from llm_jobs.factor_sets import DEFAULT_DOMAIN


class ReformConfig(BaseModel):
    """ReFORM: which factor set, which users and items are profiled, and the review budget."""

    domain: str = Field(
        DEFAULT_DOMAIN, description="factor set: restaurant, ecommerce, media or one from factor_set_sources"
    )
    # YAML files, or folders of them, that define more domains (llm_jobs/factor_sets describes the format).
    factor_set_sources: list[str] = Field(default_factory=list)
    # The entities with the most usable reviews first (ties by index).
    users: int | None = Field(3, ge=0, description="users profiled per run, most reviews first; None: all")
    items: int | None = Field(3, ge=0, description="items profiled per run, most reviews first; None: all")
    # Reviews are trimmed to fit the engine's context window (the embedded engine's n_ctx is 4096).
    context_tokens: int = Field(4096, ge=512, description="context window of the engine the prompts must fit")
    chars_per_token: float = Field(3.5, gt=0, description="characters per token assumed when trimming reviews")
    # Below what the context leaves: shorter prompts run faster on a laptop (SmolLM2 reads ~150
    # prompt tokens/s on 2 cores). None: as many reviews as the context fits (up to 100 upstream).
    max_review_tokens: int | None = Field(
        1024, ge=300, description="cap on review tokens per prompt; None: the context decides"
    )


class ReaseqConfig(BaseModel):
    """ReaSeq-inspired: which items get knowledge, whose interests are inferred, how they map to items."""

    # The most popular items first (ties by index), so that prompted users' histories hold them.
    items: int | None = Field(5, ge=0, description="items the three agents describe per run, popular first; None: all")
    # Users whose recent items have knowledge and who have the most items with knowledge outside their
    # history first (transforms.knowledge_inputs.interest_users).
    users: int | None = Field(3, ge=0, description="users whose interests are inferred per run; None: all")
    interests: int = Field(3, ge=1, description="K: interests per user")
    items_per_interest: int = Field(2, ge=1, description="catalog items each interest maps to")
    history_length: int = Field(10, ge=1, description="last history items shown per user")
