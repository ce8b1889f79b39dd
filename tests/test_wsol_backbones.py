"""The paper's WSOL backbones (VGG16-GAP, ResNet50), ADL, local weight files, CAMs on any
GAP + linear head, the new-layer learning-rate groups and the four paper experiments."""

from __future__ import annotations

import json

import pytest
import timm
import torch
from fixtures.classification import make_cub
from conftest import QUIET
from torch import nn

import infocam.cams  # noqa: F401
from infocam.errors import ConfigError
from infocam.models.adl import ADL, adl_settings
from infocam.models.gap_cnn import GapCNN
from infocam.models.wsol_backbones import ResNet50WSOL, VGG16GAP
from infocam.registry import CAMS, MODELS
from infocam.tasks.wsol import WSOLModule

WEIGHT_CAMS = ("cam", "infocam", "infocam_plus")


@pytest.fixture(scope="module")
def vgg() -> VGG16GAP:
    torch.manual_seed(0)
    return MODELS.create("vgg16_gap", num_classes=5).eval()


@pytest.fixture(scope="module")
def resnet() -> ResNet50WSOL:
    torch.manual_seed(0)
    return MODELS.create("resnet50_wsol", num_classes=5).eval()


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))


# -- shapes --------------------------------------------------------------------------------
def test_vgg16_gap_layout_and_shapes(vgg, images):
    convs = [m for m in vgg.features if isinstance(m, nn.Conv2d)]
    pools = [m for m in vgg.features if isinstance(m, nn.MaxPool2d)]
    assert len(convs) == 13 and len(pools) == 4  # VGG16's convolutions, pool5 removed
    assert (vgg.conv6.in_channels, vgg.conv6.out_channels, vgg.conv6.kernel_size, vgg.conv6.padding) == (512, 1024, (3, 3), (1, 1))
    with torch.no_grad():
        features = vgg.forward_features(images)
        assert features.shape == (2, 1024, 4, 4)  # stride 16: 14x14 at 224 px
        assert (features >= 0).all()  # conv6 is followed by its ReLU
        assert vgg(images).shape == (2, 5)
        torch.testing.assert_close(vgg.forward_head(features, pre_logits=True), features.mean((2, 3)))
    assert vgg.get_classifier() is vgg.fc and vgg.fc.in_features == 1024
    assert vgg.new_layers() == [vgg.conv6, vgg.fc]


def test_resnet50_wsol_feature_maps_at_both_settings(resnet, images):
    """Default: only layer4 unstrided (the InfoCAM authors', stride 16); large_feature_map also
    unstrides layer3 (wsolevaluation's, stride 8). Real maps at 64 px; shapes at 224 px on the
    meta device (no arithmetic, so no CPU time)."""
    with torch.no_grad():
        assert resnet.forward_features(images).shape == (2, 2048, 4, 4)  # 64 / 16
        assert resnet(images).shape == (2, 5)
        with torch.device("meta"):
            big = torch.empty(1, 3, 224, 224)
            for large, side in ((False, 14), (True, 28)):
                model = MODELS.create("resnet50_wsol", num_classes=5, large_feature_map=large).eval()
                assert model.forward_features(big).shape == (1, 2048, side, side)
                small = model.forward_features(torch.empty(1, 3, 64, 64)).shape[-2:]
                assert small == ((8, 8) if large else (4, 4))
    assert resnet.layer3[0].conv2.stride == (2, 2) and resnet.layer4[0].conv2.stride == (1, 1)
    assert resnet.new_layers() == [resnet.fc] and resnet.get_classifier().in_features == 2048
    names = [n for n, _ in resnet.stages()]
    assert names[0] == "stem" and names[-1] == "layer4.2" and len(names) == 1 + 3 + 4 + 6 + 3


def test_resnet_recipes_default_to_the_authors_maps(make_cfg):
    for experiment in ("wsol_cub_resnet50", "wsol_tiny_resnet50"):
        assert make_cfg([f"experiment={experiment}"]).model.large_feature_map is False


