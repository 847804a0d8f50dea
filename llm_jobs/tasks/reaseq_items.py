"""ReaSeq-inspired item knowledge: the analyst, verifier and summarizer run in sequence, each as an
LLM job whose accepted outputs become the next agent's input rows.

An item an agent rejects (after the job's retries) is absent from every later agent and from the
result; each agent's JobResult counts its rejects. Reruns are answered by each task's cache.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from llm_jobs.accounting import JobResult
from llm_jobs.config import LLMJobConfig
from llm_jobs.handler import EngineFactory
from llm_jobs.job import run_llm_job
from llm_jobs.parquet_io import read_parquet
from llm_jobs.task import Task
from llm_jobs.tasks.reaseq_agents import (
    SUMMARIZER_ROWS,
    SUMMARY_CHARS,
    VERIFIER_ROWS,
    analyst_task,
    has_price,
    item_text,
    summarizer_row,
    summarizer_task,
    verifier_row,
    verifier_task,
)
from llm_jobs.tasks.reaseq_knowledge import (
    KNOWLEDGE_FIELDS,
    VerifiedKnowledge,
    number_claims,
    verify,
)
from schemas.tables import ITEM_KNOWLEDGE
from storage.warehouse import Warehouse

__all__ = ["ITEM_KNOWLEDGE", "ItemKnowledgeRun", "item_knowledge_metadata", "run_item_knowledge"]


@dataclass(frozen=True)
class ItemKnowledgeRun:
    table: pa.Table  # ITEM_KNOWLEDGE, one row per item that passed all three agents
    analyst: JobResult
    verifier: JobResult
    summarizer: JobResult


def accepted_outputs(warehouse: Warehouse, result: JobResult, key: str) -> dict[int, dict]:
    """A job's accepted outputs, parsed, by the value of its single key column."""
    table = read_parquet(warehouse, result.output_path)
    return {k: json.loads(output) for k, output in zip(table[key].to_pylist(), table["output"].to_pylist())}


def _knowledge_table(verified: dict[int, VerifiedKnowledge], summaries: dict[int, dict]) -> pa.Table:
    rows = [
        {
            "item_idx": item_idx,
            **verified[item_idx].fields,
            "price_tier": verified[item_idx].price_tier,
            "summary": summaries[item_idx]["summary"],
            "claims_total": verified[item_idx].claims_total,
            "claims_dropped": verified[item_idx].claims_dropped,
            "claims_dropped_by_checks": verified[item_idx].claims_dropped_by_checks,
        }
        for item_idx in sorted(summaries)
    ]
    return pa.Table.from_pylist(rows, schema=ITEM_KNOWLEDGE)


def run_item_knowledge(
    analyst_rows: pa.Table,
    engine_factory: EngineFactory,
    warehouse: Warehouse,
    partition: str,
    config: LLMJobConfig = LLMJobConfig(),
) -> ItemKnowledgeRun:
    """The three agents over `analyst_rows` (from `reaseq_agents.item_rows`)."""

    def run(task: Task, rows: pa.Table) -> tuple[JobResult, dict[int, dict]]:
        result = run_llm_job(task, rows, engine_factory, warehouse, partition, config)
        return result, accepted_outputs(warehouse, result, "item_idx")

    items = {row["item_idx"]: row for row in analyst_rows.to_pylist()}
    analyst, knowledge = run(analyst_task(), analyst_rows)
    claims = {i: number_claims(k) for i, k in knowledge.items()}
    verifier_rows = [verifier_row(items[i], claims[i]) for i in sorted(claims)]
    verifier, verdicts = run(verifier_task(), pa.Table.from_pylist(verifier_rows, schema=VERIFIER_ROWS))
    verified = {
        i: verify(claims[i], verdict["unsupported"], item_text(items[i]), has_price(items[i]))
        for i, verdict in verdicts.items()
    }
    summarizer_rows = [summarizer_row(items[i], verified[i]) for i in sorted(verified)]
    summarizer, summaries = run(summarizer_task(), pa.Table.from_pylist(summarizer_rows, schema=SUMMARIZER_ROWS))
    return ItemKnowledgeRun(_knowledge_table(verified, summaries), analyst, verifier, summarizer)


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
        metadata[f"empty_rate_{field}"] = _share(rows, lambda row: not row[field])
    for agent in ("analyst", "verifier", "summarizer"):
        job = getattr(run, agent)
        metadata |= {f"{agent}_{name}": value for name, value in job.summary().items()}
    return metadata
