"""ReFORM profiles and ReaSeq knowledge / beyond-log items end to end through Dagster on synthetic
data, with the real embedded model and the real text encoder: the published feature sets carry
them with the declared shapes, and the invariants hold on whatever the model answered."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict

import dagster as dg
import numpy as np
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
import support.pipeline_support as pipeline_support
from support.pipeline_support import TINY_REASEQ, TINY_REFORM, materialize, read_set

from dagster_project.assets import assets_and_checks
from dagster_project.resources import ReformResource
from llm_jobs.accounting import runs_dir
from llm_jobs.factor_embeddings import as_numpy
from llm_jobs.factor_sets import resolve_factor_set
from llm_jobs.tasks.reaseq_agents import SUMMARY_WORDS
from llm_jobs.tasks.reaseq_knowledge import KNOWLEDGE_FIELDS, number_claims
from llm_jobs.tasks.reform import MAX_PHRASES, PHRASE_CHARS
from schemas.registry import published_schema
from schemas.tables import (
    augmented_item_features,
    augmented_user_features,
    embedding_type,
    factor_embeddings_type,
    factor_mask_type,
)
from validation import validate_table

FACTORS = resolve_factor_set().names  # the default domain, ecommerce
D = 384  # all-MiniLM-L6-v2
LLM_ASSETS = [
    "llm/reform_user_profiles",
    "llm/reform_item_profiles",
    "llm/reaseq_item_knowledge",
    "llm/reaseq_user_interests",
]
TASKS = {
    "reform_user_profiler",
    "reform_item_profiler",
    "reaseq_item_analyst",
    "reaseq_item_verifier",
    "reaseq_item_summarizer",
    "reaseq_interest_generator",
}


def _llm_table(run, name):
    return pq.read_table(run.wh.table_path("llm", name, run.partition))


def _metadata(result, key: str) -> dict:
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_published_feature_sets_carry_the_new_columns_with_declared_shapes(synthetic_run):
    users, items = read_set(synthetic_run.wh, "user_features"), read_set(synthetic_run.wh, "item_features")
    sequences = read_set(synthetic_run.wh, "user_sequences")
    assert users.schema.names == augmented_user_features(FACTORS, D).names
    assert items.schema.names == augmented_item_features(FACTORS, D).names
    assert sequences.schema.names[-1] == "beyond_log_item_idx"
    for table in (users, items):
        assert table.schema.field("factor_embeddings").type == factor_embeddings_type(len(FACTORS), D)
        assert table.schema.field("factor_mask").type == factor_mask_type(len(FACTORS))
        assert as_numpy(table["factor_embeddings"]).shape == (table.num_rows, len(FACTORS), D)
        # Never null: every entity has a dense vector and a mask, profiled or not.
        assert all(
            table[name].null_count == 0 for name in table.column_names if name.startswith(("profile_", "factor_"))
        )
    assert items.schema.field("knowledge_embedding").type == embedding_type(D)
    assert sequences["beyond_log_item_idx"].null_count == 0


@pytest.mark.parametrize("kind, cap", [("user", TINY_REFORM.users), ("item", TINY_REFORM.items)])
def test_profiles_are_short_phrase_lists_with_matching_masks_and_finite_embeddings(synthetic_run, kind, cap):
    table = read_set(synthetic_run.wh, f"{kind}_features")
    meta = _metadata(synthetic_run.result, f"llm/reform_{kind}_profiles")
    vectors = as_numpy(table["factor_embeddings"])
    mask = np.array(table["factor_mask"].to_pylist(), bool)
    phrases = {name: table[f"profile_{name}"].to_pylist() for name in FACTORS}
    for f, name in enumerate(FACTORS):
        for row, values in enumerate(phrases[name]):
            assert len(values) <= MAX_PHRASES and all(1 <= len(p) <= PHRASE_CHARS for p in values), values
            assert mask[row, f] == bool(values)
    assert np.isfinite(vectors).all()
    assert not vectors[~mask].any()
    np.testing.assert_allclose(np.linalg.norm(vectors[mask], axis=1), 1.0, atol=1e-3)

    profiled = np.flatnonzero(mask.any(axis=1))
    assert meta["entities_prompted"] == cap
    assert len(profiled) <= meta["profiles"] <= cap
    assert meta[f"reform_{kind}_profiler.requests_sent"] >= cap and meta[f"reform_{kind}_profiler.prompt_tokens"] > 0
    assert meta["encoder"].startswith("sentence-transformers:all-MiniLM-L6-v2") and meta["encoder_seconds"] >= 0
    profiles = _llm_table(synthetic_run, f"reform_{kind}_profiles").to_pylist()
    for name in FACTORS:
        empty = sum(not p[f"profile_{name}"] for p in profiles)
        assert meta[f"empty_factor_rate.{name}"] == pytest.approx(empty / len(profiles) if profiles else 0.0, abs=1e-4)
    # The most-reviewed entities are the ones prompted.
    bundles = pq.read_table(synthetic_run.wh.table_path("features", "review_bundles", synthetic_run.partition))
    ranked = sorted((-r["n_reviews_total"], r["entity_idx"]) for r in bundles.to_pylist() if r["entity_kind"] == kind)
    assert {p[f"{kind}_idx"] for p in profiles} <= {idx for _, idx in ranked[:cap]}
    key = table[f"{kind}_idx"].to_pylist()
    assert {key[row] for row in profiled} <= {p[f"{kind}_idx"] for p in profiles}


def test_item_knowledge_is_verified_summarized_and_embedded(synthetic_run):
    knowledge = _llm_table(synthetic_run, "reaseq_item_knowledge").to_pylist()
    meta = _metadata(synthetic_run.result, "llm/reaseq_item_knowledge")
    analyst = {
        r["item_idx"]: json.loads(r["output"]) for r in _llm_table(synthetic_run, "reaseq_item_analyst").to_pylist()
    }
    verdicts = {
        r["item_idx"]: json.loads(r["output"]) for r in _llm_table(synthetic_run, "reaseq_item_verifier").to_pylist()
    }
    items = read_set(synthetic_run.wh, "item_features").to_pylist()
    popular = sorted(items, key=lambda r: (-r["popularity"], r["item_idx"]))[: TINY_REASEQ.items]
    assert meta["items_in"] == TINY_REASEQ.items and meta["items_out"] == len(knowledge) >= 1
    assert {k["item_idx"] for k in knowledge} <= {r["item_idx"] for r in popular}
    total = dropped = 0
    for item in knowledge:
        claims = number_claims(analyst[item["item_idx"]])
        reported = {c.id for c in claims if c.id in set(verdicts[item["item_idx"]]["unsupported"])}
        kept = {(field, text) for field in KNOWLEDGE_FIELDS for text in item[field]}
        # The verifier never keeps a claim it reports dropped.
        assert not kept & {(c.field, c.text) for c in claims if c.id in reported}
        assert item["claims_total"] == len(claims) and item["claims_dropped"] >= len(reported)
        assert 1 <= len(item["summary"].split()) <= SUMMARY_WORDS
        total, dropped = total + item["claims_total"], dropped + item["claims_dropped"]
    assert meta["unsupported_claim_rate"] == pytest.approx(dropped / total if total else 0.0)
    for agent in ("analyst", "verifier", "summarizer"):
        assert meta[f"{agent}_prompt_tokens"] > 0 and meta[f"{agent}_wall_seconds"] > 0
    assert all(0 <= meta[f"empty_rate_{field}"] <= 1 for field in KNOWLEDGE_FIELDS)

    by_item = {r["item_idx"]: r for r in items}
    with_knowledge = {r["item_idx"] for r in items if r["has_knowledge"]}
    assert with_knowledge == {k["item_idx"] for k in knowledge}
    for item in knowledge:
        published = by_item[item["item_idx"]]
        assert published["knowledge_summary"] == item["summary"]
        assert published["knowledge_category_path"] == item["category_path"]
        assert np.linalg.norm(published["knowledge_embedding"]) == pytest.approx(1.0, abs=1e-3)
    for idx in set(by_item) - with_knowledge:
        row = by_item[idx]
        assert row["knowledge_summary"] == "" and row["knowledge_price_tier"] == "unknown"
        assert not any(row["knowledge_embedding"])


def test_beyond_log_items_are_catalog_items_outside_the_users_history(synthetic_run):
    wh = synthetic_run.wh
    interests = _llm_table(synthetic_run, "reaseq_user_interests").to_pylist()
    meta = _metadata(synthetic_run.result, "llm/reaseq_user_interests")
    catalog = {r["idx"] for r in read_set(wh, "id_maps").to_pylist() if r["kind"] == "item"}
    with_knowledge = {r["item_idx"] for r in _llm_table(synthetic_run, "reaseq_item_knowledge").to_pylist()}
    history = defaultdict(set)
    for row in read_set(wh, "interactions_train").to_pylist():
        history[row["user_idx"]].add(row["item_idx"])
    assert meta["users_prompted"] == TINY_REASEQ.users and meta["users_with_interests"] == len(interests)
    assert meta["reaseq_interest_generator.prompt_tokens"] > 0
    assert interests and sum(len(u["beyond_log_item_idx"]) for u in interests) == meta["beyond_log_items"] > 0
    for user in interests:
        picks = user["beyond_log_item_idx"]
        assert len(user["interests"]) == TINY_REASEQ.interests
        assert len(picks) == len(set(picks)) <= TINY_REASEQ.interests * TINY_REASEQ.items_per_interest
        assert set(picks) <= with_knowledge <= catalog
        assert not set(picks) & history[user["user_idx"]]
    published = {r["user_idx"]: r["beyond_log_item_idx"] for r in read_set(wh, "user_sequences").to_pylist()}
    expected = {u["user_idx"]: u["beyond_log_item_idx"] for u in interests}
    assert published == {user: expected.get(user, []) for user in published}


def test_cached_rerun_of_the_profile_and_knowledge_jobs_sends_no_requests(synthetic_run):
    wh = synthetic_run.wh
    before = pads.dataset(runs_dir(wh), format="parquet").count_rows()
    tables = {name: _llm_table(synthetic_run, name.split("/")[1]) for name in LLM_ASSETS}

    result = materialize(
        synthetic_run.source, wh.base_url, synthetic_run.partition, with_llm=True, selection=LLM_ASSETS
    )

    assert result.success
    runs = sorted(pq.read_table(runs_dir(wh)).to_pylist(), key=lambda r: r["started_at"])[before:]
    assert {r["task"] for r in runs} == TASKS
    assert all(r["requests_sent"] == 0 and r["cache_hits"] >= r["rows"] for r in runs)
    for name, table in tables.items():
        assert _llm_table(synthetic_run, name.split("/")[1]).equals(table), name


PODCASTS = """\
domain: podcasts
items: podcast episodes
factors:
  - name: host_style
    user: How this listener likes hosts to talk (e.g. calm, energetic).
    item: How the hosts of this episode talk.
  - name: topics
    user: The subjects this listener wants to hear about.
    item: The subjects this episode covers.
