"""What each augmentation buys: every consumer model trained without and with its augmentation on
the same training split and seeds, selected on valid, reported on test.

| augmentation | consumer | without | with |
| --- | --- | --- | --- |
| llm_i2i | Swing and co-occurrence retrieval (a user's last items vote for their neighbours), BPR-MF | interactions_train | i2i_train_interactions |
| slmr | BPR-MF | BPR alone | BPR plus the gated pairwise hinge on llm_pairwise_supervision |
| reform | MF | plain MF | MF with multi-factor attention over user and item factor embeddings |
| reaseq | MF | plain MF | knowledge embeddings as item side information, beyond-log items as extra positives |

Simplifications (ours): the consumers are small MF models and neighbourhood retrieval, not the
papers' production rankers; ReaSeq's beyond-log items enter a non-sequential model as extra
positives of weight `beyond_log_weight` rather than as a sequence; retrieval ranks by the user's
last `i2i_history` training items. Every arm ranks every item outside the user's real training
history (full ranking) and shares the same segments, decided on training data only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch
from pydantic import Field

from evaluation.data import Interactions, Segments, segments
from evaluation.intervals import paired_bootstrap
from evaluation.judges import auc, calibrated_threshold, reliability_curve
from evaluation.metrics import per_user_metrics, segment_metrics
from evaluation.models import (
    FactorAttentionMF,
    ItemToItemRetrieval,
    KnowledgeMF,
    MatrixFactorization,
    PairwiseSupervision,
    Recommender,
    TrainConfig,
    fit,
    slmr_regularizer,
    with_beyond_log,
)
from evaluation.report import ReportPlots, ReportRow, rows_from
from schemas.registry import Published

#: (users, items, ts as int64 seconds) -> {method: (item_idx, neighbor_idx, score)}: how the I2I
#: consumer's neighbours are computed (the pipeline's own Swing and co-occurrence).
NeighbourFn = Callable[[np.ndarray, np.ndarray, np.ndarray], dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]]


class EvaluationConfig(TrainConfig):
    """The BPR settings every trained model shares (TrainConfig's fields), then the evaluation's."""

    seeds: int = Field(3, ge=1, description="training seeds per model; per-user metrics are averaged over them")
    ks: list[int] = [10, 20]
    select_metric: str = Field("recall@20", description="the validation metric that picks each model's checkpoint")
    tail_share: float = Field(0.2, gt=0, lt=1, description="long-tail items: this bottom share by training popularity")
    cold_max_history: int = Field(3, ge=0, description="cold users: at most this many training interactions")
    bootstrap_resamples: int = Field(1000, ge=100)
    i2i_history: int = Field(20, ge=1, description="training items per user that vote in I2I retrieval")
    beyond_log_weight: float = Field(0.5, gt=0, le=1)
    precision_target: float = Field(0.9, gt=0, le=1, description="the calibrated keep threshold's target precision")
    probe_users: int = Field(4, ge=0, description="users whose valid item the S-LLMR scorer is asked about")
    probe_negatives: int = Field(7, ge=1, description="random items beside each probed valid item")

    @property
    def training(self) -> TrainConfig:
        return TrainConfig.model_validate(self.model_dump(include=set(TrainConfig.model_fields)))


@dataclass(frozen=True)
class Judgements:
    """The discriminator's P(yes) by source: real training pairs, negative pairs, synthetic pairs."""

    real: np.ndarray
    negative: np.ndarray
    synthetic: np.ndarray
    keep_threshold: float


@dataclass(frozen=True)
class ScorerProbe:
    """The S-LLMR scorer's scores of users' valid items and of random items they never had."""

    valid: np.ndarray
    negative: np.ndarray


@dataclass(frozen=True)
class EvaluationInputs:
    """Everything the evaluation reads, indexed by user_idx / item_idx. An augmentation whose
    inputs are None is not evaluated (and says so in `Evaluation.skipped`)."""

    n_users: int
    n_items: int
    train: Interactions
    train_ts: np.ndarray  # int64 seconds, per train row
    valid: Interactions
    test: Interactions
    fused: Interactions | None = None  # i2i_train_interactions
    fused_ts: np.ndarray | None = None
    pairs: PairwiseSupervision | None = None
    user_factors: tuple[np.ndarray, np.ndarray] | None = None  # (n_users, F, D) embeddings, (n_users, F) mask
    item_factors: tuple[np.ndarray, np.ndarray] | None = None
    knowledge: tuple[np.ndarray, np.ndarray] | None = None  # (n_items, D), has_knowledge (n_items,)
    beyond_log: Interactions | None = None
    judgements: Judgements | None = None
    scorer_probe: ScorerProbe | None = None


@dataclass
class Evaluation:
    rows: list[ReportRow]
    judges: dict[str, object]
    plots: ReportPlots
    skipped: dict[str, str] = field(default_factory=dict)


#: Per segment, per metric: the per-user values, one array per seed.
SeedMetrics = list[dict[str, dict[str, np.ndarray]]]


class _Bench:
    """The shared parts of every comparison: segments, the exclusion matrix, selection on valid
    and the final test metrics."""

    def __init__(self, inputs: EvaluationInputs, cfg: EvaluationConfig) -> None:
        self.inputs, self.cfg = inputs, cfg
        self.segments: Segments = segments(inputs.train, inputs.n_users, inputs.n_items, cfg.tail_share, cfg.cold_max_history)
        self.exclude: sp.csr_matrix = inputs.train.matrix(inputs.n_users, inputs.n_items)
        self.valid_users = np.unique(inputs.valid.users)
        k = int(cfg.select_metric.split("@")[1])
        self._select_k = (k,)

    def select(self, recommender: Recommender) -> float:
        """The mean validation metric: valid is read here, for checkpoint selection, and nowhere else."""
        values = per_user_metrics(
            recommender.scores, self.valid_users, self.inputs.valid, self.exclude, self._select_k
        )[self.cfg.select_metric]
        return float(values.mean()) if len(values) else 0.0

    def test_metrics(self, recommender: Recommender) -> dict[str, dict[str, np.ndarray]]:
        return segment_metrics(recommender.scores, self.inputs.test, self.exclude, self.segments, self.cfg.ks)

    def trained(self, build: Callable[[], torch.nn.Module], train: Interactions, extra=None) -> SeedMetrics:
        """Test metrics of the model `build` makes, trained with each seed and selected on valid."""
        metrics = []
        for seed in range(self.cfg.seeds):
            torch.manual_seed(seed)
            model = build()
            loss = extra() if extra else None
            result = fit(model, train, self.inputs.n_items, self.cfg.training, seed, self.select, loss)
            metrics.append(self.test_metrics(result.recommender))
        return metrics


def _mf(inputs: EvaluationInputs, cfg: EvaluationConfig) -> Callable[[], torch.nn.Module]:
    return lambda: MatrixFactorization(inputs.n_users, inputs.n_items, cfg.training.dim)


def _compare(
    augmentation: str, model: str, baseline: SeedMetrics, augmented: SeedMetrics, cfg: EvaluationConfig
) -> list[ReportRow]:
    """One report row per segment and metric: per-user values averaged over seeds, then a paired
    bootstrap over users."""
    rows = []
    for segment, metrics in baseline[0].items():
        for metric in metrics:
            if metric == "users":
                continue
            base = np.mean([seed[segment][metric] for seed in baseline], axis=0)
            aug = np.mean([seed[segment][metric] for seed in augmented], axis=0)
            comparison = paired_bootstrap(base, aug, cfg.bootstrap_resamples, seed=0)
            rows.append(rows_from(augmentation, model, segment, metric, comparison, len(augmented)))
    return rows


def _retrieval(inputs: EvaluationInputs, cfg: EvaluationConfig, neighbours: NeighbourFn, users, items, ts) -> dict[str, Recommender]:
    """One I2I retrieval model per neighbour method, the neighbours computed on (users, items, ts);
    the votes come from the user's real training history in both arms."""
    return {
        method: ItemToItemRetrieval.from_pairs(
            item, neighbor, score, inputs.n_items, inputs.train.users, inputs.train.items, inputs.train_ts, cfg.i2i_history
        )
        for method, (item, neighbor, score) in neighbours(users, items, ts).items()
    }


def _fused_rows(
    bench: _Bench,
    name: str,
    fused: Interactions,
    fused_ts: np.ndarray,
    neighbours: NeighbourFn,
    baseline_mf: SeedMetrics | None,
    methods: Sequence[str] | None = None,
) -> list[ReportRow]:
    """The LLM-I2I consumers on the real training interactions against the same on `fused`:
    retrieval by each neighbour method (all, or `methods`), and BPR-MF when `baseline_mf` is given."""
    inputs, cfg = bench.inputs, bench.cfg
    train = inputs.train
    before = _retrieval(inputs, cfg, neighbours, train.users, train.items, inputs.train_ts)
    after = _retrieval(inputs, cfg, neighbours, fused.users, fused.items, fused_ts)
    rows = []
    for method in sorted(before if methods is None else set(methods) & set(before)):
        rows += _compare(name, method, [bench.test_metrics(before[method])], [bench.test_metrics(after[method])], cfg)
    if baseline_mf is not None:
        unweighted = Interactions(fused.users, fused.items)
        rows += _compare(name, "bpr_mf", baseline_mf, bench.trained(_mf(inputs, cfg), unweighted), cfg)
    return rows


def _slmr_rows(bench: _Bench, baseline_mf: SeedMetrics) -> list[ReportRow]:
    inputs, cfg = bench.inputs, bench.cfg
    augmented = bench.trained(_mf(inputs, cfg), inputs.train, extra=lambda: slmr_regularizer(inputs.pairs))
    return _compare("slmr", "bpr_mf", baseline_mf, augmented, cfg)


def _reform_rows(bench: _Bench, baseline_mf: SeedMetrics) -> list[ReportRow]:
    inputs, cfg = bench.inputs, bench.cfg
    (user_factors, user_mask), (item_factors, item_mask) = inputs.user_factors, inputs.item_factors

    def build() -> torch.nn.Module:
        return FactorAttentionMF(
            inputs.n_users, inputs.n_items, cfg.training.dim, user_factors, user_mask, item_factors, item_mask
        )

    return _compare("reform", "factor_attention_mf", baseline_mf, bench.trained(build, inputs.train), cfg)


def _reaseq_rows(bench: _Bench, baseline_mf: SeedMetrics) -> list[ReportRow]:
    inputs, cfg = bench.inputs, bench.cfg
    knowledge, has_knowledge = inputs.knowledge

    def build() -> torch.nn.Module:
        return KnowledgeMF(inputs.n_users, inputs.n_items, cfg.training.dim, knowledge, has_knowledge)

    train = inputs.train
    if inputs.beyond_log is not None and len(inputs.beyond_log):
        train = with_beyond_log(train, inputs.beyond_log.users, inputs.beyond_log.items, cfg.beyond_log_weight)
    return _compare("reaseq", "knowledge_mf", baseline_mf, bench.trained(build, train), cfg)


def _why_skipped(inputs: EvaluationInputs) -> dict[str, str]:
    """The augmentations whose inputs carry nothing to learn from, with the reason."""
    skipped = {}
    if inputs.fused is None or inputs.fused_ts is None:
        skipped["llm_i2i"] = "no i2i_train_interactions"
    if inputs.pairs is None or len(inputs.pairs) == 0:
        skipped["slmr"] = "llm_pairwise_supervision is empty"
    if inputs.user_factors is None or inputs.item_factors is None or not (
        inputs.user_factors[1].any() or inputs.item_factors[1].any()
    ):
        skipped["reform"] = "no user or item has a factor profile"
    if inputs.knowledge is None or not inputs.knowledge[1].any():
        skipped["reaseq"] = "no item has knowledge"
    return skipped


def judge_quality(judgements: Judgements | None, probe: ScorerProbe | None, precision_target: float) -> tuple[dict, ReportPlots]:
    """The discriminator's AUC of P(yes) on real training pairs against negative pairs, its
    reliability curve and a keep threshold calibrated to `precision_target` on those pairs; the
    S-LLMR scorer's AUC of valid items against negatives."""
    judges: dict[str, object] = {}
    plots = ReportPlots()
    if judgements is not None:
        p = np.concatenate([judgements.real, judgements.negative])
        labels = np.concatenate([np.ones(len(judgements.real), bool), np.zeros(len(judgements.negative), bool)])
        threshold = calibrated_threshold(p, labels, precision_target)
        judges |= {
            "discriminator_auc": auc(judgements.real, judgements.negative),
            "discriminator_real_pairs": len(judgements.real),
            "discriminator_negative_pairs": len(judgements.negative),
            "keep_threshold_fixed": judgements.keep_threshold,
            "kept_at_fixed": int((judgements.synthetic >= judgements.keep_threshold).sum()),
            "precision_target": precision_target,
            "keep_threshold_calibrated": threshold,
            "kept_at_calibrated": None if threshold is None else int((judgements.synthetic >= threshold).sum()),
            "synthetic_judged": len(judgements.synthetic),
        }
        plots = ReportPlots(
            p_yes={"real positives": judgements.real, "random negatives": judgements.negative, "synthetic": judgements.synthetic},
            reliability=reliability_curve(p, labels),
        )
    if probe is not None:
        judges |= {
            "scorer_auc": auc(probe.valid, probe.negative),
            "scorer_valid_items": len(probe.valid),
            "scorer_negative_items": len(probe.negative),
        }
    return judges, plots


def evaluate(inputs: EvaluationInputs, neighbours: NeighbourFn, cfg: EvaluationConfig = EvaluationConfig()) -> Evaluation:
    """Every augmentation whose inputs hold something, against the shared MF baseline (trained once
    per seed) or its own baseline (retrieval on the real interactions)."""
    bench = _Bench(inputs, cfg)
    skipped = _why_skipped(inputs)
    baseline_mf = bench.trained(_mf(inputs, cfg), inputs.train)
    rows: list[ReportRow] = []
    for augmentation, evaluate_one in (
        ("llm_i2i", lambda: _fused_rows(bench, "llm_i2i", inputs.fused, inputs.fused_ts, neighbours, baseline_mf)),
        ("slmr", lambda: _slmr_rows(bench, baseline_mf)),
        ("reform", lambda: _reform_rows(bench, baseline_mf)),
        ("reaseq", lambda: _reaseq_rows(bench, baseline_mf)),
    ):
        if augmentation not in skipped:
            rows += evaluate_one()
    judges, plots = judge_quality(inputs.judgements, inputs.scorer_probe, cfg.precision_target)
    curves = {Published.INTERACTIONS_TRAIN.key: np.bincount(inputs.train.items, minlength=inputs.n_items)}
    if inputs.fused is not None:
        curves[Published.I2I_TRAIN_INTERACTIONS.key] = np.bincount(inputs.fused.items, minlength=inputs.n_items)
    plots = ReportPlots(popularity_curves=curves, p_yes=plots.p_yes, reliability=plots.reliability)
    return Evaluation(rows, judges, plots, skipped)


def compare_interactions(
    inputs: EvaluationInputs,
    neighbours: NeighbourFn,
    augmentations: dict[str, tuple[Interactions, np.ndarray]],
    models: Sequence[str] = ("bpr_mf", "swing", "cooccurrence"),
    cfg: EvaluationConfig = EvaluationConfig(),
) -> list[ReportRow]:
    """The LLM-I2I consumers trained on the training interactions without and with each named
    set of extra (interactions, ts): how a planted or a random augmentation is measured."""
    bench = _Bench(inputs, cfg)
    baseline_mf = bench.trained(_mf(inputs, cfg), inputs.train) if "bpr_mf" in models else None
    rows = []
    for name, (extra, extra_ts) in augmentations.items():
        fused, fused_ts = inputs.train.concat(extra), np.concatenate([inputs.train_ts, extra_ts])
        rows += _fused_rows(bench, name, fused, fused_ts, neighbours, baseline_mf, [m for m in models if m != "bpr_mf"])
    return rows
