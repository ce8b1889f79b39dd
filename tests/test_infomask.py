"""Info-masking (paper 2, §4): composites, patching, the three masks on a hand-made case, and a
short end-to-end run (the sandwich is tests/test_sandwich.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import QUIET, run_cli_in_process
from fixtures.classification import make_mnist
from omegaconf import OmegaConf
from torch import nn

from infocam.data.composite import MNISTCompositeDataModule, make_composites
from infocam.errors import ConfigError
from infocam.infomask.masking import (
    info_mask,
    keep_above_fraction_of_max,
    patch_masks,
    patch_scores,
    random_mask_of_area,
    random_mask_probability,
)
from infocam.infomask.settings import infomask_settings
from infocam.metrics import InkSurvival
from infocam.reporting.dispatch import build_report
from infocam.run import evaluate, train


# -- composites -----------------------------------------------------------------------------
def digit_images(n_per_class: int = 3, side: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """Digit c is a ``side x side`` image whose ink value (10 c + 5 + copy) names it."""
    labels = torch.arange(10).repeat_interleave(n_per_class)
    copies = torch.arange(n_per_class).repeat(10)
    images = torch.zeros(len(labels), side, side, dtype=torch.uint8)
    images[:, 1:3, 1:3] = (10 * labels + 5 + copies).to(torch.uint8)[:, None, None]
    return images, labels


def test_composites_labels_placement_and_exact_ownership():
    images, labels = digit_images()
    made = make_composites(images, labels, 400, target_digit=3, generator=torch.Generator().manual_seed(0))
    assert made.images.shape == (400, 4, 8) and made.ink.shape == (400, 2, 4, 8)
    assert made.labels.sum() == 200  # balanced
    assert torch.equal(made.labels, (made.digits == 3).any(1).long())
    # every slot shows the digit it records (value // 10), a blank slot is all zero
    for half, slot in ((made.images[:, :, :4], 0), (made.images[:, :, 4:], 1)):
        value = half.flatten(1).amax(1).long()
        expected = torch.where(made.digits[:, slot] >= 0, made.digits[:, slot], torch.full_like(value, -1))
        assert torch.equal(torch.where(value > 0, value // 10, -1), expected)
    # both placements and both counts occur; a positive holds exactly one target digit
    target_slot = (made.digits == 3).long().argmax(1)[made.labels == 1]
    assert set(target_slot.tolist()) == {0, 1}
    assert set((made.digits >= 0).sum(1).tolist()) == {1, 2}
    assert int((made.digits == 3).sum(1).max()) == 1
    # ownership: the two owners add up to the image and never share a pixel
    assert torch.equal(made.ink.sum(1, dtype=torch.uint8), made.images)
    assert not ((made.ink[:, 0] > 0) & (made.ink[:, 1] > 0)).any()
    target_values = made.ink[:, 0].flatten(1).amax(1).long() // 10
    assert torch.equal(target_values[made.labels == 1], torch.full_like(target_values[made.labels == 1], 3))
    assert made.ink[made.labels == 0, 0].sum() == 0
    assert ((made.ink[:, 1].flatten(1).amax(1) // 10) != 3).all()


def test_composites_are_seeded():
    images, labels = digit_images()
    a = make_composites(images, labels, 50, 0, torch.Generator().manual_seed(1))
    b = make_composites(images, labels, 50, 0, torch.Generator().manual_seed(1))
    c = make_composites(images, labels, 50, 0, torch.Generator().manual_seed(2))
    assert torch.equal(a.images, b.images) and torch.equal(a.ink, b.ink)
    assert not torch.equal(a.images, c.images)


def test_datamodule_builds_identical_splits_from_idx_files(tmp_path):
    make_mnist(tmp_path)
    kwargs = dict(root=str(tmp_path), target_digit=2, num_train=60, num_val=20, seed=4)
    first, second = MNISTCompositeDataModule(**kwargs), MNISTCompositeDataModule(**kwargs)
    first.setup("fit"), second.setup("fit")
    images, labels, ink = first.splits["train"].tensors
    assert images.shape == (60, 1, 28, 56) and ink.shape == (60, 2, 28, 56)
    assert {k: len(v) for k, v in first.splits.items()} == {"train": 60, "val": 20, "test": 70}
    assert first.train_class_counts.tolist() == [30, 30]
    for split in ("train", "val", "test"):
        for x, y in zip(first.splits[split].tensors, second.splits[split].tensors):
            assert torch.equal(x, y)
    # the normalised image is the ink of both owners
    raw = (images[:, 0] * 0.3081 + 0.1307) * 255
    assert torch.allclose(raw, ink.sum(1).float(), atol=1e-3)


# -- patching ---------------------------------------------------------------------------------
def test_patches_tile_the_image_and_overlapping_strides_cover_it():
    masks = patch_masks(28, 56, 7)
    assert masks.shape == (32, 28, 56)
    assert torch.equal(masks.sum(0), torch.ones(28, 56, dtype=torch.long))
    assert (masks.flatten(1).sum(1) == 49).all()
    overlapping = patch_masks(28, 56, 7, stride=5)
    assert (overlapping.sum(0) >= 1).all() and (overlapping.flatten(1).sum(1) == 49).all()


class PixelLinear(nn.Module):
    """Two logits: class 0 is 0, class 1 is ``<weight, image>``; counts its forward passes."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.weight = weight
        self.calls: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(x.shape[0])
        z1 = (x[:, 0] * self.weight).flatten(1).sum(1)
        return torch.stack([torch.zeros_like(z1), z1], dim=1)


