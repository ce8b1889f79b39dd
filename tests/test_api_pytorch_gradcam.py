"""cam=pytorch_grad_cam: the grad-cam package's methods through our registry give the package's
own maps; unknown methods and a missing package are one line each."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
import torchvision.models as tvm
from omegaconf import OmegaConf
from torchvision.models.resnet import BasicBlock

import infocam.cams  # noqa: F401  (registers the methods)
from infocam.errors import ConfigError
from infocam.models.gap_cnn import GapCNN
from infocam.registry import CAMS

import pytorch_grad_cam  # the [dev] extra installs it (grad-cam)
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

CONF = Path(__file__).resolve().parents[1] / "conf" / "cam" / "pytorch_grad_cam.yaml"


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return tvm.ResNet(BasicBlock, [1, 1, 1, 1], num_classes=5).eval()


def package_maps(method: str, model, layer, images, targets):
    with getattr(pytorch_grad_cam, method)(model=model, target_layers=[layer]) as cam:
        return torch.from_numpy(cam(input_tensor=images, targets=[ClassifierOutputTarget(int(t)) for t in targets]))


@pytest.mark.parametrize("method", ["GradCAM", "GradCAMPlusPlus", "XGradCAM", "LayerCAM", "EigenCAM", "HiResCAM"])
def test_maps_equal_the_package_called_directly(resnet, method):
    images = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    labels = torch.tensor([0, 4, 2])
    ours = CAMS.create("pytorch_grad_cam", method=method)
    result = ours.compute(resnet, images, [labels, None])
    with torch.no_grad():
        logits = resnet(images)
    torch.testing.assert_close(result.logits, logits)
    torch.testing.assert_close(result.maps[0], package_maps(method, resnet, resnet.layer4, images, labels))
    torch.testing.assert_close(result.maps[1], package_maps(method, resnet, resnet.layer4, images, logits.argmax(1)))


def test_config_file_and_default_layer_on_a_registered_backbone():
    cfg = OmegaConf.to_container(OmegaConf.load(CONF))
    method = CAMS.create(cfg.pop("name"), **{**cfg, "method": "GradCAMPlusPlus"})
    torch.manual_seed(0)
    model = GapCNN(num_classes=4, channels=(8, 16)).eval()
    images = torch.randn(2, 3, 24, 24)
    assert method.layer(model, images) is model.features  # the map the GAP head pools
    target = torch.tensor([1, 3])
    torch.testing.assert_close(method(model, images, target), package_maps("GradCAMPlusPlus", model, model.features, images, target))
    named = CAMS.create("pytorch_grad_cam", method="GradCAM", target_layer="features")
    assert named.describe()["target_layer"] == "features"
    # under Lightning's test loop (inference mode) the package still gets its gradients
    with torch.inference_mode():
        maps = named(model, images, target)
    assert maps.shape == (2, 24, 24)


def test_unknown_method_bad_layer_and_missing_package(monkeypatch, resnet):
    with pytest.raises(ConfigError, match="cam.method='Gradcam' is not a pytorch-grad-cam method; it exports .*GradCAMPlusPlus"):
        CAMS.create("pytorch_grad_cam", method="Gradcam")
    with pytest.raises(ConfigError, match="cam.target_layer='layer9' is not a submodule of ResNet"):
        CAMS.create("pytorch_grad_cam", target_layer="layer9").check_model(resnet)
    from infocam.cams import pytorch_gradcam

    pytorch_gradcam.available_methods.cache_clear()
    monkeypatch.setitem(sys.modules, "pytorch_grad_cam", None)  # import fails as when not installed
    try:
        with pytest.raises(ConfigError, match=r'needs the grad-cam package: pip install "infocam\[cams\]"'):
            CAMS.create("pytorch_grad_cam")
    finally:
        pytorch_gradcam.available_methods.cache_clear()


@pytest.mark.slow
def test_infocam_eval_scores_a_package_method_on_a_wsol_checkpoint(tmp_path):
    import json

    from conftest import run_cli_in_process

    data = ["data=synthetic_loc", "data.num_train=64", "data.num_val=16", "data.num_test=24", "data.eval_batch_size=12"]
    quiet = ["trainer.enable_progress_bar=false", "logger=none"]
    run_cli_in_process("train", ["experiment=wsol_synthetic", *data, "model.channels=[8,16]", "trainer.max_epochs=1",
                                 "callbacks=quiet", *quiet, f"hydra.run.dir={tmp_path / 'train'}"], cwd=tmp_path, check=True)
    ckpt = tmp_path / "train" / "checkpoints" / "last.ckpt"
    run_cli_in_process("eval", [f"ckpt_path={ckpt}", *data, "cam=pytorch_grad_cam", "cam.method=GradCAMPlusPlus",
                                "localization.curve_thresholds=20", *quiet, f"hydra.run.dir={tmp_path / 'eval'}"],
                       cwd=tmp_path, check=True)
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    for key in ("test/gt_known_loc", "test/maxboxacc_v2"):
        assert 0.0 <= metrics[key] <= 1.0
    assert "test/pxap" in metrics  # synthetic_loc carries masks
    assert metrics["test/num_images"] == 24


# -- issue 28: the adapter's errors come at start, in one line; ScoreCAM is quiet ------------

def test_unknown_method_kwargs_fail_when_the_method_is_built():
    with pytest.raises(ConfigError, match=r"^cam.method_kwargs: GradCAM does not take bogus; it takes: reshape_transform$"):
        CAMS.create("pytorch_grad_cam", method_kwargs={"bogus": 1})
    with pytest.raises(ConfigError, match=r"^cam.method_kwargs must be a mapping"):
        CAMS.create("pytorch_grad_cam", method_kwargs=[1])


def test_a_target_layer_without_a_feature_map_is_one_line(resnet):
    method = CAMS.create("pytorch_grad_cam", target_layer="fc")
    method.check_model(resnet)  # the layer exists; what it gives needs a forward pass
    with pytest.raises(ConfigError, match=r"^cam.target_layer=fc gives \[2, 5\], not a \[B, K, h, w\] feature map") as err:
        method(resnet, torch.randn(2, 3, 32, 32))
    assert "\n" not in str(err.value)


def test_scorecam_prints_no_progress_bars_and_takes_its_batch_size(capfd):
    torch.manual_seed(0)
    model = GapCNN(num_classes=3, channels=(4, 8)).eval()
    images = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    target = torch.tensor([0, 2])
    capfd.readouterr()
    maps = CAMS.create("pytorch_grad_cam", method="ScoreCAM", method_kwargs={"batch_size": 3})(model, images, target)
    out, err = capfd.readouterr()
    assert "it/s" not in err + out and "|" not in err + out  # tqdm printed one bar per image
    torch.testing.assert_close(maps, package_maps("ScoreCAM", model, model.features, images, target))
    import tqdm

    assert all(getattr(m, "tqdm", tqdm) is tqdm for n, m in sys.modules.items() if n.startswith("pytorch_grad_cam."))
