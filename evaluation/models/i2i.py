"""Item-to-item retrieval (LLM-I2I's consumer): a user's recent items vote for their neighbours."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


class ItemToItemRetrieval:
    """scores(u) = sum over u's recent training interactions h of neighbors[h, :].

    `recent` is the (n_trained_users x n_items) count matrix of each user's last interactions.
    Every recent interaction counts equally (no recency decay: Swing / co-occurrence retrieval as
    the design names it is an unweighted sum), and an item interacted twice among them votes twice.
    Users without history, including any past the last row of `recent`, score all zeros."""

    def __init__(self, neighbors: sp.csr_matrix, recent: sp.csr_matrix) -> None:
        if neighbors.shape[0] != neighbors.shape[1] or recent.shape[1] != neighbors.shape[0]:
            raise ValueError("neighbors must be (n_items x n_items) and recent (n_users x n_items)")
        self.neighbors = sp.csr_matrix(neighbors, dtype=np.float32)
        self.recent = sp.csr_matrix(recent, dtype=np.float32)
        self.n_items = neighbors.shape[0]

    @classmethod
    def from_pairs(
        cls,
        item_idx: np.ndarray,
        neighbor_idx: np.ndarray,
        score: np.ndarray,
        n_items: int,
        train_users: np.ndarray,
        train_items: np.ndarray,
        train_ts: np.ndarray,
        last_n: int = 20,
    ) -> ItemToItemRetrieval:
        """From (item, neighbour, score) rows and the training interactions with their times; each
        user's last `last_n` interactions by time (ties by row order) make their history."""
        neighbors = sp.csr_matrix((np.asarray(score, np.float32), (item_idx, neighbor_idx)), shape=(n_items, n_items))
        train_users = np.asarray(train_users, dtype=np.int64)
        order = np.lexsort((np.arange(len(train_users)), train_ts, train_users))
        users, items = train_users[order], np.asarray(train_items, dtype=np.int64)[order]
        from_end = np.searchsorted(users, users, side="right") - np.arange(len(users)) - 1
        keep = from_end < last_n
        n_users = int(users.max(initial=-1)) + 1
        votes = np.ones(int(keep.sum()), np.float32)
        recent = sp.csr_matrix((votes, (users[keep], items[keep])), shape=(n_users, n_items))
        return cls(neighbors, recent)

    def scores(self, users: np.ndarray) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        out = np.zeros((len(users), self.n_items), dtype=np.float32)
        known = users < self.recent.shape[0]
        out[known] = (self.recent[users[known]] @ self.neighbors).toarray()
        return out