def test_a_patch_the_model_ignores_scores_zero_in_one_forward_pass():
    weight = torch.ones(28, 56)
    weight[7:14, 14:21] = 0  # patch (row 1, column 2) = index 1 * 8 + 2 = 10
    model = PixelLinear(weight)
    images = torch.rand(3, 1, 28, 56)
    scored = patch_scores(model, images, 1, patch_size=7, fill=0.0, score="pmi")
    assert model.calls == [3 * 33]  # 32 patches + the blank image, all images at once
    assert torch.equal(scored.scores[:, 10], torch.zeros(3))
    assert (scored.scores[:, [0, 9, 11, 31]] > 0).all()
    # the pmi of M = 2 logits (0, z): z - log((1 + e^z) / 2)
    z = (images[:, 0, :7, :7]).flatten(1).sum(1)
    expected = z - torch.log((1 + z.exp()) / 2)  # the blank image has z = 0, pmi 0
    assert torch.allclose(scored.scores[:, 0], expected, atol=1e-5)


# -- the three masks on a hand-made case ------------------------------------------------------
class LeftHalfGap(nn.Module):
    """GAP + linear model that looks only at the left half: features = image * left-half mask."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.left = torch.zeros(1, 1, 1, width)
        self.left[..., : width // 2] = 1
        self.fc = nn.Linear(1, 2)
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor([[-1.0], [1.0]]))
            self.fc.bias.zero_()

    def forward_features(self, x):
        return x * self.left

    def forward_head(self, features, pre_logits=False):
        pooled = features.mean(dim=(2, 3))
        return pooled if pre_logits else self.fc(pooled)

    def get_classifier(self):
        return self.fc

    def forward(self, x):
        return self.forward_head(self.forward_features(x))


def test_three_masks_score_a_hand_made_case_with_known_answers():
    """14x28 image, 8 patches of 7x7: target ink fills patch 1 (left half), other ink fills
    patch 6 (right half). The model sees only the left half, so the info-mask and the CAM mask
    keep exactly the target's patch; a random mask of one patch keeps 1/8 of each ink."""
    ink = torch.zeros(1, 2, 14, 28)
    ink[0, 0, 0:7, 7:14] = 1.0  # patch 1
    ink[0, 1, 7:14, 14:21] = 1.0  # patch 6
    images = ink.sum(1, keepdim=True)
    model = LeftHalfGap(28).eval()
    mask, scored = info_mask(model, images, 1, patch_size=7, stride=None, aggregate="patch", threshold=0.2, fill=0.0)
    keep = keep_above_fraction_of_max(scored.scores, 0.2)
    assert keep[0].nonzero().flatten().tolist() == [1]
    from infocam.registry import CAMS

    cam = CAMS.create("infocam", region_size=1)
    cam_map = cam.compute(model, images, [torch.tensor([1])]).maps[0]
    cam_mask = keep_above_fraction_of_max(cam_map, 0.2)
    random = random_mask_probability(keep.sum(1), scored.masks)
    results = {}
    for name, m in (("info", mask), ("cam", cam_mask), ("random", random)):
        metric = InkSurvival()
        metric.update(m, ink)
        results[name] = {k: float(v) for k, v in metric.compute().items()}
    assert results["info"] == {"target_ink": 1.0, "other_ink": 0.0}
    assert results["cam"] == {"target_ink": 1.0, "other_ink": 0.0}
    assert results["random"] == pytest.approx({"target_ink": 1 / 8, "other_ink": 1 / 8})


