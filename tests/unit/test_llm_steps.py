"""Every method's parse step, without a model: outputs beside their input rows, turned into typed
rows, and the numbers the assets report about them."""

import pyarrow as pa
import pytest

from llm_jobs.factor_sets import resolve_factor_set
from llm_jobs.reform_profiles import augmented_metadata, profile_metadata
from llm_jobs.step import LLMStep, StepRun, parsed_outputs
from llm_jobs.tasks.i2i import discriminator_step, generator_metadata, generator_step, judgement_metadata
from llm_jobs.tasks.reaseq_agents import ANALYST_ROWS
from llm_jobs.tasks.reaseq_interests import interest_metadata, user_interests_step
from llm_jobs.tasks.reaseq_items import ANALYST_STEP, SUMMARIZER_STEP, VERIFIER_STEP
from llm_jobs.tasks.reform import profile_step, profile_task
from llm_jobs.tasks.slmr import score_metadata, scoring_step
from schemas.tables import ITEM_KNOWLEDGE, REASEQ_USER_INTERESTS


class _Job:
    """The two JobResult fields the generator's metadata reads."""

    def __init__(self, rows: int, accepted: int) -> None:
        self.rows, self.accepted = rows, accepted


def step_rows(step: LLMStep, inputs: list[dict], outputs: list[tuple[dict, dict]]) -> pa.Table:
    """What the job's workers write: `to_rows` of each accepted output beside its own input row."""
    keys = step.task.key_columns
    by_key = {tuple(row[c] for c in keys): row for row in inputs}
    rows = [out for key, output in outputs for out in step.to_rows(by_key[tuple(key[c] for c in keys)], output)]
    return pa.Table.from_pylist(rows, schema=step.schema)


def _generator_inputs() -> list[dict]:
    return [{"user_idx": user, "history": [], "candidates": []} for user in (1, 2, 3, 4)]


def test_outputs_become_rows_beside_their_input_rows_and_rejected_rows_yield_nothing():
    outputs = [
        ({"user_idx": 1}, {"picks": [{"item": "7", "reason": "a"}, {"item": "7", "reason": "b"}]}),
        ({"user_idx": 2}, {"picks": [{"item": "9", "reason": "c"}]}),
        ({"user_idx": 4}, {"picks": []}),  # user 3 was rejected
    ]

    picks = step_rows(generator_step(2), _generator_inputs(), outputs)

    assert picks.to_pylist() == [
        {"user_idx": 1, "item_idx": 7, "pick_rank": 1, "reason": "a"},
        {"user_idx": 2, "item_idx": 9, "pick_rank": 1, "reason": "c"},
    ]
    metadata = generator_metadata(StepRun(picks, _Job(rows=4, accepted=3)))
    assert metadata == {"users_prompted": 4, "synthetic_pairs_generated": 2, "users_with_no_pick": 1}


def test_a_jobs_accepted_table_parses_once_into_keys_and_outputs():
    accepted = pa.table({"user_idx": [4], "output": ['{"picks": []}'], "model_id": ["m"]})

    assert parsed_outputs(accepted, ["user_idx"]) == [({"user_idx": 4}, {"picks": []})]


def test_discriminator_verdicts_apply_the_thresholds_per_source():
    sources = ["synthetic", "synthetic", "real", "negative"]
    inputs = [{"user_idx": 1, "item_idx": i, "source": s} for i, s in enumerate(sources)]
    answers = [("yes", 0.95), ("yes", 0.6), ("no", 0.2), ("yes", 0.99)]
    outputs = [
        ({"user_idx": 1, "item_idx": i, "source": row["source"]}, {"answer": a, "p_yes": p, "p_yes_from": "logprobs"})
        for i, (row, (a, p)) in enumerate(zip(inputs, answers))
    ]

    verdicts = step_rows(discriminator_step(True, keep_synthetic_at=0.9, drop_real_below=0.5), inputs, outputs)

    assert verdicts["kept"].to_pylist() == [True, False, False, False]
    assert judgement_metadata(verdicts, logprobs=True) == {
        "synthetic_judged": 2,
        "synthetic_kept": 1,
        "real_judged": 1,
        "real_dropped": 1,
        "negatives_judged": 1,
        "p_yes_from": "logprobs",
    }


