"""ReaSeq-inspired item knowledge (arXiv 2512.21257): what the analyst claims about an item, how
its claims are numbered for the verifier, and how the verifier's verdict and our deterministic
checks turn the claims into verified knowledge.

A claim is one phrase of one knowledge field, or the price tier when it is not "unknown". Our
choices where the paper gives none:
- Repeated phrases within a field (the same text up to case and spacing) are one claim.
- The verifier names the claims it finds unsupported; kept claims and the dropped count are derived
  here from those ids, never read from the model, so a claim reported dropped cannot be kept.
- Deterministic checks on top of the verifier, dropping a claim it kept. Grounding, against the
  item's own text (title, category, description, reviews) as lower-cased content words:
  * a key attribute states a fact about this item, so every content word of it must be there;
  * a category path level may be broader than the item's text ("Food magazines" for a text that
    says "magazine" and "recipes") but must share at least one content word with it;
  * use cases, audience, complementary and substitute categories are world knowledge by design
    (the point of the method) and are judged by the verifier alone.
  Price: a price tier other than "unknown" needs a known price; a dropped tier becomes "unknown".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from schemas.llm_outputs import KNOWLEDGE_FIELDS

PHRASE_CHARS = 32
REASONING_CHARS = 160
PRICE_TIER_FIELD = "price_tier"

Phrase = Annotated[str, Field(min_length=2, max_length=PHRASE_CHARS)]


class ItemKnowledge(BaseModel):
    """The analyst's output: reasoning first (decoding follows this field order), then knowledge."""

    reasoning: str = Field(max_length=REASONING_CHARS)
    category_path: list[Phrase] = Field(min_length=1, max_length=3)
    key_attributes: list[Phrase] = Field(min_length=1, max_length=4)
    use_cases: list[Phrase] = Field(min_length=1, max_length=3)
    target_audience: list[Phrase] = Field(min_length=1, max_length=2)
    complementary_categories: list[Phrase] = Field(min_length=1, max_length=2)
    substitute_categories: list[Phrase] = Field(min_length=1, max_length=2)
    price_tier: Literal["budget", "mid", "premium", "unknown"]


#: Every list phrase plus the price tier.
MAX_CLAIMS = sum(ItemKnowledge.model_json_schema()["properties"][f]["maxItems"] for f in KNOWLEDGE_FIELDS) + 1


@dataclass(frozen=True)
class Claim:
    id: str  # "c1", "c2", ...: the verifier's enum
    field: str
    text: str

    @property
    def statement(self) -> str:
        """How the verifier reads the claim."""
        if self.field == PRICE_TIER_FIELD:
            return f"price tier: {self.text}"
        return f"{KNOWLEDGE_FIELDS[self.field]}: {self.text}"


def _normalized(text: str) -> str:
    return " ".join(text.split()).casefold()


def number_claims(knowledge: Mapping[str, object]) -> list[Claim]:
    """The analyst's distinct claims, numbered in field order."""
    claims: list[Claim] = []
    for field in KNOWLEDGE_FIELDS:
        seen: set[str] = set()
        for phrase in knowledge[field]:
            text = " ".join(phrase.split())
            if text and _normalized(text) not in seen:
                seen.add(_normalized(text))
                claims.append(Claim(f"c{len(claims) + 1}", field, text))
    if knowledge[PRICE_TIER_FIELD] != "unknown":
        claims.append(Claim(f"c{len(claims) + 1}", PRICE_TIER_FIELD, str(knowledge[PRICE_TIER_FIELD])))
    return claims


_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    [
        "the",
        "and",
        "for",
        "with",
        "from",
        "this",
        "that",
        "your",
        "you",
        "are",
        "was",
        "were",
        "has",
        "have",
        "had",
        "not",
        "but",
        "all",
        "any",
        "its",
        "our",
        "their",
        "they",
        "them",
        "very",
        "more",
        "most",
        "into",
        "onto",
        "over",
        "under",
        "about",
        "per",
        "each",
        "other",
    ]
)


def content_words(text: str) -> set[str]:
    """Lower-cased words of three or more characters, stopwords out, a plural `s` stripped."""
    words = set()
    for word in _WORD.findall(text.casefold()):
        if len(word) >= 3 and word not in _STOPWORDS:
            words.add(word[:-1] if len(word) > 3 and word.endswith("s") else word)
    return words


def passes_checks(claim: Claim, item_words: set[str], has_price: bool) -> bool:
    """The deterministic checks of the module docstring."""
    if claim.field == PRICE_TIER_FIELD:
        return has_price
    words = content_words(claim.text)
    if claim.field == "key_attributes":
        return bool(words) and words <= item_words
    if claim.field == "category_path":
        return bool(words & item_words)
    return True


@dataclass(frozen=True)
class VerifiedKnowledge:
    fields: dict[str, list[str]]  # every KNOWLEDGE_FIELDS field, kept phrases in the analyst's order
    price_tier: str
    claims_total: int
    claims_dropped: int
    # Of the dropped claims, those the verifier kept and the deterministic checks dropped.
    claims_dropped_by_checks: int


def verify(
    claims: Sequence[Claim], unsupported_ids: Iterable[str], item_text: Iterable[str], has_price: bool
) -> VerifiedKnowledge:
    """Keep the claims the verifier did not report unsupported and that pass the checks."""
    reported = set(unsupported_ids)
    item_words = set().union(*(content_words(text) for text in item_text))
    kept_by_verifier = [claim for claim in claims if claim.id not in reported]
    kept = [claim for claim in kept_by_verifier if passes_checks(claim, item_words, has_price)]
    tiers = [claim.text for claim in kept if claim.field == PRICE_TIER_FIELD]
    return VerifiedKnowledge(
        fields={field: [claim.text for claim in kept if claim.field == field] for field in KNOWLEDGE_FIELDS},
        price_tier=tiers[0] if tiers else "unknown",
        claims_total=len(claims),
        claims_dropped=len(claims) - len(kept),
        claims_dropped_by_checks=len(kept_by_verifier) - len(kept),
    )
