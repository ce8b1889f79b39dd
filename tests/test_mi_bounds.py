"""The variational MI bounds of the zoo in closed-form cases (issue 19)."""

import math

import pytest
import torch

from infocam.data.gmm import GaussianMixture, diagonal_means
from infocam.errors import ConfigError
from infocam.metrics import VariationalMIBound
from infocam.metrics.mutual_information import infonce_batch_terms
from infocam.registry import LOSSES
from infocam.mi_estimators import MI_ESTIMATORS

KINDS = ("conditional", "donsker_varadhan", "nwj", "smile", "infonce_batch")


def _read(kind, logits, target, log_prior, **options):
    metric = VariationalMIBound(kind, **options)
    for start in range(0, len(target), 1000):  # several updates, as over loader batches
        metric.update(logits[start:start + 1000], target[start:start + 1000], log_prior)
    out = metric.compute()
    return out["estimate"].item(), out["se"].item()


@pytest.fixture(scope="module")
def mixture_draw():
    mixture = GaussianMixture(diagonal_means(5), (1, 2, 3, 4, 5), dim=2)
    x, y = mixture.sample(100_000, torch.Generator().manual_seed(0))
    log_lik = mixture.log_likelihoods(x)
    log_prior = mixture.prior.log()
    pmi = log_lik - torch.logsumexp(log_lik + log_prior, dim=1, keepdim=True)  # the true log density ratio
    truth, truth_se = mixture.mutual_information(200_000, seed=1)
    return pmi, y, log_prior, truth, truth_se


@pytest.mark.parametrize("kind", KINDS)
def test_independent_x_and_y_give_about_zero(kind):
    """Y independent of X: the optimal critic (0) reads exactly 0, and any other critic reads at
    most 0 up to noise (every bound is a lower bound on I = 0)."""
    gen = torch.Generator().manual_seed(1)
    n, m = 20_000, 4
    log_prior = torch.full((m,), -math.log(m), dtype=torch.float64)
    target = torch.randint(0, m, (n,), generator=gen)
    assert _read(kind, torch.zeros(n, m), target, log_prior, negatives=64)[0] == pytest.approx(0.0, abs=1e-12)
    x = torch.randn(n, 3, generator=gen)
    critic = 0.3 * x @ torch.randn(3, m, generator=gen)  # depends on x only: carries no information
    estimate, se = _read(kind, critic, target, log_prior, negatives=64)
    assert estimate < 4 * se + 1e-3


@pytest.mark.parametrize("kind", KINDS[:-1])
def test_true_log_density_ratio_as_critic_gives_the_truth(kind, mixture_draw):
    pmi, y, log_prior, truth, truth_se = mixture_draw
    estimate, se = _read(kind, pmi, y, log_prior)
    assert se > 0
    assert abs(estimate - truth) < 4 * math.hypot(se, truth_se) + 1e-3


