"""``estimate_mi(X, y)``: I(X;Y) of the user's arrays, read off a classifier trained on them.

The same code as ``task=mi``: the registered loss (``estimator=``), the paper's MLP (or the
user's model) inside :class:`~infocam.tasks.mi.MIEstimationModule`, and its
:class:`~infocam.metrics.VariationalMIBound` read on a held-out split, with a Lightning Trainer
made quiet for library use (no logger, no checkpoint files, no progress bar by default).
"""

from __future__ import annotations

import copy
import inspect
import logging
import math
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Iterator, Mapping, Sequence

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping
from torch import nn

from infocam.api._arrays import ArrayDataModule, as_float_tensor, check_fractions, encode_labels, stratified_splits
from infocam.errors import ConfigError, DataError

#: a network for ``model=``: its registered name, or ``factory(input_shape, num_classes)``
ModelSpec = str | Callable[[tuple[int, ...], int], nn.Module] | None


@dataclass(frozen=True)
class MIResult:
    """An estimate of I(X;Y) in nats; ``float(result)`` is ``result.estimate``."""

    estimate: float
    #: standard error of the held-out mean (NaN for a Donsker-Varadhan bound such as MINE's)
    se: float
    estimator: str
    #: held-out samples the estimate was read on, and the classifier's accuracy on them (NaN for knn)
    n_test: int
    accuracy: float
    #: P(y) of the training split (what the PC-softmax bound uses), by class label
    priors: dict[Hashable, float] = field(repr=False)
    #: epochs trained (early stopping on the validation estimate) and the epoch kept
    epochs: int = 0
    best_epoch: int = 0
    seconds: float = 0.0

    def __float__(self) -> float:
        return self.estimate

    def __str__(self) -> str:
        return (f"I(X;Y) = {self.estimate:.4f} ± {self.se:.4f} nats ({self.estimator}, {self.n_test} held out, "
                f"accuracy {100 * self.accuracy:.1f} %)")


class _KeepBest(L.Callback):
    """Keeps, in memory, the weights of the epoch with the highest validation estimate
    (``task=mi`` keeps that epoch as a checkpoint file; a library call writes none)."""

    def __init__(self, monitor: str) -> None:
        self.monitor = monitor
        self.best, self.state, self.epoch = -math.inf, None, 0

    def on_validation_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is not None and float(value) > self.best:
            self.best, self.epoch = float(value), trainer.current_epoch + 1
            self.state = copy.deepcopy(module.state_dict())


