"""A deterministic synthetic marketplace written in the Amazon Review Data (2018) format.

`write_marketplace(spec, out_dir)` writes two gzipped JSON-lines files, exactly the layout of a
real Amazon 2018 category:

- `<category_name>_5.json.gz`: one review per line (`overall`, `verified`, `reviewTime`,
  `reviewerID`, `asin`, `reviewerName`, `reviewText`, `summary`, `unixReviewTime`, sometimes
  `vote`). The name follows Amazon's "5-core" convention so readers find it; the data is not
  5-core filtered (light users with one review exist on purpose).
- `meta_<category_name>.json.gz`: one catalog row per item (`asin`, `title`, `category`,
  `description`, `brand`, `price`, `also_buy`, `main_cat`, and the other real keys with the
  empty values real rows have).

Generative model
----------------
Catalog. Items are spread evenly over a fixed set of product categories (`CATEGORIES`). Each
item gets a popularity weight from a Zipf-like power law, `rank ** -popularity_exponent`, with
ranks shuffled so that popular items are scattered across categories, and a latent quality
drawn from a normal distribution. Titles, descriptions and prices come from the category's
vocabulary (the YAML files of `synthetic.vocabulary`); `also_buy` lists a few items of the same
category, popular ones first in likelihood.

Users. Activity weights follow a Pareto law with tail index `activity_exponent`; interaction
counts are `1 + multinomial(n_interactions - n_users, weights)`, capped at the catalog size,
so every user has at least one interaction, most have a few and some have many, and the total
is exactly `n_interactions`. Each user prefers 1-3 categories (drawn in proportion to the
categories' popularity mass) and is active in a random window of days.

Interactions. A user's interaction picks, with probability `PREFERRED_SHARE`, one of the
user's preferred categories and then an item of it by popularity, otherwise an item of the
whole catalog by popularity; that gives co-occurrence structure within categories. Duplicate
(user, item) draws are rejected and redrawn, so pairs are distinct. Days are uniform in the
user's active window (midnight UTC, day resolution, like Amazon's data), and a user's lines are
written in time order. Ratings are an ordered-probit of item quality + user bias + noise, with
thresholds chosen so that the marginal resembles real Amazon data (about 60% fives, 4% ones).
Review texts are 1-4 template sentences about concrete aspects of the item's category with a
sentiment that follows the rating, plus a short summary.

Determinism and memory. All randomness comes from `numpy.random.Generator(PCG64(...))` streams
spawned from `spec.seed`; gzip headers carry mtime 0 and a fixed file name, so the same spec
gives byte-identical files. Interactions are generated and written per chunk of users
(about `CHUNK_INTERACTIONS` lines), so memory is bounded by the chunk, the catalog and one
small array per user, not by the number of interactions.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from statistics import NormalDist

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field, model_validator

from synthetic.vocabulary import (
    BRANDS,
    CATEGORIES,
    CLOSERS,
    FIRST_NAMES,
    NEGATIVE_TEMPLATES,
    OPENERS,
    POSITIVE_TEMPLATES,
    SUMMARIES,
    Category,
)

CHUNK_INTERACTIONS = 50_000
PREFERRED_SHARE = 0.8
# Target share of ratings 1..5, close to real Amazon categories (Magazine: 4/5/10/16/65 %).
RATING_SHARES = (0.04, 0.05, 0.10, 0.21, 0.60)
ITEM_QUALITY_SD = 0.5
USER_BIAS_SD = 0.3
EMPTY_PRICE_SHARE = 0.04
VERIFIED_SHARE = 0.9
VOTE_SHARE = 0.08
ANONYMOUS_NAME_SHARE = 0.05
MAX_REJECTION_ROUNDS = 8
GZIP_LEVEL = 6


class MarketplaceSpec(BaseModel):
    """What to generate. The same spec always yields the same bytes."""

    n_users: int = Field(2000, ge=1)
    n_items: int = Field(500, ge=1)
    n_interactions: int = Field(20_000, ge=1)
    category_name: str = Field("Synthetic_Marketplace", pattern=r"^[A-Za-z0-9_]+$")
    start_date: date = date(2023, 1, 1)
    end_date: date = date(2024, 12, 31)
    # Item popularity is proportional to rank ** -popularity_exponent (Zipf-like).
    popularity_exponent: float = Field(1.1, ge=0)
    # Tail index of the Pareto law of user activity: smaller means heavier heavy users.
    activity_exponent: float = Field(1.8, gt=0)
    seed: int = Field(7, ge=0)
    # Share of reviews with text; the others have an empty reviewText, as some real rows do.
    review_text_rate: float = Field(1.0, ge=0, le=1)

    @model_validator(mode="after")
    def _check_feasible(self) -> MarketplaceSpec:
        if self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        if self.n_interactions < self.n_users:
            raise ValueError("n_interactions < n_users: every user needs at least one interaction")
        if self.n_interactions > self.n_users * self.n_items:
            raise ValueError("n_interactions > n_users * n_items: (user, item) pairs are distinct")
        return self


# ---------------------------------------------------------------------------------------------
# Catalog
# ---------------------------------------------------------------------------------------------

_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def asin_of(item: int) -> str:
    """Amazon-style 10-character ASIN: "B" + the item index in base 36, zero-padded to 9."""
    digits = []
    for _ in range(9):
        item, r = divmod(item, 36)
        digits.append(_BASE36[r])
    if item:
        raise ValueError("item index too large for a 10-character ASIN")
    return "B" + "".join(reversed(digits))


def reviewer_id_of(user: int) -> str:
    return f"U{user:07d}"


@dataclass
class Catalog:
    """Item attributes kept in memory (O(n_items)) while the reviews are written."""

    category: np.ndarray  # int, category index per item
    popularity: np.ndarray  # float, sums to 1
    quality: np.ndarray  # float, latent item quality
    noun: list[str]  # product noun per item as in titles, e.g. "Vitamin C Serum"
    asin: list[str]
    bank: np.ndarray  # per item, its (category, noun) sentence bank in `texts`
    texts: ReviewTexts
    # Items grouped by category, with a cumulative popularity in [c, c + 1) for category c,
    # so one searchsorted on `c + u` samples an item of category c by popularity.
    items_by_category: np.ndarray
    category_cdf: np.ndarray
    category_start: np.ndarray  # offsets into items_by_category, length n_categories + 1
    global_cdf: np.ndarray
    category_mass: np.ndarray  # popularity mass per category


def _zipf_popularity(n_items: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    ranks = rng.permutation(n_items) + 1  # shuffled so popularity is not tied to the index
    weights = ranks.astype(np.float64) ** -exponent
    return weights / weights.sum()


def build_catalog(n_items: int, popularity_exponent: float, rng: np.random.Generator) -> Catalog:
    n_cat = len(CATEGORIES)
    category = rng.permutation(np.arange(n_items) % n_cat)
    popularity = _zipf_popularity(n_items, popularity_exponent, rng)
    quality = rng.normal(0.0, ITEM_QUALITY_SD, n_items)
    noun_index = rng.integers(0, 1 << 30, n_items)
    noun = [CATEGORIES[c].nouns[k % len(CATEGORIES[c].nouns)] for c, k in zip(category.tolist(), noun_index.tolist())]

    items_by_category = np.argsort(category, kind="stable")
    sorted_cat = category[items_by_category]
    category_start = np.searchsorted(sorted_cat, np.arange(n_cat + 1))
    category_mass = np.bincount(category, weights=popularity, minlength=n_cat)
    category_cdf = np.empty(n_items)
    for c in range(n_cat):
        lo, hi = category_start[c], category_start[c + 1]
        if hi > lo:
            cum = np.cumsum(popularity[items_by_category[lo:hi]])
            category_cdf[lo:hi] = c + cum / cum[-1]
    bank_keys = sorted(set(zip(category.tolist(), noun)))
    bank_of = {key: k for k, key in enumerate(bank_keys)}
    return Catalog(
        category=category,
        popularity=popularity,
        quality=quality,
        noun=noun,
        asin=[asin_of(i) for i in range(n_items)],
        bank=np.array([bank_of[key] for key in zip(category.tolist(), noun)], dtype=np.int64),
        texts=ReviewTexts([TextBank(CATEGORIES[c], n) for c, n in bank_keys]),
        items_by_category=items_by_category,
        category_cdf=category_cdf,
        category_start=category_start,
        global_cdf=np.cumsum(popularity) / popularity.sum(),
        category_mass=category_mass,
    )


def _price(category: Category, rng: np.random.Generator) -> str:
    if rng.random() < EMPTY_PRICE_SHARE:
        return ""
    lo, hi = category.price_range
    dollars = np.exp(rng.uniform(np.log(lo), np.log(hi)))
    return f"${int(dollars)}.{(99, 95, 49, 0)[rng.integers(0, 4)]:02d}"


def _also_buy(item: int, catalog: Catalog, rng: np.random.Generator) -> list[str]:
    """0-6 distinct other items of the same category, drawn by popularity."""
    c = int(catalog.category[item])
    lo, hi = catalog.category_start[c], catalog.category_start[c + 1]
    wanted = int(rng.integers(0, 7))
    draws = np.searchsorted(catalog.category_cdf[lo:hi], c + rng.random(2 * wanted), side="right")
    related: list[str] = []
    for pos in np.minimum(draws, hi - lo - 1).tolist():
        other = int(catalog.items_by_category[lo + pos])
        asin = catalog.asin[other]
        if other != item and asin not in related and len(related) < wanted:
            related.append(asin)
    return related


def catalog_rows(catalog: Catalog, rng: np.random.Generator) -> Iterator[dict]:
    """One meta row per item, keys in the order of real Amazon 2018 metadata."""
    for item in range(len(catalog.category)):
        cat = CATEGORIES[int(catalog.category[item])]
        brand = BRANDS[rng.integers(0, len(BRANDS))]
        adjective = cat.adjectives[rng.integers(0, len(cat.adjectives))]
        noun = catalog.noun[item]
        variant = cat.variants[rng.integers(0, len(cat.variants))]
        f1, f2 = rng.choice(len(cat.features), 2, replace=False).tolist()
        description = [f"{adjective} {_in_sentence(noun)} from {brand} with {cat.features[f1]} and {cat.features[f2]}."]
        if rng.random() < 0.5:
            description.append(f"Built for everyday use and backed by a one-year {brand} warranty.")
        yield {
            "category": list(cat.path),
            "tech1": "",
            "description": description,
            "fit": "",
            "title": f"{brand} {adjective} {noun} {variant}",
            "also_buy": _also_buy(item, catalog, rng),
            "image": [],
            "tech2": "",
            "brand": brand,
            "feature": [],
            "rank": "",
            "also_view": [],
            "details": {},
            "main_cat": cat.main_cat,
            "similar_item": "",
            "date": "",
            "price": _price(cat, rng),
            "asin": catalog.asin[item],
        }


# ---------------------------------------------------------------------------------------------
# Users
# ---------------------------------------------------------------------------------------------


def user_activity(spec: MarketplaceSpec, rng: np.random.Generator) -> np.ndarray:
    """Interactions per user: >= 1 each, <= n_items each, summing to exactly n_interactions."""
    # Pareto(tail index a) weights by inverse transform: heavy-tailed for small a.
    weights = (1.0 - rng.random(spec.n_users)) ** (-1.0 / spec.activity_exponent)
    counts = 1 + rng.multinomial(spec.n_interactions - spec.n_users, weights / weights.sum())
    # A user cannot have more distinct items than the catalog: move the excess to users with room.
    while (excess := int(np.maximum(counts - spec.n_items, 0).sum())) > 0:
        np.minimum(counts, spec.n_items, out=counts)
        room = np.where(counts < spec.n_items, weights, 0.0)
        counts += rng.multinomial(excess, room / room.sum())
    return counts


@dataclass
class Preferences:
    """Per user, 1-3 preferred categories: the first `count[u]` entries of `categories[u]`."""

    categories: np.ndarray  # (n_users, 3) category indices
    count: np.ndarray  # (n_users,) in 1..3

    def __getitem__(self, users: slice) -> Preferences:
        return Preferences(self.categories[users], self.count[users])


def user_preferences(n_users: int, catalog: Catalog, rng: np.random.Generator) -> Preferences:
    """Categories drawn in proportion to their popularity mass (repeats are allowed)."""
    cdf = np.cumsum(catalog.category_mass) / catalog.category_mass.sum()
    categories = np.minimum(np.searchsorted(cdf, rng.random((n_users, 3)), side="right"), len(cdf) - 1)
    return Preferences(categories, rng.integers(1, 4, n_users))


# ---------------------------------------------------------------------------------------------
# Interactions
# ---------------------------------------------------------------------------------------------


def _draw_items(owners: np.ndarray, prefs: Preferences, catalog: Catalog, rng: np.random.Generator) -> np.ndarray:
    """One item per slot: from a preferred category with PREFERRED_SHARE, else from the catalog."""
    n = len(owners)
    u = rng.random(n)
    preferred = rng.random(n) < PREFERRED_SHARE
    cats = prefs.categories[owners, rng.integers(0, prefs.count[owners])]
    items = np.empty(n, dtype=np.int64)

    pos = np.searchsorted(catalog.category_cdf, cats[preferred] + u[preferred], side="right")
    pos = np.clip(pos, catalog.category_start[cats[preferred]], catalog.category_start[cats[preferred] + 1] - 1)
    items[preferred] = catalog.items_by_category[pos]

    glob = ~preferred
    items[glob] = np.minimum(np.searchsorted(catalog.global_cdf, u[glob], side="right"), len(catalog.global_cdf) - 1)
    return items


def sample_distinct_items(
    counts: np.ndarray, prefs: Preferences, catalog: Catalog, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """For users 0..len(counts)-1 of a chunk, counts[u] distinct items each, sorted by user.

    The model is "draw from the user's mixture, reject items already taken", i.e. sampling
    without replacement. Vectorized: each round draws about twice the missing count per short
    user, drops items already taken, and keeps the first occurrences in draw order up to the
    missing count (exactly what one-at-a-time rejection would keep). Users still short after
    MAX_REJECTION_ROUNDS (heavy users of a small or very skewed category) are completed by the
    equivalent Gumbel top-k over the whole catalog, O(n_items) per such user.
    """
    n_users, n_items = len(counts), len(catalog.popularity)
    taken = np.empty(0, dtype=np.int64)  # sorted keys user * n_items + item
    need = counts.astype(np.int64)
    for _ in range(MAX_REJECTION_ROUNDS):
        if not need.any():
            break
        owners = np.repeat(np.arange(n_users), 2 * need + (need > 0))
        keys = owners * n_items + _draw_items(owners, prefs, catalog, rng)
        keys = keys[~_contains(taken, keys)]
        _, first = np.unique(keys, return_index=True)
        keys = keys[np.sort(first)]  # first occurrences, still in draw order (grouped by user)
        owner = keys // n_items
        rank = np.arange(len(keys)) - np.searchsorted(owner, owner)
        taken = np.union1d(taken, keys[rank < need[owner]])
        need = counts - np.bincount(taken // n_items, minlength=n_users)
    extra = [_complete_user(u, int(need[u]), taken, prefs, catalog, rng) for u in np.flatnonzero(need).tolist()]
    if extra:
        taken = np.sort(np.concatenate([taken, *extra]))
    return taken // n_items, taken % n_items


def _contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    pos = np.minimum(np.searchsorted(sorted_keys, keys), max(len(sorted_keys) - 1, 0))
    return sorted_keys[pos] == keys if len(sorted_keys) else np.zeros(len(keys), dtype=bool)


def preference_weights(user: int, prefs: Preferences, catalog: Catalog) -> np.ndarray:
    """Weights (n_items) proportional to the user's true mixture over items: what each draw follows."""
    category_weight = np.zeros(len(catalog.category_mass))
    np.add.at(category_weight, prefs.categories[user, : prefs.count[user]], 1.0 / prefs.count[user])
    with np.errstate(divide="ignore", invalid="ignore"):
        in_category = np.nan_to_num(category_weight / catalog.category_mass)[catalog.category]
    return catalog.popularity * ((1 - PREFERRED_SHARE) + PREFERRED_SHARE * in_category)


