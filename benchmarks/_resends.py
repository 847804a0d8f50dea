"""Why a nightly run re-sends LLM requests: each prompt of the next partition against the previous one.

Counts come from the run records (`llm/_runs`): requests sent per task and partition, retries
included. Reasons come from the prompt logs of both runs (benchmarks._prompt_log): a prompt whose
cache key the previous run rendered is answered by the cache; any other was sent, and is put in
one class by the entity it is about (a user, an item; a judged pair is about its user, whose
history it shows) and by whether that entity's own data changed between the partitions:

- input_changed: the entity's interactions changed (a user: any row of features/splits, as
  candidates leave out items of every split; an item: its training rows, which also carry its
  reviews). A new prompt is what these need.
- newly_selected: the entity was not prompted the day before and its data did not change; a cap
  ("the N most ...") or a sample picked it because other entities changed.
- prompt_changed: the same entity was prompted the day before, its data did not change, and its
  prompt did: something outside the entity moved (a candidate pool, an upstream LLM output). For
  these, the changed lines of the prompt are kept as examples, each listed item (`[idx] text`
  lines) with its popularity and long-tail flag on both days and whether its own data changed.

This needs the same entity indices in both partitions, so the id maps are compared first.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from llm_jobs.accounting import runs_dir
from llm_jobs.tasks.reform import TASK_NAMES as REFORM_TASKS
from schemas.registry import Features, TableSpec
from storage.warehouse import Warehouse

CLASSES = ("input_changed", "newly_selected", "prompt_changed")
EXAMPLES_PER_TASK = 5
EXAMPLE_LINES = 8
_LISTED_ITEM = re.compile(r"^[+-]\[(\d+)\] ")
_REFORM_KIND = {name: kind for kind, name in REFORM_TASKS.items()}


def run_records(wh: Warehouse, partition: str) -> dict[str, dict[str, int]]:
    """Per task: jobs, rows, requests_sent and cache_hits of `partition`'s runs, summed."""
    runs = pads.dataset(runs_dir(wh), format="parquet", filesystem=wh.fs).to_table()
    totals: dict[str, dict[str, int]] = {}
    for run in runs.filter(pc.equal(runs["partition"], partition)).to_pylist():
        task = totals.setdefault(run["task"], {"jobs": 0, "rows": 0, "requests_sent": 0, "cache_hits": 0})
        task["jobs"] += 1
        for name in ("rows", "requests_sent", "cache_hits"):
            task[name] += run[name]
    return totals


def _table(wh: Warehouse, table: TableSpec, partition: str, columns: list[str]) -> pa.Table:
    return pq.read_table(wh.table_path(table.layer, table.name, partition), filesystem=wh.fs, columns=columns)


def same_id_maps(wh: Warehouse, before: str, after: str) -> bool:
    def rows(partition: str) -> set[tuple]:
        return set(zip(*_table(wh, Features.ID_MAPS, partition, ["kind", "raw_id", "idx"]).to_pydict().values()))

    return rows(before) == rows(after)


def changed_entities(wh: Warehouse, before: str, after: str) -> dict[str, set[int]]:
    """{"user": users with any changed row in features/splits, "item": items with changed train rows}."""

    def rows_by(partition: str) -> dict[str, dict[int, frozenset]]:
        splits = _table(wh, Features.SPLITS, partition, ["user_idx", "item_idx", "ts", "rating", "split"]).to_pylist()
        users: dict[int, set] = defaultdict(set)
        items: dict[int, set] = defaultdict(set)
        for row in splits:
            users[row["user_idx"]].add((row["item_idx"], row["ts"], row["rating"], row["split"]))
            if row["split"] == "train":
                items[row["item_idx"]].add((row["user_idx"], row["ts"], row["rating"]))
        return {"user": {k: frozenset(v) for k, v in users.items()}, "item": {k: frozenset(v) for k, v in items.items()}}

    old, new = rows_by(before), rows_by(after)
    return {
        kind: {idx for idx in old[kind].keys() | new[kind].keys() if old[kind].get(idx) != new[kind].get(idx)}
        for kind in ("user", "item")
    }


def item_stats(wh: Warehouse, partition: str) -> dict[int, tuple[int, bool]]:
    """item_idx -> (popularity, is_long_tail) of features/item_features."""
    table = _table(wh, Features.ITEM_FEATURES, partition, ["item_idx", "popularity", "is_long_tail"]).to_pydict()
    return {i: (p, t) for i, p, t in zip(table["item_idx"], table["popularity"], table["is_long_tail"])}


def _entity(task: str, key: dict) -> tuple[str, int]:
    """The entity a prompt is about: (kind, index)."""
    if "user_idx" in key:
        return "user", key["user_idx"]
    if "item_idx" in key:
        return "item", key["item_idx"]
    return _REFORM_KIND[task], key["entity_idx"]


def _changed_lines(before: str, after: str) -> list[str]:
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")][:EXAMPLE_LINES]


def _listed_items(lines: list[str], changed: dict[str, set[int]], stats: tuple[dict, dict]) -> list[dict]:
    """The items of `[idx] text` lines among a diff's lines, with what happened to them."""
    items = []
    for line in lines:
        match = _LISTED_ITEM.match(line)
        if match:
            idx = int(match.group(1))
            before, after = stats[0].get(idx, (None, None)), stats[1].get(idx, (None, None))
            items.append(
                {
                    "item_idx": idx,
                    "line": "added" if line[0] == "+" else "removed",
                    "popularity": [before[0], after[0]],
                    "is_long_tail": [before[1], after[1]],
                    "data_changed": idx in changed["item"],
                }
            )
    return items


def _key_id(key: dict) -> str:
    return repr(sorted(key.items()))


def classify(
    prompts_before: list[dict], prompts_after: list[dict], changed: dict[str, set[int]], stats: tuple[dict, dict]
) -> dict[str, dict]:
    """Per task of the later run: prompts, how many the cache answered, and the sent ones by class
    (with `examples` of prompt_changed diffs). `stats`: `item_stats` of both partitions."""
    keys_before: dict[str, set[str]] = defaultdict(set)
    message_before: dict[tuple[str, str], str] = {}
    for record in prompts_before:
        keys_before[record["task"]].add(record["request_key"])
        message_before[record["task"], _key_id(record["key"])] = record["user_message"]
    tasks: dict[str, dict] = {}
    for record in prompts_after:
        task = record["task"]
        counts = tasks.setdefault(
            task, {"prompts": 0, "cached": 0, **dict.fromkeys(CLASSES, 0), "examples": []}
        )
        counts["prompts"] += 1
        if record["request_key"] in keys_before[task]:
            counts["cached"] += 1
            continue
        kind, idx = _entity(task, record["key"])
        earlier = message_before.get((task, _key_id(record["key"])))
        if idx in changed[kind]:
            reason = "input_changed"
        elif earlier is None:
            reason = "newly_selected"
        else:
            reason = "prompt_changed"
            if len(counts["examples"]) < EXAMPLES_PER_TASK:
                lines = _changed_lines(earlier, record["user_message"])
                counts["examples"].append(
                    {"key": record["key"], "changed_lines": lines, "items": _listed_items(lines, changed, stats)}
                )
        counts[reason] += 1
    return tasks