def test_infonce_batch_never_exceeds_log_k():
    """Ten well-separated classes: I is near log 10, but blocks of K = 4 cap InfoNCE at log 4."""
    mixture = GaussianMixture(diagonal_means(10, spacing=4.0), [1] * 10, dim=5)
    x, y = mixture.sample(4_000, torch.Generator().manual_seed(2))
    log_lik = mixture.log_likelihoods(x)
    pmi = log_lik - torch.logsumexp(log_lik + mixture.prior.log(), dim=1, keepdim=True)
    truth, _ = mixture.mutual_information(50_000, seed=3)
    assert truth > math.log(8)
    for k in (4, 16, 256):
        terms = infonce_batch_terms(pmi, y, k)
        assert terms.max().item() <= math.log(k) + 1e-9
        assert terms.mean().item() <= min(truth, math.log(k)) + 0.02
    # an arbitrary (huge) critic is capped as well
    wild = 50 * torch.randn(1_000, 10, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    assert _read("infonce_batch", wild, y[:1_000], mixture.prior.log(), negatives=8)[0] <= math.log(8) + 1e-9


def test_label_set_infonce_weighted_by_priors_is_the_pc_softmax_estimate():
    """InfoNCE whose negatives are all N training labels (the label set weighted by the empirical
    P(y')) equals the PC-softmax estimate -L_PC exactly, for any logits."""
    gen = torch.Generator().manual_seed(5)
    n, m = 600, 5
    target = torch.multinomial(torch.tensor([0.05, 0.1, 0.2, 0.25, 0.4]), n, replacement=True, generator=gen)
    logits = 3 * torch.randn(n, m, generator=gen, dtype=torch.float64)
    pc = LOSSES.create("pc_softmax", num_classes=m)
    pc.set_class_counts(torch.bincount(target, minlength=m))
    infonce_label_set = infonce_batch_terms(logits, target, negatives=n).mean()
    assert infonce_label_set.item() == pytest.approx(-pc(logits, target).item(), abs=1e-6)  # float32 priors
    pc_estimate, _ = _read("conditional", logits, target, pc.mi_log_weights())
    assert infonce_label_set.item() == pytest.approx(pc_estimate, abs=1e-6)


def test_delta_method_se_of_dv_matches_the_spread_over_draws():
    mixture = GaussianMixture(diagonal_means(5), [1] * 5, dim=1)
    estimates, ses = [], []
    for seed in range(40):
        x, y = mixture.sample(1_000, torch.Generator().manual_seed(100 + seed))
        log_lik = mixture.log_likelihoods(x)
        critic = 0.8 * (log_lik - torch.logsumexp(log_lik + mixture.prior.log(), dim=1, keepdim=True))
        estimate, se = _read("donsker_varadhan", critic, y, mixture.prior.log())
        estimates.append(estimate), ses.append(se)
    spread = torch.tensor(estimates).std().item()
    assert 0.7 < sum(ses) / len(ses) / spread < 1.4


@pytest.mark.slow
@pytest.mark.parametrize("name, kwargs", [("nwj", {}), ("infonce_batch", {"negatives": 32}), ("js", {}),
                                          ("smile", {"tau": 5.0})])
def test_each_bound_trains_a_critic_toward_the_truth(name, kwargs):
    """A linear-in-features critic trained a few hundred steps on the 1-d mixture gets close."""
    torch.manual_seed(0)
    mixture = GaussianMixture(diagonal_means(5), [1] * 5, dim=1)
    x, y = mixture.sample(4_000, torch.Generator().manual_seed(6))
    x = x.float()
    truth, _ = mixture.mutual_information(100_000, seed=7)
    loss = LOSSES.create(name, num_classes=5, **kwargs)
    loss.set_class_counts(torch.bincount(y, minlength=5))
    net = torch.nn.Sequential(torch.nn.Linear(1, 32), torch.nn.Tanh(), torch.nn.Linear(32, 5))
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    for step in range(250):
        idx = torch.randint(0, len(y), (256,))
        optimizer.zero_grad()
        loss(net(x[idx]), y[idx]).backward()
        optimizer.step()
    with torch.no_grad():
        estimate, _ = _read(loss.mi_bound, net(x), y, loss.mi_log_weights(), **loss.mi_bound_options())
    assert truth - 0.12 < estimate < truth + 0.05


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError, match="tau"):
        LOSSES.create("smile", num_classes=3, tau=0)
    with pytest.raises(ConfigError, match="negatives"):
        LOSSES.create("infonce_batch", num_classes=3, negatives=1)
    with pytest.raises(ConfigError, match="unknown MI bound"):
        VariationalMIBound("tuba")
    # knn is no loss (issue 26): it lives with the estimators that train nothing, and has no forward
    assert "knn" not in LOSSES and "knn" in MI_ESTIMATORS
    assert not hasattr(MI_ESTIMATORS.create("knn", num_classes=3), "forward")