# -- ADL -----------------------------------------------------------------------------------
def test_adl_is_identity_at_eval_and_drops_the_peak_in_training():
    x = torch.rand(3, 4, 6, 6, generator=torch.Generator().manual_seed(0))
    x[:, :, 2, 3] = 5.0  # the most activated position of every sample
    adl = ADL(drop_rate=1.0, gamma=0.8)
    assert adl.eval()(x) is x
    out = adl.train()(x)
    attention = x.mean(1, keepdim=True)
    dropped = attention >= 0.8 * attention.amax((2, 3), keepdim=True)
    assert dropped[:, 0, 2, 3].all()
    assert (out * dropped).abs().sum() == 0  # drop mask zeroes the peak
    torch.testing.assert_close(out, x * (~dropped))  # and keeps the rest unchanged
    importance = ADL(drop_rate=0.0, gamma=0.8).train()(x)
    torch.testing.assert_close(importance, x * torch.sigmoid(attention))


def test_adl_draws_the_drop_mask_at_drop_rate():
    torch.manual_seed(0)
    x = torch.rand(1, 2, 4, 4) + 1.0
    adl = ADL(drop_rate=0.75, gamma=0.9).train()
    drops = sum(bool((adl(x) == 0).any()) for _ in range(400))
    assert 250 < drops < 350  # binomial(400, 0.75): mean 300, sd 8.7


def test_adl_in_the_backbones_train_and_eval(resnet, images):
    torch.manual_seed(0)
    model = MODELS.create("resnet50_wsol", num_classes=5, adl={"enabled": True, "drop_rate": 1.0})
    model.load_state_dict(resnet.state_dict())  # ADL has no parameters: same keys
    assert sorted(model.adl) == ["layer3_0", "layer4_0", "layer4_2"] and model.adl["layer3_0"].gamma == 0.9
    with torch.no_grad():
        torch.testing.assert_close(model.eval().forward_features(images), resnet.forward_features(images))
        assert not torch.allclose(model.train().forward_features(images), resnet.train().forward_features(images))
    resnet.eval()
    vgg = MODELS.create("vgg16_gap", num_classes=5, adl={"enabled": True, "positions": ["pool3", "conv5_3", "conv6"]})
    assert sorted(vgg.adl) == ["conv5_3", "conv6", "pool3"] and vgg.adl["pool3"].gamma == 0.8


def test_adl_bad_settings_are_one_line():
    with pytest.raises(ConfigError, match=r"unknown position 'pool5'; valid: conv1_1, conv1_2, pool1, .*pool4, .*conv6$"):
        MODELS.create("vgg16_gap", num_classes=2, adl={"enabled": True, "positions": ["pool5"]})
    with pytest.raises(ConfigError, match=r"unknown position 'layer4\.3'; valid: stem, layer1\.0, .*layer4\.2$"):
        MODELS.create("resnet50_wsol", num_classes=2, adl={"enabled": True, "positions": ["layer4.3"]})
    with pytest.raises(ConfigError, match="unknown keys"):
        adl_settings({"enabled": True, "rate": 0.5}, 0.9, ["layer3.0"])
    with pytest.raises(ConfigError, match="drop_rate"):
        ADL(drop_rate=1.5)


# -- weights from a local file -------------------------------------------------------------
def torchvision_style_resnet_file(source: nn.Module, path, drop_counters: bool = False) -> None:
    """ImageNet-file layout: torchvision keys with a 1000-class fc (old files lack the BN counters)."""
    state = {k: v for k, v in source.state_dict().items() if not k.startswith("fc.")}
    if drop_counters:
        state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    state["fc.weight"], state["fc.bias"] = torch.zeros(1000, 2048), torch.zeros(1000)
    torch.save(state, path)


def test_weights_load_into_the_body_and_keep_the_new_head(tmp_path, resnet, images):
    path = tmp_path / "resnet50.pth"
    torchvision_style_resnet_file(resnet, path, drop_counters=True)
    torch.manual_seed(7)
    loaded = MODELS.create("resnet50_wsol", num_classes=5, weights=str(path)).eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded.forward_features(images), resnet.forward_features(images))
    assert not torch.equal(loaded.fc.weight, resnet.fc.weight)  # the new head is not from the file
    assert loaded.fc.weight.std().item() == pytest.approx(0.01, rel=0.05) and not loaded.fc.bias.any()


