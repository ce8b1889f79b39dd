import math

import pytest
import torch

from infocam.data.gmm import GaussianMixture
from infocam.metrics import VariationalMIBound


def test_conditional_bound_equals_log_m_minus_ce_with_uniform_weights():
    torch.manual_seed(0)
    logits, target = torch.randn(100, 5), torch.randint(0, 5, (100,))
    metric = VariationalMIBound("conditional")
    metric.update(logits[:37], target[:37], torch.full((5,), -math.log(5), dtype=torch.float64))
    metric.update(logits[37:], target[37:], torch.full((5,), -math.log(5), dtype=torch.float64))
    ce = torch.nn.functional.cross_entropy(logits.double(), target)
    assert metric.compute()["estimate"].item() == pytest.approx(math.log(5) - ce.item(), abs=1e-12)
    assert metric.compute()["count"].item() == 100


def test_bayes_optimal_logits_recover_the_true_mi():
    """Logits log p(x|y) are the optimal critic: the PC-softmax bound then equals the MC truth."""
    mixture = GaussianMixture((0.0, 2.0, -2.0, 4.0, -4.0), (6, 12, 18, 24, 30), dim=2)
    x, y = mixture.sample(200_000, torch.Generator().manual_seed(3))
    metric = VariationalMIBound("conditional")
    metric.update(mixture.log_likelihoods(x), y, mixture.prior.log())
    truth, se = mixture.mutual_information(400_000, seed=4)
    result = metric.compute()
    assert abs(result["estimate"].item() - truth) < 4 * math.hypot(se, result["se"].item())
    assert truth == pytest.approx(1.2405, abs=0.005)  # unbalanced, dim 2 (independently checked value)

    # DV allows no per-x shift: its optimal critic is the PMI itself, log p(x|y) - log p(x)
    log_lik = mixture.log_likelihoods(x)
    pmi = log_lik - torch.logsumexp(log_lik + mixture.prior.log(), dim=1, keepdim=True)
    dv = VariationalMIBound("donsker_varadhan")
    dv.update(pmi, y, mixture.prior.log())
    assert dv.compute()["estimate"].item() == pytest.approx(truth, abs=0.02)


@pytest.mark.parametrize(
    "balance, dim, expected",
    [("balanced", 1, 1.03), ("balanced", 10, 1.61), ("unbalanced", 5, 1.44), ("unbalanced", 10, 1.49)],
)
def test_monte_carlo_truth_matches_independent_values(balance, dim, expected):
    from infocam.data.gmm import GMM_COUNTS, GMM_MEANS

    truth, se = GaussianMixture(GMM_MEANS, GMM_COUNTS[balance], dim).mutual_information(300_000, seed=0)
    assert se < 0.003
    assert truth == pytest.approx(expected, abs=0.01)


def test_unknown_bound_kind():
    from infocam.errors import ConfigError

    with pytest.raises(ConfigError):
        VariationalMIBound("jensen_shannon")
