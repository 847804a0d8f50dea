"""Building blocks of LLM prompt inputs: seeded sampling, item texts and recent histories.

Sampling orders by a 64-bit hash of (seed, salt, ids) with the ids as tie-break, never by
`rand()`: the same inputs and seed give the same sample whatever the partitioning, so a rerun
renders the same prompts and the LLM cache answers them.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

#: Spark's type of a list of prompt items (schemas.tables.PROMPT_ITEMS).
PROMPT_ITEMS_TYPE = "array<struct<id:string,text:string>>"
#: One whitespace character as Python's str.isspace() sees it: Unicode White_Space and \x1c-\x1f.
_SPACE = r"[\s\x1c-\x1f]"


def stripped(text: Column) -> Column:
    """`text.strip()` of Python ("" for null)."""
    return F.regexp_replace(F.coalesce(text, F.lit("")), rf"(?U)^{_SPACE}+|{_SPACE}+$", "")


def collapsed(text: Column, max_chars: int) -> Column:
    """`" ".join(text.split())[:max_chars]` of Python ("" for null)."""
    return F.substring(stripped(F.regexp_replace(F.coalesce(text, F.lit("")), rf"(?U){_SPACE}+", " ")), 1, max_chars)


def seeded_hash(seed: int, salt: str, *columns: str) -> Column:
    return F.xxhash64(F.lit(seed), F.lit(salt), *[F.col(c) for c in columns])


def first_n_per(df: DataFrame, key: str | list[str], n: int, order: list[Column]) -> DataFrame:
    """The first `n` rows of each `key` group in `order`; adds `_rank` (1-based)."""
    window = Window.partitionBy(key).orderBy(*order)
    return df.withColumn("_rank", F.row_number().over(window)).filter(F.col("_rank") <= n)


def sample_per_user(pairs: DataFrame, n: int, seed: int, salt: str) -> DataFrame:
    """Up to `n` (user_idx, item_idx) rows per user, a seeded sample; adds `_rank`."""
    order = [seeded_hash(seed, salt, "user_idx", "item_idx"), F.col("item_idx")]
    return first_n_per(pairs, "user_idx", n, order)


def seeded_sample(df: DataFrame, key: str, n: int, seed: int, salt: str) -> DataFrame:
    """Up to `n` rows of `df` (one per `key`), a seeded sample."""
    return df.orderBy(seeded_hash(seed, salt, key), F.col(key)).limit(n)


def pool_for_unseen(items: DataFrame, seen: DataFrame, needed: int, seed: int, salt: str) -> DataFrame:
    """A seeded sample of `items` (item_idx) big enough that every user finds `needed` items in
    it they never interacted with (when the catalog has them): `needed` plus the longest history."""
    longest = seen.groupBy("user_idx").count().agg(F.max("count")).first()[0] or 0
    return seeded_sample(items.select("item_idx"), "item_idx", needed + longest, seed, salt)


#: Bits of the hash that pick one of `hash_positions`' ranges (64), each ranked in a task of its own.
_RANGE_SHIFT = 58


def hash_positions(items: DataFrame, key: str, seed: int, salt: str) -> tuple[DataFrame, int]:
    """`items`' `key` with `_pos`, its 0-based position in the seeded hash order (seeded_sample's
    order), and the number of rows. Each of 64 hash ranges is ranked on its own and offset by the
    sizes of the ranges before it, so no stage runs as a single task; only the range sizes reach
    the driver."""
    ranged = items.select(key, seeded_hash(seed, salt, key).alias("_h")).withColumn(
        "_range", F.shiftright("_h", _RANGE_SHIFT)  # the signed hash's top bits: ranges in hash order
    )
    offsets, total = [], 0
    for part, rows in sorted(ranged.groupBy("_range").count().collect()):
        offsets += [F.lit(part), F.lit(total)]
        total += rows
    if not total:
        return ranged.select(key, F.lit(0).alias("_pos")), 0
    within = F.row_number().over(Window.partitionBy("_range").orderBy("_h", key)) - 1
    return ranged.select(key, (F.create_map(*offsets)[F.col("_range")] + within).alias("_pos")), total


def unseen_per_user(users: DataFrame, items: DataFrame, seen: DataFrame, n: int, seed: int, salt: str) -> DataFrame:
    """Up to `n` (user_idx, item_idx) rows per user of `users`, items of `items` the user never
    interacted with (`seen`), a seeded sample; adds `_rank`.

    Each user reads a window of consecutive positions of a seeded order of `items` (`hash_positions`),
    from an offset of their own: `n` plus the user's interactions wide, so it holds `n` unseen items
    whenever the catalog does. Rows grow with users x `n` plus the interactions, never with users x
    catalog, so every user of a large catalog can be sampled (the SFT export)."""
    positions, total = hash_positions(items, "item_idx", seed, salt)
    width = F.least(F.lit(total), F.lit(n) + F.coalesce(F.col("_seen"), F.lit(0))).cast("int")
    ring = F.lit(max(total, 1))
    counts = seen.groupBy("user_idx").agg(F.count("*").alias("_seen"))
    windows = users.select("user_idx").join(counts, "user_idx", "left").where(width >= 1)
    drawn = windows.select(
        "user_idx",
        F.pmod(seeded_hash(seed, f"{salt}-start", "user_idx"), ring).alias("_start"),
        F.explode(F.sequence(F.lit(0), width - 1)).alias("_step"),
    )
    at = drawn.select("user_idx", F.pmod(F.col("_start") + F.col("_step"), ring).alias("_pos")).join(positions, "_pos")
    return sample_per_user(at.join(seen, ["user_idx", "item_idx"], "left_anti").select("user_idx", "item_idx"), n, seed, salt)


#: Characters of a title and of a category in a prompt item's text: each is capped on its own, so a
#: long title never pushes the category out of a prompt (the tasks cap the whole text at 90).
TITLE_CHARS = 60
CATEGORY_CHARS = 27


def item_texts(item_features: DataFrame) -> DataFrame:
    """item_idx -> the prompt item {"id": item_idx, "text": "title | category"}, each part capped."""

    def capped(column: str, chars: int) -> Column:
        return F.rtrim(F.substring(F.col(column), 1, chars))

    text = F.concat_ws(" | ", capped("title", TITLE_CHARS), capped("category", CATEGORY_CHARS))
    return item_features.select(
        "item_idx", F.struct(F.col("item_idx").cast("string").alias("id"), text.alias("text")).alias("prompt_item")
    )


def collect_items(df: DataFrame, key: str | list[str], order: list[Column], alias: str) -> DataFrame:
    """Per `key`, the rows' `prompt_item` values as a list in `order`."""
    keys = [key] if isinstance(key, str) else key
    sortable = F.struct(*[o.alias(f"_o{i}") for i, o in enumerate(order)], F.col("prompt_item"))
    return df.groupBy(*keys).agg(F.array_sort(F.collect_list(sortable)).getField("prompt_item").alias(alias))


def recent_histories(
    train: DataFrame, texts: DataFrame, length: int, key: str | list[str] = "user_idx", item: str = "item_idx"
) -> DataFrame:
    """Per `key`, the last `length` items (column `item`) of `train` as prompt items, oldest first.

    `key` may hold more than the user (a judged pair, say) to build one history per pair.
    """
    recent = first_n_per(train, key, length, [F.col("ts").desc(), F.col(item).desc()])
    with_text = recent.join(texts.withColumnRenamed("item_idx", item), item)
    return collect_items(with_text, key, [F.col("ts"), F.col(item)], "history")


def interacted(train: DataFrame) -> DataFrame:
    """Every training (user_idx, item_idx): what candidates and synthetic pairs exclude. Held-out
    pairs are not excluded: excluding them would tell the training side what the future holds."""
    return train.select("user_idx", "item_idx").distinct()
