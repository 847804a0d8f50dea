"""ReFORM's consumer (arXiv 2603.16236): MF plus attention over factor-specific profile embeddings.

Our choices where the paper leaves room: the frozen text embeddings go through one learned linear
map per side (D -> dim, shared by all factors), since a factor's user description ("wants quiet
places") and item description ("quiet dining room") say different things in the same text space;
the attention logit of factor f is a per-factor linear scoring of the elementwise product of the
two projections, sum_d w_fd * (Wu e_uf)_d * (Wi e_if)_d + c_f, which is as expressive as a small
linear on that product yet computable for all items without materializing it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from evaluation.models.mf import MatrixFactorization

PAIRED = "bfd,bfd->bf"  # users[k] with items[k]
ALL_ITEMS = "bfd,nfd->bnf"  # every user with every item


class FactorAttentionMF(MatrixFactorization):
    """s_ui = <p_u, q_i> + b_i + sum_f a_uif * <Wu e_uf, Wi e_if>, with a_ui a softmax over the
    factors present on both sides (`user_mask` and `item_mask`). A pair sharing no factor (in
    particular an entity without a profile, all-False mask) gets no factor term: plain MF exactly."""

    def __init__(
        self,
        n_users: int,
        n_items: int,
        dim: int,
        user_factors: np.ndarray,
        user_mask: np.ndarray,
        item_factors: np.ndarray,
        item_mask: np.ndarray,
    ) -> None:
        super().__init__(n_users, n_items, dim)
        n_factors, text_dim = user_factors.shape[1:]
        if user_factors.shape != (n_users, n_factors, text_dim) or item_factors.shape != (n_items, n_factors, text_dim):
            raise ValueError("factor embeddings must be (n_users, F, D) and (n_items, F, D) with the same F and D")
        if user_mask.shape != (n_users, n_factors) or item_mask.shape != (n_items, n_factors):
            raise ValueError("factor masks must be (n_users, F) and (n_items, F)")
        # Frozen inputs, not state: kept out of state_dict so that checkpoints copy parameters only.
        self.register_buffer("user_factors", torch.as_tensor(user_factors, dtype=torch.float32), persistent=False)
        self.register_buffer("item_factors", torch.as_tensor(item_factors, dtype=torch.float32), persistent=False)
        self.register_buffer("user_mask", torch.as_tensor(user_mask, dtype=torch.bool), persistent=False)
        self.register_buffer("item_mask", torch.as_tensor(item_mask, dtype=torch.bool), persistent=False)
        self.user_projection = nn.Linear(text_dim, dim, bias=False)
        self.item_projection = nn.Linear(text_dim, dim, bias=False)
        # Ones: a factor's initial logit is its own agreement <Wu e_uf, Wi e_if>.
        self.factor_query = nn.Parameter(torch.ones(n_factors, dim))
        self.factor_bias = nn.Parameter(torch.zeros(n_factors))

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return super().forward(users, items) + self._factor_term(users, items, PAIRED)

    def score_all(self, users: torch.Tensor) -> torch.Tensor:
        return super().score_all(users) + self._factor_term(users, torch.arange(self.n_items), ALL_ITEMS)

    def _factor_term(self, users: torch.Tensor, items: torch.Tensor, equation: str) -> torch.Tensor:
        """sum_f a_uif * <Wu e_uf, Wi e_if>, pairing users and items as `equation` says."""
        u = self.user_projection(self.user_factors[users])
        v = self.item_projection(self.item_factors[items])
        dots = torch.einsum(equation, u, v)
        logits = torch.einsum(equation, u * self.factor_query, v) + self.factor_bias
        # The same pairing without the embedding axis: (user has f) and (item has f).
        both = torch.einsum(equation.replace("d", ""), self.user_mask[users].float(), self.item_mask[items].float()) > 0
        # Rows sharing no factor get uniform logits instead of all -inf, so that softmax and its
        # gradient stay finite; multiplying by `both` then zeroes them.
        logits = torch.where(both.any(-1, keepdim=True), logits.masked_fill(~both, float("-inf")), 0.0)
        attention = torch.softmax(logits, dim=-1) * both
        return (attention * dots).sum(-1)
