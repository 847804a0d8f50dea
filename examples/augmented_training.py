"""How a PyTorch trainer consumes recaug's LLM-augmented sets, with the loader and models of the
`evaluation` package (importable from your own trainer):

1. LLM-I2I: matrix factorization trained with BPR on `i2i_train_interactions` (real and kept
   synthetic interactions).
2. S-LLMR: the same model with the selective pairwise regularizer on `llm_pairwise_supervision`:
       L = L_BPR + lambda * mean_uij alpha_uij * max(0, m - (s_ui - s_uj))
   where alpha_uij = (alpha_ui + alpha_uj) / 2 is a gate over the cold / tail flags published
   beside each pair and the model's own uncertainty, kept from collapsing to zero
   (evaluation.models.slmr).

`recaug evaluate` trains these same models without and with each augmentation and reports what
each buys; this example only shows the reading and training.

Run: python examples/augmented_training.py --warehouse ./warehouse   (after `make demo`)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import torch

from evaluation.inputs import pairwise_supervision
from evaluation.loader import PublishedSets
from evaluation.models import MatrixFactorization, TrainConfig, fit, slmr_regularizer


def train_i2i(warehouse: Path, epochs: int = 20, seed: int = 0) -> dict[str, float]:
    """BPR-MF on the fused interactions."""
    sets = PublishedSets(str(warehouse))
    n_users, n_items = sets.sizes()
    fused = sets.interactions("i2i_train_interactions")
    synthetic = pc.sum(pc.equal(sets.table("i2i_train_interactions", ["source"])["source"], "synthetic")).as_py() or 0
    torch.manual_seed(seed)
    result = fit(MatrixFactorization(n_users, n_items, 16), fused, n_items, TrainConfig(epochs=epochs), seed, select=None)
    return {
        "interactions": len(fused),
        "synthetic": synthetic,
        "first_loss": result.epoch_losses[0],
        "last_loss": result.epoch_losses[-1],
    }


def train_slmr(warehouse: Path, epochs: int = 20, seed: int = 0) -> dict[str, float]:
    """BPR-MF on the training interactions plus the gated hinge on the LLM's pairwise preferences."""
    sets = PublishedSets(str(warehouse))
    n_users, n_items = sets.sizes()
    pairs = pairwise_supervision(sets)
    if not len(pairs):  # a model that scores every candidate alike gives no pair
        return {"pairs": 0, "note": "llm_pairwise_supervision is empty: nothing to regularize with"}
    torch.manual_seed(seed)
    model = MatrixFactorization(n_users, n_items, 16)
    regularizer = slmr_regularizer(pairs)
    result = fit(model, sets.interactions("interactions_train"), n_items, TrainConfig(epochs=epochs), seed, None, regularizer)
    with torch.no_grad():
        alpha, _ = regularizer.alpha_and_gap(model, torch.arange(len(pairs)))
    return {"pairs": len(pairs), "mean_alpha": float(alpha.mean()), "last_loss": result.epoch_losses[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, default=Path("./warehouse"))
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    np.set_printoptions(precision=4)
    print("LLM-I2I (fused interactions, BPR):", train_i2i(args.warehouse, args.epochs))
    print("S-LLMR (BPR + gated pairwise hinge):", train_slmr(args.warehouse, args.epochs))


if __name__ == "__main__":
    main()