def test_vgg_weights_ignore_the_imagenet_fc_head(tmp_path, vgg, images):
    from safetensors.torch import save_file

    state = {k: v.contiguous() for k, v in vgg.state_dict().items() if k.startswith("features.")}
    state.update({"classifier.0.weight": torch.zeros(8, 8), "classifier.6.bias": torch.zeros(1000)})
    path = tmp_path / "vgg16.safetensors"
    save_file(state, str(path))
    torch.manual_seed(3)
    loaded = MODELS.create("vgg16_gap", num_classes=5, weights=str(path)).eval()
    for key, value in loaded.state_dict().items():
        if key.startswith("features."):
            assert torch.equal(value, state[key])
        elif key.endswith("weight"):  # conv6, fc: new layers keep their own initialisation
            assert not torch.equal(value, vgg.state_dict()[key])
    with torch.no_grad():
        loaded.conv6.load_state_dict(vgg.conv6.state_dict())
        loaded.fc.load_state_dict(vgg.fc.state_dict())
        torch.testing.assert_close(loaded(images), vgg(images))


def test_weight_file_mismatch_names_missing_and_unexpected_keys(tmp_path, resnet, vgg):
    state = {k: v for k, v in resnet.state_dict().items() if k != "layer2.1.conv2.weight"}
    state["layer5.0.conv1.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(ConfigError) as info:
        MODELS.create("resnet50_wsol", num_classes=5, weights=str(tmp_path / "bad.pth"))
    message = str(info.value)
    assert "\n" not in message and "does not match the architecture" in message
    assert "missing keys [layer2.1.conv2.weight]" in message and "unexpected keys [layer5.0.conv1.weight]" in message
    # a VGG file offered to the ResNet: every key differs, the line stays short
    torch.save({k: torch.zeros(1) for k in vgg.state_dict()}, tmp_path / "vgg.pth")
    with pytest.raises(ConfigError, match=r"missing keys \[bn1.bias, .*\(\+\d+ more\)\]; unexpected keys \[conv6.bias"):
        MODELS.create("resnet50_wsol", num_classes=5, weights=str(tmp_path / "vgg.pth"))
    with pytest.raises(ConfigError, match="does not exist"):
        MODELS.create("vgg16_gap", num_classes=5, weights=str(tmp_path / "none.pth"))


# -- CAMs through timm's interface ---------------------------------------------------------
@pytest.mark.parametrize("which", ["vgg", "resnet", "timm"])
def test_weight_cams_accept_every_gap_linear_head(which, request, images):
    model = request.getfixturevalue(which) if which != "timm" else timm.create_model(
        "test_resnet", pretrained=False, num_classes=5, drop_rate=0.5)
    model.train()  # the check switches dropout off for its probe and restores the mode
    for name in WEIGHT_CAMS:
        CAMS.create(name).check_model(model)
    assert model.training and all(m.training for m in model.modules())
    model.eval()
    with torch.no_grad():
        features = model.forward_features(images)
        maps = CAMS.create("infocam", region_size=3)(model, images, torch.tensor([0, 4]))
        cam = CAMS.create("cam")(model, images, torch.tensor([0, 4]))
    assert maps.shape == (2, *features.shape[-2:])
    head = model.get_classifier()
    logits = model.forward_head(features)
    # Eq. 13 on this model: the CAM's spatial mean is the logit minus the bias
    torch.testing.assert_close(cam.mean((1, 2)), logits[[0, 1], [0, 4]] - head.bias[[0, 4]], rtol=1e-4, atol=1e-4)


class NormHeadCNN(GapCNN):
    """GAP + a LayerNorm + linear: timm's interface, but not a plain GAP + linear head."""

    def __init__(self) -> None:
        super().__init__(num_classes=3, channels=(4, 8))
        self.norm = nn.LayerNorm(8)

    def forward_head(self, features, pre_logits=False):
        pooled = self.norm(features.mean(dim=(2, 3)))
        return pooled if pre_logits else self.fc(pooled)


@pytest.mark.parametrize(
    "build, reason",
    [
        (lambda: timm.create_model("test_resnet", pretrained=False, num_classes=3, global_pool="max"), "pre_logits"),
        (lambda: timm.create_model("test_vit", pretrained=False, num_classes=3), "forward_head fails"),
        (lambda: timm.create_model("test_resnet", pretrained=False, num_classes=0), "not nn.Linear"),
        (NormHeadCNN, "pre_logits"),
    ],
)
def test_weight_cams_refuse_other_heads_pointing_at_gradcam(build, reason):
    model = build()
    for name in WEIGHT_CAMS:
        with pytest.raises(ConfigError) as info:
            CAMS.create(name).check_model(model)
        message = str(info.value)
        assert "\n" not in message and message.endswith("use cam=gradcam") and reason in message


# -- learning-rate groups ------------------------------------------------------------------
def wsol_task(model_name: str, mult: float) -> WSOLModule:
    optimizer = {"_target_": "torch.optim.SGD", "lr": 0.01, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-4}
    scheduler = {"_target_": "torch.optim.lr_scheduler.StepLR", "step_size": 60, "gamma": 0.1, "interval": "epoch"}
    return WSOLModule(model={"name": model_name}, loss={"name": "softmax"}, optimizer=optimizer, num_classes=3,
                      cam={"name": "cam"}, scheduler=scheduler, lr_mult_new_layers=mult)


def test_new_layers_get_the_learning_rate_multiplier():
    task = wsol_task("resnet50_wsol", 10.0)
    config = task.configure_optimizers()
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]["scheduler"]
    body, new = optimizer.param_groups
    assert [id(p) for p in new["params"]] == [id(task.net.fc.weight), id(task.net.fc.bias)]
    assert len(body["params"]) + 2 == len(list(task.parameters()))
    assert body["lr"] == pytest.approx(0.01) and new["lr"] == pytest.approx(0.1)
    assert body["nesterov"] and new["momentum"] == 0.9 and new["weight_decay"] == 1e-4
    for _ in range(60):
        optimizer.step()
        scheduler.step()
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([0.001, 0.01])  # StepLR scales both
    assert task.hparams.lr_mult_new_layers == 10.0
    plain = wsol_task("resnet50_wsol", 1.0).configure_optimizers()["optimizer"]
    assert len(plain.param_groups) == 1
    with pytest.raises(ConfigError, match="needs a model with new_layers.*model=gap_cnn"):
        wsol_task("gap_cnn", 10.0)


