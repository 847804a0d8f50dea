"""Day D+1 of a marketplace in the Amazon 2018 layout: day D's files plus a share of new reviews.

What a nightly run sees: the review log of day D, unchanged and in its order, with the day's new
reviews appended, all stamped on day D + 1 (the day after the latest review). Only existing users
and items take part, and every new (user, item) pair is new, so the next partition has the same
id maps and every change a prompt sees comes from the appended interactions.

The new interactions follow the log itself, not the generator's internals, so this works on any
Amazon-2018-style directory:
- users return in proportion to their review count (active users are the likely ones tomorrow);
- with probability PREFERRED_SHARE the item comes from a category the user already reviewed in
  (the user's categories weighted by how often), else from the whole catalog; within the choice,
  items are drawn in proportion to their review count; an item the user already has is redrawn
  (up to MAX_DRAWS times, after which the slot stays empty);
- rating, summary, text, verified and vote are those of a random earlier review of the same item
  (a bootstrap of that item's reviews: the same distribution its reviews already have), with the
  returning user's id and name and the new day.

All draws come from one numpy Generator seeded by `seed`, and the gzip header carries mtime 0, so
the same input and seed give byte-identical files.
"""

from __future__ import annotations

import gzip
import shutil
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson

PREFERRED_SHARE = 0.8
MAX_DRAWS = 50


def _amazon_day(day: date) -> tuple[str, int]:
    """(reviewTime, unixReviewTime) of midnight UTC of `day`, as Amazon writes them."""
    return f"{day.month:02d} {day.day}, {day.year}", int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def _read_lines(path: Path) -> list[bytes]:
    with gzip.open(path, "rb") as f:
        return f.read().splitlines()


def _weighted(rng: np.random.Generator, choices: list, weights: list[float]):
    p = np.asarray(weights, dtype=np.float64)
    return choices[int(rng.choice(len(choices), p=p / p.sum()))]


class _Log:
    """Day D's reviews, indexed for drawing the next day's."""

    def __init__(self, reviews: list[dict], categories: dict[str, str]):
        self.reviews = reviews
        self.by_item: dict[str, list[int]] = defaultdict(list)
        self.items_of: dict[str, set[str]] = defaultdict(set)
        self.name_of: dict[str, str] = {}
        for position, review in enumerate(reviews):
            self.by_item[review["asin"]].append(position)
            self.items_of[review["reviewerID"]].add(review["asin"])
            self.name_of.setdefault(review["reviewerID"], review.get("reviewerName", ""))
        self.items = sorted(self.by_item)
        self.category = {asin: categories.get(asin, "") for asin in self.items}
        self.items_in: dict[str, list[str]] = defaultdict(list)
        for asin in self.items:
            self.items_in[self.category[asin]].append(asin)
        self.users = sorted(self.items_of)

    def popularity(self, asins: list[str]) -> list[int]:
        return [len(self.by_item[asin]) for asin in asins]

    def draw_item(self, user: str, rng: np.random.Generator) -> str | None:
        """An item `user` does not have yet, or None when MAX_DRAWS draws found none."""
        taken = self.items_of[user]
        own = Counter(self.category[asin] for asin in sorted(taken))
        for _ in range(MAX_DRAWS):
            if own and rng.random() < PREFERRED_SHARE:
                categories = sorted(own)
                pool = self.items_in[_weighted(rng, categories, [own[c] for c in categories])]
            else:
                pool = self.items
            asin = _weighted(rng, pool, self.popularity(pool))
            if asin not in taken:
                return asin
        return None


def _category_of_items(meta_path: Path) -> dict[str, str]:
    categories = {}
    for line in _read_lines(meta_path):
        row = orjson.loads(line)
        categories.setdefault(row["asin"], " > ".join(row.get("category") or []))
    return categories


def write_next_day(data_dir: Path, out_dir: Path, share: float = 0.01, seed: int = 0) -> dict:
    """Writes day D+1 of the marketplace in `data_dir` (one `*_5.json.gz` reviews file and its
    `meta_*.json.gz`) to `out_dir`: the meta file as is, the reviews with round(share * reviews)
    new ones appended (fewer only when some user had no item left to draw). Returns what was added."""
    [reviews_path] = sorted(p for p in data_dir.glob("*_5.json.gz"))
    [meta_path] = sorted(data_dir.glob("meta_*.json.gz"))
    lines = _read_lines(reviews_path)
    log = _Log([orjson.loads(line) for line in lines], _category_of_items(meta_path))
    next_day = max(datetime.fromtimestamp(r["unixReviewTime"], UTC).date() for r in log.reviews) + timedelta(days=1)
    review_time, unix_time = _amazon_day(next_day)

    rng = np.random.Generator(np.random.PCG64(seed))
    wanted = round(share * len(lines))
    new_lines = []
    for _ in range(wanted):
        user = _weighted(rng, log.users, [len(log.items_of[u]) for u in log.users])
        asin = log.draw_item(user, rng)
        if asin is None:
            continue
        log.items_of[user].add(asin)
        earlier = log.by_item[asin]
        source = log.reviews[earlier[int(rng.integers(len(earlier)))]]
        # Overriding keys of `source` keeps its key order, so the line looks like every other.
        review = {
            **source,
            "reviewTime": review_time,
            "reviewerID": user,
            "reviewerName": log.name_of[user],
            "unixReviewTime": unix_time,
        }
        new_lines.append(orjson.dumps(review))

    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(meta_path, out_dir / meta_path.name)
    tmp = out_dir / (reviews_path.name + ".tmp")
    with open(tmp, "wb") as raw, gzip.GzipFile(filename=reviews_path.name[:-3], mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(b"".join(line + b"\n" for line in [*lines, *new_lines]))
    tmp.replace(out_dir / reviews_path.name)
    added = [orjson.loads(line) for line in new_lines]
    return {
        "day": next_day.isoformat(),
        "share": share,
        "seed": seed,
        "reviews_before": len(lines),
        "reviews_added": len(added),
        "users_with_new_reviews": len({r["reviewerID"] for r in added}),
        "items_with_new_reviews": len({r["asin"] for r in added}),
    }