def test_random_mask_probability_matches_enumeration_with_overlaps():
    masks = patch_masks(9, 9, 5, stride=2)  # 3 x 3 overlapping patches
    num = masks.shape[0]
    from itertools import combinations

    for k in (0, 1, 4, 9):
        counted = torch.zeros(9, 9, dtype=torch.float64)
        subsets = list(combinations(range(num), k))
        for subset in subsets:
            counted += masks[list(subset)].any(0).double() if subset else 0
        expected = counted / len(subsets)
        assert torch.allclose(random_mask_probability(torch.tensor([k]), masks)[0].double(), expected, atol=1e-5)


# -- the paper's literal score, the non-positive max, the blank-gain option -----------------------
class OffsetPixelLinear(PixelLinear):
    """``PixelLinear`` whose class-1 logit adds ``offset`` (the blank image's z_1)."""

    def __init__(self, weight: torch.Tensor, offset: float) -> None:
        super().__init__(weight)
        self.offset = offset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) + torch.tensor([0.0, self.offset])


def patch_image(values: list[float]) -> torch.Tensor:
    """A 14x28 image of 8 tiles of 7x7; tile i has total ink ``values[i]`` (spread evenly)."""
    image = torch.zeros(1, 1, 14, 28)
    for i, value in enumerate(values):
        r, c = divmod(i, 4)
        image[0, 0, 7 * r : 7 * r + 7, 7 * c : 7 * c + 7] = value / 49
    return image


def test_literal_logit_is_the_default_and_keeps_patches_above_20_percent_of_max():
    defaults = infomask_settings()
    assert defaults["score"] == "logit" and defaults["gain_over_blank"] is False and defaults["threshold"] == 0.2
    # z_1 of a patch shown alone = its ink: 10, 2.5, 1.9, 0, ... -> 20 % of 10 = 2 keeps tiles 0 and 1
    image = patch_image([10.0, 2.5, 1.9, 0.0, 4.0, 0.0, 0.0, 1.0])
    model = PixelLinear(torch.ones(14, 28))
    mask, scored = info_mask(model, image, 1, patch_size=7, stride=None, aggregate="patch", fill=0.0)
    assert torch.allclose(scored.scores[0], torch.tensor([10.0, 2.5, 1.9, 0.0, 4.0, 0.0, 0.0, 1.0]), atol=1e-5)
    assert keep_above_fraction_of_max(scored.scores, 0.2)[0].nonzero().flatten().tolist() == [0, 1, 4]
    assert int(mask.sum()) == 3 * 49
    # the default score is z_t itself, not shifted by the blank image: an offset of 5 lifts every
    # patch to >= 5 > 0.2 * 15, so every patch passes (the literal rule is not shift-invariant)
    shifted, scored = info_mask(OffsetPixelLinear(torch.ones(14, 28), 5.0), image, 1, patch_size=7, stride=None,
                                aggregate="patch", fill=0.0)
    assert torch.allclose(scored.scores[0, 0], torch.tensor(15.0)) and bool(shifted.all())


def test_a_non_positive_max_keeps_nothing():
    values = torch.tensor([[-3.0, -1.0, -2.0], [0.0, 0.0, 0.0], [-1.0, 2.0, 0.3], [4.0, 0.8, 0.81]])
    kept = keep_above_fraction_of_max(values, 0.2)
    assert kept.tolist() == [[False] * 3, [False] * 3, [False, True, False], [True, False, True]]
    # through the model: every patch's z_1 is negative, so the info-mask is empty in both aggregations
    model = OffsetPixelLinear(torch.ones(14, 28), -50.0)
    image = patch_image([10.0, 2.5, 1.9, 0.0, 4.0, 0.0, 0.0, 1.0])
    for aggregate in ("patch", "pixel"):
        mask, scored = info_mask(model, image, 1, patch_size=7, stride=None, aggregate=aggregate, fill=0.0)
        assert (scored.scores < 0).all() and not mask.any()


