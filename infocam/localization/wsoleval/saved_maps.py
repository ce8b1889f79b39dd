"""``infocam-eval-maps``: score saved score maps in wsolevaluation's layout, no model needed.

``metadata_root`` holds ``image_ids.txt`` (``relpath``), ``class_labels.txt``
(``relpath,label``), ``image_sizes.txt`` (``relpath,w,h``) and ``localization.txt``: boxes
``relpath,x0,y0,x1,y1`` (original pixels, one line per box) or masks
``relpath,mask.png,ignore.png`` (PNG paths under ``mask_root``; the ignore path may be empty
after an image's first line). ``scoremap_root`` holds ``<relpath>.npy`` per image: a 2-D
float map in [0, 1] (what their inference step saves). Everything is checked before the
first output is written, and every output is written atomically.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from omegaconf import DictConfig, OmegaConf

from infocam.data.formats.paths import inside
from infocam.errors import ConfigError, DataError
from infocam.runtime.io import atomic_write_bytes, atomic_write_text, ensure_writable_dir, write_metrics
from infocam.localization.wsoleval.protocol import RESIZE_LENGTH, check_scoremap, resize_box, resize_nearest
from infocam.plotting.figures import figure_png
from infocam.runtime.console import is_fraction

log = logging.getLogger(__name__)


@dataclass
class Metadata:
    """One split of wsolevaluation metadata, in ``image_ids.txt`` order."""

    image_ids: list[str]
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)
    boxes: dict[str, list[tuple[int, int, int, int]]] = field(default_factory=dict)
    masks: dict[str, list[str]] = field(default_factory=dict)
    ignores: dict[str, str] = field(default_factory=dict)

    @property
    def has_masks(self) -> bool:
        return bool(self.masks)


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    if not path.is_file():
        raise DataError(f"{path}: metadata file not found")
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\n").rstrip("\r")
            if line.strip():
                yield number, line


def _int(text: str, path: Path, number: int, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise DataError(f"{path}:{number}: {what} {text!r} is not an integer") from None


def read_metadata(root: str | Path) -> Metadata:
    """Parse and check the four metadata files (errors name the file and line)."""
    root = Path(root)
    ids_path = root / "image_ids.txt"
    image_ids: list[str] = []
    first_line: dict[str, int] = {}
    for number, image_id in _lines(ids_path):  # their check: every id once (a repeat would be scored twice)
        if image_id in first_line:
            raise DataError(f"{ids_path}:{number}: duplicate image id {image_id!r} (first on line {first_line[image_id]})")
        inside(Path("scoremap_root"), image_id, ids_path, number, "image id")  # ids name files under scoremap_root
        first_line[image_id] = number
        image_ids.append(image_id)
    if not image_ids:
        raise DataError(f"{ids_path}: no image ids")
    meta = Metadata(image_ids)
    box_lines: dict[str, list[int]] = {}
    sizes_path = root / "image_sizes.txt"
    for number, line in _lines(sizes_path):
        parts = line.split(",")
        if len(parts) != 3:
            raise DataError(f"{sizes_path}:{number}: expected 'relpath,w,h', got {line!r}")
        w, h = (_int(p, sizes_path, number, name) for p, name in zip(parts[1:], ("width", "height")))
        if w <= 0 or h <= 0:
            raise DataError(f"{sizes_path}:{number}: image size must be positive, got {w}x{h}")
        meta.sizes[parts[0]] = (w, h)
    loc_path = root / "localization.txt"
    for number, line in _lines(loc_path):
        parts = line.split(",")
        if len(parts) == 5:
            if meta.masks:
                raise DataError(f"{loc_path}:{number}: a box line in a mask file: {line!r}")
            x0, y0, x1, y1 = (_int(p, loc_path, number, "coordinate") for p in parts[1:])
            if min(x0, y0, x1, y1) < 0:
                raise DataError(f"{loc_path}:{number}: box coordinates must be non-negative, got {line!r}")
            if x1 < x0 or y1 < y0:
                raise DataError(f"{loc_path}:{number}: box must have x0 <= x1 and y0 <= y1, got {line!r}")
            meta.boxes.setdefault(parts[0], []).append((x0, y0, x1, y1))
            box_lines.setdefault(parts[0], []).append(number)
        elif len(parts) == 3:
            if meta.boxes:
                raise DataError(f"{loc_path}:{number}: a mask line in a box file: {line!r}")
            image_id, mask, ignore = parts
            if not mask:
                raise DataError(f"{loc_path}:{number}: empty mask path in {line!r}")
            for relpath in (mask, ignore) if ignore else (mask,):  # both are read from mask_root
                inside(Path("mask_root"), relpath, loc_path, number, "mask path")
            if image_id in meta.masks:
                if ignore:
                    raise DataError(f"{loc_path}:{number}: only an image's first mask line may name an ignore mask")
                meta.masks[image_id].append(mask)
            else:
                meta.masks[image_id] = [mask]
                meta.ignores[image_id] = ignore
        else:
            raise DataError(f"{loc_path}:{number}: expected 'relpath,x0,y0,x1,y1' or 'relpath,mask,ignore', got {line!r}")
    annotated = meta.masks if meta.masks else meta.boxes
    past_border = 0
    for image_id in image_ids:
        if image_id not in annotated:
            raise DataError(f"{loc_path}: no box or mask for image id {image_id!r} (listed in {ids_path})")
        if meta.boxes and image_id not in meta.sizes:
            raise DataError(f"{sizes_path}: no size for image id {image_id!r} (listed in {ids_path})")
        if meta.boxes:
            past_border += _check_boxes_in_image(meta, image_id, box_lines[image_id], loc_path)
    if past_border:  # scored as given, as theirs does; a box wholly outside was refused above
        log.warning("%s: %d box(es) reach past their image's border (image_sizes.txt)", loc_path, past_border)
    return meta


def _check_boxes_in_image(meta: Metadata, image_id: str, lines: list[int], loc_path: Path) -> int:
    """Refuse a box that starts beyond its image (``image_sizes.txt``): scaled to 224 it would
    lie outside every map. Returns how many boxes reach past the border (allowed, counted)."""
    width, height = meta.sizes[image_id]
    past = 0
    for (x0, y0, x1, y1), number in zip(meta.boxes[image_id], lines):
        if x0 >= width or y0 >= height:
            raise DataError(
                f"{loc_path}:{number}: box ({x0}, {y0}, {x1}, {y1}) lies outside its {width}x{height} image "
                f"(image_sizes.txt)"
            )
        past += x1 > width or y1 > height
    return past


def scaled_boxes(meta: Metadata, image_id: str) -> list[tuple[int, int, int, int]]:
    """Their ground truth: every box of ``image_id`` scaled to 224x224 with ``int(x * 224 / W)``."""
    size = meta.sizes[image_id]
    return [resize_box(box, size, (RESIZE_LENGTH, RESIZE_LENGTH)) for box in meta.boxes[image_id]]


def scoremap_path(scoremap_root: Path, image_id: str) -> Path:
    return scoremap_root / f"{image_id}.npy"


def load_scoremap(path: Path, image_id: str) -> np.ndarray:
    if not path.is_file():
        raise DataError(f"{path}: no score map for image id {image_id!r}")
    try:
        scoremap = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: not a readable .npy score map: {err}") from None
    check_scoremap(scoremap, str(path))
    return scoremap


def _png(path: Path) -> np.ndarray:
    from PIL import Image

    if not path.is_file():
        raise DataError(f"{path}: mask file not found")
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("L"), dtype=np.float32)
    except OSError as err:
        raise DataError(f"{path}: not a readable image: {err}") from None


def load_mask(meta: Metadata, mask_root: Path, image_id: str) -> np.ndarray:
    """Their ``get_mask``: uint8 224x224, 1 = object (any instance mask > 0.5), 255 = ignore
    (ignore mask minus the object), 0 = background."""
    objects = np.zeros((RESIZE_LENGTH, RESIZE_LENGTH), dtype=bool)
    for relpath in meta.masks[image_id]:
        objects |= resize_nearest(_png(mask_root / relpath), RESIZE_LENGTH) > 0.5
    ignore = np.zeros_like(objects)
    if meta.ignores.get(image_id):
        ignore = (resize_nearest(_png(mask_root / meta.ignores[image_id]), RESIZE_LENGTH) > 0.5) & ~objects
    return objects.astype(np.uint8) + 255 * ignore.astype(np.uint8)


def _curve_png(thresholds: np.ndarray, curves: dict[str, np.ndarray], title: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, values in curves.items():
        ax.plot(thresholds, values, label=name)
    ax.set_xlabel("CAM threshold")
    ax.set_ylabel("%")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return figure_png(fig, dpi=120)


def _curve_csv(thresholds: np.ndarray, curves: dict[str, np.ndarray]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["threshold", *curves])
    for i, tau in enumerate(thresholds):
        writer.writerow([repr(float(tau)), *(repr(float(c[i])) for c in curves.values())])
    return out.getvalue()


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


USAGE = (
    "usage: infocam-eval-maps metadata_root=DIR scoremap_root=DIR [mask_root=DIR] [cam_curve_interval=0.01] "
    "[multi_contour_eval=true] [iou_threshold_list=[30,50,70]] [batch_size=64]"
)


def _number(cfg: DictConfig, key: str, kind: type, default: Any = None) -> Any:
    value = cfg.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not float(value).is_integer()):
        raise ConfigError(f"{key} must be {'an integer' if kind is int else 'a number'}, got {value!r}")
    return kind(value)


def _settings(cfg: DictConfig) -> tuple[float, list[float], int]:
    """(cam_curve_interval, iou_threshold_list, batch_size), each checked, before any file is read."""
    missing = [k for k in ("metadata_root", "scoremap_root") if OmegaConf.is_missing(cfg, k) or not cfg.get(k)]
    if missing:
        raise ConfigError(f"{' and '.join(missing)} must be set; {USAGE}")
    interval = _number(cfg, "cam_curve_interval", float)
    if not 0 < interval < 1:
        raise ConfigError(f"cam_curve_interval must be in (0, 1), got {interval}")
    ious = cfg.get("iou_threshold_list")
    if not OmegaConf.is_list(ious) and not isinstance(ious, (list, tuple)):
        raise ConfigError(f"iou_threshold_list must be a list such as [30,50,70], got {ious!r}")
    for value in ious:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"iou_threshold_list must hold numbers (percent or fraction), got {value!r}")
    batch_size = _number(cfg, "batch_size", int, 64)
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
    return interval, list(ious), batch_size


def evaluate_maps(cfg: DictConfig) -> dict[str, Any]:
    """Read, check, score; then write ``metrics.json`` and ``accuracy_curve.{csv,png}``."""
    from rich.progress import track

    from infocam.localization.wsoleval.metrics import WsolBoxAccuracy, WsolPxAP, as_fractions

    started = time.perf_counter()
    interval, iou_list, batch_size = _settings(cfg)
    output_dir = ensure_writable_dir(cfg.paths.output_dir)
    scoremap_root = Path(str(cfg.scoremap_root))
    if not scoremap_root.is_dir():
        raise ConfigError(f"scoremap_root={scoremap_root} is not a directory")
    meta = read_metadata(str(cfg.metadata_root))
    mask_root = None
    if meta.has_masks:
        if not cfg.get("mask_root"):
            raise ConfigError(f"{cfg.metadata_root}/localization.txt lists masks: set mask_root=DIR")
        mask_root = Path(str(cfg.mask_root))
    for image_id in meta.image_ids:  # every map exists before any work is done
        path = scoremap_path(scoremap_root, image_id)
        if not path.is_file():
            raise DataError(f"{path}: no score map for image id {image_id!r}")
    boxes = WsolBoxAccuracy(interval, iou_list, bool(cfg.multi_contour_eval))
    pxap = WsolPxAP(interval)
    batches = list(_batches(meta.image_ids, batch_size))
    progress = track(batches, description="scoring maps", disable=not cfg.get("progress", True))
    for ids in progress:
        maps = [load_scoremap(scoremap_path(scoremap_root, i), i) for i in ids]
        if mask_root is not None:
            for image_id, scoremap in zip(ids, maps):
                mask = load_mask(meta, mask_root, image_id)
                if scoremap.shape != mask.shape:
                    raise DataError(
                        f"{scoremap_path(scoremap_root, image_id)}: map is {scoremap.shape[0]}x{scoremap.shape[1]}, "
                        f"masks are scored at {RESIZE_LENGTH}x{RESIZE_LENGTH}"
                    )
                pxap.update(scoremap[None], mask[None])
            continue
        for image_id, scoremap in zip(ids, maps):  # boxes are scaled to 224: so must the maps be
            if scoremap.shape != (RESIZE_LENGTH, RESIZE_LENGTH):
                raise DataError(
                    f"{scoremap_path(scoremap_root, image_id)}: map is {scoremap.shape[0]}x{scoremap.shape[1]}, "
                    f"boxes are scored at {RESIZE_LENGTH}x{RESIZE_LENGTH} (their inference saves maps at that size)"
                )
        by_shape: dict[tuple[tuple[int, ...], str], list[int]] = {}
        for j, scoremap in enumerate(maps):  # one kernel call per map size and dtype
            by_shape.setdefault((scoremap.shape, scoremap.dtype.str), []).append(j)
        for members in by_shape.values():
            gts = [scaled_boxes(meta, ids[j]) for j in members]
            most = max(len(g) for g in gts)
            gt = np.zeros((len(members), most, 4), dtype=np.int64)
            for row, g in enumerate(gts):
                gt[row, : len(g)] = g
            counts = np.asarray([len(g) for g in gts], dtype=np.int64)
            boxes.update(np.stack([maps[j] for j in members]), gt, counts)
    metrics: dict[str, Any] = {"num_images": len(meta.image_ids), "cam_curve_interval": interval}
    thresholds = boxes.thresholds
    if mask_root is not None:
        metrics["pxap"] = float(pxap.compute())
        curves = pxap.curves()
    else:
        metrics.update({k: float(v) for k, v in boxes.compute().items()})
        curves = boxes.accuracy_curves()
    metrics["seconds"] = time.perf_counter() - started
    if curves:
        atomic_write_text(output_dir / "accuracy_curve.csv", _curve_csv(thresholds, curves))
        if "pxap" in metrics:  # the picture is for people: percent, as the curves
            title = f"PxAP {metrics['pxap']:.2f} % (pixel precision and recall, %)"
        else:
            title = f"MaxBoxAccV2 {metrics['maxboxacc_v2']:.2f} %, MaxBoxAcc {metrics['maxboxacc']:.2f} %"
        atomic_write_bytes(output_dir / "accuracy_curve.png", _curve_png(thresholds, curves, title))
    metrics = as_fractions(metrics)  # metrics.json holds fractions, as every infocam metrics.json
    atomic_write_text(output_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    write_metrics(output_dir / "metrics.json", metrics)
    shown = {k: f"{100 * v:.2f} %" if is_fraction(k) else v for k, v in metrics.items() if k != "seconds"}
    log.info("%s", ", ".join(f"{k} {v}" for k, v in shown.items()))  # for people: percent
    return metrics
