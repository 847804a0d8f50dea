"""The ReaSeq item agents and user interests on the real embedded model (SmolLM2 via llama.cpp).

One module-scoped run over three items and two users; the tests read its real outputs.
"""

from __future__ import annotations

import hashlib
import re
import time

import numpy as np
import pyarrow as pa
import pytest
from support.llm_job_support import PARTITION, Counting

from llm_jobs.config import LLMJobConfig
from llm_jobs.handler import shared_engine
from llm_jobs.step import accepted_outputs
from llm_jobs.tasks.reaseq_agents import (
    ITEM_TEXT_CHARS,
    MAX_REVIEWS,
    REVIEW_CHARS,
    SUMMARY_CHARS,
    SUMMARY_WORDS,
    has_price,
    item_text,
)
from llm_jobs.tasks.reaseq_interests import (
    INTEREST_CHARS,
    beyond_log_items,
    run_user_interests,
)
from llm_jobs.tasks.reaseq_items import (
    ITEM_KNOWLEDGE,
    item_knowledge_metadata,
    run_item_knowledge,
)
from llm_jobs.tasks.reaseq_knowledge import KNOWLEDGE_FIELDS, content_words, number_claims, passes_checks
from storage.warehouse import Warehouse
from transforms.knowledge_inputs import analyst_rows, interest_prompt_rows

# Every test here talks to the embedded model, some through engines built in the test body.
pytestmark = pytest.mark.llm

# Rejects are part of what is tested (an item an agent rejects is absent downstream), so none fails the job.
CONFIG = LLMJobConfig(max_batch_size=4, max_reject_rate=1.0, progress=False)
K = 2
PER_INTEREST = 1

ITEMS = pa.Table.from_pylist(
    [
        {
            "item_idx": 0,
            "title": "Bon Appetit Magazine, 12 issues",
            "category": "Food & Cooking",
            "price": 19.99,
            "description": "Monthly magazine with recipes, restaurant reviews and kitchen tips from top chefs.",
            "reviews": [
                "Great recipes every month, my family loves the desserts.",
                "Glossy photos, a bit heavy on ads.",
            ],
        },
        {
            "item_idx": 1,
            "title": "Runner's World",
            "category": "Sports & Fitness",
            "price": None,
            "description": "Training plans, running shoe reviews and nutrition advice for runners of all levels.",
            "reviews": ["Helped me train for my first marathon."],
        },
        {
            "item_idx": 2,
            "title": "National Geographic Kids",
            "category": "Children's Magazines",
            "price": 15.0,
            "description": "Animals, science and geography for readers aged 6 to 12.",
            "reviews": [],
        },
    ]
)
SEQUENCES = pa.table({"user_idx": pa.array([0, 1], pa.int32()), "item_idx": [[0], [1, 2]]})


