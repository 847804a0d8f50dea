"""ReaSeq's consumer (arXiv 2512.21257), adapted to a non-sequential model: item knowledge
embeddings as side information, and beyond-log interests as extra weighted positives."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from evaluation.data import Interactions
from evaluation.models.mf import MatrixFactorization


class KnowledgeMF(MatrixFactorization):
    """MF whose item vector is q_i = e_i + has_knowledge_i * W k_i, with k_i the item's frozen
    knowledge embedding and W a learned linear map D -> dim. W is shared by all items, so an item
    with no training interaction still gets the vector its knowledge maps to."""

    def __init__(self, n_users: int, n_items: int, dim: int, knowledge: np.ndarray, has_knowledge: np.ndarray) -> None:
        super().__init__(n_users, n_items, dim)
        if knowledge.ndim != 2 or knowledge.shape[0] != n_items or has_knowledge.shape != (n_items,):
            raise ValueError("knowledge must be (n_items, D) and has_knowledge (n_items,)")
        # Frozen inputs, not state: kept out of state_dict so that checkpoints copy parameters only.
        self.register_buffer("knowledge", torch.as_tensor(knowledge, dtype=torch.float32), persistent=False)
        self.register_buffer("has_knowledge", torch.as_tensor(has_knowledge, dtype=torch.float32), persistent=False)
        self.knowledge_projection = nn.Linear(knowledge.shape[1], dim, bias=False)

    def item_vectors(self, items: torch.Tensor) -> torch.Tensor:
        side = self.has_knowledge[items, None] * self.knowledge_projection(self.knowledge[items])
        return super().item_vectors(items) + side


def with_beyond_log(
    train: Interactions, beyond_users: np.ndarray, beyond_items: np.ndarray, weight: float = 0.5
) -> Interactions:
    """`train` plus each beyond-log (user, item) as a positive of weight `weight`.

    ReaSeq feeds beyond-log items into the user's sequence; MF has no sequence, so the nearest
    equivalent is an extra, down-weighted positive for that user. Pairs already in `train` are not
    added again, so that the LLM cannot double the weight of a logged interaction."""
    beyond_users = np.asarray(beyond_users, dtype=np.int64)
    beyond_items = np.asarray(beyond_items, dtype=np.int64)
    stride = int(max(train.items.max(initial=-1), beyond_items.max(initial=-1))) + 1
    new = ~np.isin(beyond_users * stride + beyond_items, train.users * stride + train.items)
    extra = Interactions(beyond_users[new], beyond_items[new], np.full(int(new.sum()), weight, np.float32))
    return train.concat(extra)
