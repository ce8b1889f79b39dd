"""The registries: names to factories, config specs to entries, and every registered entry built."""

import inspect
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from conftest import CONFIG_DIR
from infocam.errors import ConfigError
from infocam.registry import CAMS, LOSSES, MODELS, Registry


def test_register_create_and_list():
    registry: Registry = Registry("widget")

    @registry.register("round_widget", aliases=("circle",))
    def make(size: int = 1):
        return ("round", size)

    assert registry.create("round_widget", size=3) == ("round", 3)
    assert registry.create("circle") == ("round", 1)
    assert registry.create("round_widget", size=None) == ("round", 1)  # None kwargs dropped
    assert registry.available() == ["round_widget"]
    assert registry.available("sq*") == []
    assert "circle" in registry


def test_duplicate_registration_raises():
    registry: Registry = Registry("widget")
    registry.register("a")(lambda: 1)
    with pytest.raises(ValueError, match="already registered"):
        registry.register("a")(lambda: 2)


def test_unknown_name_lists_registered_names_and_suggests():
    with pytest.raises(ConfigError) as info:
        LOSSES.get("pc_sofmax")
    message = str(info.value)
    for name in ("softmax", "pc_softmax", "logit_adjusted", "mine"):
        assert name in message
    assert "Did you mean pc_softmax" in message


def test_builtin_entries_are_registered():
    import infocam.losses  # noqa: F401
    import infocam.models  # noqa: F401

    assert {"softmax", "pc_softmax", "logit_adjusted", "mine"} <= set(LOSSES.available())
    assert "mlp" in MODELS


def test_third_party_entry_selected_from_cli(tmp_path):
    """A user module listed in `plugins` registers a loss that `loss.name=` then selects."""
    from conftest import run_cli

    plugin_dir = tmp_path / "plugin"
    plugin_dir.mkdir()
    (plugin_dir / "my_losses.py").write_text(
        "import torch.nn.functional as F\n"
        "from infocam.losses.softmax import SoftmaxCrossEntropy\n"
        "from infocam.registry import LOSSES\n"
        "@LOSSES.register('smoothed_softmax')\n"
        "class Smoothed(SoftmaxCrossEntropy):\n"
        "    def forward(self, logits, target):\n"
        "        return F.cross_entropy(logits, target, label_smoothing=0.1)\n"
    )

    proc = run_cli(
        "train",
        [
            "experiment=mi_gmm",
            "debug=fdr",
            "loss.name=smoothed_softmax",
            "plugins=[my_losses]",
            "logger=none",
            "callbacks=quiet",
            "trainer.enable_progress_bar=false",
            "data.size_scale=0.05",
            "data.mc_samples=1000",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        cwd=tmp_path,
        extra_pythonpath=[plugin_dir],
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    import json

    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert "test/mi_estimate" in metrics
    assert "smoothed_softmax" in (tmp_path / "run" / "config.yaml").read_text()


# -- every registered entry, from its config's defaults (entries added later are covered too) ----
#: options that an entry's config leaves to the user (``???``) and a test must fill in
REQUIRED_OPTIONS = {"model": {"timm": {"arch": "test_resnet"}}}
#: flat-input models whose input_dim must have a shape (mi_cnn: 1 x 8 x 8 images, flattened); others get 6
INPUT_DIMS = {"mi_cnn": 64}


def default_spec(group: str, name: str) -> dict:
    """``conf/<group>/<name>.yaml`` when there is one (its defaults), else just the name (the
    factory's own defaults); options the config leaves missing come from ``REQUIRED_OPTIONS``."""
    path = Path(CONFIG_DIR) / group / f"{name}.yaml"
    spec = OmegaConf.load(path) if path.is_file() else OmegaConf.create({"name": name})
    if "defaults" in spec:  # a config built from shared parts (cam/shared/): as Hydra composes it
        from hydra import compose, initialize_config_dir

        with initialize_config_dir(config_dir=str(Path(CONFIG_DIR).resolve()), version_base="1.3"):
            spec = OmegaConf.create(OmegaConf.to_container(compose("train", overrides=[f"{group}={name}"])[group]))
    spec.merge_with(REQUIRED_OPTIONS.get(group, {}).get(name, {}))
    missing = sorted(OmegaConf.missing_keys(spec))
    assert not missing, f"{group}={name} leaves {missing} to the user: add them to REQUIRED_OPTIONS in {__file__}"
    return OmegaConf.to_container(spec)


@pytest.mark.slow  # a fresh interpreter (imports torch): nothing else may have imported infocam.cams
def test_cams_and_index_transforms_load_their_entries_like_losses_and_models():
    import os
    import subprocess
    import sys

    code = ("from infocam.registry import CAMS, INDEX_TRANSFORMS\n"
            "CAMS.create('infocam')\n"
            "print(sorted(CAMS.available()), INDEX_TRANSFORMS.available())")
    from conftest import REPO_ROOT

    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}  # this checkout's package
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True, env=env)
    assert "'infocam'" in proc.stdout and "equalize_classes" in proc.stdout