def stand_in_embedding(texts: list[str], dim: int = 64) -> np.ndarray:
    """A stand-in for the real text encoder: a hashed bag of words, deterministic across runs."""
    vectors = np.zeros((len(texts), dim), np.float32)
    for row, text in enumerate(texts):
        for word in re.findall(r"[a-z0-9]+", text.lower()):
            vectors[row, int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little") % dim] += 1
    return vectors


def _analyst_rows(spark) -> pa.Table:
    return analyst_rows(spark.createDataFrame(ITEMS), ITEM_TEXT_CHARS, REVIEW_CHARS, MAX_REVIEWS).toArrow()


def _run(spark, counting: Counting, warehouse: Warehouse):
    started = time.perf_counter()
    items = run_item_knowledge(_analyst_rows(spark), counting, warehouse, PARTITION, CONFIG)
    sequences = spark.createDataFrame(SEQUENCES)
    knowledge = spark.createDataFrame(items.table.select(["item_idx", "summary"]))
    interest_rows = interest_prompt_rows(
        sequences, sequences.select("user_idx"), spark.createDataFrame(ITEMS), knowledge, 10
    ).toArrow()
    interests, interests_job = run_user_interests(interest_rows, counting, warehouse, PARTITION, CONFIG, k=K)
    return items, interests, interests_job, time.perf_counter() - started


@pytest.fixture(scope="module")
def reaseq(tmp_path_factory, spark):
    counting = Counting()
    warehouse = Warehouse(str(tmp_path_factory.mktemp("reaseq")))
    items, interests, interests_job, _ = _run(spark, counting, warehouse)
    return counting, warehouse, items, interests, interests_job


def test_verified_knowledge_keeps_only_claims_the_verifier_and_checks_kept(reaseq, spark):
    _, warehouse, run, _, _ = reaseq
    analyst = {key["item_idx"]: output for key, output in accepted_outputs(warehouse, run.analyst, ["item_idx"])}
    verdicts = {key["item_idx"]: output for key, output in accepted_outputs(warehouse, run.verifier, ["item_idx"])}
    rows = {row["item_idx"]: row for row in _analyst_rows(spark).to_pylist()}
    assert run.table.schema == ITEM_KNOWLEDGE and run.table.num_rows >= 1

    for item in run.table.to_pylist():
        claims = number_claims(analyst[item["item_idx"]])
        reported = set(verdicts[item["item_idx"]]["unsupported"])
        assert reported <= {claim.id for claim in claims}
        kept = {(field, text) for field in KNOWLEDGE_FIELDS for text in item[field]}
        if item["price_tier"] != "unknown":
            kept.add(("price_tier", item["price_tier"]))
        # Never kept when reported dropped; kept claims are the analyst's; the counts follow.
        assert not kept & {(c.field, c.text) for c in claims if c.id in reported}
        assert kept <= {(c.field, c.text) for c in claims}
        assert item["claims_total"] == len(claims)
        assert item["claims_dropped"] == len(claims) - len(kept)
        row = rows[item["item_idx"]]
        item_words = set().union(*(content_words(text) for text in item_text(row)))
        kept_by_verifier = [c for c in claims if c.id not in reported]
        failing = [c for c in kept_by_verifier if not passes_checks(c, item_words, has_price(row))]
        assert item["claims_dropped_by_checks"] == len(failing)
        assert not kept & {(c.field, c.text) for c in failing}


def test_summaries_are_at_most_80_words_and_rejected_items_are_counted(reaseq):
    _, _, run, _, _ = reaseq

    for summary in run.table["summary"].to_pylist():
        assert summary.strip() and len(summary.split()) <= SUMMARY_WORDS and len(summary) <= SUMMARY_CHARS
    assert run.verifier.rows == run.analyst.accepted
    assert run.summarizer.rows == run.verifier.accepted
    assert run.table.num_rows == run.summarizer.accepted
    assert run.analyst.rejected + run.verifier.rejected + run.summarizer.rejected == ITEMS.num_rows - run.table.num_rows


def test_metadata_reports_claim_and_empty_field_rates_and_each_agents_cost(reaseq):
    _, _, run, _, _ = reaseq
    rows = run.table.to_pylist()

    metadata = item_knowledge_metadata(run)

    total = sum(row["claims_total"] for row in rows)
    assert metadata["unsupported_claim_rate"] == sum(row["claims_dropped"] for row in rows) / total
    assert metadata["items_out"] == len(rows) and metadata["items_in"] == ITEMS.num_rows
    for field in KNOWLEDGE_FIELDS:
        assert metadata[f"empty_rate_{field}"] == sum(not row[field] for row in rows) / len(rows)
    assert metadata["empty_rate_price_tier"] == sum(row["price_tier"] == "unknown" for row in rows) / len(rows)
    capped = sum(len(row["summary"]) == SUMMARY_CHARS for row in rows)
    assert metadata["summary_at_char_cap_rate"] == capped / len(rows)
    for agent in ("analyst", "verifier", "summarizer"):
        assert metadata[f"{agent}_requests_sent"] >= getattr(run, agent).rows
        assert metadata[f"{agent}_prompt_tokens"] > 0 and metadata[f"{agent}_wall_seconds"] > 0


def test_interests_map_to_catalog_items_outside_the_history(reaseq):
    _, _, run, interests, job = reaseq
    catalog = run.table["item_idx"].to_numpy()
    item_vectors = stand_in_embedding(run.table["summary"].to_pylist())
    histories = dict(zip(SEQUENCES["user_idx"].to_pylist(), SEQUENCES["item_idx"].to_pylist()))
    assert job.rows == len(histories) and interests.num_rows == job.accepted >= 1

    for user in interests.to_pylist():
        phrases = user["interests"]
        assert len(phrases) == K and all(3 <= len(p) <= INTEREST_CHARS for p in phrases)
        history = histories[user["user_idx"]]

        picks = beyond_log_items(stand_in_embedding(phrases), item_vectors, catalog, history, PER_INTEREST)

        assert set(picks) <= set(catalog) and not set(picks) & set(history)
        assert len(set(picks)) == len(picks) == min(K * PER_INTEREST, len(set(catalog) - set(history)))


def test_a_rerun_is_answered_by_the_cache(reaseq, spark):
    counting, warehouse, run, interests, _ = reaseq
    sent = shared_engine(counting).requests

    again, interests_again, interests_job, seconds = _run(spark, counting, warehouse)

    assert shared_engine(counting).requests == sent
    assert [job.requests_sent for job in (again.analyst, again.verifier, again.summarizer, interests_job)] == [0] * 4
    assert again.table.equals(run.table) and interests_again.equals(interests)
    print(f"cached rerun of all four jobs: {seconds:.1f} s")