"""


def test_a_domain_added_in_yaml_is_profiled_and_embedded_through_the_resource(synthetic_run, tmp_path):
    (tmp_path / "domains").mkdir()
    (tmp_path / "domains" / "podcasts.yaml").write_text(PODCASTS)
    wh, partition = synthetic_run.wh, synthetic_run.partition
    warehouse = tmp_path / "wh"
    for table in ("review_bundles", "user_features", "id_maps"):
        shutil.copytree(
            wh.table_path("features", table, partition), warehouse / "features" / table / f"date={partition}"
        )
    reform = ReformResource(domain="podcasts", factor_set_sources=[str(tmp_path / "domains")], users=1, items=0)

    result = dg.materialize(
        assets_and_checks,
        selection=["llm/reform_user_profiles", "llm/user_features_augmented"],
        partition_key=partition,
        resources=pipeline_support.test_resources(synthetic_run.source, warehouse) | {"reform": reform},
    )

    assert result.success
    meta = _metadata(result, "llm/reform_user_profiles")
    assert (meta["domain"], meta["factors"], meta["entities_prompted"]) == ("podcasts", 2, 1)
    table = pq.read_table(warehouse / "llm" / "user_features_augmented" / f"date={partition}")
    schema = published_schema("user_features", ("host_style", "topics"), D)
    assert table.schema.names == schema.names
    assert table.schema.field("factor_embeddings").type == factor_embeddings_type(2, D)
    report = validate_table("user_features", table, read_set(wh, "id_maps"), None, schema=schema)
    assert report.passed, report.failures()
