"""ReaSeq-inspired item knowledge: the analyst, verifier and summarizer run in sequence, each as an
LLM job whose accepted outputs become the next agent's input rows.

An item an agent rejects (after the job's retries) is absent from every later agent and from the
result; each agent's JobResult counts its rejects. Reruns are answered by each task's cache.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa

from llm_jobs.accounting import JobResult
from llm_jobs.config import LLMJobConfig
from llm_jobs.handler import EngineFactory
from llm_jobs.inputs import PromptInputs
from llm_jobs.step import LLMStep, run_step
from llm_jobs.tasks.reaseq_agents import (
    SUMMARIZER_ROWS,
    SUMMARY_CHARS,
    VERIFIER_ROWS,
    analyst_task,
    has_price,
    item_text,
    row_claims,
    summarizer_row,
    summarizer_task,
    verifier_row,
    verifier_task,
)
from llm_jobs.tasks.reaseq_knowledge import KNOWLEDGE_FIELDS, number_claims, verify
from llm_jobs.text_encoder import TextEncoder
from schemas.tables import ITEM_KNOWLEDGE, item_knowledge_schema
from storage.warehouse import Warehouse

__all__ = [
    "ITEM_KNOWLEDGE",
    "ItemKnowledgeRun",
    "embedded_knowledge",
    "item_knowledge",
    "item_knowledge_metadata",
    "run_item_knowledge",
]


@dataclass(frozen=True)
class ItemKnowledgeRun:
    table: pa.Table  # ITEM_KNOWLEDGE, one row per item that passed all three agents
    analyst: JobResult
    verifier: JobResult
    summarizer: JobResult


def _claims(row: dict, knowledge: dict) -> Iterator[dict]:
    yield verifier_row(row, number_claims(knowledge))


def _verified(row: dict, verdict: dict) -> Iterator[dict]:
    yield summarizer_row(row, verify(row_claims(row), verdict["unsupported"], item_text(row), has_price(row)))


def _knowledge(row: dict, summary: dict) -> Iterator[dict]:
    yield {name: summary["summary"] if name == "summary" else row[name] for name in ITEM_KNOWLEDGE.names}


#: analyst (item rows -> verifier rows) -> verifier (-> summarizer rows) -> summarizer (-> ITEM_KNOWLEDGE).
ANALYST_STEP = LLMStep(analyst_task(), _claims, VERIFIER_ROWS)
VERIFIER_STEP = LLMStep(verifier_task(), _verified, SUMMARIZER_ROWS)
SUMMARIZER_STEP = LLMStep(summarizer_task(), _knowledge, ITEM_KNOWLEDGE)


def run_item_knowledge(
    analyst_rows: pa.Table | PromptInputs,
    engine_factory: EngineFactory,
    warehouse: Warehouse,
    partition: str,
    config: LLMJobConfig,
) -> ItemKnowledgeRun:
    """The three agents over `analyst_rows` (ANALYST_ROWS, from `transforms.knowledge_inputs.analyst_rows`); the verifier and the
    summarizer see their items by item_idx."""
    analyst = run_step(ANALYST_STEP, analyst_rows, engine_factory, warehouse, partition, config)
    verifier_rows = analyst.rows.sort_by("item_idx")
    verifier = run_step(VERIFIER_STEP, verifier_rows, engine_factory, warehouse, partition, config)
    summarizer = run_step(SUMMARIZER_STEP, verifier.rows, engine_factory, warehouse, partition, config)
    return ItemKnowledgeRun(summarizer.rows, analyst.job, verifier.job, summarizer.job)


def _share(rows: list[dict], predicate: Callable[[dict], bool]) -> float:
    return sum(map(predicate, rows)) / len(rows) if rows else 0.0


def item_knowledge_metadata(run: ItemKnowledgeRun) -> dict[str, int | float]:
    """Claim, empty-field and capped-summary rates of the result, and tokens, time and rejects per agent."""
    rows = run.table.to_pylist()
    total = sum(row["claims_total"] for row in rows)
    dropped = sum(row["claims_dropped"] for row in rows)
    metadata: dict[str, int | float] = {
        "items_in": run.analyst.rows,
        "items_out": len(rows),
        "claims_total": total,
        "claims_dropped": dropped,
        "claims_dropped_by_checks": sum(row["claims_dropped_by_checks"] for row in rows),
        "unsupported_claim_rate": dropped / total if total else 0.0,
        "empty_rate_price_tier": _share(rows, lambda row: row["price_tier"] == "unknown"),
        "summary_at_char_cap_rate": _share(rows, lambda row: len(row["summary"]) >= SUMMARY_CHARS),
    }
    for field in KNOWLEDGE_FIELDS:
        metadata[f"empty_rate_{field}"] = _share(rows, lambda row, field=field: not row[field])
    for agent in ("analyst", "verifier", "summarizer"):
        job = getattr(run, agent)
        metadata |= {f"{agent}_{name}": value for name, value in job.summary().items()}
    return metadata


def item_knowledge(
    analyst_rows: pa.Table | PromptInputs,
    engine_factory: EngineFactory,
    warehouse: Warehouse,
    partition: str,
    config: LLMJobConfig,
) -> tuple[pa.Table, dict]:
    """ITEM_KNOWLEDGE of `analyst_rows` (`run_item_knowledge`) and its metadata, with each agent's
    model; with no rows no job runs."""
    if not analyst_rows.num_rows:
        return ITEM_KNOWLEDGE.empty_table(), {"items_in": 0, "items_out": 0}
    run = run_item_knowledge(analyst_rows, engine_factory, warehouse, partition, config)
    metadata = item_knowledge_metadata(run)
    for job in (run.analyst, run.verifier, run.summarizer):
        metadata[f"{job.task}.model_id"] = job.model_id
    return run.table, metadata


def embedded_knowledge(knowledge: pa.Table, encoder: TextEncoder) -> tuple[pa.Table, float]:
    """`knowledge` (ITEM_KNOWLEDGE) with each summary's embedding (schemas.tables.item_knowledge_schema),
    and the seconds the encoder took."""
    started = time.perf_counter()
    vectors = encoder.encode(knowledge["summary"].to_pylist())
    seconds = time.perf_counter() - started
    embeddings = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()), encoder.dimension)
    return pa.table([*knowledge.columns, embeddings], schema=item_knowledge_schema(encoder.dimension)), seconds