def _complete_user(
    user: int, missing: int, taken: np.ndarray, prefs: Preferences, catalog: Catalog, rng: np.random.Generator
) -> np.ndarray:
    """`missing` more keys for `user`: Gumbel top-k of the user's mixture over untaken items."""
    n_items = len(catalog.popularity)
    score = np.log(preference_weights(user, prefs, catalog)) + rng.gumbel(size=n_items)
    lo, hi = np.searchsorted(taken, [user * n_items, (user + 1) * n_items])
    score[taken[lo:hi] - user * n_items] = -np.inf
    return user * n_items + np.argpartition(-score, missing - 1)[:missing]


def _rating_thresholds() -> np.ndarray:
    sd = (1.0 + ITEM_QUALITY_SD**2 + USER_BIAS_SD**2) ** 0.5
    cumulative = np.cumsum(RATING_SHARES)[:-1]
    return np.array([NormalDist(0.0, sd).inv_cdf(p) for p in cumulative])


_THRESHOLDS = _rating_thresholds()


@dataclass
class Days:
    """Day index -> (unix seconds at midnight UTC, Amazon's "MM D, YYYY")."""

    unix: list[int]
    text: list[str]

    @classmethod
    def between(cls, start: date, end: date) -> Days:
        unix, text = [], []
        for offset in range((end - start).days + 1):
            d = start + timedelta(days=offset)
            unix.append(int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()))
            text.append(f"{d.month:02d} {d.day}, {d.year}")
        return cls(unix, text)