def test_gain_over_blank_subtracts_the_blank_images_score():
    image = patch_image([10.0, 2.5, 1.9, 0.0, 4.0, 0.0, 0.0, 1.0])
    model = OffsetPixelLinear(torch.ones(14, 28), 5.0)
    literal = patch_scores(model, image, 1, patch_size=7, fill=0.0)
    gain = patch_scores(model, image, 1, patch_size=7, fill=0.0, gain_over_blank=True)
    assert torch.allclose(literal.blank, torch.tensor([5.0])) and torch.equal(literal.blank, gain.blank)
    assert torch.allclose(gain.scores, literal.scores - 5.0)
    # with the offset removed, the 20 % rule is back on the ink: tiles 0, 1 and 4 (as without offset)
    mask, _ = info_mask(model, image, 1, patch_size=7, stride=None, aggregate="patch", fill=0.0, gain_over_blank=True)
    assert int(mask.sum()) == 3 * 49
    with pytest.raises(ConfigError, match="gain_over_blank must be true or false"):
        info_mask(model, image, 1, gain_over_blank="yes")


@pytest.mark.parametrize("override, message", [
    ("infomask.fill=nan", r"infomask.fill must be a number or null .*finite.*got nan"),
    ("infomask.fill=inf", r"infomask.fill must be a number or null .*finite.*got inf"),
    ("infomask.fill=-inf", r"infomask.fill must be a number or null .*finite.*got -inf"),
    ("infomask.num_examples=-1", r"infomask.num_examples must be a count >= 0 .*got -1"),
])
def test_a_non_finite_fill_or_a_negative_example_count_is_refused(make_cfg, override, message):
    """Hydra reads ``nan``/``inf`` as floats; a NaN blank made every ink score 0.0 and a negative
    count wrote no grid, both silently (issue 28). The settings check refuses them, at train and
    at ``infocam-eval +infomask.X=`` (which goes through the same check)."""
    cfg = make_cfg(["experiment=infomask_mnist", override, *QUIET])
    with pytest.raises(ConfigError, match=message):
        infomask_settings(cfg.infomask)
    key = override.split("=")[0].removeprefix("infomask.")
    with pytest.raises(ConfigError, match=message):  # the library call reads the same check
        info_mask(nn.Identity(), torch.zeros(1, 1, 28, 28), 0, **{key: cfg.infomask[key]})
    assert infomask_settings({"fill": 0.5, "num_examples": 0})["fill"] == 0.5  # finite values and no grid stay fine


@pytest.mark.parametrize("override", ["infomask.fill=nan", "infomask.num_examples=-1"])
def test_the_command_line_refuses_them_in_one_line(tmp_path, override):
    proc = run_cli_in_process("train", ["experiment=infomask_mnist", override, f"data.root={tmp_path / 'none'}",
                                        f"hydra.run.dir={tmp_path / 'run'}", *QUIET], cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [proc.stderr.strip()] and override.split("=")[0] in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_pixel_aggregation_scores_each_pixel_by_its_windows_and_random_mask_has_its_area():
    """Overlapping 14x14 windows at stride 7 over 14x28: 3 windows (columns 0, 7, 14). Ink only
    in columns 0..6, so windows 0 scores 1 and the others 0; pixels in columns 0..6 are covered by
    window 0 only (mean 1), columns 7..13 by windows 0 and 1 (mean 0.5), the rest 0 or less."""
    image = torch.zeros(1, 1, 14, 28)
    image[0, 0, :, :7] = 1 / 98
    model = PixelLinear(torch.ones(14, 28))
    mask, scored = info_mask(model, image, 1, patch_size=14, stride=7, aggregate="pixel", fill=0.0, threshold=0.6)
    assert torch.allclose(scored.scores[0], torch.tensor([1.0, 0.0, 0.0]), atol=1e-5)
    assert bool(mask[0, :, :7].all()) and not mask[0, :, 7:].any()
    loose, _ = info_mask(model, image, 1, patch_size=14, stride=7, aggregate="pixel", fill=0.0, threshold=0.2)
    assert bool(loose[0, :, :14].all()) and not loose[0, :, 14:].any()
    union, _ = info_mask(model, image, 1, patch_size=14, stride=7, aggregate="patch", fill=0.0, threshold=0.6)
    assert bool(union[0, :, :14].all()) and not union[0, :, 14:].any()  # the whole window
    assert torch.allclose(random_mask_of_area(mask), torch.full((1, 14, 28), 0.25))


# -- one source of the defaults -------------------------------------------------------------------
def test_infomask_defaults_have_one_source(tmp_path, monkeypatch):
    """Editing conf/infomask/default.yaml changes the task's settings, ``info_mask``'s defaults
    and the recipe's composed config: there is no second copy."""
    import shutil

    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from infocam.runtime import shipped_conf as configs
    from infocam.tasks.infomask import InfoMaskModule

    conf = tmp_path / "conf"
    shutil.copytree(configs.config_dir(), conf)
    text = (conf / "infomask" / "default.yaml").read_text()
    assert "patch_size: 28 " in text and "threshold: 0.2 " in text
    text = text.replace("patch_size: 28 ", "patch_size: 10 ").replace("threshold: 0.2 ", "threshold: 0.35 ")
    (conf / "infomask" / "default.yaml").write_text(text)
    monkeypatch.setattr(configs, "config_dir", lambda: conf)
    assert infomask_settings()["patch_size"] == 10
    module = InfoMaskModule({"name": "gap_cnn", "channels": [4], "in_channels": 1}, {"name": "softmax"},
                            {"_target_": "torch.optim.Adam"}, num_classes=2, confusion_matrix=False)
    assert module.settings["patch_size"] == 10 and module.settings["threshold"] == 0.35
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["experiment=infomask_mnist"])
    GlobalHydra.instance().clear()
    assert cfg.infomask.patch_size == 10 and cfg.task.infomask.threshold == 0.35