def test_scores_cover_every_candidate_and_leave_missing_ones_null():
    row = {"user_idx": 2, "candidate_set": "popular", "history": [], "candidates": [{"id": "5"}, {"id": "6"}]}
    outputs = [({"user_idx": 2, "candidate_set": "popular"}, {"scores": {"5": 7}})]

    raw = step_rows(scoring_step(2), [row], outputs)

    assert raw["item_idx"].to_pylist() == [5, 6] and raw["raw_score"].to_pylist() == [0.7, None]
    assert score_metadata(raw) == {"scores": 2, "missing_scores": 1}


def test_profiles_are_normalized_phrases_per_factor_with_their_metadata():
    factor_set = resolve_factor_set("restaurant")
    step = profile_step(profile_task(factor_set, "user"))
    output = {name: [] for name in factor_set.names} | {"flavor": [" Spicy  food ", "spicy food", "smoky"]}

    profiles = step_rows(step, [{"entity_idx": 4, "review": []}], [({"entity_idx": 4}, output)])

    (profile,) = profiles.to_pylist()
    assert profile["entity_idx"] == 4 and profile["flavor"] == ["Spicy food", "smoky"]
    metadata = profile_metadata(profiles, factor_set)
    assert metadata["profiles"] == 1 and metadata["factor_texts_encoded"] == 1
    assert metadata["empty_factor_rate.flavor"] == 0.0 and metadata["empty_factor_rate.cuisine_type"] == 1.0


def test_augmented_metadata_counts_rows_with_any_factor():
    mask = pa.FixedSizeListArray.from_arrays(pa.array([False, False, True, False]), 2)

    assert augmented_metadata(pa.table({"factor_mask": mask})) == {"rows": 2, "rows_with_a_profile": 1}


_KNOWLEDGE = {
    "reasoning": "A cooking magazine.",
    "category_path": ["Magazines", "Cooking", "Cooking"],
    "key_attributes": ["monthly recipes", "glossy paper"],
    "use_cases": ["weeknight dinners"],
    "target_audience": ["home cooks"],
    "complementary_categories": ["cookware"],
    "substitute_categories": ["cookbooks"],
    "price_tier": "mid",
}


def test_the_item_agents_chain_row_to_row_and_keep_only_verified_claims():
    analyst_rows = pa.Table.from_pylist(
        [
            {
                "item_idx": 3,
                "title": "Cooking Magazine",
                "category": "Magazines",
                "description": "Monthly recipes for busy cooks.",
                "price": None,
                "price_text": "unknown",
                "reviews": ["great recipes"],
            }
        ],
        schema=ANALYST_ROWS,
    )
    key = {"item_idx": 3}

    verifier_rows = step_rows(ANALYST_STEP, analyst_rows.to_pylist(), [(key, _KNOWLEDGE)])
    (verifier_row,) = verifier_rows.to_pylist()
    assert verifier_row["claim_ids"] == [f"c{i}" for i in range(1, 10)]  # "Cooking" once, the price tier last
    summarizer_rows = step_rows(VERIFIER_STEP, [verifier_row], [(key, {"unsupported": ["c7"]})])
    knowledge = step_rows(SUMMARIZER_STEP, summarizer_rows.to_pylist(), [(key, {"summary": "A monthly cooking read."})])

    assert knowledge.schema == ITEM_KNOWLEDGE
    (item,) = knowledge.to_pylist()
    assert item["summary"] == "A monthly cooking read." and item["use_cases"] == ["weeknight dinners"]
    assert item["key_attributes"] == ["monthly recipes"]  # "glossy paper" is not in the item's text
    assert item["complementary_categories"] == []  # c7, reported unsupported
    # No known price: the tier is dropped by the checks, as "glossy paper" is.
    assert (item["price_tier"], item["claims_total"], item["claims_dropped"], item["claims_dropped_by_checks"]) == (
        "unknown",
        9,
        3,
        2,
    )


def test_interests_rows_and_their_metadata():
    outputs = [({"user_idx": 5}, {"interests": ["a", "b"]})]
    rows = step_rows(user_interests_step(2), [{"user_idx": 5, "history": []}], outputs)
    assert rows.to_pylist() == [{"user_idx": 5, "interests": ["a", "b"]}]

    mapped = pa.Table.from_pylist(
        [
            {"user_idx": 5, "interests": ["a", "b"], "beyond_log_item_idx": [1, 2, 3]},
            {"user_idx": 6, "interests": ["c"], "beyond_log_item_idx": []},
        ],
        schema=REASEQ_USER_INTERESTS,
    )
    assert interest_metadata(mapped) == {
        "users_with_interests": 2,
        "beyond_log_items": 3,
        "beyond_log_items_per_user": 1.5,
    }