class TextBank:
    """Pre-rendered sentences for one (category, product noun), so a review only picks and joins."""

    def __init__(self, category: Category, noun: str):
        aspects = category.aspects
        noun = _in_sentence(noun)
        self.keywords = [a.keyword for a in aspects]
        self.positive = [[_render(t, a.positive) for t in POSITIVE_TEMPLATES] for a in aspects]
        self.negative = [[_render(t, a.negative) for t in NEGATIVE_TEMPLATES] for a in aspects]
        self.gripe = [f"Only minor gripe: {a.negative}." for a in aspects]
        self.mixed = [[f"{_capitalize(a.positive)}, but {b.negative}." for b in aspects] for a in aspects]
        plural = noun.endswith("s") and not noun.endswith("ss")
        agree = {"this": "these", "This": "These", "is": "are", "was": "were", "it": "them"} if plural else {
            "this": "this", "This": "This", "is": "is", "was": "was", "it": "it"}
        self.openers = {r: [o.format(n=noun, **agree) for o in OPENERS[r]] for r in OPENERS}
        # summaries[rating][variant][aspect]
        self.summaries = {
            r: [[_capitalize(v.format(n=noun, k=a.label)) for a in aspects] for v in SUMMARIES[r]]
            for r in SUMMARIES
        }


