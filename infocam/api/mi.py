"""``estimate_mi(X, y)``: I(X;Y) of the user's arrays, read off a classifier trained on them.

The same code as ``task=mi``: the registered loss (``estimator=``), the paper's MLP (or the
user's model) inside :class:`~infocam.tasks.mi.MIEstimationModule`, and its
:class:`~infocam.metrics.VariationalMIBound` read on a held-out split, with a Lightning Trainer
made quiet for library use (no logger, no checkpoint files, no progress bar by default).
"""

from __future__ import annotations

import copy
import difflib
import inspect
import logging
import math
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Iterator, Mapping, Sequence

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import EarlyStopping
from torch import Tensor, nn

from infocam.api._arrays import (ArrayDataModule, as_float_tensor, check_fractions, encode_labels, standardise,
                                 stratified_splits)
from infocam.callbacks.finite_loss import FiniteLossGuard
from infocam.errors import ConfigError, DataError, NonFiniteLossError
from infocam.mi_estimators import MI_ESTIMATORS, warn_if_above_ceiling
from infocam.runtime.booleans import require_bool

#: a network for ``model=``: its registered name, or ``factory(input_shape, num_classes)``
ModelSpec = str | Callable[[tuple[int, ...], int], nn.Module] | None


@dataclass(frozen=True)
class MIResult:
    """An estimate of I(X;Y) in nats; ``float(result)`` is ``result.estimate``.

    Which estimates are lower bounds: ``softmax`` (log M - CE, Theorem 1), ``pc_softmax`` and
    ``logit_adjusted`` (the PC-softmax bound), ``mine`` (Donsker-Varadhan), ``nwj``/``js``
    (NWJ) and ``infonce_batch`` (capped at log K) read a variational lower bound off the
    trained critic, so in expectation they sit at or below the truth; their held-out mean has
    noise and can still cross it slightly. ``smile`` clips the partition term and is not a bound.
    ``knn`` (Ross, 2014) is not a bound either: it can land above the truth. No estimate of a
    discrete Y's I(X;Y) can exceed H(Y) <= log M; a result above H(Y) of its labels warns
    (:class:`~infocam.mi_estimators.MIAboveCeilingWarning`).
    """

    estimate: float
    #: standard error of the held-out mean (by the delta method for the DV-type bounds)
    se: float
    estimator: str
    #: samples the estimate was read on: the held-out split, or every sample for an estimator
    #: that trains nothing (knn)
    n_test: int
    #: the classifier's accuracy on them; ``None`` for knn, which trains no classifier
    accuracy: float | None
    #: P(y) of the training split (what the PC-softmax bound uses), by class label
    priors: dict[Hashable, float] = field(repr=False)
    #: epochs trained (early stopping on the validation estimate) and the epoch kept
    epochs: int = 0
    best_epoch: int = 0
    seconds: float = 0.0
    #: options of a training-free estimator as used (knn: ``{"k": k_used, "k_requested": k}``)
    details: dict[str, Any] = field(default_factory=dict, repr=False)

    def __float__(self) -> float:
        return self.estimate

    def __str__(self) -> str:
        if self.accuracy is None:
            read = f"read on all {self.n_test} samples; trains no classifier, so no accuracy"
        else:
            read = f"{self.n_test} held out, accuracy {100 * self.accuracy:.1f} %"
        return f"I(X;Y) = {self.estimate:.4f} ± {self.se:.4f} nats ({self.estimator}, {read})"


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


#: Adam's multi-tensor step: the same update as the per-parameter loop, about a third of its CPU
#: time on the paper's MLP (the optimiser step was ~27 % of a 60,000 x 10 call)
ADAM_OPTIONS: dict[str, Any] = {"foreach": True}

#: side lengths of common image arrays: a flat X of s*s (or 3*s*s) features gets a hint
LIKELY_IMAGE_SIDES = (8, 16, 28, 32, 64, 96, 128, 224)


