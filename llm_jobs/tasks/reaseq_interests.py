"""ReaSeq-inspired user interests beyond the logs: from the titles and knowledge summaries of a
user's last items, the model describes K interests that go beyond those items; each interest is
then mapped to catalog items by nearest neighbour over the items' knowledge embeddings.

Our choices where the paper gives none: the paper infers beyond-log behaviour with a diffusion LLM;
here the configured engine writes K short interest phrases, sampled at a moderate temperature so
that a retry after an invalid output (say, two equal interests) asks for something new. Text is
embedded by the text encoder given; `beyond_log_items` is plain numpy.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Annotated

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, Field, create_model, field_validator

from llm_jobs.accounting import JobResult
from llm_jobs.config import LLMJobConfig
from llm_jobs.engines.base import Sampling
from llm_jobs.handler import EngineFactory
from llm_jobs.inputs import PromptInputs
from llm_jobs.step import LLMStep, run_step
from llm_jobs.task import Task
from llm_jobs.tasks.reaseq_agents import SYSTEM_PROMPT
from llm_jobs.text_encoder import TextEncoder
from schemas.llm_outputs import USER_INTERESTS
from schemas.tables import REASEQ_USER_INTERESTS
from storage.warehouse import Warehouse

# Not "reaseq_user_interests": that is the asset holding the interests mapped to items, while a
# task's raw outputs live under `llm/<task name>/`.
DEFAULT_INTERESTS = 3
DEFAULT_HISTORY = 10
INTEREST_CHARS = 48
#: Characters kept of one history item's "title: summary".
HISTORY_ITEM_CHARS = 320

INTEREST_ROWS = pa.schema(
    [
        pa.field("user_idx", pa.int32(), nullable=False),
        pa.field("history", pa.list_(pa.struct([("id", pa.int32()), ("text", pa.string())]))),
    ]
)
USER_INTERESTS_TABLE = pa.schema(
    [
        pa.field("user_idx", pa.int32(), nullable=False),
        pa.field("interests", pa.list_(pa.string()), nullable=False),
    ]
)

Interest = Annotated[str, Field(min_length=3, max_length=INTEREST_CHARS)]


class _Interests(BaseModel):
    interests: list[Interest]

    @field_validator("interests")
    @classmethod
    def _distinct(cls, interests: list[str]) -> list[str]:
        if len({" ".join(i.split()).casefold() for i in interests}) < len(interests):
            raise ValueError("the interests are not all different")
        return interests


def user_interests_task(k: int = DEFAULT_INTERESTS) -> Task:
    output = create_model(
        "UserInterests", interests=(list[Interest], Field(min_length=k, max_length=k)), __base__=_Interests
    )
    return Task(
        name=USER_INTERESTS,
        version=f"1-k{k}",
        system_prompt=SYSTEM_PROMPT,
        user_template=(
            "Products this customer bought, oldest first:\n{history}\n\n"
            f"Describe {k} different interests this customer likely has beyond these products: other "
            "kinds of products or activities they would enjoy, each as a short phrase."
        ),
        output_model=output,
        key_columns=("user_idx",),
        sampling=Sampling(max_tokens=16 + k * 24, temperature=0.7),
        untrusted_columns={"history": HISTORY_ITEM_CHARS},
    )


def _interests(row: dict, output: dict) -> Iterator[dict]:
    yield {"user_idx": row["user_idx"], "interests": output["interests"]}


def user_interests_step(k: int = DEFAULT_INTERESTS) -> LLMStep:
    """The interest generator, its outputs as USER_INTERESTS_TABLE rows."""
    return LLMStep(user_interests_task(k), _interests, USER_INTERESTS_TABLE)


def run_user_interests(
    interest_rows: pa.Table | PromptInputs,
    engine_factory: EngineFactory,
    warehouse: Warehouse,
    partition: str,
    config: LLMJobConfig,
    k: int = DEFAULT_INTERESTS,
) -> tuple[pa.Table, JobResult]:
    """K interests per user of `interest_rows` (user_idx and history, INTEREST_ROWS; see
    transforms.knowledge_inputs.interest_prompt_rows), as USER_INTERESTS_TABLE by user_idx; rejected
    users are absent."""
    run = run_step(user_interests_step(k), interest_rows, engine_factory, warehouse, partition, config)
    return run.rows.sort_by("user_idx"), run.job


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def beyond_log_items(
    interest_vectors: np.ndarray,
    item_vectors: np.ndarray,
    item_ids: np.ndarray,
    history_item_ids: Iterable[int],
    per_interest: int,
) -> np.ndarray:
    """One user's beyond-log items: for each interest in order, the `per_interest` catalog items
    nearest to it by cosine similarity. Items in the history are never chosen, an item goes to the
    first interest that chooses it only (the next interest takes its next nearest instead), and
    equal similarities go to the smaller item id. Fewer come back when the catalog outside the
    history runs out. A zero vector is at similarity 0 to everything.

    interest_vectors: (K, D); item_vectors: (N, D) with item_ids (N,), distinct."""
    ids = np.asarray(item_ids, dtype=np.int64)
    if len(np.unique(ids)) != len(ids):
        raise ValueError("item_ids are not distinct")
    similarity = (
        _unit_rows(np.asarray(interest_vectors, np.float64)) @ _unit_rows(np.asarray(item_vectors, np.float64)).T
    )
    available = ~np.isin(ids, np.fromiter(history_item_ids, dtype=np.int64))
    chosen: list[np.ndarray] = []
    for row in similarity:
        nearest_first = np.lexsort((ids, -row))
        picks = nearest_first[available[nearest_first]][:per_interest]
        available[picks] = False
        chosen.append(ids[picks])
    return np.concatenate(chosen) if chosen else np.empty(0, dtype=np.int64)


def map_interests(
    interests: pa.Table,
    interest_vectors: np.ndarray,
    item_ids: np.ndarray,
    item_vectors: np.ndarray,
    histories: Mapping[int, Iterable[int]],
    per_interest: int,
) -> pa.Table:
    """`interests` (USER_INTERESTS_TABLE) with each user's beyond-log items
    (schemas.tables.REASEQ_USER_INTERESTS), by `beyond_log_items` over the catalog `item_ids` /
    `item_vectors`, never an item of the user's `histories` entry.

    interest_vectors: one row per interest, users in the table's order and each user's interests
    in order."""
    rows, start = [], 0
    for user in interests.to_pylist():
        k = len(user["interests"])
        picks = beyond_log_items(
            interest_vectors[start : start + k],
            item_vectors,
            item_ids,
            histories.get(user["user_idx"], ()),
            per_interest,
        )
        rows.append({**user, "beyond_log_item_idx": picks.tolist()})
        start += k
    if start != len(interest_vectors):
        raise ValueError(f"{len(interest_vectors)} interest vectors for {start} interests")
    return pa.Table.from_pylist(rows, schema=REASEQ_USER_INTERESTS)


def _vectors(table: pa.Table, column: str, dimension: int) -> np.ndarray:
    """An (n, D) float32 array of a fixed_size_list<float32, D> column."""
    values = table[column].combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return values.reshape(table.num_rows, dimension)


def beyond_log_interests(
    interests: pa.Table,
    item_knowledge: pa.Table,
    encoder: TextEncoder,
    histories: Mapping[int, Iterable[int]],
    per_interest: int,
) -> tuple[pa.Table, float]:
    """`map_interests` of `interests` (USER_INTERESTS_TABLE) embedded by `encoder` onto the items of
    `item_knowledge` (llm/reaseq_item_knowledge, embedded by the same encoder), and the seconds the
    encoder took."""
    started = time.perf_counter()
    vectors = encoder.encode([phrase for phrases in interests["interests"].to_pylist() for phrase in phrases])
    seconds = time.perf_counter() - started
    mapped = map_interests(
        interests,
        vectors,
        item_knowledge["item_idx"].to_numpy(),
        _vectors(item_knowledge, "knowledge_embedding", encoder.dimension),
        histories,
        per_interest,
    )
    return mapped, seconds


def interest_metadata(interests: pa.Table) -> dict[str, int | float]:
    """Users with interests and the beyond-log items they got (REASEQ_USER_INTERESTS rows)."""
    picks = [len(p) for p in interests["beyond_log_item_idx"].to_pylist()]
    return {
        "users_with_interests": interests.num_rows,
        "beyond_log_items": sum(picks),
        "beyond_log_items_per_user": round(sum(picks) / len(picks), 3) if picks else 0.0,
    }
