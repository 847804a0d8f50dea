"""How a PyTorch trainer consumes recaug's LLM-augmented sets, read straight from published/ with pyarrow.

1. LLM-I2I: a matrix-factorization model trained with BPR on `i2i_train_interactions` (real and
   kept synthetic interactions), each positive weighted by its source: synthetic ones by the
   judge's P(yes).
2. S-LLMR: the same model with the selective pairwise regularizer on `llm_pairwise_supervision`:
       L = L_rec + lambda * mean_uij alpha_uij * max(0, m - (s_ui - s_uj))
   where s_ui is the model's score and alpha_uij = sigmoid(gate(x_uij)) is learned from the
   gate inputs beside each pair (history length, cold flag, popularity and tail flags of both
   items) plus the model's own uncertainty, |s_ui - s_uj| detached.

Run: python examples/augmented_training.py --warehouse ./warehouse   (after `make demo`)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch
from torch import nn

GATE_INPUTS = ["hist_len", "is_cold", "pop_i", "pop_j", "tail_i", "tail_j"]


def read_latest(warehouse: Path, name: str) -> dict[str, np.ndarray]:
    """A published set's LATEST version as numpy columns (zero-copy where Arrow allows)."""
    version = (warehouse / "published" / name / "LATEST").read_text().strip()
    table = pq.read_table(warehouse / "published" / name / version)
    return {column: table[column].to_numpy(zero_copy_only=False) for column in table.column_names}


class MatrixFactorization(nn.Module):
    def __init__(self, n_users: int, n_items: int, dim: int = 16) -> None:
        super().__init__()
        self.users = nn.Embedding(n_users, dim)
        self.items = nn.Embedding(n_items, dim)
        nn.init.normal_(self.users.weight, std=0.1)
        nn.init.normal_(self.items.weight, std=0.1)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return (self.users(users) * self.items(items)).sum(-1)


def sizes(warehouse: Path) -> tuple[int, int]:
    id_maps = read_latest(warehouse, "id_maps")
    return int((id_maps["kind"] == "user").sum()), int((id_maps["kind"] == "item").sum())


def bpr_loss(model, users, positives, weights, n_items, generator) -> torch.Tensor:
    negatives = torch.randint(0, n_items, positives.shape, generator=generator)
    margin = model(users, positives) - model(users, negatives)
    return -(weights * nn.functional.logsigmoid(margin)).sum() / weights.sum()


def train_i2i(warehouse: Path, steps: int = 200, seed: int = 0) -> dict[str, float]:
    """BPR on the fused interactions; synthetic positives count with weight P(yes)."""
    fused = read_latest(warehouse, "i2i_train_interactions")
    n_users, n_items = sizes(warehouse)
    users = torch.from_numpy(fused["user_idx"].astype(np.int64))
    items = torch.from_numpy(fused["item_idx"].astype(np.int64))
    synthetic = fused["source"] == "synthetic"
    weights = torch.from_numpy(np.where(synthetic, np.nan_to_num(fused["judge_p_yes"].astype(float)), 1.0)).float()
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = MatrixFactorization(n_users, n_items)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = bpr_loss(model, users, items, weights, n_items, generator)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return {"interactions": len(users), "synthetic": int(synthetic.sum()), "first_loss": losses[0], "last_loss": losses[-1]}


class Gate(nn.Module):
    """alpha_uij from the published gate inputs plus the model's uncertainty on the pair."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(len(GATE_INPUTS) + 1, 1)

    def forward(self, features: torch.Tensor, uncertainty: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.linear(torch.cat([features, uncertainty[:, None]], dim=1))).squeeze(1)


def gate_features(pairs: dict[str, np.ndarray]) -> torch.Tensor:
    columns = [pairs[name].astype(np.float32) for name in GATE_INPUTS]
    features = np.stack(columns, axis=1)
    features[:, [0, 2, 3]] = np.log1p(features[:, [0, 2, 3]])  # lengths and popularities are heavy-tailed
    return torch.from_numpy(features)


def train_slmr(warehouse: Path, steps: int = 200, lam: float = 0.5, margin: float = 0.5, seed: int = 0) -> dict[str, float]:
    """BPR on the training interactions plus the gated hinge on the LLM's pairwise preferences."""
    train = read_latest(warehouse, "interactions_train")
    pairs = read_latest(warehouse, "llm_pairwise_supervision")
    n_users, n_items = sizes(warehouse)
    users = torch.from_numpy(train["user_idx"].astype(np.int64))
    items = torch.from_numpy(train["item_idx"].astype(np.int64))
    pair_users = torch.from_numpy(pairs["user_idx"].astype(np.int64))
    item_i = torch.from_numpy(pairs["item_i"].astype(np.int64))
    item_j = torch.from_numpy(pairs["item_j"].astype(np.int64))
    features = gate_features(pairs)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model, gate = MatrixFactorization(n_users, n_items), Gate()
    optimizer = torch.optim.Adam([*model.parameters(), *gate.parameters()], lr=0.05)
    regularizer = torch.zeros(())
    for _ in range(steps):
        optimizer.zero_grad()
        loss = bpr_loss(model, users, items, torch.ones(len(users)), n_items, generator)
        if len(pair_users):
            s_i, s_j = model(pair_users, item_i), model(pair_users, item_j)
            alpha = gate(features, (s_i - s_j).abs().detach())
            regularizer = (alpha * torch.relu(margin - (s_i - s_j))).mean()
            loss = loss + lam * regularizer
        loss.backward()
        optimizer.step()
    return {"pairs": len(pair_users), "last_regularizer": regularizer.item(), "last_loss": loss.item()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, default=Path("./warehouse"))
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    print("LLM-I2I (fused interactions, BPR):", train_i2i(args.warehouse, args.steps))
    print("S-LLMR (BPR + gated pairwise hinge):", train_slmr(args.warehouse, args.steps))


if __name__ == "__main__":
    main()
