"""infocam.CAM / InfoCAM / InfoCAMPlus / GradCAM on random-weight torchvision classifiers: the
maps equal Eq. 12/14/15 computed here from features captured by the test's own hook and the
head's weights; heads that are not GAP + linear get one line pointing at Grad-CAM."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchvision.models as tvm
from torch import nn
from torchvision.models.convnext import CNBlockConfig
from torchvision.models.resnet import BasicBlock, Bottleneck

import infocam
from infocam.cams.base import region_sum
from infocam.errors import ConfigError


def _small_families() -> dict[str, tuple[nn.Module, str, str, bool, int]]:
    """name -> (model, feature layer, classifier, head applies ReLU to the map, input px).

    Each is the family's own torchvision class, shrunk where the stock size is slow to build
    (ResNeXt and Wide-ResNet are ResNet with groups / wider bottlenecks, as torchvision builds them)."""
    torch.manual_seed(0)
    return {
        "resnet": (tvm.ResNet(BasicBlock, [1, 1, 1, 1], num_classes=6), "layer4", "fc", False, 64),
        "resnext": (tvm.ResNet(Bottleneck, [1, 1, 1, 1], groups=4, width_per_group=4, num_classes=6), "layer4", "fc", False, 64),
        "wide_resnet": (tvm.ResNet(Bottleneck, [1, 1, 1, 1], width_per_group=128, num_classes=6), "layer4", "fc", False, 32),
        "densenet": (tvm.DenseNet(growth_rate=8, block_config=(2, 2, 2), num_init_features=16, num_classes=6), "features", "classifier", True, 64),
        "mobilenet_v2": (tvm.mobilenet_v2(weights=None, width_mult=0.35, num_classes=6), "features", "classifier.1", False, 64),
        "efficientnet": (tvm.efficientnet_b0(weights=None, num_classes=6), "features", "classifier.1", False, 64),
        "regnet": (tvm.regnet_y_400mf(weights=None, num_classes=6), "trunk_output", "fc", False, 64),
        "shufflenet_v2": (tvm.shufflenet_v2_x0_5(weights=None, num_classes=6), "conv5", "fc", False, 64),
        "googlenet": (tvm.googlenet(weights=None, aux_logits=False, init_weights=False, num_classes=6), "inception5b", "fc", False, 64),
        "inception_v3": (tvm.inception_v3(weights=None, aux_logits=False, init_weights=False, num_classes=6), "Mixed_7c", "fc", False, 80),
    }


@pytest.fixture(scope="module")
def families():
    models = _small_families()
    for model, *_ in models.values():
        model.eval()
    return models


def captured(model: nn.Module, layer: str, relu: bool, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The map the head pools (the test's own hook on the named layer) and the logits."""
    store = {}
    handle = model.get_submodule(layer).register_forward_hook(lambda m, i, o: store.update(f=o.clone()))
    with torch.no_grad():
        logits = model(images)
    handle.remove()
    return (F.relu(store["f"]) if relu else store["f"]), logits


FAMILIES = [
    "resnet", "resnext", "wide_resnet", "densenet", "mobilenet_v2", "efficientnet", "regnet", "shufflenet_v2",
    "googlenet", "inception_v3",
]


@pytest.mark.parametrize("family", FAMILIES)
def test_maps_equal_the_formulas_on_torchvision_families(families, family):
    model, layer, head, relu, px = families[family]
    images = torch.randn(3, 3, px, px, generator=torch.Generator().manual_seed(1))
    features, logits = captured(model, layer, relu, images)
    weight = model.get_submodule(head).weight.detach()
    target = torch.tensor([0, 5, 2])
    w = weight[target]
    others = (weight.sum(0, keepdim=True) - w) / (weight.shape[0] - 1)
    least = weight[logits.argmin(1)]
    expected = {
        "cam": torch.einsum("bk,bkhw->bhw", w, features),
        "infocam": region_sum(torch.einsum("bk,bkhw->bhw", w - others, features), 3),
        "infocam_plus": region_sum(torch.einsum("bk,bkhw->bhw", w - least, features), 3),
    }
    methods = {"cam": infocam.CAM(model), "infocam": infocam.InfoCAM(model, region_size=3),
               "infocam_plus": infocam.InfoCAMPlus(model, region_size=3)}
    for name, method in methods.items():
        maps = method(images, targets=target, size="features")
        torch.testing.assert_close(maps, expected[name], rtol=1e-4, atol=1e-4 * (1 + float(expected[name].abs().max())))
        assert not maps.requires_grad
    tap = methods["cam"].method.tap(model)  # found structurally, as named above
    assert tap.target_layer is model.get_submodule(layer) and tap.classifier is model.get_submodule(head)
    # Eq. 12 without bias: the mean of CAM over positions is the target logit minus its bias
    bias = model.get_submodule(head).bias.detach()[target]
    torch.testing.assert_close(expected["cam"].mean(dim=(1, 2)) + bias, logits.gather(1, target[:, None])[:, 0],
                               rtol=1e-4, atol=1e-4)


