"""Tasks with known I(X;Y) for the MI zoo: any-M mixtures, transforms, Student-t, label-noise images."""

import math

import numpy as np
import pytest
import torch

from infocam.data.gmm import (GaussianMixture, GaussianMixtureDataModule, StudentTMixture, TransformedMixture,
                              diagonal_means)
from infocam.data.label_noise import (LabelNoiseBarsDataModule, decode_bar_class, flip_labels,
                                      label_noise_mutual_information, noisy_prior)
from infocam.data.mi_transforms import TRANSFORMS, InvertibleMap
from infocam.errors import ConfigError
from infocam.metrics.monte_carlo import monte_carlo_mutual_information


def test_any_number_of_classes_prior_and_sample_size():
    assert diagonal_means(5) == (0.0, 2.0, -2.0, 4.0, -4.0)  # Table 1's layout
    assert diagonal_means(7)[5:] == (6.0, -6.0)
    dm = GaussianMixtureDataModule(dim=3, num_classes=7, prior=[1, 1, 1, 1, 1, 1, 4], n=2_000, seed=1,
                                   mc_samples=100_000)
    dm.setup()
    assert sum(len(s) for s in dm.splits.values()) == pytest.approx(2_000, abs=7)
    counts = dm.train_class_counts
    assert counts[6].item() == pytest.approx(4 * counts[0].item(), rel=0.1)
    truth, se = dm.true_mutual_information()
    assert 0 < truth < math.log(7) and se < 0.01