def test_from_spec_turns_a_config_spec_into_an_entry():
    registry: Registry = Registry("widget", group="widget")

    @registry.register("round_widget")
    def make(num_classes: int, size: int = 1):
        return ("round", num_classes, size)

    assert registry.from_spec(OmegaConf.create({"name": "round_widget", "size": 2}), num_classes=3) == ("round", 3, 2)
    assert registry.from_spec({"name": "round_widget", "size": None}, num_classes=3) == ("round", 3, 1)
    with pytest.raises(ConfigError, match=r"^widget\.name is required \(registered: round_widget\)$"):
        registry.from_spec({"size": 2})
    with pytest.raises(ConfigError, match=r"^widget=round_widget does not take the option\(s\) colour .*round_widget takes: num_classes, size$"):
        registry.from_spec({"name": "round_widget", "colour": "red"}, num_classes=3)
    with pytest.raises(ConfigError, match=r"^widget=round_widget needs the option\(s\) num_classes$"):
        registry.from_spec({"name": "round_widget"})
    with pytest.raises(ConfigError, match="unknown widget 'square'"):
        registry.from_spec({"name": "square"})


@pytest.mark.parametrize("name", MODELS.available())
def test_every_model_builds_from_its_config_and_gives_one_score_per_class(name):
    spec = default_spec("model", name)
    factory = MODELS.get(name)
    parameters = inspect.signature(factory).parameters
    extra = {"input_dim": INPUT_DIMS.get(name, 6)} if "input_dim" in parameters else {}
    model = MODELS.from_spec(spec, num_classes=3, **extra).eval()
    if extra:
        x = torch.randn(2, extra["input_dim"])
    else:  # images: the entry's channels and size, else RGB at a size every backbone takes
        channels = spec.get("in_channels", spec.get("in_chans", getattr(parameters.get("in_channels"), "default", 3)))
        size = spec.get("image_size", getattr(parameters.get("image_size"), "default", 80))
        x = torch.randn(2, channels if isinstance(channels, int) else 3, size, size)
    with torch.no_grad():
        logits = model(x)
    assert logits.shape == (2, 3) and torch.isfinite(logits).all()


@pytest.mark.parametrize("name", CAMS.available())
def test_every_cam_method_builds_from_its_config_and_maps_a_gap_model(name):
    torch.manual_seed(0)
    method = CAMS.from_spec(default_spec("cam", name))
    model = MODELS.create("gap_cnn", num_classes=3, channels=[4, 8]).eval()
    method.check_model(model)
    images, labels = torch.randn(2, 3, 16, 16), torch.tensor([0, 2])
    result = method.compute(model, images, [labels, None])
    assert result.logits.shape == (2, 3)
    assert len(result.maps) == 2
    for maps in result.maps:
        assert maps.ndim == 3 and maps.shape[0] == 2 and torch.isfinite(maps).all()
