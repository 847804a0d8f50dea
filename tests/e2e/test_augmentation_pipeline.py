"""LLM-I2I and S-LLMR end to end through Dagster on synthetic data with the real embedded model:
the invariants hold on whatever the model answered."""

from __future__ import annotations

import glob
import json
from collections import defaultdict

import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from support.pipeline_support import TINY_I2I, TINY_SLMR, materialize, read_set

from llm_jobs.accounting import runs_dir


def _llm_table(run, name):
    return pq.read_table(run.wh.table_path("llm", name, run.partition)).to_pylist()


def _metadata(result, key: str) -> dict:
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key]
    return {k: v.value for k, v in event.materialization.metadata.items()}


@pytest.fixture(scope="module")
def ids(synthetic_run):
    id_maps = read_set(synthetic_run.wh, "id_maps").to_pylist()
    return {kind: {r["idx"] for r in id_maps if r["kind"] == kind} for kind in ("user", "item")}


@pytest.fixture(scope="module")
def splits(synthetic_run):
    rows = read_set(synthetic_run.wh, "interactions_train").to_pylist()
    heldout = (
        read_set(synthetic_run.wh, "interactions_valid").to_pylist()
        + read_set(synthetic_run.wh, "interactions_test").to_pylist()
    )
    train = defaultdict(list)
    for row in rows:
        train[row["user_idx"]].append(row)
    return train, {(r["user_idx"], r["item_idx"]) for r in heldout}


def test_both_branches_materialize_and_publish(synthetic_run):
    assert synthetic_run.result.success
    for name in ("i2i_train_interactions", "i2i_pairs", "llm_pairwise_supervision"):
        # Present even when empty (a model that scores every candidate alike yields no pairs).
        assert read_set(synthetic_run.wh, name).schema.names
    assert read_set(synthetic_run.wh, "i2i_pairs").num_rows > 0


def test_synthetic_pairs_are_long_tail_unseen_and_follow_the_training_history(synthetic_run, ids, splits):
    train, _ = splits
    tail = {r["item_idx"] for r in read_set(synthetic_run.wh, "item_features").to_pylist() if r["is_long_tail"]}
    synthetic = _llm_table(synthetic_run, "i2i_synthetic")
    meta = _metadata(synthetic_run.result, "llm/i2i_synthetic")
    assert meta["users_prompted"] == TINY_I2I.users
    assert meta["synthetic_pairs_generated"] == len(synthetic) <= TINY_I2I.users * TINY_I2I.max_picks
    for row in synthetic:
        assert row["item_idx"] in tail and row["user_idx"] in ids["user"]
        history = train[row["user_idx"]]
        assert row["item_idx"] not in {r["item_idx"] for r in history}
        # Stamped at the last training interaction: never inside the held-out window.
        assert row["ts"] == max(r["ts"] for r in history)


def test_discriminator_thresholds_decide_what_is_fused(synthetic_run, ids, splits):
    train, heldout = splits
    judgements = _llm_table(synthetic_run, "i2i_judgements")
    synthetic = {(r["user_idx"], r["item_idx"]) for r in _llm_table(synthetic_run, "i2i_synthetic")}
    assert {(r["user_idx"], r["item_idx"]) for r in judgements if r["source"] == "synthetic"} == synthetic
    assert sum(r["source"] == "real" for r in judgements) == TINY_I2I.real_pairs_judged
    assert sum(r["source"] == "negative" for r in judgements) == TINY_I2I.negative_pairs_judged
    for row in judgements:
        assert 0.0 <= row["p_yes"] <= 1.0 and row["p_yes_from"] == "logprobs"
        expected = {"synthetic": row["p_yes"] >= TINY_I2I.keep_synthetic_at, "real": True, "negative": False}
        assert row["kept"] == expected[row["source"]]
    fused = read_set(synthetic_run.wh, "i2i_train_interactions").to_pylist()
    kept = {(r["user_idx"], r["item_idx"]): r["p_yes"] for r in judgements if r["source"] == "synthetic" and r["kept"]}
    assert {(r["user_idx"], r["item_idx"]): r["judge_p_yes"] for r in fused if r["source"] == "synthetic"} == kept
    assert sum(r["source"] == "real" for r in fused) == sum(len(v) for v in train.values())
    assert not heldout & {(r["user_idx"], r["item_idx"]) for r in fused if r["source"] == "real"}
    assert {r["user_idx"] for r in fused} <= ids["user"] and {r["item_idx"] for r in fused} <= ids["item"]


def test_i2i_pairs_are_recomputed_on_the_fused_interactions(synthetic_run, ids):
    pairs = read_set(synthetic_run.wh, "i2i_pairs").to_pylist()
    assert {r["item_idx"] for r in pairs} | {r["neighbor_idx"] for r in pairs} <= ids["item"]
    tail = {r["item_idx"] for r in read_set(synthetic_run.wh, "item_features").to_pylist() if r["is_long_tail"]}
    meta = _metadata(synthetic_run.result, "llm/i2i_pairs")
    for method in ("swing", "cooccurrence"):
        covered = {r["neighbor_idx"] for r in pairs if r["method"] == method} & tail
        assert meta[f"long_tail_coverage_after.{method}"] == pytest.approx(len(covered) / len(tail), abs=1e-4)
        assert 0 <= meta[f"long_tail_coverage_before.{method}"] <= 1


