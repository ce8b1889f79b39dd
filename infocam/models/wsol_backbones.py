"""The paper's WSOL backbones (§6, Appendix C): VGG16-GAP and ResNet50 with larger last maps.

Both are torchvision networks (built with ``weights=None``; ImageNet weights from
``model.weights=imagenet``, torchvision's IMAGENET1K_V1 file through its weights API and cache,
or a local ``model.weights=PATH`` file with torchvision's key names), cut to a convolutional body,
then global average pooling and one linear layer -- the head the weight-based CAMs need. They
expose timm's interface (``forward_features`` -> ``[B, K, h, w]``, ``forward_head(x,
pre_logits=False)``, ``get_classifier()``), ``new_layers()`` (what ImageNet weights do not
initialise, trained at ``task.lr_mult_new_layers`` x the learning rate) and optional ADL layers
after named stages (``model.adl``; :mod:`infocam.models.adl`).
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping, Sequence

import torchvision
from torch import Tensor, nn

from infocam.models.adl import adl_key, adl_settings, build_adl_layers
from infocam.models.weights import IMAGENET, imagenet_state, load_pretrained
from infocam.registry import MODELS

#: the ADL authors' positions (wsolevaluation's VGG "A" entries and ResNet ``_ADL_POSITION``)
VGG_ADL_POSITIONS = ("pool3", "pool4", "conv5_3")
RESNET_ADL_POSITIONS = ("layer3.0", "layer4.0", "layer4.2")
VGG_ADL_GAMMA = 0.8
RESNET_ADL_GAMMA = 0.9


class GapLinearBackbone(nn.Module):
    """Shared head: ``logits = fc(mean over h, w of forward_features(x))``."""

    fc: nn.Linear
    adl: nn.ModuleDict

    def stages(self) -> Iterator[tuple[str, nn.Module]]:
        """(readable name, module) in forward order; ADL may follow any named stage."""
        raise NotImplementedError

    def forward_features(self, x: Tensor) -> Tensor:
        for name, stage in self.stages():
            x = stage(x)
            key = adl_key(name)
            if key in self.adl:
                x = self.adl[key](x)
        return x

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        pooled = x.mean(dim=(2, 3))
        return pooled if pre_logits else self.fc(pooled)

    def get_classifier(self) -> nn.Linear:
        return self.fc

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))

    def new_layers(self) -> list[nn.Module]:
        """Modules that ImageNet weights do not initialise."""
        raise NotImplementedError

    def adl_positions(self) -> list[str]:
        """Every name ADL may follow."""
        return [name for name, _ in self.stages()]


def init_new_conv(conv: nn.Conv2d) -> None:
    """torchvision's VGG initialisation for a convolution."""
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    nn.init.zeros_(conv.bias)


def init_new_linear(fc: nn.Linear) -> None:
    nn.init.normal_(fc.weight, 0.0, 0.01)
    nn.init.zeros_(fc.bias)