@contextmanager
def _quiet(progress: bool) -> Iterator[None]:
    """Lightning's start-up lines and loader hints stay out of a library call (unless ``progress``)."""
    if progress:
        yield
        return
    loggers = [logging.getLogger(name) for name in ("lightning", "lightning.pytorch", "lightning.fabric")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
            warnings.filterwarnings("ignore", message=r".*(GPU|TPU|HPU) available.*")
            warnings.filterwarnings("ignore", message=r".*treespec, LeafSpec.*")  # Lightning's own deprecation
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _accelerator(device: str | torch.device) -> tuple[str, list[int] | int]:
    device = torch.device(device)
    if device.type == "cpu":
        return "cpu", 1
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device={device} but CUDA is not available")
        return "gpu", [device.index or 0]
    if device.type == "mps":
        return "mps", 1
    raise ConfigError(f"device must be cpu, cuda[:i] or mps, got {device}")


def _build_model(model: ModelSpec, input_shape: tuple[int, ...], num_classes: int) -> nn.Module | None:
    """The user's network (``None``: the module's own registered MLP)."""
    if model is None:
        return None
    if isinstance(model, str):
        from infocam.registry import MODELS

        factory = MODELS.get(model)
        params = inspect.signature(factory).parameters
        kwargs: dict[str, Any] = {"num_classes": num_classes}
        if "input_dim" in params:
            kwargs["input_dim"] = int(math.prod(input_shape))
        if len(input_shape) == 3:
            if "in_channels" in params:
                kwargs["in_channels"] = input_shape[0]
            if "image_size" in params:
                kwargs["image_size"] = input_shape[1]
        net = factory(**kwargs)
    elif callable(model):
        net = model(tuple(input_shape), num_classes)
    else:
        raise ConfigError(f"model= must be a registered model name or a factory (input_shape, num_classes), got {model!r}")
    if not isinstance(net, nn.Module):
        raise ConfigError(f"model= gave a {type(net).__name__}, not an nn.Module")
    return net


def estimate_mi(
    X: Any,
    y: Any,
    *,
    estimator: str = "pc_softmax",
    model: ModelSpec = None,
    hidden_dims: Sequence[int] = (256, 256, 256),
    epochs: int = 40,
    patience: int = 6,
    batch_size: int = 512,
    lr: float = 2e-3,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    device: str | torch.device = "cpu",
    seed: int = 0,
    progress: bool = False,
    estimator_kwargs: Mapping[str, Any] | None = None,
) -> MIResult:
    """Estimate I(X;Y) in nats for samples ``X [n, d]`` (``[n, C, H, W]`` with ``model=``) and
    labels ``y [n]`` of any hashable kind.

    Trains a classifier with the registered loss ``estimator`` (``softmax``, ``pc_softmax``,
    ``logit_adjusted``, ``mine``, ``nwj``, ``infonce_batch``, ``js``, ``smile``, ...) on a stratified
    training split (``knn``, Ross's nearest-neighbour estimate, trains nothing and reads the same
    held-out split), stops early on the
    validation estimate (``patience`` epochs without a new best, at most ``epochs``), restores
    the best epoch, and reads the estimate off the held-out ``test_fraction``, never trained or
    selected on. Defaults are the repository's Table 2 settings (``experiment=mi_gmm``); the
    same ``seed`` gives the same number on the same device.
    """
    from infocam.registry import LOSSES
    from infocam.tasks.mi import MIEstimationModule

    started = time.perf_counter()
    x = as_float_tensor(X)
    if x.ndim == 0 or x.shape[0] == 0:
        raise DataError(f"X must be [n, d] with n >= 1, got shape {tuple(x.shape)}")
    if model is None and x.ndim != 2:
        raise DataError(f"X must be 2-D [n, d], got shape {tuple(x.shape)} (image arrays [n, C, H, W] need model=)")
    if model is not None and x.ndim not in (2, 4):
        raise DataError(f"X must be [n, d] or [n, C, H, W], got shape {tuple(x.shape)}")
    labels, classes = encode_labels(y, x.shape[0])
    if estimator not in LOSSES:
        LOSSES.get(estimator)  # the registry's one line: unknown name, what is registered
    for name, value in (("epochs", epochs), ("patience", patience), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    if not lr > 0:
        raise ConfigError(f"lr must be > 0, got {lr!r}")
    check_fractions(val_fraction, test_fraction)
    accelerator, devices = _accelerator(device)
    splits = stratified_splits(labels, classes, val_fraction, test_fraction, seed)
    num_classes = len(classes)
    datamodule = ArrayDataModule(x, labels, splits, num_classes, batch_size=batch_size, seed=seed)
    forked = [torch.device(device).index or 0] if accelerator == "gpu" else []
    with torch.random.fork_rng(devices=forked), _quiet(progress):
        torch.manual_seed(seed)  # initial weights and MINE's shuffles; the caller's RNG state is restored
        module = MIEstimationModule(
            model={"name": "mlp", "hidden_dims": [int(h) for h in hidden_dims]},
            loss={"name": estimator, **dict(estimator_kwargs or {})},
            optimizer={"_target_": "torch.optim.Adam", "lr": float(lr)},
            num_classes=num_classes,
            input_dim=int(math.prod(x.shape[1:])),
        )
        user_net = _build_model(model, tuple(x.shape[1:]), num_classes)
        if user_net is not None:
            # the module builds its network from the registry (for checkpoints); a library call
            # keeps no checkpoint, so the user's network takes its place and the loss, the
            # metric and the training loop stay the ones task=mi uses
            module.net = user_net
        keep_best = _KeepBest("val/mi_estimate")
        early_stopping = EarlyStopping(monitor="val/mi_estimate", mode="max", patience=patience)
        trainer = L.Trainer(
            max_epochs=epochs, accelerator=accelerator, devices=devices, logger=False, enable_checkpointing=False,
            enable_progress_bar=progress, enable_model_summary=False, num_sanity_val_steps=0,
            callbacks=[early_stopping, keep_best], use_distributed_sampler=False, default_root_dir=None,
        )
        try:
            if module.needs_training:  # loss=knn reads the held-out split with nothing to fit
                trainer.fit(module, datamodule=datamodule)
        except RuntimeError as err:
            if "shape" in str(err) or "size" in str(err):
                raise ConfigError(f"the model does not fit X of shape {tuple(x.shape[1:])}: {err}".splitlines()[0]) from None
            raise
        if keep_best.state is not None:
            module.load_state_dict(keep_best.state)
        (metrics,) = trainer.test(module, datamodule=datamodule, verbose=False)
    counts = torch.bincount(labels[splits.train], minlength=num_classes).double()
    priors = {c: float(p) for c, p in zip(classes, (counts / counts.sum()).tolist())}
    return MIResult(
        estimate=float(metrics["test/mi_estimate"]),
        se=float(metrics["test/mi_estimate_se"]),
        estimator=estimator,
        n_test=int(metrics["test/num_samples"]),
        accuracy=float(metrics.get("test/acc", math.nan)),  # a kNN estimate has no classifier
        priors=priors,
        epochs=int(trainer.current_epoch),
        best_epoch=keep_best.epoch,
        seconds=time.perf_counter() - started,
    )