def _render(template: str, clause: str) -> str:
    return template.format(c=clause, C=_capitalize(clause))


def _in_sentence(noun: str) -> str:
    """A title noun as written mid-sentence: "Vitamin C Serum" -> "vitamin C serum"."""
    return " ".join(w if w.isupper() else w.lower() for w in noun.split())


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


class ReviewTexts:
    """Every sentence of every TextBank in one Arrow string array, plus index tables into it.

    A chunk's texts are then assembled with array gathers and one element-wise join instead of
    Python work per review, which is what lets the raw Parquet writer (`synthetic.raw`) produce
    100M reviews in minutes. Index tables are padded with -1 where a bank has fewer aspects.
    """

    def __init__(self, banks: list[TextBank]):
        strings: list[str] = []

        def index(nested) -> np.ndarray:
            """Nested lists of sentences -> the same shape of indices into `strings`, -1 padded."""
            if isinstance(nested, str):
                strings.append(nested)
                return np.array(len(strings) - 1)
            parts = [index(x) for x in nested]
            shape = np.max([p.shape for p in parts], axis=0) if parts and parts[0].ndim else ()
            out = np.full((len(parts), *shape), -1, dtype=np.int64)
            for k, part in enumerate(parts):
                out[(k, *(slice(0, n) for n in part.shape))] = part
            return out

        ratings = range(1, 6)  # rating r is row r - 1
        self.n_aspects = np.array([len(b.keywords) for b in banks])
        self.positive = index([b.positive for b in banks])  # [bank, aspect, template]
        self.negative = index([b.negative for b in banks])
        self.gripe = index([b.gripe for b in banks])  # [bank, aspect]
        self.mixed = index([b.mixed for b in banks])  # [bank, praised aspect, criticised aspect]
        self.openers = index([[b.openers[r] for r in ratings] for b in banks])  # [bank, rating - 1, k]
        self.summaries = index([[b.summaries[r] for r in ratings] for b in banks])  # [bank, rating - 1, variant, aspect]
        self.closers = index([CLOSERS[r] for r in ratings])  # [rating - 1, k]
        self.n_openers = np.array([len(OPENERS[r]) for r in ratings])
        self.n_closers = np.array([len(CLOSERS[r]) for r in ratings])
        self.n_summaries = np.array([len(SUMMARIES[r]) for r in ratings])
        self.strings = pa.array(strings, pa.string())

    def render(self, bank: np.ndarray, rating: np.ndarray, r: np.ndarray) -> tuple[pa.Array, pa.Array]:
        """Deterministic (reviewText, summary) per review from its bank, rating and 6 random ints.

        1-4 sentences: [opener] aspect sentence(s) [closer]. Ratings 4-5 praise one or two aspects
        (a 4 may add a minor gripe), 3 praises one and criticises another, 1-2 criticise.
        """
        r, row = r.astype(np.int64), rating - 1
        n_aspects = self.n_aspects[bank]
        first = r[:, 0] % n_aspects
        second = (first + 1 + r[:, 1] % (n_aspects - 1)) % n_aspects
        n_sentences = 1 + r[:, 2] % 4
        t = r[:, 3] % len(POSITIVE_TEMPLATES)
        praise, criticise = rating >= 4, rating <= 2
        main = np.where(
            praise, self.positive[bank, first, t],
            np.where(criticise, self.negative[bank, first, t], self.mixed[bank, first, second]),
        )  # fmt: skip
        extra = np.where(
            rating == 5, self.positive[bank, second, (t + 1) % len(POSITIVE_TEMPLATES)],
            np.where(rating == 4, self.gripe[bank, second], self.negative[bank, second, (t + 1) % len(NEGATIVE_TEMPLATES)]),
        )  # fmt: skip
        extra = np.where((n_sentences >= 3) & (rating != 3), extra, -1)
        opener = np.where(n_sentences >= 2, self.openers[bank, row, r[:, 5] % self.n_openers[row]], -1)
        closer = np.where(n_sentences == 4, self.closers[row, r[:, 4] % self.n_closers[row]], -1)
        summary = self.summaries[bank, row, r[:, 4] % self.n_summaries[row], first]
        parts = [self._take(idx) for idx in (opener, main, extra, closer)]
        return pc.binary_join_element_wise(*parts, " ", null_handling="skip"), self._take(summary)

    def _take(self, idx: np.ndarray) -> pa.Array:
        return self.strings.take(pa.array(idx, mask=idx < 0))


