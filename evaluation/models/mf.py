"""Matrix factorization with an item bias: the base model every augmentation's consumer extends."""

from __future__ import annotations

import torch
from torch import nn


class MatrixFactorization(nn.Module):
    """s_ui = <p_u, q_i> + b_i. Embeddings start normal with std 0.1 and biases at zero, drawn from
    torch's global generator: seed it (torch.manual_seed) before constructing.

    Subclasses change the item vectors (`item_vectors`) or add a term to the score; `penalty`
    covers the id embeddings only."""

    def __init__(self, n_users: int, n_items: int, dim: int) -> None:
        super().__init__()
        self.n_users, self.n_items = n_users, n_items
        self.user_embedding = nn.Embedding(n_users, dim)
        self.item_embedding = nn.Embedding(n_items, dim)
        self.item_bias = nn.Embedding(n_items, 1)
        nn.init.normal_(self.user_embedding.weight, std=0.1)
        nn.init.normal_(self.item_embedding.weight, std=0.1)
        nn.init.zeros_(self.item_bias.weight)

    def item_vectors(self, items: torch.Tensor) -> torch.Tensor:
        """q_i for each item: here its id embedding."""
        return self.item_embedding(items)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Scores of the (users[k], items[k]) pairs."""
        return (self.user_embedding(users) * self.item_vectors(items)).sum(-1) + self.item_bias(items).squeeze(-1)

    def score_all(self, users: torch.Tensor) -> torch.Tensor:
        """(len(users), n_items) scores of every item."""
        all_items = torch.arange(self.n_items)
        return self.user_embedding(users) @ self.item_vectors(all_items).T + self.item_bias.weight.T

    def penalty(self, users: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
        """||p_u||^2 + ||e_i||^2 + ||e_j||^2 of the id embeddings, averaged over the rows."""
        squares = [self.user_embedding(users), self.item_embedding(positives), self.item_embedding(negatives)]
        return sum(e.pow(2).sum(-1) for e in squares).mean()