def test_targets_sizes_and_modes(families):
    model, _, _, _, px = families["resnet"]
    images = torch.randn(2, 3, px, px, generator=torch.Generator().manual_seed(2))
    method = infocam.InfoCAM(model)
    with torch.no_grad():
        predicted = model(images).argmax(1)
    by_int = method(images, targets=4)
    torch.testing.assert_close(by_int, method(images, targets=torch.tensor([4, 4])))
    torch.testing.assert_close(method(images), method(images, targets=predicted))
    assert by_int.shape == (2, px, px)  # upsampled to the input by default
    assert method(images, size=(10, 12)).shape == (2, 10, 12)
    assert method(images, size="features").shape == (2, 2, 2)
    model.train()
    try:
        method(images)
        assert all(m.training for m in model.modules())  # modes restored, eval inside the call
    finally:
        model.eval()
    with pytest.raises(ConfigError, match=r"target classes must be in \[0, 6\)"):
        method(images, targets=6)
    with pytest.raises(ConfigError, match="size must be"):
        method(images, size="image")
    with pytest.raises(ConfigError, match=r"\[B, C, H, W\]"):
        method(images[0])
    with pytest.raises(ConfigError, match=r"targets must be an int or \[B=2\]"):
        method(images, targets=[1, 2, 3])


def test_gradcam_equals_relu_cam_over_positions_on_a_gap_head(families):
    model, layer, head, relu, px = families["resnet"]
    images = torch.randn(2, 3, px, px, generator=torch.Generator().manual_seed(3))
    target = torch.tensor([1, 3])
    cam = infocam.CAM(model)(images, targets=target, size="features")
    grad = infocam.GradCAM(model)(images, targets=target, size="features")
    h, w = cam.shape[-2:]
    torch.testing.assert_close(grad, torch.relu(cam) / (h * w), rtol=1e-4, atol=1e-5)
    for p in model.parameters():  # frozen weights: the gradient still reaches the map
        p.requires_grad_(False)
    try:
        torch.testing.assert_close(infocam.GradCAM(model)(images, targets=target, size="features"), grad)
    finally:
        for p in model.parameters():
            p.requires_grad_(True)


def _vgg_like() -> nn.Module:
    # torchvision's VGG class (MLP head 512*7*7 -> 4096 -> 4096 -> M) with a one-conv trunk,
    # built on the meta device and filled directly: drawing the head's 120 M random weights
    # takes seconds, and the head's structure, not its values, is what is refused
    with torch.device("meta"):
        model = tvm.VGG(nn.Sequential(nn.Conv2d(3, 512, 3, padding=1), nn.ReLU()), num_classes=4, init_weights=False)
    model.to_empty(device="cpu")
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(1e-3) if p.numel() > 1_000_000 else p.normal_(0, 0.01)
    return model.eval()


@pytest.mark.parametrize("build", [
    _vgg_like,
    lambda: tvm.ConvNeXt([CNBlockConfig(16, 32, 1), CNBlockConfig(32, None, 1)], num_classes=4).eval(),
    lambda: tvm.VisionTransformer(image_size=32, patch_size=8, num_layers=1, num_heads=2, hidden_dim=16,
                                  mlp_dim=32, num_classes=4).eval(),
], ids=["vgg", "convnext", "vit"])
def test_non_gap_heads_get_one_line_pointing_at_gradcam(build):
    model = build()
    images = torch.randn(2, 3, 32, 32)
    for cls in (infocam.CAM, infocam.InfoCAM, infocam.InfoCAMPlus):
        with pytest.raises(ConfigError, match=r"needs a global-average-pooling \+ linear classifier head; .*"
                                              r"Grad-CAM takes any head \(infocam.GradCAM\): use cam=gradcam$") as err:
            cls(model)(images)
        assert "\n" not in str(err.value)
    maps = infocam.GradCAM(model)(images)
    assert maps.shape == (2, 32, 32) and bool((maps >= 0).all())


