"""The held-out rule as one invariance test (DESIGN.md): replace every valid and test interaction of
a run with other ones, and every training-side table, every rendered prompt and every LLM cache
key stays the same.

The second run starts with a copy of the first run's LLM cache, so "every cache key is the same"
reads as "the second run sends no request"; its tables are then compared with the first run's.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from collections import defaultdict

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from support.pipeline_support import materialize

from llm_jobs.accounting import latest_runs
from llm_jobs.tasks.i2i import DISCRIMINATOR, GENERATOR
from llm_jobs.tasks.reaseq_agents import ANALYST, SUMMARIZER, VERIFIER
from llm_jobs.tasks.reaseq_interests import USER_INTERESTS
from llm_jobs.tasks.reform import TASK_NAMES as REFORM_TASKS
from llm_jobs.tasks.slmr import SCORER
from schemas.registry import FEATURE_TABLES, LLM_TABLES, PUBLISHED_SET_NAMES
from storage.published_layout import latest_version
from storage.warehouse import Warehouse

#: Every table on the training side. features/splits is compared on its train rows.
FEATURES = sorted(set(FEATURE_TABLES) - {"clean_interactions", "splits"})
LLM = sorted(
    {*LLM_TABLES, "reform_user_profiles", "reform_item_profiles", "reaseq_item_knowledge", "reaseq_user_interests"}
    | {"user_features_augmented", "item_features_augmented", "user_sequences_augmented"}
)
#: The evaluation reads valid and test by design: it is the held-out side, not compared here.
PUBLISHED = sorted(set(PUBLISHED_SET_NAMES) - {"interactions_valid", "interactions_test", "evaluation_report"})
TRAINING_SIDE = dg.AssetSelection.all() - dg.AssetSelection.groups("evaluation").downstream()
TASKS = [
    GENERATOR, DISCRIMINATOR, SCORER, *REFORM_TASKS.values(), ANALYST, VERIFIER, SUMMARIZER, USER_INTERESTS
]


def _tie_key(user: str, item: str) -> str:
    # transforms.splits.tie_break with the default seed.
    return hashlib.md5(f"0:{user}:{item}".encode()).hexdigest()


def _heldout(wh: Warehouse, partition: str) -> dict[tuple[str, str], str]:
    """(user_id, item_id) -> split of every valid and test row of the run, in raw ids."""
    maps = pq.read_table(wh.table_path("features", "id_maps", partition)).to_pylist()
    users = {m["idx"]: m["raw_id"] for m in maps if m["kind"] == "user"}
    items = {m["idx"]: m["raw_id"] for m in maps if m["kind"] == "item"}
    splits = pq.read_table(wh.table_path("features", "splits", partition)).to_pylist()
    return {(users[r["user_idx"]], items[r["item_idx"]]): r["split"] for r in splits if r["split"] != "train"}


def _replace_heldout(source, target, heldout: dict[tuple[str, str], str]) -> int:
    """Copy the marketplace, every held-out review moved to another item (half of them to items no
    one ever saw) with another text; each user's held-out rows stay last in the split's order."""
    (reviews,) = source.glob("*_5.json.gz")
    lines = [json.loads(line) for line in gzip.open(reviews, "rt")]
    catalog = sorted({r["asin"] for r in lines})
    by_user = defaultdict(list)
    for r in lines:
        by_user[r["reviewerID"]].append(r)
    replaced = 0
    for user, rows in by_user.items():
        taken = {r["asin"] for r in rows}
        train = [r for r in rows if (user, r["asin"]) not in heldout]
        last_train = max(((r["unixReviewTime"], _tie_key(user, r["asin"])) for r in train), default=None)
        # Oldest held-out row first (valid, then test), so each replacement can be checked to stay after the previous.
        for row in sorted((r for r in rows if (user, r["asin"]) in heldout), key=lambda r: heldout[(user, r["asin"])] == "test"):
            new = [f"ZNEW{replaced:06d}{k:03d}" for k in range(500)]
            pool = catalog + new if replaced % 2 else new
            for item in pool:
                key = (row["unixReviewTime"], _tie_key(user, item))
                if item not in taken and (last_train is None or key > last_train):
                    break
            else:
                pytest.fail(f"no replacement item keeps user {user}'s held-out row last")
            taken.add(item)
            last_train = key
            row["asin"], row["reviewText"], row["summary"] = item, f"Replaced review {replaced}.", "replaced"
            replaced += 1
    target.mkdir()
    for other in source.iterdir():
        if other != reviews:
            shutil.copy(other, target / other.name)
    with gzip.open(target / reviews.name, "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in lines)
    return replaced


def _table(wh: Warehouse, layer: str, name: str, partition: str) -> pa.Table:
    table = pads.dataset(wh.table_path(layer, name, partition), format="parquet").to_table()
    return table.sort_by([(c, "ascending") for c in table.column_names if _sortable(table.schema.field(c).type)])


def _published(wh: Warehouse, name: str) -> pa.Table:
    table = pads.dataset(wh.path("published", name, latest_version(wh, name)), format="parquet").to_table()
    return table.sort_by([(c, "ascending") for c in table.column_names if _sortable(table.schema.field(c).type)])


def _sortable(t: pa.DataType) -> bool:
    return not (pa.types.is_list(t) or pa.types.is_fixed_size_list(t) or pa.types.is_struct(t))


@pytest.fixture(scope="module")
def replaced_run(synthetic_run, tmp_path_factory):
    partition = synthetic_run.partition
    heldout = _heldout(synthetic_run.wh, partition)
    source = tmp_path_factory.mktemp("replaced") / "source"
    replaced = _replace_heldout(synthetic_run.source, source, heldout)
    warehouse = tmp_path_factory.mktemp("wh_replaced")
    shutil.copytree(synthetic_run.wh.path("llm", "_cache"), warehouse / "llm" / "_cache")
    result = materialize(source, warehouse, partition, with_llm=True, selection=TRAINING_SIDE)
    return Warehouse(str(warehouse)), result, heldout, replaced


def test_the_replacement_changes_every_heldout_row(synthetic_run, replaced_run):
    wh, result, heldout, replaced = replaced_run
    assert result.success
    assert replaced == len(heldout) > 50
    assert not set(_heldout(wh, synthetic_run.partition)) & set(heldout)


def test_every_prompt_and_cache_key_is_unchanged(synthetic_run, replaced_run):
    wh, _, _, _ = replaced_run
    first = latest_runs(synthetic_run.wh, synthetic_run.partition, TASKS)
    second = latest_runs(wh, synthetic_run.partition, TASKS)
    assert set(first) == set(second) == set(TASKS)
    for task in TASKS:
        assert first[task]["rows"] > 0  # (its latest run may be a cached rerun by another test)
        assert second[task]["requests_sent"] == 0, f"{task} rendered a prompt the first run did not"
        assert (second[task]["rows"], second[task]["accepted"]) == (first[task]["rows"], first[task]["accepted"])
        assert second[task]["cache_hits"] >= second[task]["rows"]  # retried rows hit once per attempt


@pytest.mark.parametrize("name", FEATURES)
def test_feature_tables_are_unchanged(synthetic_run, replaced_run, name):
    wh = replaced_run[0]
    assert _table(wh, "features", name, synthetic_run.partition).equals(_table(synthetic_run.wh, "features", name, synthetic_run.partition))


def test_training_rows_are_unchanged(synthetic_run, replaced_run):
    def train(wh):
        splits = _table(wh, "features", "splits", synthetic_run.partition)
        return splits.filter(pc.equal(splits["split"], "train"))

    assert train(replaced_run[0]).equals(train(synthetic_run.wh))


@pytest.mark.parametrize("name", LLM)
def test_llm_tables_are_unchanged(synthetic_run, replaced_run, name):
    wh = replaced_run[0]
    assert _table(wh, "llm", name, synthetic_run.partition).equals(_table(synthetic_run.wh, "llm", name, synthetic_run.partition))


@pytest.mark.parametrize("name", PUBLISHED)
def test_published_training_sets_are_unchanged(synthetic_run, replaced_run, name):
    assert _published(replaced_run[0], name).equals(_published(synthetic_run.wh, name))
