"""model.weights=imagenet: torchvision's file from its cache under TORCH_HOME (planted here: a
cached file is trusted by name, as torch.hub does), one line when offline with nothing cached."""

from __future__ import annotations

import pytest
import torch

from fixtures.archive_server import closed_port
from infocam.errors import ConfigError
from infocam.models import weights as weights_module
from infocam.registry import MODELS


def test_a_planted_cache_file_is_what_model_weights_imagenet_loads(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("INFOCAM_OFFLINE", "1")  # proves the cached file is read and nothing is fetched
    import infocam.models.wsol_backbones  # noqa: F401  (registers the backbones)

    url, cache = weights_module.imagenet_file("vgg16_gap")
    assert cache == tmp_path / "torch" / "hub" / "checkpoints" / "vgg16-397923af.pth" and url.endswith(cache.name)
    body = MODELS.get("vgg16_gap")(num_classes=3).features  # VGG16's convolutions, torchvision's key names
    generator = torch.Generator().manual_seed(3)
    planted = {f"features.{k}": torch.randn(v.shape, generator=generator) for k, v in body.state_dict().items()}
    planted["classifier.0.weight"] = torch.zeros(4, 2)  # torchvision's FC head: not part of VGG16-GAP, ignored
    cache.parent.mkdir(parents=True)
    torch.save(planted, cache)
    model = MODELS.get("vgg16_gap")(num_classes=3, weights="imagenet")
    assert torch.equal(model.features[0].weight, planted["features.0.weight"])
    assert torch.equal(model.features[28].bias, planted["features.28.bias"])


def test_offline_with_nothing_cached_is_one_line_naming_the_cache_and_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("INFOCAM_OFFLINE", "1")
    import infocam.models.wsol_backbones  # noqa: F401

    with pytest.raises(ConfigError) as err:
        MODELS.get("resnet50_wsol")(num_classes=3, weights="imagenet")
    message = str(err.value)
    assert "\n" not in message and "resnet50-0676ba61.pth" in message
    assert str(tmp_path / "torch" / "hub" / "checkpoints") in message and "offline" in message
    assert not (tmp_path / "torch" / "hub" / "checkpoints" / "resnet50-0676ba61.pth").exists()


def test_no_network_is_the_same_one_line(tmp_path, monkeypatch):
    """A refused connection (no internet) ends as the offline line, not a urllib traceback."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("INFOCAM_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    class Unreachable:  # torchvision's weights enum member, pointed at a closed loopback port
        url = f"http://127.0.0.1:{closed_port()}/vgg16-397923af.pth"

        def get_state_dict(self, **kwargs):
            return torch.hub.load_state_dict_from_url(self.url, **kwargs)

        def __str__(self) -> str:
            return "VGG16_Weights.IMAGENET1K_V1"

    monkeypatch.setattr(weights_module, "torchvision_weights", lambda name: Unreachable())
    with pytest.raises(ConfigError, match=r"vgg16-397923af.pth\) is not cached and cannot be downloaded \(.*refused.*\); "
                                          r"place vgg16-397923af.pth from http://127.0.0.1:\d+/vgg16-397923af.pth in "):
        weights_module.imagenet_state("vgg16_gap")


def test_timm_offline_with_nothing_cached_names_the_hub_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("INFOCAM_OFFLINE", "1")
    import infocam.models.timm_backbones  # noqa: F401

    with pytest.raises(ConfigError) as err:
        MODELS.get("timm")(arch="resnet18", num_classes=3, weights="imagenet")
    message = str(err.value)
    assert "\n" not in message and "timm/resnet18" in message and str(tmp_path / "hf") in message and "offline" in message