# -- the paper experiments -----------------------------------------------------------------
@pytest.mark.parametrize("experiment, model, region, lr", [("wsol_cub_vgg16", "vgg16_gap", 5, 1e-3),
                                                            ("wsol_cub_resnet50", "resnet50_wsol", 4, 1e-2)])
def test_cub_experiments_follow_the_authors_recipe(make_cfg, experiment, model, region, lr):
    cfg = make_cfg([f"experiment={experiment}", "data.root=/data"])
    assert cfg.model.name == model and cfg.model.adl.enabled is False and cfg.data._target_.endswith("CUBDataModule")
    assert cfg.cam.name == "infocam" and cfg.cam.region_size == region and cfg.data.image_size == 224
    opt = cfg.task.optimizer
    assert (opt._target_, opt.lr, opt.momentum, opt.nesterov, opt.weight_decay) == ("torch.optim.SGD", lr, 0.9, True, 1e-4)
    assert cfg.task.lr_mult_new_layers == 10
    assert (cfg.task.scheduler.step_size, cfg.task.scheduler.gamma, cfg.trainer.max_epochs) == (60, 0.1, 200)
    assert (cfg.trainer.strategy, cfg.trainer.devices, cfg.trainer.precision) == ("ddp", 2, "16-mixed")
    assert cfg.callbacks.model_checkpoint.monitor == "val/acc" and cfg.callbacks.early_stopping is None
    assert cfg.model.weights == "imagenet"  # the paper fine-tunes ImageNet weights
    adl = make_cfg([f"experiment={experiment}", "model.adl.enabled=true"]).model.adl
    assert adl.enabled and adl.gamma == (0.8 if model == "vgg16_gap" else 0.9)


