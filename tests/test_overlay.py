"""infocam.overlay and infocam.plotting: the one drawing of images, maps and boxes (issue 28)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import infocam
from infocam.errors import ConfigError
from infocam.plotting import batch_overlay_png, overlay_figure, overlay_panels


def _inputs(n: int = 5, size: int = 32):
    torch.manual_seed(0)
    images = torch.rand(n, 3, size, size)
    maps = torch.zeros(n, size // 8, size // 8)  # raw, feature-resolution maps
    maps[:, 1, 2] = 1.0
    boxes = torch.tensor([[8.0, 4.0, 24.0, 16.0]]).repeat(n, 1)
    gt = [np.array([[6, 4, 20, 18]])] * n
    return images, maps, boxes, gt


def _extents(fig):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    titles = [ax.title.get_window_extent(renderer) for ax in fig.axes if ax.get_title()]
    images = [ax.get_window_extent(renderer) for ax in fig.axes if ax.images]
    heading = [fig._suptitle.get_window_extent(renderer)] if fig._suptitle is not None else []
    return titles, images, heading


@pytest.mark.parametrize("n, columns", [(5, 2), (16, 8), (3, 8)])
def test_no_title_overlaps_an_image_or_another_title(n, columns):
    """Before: the second row's captions overlapped the first row's images."""
    images, maps, boxes, gt = _inputs(n)
    captions = [f"y={i} p={i + 1} IoU=0.{i:02d} a longer caption that must wrap" for i in range(n)]
    fig = overlay_figure(images, maps, boxes, gt, captions=captions, title="cam=infocam, region_size=5", columns=columns)
    titles, panels, heading = _extents(fig)
    assert len(titles) == n and len(panels) == n and len(heading) == 1
    texts = titles + heading
    for i, a in enumerate(texts):
        for panel in panels:
            assert not a.overlaps(panel), (i, a, panel)
        for b in texts[i + 1:]:
            assert not a.overlaps(b), (a, b)


def test_overlay_returns_a_picture_and_saves_a_png(tmp_path):
    images, maps, boxes, gt = _inputs(4)
    target = tmp_path / "grid.png"
    maps = torch.zeros_like(maps)  # a flat map is all dark blue: green and red pixels come from the boxes alone
    picture = infocam.overlay(images, maps, boxes, gt, captions=["a", "b", "c", "d"], columns=2, save=target)
    assert isinstance(picture, Image.Image) and picture.size[0] > 100
    with Image.open(target) as saved:
        assert saved.size == picture.size
    pixels = np.asarray(picture)[..., :3].astype(int)
    green = (pixels[..., 1] > 200) & (pixels[..., 0] < 80) & (pixels[..., 2] < 80)
    red = (pixels[..., 0] > 200) & (pixels[..., 1] < 60) & (pixels[..., 2] < 60)
    assert green.sum() > 200 and red.sum() > 200  # both boxes, on each of the 4 panels


def test_one_image_and_hwc_arrays_work_and_bad_input_is_one_line(tmp_path):
    image = (np.random.default_rng(0).random((24, 20, 3)) * 255).astype(np.uint8)
    picture = infocam.overlay(image, np.eye(6), boxes=[[2, 2, 10, 12]])
    assert isinstance(picture, Image.Image)
    with pytest.raises(ConfigError, match=r"maps must be \[N=2, h, w\]"):
        infocam.overlay(torch.rand(2, 3, 8, 8), torch.rand(3, 4, 4))
    with pytest.raises(ConfigError, match="captions must be one string per image"):
        infocam.overlay(torch.rand(2, 3, 8, 8), torch.rand(2, 4, 4), captions="one")
    with pytest.raises(ConfigError, match="name the file"):
        infocam.overlay(torch.rand(1, 3, 8, 8), torch.rand(1, 4, 4), save=tmp_path / "grid.jpg")


def test_nan_maps_and_empty_boxes_draw():
    images, maps, _, _ = _inputs(2)
    maps[0, 0, 0] = float("nan")
    panels = overlay_panels(images, maps, torch.zeros(2, 4))
    assert len(panels) == 2 and panels[0].dtype == np.uint8 and panels[0].shape[-1] == 3


def test_the_test_steps_grid_comes_from_the_same_drawing():
    images, maps, boxes, _ = _inputs(3)
    batch = {"images": images, "maps": maps, "boxes": boxes, "gt_boxes": torch.tensor([[[6, 4, 20, 18], [0, 0, 0, 0]]] * 3),
             "gt_counts": torch.tensor([1, 1, 1]), "labels": torch.tensor([0, 1, 2]), "predicted": torch.tensor([0, 2, 2]),
             "ious": torch.tensor([0.5, 0.25, 0.75])}
    png = batch_overlay_png(batch, "cam=cam")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


QUICK_TOUR = '''
import torch, torchvision, infocam
model = torchvision.models.resnet18(weights=None).eval()  # any CNN classifier; weights="DEFAULT" for real maps
images = torch.rand(2, 3, 128, 128)
maps = infocam.InfoCAM(model)(images)                     # [2, 128, 128] raw maps
boxes = infocam.cams_to_boxes(maps, threshold=0.2)        # [2, 4] (x0, y0, x1, y1), x1 = x0 + width
scores = infocam.evaluate_scoremaps(maps, boxes[:, None], prepare=True)
print(f"MaxBoxAccV2 {scores['maxboxacc_v2']:.1%}")        # fractions, as metrics.json
infocam.overlay(images, maps, boxes, captions=["a", "b"], save="overlay.png")
'''


def test_the_quick_tour_snippet_runs(tmp_path, monkeypatch, capsys):
    """The README quick-tour block (the docs carry this text): at most 12 lines, and it runs."""
    assert len(QUICK_TOUR.strip().splitlines()) <= 12
    monkeypatch.chdir(tmp_path)
    exec(compile(QUICK_TOUR, "quick tour", "exec"), {"__name__": "__tour__"})
    assert capsys.readouterr().out.startswith("MaxBoxAccV2 100.0%")  # its own boxes: every image a hit
    assert (tmp_path / "overlay.png").stat().st_size > 5_000