# -- the font stand-in ----------------------------------------------------------------------------
def thick_fraction(images: np.ndarray) -> float:
    """Share of ink pixels (> 127) more than 2.5 px from the background: ~0 for 2-3 px strokes."""
    from scipy.ndimage import distance_transform_edt

    ink = images > 127
    depth = np.stack([distance_transform_edt(i) for i in ink])
    return float((depth >= 2.5).sum() / ink.sum())


def test_font_standin_writes_valid_idx_files_with_thin_strokes(tmp_path):
    from infocam.data.mnist import load_mnist_split
    from infocam.data.standins.digits import digits_as_mnist_arrays
    from infocam.data.standins.font_digits import (
        render_digits,
        write_font_digits_as_mnist,
    )

    written = write_font_digits_as_mnist(tmp_path, num_train=30, num_test=10, seed=3)
    assert len(written) == 4 and all(p.suffix == ".gz" for p in written)
    train_images, train_labels = load_mnist_split(str(tmp_path), "train")
    test_images, test_labels = load_mnist_split(str(tmp_path), "test")
    assert train_images.shape == (30, 28, 28) and train_images.dtype == torch.uint8
    assert test_images.shape == (10, 28, 28) and sorted(test_labels.tolist()) == list(range(10))
    assert torch.bincount(train_labels, minlength=10).tolist() == [3] * 10
    images = train_images.numpy()
    # MNIST-like: every digit drawn, its ink inside a 20x20 box, little ink, thin strokes
    assert (images.reshape(30, -1).max(1) > 150).all()
    for axis in (1, 2):
        assert ((images > 0).any(axis).sum(1) <= 20).all()
    assert 0.05 < float((images > 127).mean()) < 0.2
    assert thick_fraction(images) < 0.02
    # the 8x8-digits stand-in fails the same stroke bound: its digits are upsampled blocks
    assert thick_fraction(digits_as_mnist_arrays()[0][:30]) > 0.05
    # seeded: the same seed draws the same pixels, another seed others
    labels = np.arange(4)
    assert np.array_equal(render_digits(labels, seed=5), render_digits(labels, seed=5))
    assert not np.array_equal(render_digits(labels, seed=5), render_digits(labels, seed=6))


def test_report_keeps_runs_with_other_infomask_settings_apart():
    from infocam.reporting.infomask import MASK_ROWS, table_markdown

    def row(patch_size, gain, value):
        r = {"target_digit": 0, "seed": 1, "cam": "infocam", "patch_size": patch_size, "threshold": 0.2, "stride": 7,
             "aggregate": "pixel", "score": "logit", "gain_over_blank": gain, "acc": 1.0, "seconds": 1.0, "directory": "d"}
        return r | {f"{m}_{o}_ink": value for m, _ in MASK_ROWS for o in ("target", "other")}

    table = table_markdown([row(28, False, 0.5), row(28, True, 0.25), row(28, False, 0.7)], "logs")
    assert table.count("## target digit 0") == 2
    assert "score logit minus the blank image, windows 28 px at stride 7 (pixel)" in table
    assert "| info-mask (§4) | 60.0 ± 14.1 |" in table and "| info-mask (§4) | 25.0 |" in table