class VGG16GAP(GapLinearBackbone):
    """VGG16's 13 convolutions with pool1-4 (pool5 removed: 14x14 maps at 224 px), then conv6
    (512 -> 1024, 3x3, pad 1) + ReLU, GAP and one linear layer (wsolevaluation's VGG-GAP).

    Stage names: ``convB_I`` (after that convolution's ReLU) and ``poolB``; ``features.N`` keeps
    torchvision's indices, so torchvision's ImageNet file loads (its ``classifier.*`` FC head is
    not part of this network and is ignored).
    """

    FOREIGN_WEIGHTS = ("classifier.",)

    def __init__(self, num_classes: int, adl: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        # torchvision's VGG16 body builder (the full vgg16() would also allocate and initialise
        # the 120M-parameter FC head only to throw it away); "D" is VGG16, the last "M" is pool5
        config = torchvision.models.vgg.cfgs["D"]
        assert config[-1] == "M"
        self.features = torchvision.models.vgg.make_layers(config[:-1])
        for layer in self.features:
            if isinstance(layer, nn.Conv2d):
                init_new_conv(layer)  # torchvision's VGG initialisation
        self.conv6 = nn.Conv2d(512, 1024, kernel_size=3, padding=1)
        self.relu6 = nn.ReLU(inplace=True)
        self.fc = nn.Linear(1024, num_classes)
        self.num_features = 1024
        init_new_conv(self.conv6)
        init_new_linear(self.fc)
        self._names = self._stage_names()
        settings = adl_settings(adl, VGG_ADL_GAMMA, VGG_ADL_POSITIONS)
        self.adl = build_adl_layers(settings, self.adl_positions())

    def _stage_names(self) -> list[str]:
        """``convB_I`` for each conv and its ReLU, ``poolB`` for each max-pool, by position."""
        names, block, conv = [], 1, 0
        for layer in self.features:
            if isinstance(layer, nn.Conv2d):
                conv += 1
                names.append(f"conv{block}_{conv}.conv")
            elif isinstance(layer, nn.ReLU):
                names.append(f"conv{block}_{conv}")
            else:
                names.append(f"pool{block}")
                block, conv = block + 1, 0
        return names

    def stages(self) -> Iterator[tuple[str, nn.Module]]:
        yield from zip(self._names, self.features)
        yield "conv6.conv", self.conv6
        yield "conv6", self.relu6

    def adl_positions(self) -> list[str]:
        return [name for name, _ in self.stages() if not name.endswith(".conv")]

    def new_layers(self) -> list[nn.Module]:
        return [self.conv6, self.fc]


class ResNet50WSOL(GapLinearBackbone):
    """torchvision ResNet50 with layer4's stride set to 1: 14x14 last maps at 224 px, 4x4 at
    64 px (the InfoCAM authors' network, the size the paper's R was chosen for). With
    ``large_feature_map`` (wsolevaluation's ResNet50 setting) layer3's stride is 1 too: 28x28
    at 224 px, 8x8 at 64 px. Strides are removed without dilation, as both reference codes do.

    Stage names: ``stem``, ``layerL.B`` (bottleneck B of layer L). Parameter names are
    torchvision's; an ImageNet file's 1000-class ``fc`` is replaced by the new head.
    """

    FOREIGN_WEIGHTS = ()

    def __init__(self, num_classes: int, large_feature_map: bool = False, adl: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        base = torchvision.models.resnet50(weights=None)
        self.conv1, self.bn1, self.relu, self.maxpool = base.conv1, base.bn1, base.relu, base.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = base.layer1, base.layer2, base.layer3, base.layer4
        unstrided = [self.layer3, self.layer4] if large_feature_map else [self.layer4]
        for layer in unstrided:
            first = layer[0]
            first.conv2.stride = (1, 1)
            first.downsample[0].stride = (1, 1)
        self.fc = nn.Linear(2048, num_classes)
        self.num_features = 2048
        init_new_linear(self.fc)
        settings = adl_settings(adl, RESNET_ADL_GAMMA, RESNET_ADL_POSITIONS)
        self.adl = build_adl_layers(settings, self.adl_positions())

    def stem(self, x: Tensor) -> Tensor:
        return self.maxpool(self.relu(self.bn1(self.conv1(x))))

    def stages(self) -> Iterator[tuple[str, nn.Module]]:
        yield "stem", self.stem
        for index in range(1, 5):
            for block_index, block in enumerate(getattr(self, f"layer{index}")):
                yield f"layer{index}.{block_index}", block

    def new_layers(self) -> list[nn.Module]:
        return [self.fc]


def with_weights(model: GapLinearBackbone, weights: str | None, model_name: str) -> GapLinearBackbone:
    """``weights``: None (random initialisation), ``imagenet`` or a file path."""
    if weights:
        new = tuple(f"{name}." for name, module in model.named_children() if any(module is m for m in model.new_layers()))
        source, name = (imagenet_state(model_name) if str(weights) == IMAGENET else (weights, weights))
        load_pretrained(model, source, new_layers=new, foreign=type(model).FOREIGN_WEIGHTS, name=name)
    return model


@MODELS.register("vgg16_gap")
def vgg16_gap(num_classes: int, weights: str | None = None, adl: Mapping[str, Any] | None = None) -> VGG16GAP:
    """VGG16-GAP; ``weights``: ``imagenet``, torchvision's VGG16 ImageNet state dict (.pth/.safetensors) or None."""
    return with_weights(VGG16GAP(num_classes, adl), weights, "vgg16_gap")


@MODELS.register("resnet50_wsol")
def resnet50_wsol(
    num_classes: int, weights: str | None = None, large_feature_map: bool = False, adl: Mapping[str, Any] | None = None
) -> ResNet50WSOL:
    """ResNet50 for WSOL; ``weights``: ``imagenet``, torchvision's ResNet50 ImageNet state dict or None."""
    return with_weights(ResNet50WSOL(num_classes, large_feature_map, adl), weights, "resnet50_wsol")


__all__: Sequence[str] = ["ResNet50WSOL", "VGG16GAP", "resnet50_wsol", "vgg16_gap"]
