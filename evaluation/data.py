"""What the evaluation trains and ranks on: published sets as numpy arrays, indexed by
user_idx / item_idx.

Training-side arrays (`train`, and everything an augmentation adds) are built from training-side
sets only. `valid` is read by model selection alone and `test` by the final report alone; no fit
function takes either.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class Interactions:
    """(user, item) rows with a weight per row (1.0 for real interactions), int64 indices."""

    users: np.ndarray
    items: np.ndarray
    weights: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        object.__setattr__(self, "users", np.asarray(self.users, dtype=np.int64))
        object.__setattr__(self, "items", np.asarray(self.items, dtype=np.int64))
        weights = np.ones(len(self.users), np.float32) if self.weights is None else self.weights
        object.__setattr__(self, "weights", np.asarray(weights, dtype=np.float32))
        if not len(self.users) == len(self.items) == len(self.weights):
            raise ValueError("users, items and weights must have one entry per row")

    def __len__(self) -> int:
        return len(self.users)

    def matrix(self, n_users: int, n_items: int) -> sp.csr_matrix:
        """A binary (n_users x n_items) CSR matrix of the pairs (duplicates collapse to 1)."""
        m = sp.csr_matrix((np.ones(len(self), np.float32), (self.users, self.items)), shape=(n_users, n_items))
        m.data[:] = 1.0
        return m

    def concat(self, other: Interactions) -> Interactions:
        return Interactions(
            np.concatenate([self.users, other.users]),
            np.concatenate([self.items, other.items]),
            np.concatenate([self.weights, other.weights]),
        )


@dataclass(frozen=True)
class Segments:
    """Who and what each reported segment covers, decided on training data only."""

    long_tail_items: np.ndarray  # bool (n_items): bottom share of items by training popularity
    cold_users: np.ndarray  # bool (n_users): training history of at most `cold_max_history`


def segments(train: Interactions, n_users: int, n_items: int, tail_share: float = 0.2, cold_max_history: int = 3) -> Segments:
    """Long-tail items: the first floor(tail_share * n_items) items ordered by (training popularity,
    item_idx); cold users: training history length <= cold_max_history."""
    popularity = np.bincount(train.items, minlength=n_items)
    order = np.lexsort((np.arange(n_items), popularity))
    tail = np.zeros(n_items, dtype=bool)
    tail[order[: int(np.floor(tail_share * n_items))]] = True
    history = np.bincount(train.users, minlength=n_users)
    return Segments(long_tail_items=tail, cold_users=history <= cold_max_history)