@dataclass
class ReviewChunk:
    """The drawn reviews of one chunk of users, in user then time order."""

    u0: int  # global index of the chunk's first user
    owner: np.ndarray  # chunk-local user index per review
    item: np.ndarray
    day: np.ndarray  # index into Days
    rating: np.ndarray  # 1..5
    verified: np.ndarray  # bool
    votes: np.ndarray  # 0 means no vote field
    has_text: np.ndarray  # bool; False leaves reviewText empty
    text_ints: np.ndarray  # (n, 6) uint8, the choices of ReviewTexts.render
    reviewer_names: list[str]  # per chunk user

    @property
    def reviewer_ids(self) -> list[str]:
        return [reviewer_id_of(u) for u in range(self.u0, self.u0 + len(self.reviewer_names))]


def review_chunks(
    spec: MarketplaceSpec, catalog: Catalog, rng: np.random.Generator, reviewed: np.ndarray
) -> Iterator[ReviewChunk]:
    """The reviews of all users, one chunk of users at a time (about CHUNK_INTERACTIONS each).

    Marks the items that got a review in the boolean array `reviewed`.
    """
    counts = user_activity(spec, rng)
    prefs = user_preferences(spec.n_users, catalog, rng)
    n_days = (spec.end_date - spec.start_date).days + 1
    bounds = np.searchsorted(np.cumsum(counts), np.arange(CHUNK_INTERACTIONS, spec.n_interactions, CHUNK_INTERACTIONS))
    edges = np.unique(np.concatenate([[0], bounds + 1, [spec.n_users]])).clip(0, spec.n_users)
    for u0, u1 in zip(edges[:-1].tolist(), edges[1:].tolist()):
        if u1 > u0:
            yield _draw_chunk(u0, counts[u0:u1], prefs[u0:u1], catalog, n_days, spec, rng, reviewed)