@pytest.mark.slow
@pytest.mark.parametrize("experiment", ["wsol_cub_vgg16", "wsol_cub_resnet50"])
def test_cub_experiment_trains_and_tests_on_cpu(tmp_path, make_cfg, experiment):
    from infocam.run import evaluate, train

    make_cub(tmp_path / "data")
    data = [f"data.root={tmp_path / 'data'}", "data.num_classes=4", "data.image_size=32", "data.num_workers=0",
            "data.batch_size=4", "data.eval_batch_size=4"]
    tiny = ["trainer=cpu", "trainer.max_epochs=1", "+trainer.limit_train_batches=2", "+trainer.limit_val_batches=1",
            "localization.curve_thresholds=10", "localization.num_overlays=0", "callbacks.model_checkpoint.save_last=false"]
    out = tmp_path / "run"
    weights = ["model.weights=null"]  # the recipes default to ImageNet weights; a CPU test starts from random ones
    if experiment == "wsol_cub_resnet50":  # ImageNet-style weights from a local file
        torchvision_style_resnet_file(ResNet50WSOL(num_classes=4), tmp_path / "resnet50.pth")
        weights = [f"model.weights={tmp_path / 'resnet50.pth'}"]
    overrides = [f"experiment={experiment}", *QUIET, *data, *tiny, "model.adl.enabled=true", *weights]
    metrics = train(make_cfg(overrides, output_dir=out))
    written = json.loads((out / "metrics.json").read_text())
    assert written["test/num_images"] == 8 and 0 <= written["test/gt_known_loc"] <= 1 and "val/acc" in metrics
    if experiment != "wsol_cub_resnet50":
        return
    # infocam-eval scores another CAM on the trained checkpoint (no retraining); the weights
    # file is not needed any more: the checkpoint holds every tensor
    (tmp_path / "resnet50.pth").unlink()
    ckpt = next((out / "checkpoints").glob("epoch_*.ckpt"))
    scored = evaluate(make_cfg([f"ckpt_path={ckpt}", "data=cub", *data, "trainer=cpu", "logger=none",
                                "trainer.enable_progress_bar=false", "cam=infocam_plus", "cam.region_size=1",
                                "localization.curve_thresholds=10", "localization.num_overlays=0"],
                               config_name="eval", output_dir=tmp_path / "eval"))
    assert scored["test/num_images"] == 8 and "test/maxboxacc_v2" in scored
    recorded = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert recorded["test/top1_cls"] == pytest.approx(written["test/top1_cls"])  # same weights, same predictions


@pytest.mark.slow
def test_tiny_imagenet_experiment_trains_and_tests_on_cpu(tmp_path, make_cfg):
    """The Tiny-ImageNet recipe end to end on a fixture in the official layout (R = 3)."""
    from infocam.run import train

    from fixtures.wsol import make_tiny_imagenet

    make_tiny_imagenet(tmp_path / "data")
    overrides = ["experiment=wsol_tiny_resnet50", *QUIET, f"data.root={tmp_path / 'data'}", "data.num_classes=3",
                 "data.image_size=32", "data.num_workers=0", "data.batch_size=4", "data.eval_batch_size=4",
                 "trainer=cpu", "trainer.max_epochs=1", "+trainer.limit_train_batches=2", "+trainer.limit_val_batches=1",
                 "localization.curve_thresholds=10", "localization.num_overlays=0", "model.adl.enabled=true",
                 "model.weights=null"]  # random initialisation on CPU (the recipe's default is imagenet)
    cfg = make_cfg(overrides, output_dir=tmp_path / "run")
    assert cfg.cam.region_size == 3 and cfg.data._target_.endswith("TinyImageNetDataModule")
    train(cfg)
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert written["test/num_images"] == 6 and 0 <= written["test/gt_known_loc"] <= 1 and "val/acc" in written
