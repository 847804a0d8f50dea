"""The models the evaluation trains and ranks with: one BPR loop (`fit`) shared by MF and the
consumers of each augmentation, and item-to-item retrieval."""

from evaluation.models.i2i import ItemToItemRetrieval
from evaluation.models.mf import MatrixFactorization
from evaluation.models.reaseq import KnowledgeMF, with_beyond_log
from evaluation.models.recommender import Recommender, TorchRecommender
from evaluation.models.reform import FactorAttentionMF
from evaluation.models.slmr import Gate, PairwiseSupervision, SelectiveRegularizer, slmr_regularizer
from evaluation.models.training import ExtraLoss, FitResult, TrainConfig, fit

__all__ = [
    "ExtraLoss",
    "FactorAttentionMF",
    "FitResult",
    "Gate",
    "ItemToItemRetrieval",
    "KnowledgeMF",
    "MatrixFactorization",
    "PairwiseSupervision",
    "Recommender",
    "SelectiveRegularizer",
    "TorchRecommender",
    "TrainConfig",
    "fit",
    "slmr_regularizer",
    "with_beyond_log",
]
