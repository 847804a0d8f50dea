"""S-LLMR's consumer (arXiv 2512.21526): BPR plus a gated hinge on the LLM's pairwise preferences.

    L = L_BPR + lam * mean_uij alpha_uij * relu(margin - (s_ui - s_uj))
              + balance * (mean_uij alpha_uij - target_mean_alpha)^2

alpha_ui = floor + (1 - floor) * sigmoid(w . [is_cold_u, tail_i, uncertainty_ui] + b) and
alpha_uij = (alpha_ui + alpha_uj) / 2. Our choices where the paper leaves room:

- uncertainty_ui = 1 - |2 sigmoid(s_ui) - 1|, detached: 1 where the model cannot tell whether u
  likes i (s_ui = 0), towards 0 where it is sure either way. It is the model's own doubt, so the
  gate can learn to trust the LLM where the model knows least.
- margin = 0.5: under BPR's reading P(u prefers i to j) = sigmoid(s_ui - s_uj), the hinge is
  satisfied once the model agrees with the LLM at probability sigmoid(0.5) ~ 0.62, firm but far from
  the score gaps BPR itself produces, so the LLM steers ties rather than overriding the logs.
- Anti-collapse guard. The hinge's gradient with respect to every alpha is lam * hinge / n >= 0,
  so on its own the gate is always pushed down and ends at alpha = 0, switching the regularizer
  off. Two guards: the floor bounds alpha below by construction, and the balance penalty anchors
  mean alpha: at a stationary point of the gate's bias, mean alpha ~ target_mean_alpha -
  lam * (mean hinge) / (2 * balance), so the gate can only move weight between pairs, which is its
  job, not remove it.
- Pairs are sampled uniformly with replacement, as many per training batch as the batch has rows,
  so the cost per batch is bounded and the hinge is averaged at the scale of the BPR term.

The published `hist_len`, `pop_i` and `pop_j` are carried in `PairwiseSupervision` for analysis
by segment; the gate reads the cold and tail flags they were thresholded into.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch
from torch import nn

_DTYPES = {
    "users": np.int64,
    "item_i": np.int64,
    "item_j": np.int64,
    "s_i": np.float32,
    "s_j": np.float32,
    "is_cold": bool,
    "tail_i": bool,
    "tail_j": bool,
    "hist_len": np.int64,
    "pop_i": np.int64,
    "pop_j": np.int64,
}


@dataclass(frozen=True)
class PairwiseSupervision:
    """The LLM's preferences: user `users[k]` prefers `item_i[k]` (LLM score s_i) to `item_j[k]`
    (s_j < s_i), with the gate inputs published beside each pair."""

    users: np.ndarray
    item_i: np.ndarray
    item_j: np.ndarray
    s_i: np.ndarray
    s_j: np.ndarray
    is_cold: np.ndarray
    tail_i: np.ndarray
    tail_j: np.ndarray
    hist_len: np.ndarray
    pop_i: np.ndarray
    pop_j: np.ndarray

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, np.asarray(getattr(self, f.name), dtype=_DTYPES[f.name]))
        if len({len(getattr(self, f.name)) for f in fields(self)}) != 1:
            raise ValueError("every column of PairwiseSupervision needs one entry per pair")

    def __len__(self) -> int:
        return len(self.users)


def uncertainty(scores: torch.Tensor) -> torch.Tensor:
    """1 - |2 sigmoid(s) - 1|: 1 at s = 0, towards 0 as |s| grows."""
    return 1.0 - (2.0 * torch.sigmoid(scores) - 1.0).abs()


class Gate(nn.Module):
    """alpha_ui = floor + (1 - floor) * sigmoid(w . [is_cold_u, tail_i, uncertainty_ui] + b)."""

    def __init__(self, floor: float) -> None:
        super().__init__()
        self.floor = floor
        self.linear = nn.Linear(3, 1)

    def forward(self, is_cold: torch.Tensor, tail: torch.Tensor, doubt: torch.Tensor) -> torch.Tensor:
        inputs = torch.stack([is_cold, tail, doubt], dim=-1)
        return self.floor + (1.0 - self.floor) * torch.sigmoid(self.linear(inputs).squeeze(-1))


class SelectiveRegularizer(nn.Module):
    """The gated hinge as `fit`'s extra loss; being a module, its gate is trained alongside the
    model (fit optimizes and checkpoints an nn.Module extra loss's parameters)."""

    def __init__(
        self, pairs: PairwiseSupervision, gate: Gate, lam: float, margin: float, target_mean_alpha: float, balance: float
    ) -> None:
        super().__init__()
        self.gate = gate
        self.lam, self.margin, self.target_mean_alpha, self.balance = lam, margin, target_mean_alpha, balance
        self.n_pairs = len(pairs)
        for name in ("users", "item_i", "item_j"):
            self.register_buffer(name, torch.from_numpy(getattr(pairs, name)), persistent=False)
        for name in ("is_cold", "tail_i", "tail_j"):
            self.register_buffer(name, torch.from_numpy(getattr(pairs, name)).float(), persistent=False)

    def alpha_and_gap(self, model: nn.Module, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """alpha_uij and the model's s_ui - s_uj for the pairs at `rows`."""
        users = self.users[rows]
        s_i, s_j = model(users, self.item_i[rows]), model(users, self.item_j[rows])
        is_cold = self.is_cold[rows]
        alpha_i = self.gate(is_cold, self.tail_i[rows], uncertainty(s_i.detach()))
        alpha_j = self.gate(is_cold, self.tail_j[rows], uncertainty(s_j.detach()))
        return (alpha_i + alpha_j) / 2.0, s_i - s_j

    def forward(self, model: nn.Module, batch_rows: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        rows = torch.randint(0, self.n_pairs, (len(batch_rows),), generator=generator)
        alpha, gap = self.alpha_and_gap(model, rows)
        hinge = (alpha * torch.relu(self.margin - gap)).mean()
        return self.lam * hinge + self.balance * (alpha.mean() - self.target_mean_alpha) ** 2


def slmr_regularizer(
    pairs: PairwiseSupervision,
    lam: float = 0.5,
    margin: float = 0.5,
    alpha_floor: float = 0.05,
    target_mean_alpha: float = 0.5,
    balance: float = 1.0,
) -> SelectiveRegularizer:
    """The S-LLMR extra loss for `fit`; its gate is `.gate`. Gate weights start from torch's global
    generator, like the model's: seed it before calling."""
    if len(pairs) == 0:
        raise ValueError("S-LLMR needs at least one LLM pair")
    if not 0.0 <= alpha_floor < target_mean_alpha <= 1.0:
        raise ValueError("need 0 <= alpha_floor < target_mean_alpha <= 1")
    return SelectiveRegularizer(pairs, Gate(alpha_floor), lam, margin, target_mean_alpha, balance)