def _draw_chunk(
    u0: int, counts: np.ndarray, prefs: Preferences, catalog: Catalog, n_days: int,
    spec: MarketplaceSpec, rng: np.random.Generator, reviewed: np.ndarray,
) -> ReviewChunk:
    owner, item = sample_distinct_items(counts, prefs, catalog, rng)
    reviewed[item] = True
    n_users, n = len(counts), len(owner)

    # Each user is active in a random window of days; interactions are uniform inside it.
    window = np.sort(rng.integers(0, n_days, (n_users, 2)), axis=1)
    lo, width = window[owner, 0], window[owner, 1] - window[owner, 0] + 1
    day = lo + (rng.random(n) * width).astype(np.int64)
    order = np.lexsort((item, day, owner))
    owner, item, day = owner[order], item[order], day[order]

    bias = rng.normal(0.0, USER_BIAS_SD, n_users)
    latent = catalog.quality[item] + bias[owner] + rng.normal(0.0, 1.0, n)
    rating = 1 + np.searchsorted(_THRESHOLDS, latent)

    names = _reviewer_names(n_users, rng)
    verified = rng.random(n) < VERIFIED_SHARE
    votes = np.where(rng.random(n) < VOTE_SHARE, rng.geometric(0.3, n) + 1, 0)
    has_text = rng.random(n) < spec.review_text_rate
    # 240 is divisible by every option count (3, 4, 5).
    text_ints = rng.integers(0, 240, (n, 6), dtype=np.uint8)
    return ReviewChunk(u0, owner, item, day, rating, verified, votes, has_text, text_ints, names)