def _jsonl(folder: str) -> list[dict]:
    """The records of a folder of JSONL part files, as Spark wrote them."""
    return [json.loads(line) for path in sorted(glob.glob(f"{folder}/part-*.jsonl")) for line in open(path)]


def test_sft_exports_are_chat_records_with_long_tail_weights(synthetic_run):
    directory = synthetic_run.wh.table_path("llm", "i2i_sft_examples", synthetic_run.partition)
    tail = {r["item_idx"] for r in read_set(synthetic_run.wh, "item_features").to_pylist() if r["is_long_tail"]}
    generator, discriminator = _jsonl(f"{directory}/generator"), _jsonl(f"{directory}/discriminator")
    assert generator and discriminator
    meta = _metadata(synthetic_run.result, "llm/i2i_sft_examples")
    assert (meta["generator_examples"], meta["discriminator_examples"]) == (len(generator), len(discriminator))
    for record in generator:
        assert [m["role"] for m in record["messages"]] == ["system", "user", "assistant"]
        (pick,) = json.loads(record["messages"][2]["content"])["picks"]
        assert f"[{pick['item']}]" in record["messages"][1]["content"]
        assert record["weight"] == (TINY_I2I.long_tail_target_weight if int(pick["item"]) in tail else 1.0)
    answers = [json.loads(r["messages"][2]["content"])["answer"] for r in discriminator]
    seen = defaultdict(set)
    for row in read_set(synthetic_run.wh, "interactions_train").to_pylist():
        seen[row["user_idx"]].add(row["item_idx"])
    n_items = read_set(synthetic_run.wh, "item_features").num_rows
    # One negative per positive, for every user with an item they never trained on.
    assert answers.count("yes") == len(generator)
    assert answers.count("no") == sum(len(seen[r["user_idx"]]) < n_items for r in generator)


def test_slmr_scores_cover_every_candidate_and_count_missing_ones(synthetic_run):
    prompts = _llm_table(synthetic_run, "slmr_candidates")
    scores = _llm_table(synthetic_run, "slmr_scores")
    meta = _metadata(synthetic_run.result, "llm/slmr_scores")
    candidates = {(p["user_idx"], p["candidate_set"], int(c["id"])) for p in prompts for c in p["candidates"]}
    scored = {(s["user_idx"], s["candidate_set"], s["item_idx"]) for s in scores}
    rejected = meta["slmr_scorer.rejected"]
    assert scored <= candidates and (rejected > 0 or scored == candidates)
    assert meta["missing_scores"] == sum(s["is_missing"] for s in scores)
    for s in scores:
        assert 0.0 <= s["score"] <= 1.0
        assert s["is_missing"] == (s["raw_score"] is None)


def test_pairwise_supervision_orders_pairs_by_gap(synthetic_run, ids):
    scores = {
        (s["user_idx"], s["candidate_set"], s["item_idx"]): s["score"] for s in _llm_table(synthetic_run, "slmr_scores")
    }
    pairs = read_set(synthetic_run.wh, "llm_pairwise_supervision").to_pylist()
    per_prompt = defaultdict(list)
    for p in pairs:
        prompt = (p["user_idx"], p["candidate_set"])
        assert p["s_i"] == scores[(*prompt, p["item_i"])] and p["s_j"] == scores[(*prompt, p["item_j"])]
        assert p["s_i"] > p["s_j"] and p["gap"] == pytest.approx(p["s_i"] - p["s_j"])
        assert {p["item_i"], p["item_j"]} <= ids["item"] and p["user_idx"] in ids["user"]
        per_prompt[prompt].append(p["gap"])
    for prompt, gaps in per_prompt.items():
        assert len(gaps) <= TINY_SLMR.pairs_per_user
        ordered = sorted(
            (
                scores[(*prompt, i)] - scores[(*prompt, j)]
                for (u, c, i) in scores
                for (u2, c2, j) in scores
                if (u, c) == (u2, c2) == prompt and scores[(u, c, i)] > scores[(u, c, j)]
            ),
            reverse=True,
        )
        assert sorted(gaps, reverse=True) == pytest.approx(ordered[: TINY_SLMR.pairs_per_user])


def test_rerun_on_unchanged_inputs_sends_no_llm_requests(synthetic_run):
    before = pads.dataset(runs_dir(synthetic_run.wh), format="parquet").count_rows()
    result = materialize(synthetic_run.source, synthetic_run.wh.base_url, synthetic_run.partition, with_llm=True)
    assert result.success
    runs = pq.read_table(runs_dir(synthetic_run.wh)).to_pylist()
    ordered = sorted(runs, key=lambda r: r["started_at"])
    first, rerun = ordered[:before], ordered[before:]
    assert {r["task"] for r in rerun} == {r["task"] for r in first}
    assert {"i2i_generator", "i2i_discriminator", "slmr_scorer"} <= {r["task"] for r in rerun}
    assert all(r["requests_sent"] == 0 and r["cache_hits"] >= r["rows"] for r in rerun)
