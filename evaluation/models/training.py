"""The one BPR training loop every trained model shares, with checkpoint selection by a caller's
validation score.

The loop sees training interactions only. Validation enters as `select`, an opaque callable that
scores the model being trained; it can only choose among checkpoints of the single trajectory the
training data and the seed determine, never change that trajectory (the held-out rule).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from evaluation.data import Interactions
from evaluation.models.recommender import Recommender, TorchRecommender

ExtraLoss = Callable[[nn.Module, torch.Tensor, torch.Generator], torch.Tensor]
"""A term added to each batch's loss: (model, the batch's row positions in `train`, a generator)."""


class ScoringModel(Protocol):
    """What `fit` needs from a model besides being an nn.Module."""

    n_items: int

    def __call__(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Scores of the (users[k], items[k]) pairs."""

    def score_all(self, users: torch.Tensor) -> torch.Tensor:
        """(len(users), n_items) scores."""

    def penalty(self, users: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
        """The squared L2 norm of the embeddings these rows touch, averaged over rows."""


class TrainConfig(BaseModel):
    """BPR hyperparameters; the seed is the caller's, passed to `fit`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dim: int = Field(32, gt=0)
    epochs: int = Field(30, gt=0)
    lr: float = Field(0.01, gt=0)
    batch_size: int = Field(1024, gt=0)
    weight_decay: float = Field(1e-5, ge=0)  # on the batch's embeddings, not as Adam's decay
    eval_every: int = Field(2, gt=0)  # epochs between `select` calls
    patience: int = Field(3, gt=0)  # evaluations without improvement before stopping


@dataclass(frozen=True)
class FitResult:
    """The model restored to its best checkpoint and how training went.

    `best_epoch` is the epoch of the checkpoint kept (the last epoch trained when `select` is
    None); `selection` holds (epoch, score) per evaluation; `epoch_losses` the mean batch loss of
    every epoch trained, in order."""

    recommender: TorchRecommender
    best_epoch: int
    selection: list[tuple[int, float]]
    epoch_losses: list[float]


def fit(
    model: nn.Module,
    train: Interactions,
    n_items: int,
    cfg: TrainConfig,
    seed: int,
    select: Callable[[Recommender], float] | None,
    extra_loss: ExtraLoss | None = None,
) -> FitResult:
    """Train `model` with weighted BPR on `train`, Adam, `cfg.epochs` epochs at most.

    Each epoch shuffles the rows and draws one negative per positive uniformly over all items.
    Negatives are not rejected when they are among the user's own training items: at recommender
    densities the collision rate is about the user's share of the catalog, it only weakens a few
    pairs, and rejection would need a per-user lookup of the training set every batch.

    Each batch's loss is sum_k w_k * -log sigmoid(s_uk_i - s_uk_j) / sum_k w_k, plus
    `cfg.weight_decay * model.penalty(...)`, plus `extra_loss(model, batch_rows, generator)` when
    given. An `extra_loss` that is an nn.Module (S-LLMR's regularizer and its gate) has its
    parameters trained and checkpointed along with the model's.

    Every `cfg.eval_every` epochs and at the last one, `select` scores the current model (higher is
    better); the best checkpoint is kept, training stops after `cfg.patience` evaluations without
    improvement, and the model ends restored to the best checkpoint.
    """
    if len(train) == 0:
        raise ValueError("fit needs at least one training interaction")
    if getattr(model, "n_items", n_items) != n_items:
        raise ValueError(f"model scores {model.n_items} items, fit was given n_items={n_items}")
    # Separate streams, so that an extra loss drawing its own samples leaves the BPR batches and
    # negatives exactly as they would be without it.
    bpr_seed, extra_seed = np.random.SeedSequence(seed).generate_state(2)
    generator = torch.Generator().manual_seed(int(bpr_seed))
    extra_generator = torch.Generator().manual_seed(int(extra_seed))
    trained = nn.ModuleList([model, *([extra_loss] if isinstance(extra_loss, nn.Module) else [])])
    optimizer = torch.optim.Adam(trained.parameters(), lr=cfg.lr)
    users, items = torch.from_numpy(train.users), torch.from_numpy(train.items)
    weights = torch.from_numpy(train.weights)
    recommender = TorchRecommender(model, n_items)

    best_epoch, best_score, best_state, since_best = cfg.epochs, -np.inf, None, 0
    selection: list[tuple[int, float]] = []
    epoch_losses: list[float] = []
    for epoch in range(1, cfg.epochs + 1):
        order = torch.randperm(len(train), generator=generator)
        negatives = torch.randint(0, n_items, (len(train),), generator=generator)
        batch_losses = []
        for start in range(0, len(train), cfg.batch_size):
            rows = order[start : start + cfg.batch_size]
            u, i, j, w = users[rows], items[rows], negatives[start : start + cfg.batch_size], weights[rows]
            loss = -(w * nn.functional.logsigmoid(model(u, i) - model(u, j))).sum() / w.sum()
            loss = loss + cfg.weight_decay * model.penalty(u, i, j)
            if extra_loss is not None:
                loss = loss + extra_loss(model, rows, extra_generator)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            batch_losses.append(loss.item())
        epoch_losses.append(float(np.mean(batch_losses)))

        if select is None or (epoch % cfg.eval_every and epoch != cfg.epochs):
            continue
        score = float(select(recommender))
        if np.isnan(score):
            raise ValueError(f"select returned NaN at epoch {epoch}")
        selection.append((epoch, score))
        if score > best_score:
            best_epoch, best_score, best_state, since_best = epoch, score, copy.deepcopy(trained.state_dict()), 0
        else:
            since_best += 1
            if since_best >= cfg.patience:
                break
    if best_state is not None:
        trained.load_state_dict(best_state)
    return FitResult(recommender, best_epoch, selection, epoch_losses)
