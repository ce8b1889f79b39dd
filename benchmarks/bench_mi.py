"""Time per Table 2 setting: the framework's run vs a plain PyTorch loop, same data, same run.

    make bench                      # every setting, 5 epochs each
    python benchmarks/bench_mi.py --epochs 3 --settings balanced:2:softmax unbalanced:10:mine

Both sides train the same MLP with the same optimiser, batch size and number of epochs on the
same GaussianMixtureDataModule tensors; the framework side additionally validates each epoch,
checkpoints, and computes the test metrics and the Monte-Carlo ground truth.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import open_dict

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("WANDB_MODE", "disabled")

from infocam.data.gmm import GaussianMixtureDataModule  # noqa: E402
from timing import record  # noqa: E402
from infocam.registry import LOSSES, MODELS  # noqa: E402
from infocam.run import train  # noqa: E402


def framework_seconds(prior: str, dim: int, loss: str, epochs: int, out: Path) -> tuple[float, dict]:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=[
            "experiment=mi_gmm", f"data.dim={dim}", f"data.balance={prior}", f"loss={loss}",
            f"trainer.max_epochs={epochs}", f"trainer.min_epochs={epochs}", "callbacks.early_stopping=null",
            "callbacks=quiet", "trainer.enable_progress_bar=false", "logger=none",
        ])
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
    start = time.perf_counter()
    metrics = train(cfg)
    return time.perf_counter() - start, metrics


def plain_loop_seconds(prior: str, dim: int, loss_name: str, epochs: int, batch_size: int, lr: float) -> float:
    start = time.perf_counter()
    dm = GaussianMixtureDataModule(dim=dim, balance=prior)
    dm.setup()
    x, y = dm.splits["train"].tensors
    net = MODELS.create("mlp", input_dim=dim, num_classes=5)
    loss_fn = LOSSES.create(loss_name, num_classes=5)
    loss_fn.set_class_counts(dm.train_class_counts)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=generator)
        for i in range(0, len(y), batch_size):
            idx = order[i : i + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss_fn(net(x[idx]), y[idx]).backward()
            optimizer.step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--settings", nargs="*", help="prior:dim:loss triples (default: the whole Table 2 grid)")
    args = parser.parse_args()
    if args.settings:
        settings = [(p, int(d), l) for p, d, l in (s.split(":") for s in args.settings)]
    else:
        settings = list(itertools.product(["balanced", "unbalanced"], [1, 2, 5, 10], ["softmax", "pc_softmax", "mine"]))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.epochs} epochs per setting")
    print(f"{'prior':<11}{'dim':>4} {'estimator':<11}{'framework s':>12}{'plain loop s':>13}{'ratio':>7}{'MI est':>8}{'MC':>7}")
    totals = [0.0, 0.0]
    with tempfile.TemporaryDirectory() as tmp:
        for n, (prior, dim, loss) in enumerate(settings):
            fw, metrics = framework_seconds(prior, dim, loss, args.epochs, Path(tmp) / str(n))
            plain = plain_loop_seconds(prior, dim, loss, args.epochs, batch_size=512, lr=0.002)
            totals[0] += fw
            totals[1] += plain
            print(f"{prior:<11}{dim:>4} {loss:<11}{fw:>12.2f}{plain:>13.2f}{fw / plain:>7.2f}"
                  f"{metrics['test/mi_estimate']:>8.3f}{metrics['test/mi_true']:>7.3f}", flush=True)
    print(f"total: framework {totals[0]:.1f} s, plain loop {totals[1]:.1f} s, ratio {totals[0] / totals[1]:.2f}")
    record("mi", f"Table 2 settings ({len(settings)}), {args.epochs} epochs each, through the framework", totals[0], "s",
           "plain PyTorch loop", totals[1])


if __name__ == "__main__":
    main()
