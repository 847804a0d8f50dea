"""ReaSeq item knowledge without a model: claims, the verdict and checks, input rows, output models."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from llm_jobs.tasks.reaseq_agents import (
    ItemSummary,
    knowledge_text,
    verifier_row,
    verifier_task,
)
from llm_jobs.tasks.reaseq_interests import user_interests_task
from llm_jobs.tasks.reaseq_knowledge import Claim, content_words, number_claims, verify

KNOWLEDGE = {
    "reasoning": "a cooking magazine",
    "category_path": ["Magazines", "Food  magazines", "food MAGAZINES"],
    "key_attributes": ["glossy photos", "Bloomsbury edition"],
    "use_cases": ["weeknight dinners"],
    "target_audience": ["home cooks"],
    "complementary_categories": ["kitchen tools"],
    "substitute_categories": ["cookbooks", "cookbooks"],
    "price_tier": "premium",
}
ITEM_TEXT = ["Bon Appetit Magazine", "Food & Cooking", "Recipes every month.", "Glossy photos, lovely."]
#: An analyst row (transforms.knowledge_inputs.analyst_rows), its texts capped.
ANALYST_ROW = {
    "item_idx": 4,
    "title": "Bon Appetit",
    "category": "Food",
    "description": "",
    "price": 19.5,
    "price_text": "19.50",
    "reviews": ["x" * 240, "good", "fine"],
}


def test_claims_are_distinct_phrases_per_field_then_the_price_tier():
    claims = number_claims(KNOWLEDGE)

    assert [(c.id, c.field, c.text) for c in claims] == [
        ("c1", "category_path", "Magazines"),
        ("c2", "category_path", "Food magazines"),
        ("c3", "key_attributes", "glossy photos"),
        ("c4", "key_attributes", "Bloomsbury edition"),
        ("c5", "use_cases", "weeknight dinners"),
        ("c6", "target_audience", "home cooks"),
        ("c7", "complementary_categories", "kitchen tools"),
        ("c8", "substitute_categories", "cookbooks"),
        ("c9", "price_tier", "premium"),
    ]
    assert claims[3].statement == "key attribute: Bloomsbury edition"
    assert claims[8].statement == "price tier: premium"
    assert [c.field for c in number_claims({**KNOWLEDGE, "price_tier": "unknown"})][-1] == "substitute_categories"


def test_content_words_drop_short_words_and_stopwords_and_a_plural_s():
    words = content_words("The Glossy PHOTOS of a 12-issue set, for cooks")

    assert words == {"glossy", "photo", "issue", "set", "cook"}


def test_verify_keeps_no_reported_claim_and_derives_the_counts():
    claims = number_claims(KNOWLEDGE)

    verified = verify(claims, ["c6", "c8", "c6"], ITEM_TEXT, has_price=True)

    assert verified.fields == {
        "category_path": ["Magazines", "Food magazines"],
        # "Bloomsbury" is not in the item's text: the grounding check drops what the verifier kept.
        "key_attributes": ["glossy photos"],
        "use_cases": ["weeknight dinners"],
        "target_audience": [],
        "complementary_categories": ["kitchen tools"],
        "substitute_categories": [],
    }
    assert verified.price_tier == "premium"
    assert (verified.claims_total, verified.claims_dropped, verified.claims_dropped_by_checks) == (9, 3, 1)


def test_checks_drop_an_ungrounded_category_and_a_tier_without_a_price():
    claims = [
        Claim("c1", "category_path", "Garden tools"),
        Claim("c2", "category_path", "Cooking"),
        Claim("c3", "use_cases", "gift for a gardener"),
        Claim("c4", "price_tier", "budget"),
    ]

    verified = verify(claims, [], ITEM_TEXT, has_price=False)

    assert verified.fields["category_path"] == ["Cooking"]
    assert verified.fields["use_cases"] == ["gift for a gardener"]
    assert verified.price_tier == "unknown"
    assert (verified.claims_dropped, verified.claims_dropped_by_checks) == (2, 2)
    assert knowledge_text(verified) == "category path: Cooking\nuse cases: gift for a gardener\nprice tier: unknown"


def test_the_verifier_can_only_name_the_rows_claims():
    claims = number_claims(KNOWLEDGE)
    row = verifier_row(ANALYST_ROW, claims)

    request = verifier_task().render(row)

    assert request.json_schema["properties"]["unsupported"]["items"] == {
        "type": "string",
        "enum": [f"c{i}" for i in range(1, 10)],
    }
    assert "<<<CLAIMS c4>>>\nkey attribute: Bloomsbury edition\n<<<END CLAIMS c4>>>" in request.messages[1]["content"]
    with pytest.raises(ValidationError):
        verifier_task().parse('{"unsupported": ["c10"]}', row)


def test_summary_allows_80_words_and_no_more():
    assert ItemSummary(summary=" ".join(["word"] * 80)).summary
    with pytest.raises(ValidationError, match="81 words"):
        ItemSummary(summary=" ".join(["a"] * 81))


def test_interests_are_k_distinct_phrases():
    task = user_interests_task(k=2)
    row = {"user_idx": 1, "history": []}

    schema = task.json_schema(None)["properties"]["interests"]
    assert (schema["minItems"], schema["maxItems"], schema["items"]["maxLength"]) == (2, 2, 48)
    assert task.parse('{"interests": ["hiking", "trail food"]}', row).interests == ["hiking", "trail food"]
    for bad in ('{"interests": ["hiking", " Hiking"]}', '{"interests": ["hiking"]}'):
        with pytest.raises(ValidationError):
            task.parse(bad, row)