def _int_option(name: str, value: Any, minimum: int = 1, maximum: int | None = None) -> int:
    """An integer option (numpy integers too, never a bool) in range, else one line."""
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if not ok or value < minimum or (maximum is not None and value >= maximum):
        kind = (f"an integer in [{minimum}, {maximum})" if maximum is not None
                else "a positive integer" if minimum == 1 else f"an integer >= {minimum}")
        raise ConfigError(f"{name} must be {kind}, got {value!r}")
    return int(value)


def _float_option(name: str, value: Any) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if not ok or not math.isfinite(float(value)) or not float(value) > 0:
        raise ConfigError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _hidden_dims(value: Any) -> list[int]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise ConfigError(f"hidden_dims must be a non-empty sequence of positive integers, got {value!r}")
    return [_int_option("hidden_dims[]", h) for h in value]


def _image_hint(width: int) -> str | None:
    """A hint when ``width`` features look like flattened images (s*s or 3*s*s pixels)."""
    for channels in (1, 3):
        side = math.isqrt(width // channels)
        if side in LIKELY_IMAGE_SIDES and channels * side * side == width:
            return (f"X has {width} = {channels} x {side} x {side} features; if they are image pixels, pass X as "
                    f"[n, {channels}, {side}, {side}] (a 4-D X gets the mi_cnn critic): the MLP can land far below "
                    "the truth on images")
    return None


def _default_model(shape: tuple[int, ...]) -> dict[str, Any] | None:
    """The registered critic for a 4-D X: ``mi_cnn`` on square images (None: the MLP, on flattened X)."""
    if len(shape) == 3 and shape[1] == shape[2]:
        return {"name": "mi_cnn", "in_channels": int(shape[0])}
    return None


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
        try:
            net = model(tuple(input_shape), num_classes)
        except Exception as err:  # noqa: BLE001  (the user's factory: its failure is one line)
            raise ConfigError(f"model= factory failed for input_shape={tuple(input_shape)}, num_classes={num_classes}: "
                              f"{type(err).__name__}: {err}".splitlines()[0]) from None
    else:
        raise ConfigError(f"model= must be a registered model name or a factory (input_shape, num_classes), got {model!r}")
    if not isinstance(net, nn.Module):
        raise ConfigError(f"model= gave a {type(net).__name__}, not an nn.Module")
    return net


def _check_network(net: nn.Module, sample: Tensor, num_classes: int) -> None:
    """One line, before any training, for a network with nothing to train or of the wrong output."""
    if not any(p.requires_grad for p in net.parameters()):
        raise ConfigError(f"model= gave a {type(net).__name__} with no trainable parameters")
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            out = net(sample)
    except Exception as err:  # noqa: BLE001  (any failure of the user's network on X is one line)
        raise ConfigError(f"the model does not fit X of shape {tuple(sample.shape[1:])}: "
                          f"{type(err).__name__}: {err}".splitlines()[0]) from None
    finally:
        net.train(was_training)
    if not isinstance(out, Tensor) or tuple(out.shape) != (len(sample), num_classes):
        got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ConfigError(f"the model must give [n, {num_classes}] scores (one per class); for {len(sample)} samples "
                          f"it gave {got}")


def _checked_result(estimate: float, counts: Tensor, estimator: str, lr: float | None) -> None:
    """A NaN/inf estimate, or one far below any bound's worst (-(log M + 1) nats: a critic worse
    than a constant one), is refused in one line, as the command line refuses non-finite
    metrics; one above H(Y) of the labels warns."""
    num_classes = int((counts > 0).sum())
    if not math.isfinite(estimate):
        raise NonFiniteLossError(f"estimate_mi: the {estimator} estimate is {estimate}; the training diverged or the "
                                 f"model gives non-finite scores{f' (lr={lr:g}: try a smaller one)' if lr else ''}")
    floor = -(math.log(max(num_classes, 2)) + 1.0)
    if estimate < floor:
        raise NonFiniteLossError(f"estimate_mi: the {estimator} estimate {estimate:.4g} nats is below {floor:.3f} "
                                 f"(-(log M + 1)), worse than a constant critic: the training diverged"
                                 f"{f' (lr={lr:g}: try a smaller one)' if lr else ''}")


def _training_free(entry: Any, x: Tensor, labels: Tensor, classes: tuple[Hashable, ...], estimator: str,
                   started: float) -> MIResult:
    """An estimator that trains nothing, read on every sample (no split is held out: nothing is fitted)."""
    result = entry.estimate(x.numpy(), labels.numpy())
    counts = torch.bincount(labels, minlength=len(classes)).double()
    _checked_result(result.estimate, counts, estimator, None)
    warn_if_above_ceiling(result.estimate, counts.numpy(), estimator)
    priors = {c: float(p) for c, p in zip(classes, (counts / counts.sum()).tolist())}
    details = {"k": result.k, "k_requested": result.k_requested} if hasattr(result, "k") else {}
    return MIResult(estimate=result.estimate, se=result.se, estimator=estimator, n_test=result.n, accuracy=None,
                    priors=priors, seconds=time.perf_counter() - started, details=details)


def _estimator_entry(estimator: Any) -> tuple[str, bool]:
    """``(name, trains)``; an unknown name is one line listing both registries."""
    from infocam.registry import LOSSES

    if not isinstance(estimator, str):
        raise ConfigError(f"estimator must be a registered name, got {estimator!r}")
    if estimator in LOSSES:
        return estimator, True
    if estimator in MI_ESTIMATORS:
        return estimator, False
    names = sorted(set(LOSSES.available()) | set(MI_ESTIMATORS.available()))
    close = difflib.get_close_matches(estimator, names, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ConfigError(f"unknown loss {estimator!r} (estimator=). Registered: {', '.join(names)}.{hint}")


def estimate_mi(
    X: Any,
    y: Any,
    *,
    estimator: str = "pc_softmax",
    model: ModelSpec = None,
    hidden_dims: Sequence[int] = (256, 256, 256),
    epochs: int = 40,
    patience: int = 3,
    batch_size: int = 1024,
    lr: float = 3e-3,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    device: str | torch.device = "cpu",
    seed: int = 0,
    progress: bool = False,
    estimator_kwargs: Mapping[str, Any] | None = None,
) -> MIResult:
    """Estimate I(X;Y) in nats for samples ``X [n, d]`` or images ``X [n, C, H, W]`` and labels
    ``y [n]`` of any hashable kind.

    Trains a classifier with the registered loss ``estimator`` (``softmax``, ``pc_softmax``,
    ``logit_adjusted``, ``mine``, ``nwj``, ``infonce_batch``, ``js``, ``smile``, ...) on a
    stratified training split, stops early on the validation estimate (``patience`` epochs
    without a new best, at most ``epochs``), restores the best epoch, and reads the estimate off
    the held-out ``test_fraction``, never trained or selected on. X is standardised (per feature,
    per channel for images) with the training split's statistics, so rescaling or shifting X
    does not change the result. A 4-D X gets the ``mi_cnn`` critic unless ``model=`` names
    another. ``knn`` (Ross's nearest-neighbour estimate, :mod:`infocam.mi_estimators`) trains
    nothing and reads every sample. Defaults are the repository's Table 2 settings
    (``experiment=mi_gmm``: the paper's MLP, Adam, the stratified 60/20/20 split) made cheaper
    for a library call: batches of 1024 at lr 3e-3 (not 512 at 2e-3) and patience 3 (not 6),
    which on the 60,000 x 10 mixture stop after about 8 epochs with the same error (0.0035
    against 0.0020 nats of the MC truth); the same ``seed`` gives the same number on the same device.
    See :class:`MIResult` for which estimators are lower bounds.
    """
    from infocam.tasks.mi import MIEstimationModule

    started = time.perf_counter()
    estimator, trains = _estimator_entry(estimator)
    seed = _int_option("seed", seed, 0, 2**63)
    progress = require_bool("progress", progress)
    if estimator_kwargs is not None and not isinstance(estimator_kwargs, Mapping):
        raise ConfigError(f"estimator_kwargs must be a mapping of option names to values, got {estimator_kwargs!r}")
    options = dict(estimator_kwargs or {})
    x = as_float_tensor(X, dtype=torch.float64)
    if x.ndim == 0 or x.shape[0] == 0:
        raise DataError(f"X must be [n, d] with n >= 1, got shape {tuple(x.shape)}")
    if x.ndim not in (2, 4):
        raise DataError(f"X must be 2-D [n, d], got shape {tuple(x.shape)} (or 4-D images [n, C, H, W])")
    labels, classes = encode_labels(y, x.shape[0])
    if not trains:
        entry = MI_ESTIMATORS.from_spec({"name": estimator, **options}, num_classes=len(classes))
        return _training_free(entry, x, labels, classes, estimator, started)
    epochs, patience = _int_option("epochs", epochs), _int_option("patience", patience)
    batch_size = _int_option("batch_size", batch_size)
    lr = _float_option("lr", lr)
    hidden = _hidden_dims(hidden_dims)
    check_fractions(val_fraction, test_fraction)
    accelerator, devices = _accelerator(device)
    splits = stratified_splits(labels, classes, val_fraction, test_fraction, seed)
    x = standardise(x, splits.train)
    num_classes = len(classes)
    image_model = _default_model(tuple(x.shape[1:])) if model is None and x.ndim == 4 else None
    if model is None and x.ndim == 4 and image_model is None:
        x = x.flatten(1)  # non-square images: the MLP on their pixels
    if model is None and x.ndim == 2 and (hint := _image_hint(x.shape[1])) is not None:
        warnings.warn(hint, UserWarning, stacklevel=2)
    datamodule = ArrayDataModule(x, labels, splits, num_classes, batch_size=batch_size, seed=seed)
    forked = [torch.device(device).index or 0] if accelerator == "gpu" else []
    with torch.random.fork_rng(devices=forked), _quiet(progress):
        torch.manual_seed(seed)  # initial weights and MINE's shuffles; the caller's RNG state is restored
        module = MIEstimationModule(
            model=image_model or {"name": "mlp", "hidden_dims": hidden},
            loss={"name": estimator, **options},
            optimizer={"_target_": "torch.optim.Adam", "lr": lr, **ADAM_OPTIONS},
            num_classes=num_classes,
            input_dim=int(math.prod(x.shape[1:])),
        )
        user_net = _build_model(model, tuple(x.shape[1:]), num_classes)
        if user_net is not None:
            # the module builds its network from the registry (for checkpoints); a library call
            # keeps no checkpoint, so the user's network takes its place and the loss, the
            # metric and the training loop stay the ones task=mi uses
            module.net = user_net
        _check_network(module.net, x[:2], num_classes)
        keep_best = _KeepBest("val/mi_estimate")
        early_stopping = EarlyStopping(monitor="val/mi_estimate", mode="max", patience=patience, check_finite=False)
        trainer = L.Trainer(
            max_epochs=epochs, accelerator=accelerator, devices=devices, logger=False, enable_checkpointing=False,
            enable_progress_bar=progress, enable_model_summary=False, num_sanity_val_steps=0,
            callbacks=[early_stopping, keep_best, FiniteLossGuard()], use_distributed_sampler=False,
            default_root_dir=None,
        )
        try:
            trainer.fit(module, datamodule=datamodule)
        except RuntimeError as err:
            if "shape" in str(err) or "size" in str(err):
                raise ConfigError(f"the model does not fit X of shape {tuple(x.shape[1:])}: {err}".splitlines()[0]) from None
            raise
        if keep_best.state is not None:
            module.load_state_dict(keep_best.state)
        (metrics,) = trainer.test(module, datamodule=datamodule, verbose=False)
    estimate = float(metrics["test/mi_estimate"])
    _checked_result(estimate, torch.bincount(labels[splits.test], minlength=num_classes), estimator, lr)
    counts = torch.bincount(labels[splits.train], minlength=num_classes).double()
    priors = {c: float(p) for c, p in zip(classes, (counts / counts.sum()).tolist())}
    return MIResult(
        estimate=estimate,
        se=float(metrics["test/mi_estimate_se"]),
        estimator=estimator,
        n_test=int(metrics["test/num_samples"]),
        accuracy=float(metrics["test/acc"]),
        priors=priors,
        epochs=int(trainer.current_epoch),
        best_epoch=keep_best.epoch,
        seconds=time.perf_counter() - started,
    )