class ReshapedLogits(nn.Module):
    """A GAP + linear classifier whose logits are reshaped after the linear layer, so the layer
    is not found structurally (its output is not the model's)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1))
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc(self.body(x).mean(dim=(2, 3))).view(len(x), -1)


def test_any_module_with_target_layer_and_classifier():
    torch.manual_seed(0)
    model = ReshapedLogits().eval()
    images = torch.randn(2, 3, 16, 16)
    with pytest.raises(ConfigError, match="pass classifier="):
        infocam.CAM(model)(images)
    maps = infocam.CAM(model, target_layer="body", classifier="fc")(images, targets=1, size="features")
    with torch.no_grad():
        expected = torch.einsum("k,bkhw->bhw", model.fc.weight[1], model.body(images))
    torch.testing.assert_close(maps, expected)
    # a layer before the last one: the head does not pool its map
    with pytest.raises(ConfigError, match="not the spatial mean of body.1"):
        infocam.CAM(model, target_layer=model.body[1], classifier=model.fc)(images)
    with pytest.raises(ConfigError, match="target_layer='layer9' is not a submodule of ReshapedLogits"):
        infocam.CAM(model, target_layer="layer9")
    with pytest.raises(ConfigError, match="classifier must be an nn.Linear"):
        infocam.CAM(model, target_layer="body", classifier="body")


def test_cams_to_boxes_is_public_and_boxes_the_maps(families):
    model, *_, px = families["resnet"]
    maps = infocam.InfoCAM(model)(torch.randn(2, 3, px, px))
    boxes = infocam.cams_to_boxes(maps, threshold=0.2)
    assert boxes.shape == (2, 4)
    assert bool(((boxes[:, 2] > boxes[:, 0]) & (boxes[:, 2] <= px)).all())


# -- issue 28: what a new user passes ----------------------------------------------------------

def test_image_dtypes_are_converted_to_the_models(families):
    model, *_ = families["resnet"]
    images = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    method = infocam.InfoCAM(model)
    reference = method(images, targets=1)
    torch.testing.assert_close(method(images.double(), targets=1), reference)
    half = images.half()
    torch.testing.assert_close(method(half, targets=1), method(half.float(), targets=1))
    as_uint8 = (images * 255).round().to(torch.uint8)  # scaled to [0, 1] as torchvision's to_dtype does
    torch.testing.assert_close(method(as_uint8, targets=1), method(as_uint8.float() / 255, targets=1))
    assert method(images.double()).dtype == torch.float32


@pytest.mark.parametrize("fill", [float("nan"), float("inf")])
def test_non_finite_images_are_one_line(families, fill):
    model, *_ = families["resnet"]
    for cls in (infocam.CAM, infocam.GradCAM):
        with pytest.raises(ConfigError, match=r"^images hold 12 NaN/inf value\(s\) of 12; CAM maps need finite pixels$"):
            cls(model)(torch.full((1, 3, 2, 2), fill))


@pytest.mark.parametrize("targets", ["a", ["a", "b"], object()])
def test_targets_that_are_not_class_indices_are_one_line(families, targets):
    model, *_ = families["resnet"]
    with pytest.raises(ConfigError, match=r"^targets must be class indices \(an int, a sequence or a tensor\), got "):
        infocam.CAM(model)(torch.randn(2, 3, 32, 32), targets=targets)


def test_target_layer_as_a_one_element_list(families):
    """pytorch-grad-cam's habit, ``target_layers=[model.layer4]``: one layer is one layer."""
    model, *_ = families["resnet"]
    images = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    for cls in (infocam.CAM, infocam.GradCAM):
        torch.testing.assert_close(cls(model, [model.layer4])(images), cls(model, model.layer4)(images))
    torch.testing.assert_close(infocam.CAM(model, target_layer=["layer4"])(images), infocam.CAM(model)(images))
    with pytest.raises(ConfigError, match=r"^target_layer takes one layer \(a module or its dotted name\), got a list of 2$"):
        infocam.GradCAM(model, [model.layer3, model.layer4])
    with pytest.raises(ConfigError, match=r"^target_layer must be a submodule or its dotted name, got int$"):
        infocam.CAM(model, 4)
    with pytest.raises(ConfigError, match=r"^InfoCAM does not take regionsize; it takes: "):
        infocam.InfoCAM(model, regionsize=3)


def test_a_timm_vision_transformer_gets_one_line_from_every_method():
    """timm's ViT has the feature interface, but its features are tokens: CAM points to Grad-CAM,
    and Grad-CAM says in one line why it cannot read them (it raised IndexError)."""
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    # the named architecture at 32 px (2 x 2 patches): the same layers, a fraction of the time
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=4, img_size=32).eval()
    images = torch.randn(1, 3, 32, 32)
    with pytest.raises(ConfigError, match=r"use cam=gradcam$"):
        infocam.CAM(model)(images)
    with pytest.raises(ConfigError, match=r"^cam=gradcam needs a \[B, K, h, w\] feature map; VisionTransformer"
                                          r"\.forward_features gives \[1, 5, 192\] \(tokens.*reshape_transform$") as err:
        infocam.GradCAM(model)(images)
    assert "\n" not in str(err.value)
    maps = infocam.GradCAM(model, target_layer="patch_embed.proj")(images)  # a layer giving a map works
    assert maps.shape == (1, 32, 32)


def test_the_public_classes_are_the_registered_methods():
    """One definition per method: each public class wraps the registered class of that name,
    with its docstring and its defaults."""
    import inspect

    from infocam.api.cams import PUBLIC
    from infocam.registry import CAMS

    assert set(PUBLIC) == {"CAM", "InfoCAM", "InfoCAMPlus", "GradCAM"}
    for public, cls in PUBLIC.items():
        method = cls.method_class
        assert CAMS.get(method.name) is method and method.public_name == public and cls.__doc__ == method.__doc__
        ours = inspect.signature(cls).parameters
        for name, parameter in inspect.signature(method).parameters.items():
            assert ours[name].default == parameter.default
    assert inspect.signature(infocam.InfoCAM).parameters["region_size"].default == 5
