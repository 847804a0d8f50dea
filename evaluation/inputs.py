"""The evaluation's inputs read from the live published sets, plus the judges' own outputs."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from evaluation.data import Interactions
from evaluation.loader import PublishedSets, embedding_tensor, mask_array
from evaluation.models import PairwiseSupervision
from evaluation.run import EvaluationInputs, Judgements, ScorerProbe
from schemas.registry import Published


def _seconds(column: pa.ChunkedArray) -> np.ndarray:
    return pc.cast(column, pa.timestamp("s", tz="UTC")).cast(pa.int64()).to_numpy()


def _interactions(sets: PublishedSets, name: str) -> tuple[Interactions, np.ndarray]:
    table = sets.table(name, ["user_idx", "item_idx", "ts"])
    return Interactions(table["user_idx"].to_numpy(), table["item_idx"].to_numpy()), _seconds(table["ts"])


def _dense(keys: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Rows of `values` placed at their `keys` in an array of n rows (zeros where absent)."""
    out = np.zeros((n, *values.shape[1:]), dtype=values.dtype)
    out[keys] = values
    return out


def _factors(sets: PublishedSets, name: str, key: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    table = sets.table(name, [key, "factor_embeddings", "factor_mask"])
    keys = table[key].to_numpy()
    return _dense(keys, embedding_tensor(table, "factor_embeddings").numpy(), n), _dense(keys, mask_array(table, "factor_mask"), n)


def _knowledge(sets: PublishedSets, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    table = sets.table(Published.ITEM_FEATURES.key, ["item_idx", "knowledge_embedding", "has_knowledge"])
    keys = table["item_idx"].to_numpy()
    embeddings = _dense(keys, embedding_tensor(table, "knowledge_embedding").numpy(), n_items)
    return embeddings, _dense(keys, table["has_knowledge"].to_numpy(zero_copy_only=False), n_items)


def _beyond_log(sets: PublishedSets) -> Interactions:
    table = sets.table(Published.USER_SEQUENCES.key, ["user_idx", "beyond_log_item_idx"])
    lists = table["beyond_log_item_idx"].combine_chunks()
    users = np.repeat(table["user_idx"].to_numpy(), pc.list_value_length(lists).to_numpy(zero_copy_only=False))
    return Interactions(users, lists.flatten().to_numpy())


def pairwise_supervision(sets: PublishedSets) -> PairwiseSupervision:
    """The live llm_pairwise_supervision set as S-LLMR's pairs."""
    table = sets.table(Published.LLM_PAIRWISE_SUPERVISION.key)
    column = lambda name: table[name].to_numpy(zero_copy_only=False)  # noqa: E731
    return PairwiseSupervision(
        users=column("user_idx"),
        item_i=column("item_i"),
        item_j=column("item_j"),
        s_i=column("s_i"),
        s_j=column("s_j"),
        is_cold=column("is_cold"),
        tail_i=column("tail_i"),
        tail_j=column("tail_j"),
        hist_len=column("hist_len"),
        pop_i=column("pop_i"),
        pop_j=column("pop_j"),
    )


def judgements_from(table: pa.Table, keep_threshold: float) -> Judgements:
    """llm/i2i_judgements as P(yes) arrays by source."""
    p = table["p_yes"].to_numpy()
    source = table["source"].to_numpy(zero_copy_only=False)
    return Judgements(p[source == "real"], p[source == "negative"], p[source == "synthetic"], keep_threshold)


def scorer_probe_from(table: pa.Table) -> ScorerProbe:
    """evaluation/scorer_probe as the scores of valid items and of negatives (missing ones left out)."""
    given = table.filter(pc.is_valid(table["raw_score"]))
    score = given["raw_score"].to_numpy()
    valid = given["is_valid"].to_numpy(zero_copy_only=False)
    return ScorerProbe(score[valid], score[~valid])


def evaluation_inputs(
    sets: PublishedSets, judgements: Judgements | None = None, scorer_probe: ScorerProbe | None = None
) -> EvaluationInputs:
    """Everything `evaluation.run.evaluate` reads, from the live published sets."""
    n_users, n_items = sets.sizes()
    train, train_ts = _interactions(sets, Published.INTERACTIONS_TRAIN.key)
    fused, fused_ts = _interactions(sets, Published.I2I_TRAIN_INTERACTIONS.key)
    return EvaluationInputs(
        n_users=n_users,
        n_items=n_items,
        train=train,
        train_ts=train_ts,
        valid=_interactions(sets, Published.INTERACTIONS_VALID.key)[0],
        test=_interactions(sets, Published.INTERACTIONS_TEST.key)[0],
        fused=fused,
        fused_ts=fused_ts,
        pairs=pairwise_supervision(sets),
        user_factors=_factors(sets, Published.USER_FEATURES.key, "user_idx", n_users),
        item_factors=_factors(sets, Published.ITEM_FEATURES.key, "item_idx", n_items),
        knowledge=_knowledge(sets, n_items),
        beyond_log=_beyond_log(sets),
        judgements=judgements,
        scorer_probe=scorer_probe,
    )
