"""CAM methods: the registry, Eq. 12/14/15 on a real GAP+linear model, region sums, Grad-CAM."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import infocam.cams  # noqa: F401
from infocam.cams.base import region_sum
from infocam.errors import ConfigError
from infocam.localization import cams_to_boxes
from infocam.models.flat_cnn import PlainCNN
from infocam.models.gap_cnn import GapCNN
from infocam.registry import CAMS


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    net = GapCNN(num_classes=5, channels=(8, 16))
    net.eval()
    return net


@pytest.fixture(scope="module")
def images():
    return torch.randn(6, 3, 24, 24, generator=torch.Generator().manual_seed(3))


def features_weight_logits(model, images):
    with torch.no_grad():
        features = model.forward_features(images)
        return features, model.fc.weight, model.forward_head(features)


def test_registry_lists_all_methods_and_rejects_unknown_names():
    assert {"cam", "infocam", "infocam_plus", "gradcam"} <= set(CAMS.available())
    with pytest.raises(ConfigError, match="unknown cam method 'infocm'.*Registered: .*infocam_plus.*Did you mean infocam"):
        CAMS.create("infocm")


def test_cam_is_eq12_and_sums_to_the_logit_without_bias(model, images):
    features, weight, logits = features_weight_logits(model, images)
    target = torch.tensor([0, 1, 2, 3, 4, 0])
    maps = CAMS.create("cam")(model, images, target)
    expected = torch.stack([(weight[t][:, None, None] * f).sum(0) for f, t in zip(features, target)])
    torch.testing.assert_close(maps, expected)
    h, w = features.shape[-2:]
    # Eq. 13: the map's mean is the logit minus the bias (GAP = mean over locations)
    torch.testing.assert_close(maps.mean((1, 2)), logits.gather(1, target[:, None])[:, 0] - model.fc.bias[target])
    assert maps.shape == (6, h, w)


def test_infocam_without_subtraction_and_region_one_equals_cam(model, images):
    target = torch.tensor([4, 3, 2, 1, 0, 1])
    cam = CAMS.create("cam")(model, images, target)
    info = CAMS.create("infocam", region_size=1, subtract=False)(model, images, target)
    assert torch.equal(cam, info)
    # and the subtraction changes it: target map minus the mean of the other four
    info_sub = CAMS.create("infocam", region_size=1)(model, images, target)
    all_maps = torch.stack([CAMS.create("cam")(model, images, torch.full((6,), c)) for c in range(5)], 1)
    others = (all_maps.sum(1) - cam) / 4
    torch.testing.assert_close(info_sub, cam - others)


def test_infocam_plus_subtracts_the_least_likely_class(model, images):
    _, _, logits = features_weight_logits(model, images)
    least = logits.argmin(1)
    target = logits.argmax(1)
    cam = CAMS.create("cam")
    expected = cam(model, images, target) - cam(model, images, least)
    plus = CAMS.create("infocam_plus", region_size=1)(model, images, target)
    torch.testing.assert_close(plus, expected)
    assert not torch.equal(least, target)


def test_default_target_is_the_predicted_class(model, images):
    _, _, logits = features_weight_logits(model, images)
    method = CAMS.create("infocam", region_size=3)
    assert torch.equal(method(model, images), method(model, images, logits.argmax(1)))


def test_region_sum_same_and_full_alignment():
    m = torch.zeros(1, 14, 14)
    m[0, 0, 0] = 1.0
    m[0, 7, 7] = 2.0
    same = region_sum(m, 3, "same")
    assert same.shape == (1, 14, 14)
    assert same[0, 6:9, 6:9].eq(2.0).all() and same[0, 0:2, 0:2].eq(1.0).all() and same.sum() == 2.0 * 9 + 1.0 * 4
    full = region_sum(m, 4, "full")
    assert full.shape == (1, 17, 17)  # 14 + 4 - 1: the authors' padding
    assert full.sum() == (2.0 + 1.0) * 16  # every window overlapping a cell counts it once
    assert full[0, 0:4, 0:4].eq(1.0).all()  # windows at the top-left all contain pixel (0, 0)
    even = region_sum(m, 4, "same")
    # the window at i covers i-1..i+2, so a source at 7 reaches locations 5..8
    assert even.shape == (1, 14, 14) and even[0, 5:9, 5:9].eq(2.0).all() and even.sum() == 2.0 * 16 + 1.0 * 4
    ones = torch.ones(2, 5, 5)
    assert region_sum(ones, 3)[0, 2, 2] == 9 and region_sum(ones, 3)[0, 0, 0] == 4


@pytest.mark.parametrize("region", [3, 5])
def test_full_alignment_stretched_over_the_image_moves_peaks_toward_the_centre(region):
    """The authors' geometry on a toy 14x14 map at 224 px: a peak at cell i, region-summed with
    ``full`` and stretched over the image, is centred at (i + (R-1)/2 + 1/2) * S / (h + R - 1),
    not at its true (i + 1/2) * S / h (where ``same`` keeps it): every box is pulled toward the
    image centre, and a peak at the centre stays put."""
    h, size = 14, 224
    for i in (0, 3, 6, 10, 13):
        m = torch.zeros(1, h, h)
        m[0, i, i] = 1.0
        centres = {}
        for alignment in ("same", "full"):
            box = cams_to_boxes(region_sum(m, region, alignment), 0.5, image_size=(size, size), backend="torch")[0]
            centres[alignment] = float(box[0] + box[2]) / 2
            assert float(box[0] + box[2]) == pytest.approx(float(box[1] + box[3]))  # symmetric toy
        true = (i + 0.5) * size / h
        assert centres["full"] == pytest.approx((i + (region - 1) / 2 + 0.5) * size / (h + region - 1), abs=0.5)
        if region // 2 <= i <= h - 1 - region // 2:  # else same's window is clipped by the border
            assert centres["same"] == pytest.approx(true, abs=0.5)
        assert abs(centres["full"] - size / 2) < abs(true - size / 2)  # toward the centre
        assert abs(centres["full"] - size / 2) == pytest.approx(abs(true - size / 2) * h / (h + region - 1), abs=0.5)


def test_full_alignment_through_the_registry(model, images):
    with torch.no_grad():
        h = model.forward_features(images).shape[-1]
    maps = CAMS.create("infocam", region_size=4, alignment="full")(model, images)
    assert maps.shape[-2:] == (h + 3, h + 3)


def test_bad_cam_arguments():
    with pytest.raises(ConfigError, match="region_size"):
        CAMS.create("infocam", region_size=0)
    with pytest.raises(ConfigError, match="alignment"):
        CAMS.create("cam", alignment="centre")
    with pytest.raises(ConfigError, match="subtract"):
        CAMS.create("infocam", subtract="yes")


def test_weight_cams_refuse_a_model_without_gap_linear_head(images):
    flat = PlainCNN(num_classes=3, channels=(4, 8), image_size=24)
    for name in ("cam", "infocam", "infocam_plus"):
        with pytest.raises(ConfigError, match="use cam=gradcam"):
            CAMS.create(name).check_model(flat)
    maps = CAMS.create("gradcam")(flat, images)
    assert maps.shape == (6, 12, 12) and (maps >= 0).all()
    with pytest.raises(ConfigError, match="forward_features"):
        CAMS.create("gradcam").check_model(nn.Linear(3, 3))


def test_gradcam_on_a_gap_model_is_relu_cam_over_locations(model, images):
    target = torch.tensor([0, 1, 2, 3, 4, 2])
    cam = CAMS.create("cam")(model, images, target)
    grad = CAMS.create("gradcam")(model, images, target)
    h, w = cam.shape[-2:]
    torch.testing.assert_close(grad, torch.relu(cam) / (h * w))


def test_gradcam_works_under_inference_mode(model, images):
    with torch.inference_mode():
        result = CAMS.create("gradcam").compute(model, images, [torch.zeros(6, dtype=torch.long), None])
    assert len(result.maps) == 2 and result.logits.shape == (6, 5)


def test_every_cam_config_has_its_classes_defaults():
    """conf/cam/NAME.yaml (as Hydra composes it, shared defaults included) and the registered
    class are the two places a default is written; they agree."""
    import inspect
    from pathlib import Path

    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    conf = Path(__file__).resolve().parents[1] / "conf"
    configs = sorted((conf / "cam").glob("*.yaml"))
    assert {p.stem for p in configs} == set(CAMS.available())
    for path in configs:
        with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
            cfg = OmegaConf.to_container(compose("train", overrides=[f"cam={path.stem}"]).cam)
        parameters = inspect.signature(CAMS.get(cfg.pop("name"))).parameters
        for key, value in cfg.items():
            default = parameters[key].default
            assert value == ({} if default is None and value == {} else default), (path.name, key)


@pytest.mark.parametrize("name", ["cam", "infocam", "infocam_plus"])
def test_weight_methods_record_no_autograd_graph_through_hooks(name):
    """A plain nn.Module (found by hooks, not timm's interface) with trainable weights: the
    weight-based methods need no backward, so their forward must keep no graph (it cost
    resnet50 3.5x a forward pass's memory)."""
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))
    result = CAMS.create(name, region_size=1).compute(net, torch.randn(2, 3, 12, 12), [None])
    assert result.logits.grad_fn is None and not result.logits.requires_grad
    assert result.features.grad_fn is None and result.maps[0].grad_fn is None
