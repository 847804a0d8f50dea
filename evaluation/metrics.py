"""Full-ranking top-K metrics: recall@K and NDCG@K per user, overall and per reported segment.

Full ranking: every item outside a user's training history is a candidate, never a sampled
subset, so a model cannot be flattered by easy negatives. Relevance is binary (held out or not).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp

from evaluation.data import Interactions, Segments

ScoreFn = Callable[[np.ndarray], np.ndarray]
"""Scores every item for a batch of users: (len(users),) int64 -> (len(users), n_items) float."""

NO_ITEM = -1
"""Fills the slots of a top-K list beyond the user's rankable items."""


def ranked_top_k(scores: np.ndarray, exclude: sp.csr_matrix, k: int) -> np.ndarray:
    """The k best items of each row of `scores`, best first, as an (n, k) int64 array.

    Items nonzero in `exclude` (the users' training items) and items scored NaN or -inf are never
    ranked; a row with fewer than k rankable items ends in NO_ITEM. Equal scores rank the lower
    item index first: a partition finds the k-th best score, every item above it is kept, ties at
    it are kept in item-index order, and a stable sort on score orders the kept items.
    """
    scores = np.asarray(scores)
    if scores.ndim != 2 or exclude.shape != scores.shape:
        raise ValueError(f"scores {scores.shape} and exclude {exclude.shape} must be the same 2-D shape")
    if k < 1:
        raise ValueError("k must be at least 1")
    keyed = np.where(sp.csr_matrix(exclude).toarray() != 0, -np.inf, scores)
    keyed[np.isnan(keyed)] = -np.inf
    width = min(k, scores.shape[1])
    top = _top_in_index_order(keyed, width)
    order = np.argsort(-np.take_along_axis(keyed, top, axis=1), axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    top[np.take_along_axis(keyed, top, axis=1) == -np.inf] = NO_ITEM
    return np.pad(top, ((0, 0), (0, k - width)), constant_values=NO_ITEM)


def _top_in_index_order(keyed: np.ndarray, width: int) -> np.ndarray:
    """The `width` best items per row (ties at the cut to the lower index), in item-index order."""
    n = keyed.shape[0]
    if width == 0:
        return np.zeros((n, 0), dtype=np.int64)
    cut = -np.partition(-keyed, width - 1, axis=1)[:, width - 1 : width]
    chosen = keyed >= cut
    excess = chosen.sum(axis=1) - width
    for row in np.flatnonzero(excess):
        tied = np.flatnonzero(keyed[row] == cut[row, 0])
        chosen[row, tied[len(tied) - excess[row] :]] = False
    return np.nonzero(chosen)[1].reshape(n, width).astype(np.int64)


def per_user_metrics(
    score_fn: ScoreFn,
    users: np.ndarray,
    heldout: Interactions,
    exclude: sp.csr_matrix,
    ks: Sequence[int] = (10, 20),
    item_mask: np.ndarray | None = None,
    batch_size: int = 1024,
) -> dict[str, np.ndarray]:
    """Recall@k and NDCG@k of each of `users` with at least one held-out item.

    `exclude` is the (n_users x n_items) training matrix. With `item_mask`, only held-out items in
    the mask count as relevant, yet the ranking still covers every untrained item (the long-tail
    segment: how well a model surfaces tail items among everything it could recommend). A
    held-out item the user also trained on cannot be ranked and counts as a miss.
    Returns {"users": evaluated user indices, "recall@k": ..., "ndcg@k": ...}, aligned arrays.
    """
    targets = {"target": _relevance(heldout, exclude.shape, item_mask)}
    users = _user_array(users, exclude.shape[0])
    return _evaluate(score_fn, users, targets, exclude, ks, batch_size)["target"]


def segment_metrics(
    score_fn: ScoreFn,
    heldout: Interactions,
    exclude: sp.csr_matrix,
    segments: Segments,
    ks: Sequence[int] = (10, 20),
    batch_size: int = 1024,
) -> dict[str, dict[str, np.ndarray]]:
    """per_user_metrics for the reported segments, scoring each user once.

    "overall": every user with a held-out item; "long_tail": held-out items restricted to
    segments.long_tail_items; "cold_users": the overall rows of users in segments.cold_users.
    """
    n_users, n_items = exclude.shape
    if segments.long_tail_items.shape != (n_items,) or segments.cold_users.shape != (n_users,):
        raise ValueError("segments must have one flag per item and one per user")
    targets = {
        "overall": _relevance(heldout, exclude.shape, None),
        "long_tail": _relevance(heldout, exclude.shape, segments.long_tail_items),
    }
    result = _evaluate(score_fn, np.arange(n_users, dtype=np.int64), targets, exclude, ks, batch_size)
    cold = segments.cold_users[result["overall"]["users"]]
    result["cold_users"] = {name: values[cold] for name, values in result["overall"].items()}
    return result


def _relevance(heldout: Interactions, shape: tuple[int, int], item_mask: np.ndarray | None) -> sp.csr_matrix:
    """The binary held-out matrix, keeping only items in `item_mask` when given."""
    if item_mask is None:
        return heldout.matrix(*shape)
    item_mask = np.asarray(item_mask, dtype=bool)
    if item_mask.shape != (shape[1],):
        raise ValueError(f"item_mask must have one flag per item ({shape[1]}), got {item_mask.shape}")
    keep = item_mask[heldout.items]
    return Interactions(heldout.users[keep], heldout.items[keep]).matrix(*shape)


def _user_array(users: np.ndarray, n_users: int) -> np.ndarray:
    users = np.asarray(users, dtype=np.int64)
    if users.ndim != 1 or (len(users) and (users.min() < 0 or users.max() >= n_users)):
        raise ValueError(f"users must be a 1-D array of indices in [0, {n_users})")
    return users


def _evaluate(
    score_fn: ScoreFn,
    users: np.ndarray,
    targets: dict[str, sp.csr_matrix],
    exclude: sp.csr_matrix,
    ks: Sequence[int],
    batch_size: int,
) -> dict[str, dict[str, np.ndarray]]:
    """Metrics of `users` against each relevance matrix in `targets`, ranking each user once.

    A user counts for a target only when it has a relevant item there; users relevant to no
    target are not scored.
    """
    ks = _checked_ks(ks)
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    exclude = sp.csr_matrix(exclude)
    relevant = {name: np.diff(target.indptr) for name, target in targets.items()}
    scored = users[np.logical_or.reduce([counts[users] > 0 for counts in relevant.values()])]
    parts: dict[str, list[dict[str, np.ndarray]]] = {name: [] for name in targets}
    for start in range(0, len(scored), batch_size):
        batch = scored[start : start + batch_size]
        top = ranked_top_k(_batch_scores(score_fn, batch, exclude.shape[1]), exclude[batch], max(ks))
        for name, target in targets.items():
            keep = relevant[name][batch] > 0
            parts[name].append(_batch_metrics(batch[keep], top[keep], target, ks))
    return {name: _concatenated(batches, ks) for name, batches in parts.items()}


def _checked_ks(ks: Sequence[int]) -> tuple[int, ...]:
    ks = tuple(int(k) for k in ks)
    if not ks or min(ks) < 1:
        raise ValueError("ks must be a non-empty sequence of positive cut-offs")
    return ks


def _batch_scores(score_fn: ScoreFn, batch: np.ndarray, n_items: int) -> np.ndarray:
    scores = np.asarray(score_fn(batch))
    if scores.shape != (len(batch), n_items):
        raise ValueError(f"score_fn returned shape {scores.shape}, expected {(len(batch), n_items)}")
    return scores


def _batch_metrics(
    users: np.ndarray, top: np.ndarray, target: sp.csr_matrix, ks: tuple[int, ...]
) -> dict[str, np.ndarray]:
    """Recall and NDCG at each k for users whose ranked lists are the rows of `top`."""
    n, width = top.shape
    looked_up = np.asarray(target[np.repeat(users, width), np.maximum(top, 0).ravel()]).reshape(n, width)
    hits = (looked_up != 0) & (top != NO_ITEM)
    n_relevant = np.diff(target.indptr)[users]
    discounts = 1.0 / np.log2(np.arange(2, width + 2))
    result = {"users": users}
    for k in ks:
        ideal = np.cumsum(discounts[:k])[np.minimum(n_relevant, k) - 1]
        result[f"recall@{k}"] = hits[:, :k].sum(axis=1) / n_relevant
        result[f"ndcg@{k}"] = hits[:, :k] @ discounts[:k] / ideal
    return result


def _concatenated(batches: list[dict[str, np.ndarray]], ks: tuple[int, ...]) -> dict[str, np.ndarray]:
    names = ["users"] + [f"{metric}@{k}" for k in ks for metric in ("recall", "ndcg")]
    empty = {name: np.zeros(0, dtype=np.int64 if name == "users" else np.float64) for name in names}
    return {name: np.concatenate([empty[name]] + [batch[name] for batch in batches]) for name in names}