# -- end to end ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_infomask_experiment_end_to_end_on_idx_fixture(make_cfg, tmp_path):
    make_mnist(tmp_path / "data", train_per_class=(20,) * 10, test_per_class=(6,) * 10)
    run_dir = tmp_path / "run"
    cfg = make_cfg(
        ["experiment=infomask_mnist", f"data.root={tmp_path / 'data'}", "data.target_digit=0",
         "data.num_train=200", "data.num_val=40", "data.num_test=60", "data.eval_batch_size=25",
         "model.channels=[4,8]", "task.mc_samples=4", "trainer.max_epochs=2", "infomask.num_examples=3", *QUIET],
        output_dir=run_dir,
    )
    train(cfg)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for mask in ("infomask", "cammask", "randommask"):
        for owner in ("target", "other"):
            assert 0.0 <= metrics[f"test/{mask}_{owner}_ink"] <= 1.0
    for stage in ("val", "test"):
        assert metrics[f"{stage}/dv_lower_bound"] < metrics[f"{stage}/log_softmax_mean"] < 0.0
    assert (run_dir / "infomask" / "infomask_grid.png").stat().st_size > 5_000
    build_report(OmegaConf.create({"kind": "infomask", "sweep_dir": str(run_dir), "out_dir": str(tmp_path / "reports")}))
    table = (tmp_path / "reports" / "infomask.md").read_text()
    assert "## target digit 0 (1 runs" in table
    info_target = 100 * metrics["test/infomask_target_ink"]
    assert f"| info-mask (§4) | {info_target:.1f} |" in table
    assert "| CAM map (cam=infocam) |" in table
    rows = (tmp_path / "reports" / "infomask.csv").read_text().splitlines()
    assert len(rows) == 2 and rows[0].startswith("target_digit,seed,cam,patch_size")


@pytest.mark.slow
def test_ink_scores_under_ddp_equal_one_process_and_settings_change_at_eval(make_cfg, tmp_path):
    """61 test composites in batches of 10 on 2 ranks: uneven shards, no padding, summed states;
    then infocam-eval with other info-masking settings over the same checkpoint."""
    make_mnist(tmp_path / "data", train_per_class=(10,) * 10, test_per_class=(4,) * 10)
    data = [f"data.root={tmp_path / 'data'}", "data.num_train=60", "data.num_val=20", "data.num_test=61",
            "data.eval_batch_size=10", "data.batch_size=20"]
    train(make_cfg(["experiment=infomask_mnist", *data, "model.channels=[4,8]", "trainer.max_epochs=1", *QUIET],
                   output_dir=tmp_path / "train"))
    ckpt = next((tmp_path / "train" / "checkpoints").glob("epoch_*.ckpt"))
    args = [*data, "data=mnist_composite", f"ckpt_path={ckpt}", "logger=none", "trainer.enable_progress_bar=false"]
    single = evaluate(make_cfg([*args, "trainer=cpu"], "eval", tmp_path / "single"))
    ddp = evaluate(make_cfg([*args, "trainer=ddp_cpu", "trainer.strategy=ddp_fork"], "eval", tmp_path / "ddp"))
    keys = [f"test/{m}_{o}_ink" for m in ("infomask", "cammask", "randommask") for o in ("target", "other")]
    assert ddp["test/acc"] == single["test/acc"]
    for key in keys:
        assert ddp[key] == pytest.approx(single[key], abs=1e-6)
    assert (tmp_path / "single" / "reports" / "infomask.md").is_file()  # infocam-eval writes the report
    # info-masking settings change at evaluation, over the trained ones, and the report says so
    wide = evaluate(make_cfg([*args, "trainer=cpu", "+infomask.patch_size=14", "+infomask.threshold=0.5",
                              "+infomask.score=pmi", "+infomask.gain_over_blank=true"], "eval", tmp_path / "wide"))
    assert wide["test/acc"] == single["test/acc"]
    assert wide["test/infomask_target_ink"] != single["test/infomask_target_ink"]
    row = (tmp_path / "wide" / "reports" / "infomask.csv").read_text().splitlines()[1].split(",")
    assert row[3:9] == ["14", "0.5", "7", "pixel", "pmi", "True"]  # patch_size, threshold, stride, aggregate, ...
    with pytest.raises(ConfigError, match=r"unknown infomask settings \['patchsize'\]; known: patch_size"):
        evaluate(make_cfg([*args, "trainer=cpu", "+infomask.patchsize=14"], "eval", tmp_path / "typo"))