def review_lines(
    spec: MarketplaceSpec, catalog: Catalog, rng: np.random.Generator, reviewed: np.ndarray
) -> Iterator[bytearray]:
    """Yields newline-terminated JSON blocks, one per chunk of users, in user then time order."""
    days = Days.between(spec.start_date, spec.end_date)
    for chunk in review_chunks(spec, catalog, rng, reviewed):
        yield _chunk_lines(chunk, catalog, days)


def _chunk_lines(chunk: ReviewChunk, catalog: Catalog, days: Days) -> bytearray:
    texts, summaries = catalog.texts.render(catalog.bank[chunk.item], chunk.rating, chunk.text_ints)
    texts, summaries = texts.to_pylist(), summaries.to_pylist()
    reviewer_ids, names, asins, dumps = chunk.reviewer_ids, chunk.reviewer_names, catalog.asin, orjson.dumps
    verified, votes, has_text = chunk.verified.tolist(), chunk.votes.tolist(), chunk.has_text.tolist()
    # One growing buffer: a list of orjson results would hold each line's ~4 KiB over-allocation.
    block = bytearray()
    rows = zip(chunk.owner.tolist(), chunk.item.tolist(), chunk.day.tolist(), chunk.rating.tolist())
    for k, (o, i, d, r) in enumerate(rows):
        row: dict = {"overall": float(r)}
        if votes[k]:
            row["vote"] = str(votes[k])
        row["verified"] = verified[k]
        row["reviewTime"] = days.text[d]
        row["reviewerID"] = reviewer_ids[o]
        row["asin"] = asins[i]
        row["reviewerName"] = names[o]
        row["reviewText"] = texts[k] if has_text[k] else ""
        row["summary"] = summaries[k]
        row["unixReviewTime"] = days.unix[d]
        block += dumps(row, option=orjson.OPT_APPEND_NEWLINE)
    return block