@pytest.mark.parametrize("name", TRANSFORMS)
def test_transforms_are_invertible_with_the_right_jacobian(name):
    out_dim = 5 if name == "pad_rotate" else 3
    transform = InvertibleMap(name, 3, out_dim, seed=2)
    x = torch.randn(50, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    z = transform.forward(x, torch.Generator().manual_seed(4))
    assert z.shape == (50, out_dim)
    back, log_det = transform.inverse(z)
    assert torch.allclose(back, x, atol=1e-9)
    if name != "pad_rotate":  # change of variables: log |det d x / d z| against autograd
        for i in range(3):
            jac = torch.autograd.functional.jacobian(lambda v: transform.inverse(v[None])[0][0], z[i])
            assert log_det[i].item() == pytest.approx(torch.linalg.slogdet(jac)[1].item(), abs=1e-8)


@pytest.mark.parametrize("name", TRANSFORMS)
def test_transformed_tasks_keep_the_base_truth(name):
    """MC truth of the transformed task, from its own samples and densities (fresh draws), equals
    the base task's within the standard errors."""
    base = GaussianMixture(diagonal_means(5), (1, 2, 3, 4, 5), dim=2)
    task = TransformedMixture(base, InvertibleMap(name, 2, 6 if name == "pad_rotate" else 2, seed=5))
    transformed, se_t = monte_carlo_mutual_information(task.sample, task.log_likelihoods, task.prior.log(), 60_000, seed=11)
    truth, se = base.mutual_information(60_000, seed=12)
    assert abs(transformed - truth) < 4 * math.hypot(se, se_t)
    assert task.mutual_information(1_000, seed=0) == base.mutual_information(1_000, seed=0)


def test_rotated_and_padded_densities_are_the_gaussians_they_should_be():
    """Rotation and noise padding map N(mu 1, I) to N(R [mu 1; 0], I): closed form against
    change of variables."""
    base = GaussianMixture(diagonal_means(3), (1, 1, 1), dim=2)
    transform = InvertibleMap("pad_rotate", 2, 4, seed=6)
    task = TransformedMixture(base, transform)
    z, _ = task.sample(100, torch.Generator().manual_seed(7))
    means = torch.cat([base.means[:, None].expand(3, 2), torch.zeros(3, 2, dtype=torch.float64)], 1) @ transform.rotation.T
    closed = torch.distributions.MultivariateNormal(means, torch.eye(4, dtype=torch.float64)).log_prob(z[:, None, :])
    assert torch.allclose(task.log_likelihoods(z), closed, atol=1e-9)


def test_student_t_density_and_tails():
    from scipy.stats import multivariate_t

    mixture = StudentTMixture(diagonal_means(3), (1, 1, 1), dim=3, df=4)
    x = torch.randn(20, 3, generator=torch.Generator().manual_seed(8), dtype=torch.float64) * 3
    expected = multivariate_t(loc=[2.0] * 3, shape=np.eye(3), df=4).logpdf(x.numpy())
    assert np.allclose(mixture.log_likelihoods(x)[:, 1].numpy(), expected)
    draws = mixture.sample_class(0, 200_000, torch.Generator().manual_seed(9))
    assert draws.var().item() == pytest.approx(4 / (4 - 2), rel=0.05)  # t_4 variance df/(df-2)
    truth, se = mixture.mutual_information(100_000, seed=10)
    gaussian, _ = GaussianMixture(diagonal_means(3), (1, 1, 1), dim=3).mutual_information(100_000, seed=10)
    assert se < 0.01 and 0 < truth < gaussian  # heavier tails overlap more


def test_label_noise_truth_is_exact_for_any_prior():
    """I(X;Y_noisy) = I(Y;Y_noisy) (X determines Y): sum over the joint table, against the formula."""
    for prior, eps in (([0.25] * 4, 0.1), ([0.1, 0.2, 0.3, 0.4], 0.3), ([0.7, 0.3], 0.05), ([0.2, 0.5, 0.3], 0.0)):
        p = torch.tensor(prior, dtype=torch.float64)
        m = len(p)
        channel = torch.full((m, m), eps / (m - 1) if m > 1 else 0.0, dtype=torch.float64)
        channel.fill_diagonal_(1 - eps)
        joint = p[:, None] * channel
        q = joint.sum(0)
        assert torch.allclose(q, noisy_prior(p, eps))
        nonzero = joint > 0
        exact = (joint[nonzero] * (joint / (p[:, None] * q[None, :]))[nonzero].log()).sum().item()
        assert label_noise_mutual_information(prior, eps) == pytest.approx(exact, abs=1e-12)
    assert label_noise_mutual_information([0.25] * 4, 0.1) == pytest.approx(0.9513501588616313, abs=1e-12)


def test_bar_images_determine_their_class_and_labels_flip_at_eps():
    dm = LabelNoiseBarsDataModule(num_classes=4, eps=0.2, image_size=12, n=400, prior=[1, 2, 3, 4])
    images, clean, noisy = dm.draw(800, torch.Generator().manual_seed(11))
    assert images.shape == (800, 1, 12, 12)
    assert [decode_bar_class(image) for image in images] == clean.tolist()  # no image is ambiguous
    assert (noisy != clean).float().mean().item() == pytest.approx(0.2, abs=0.045)
    flipped = flip_labels(torch.zeros(30_000, dtype=torch.long), 4, 0.3, torch.Generator().manual_seed(12))
    assert torch.bincount(flipped, minlength=4)[1:].float().div(30_000).tolist() == pytest.approx([0.1] * 3, abs=0.01)
    dm.setup()
    assert {k: len(v) for k, v in dm.splits.items()} == {"test": 80, "val": 80, "train": 240}
    assert dm.true_mutual_information() == (label_noise_mutual_information([0.1, 0.2, 0.3, 0.4], 0.2), 0.0)


@pytest.mark.parametrize("factory, kwargs, match", [
    (GaussianMixtureDataModule, {"num_classes": 1}, "num_classes"),
    (GaussianMixtureDataModule, {"prior": [1, 2]}, "prior"),
    (GaussianMixtureDataModule, {"n": 5}, "data.n"),
    (GaussianMixtureDataModule, {"family": "cauchy"}, "family"),
    (GaussianMixtureDataModule, {"transform": "sine"}, "transform"),
    (GaussianMixtureDataModule, {"dim": 1, "transform": "coupling"}, "coupling"),
    (GaussianMixtureDataModule, {"dim": 4, "signal_dim": 2, "transform": "rotation"}, "signal_dim"),
    (GaussianMixtureDataModule, {"dim": 4, "signal_dim": 2}, "signal_dim"),
    (GaussianMixtureDataModule, {"family": "student_t", "df": 2.5}, "df"),
    (LabelNoiseBarsDataModule, {"num_classes": 5}, "num_classes"),
    (LabelNoiseBarsDataModule, {"eps": 1.0}, "eps"),
    (LabelNoiseBarsDataModule, {"image_size": 16, "dim": 100}, "image_size"),
])
def test_bad_task_settings_are_config_errors(factory, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        factory(**kwargs)
