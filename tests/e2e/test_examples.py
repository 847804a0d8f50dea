"""The trainer example runs on a real published warehouse and learns from it."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

from support.pipeline_support import read_set

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "augmented_training.py"


def _example():
    spec = importlib.util.spec_from_file_location("augmented_training", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_i2i_trainer_reads_the_fused_set_and_its_loss_falls(synthetic_run):
    metrics = _example().train_i2i(Path(synthetic_run.wh.base_url), epochs=10)
    fused = read_set(synthetic_run.wh, "i2i_train_interactions")
    assert metrics["interactions"] == fused.num_rows
    assert metrics["synthetic"] == fused["source"].to_pylist().count("synthetic")
    assert metrics["last_loss"] < metrics["first_loss"]


def test_slmr_trainer_adds_the_gated_hinge_over_every_published_pair_and_its_gate_stays_open(synthetic_run):
    metrics = _example().train_slmr(Path(synthetic_run.wh.base_url), epochs=10)
    published = read_set(synthetic_run.wh, "llm_pairwise_supervision").num_rows
    assert metrics["pairs"] == published
    if published == 0:  # the tiny run's model often scores every candidate alike
        assert "empty" in metrics["note"]
        return
    assert math.isfinite(metrics["last_loss"])
    assert metrics["mean_alpha"] > 0.25  # the guarded gate does not switch the regularizer off