def _reviewer_names(n_users: int, rng: np.random.Generator) -> list[str]:
    first = rng.integers(0, len(FIRST_NAMES), n_users).tolist()
    initial = rng.integers(0, 26, n_users).tolist()
    anonymous = (rng.random(n_users) < ANONYMOUS_NAME_SHARE).tolist()
    return [
        "Amazon Customer" if a else f"{FIRST_NAMES[f]} {chr(65 + i)}." for f, i, a in zip(first, initial, anonymous)
    ]


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


def _write_gzip(path: Path, blocks: Iterator[bytes | bytearray]) -> int:
    """Writes blocks to path atomically; mtime 0 and a fixed inner name make bytes reproducible."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as raw, gzip.GzipFile(
        filename=path.name.removesuffix(".gz"), mode="wb", fileobj=raw, mtime=0, compresslevel=GZIP_LEVEL
    ) as gz, ThreadPoolExecutor(max_workers=1) as compressor:
        # zlib releases the GIL: compress block k while block k+1 is generated. Waiting on the
        # previous write before submitting keeps at most two blocks in memory.
        pending = None
        for block in blocks:
            if pending is not None:
                pending.result()
            pending = compressor.submit(gz.write, block)
        if pending is not None:
            pending.result()
    os.replace(tmp, path)
    return path.stat().st_size


def _meta_blocks(catalog: Catalog, rng: np.random.Generator, rows_per_block: int = 10_000) -> Iterator[bytearray]:
    block = bytearray()
    for k, row in enumerate(catalog_rows(catalog, rng), start=1):
        block += orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE)
        if k % rows_per_block == 0:
            yield block
            block = bytearray()
    if block:
        yield block


def marketplace_streams(spec: MarketplaceSpec) -> tuple[Catalog, np.random.Generator, np.random.Generator]:
    """The catalog and the random streams of the catalog rows and of the reviews, from spec.seed."""
    catalog_seed, meta_seed, review_seed = np.random.SeedSequence(spec.seed).spawn(3)
    catalog = build_catalog(spec.n_items, spec.popularity_exponent, np.random.Generator(np.random.PCG64(catalog_seed)))
    return catalog, np.random.Generator(np.random.PCG64(meta_seed)), np.random.Generator(np.random.PCG64(review_seed))


def hidden_preferences(spec: MarketplaceSpec) -> tuple[Catalog, Preferences]:
    """The catalog and every user's preferred categories that `write_marketplace(spec)` draws
    from: the ground truth a planted augmentation is drawn from to test an evaluator."""
    catalog, _, review_rng = marketplace_streams(spec)
    user_activity(spec, review_rng)  # drawn first from the same stream, as in review_chunks
    return catalog, user_preferences(spec.n_users, catalog, review_rng)


def write_marketplace(spec: MarketplaceSpec, out_dir: str | Path) -> dict:
    """Writes `<category_name>_5.json.gz` and `meta_<category_name>.json.gz` under out_dir.

    Returns counts and file sizes: users, items (catalog rows), items_reviewed, interactions,
    files (paths), bytes (per file).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    catalog, meta_rng, review_rng = marketplace_streams(spec)

    meta_path = out / f"meta_{spec.category_name}.json.gz"
    reviews_path = out / f"{spec.category_name}_5.json.gz"
    meta_bytes = _write_gzip(meta_path, _meta_blocks(catalog, meta_rng))

    reviewed = np.zeros(spec.n_items, dtype=bool)
    written = 0

    def counted(blocks: Iterator[bytearray]) -> Iterator[bytearray]:
        nonlocal written
        for block in blocks:
            written += block.count(b"\n")
            yield block

    reviews_bytes = _write_gzip(reviews_path, counted(review_lines(spec, catalog, review_rng, reviewed)))
    return {
        "users": spec.n_users,
        "items": spec.n_items,
        "items_reviewed": int(reviewed.sum()),
        "interactions": written,
        "files": {"reviews": str(reviews_path), "meta": str(meta_path)},
        "bytes": {"reviews": reviews_bytes, "meta": meta_bytes},
    }
