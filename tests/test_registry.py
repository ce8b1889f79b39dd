import pytest

from infocam.errors import ConfigError
from infocam.registry import LOSSES, MODELS, Registry


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
