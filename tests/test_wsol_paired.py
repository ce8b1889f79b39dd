"""Issue 20 item 6: per-image WSOL results and the paired / over-seeds comparisons with CAM."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from scipy.stats import bootstrap

from infocam.localization.paper_metrics import MaxBoxAccV2, component_hits
from infocam.localization.per_image_file import PerImageResults, load_per_image
from infocam.reporting.wsol import write_wsol_table
from infocam.reporting.wsol_paired import maxboxacc_statistic, paired_bootstrap
from infocam.runtime.io import atomic_write_text, write_metrics

THRESHOLDS = [i / 10 for i in range(10)]
IOUS = [0.3, 0.5, 0.7]


def test_gt_known_interval_matches_scipy_paired_percentile_bootstrap():
    rng = np.random.default_rng(1)
    a = rng.random(400) < 0.6
    b = a.copy()
    b[rng.choice(400, 40, replace=False)] ^= True  # mostly the same images hit: a paired test is tighter
    diff, low, high = paired_bootstrap(a[:, None], b[:, None], resamples=4000, seed=3)
    assert diff == pytest.approx(a.mean() - b.mean())
    ref = bootstrap((a.astype(float), b.astype(float)), lambda x, y, axis: x.mean(axis) - y.mean(axis), paired=True,
                    vectorized=True, method="percentile", n_resamples=4000, random_state=5).confidence_interval
    assert low == pytest.approx(ref.low, abs=0.01) and high == pytest.approx(ref.high, abs=0.01)
    assert paired_bootstrap(a[:, None], b[:, None], resamples=4000, seed=3) == (diff, low, high)  # seeded
    unpaired = np.percentile([rng.choice(a, 400).mean() - rng.choice(b, 400).mean() for _ in range(2000)], [2.5, 97.5])
    assert high - low < 0.5 * (unpaired[1] - unpaired[0])


def _maps(seed: int, batch: int = 6, size: int = 24) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    maps = torch.nn.functional.avg_pool2d(torch.rand(batch, 1, size, size, generator=gen), 5, 1, 2)[:, 0]
    boxes = torch.tensor([[4.0, 4.0, 16.0, 18.0], [0.0, 0.0, 0.0, 0.0]]).expand(batch, 2, 4).clone()
    counts = torch.ones(batch, dtype=torch.long)
    return maps, boxes, counts


@pytest.mark.parametrize("backend", ["torch", "numba"])
def test_per_image_hits_sum_to_the_counts_and_reproduce_maxboxacc(backend):
    maps, boxes, counts = _maps(0)
    per_image = component_hits(maps, boxes, counts, THRESHOLDS, IOUS, backend=backend, per_image=True)
    assert per_image.shape == (3, 10, 6) and per_image.dtype == torch.bool
    assert torch.equal(per_image.sum(dim=2), component_hits(maps, boxes, counts, THRESHOLDS, IOUS, backend=backend))
    metric = MaxBoxAccV2(THRESHOLDS, IOUS, backend=backend, keep_per_image=True)
    for seed in (0, 1):
        metric.update(*_maps(seed))
    grid = torch.cat(metric.image_hits).double().numpy()  # [N, D, T]
    value = maxboxacc_statistic((3, 10))(grid.reshape(len(grid), -1).mean(axis=0)[None])[0]
    assert value == pytest.approx(float(metric.compute()["maxboxacc_v2"]))
    metric.reset()
    assert metric.image_hits == []


def _write_run(directory, cam: dict, checkpoint: str, gt_hits: np.ndarray, box_hits: np.ndarray, ids=None) -> None:
    """A fabricated infocam-eval run: config.yaml, metrics.json and per_image.npz from given hits."""
    n = len(gt_hits)
    cfg = OmegaConf.create({"ckpt_path": checkpoint, "data": {"_target_": "infocam.data.cub.CUBDataModule"},
                            "model": {"name": "vgg16_gap"}, "cam": {"alignment": "same", **cam},
                            "localization": {"threshold": 0.2, "iou_threshold": 0.5}})
    atomic_write_text(directory / "config.yaml", OmegaConf.to_yaml(cfg))
    grid = torch.from_numpy(box_hits)
    best = grid.double().mean(0).argmax(dim=1)
    recorder = PerImageResults()
    recorder.update(ids or [str(i) for i in range(n)], torch.from_numpy(gt_hits), torch.from_numpy(gt_hits))
    recorder.write(directory, [grid], THRESHOLDS, IOUS, [THRESHOLDS[int(t)] for t in best], 0.2, 0.5)
    maxbox = float(grid.double().mean(0).amax(dim=1).mean())
    write_metrics(directory / "metrics.json", {"test/gt_known_loc": float(gt_hits.mean()), "test/maxboxacc_v2": maxbox,
                                               "test/top1_loc": 0.1, "seconds": 1.0})


def _hits(rng, n: int, rate: float) -> tuple[np.ndarray, np.ndarray]:
    gt = rng.random(n) < rate
    grid = rng.random((n, 3, 10)) < rate * np.linspace(0.5, 1.0, 10)
    return gt, grid


def test_report_gives_paired_intervals_and_seed_statistics(tmp_path):
    rng = np.random.default_rng(0)
    sweep = tmp_path / "sweep"
    for seed, ckpt in enumerate(["/ckpt/seed0.ckpt", "/ckpt/seed1.ckpt"]):
        cam_gt, cam_grid = _hits(rng, 300, 0.4)
        better_gt, better_grid = cam_gt | (rng.random(300) < 0.3), cam_grid | (rng.random((300, 3, 10)) < 0.3)
        _write_run(sweep / f"s{seed}_cam", {"name": "cam", "region_size": 1}, ckpt, cam_gt, cam_grid)
        _write_run(sweep / f"s{seed}_info", {"name": "infocam", "region_size": 5}, ckpt, better_gt, better_grid)
        same_gt, same_grid = cam_gt.copy(), cam_grid.copy()
        _write_run(sweep / f"s{seed}_plus", {"name": "infocam_plus", "region_size": 5}, ckpt, same_gt, same_grid)
    # another checkpoint's infoCAM whose images are not the CAM eval's: named, not paired
    other = tmp_path / "other"
    _write_run(other / "cam", {"name": "cam", "region_size": 1}, "/ckpt/x.ckpt", *_hits(rng, 20, 0.5))
    _write_run(other / "info", {"name": "infocam", "region_size": 5}, "/ckpt/x.ckpt", *_hits(rng, 20, 0.5),
               ids=[f"other{i}" for i in range(20)])

    files = write_wsol_table(str(sweep), str(tmp_path / "out"))
    assert [f.name for f in files] == ["wsol_eval.csv", "wsol_eval.md", "wsol_eval_paired.csv"]
    md = files[1].read_text()
    section = md.split("### Against CAM on the same checkpoint", 1)[1].split("###", 1)[0]
    info = [line for line in section.splitlines() if "| infocam | 5 |" in line]
    plus = [line for line in section.splitlines() if "| infocam_plus | 5 |" in line]
    assert len(info) == 2 and len(plus) == 2
    assert all("| 300 |" in line and line.count("**+") == 2 for line in info)  # both intervals above 0
    assert all("+0.00 [+0.00, +0.00]" in line for line in plus)  # identical hits: a zero-width interval
    seeds = md.split("### Against CAM over training seeds", 1)[1]
    row = next(line for line in seeds.splitlines() if "| infocam | 5 |" in line)
    assert "| 2 |" in row and " ± " in row and "0.3333" in row  # MWU, 2 vs 2 seeds all above: p = 1/3
    paired_csv = files[2].read_text().splitlines()
    assert paired_csv[0].startswith("dataset,backbone,adl,cam,region_size,alignment,subtract,paired_images,")
    assert len(paired_csv) == 1 + 4

    md_other = write_wsol_table(str(other), str(tmp_path / "out2"))[1].read_text()
    assert "not paired: no image ids in common" in md_other


def test_per_image_file_roundtrip_joins_ranks(tmp_path):
    rng = np.random.default_rng(2)
    for rank in (0, 1):
        gt, grid = _hits(rng, 5, 0.5)
        recorder = PerImageResults()
        recorder.update([f"r{rank}_{i}" for i in range(5)], torch.from_numpy(gt), torch.from_numpy(gt))
        recorder.write(tmp_path, [torch.from_numpy(grid)], THRESHOLDS, IOUS, [0.0, 0.1, 0.2], 0.2, 0.5, rank, 2)
    data = load_per_image(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["per_image.rank0.npz", "per_image.rank1.npz"]
    assert data["box_hits"].shape == (10, 3, 10) and data["box_hits"].dtype == bool
    assert list(data["ids"][:2]) == ["r0_0", "r0_1"] and data["best_threshold_hits"].shape == (10, 3)
    np.testing.assert_array_equal(data["best_threshold_hits"][:, 2], data["box_hits"][:, 2, 2])
