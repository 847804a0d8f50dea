"""What the evaluation ranks with: anything that scores every item for a batch of users."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch
from torch import nn


class Recommender(Protocol):
    """Full-ranking scores: one float32 row of `n_items` scores per requested user."""

    n_items: int

    def scores(self, users: np.ndarray) -> np.ndarray: ...


class TorchRecommender:
    """A trained torch model seen as a Recommender. Users are scored in chunks of about
    `max_cells` (user, item) scores, so that a model's per-pair intermediates (ReFORM's per-factor
    attention) stay bounded whatever the number of users asked for."""

    def __init__(self, model: nn.Module, n_items: int, max_cells: int = 1 << 22) -> None:
        self.model = model
        self.n_items = n_items
        self.chunk_size = max(1, max_cells // n_items)

    def scores(self, users: np.ndarray) -> np.ndarray:
        users = torch.as_tensor(np.asarray(users, dtype=np.int64))
        out = np.empty((len(users), self.n_items), dtype=np.float32)
        with torch.no_grad():
            for start in range(0, len(users), self.chunk_size):
                chunk = users[start : start + self.chunk_size]
                out[start : start + len(chunk)] = self.model.score_all(chunk).numpy()
        return out
