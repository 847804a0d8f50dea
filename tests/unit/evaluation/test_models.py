"""The evaluation's models on tiny planted data: the shared BPR loop, S-LLMR's gate, ReFORM's
factor attention, ReaSeq's knowledge side information and item-to-item retrieval."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

from evaluation.data import Interactions
from evaluation.models import (
    FactorAttentionMF,
    ItemToItemRetrieval,
    KnowledgeMF,
    MatrixFactorization,
    PairwiseSupervision,
    TrainConfig,
    fit,
    slmr_regularizer,
    with_beyond_log,
)

torch.set_num_threads(1)

N_USERS, N_ITEMS, HALF = 20, 20, 10
CFG = TrainConfig(dim=8, epochs=40, lr=0.05, batch_size=64, eval_every=2, patience=3)


def group_of_users() -> np.ndarray:
    return (np.arange(N_USERS) >= N_USERS // 2).astype(np.int64)


def planted(per_user: int = 6, seed: int = 0) -> tuple[Interactions, np.ndarray]:
    """Users 0-9 interact with items 0-9 only, users 10-19 with items 10-19 only: `per_user` of
    their half each. Also returns, per user, one held-out item of their half (a fake validation)."""
    rng = np.random.default_rng(seed)
    users, items, held_out = [], [], []
    for user, group in enumerate(group_of_users()):
        chosen = rng.permutation(HALF)[: per_user + 1] + group * HALF
        users += [user] * per_user
        items += list(chosen[:per_user])
        held_out.append(chosen[per_user])
    return Interactions(np.array(users), np.array(items)), np.array(held_out)


def mean_score_lift(items: np.ndarray):
    """A select callable: mean over users of (score of the user's item - their mean score)."""

    def select(recommender) -> float:
        scores = recommender.scores(np.arange(N_USERS))
        return float((scores[np.arange(N_USERS), items] - scores.mean(axis=1)).mean())

    return select


def train_mf(train: Interactions, cfg: TrainConfig = CFG, seed: int = 0, select=None, extra_loss=None, n_items: int = N_ITEMS):
    torch.manual_seed(seed)
    return fit(MatrixFactorization(N_USERS, n_items, cfg.dim), train, n_items, cfg, seed, select, extra_loss)


def all_scores(result) -> np.ndarray:
    return result.recommender.scores(np.arange(N_USERS))


def test_fit_is_deterministic_for_a_seed():
    train, _ = planted()
    first, second, other_seed = train_mf(train), train_mf(train), train_mf(train, seed=1)
    assert first.epoch_losses == second.epoch_losses
    assert np.array_equal(all_scores(first), all_scores(second))
    assert first.epoch_losses != other_seed.epoch_losses


def test_validation_only_chooses_among_checkpoints_of_one_training_trajectory():
    assert set(inspect.signature(fit).parameters) == {"model", "train", "n_items", "cfg", "seed", "select", "extra_loss"}
    train, own_half = planted()
    other_half = (own_half + HALF) % N_ITEMS  # a validation set the training data argues against
    runs = [train_mf(train, select=mean_score_lift(valid)) for valid in (own_half, other_half)]
    assert runs[0].best_epoch != runs[1].best_epoch  # the two selections did diverge

    shared = min(len(run.epoch_losses) for run in runs)
    assert runs[0].epoch_losses[:shared] == runs[1].epoch_losses[:shared]
    for run in runs:
        unselected = train_mf(train, cfg=CFG.model_copy(update={"epochs": run.best_epoch}))
        assert unselected.epoch_losses == run.epoch_losses[: run.best_epoch]
        assert np.array_equal(all_scores(run), all_scores(unselected))
        assert max(score for _, score in run.selection) == dict(run.selection)[run.best_epoch]


def test_bpr_learns_planted_groups():
    train, _ = planted()
    top5 = np.argsort(-all_scores(train_mf(train)), axis=1)[:, :5]
    own_half = (top5 // HALF) == group_of_users()[:, None]
    assert own_half.mean() > 0.9


def llm_pairs(seed: int = 0) -> PairwiseSupervision:
    """Per user, four pairs preferring an item of the user's half to one of the other half."""
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(N_USERS), 4)
    group = group_of_users()[users]
    item_i = rng.integers(0, HALF, len(users)) + group * HALF
    item_j = rng.integers(0, HALF, len(users)) + (1 - group) * HALF
    n = len(users)
    return PairwiseSupervision(
        users=users,
        item_i=item_i,
        item_j=item_j,
        s_i=np.full(n, 0.9),
        s_j=np.full(n, 0.1),
        is_cold=rng.random(n) < 0.3,
        tail_i=rng.random(n) < 0.2,
        tail_j=rng.random(n) < 0.2,
        hist_len=np.full(n, 6),
        pop_i=np.full(n, 6),
        pop_j=np.full(n, 6),
    )


def mean_alpha(regularizer, result) -> float:
    with torch.no_grad():
        alpha, _ = regularizer.alpha_and_gap(result.recommender.model, torch.arange(regularizer.n_pairs))
    return float(alpha.mean())


def test_slmr_gate_does_not_collapse_and_the_hinge_moves_the_model():
    train, _ = planted(per_user=3)
    pairs, floor = llm_pairs(), 0.05

    torch.manual_seed(0)
    guarded = slmr_regularizer(pairs, lam=0.5, alpha_floor=floor)
    with_hinge = train_mf(train, extra_loss=guarded)
    assert mean_alpha(guarded, with_hinge) >= floor + 0.2

    # The hinge alone drives the gate down; the floor and the balance penalty are what stop it.
    torch.manual_seed(0)
    unguarded = slmr_regularizer(pairs, lam=0.5, alpha_floor=0.0, balance=0.0)
    assert mean_alpha(unguarded, train_mf(train, extra_loss=unguarded)) < mean_alpha(guarded, with_hinge) - 0.1

    torch.manual_seed(0)
    without_hinge = train_mf(train, extra_loss=slmr_regularizer(pairs, lam=0.0, alpha_floor=floor))
    assert np.array_equal(all_scores(without_hinge), all_scores(train_mf(train)))  # pair sampling leaves BPR alone
    assert not np.allclose(all_scores(with_hinge), all_scores(without_hinge), atol=1e-3)


def factor_model(mask_share: float, factor_seed: int = 0, n_factors: int = 3, text_dim: int = 5) -> FactorAttentionMF:
    rng = np.random.default_rng(factor_seed)
    masks = np.random.default_rng(1)  # the same masks whatever the embeddings
    torch.manual_seed(0)
    return FactorAttentionMF(
        N_USERS,
        N_ITEMS,
        CFG.dim,
        user_factors=rng.normal(size=(N_USERS, n_factors, text_dim)).astype(np.float32),
        user_mask=masks.random((N_USERS, n_factors)) < mask_share,
        item_factors=rng.normal(size=(N_ITEMS, n_factors, text_dim)).astype(np.float32),
        item_mask=masks.random((N_ITEMS, n_factors)) < mask_share,
    )


def test_factor_attention_without_profiles_is_plain_mf_and_with_profiles_reads_them():
    train, _ = planted()
    mf = train_mf(train, cfg=CFG.model_copy(update={"epochs": 3})).recommender.model
    no_profiles = factor_model(mask_share=0.0)
    missing, unexpected = no_profiles.load_state_dict(mf.state_dict(), strict=False)
    assert not unexpected and set(missing) == {"user_projection.weight", "item_projection.weight", "factor_query", "factor_bias"}
    users = torch.arange(N_USERS)
    with torch.no_grad():
        assert torch.equal(no_profiles.score_all(users), mf.score_all(users))

        profiles, other_embeddings = factor_model(0.6), factor_model(0.6, factor_seed=1)
        for model in (profiles, other_embeddings):
            model.load_state_dict(mf.state_dict(), strict=False)
        shared = (profiles.user_mask.float() @ profiles.item_mask.float().T) > 0
        assert 0 < shared.float().mean() < 1
        a, b = profiles.score_all(users), other_embeddings.score_all(users)
        assert torch.equal(a[~shared], b[~shared]) and torch.equal(a[~shared], mf.score_all(users)[~shared])
        assert (a[shared] - b[shared]).abs().min() > 0
        pair_users, pair_items = torch.meshgrid(users, torch.arange(N_ITEMS), indexing="ij")
        assert torch.allclose(profiles(pair_users.flatten(), pair_items.flatten()).view(N_USERS, N_ITEMS), a, atol=1e-6)

    trained = fit(profiles, train, N_ITEMS, CFG.model_copy(update={"epochs": 4}), 0, None)
    assert all(np.isfinite(trained.epoch_losses))
    assert np.isfinite(trained.recommender.scores(np.arange(N_USERS))).all()


def test_knowledge_gives_a_cold_item_the_vector_of_the_trained_item_it_resembles():
    train, _ = planted(per_user=6)
    n_items = N_ITEMS + 4  # items 20-23 never appear in training
    rng = np.random.default_rng(0)
    knowledge = np.zeros((n_items, 4), np.float32)
    knowledge[:N_ITEMS, 0] = np.arange(N_ITEMS) < HALF  # the knowledge says which half an item is in
    knowledge[:N_ITEMS, 1] = np.arange(N_ITEMS) >= HALF
    knowledge[:N_ITEMS] += rng.normal(scale=0.1, size=(N_ITEMS, 4))
    twin, cold_twin, cold_without = 3, N_ITEMS, np.arange(N_ITEMS + 1, n_items)
    knowledge[cold_twin] = knowledge[twin]
    has_knowledge = np.arange(n_items) <= cold_twin

    torch.manual_seed(0)
    model = KnowledgeMF(N_USERS, n_items, CFG.dim, knowledge, has_knowledge)
    scores = fit(model, train, n_items, CFG, 0, None).recommender.scores(np.arange(N_USERS))
    fans = np.unique(train.users[train.items == twin])
    assert len(fans) >= 3
    # On average over the fans, above the best-scored of the cold items without knowledge.
    assert scores[fans, cold_twin].mean() > scores[fans][:, cold_without].max(axis=1).mean()


def test_beyond_log_items_are_extra_weighted_positives_not_duplicates():
    train = Interactions(np.array([0, 0, 1]), np.array([1, 2, 1]))
    fused = with_beyond_log(train, np.array([0, 1, 1]), np.array([2, 3, 0]), weight=0.5)
    assert list(zip(fused.users, fused.items, fused.weights)) == [(0, 1, 1.0), (0, 2, 1.0), (1, 1, 1.0), (1, 3, 0.5), (1, 0, 0.5)]


def test_item_to_item_retrieval_sums_the_neighbours_of_the_last_n_items():
    neighbors = {(0, 1): 1.0, (0, 2): 0.5, (1, 0): 1.0, (1, 3): 2.0, (2, 3): 1.5, (3, 0): 0.25}
    (rows, cols), values = zip(*neighbors), list(neighbors.values())
    # user 0 in time order: 3, 0, 2, 1 (rows given out of order); user 1: 3; user 2: nothing.
    users, items, ts = np.array([0, 0, 1, 0, 0, 3]), np.array([0, 1, 3, 2, 3, 2]), np.array([1, 5, 2, 3, 0, 7])
    retrieval = ItemToItemRetrieval.from_pairs(np.array(rows), np.array(cols), np.array(values), 4, users, items, ts, last_n=2)
    expected = np.array(
        [
            [1.0, 0.0, 0.0, 3.5],  # neighbours of items 1 and 2 only
            [0.25, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 1.5],
            [0.0, 0.0, 0.0, 0.0],  # past the last user with history
        ],
        dtype=np.float32,
    )
    scores = retrieval.scores(np.arange(5))
    assert scores.dtype == np.float32
    np.testing.assert_array_equal(scores, expected)
    longer = ItemToItemRetrieval.from_pairs(np.array(rows), np.array(cols), np.array(values), 4, users, items, ts, last_n=4)
    np.testing.assert_array_equal(longer.scores(np.array([0])), [[1.25, 1.0, 0.5, 3.5]])


def test_train_config_rejects_invalid_values():
    with pytest.raises(ValueError):
        TrainConfig(patience=0)
    with pytest.raises(ValueError):
        TrainConfig(lr=-1.0)
