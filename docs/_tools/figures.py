"""``make docs-figures``: the pictures the docs pages show, from small real runs on the embedded data.

Each figure comes from the project's own commands (``infocam-train``, ``infocam-eval``,
``infocam-eval-maps``, ``infocam-report``) at small sizes, so it shows what the code draws, not a
mock-up; ``docs/figures/*.png`` are then shrunk to a palette PNG (well under 200 KB each). The
commands are printed as they run and are the ones the captions in the pages quote.

    python docs/_tools/figures.py [--work logs/docs_figures] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ROOT / "docs" / "figures"
BIN = Path(sys.executable).parent
MAX_WIDTH = 1400  # px: a docs column is narrower; beyond this only the file grows


def run(*args: str, check: bool = True) -> None:
    """One CLI call, echoed; a failure stops the target (a figure is never left stale silently).
    ``check=False`` for a multirun whose diverged cell the report counts as failed (as the Makefile's ``-``)."""
    print("$", " ".join(args), flush=True)
    start = time.perf_counter()
    subprocess.run([str(BIN / args[0]) if (BIN / args[0]).exists() else args[0], *args[1:]], check=check, cwd=ROOT)
    print(f"  ({time.perf_counter() - start:.0f} s)", flush=True)


def save_small(png: bytes | Path, name: str, colors: int = 128) -> Path:
    """Write ``docs/figures/NAME`` as an adaptive-palette PNG (what keeps each file small)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png) if isinstance(png, bytes) else png).convert("RGB")
    if image.width > MAX_WIDTH:
        image = image.resize((MAX_WIDTH, round(image.height * MAX_WIDTH / image.width)), Image.LANCZOS)
    image = image.quantize(colors=colors, method=Image.Quantize.MEDIANCUT)
    FIGURES.mkdir(parents=True, exist_ok=True)
    out = FIGURES / name
    image.save(out, optimize=True)
    print(f"  -> {out.relative_to(ROOT)} ({out.stat().st_size / 1024:.0f} KB)", flush=True)
    return out


def mi_table2(work: Path) -> None:
    sweep = work / "mi_table2"
    shutil.rmtree(sweep, ignore_errors=True)
    run("infocam-train", "experiment=mi_gmm", "sweep=mi_table2", "data.size_scale=0.1", "data.mc_samples=100000",
        "trainer.max_epochs=5", f"hydra.sweep.dir={sweep}")
    run("infocam-report", "kind=mi_table2", f"sweep_dir={sweep}", f"out_dir={work / 'reports'}")
    save_small(work / "reports" / "mi_table2.png", "mi_table2.png")


def mi_zoo(work: Path) -> None:
    sweep = work / "mi_zoo"
    shutil.rmtree(sweep, ignore_errors=True)
    run("infocam-train", "experiment=mi_gmm", "sweep=mi_zoo", "data.family=gaussian", "data.transform=null,cube",
        "data.dim=5", "data.n=500,2000", "loss=pc_softmax,mine,knn", "data.seed=0", "trainer.max_epochs=10",
        f"hydra.sweep.dir={sweep}", check=False)
    run("infocam-report", "kind=mi_zoo", f"sweep_dir={sweep}", f"out_dir={work / 'reports'}")
    save_small(work / "reports" / "mi_zoo.png", "mi_zoo.png")


def _wsol_checkpoint(work: Path) -> Path:
    train = work / "wsol" / "train"
    found = sorted((train / "checkpoints").glob("epoch_*.ckpt"))
    if not found:
        shutil.rmtree(train, ignore_errors=True)
        run("infocam-train", "experiment=wsol_synthetic", "callbacks=quiet", "trainer.enable_progress_bar=false",
            f"hydra.run.dir={train}")
        found = sorted((train / "checkpoints").glob("epoch_*.ckpt"))
    return found[0]


def wsol_overlays(work: Path) -> None:
    """CAM beside infoCAM and infoCAM+ (R = 3) on the same test images, drawn by ``infocam.overlay``."""
    import torch

    from infocam import CAM, InfoCAM, InfoCAMPlus, cams_to_boxes, overlay
    from infocam.data.synthetic_loc import SyntheticLocalizationDataModule
    from infocam.registry import MODELS
    from infocam.runtime.checkpoints import load_checkpoint

    checkpoint = load_checkpoint(_wsol_checkpoint(work))
    hparams = checkpoint["hyper_parameters"]
    net = MODELS.from_spec(hparams["model"], num_classes=hparams["num_classes"])
    net.load_state_dict({k.removeprefix("net."): v for k, v in checkpoint["state_dict"].items() if k.startswith("net.")})
    net.eval()
    data = SyntheticLocalizationDataModule(num_test=6)
    data.setup("test")
    images, labels, gt_boxes, gt_counts = next(iter(data.test_dataloader()))[:4]
    methods = {"CAM": CAM(net), "infoCAM (R=3)": InfoCAM(net, region_size=3), "infoCAM+ (R=3)": InfoCAMPlus(net, region_size=3)}
    maps = {title: method(images, targets=labels) for title, method in methods.items()}
    boxes = {title: cams_to_boxes(m, threshold=0.2) for title, m in maps.items()}
    # one row per image, one column per method
    order = [(row, title) for row in range(len(images)) for title in methods]
    png = io.BytesIO()
    overlay(
        torch.stack([images[row] for row, _ in order]),
        torch.stack([maps[title][row] for row, title in order]),
        torch.stack([boxes[title][row] for row, title in order]),
        [gt_boxes[row, : int(gt_counts[row])] for row, _ in order],
        captions=[title for _, title in order],
        title="GT-class maps, box at 20 % (green) vs ground truth (red)",
        columns=len(methods),
    ).save(png, format="PNG")
    save_small(png.getvalue(), "wsol_overlays.png", colors=48)  # noisy backgrounds: few colours keep it small


def maxboxacc_curve(work: Path) -> None:
    """infocam-eval with wsolevaluation's protocol saving its maps, then infocam-eval-maps scoring them."""
    ckpt = _wsol_checkpoint(work)
    saved, scored = work / "wsol" / "saved_maps", work / "wsol" / "eval_maps"
    shutil.rmtree(saved, ignore_errors=True)
    shutil.rmtree(scored, ignore_errors=True)
    run("infocam-eval", f"ckpt_path={ckpt}", "data=synthetic_loc", "cam=infocam_plus", "cam.region_size=3",
        "localization.protocol=wsolevaluation", "localization.save_scoremaps=true", f"hydra.run.dir={saved}")
    run("infocam-eval-maps", f"metadata_root={saved / 'scoremaps_metadata'}", f"scoremap_root={saved / 'scoremaps'}",
        f"hydra.run.dir={scored}")
    save_small(scored / "accuracy_curve.png", "maxboxacc_curve.png")


def infomask_grid(work: Path) -> None:
    fonts, run_dir = work / "font_digits", work / "infomask"
    if not (fonts / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").exists():
        run("python", "-m", "infocam.data.standins.font_digits", str(fonts), "--num-train", "2000", "--num-test", "400")
    shutil.rmtree(run_dir, ignore_errors=True)
    run("infocam-train", "experiment=infomask_mnist", f"data.root={fonts}", "data.target_digit=0",
        "data.num_train=1500", "data.num_val=200", "data.num_test=100", "trainer.max_epochs=4", "callbacks=quiet",
        "trainer.enable_progress_bar=false", f"hydra.run.dir={run_dir}")
    save_small(run_dir / "infomask" / "infomask_grid.png", "infomask_grid.png")


FIGURE_RUNS = {"mi_table2": mi_table2, "mi_zoo": mi_zoo, "wsol_overlays": wsol_overlays,
               "maxboxacc_curve": maxboxacc_curve, "infomask_grid": infomask_grid}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="logs/docs_figures", help="where the small runs write (relative to the repo)")
    parser.add_argument("--only", nargs="*", choices=sorted(FIGURE_RUNS), help="regenerate these figures only")
    args = parser.parse_args()
    work = (ROOT / args.work).resolve()
    for name in args.only or FIGURE_RUNS:
        print(f"== {name}", flush=True)
        FIGURE_RUNS[name](work)


if __name__ == "__main__":
    main()
