"""Every experiment composes, instantiates and runs (CPU recipes: fast_dev_run on generated data;
GPU recipes: data and task built at tiny sizes and the model's forward checked); every loss
survives fast_dev_run."""

from pathlib import Path
from typing import Callable

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import open_dict

from fixtures.classification import make_cub, make_mnist
from fixtures.wsol import make_tiny_imagenet
from infocam.registry import LOSSES
from infocam.mi_estimators import MI_ESTIMATORS
from infocam.run import train
from conftest import CONFIG_DIR, QUIET

EXPERIMENTS = sorted(p.stem for p in (Path(CONFIG_DIR) / "experiment").glob("*.yaml"))
MI_EXPERIMENTS = ["mi_gmm"]
SMALL_GMM = ["data.size_scale=0.02", "data.mc_samples=1000"]
#: the smallest input some models accept (Inception-V3's stem needs 75 px)
MIN_IMAGE_SIZE = {"inception_v3": 80}


# -- generated data for each DataModule: tiny overrides (and files written under root) ---------
def _digits(root: Path) -> list[str]:
    return [f"data.root={make_mnist(root, train_per_class=(12,) * 10, test_per_class=(3,) * 10)}"]


def _image_files(maker: Callable[[Path], Path], num_classes: int) -> Callable[[Path], list[str]]:
    return lambda root: [f"data.root={maker(root) and root}", f"data.num_classes={num_classes}", "data.num_workers=0",
                         "data.batch_size=4", "data.eval_batch_size=4"]


DATA_MAKERS: dict[str, Callable[[Path], list[str]]] = {
    "GaussianMixtureDataModule": lambda root: list(SMALL_GMM),
    "MNISTDataModule": lambda root: [*_digits(root), "data.batch_size=16", "data.eval_batch_size=16"],
    "MNISTCompositeDataModule": lambda root: [*_digits(root), "data.num_train=16", "data.num_val=8", "data.num_test=8",
                                              "data.batch_size=8", "data.eval_batch_size=4"],
    "SyntheticLocalizationDataModule": lambda root: ["data.num_train=16", "data.num_val=8", "data.num_test=8",
                                                     "data.batch_size=8", "data.eval_batch_size=8", "data.image_size=32"],
    "LabelNoiseBarsDataModule": lambda root: ["data.n=64", "data.image_size=8", "data.dim=64", "data.batch_size=16"],
    "CUBDataModule": _image_files(make_cub, 4),
    "TinyImageNetDataModule": _image_files(make_tiny_imagenet, 3),
}
IMAGE_FILES = ("CUBDataModule", "TinyImageNetDataModule")


def tiny_overrides(experiment_cfg, root: Path) -> list[str]:
    """Overrides that shrink an experiment's data, model and evaluation to a few seconds."""
    data_module = str(experiment_cfg.data._target_).rsplit(".", 1)[-1]
    assert data_module in DATA_MAKERS, (
        f"no generated data for {data_module}: add a maker for it to DATA_MAKERS in tests/test_configs.py")
    overrides = DATA_MAKERS[data_module](root)
    if data_module in IMAGE_FILES:
        overrides.append(f"data.image_size={MIN_IMAGE_SIZE.get(experiment_cfg.model.name, 32)}")
    if "channels" in experiment_cfg.model:  # the small CNNs: narrower
        overrides.append(f"model.channels=[4{',8' * (len(experiment_cfg.model.channels) - 1)}]")
    if "localization" in experiment_cfg.task:
        overrides += ["localization.curve_thresholds=10", "localization.num_overlays=2"]
    if experiment_cfg.model.get("weights") is not None:  # the paper recipes default to imagenet: random here
        overrides.append("model.weights=null")
    return overrides


def is_gpu_recipe(cfg) -> bool:
    return cfg.trainer.accelerator != "cpu"


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_composes(make_cfg, experiment):
    cfg = make_cfg([f"experiment={experiment}", *QUIET])
    assert cfg.task_name
    if not is_gpu_recipe(cfg):  # GPU recipes compose here; test_gpu_recipe_... builds them
        instantiate(cfg.trainer)
    assert cfg.callbacks.model_checkpoint.dirpath.startswith(cfg.paths.output_dir)


@pytest.mark.slow
@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_instantiates_and_runs_at_tiny_size(make_cfg, tmp_path, experiment):
    """CPU recipes: the whole run (fit, test, metrics.json) under fast_dev_run. GPU recipes (the
    paper's, on 2 GPUs): data and task instantiated at tiny sizes with random weights, and the
    model's forward checked on a served batch (``check_batch``: scores per class, labels fit)."""
    composed = make_cfg([f"experiment={experiment}", *QUIET])
    overrides = [f"experiment={experiment}", *QUIET, *tiny_overrides(composed, tmp_path / "data")]
    if not is_gpu_recipe(composed):
        cfg = make_cfg([*overrides, "+trainer.fast_dev_run=1"], output_dir=tmp_path / "run")
        metrics = train(cfg)
        assert (tmp_path / "run" / "metrics.json").is_file() and (tmp_path / "run" / "config.yaml").is_file()
        assert any(key.startswith("test/") for key in metrics)
        assert all(torch.isfinite(torch.tensor(float(v))) for v in metrics.values())
        return
    cfg = make_cfg(overrides, output_dir=tmp_path / "run")
    assert cfg.model.get("weights") is None  # random init: nothing to load or download
    datamodule, task = instantiate(cfg.data), instantiate(cfg.task)
    datamodule.setup("test")
    batch = next(iter(datamodule.test_dataloader()))  # WSOL's check needs boxes: test batches carry them
    task.check_batch(batch)
    images = batch["image"] if isinstance(batch, dict) else batch[0]
    task.eval()
    with torch.no_grad():
        logits = task(images)
    assert logits.shape == (images.shape[0], cfg.data.num_classes) and torch.isfinite(logits).all()


@pytest.mark.parametrize("loss", LOSSES.available() + MI_ESTIMATORS.available())
def test_every_loss_runs_fast_dev_run_and_writes_metrics(make_cfg, tmp_path, loss):
    """Every registered loss, with its config's options (``conf/loss/NAME.yaml``) or, for an
    entry without a config file, its own defaults."""
    assert loss in LOSSES or loss in MI_ESTIMATORS
    has_config = (Path(CONFIG_DIR) / "loss" / f"{loss}.yaml").is_file()
    cfg = make_cfg(["experiment=mi_gmm", *([f"loss={loss}"] if has_config else []), "debug=fdr", *SMALL_GMM, *QUIET])
    if not has_config:
        with open_dict(cfg):
            cfg.loss = {"name": loss}
    metrics = train(cfg)
    assert (tmp_path / "metrics.json").exists() and (tmp_path / "config.yaml").exists()
    trains = loss in LOSSES  # knn (MI_ESTIMATORS): no classifier, so no accuracy
    assert {"test/mi_estimate", "test/mi_true", *(["test/acc"] if trains else [])} <= set(metrics)
    assert f"name: {loss}" in (tmp_path / "config.yaml").read_text()


def test_cli_overrides_match_the_issue(make_cfg):
    cfg = make_cfg(["experiment=mi_gmm", "data.dim=2", "data.balance=unbalanced", "loss=pc_softmax"])
    assert (cfg.data.dim, cfg.data.balance, cfg.loss.name) == (2, "unbalanced", "pc_softmax")
    assert cfg.task.input_dim == 2


@pytest.mark.parametrize("trainer", ["cpu", "gpu", "ddp", "ddp_cpu"])
def test_trainer_configs(make_cfg, trainer):
    cfg = make_cfg([f"trainer={trainer}"])
    if trainer == "ddp":
        assert (cfg.trainer.devices, cfg.trainer.precision, cfg.trainer.strategy) == (2, "16-mixed", "ddp")
    if trainer == "ddp_cpu":
        assert (cfg.trainer.devices, cfg.trainer.accelerator) == (2, "cpu")
    assert cfg.trainer.use_distributed_sampler is False


@pytest.mark.parametrize("logger", ["csv", "tensorboard", "wandb", "none"])
def test_logger_configs(make_cfg, logger):
    cfg = make_cfg([f"logger={logger}"])
    if logger == "wandb":
        assert cfg.logger.wandb.offline is True
    loggers = [instantiate(c) for c in (cfg.logger or {}).values()]
    assert len(loggers) == (0 if logger == "none" else 1)


def test_optuna_search_composes(make_cfg):
    cfg = make_cfg(["experiment=mi_gmm", "hparams_search=mi_optuna"])
    assert cfg.optimized_metric == "val/mi_estimate"


# -- the paper WSOL recipes: one shared base, four short deltas --------------------------------
PAPER_WSOL = {  # experiment: (data module, model, R, base lr, image size, per-GPU batch)
    "wsol_cub_vgg16": ("CUBDataModule", "vgg16_gap", 5, 1e-3, 224, 32),
    "wsol_cub_resnet50": ("CUBDataModule", "resnet50_wsol", 4, 1e-2, 224, 32),
    "wsol_tiny_vgg16": ("TinyImageNetDataModule", "vgg16_gap", 3, 1e-3, 64, 128),
    "wsol_tiny_resnet50": ("TinyImageNetDataModule", "resnet50_wsol", 3, 1e-2, 64, 128),
}


@pytest.mark.parametrize("experiment", sorted(PAPER_WSOL))
def test_paper_wsol_recipes_share_the_base_and_differ_only_in_their_deltas(make_cfg, experiment):
    data, model, region, lr, size, batch = PAPER_WSOL[experiment]
    cfg = make_cfg([f"experiment={experiment}"])
    text = (Path(CONFIG_DIR) / "experiment" / f"{experiment}.yaml").read_text()
    assert "- /experiment/base/wsol_paper" in text
    assert cfg.data._target_.endswith(data) and cfg.model.name == model and cfg.cam.name == "infocam"
    assert (cfg.cam.region_size, cfg.task.optimizer.lr, cfg.data.image_size, cfg.data.batch_size) == (region, lr, size, batch)
    assert cfg.data.eval_batch_size == 2 * batch and cfg.data.num_workers == 6
    # the shared part, from the base
    opt = cfg.task.optimizer
    assert (opt._target_, opt.momentum, opt.nesterov, opt.weight_decay) == ("torch.optim.SGD", 0.9, True, 1e-4)
    assert (cfg.task.lr_mult_new_layers, cfg.task.scheduler.step_size, cfg.task.scheduler.gamma) == (10, 60, 0.1)
    assert (cfg.trainer.max_epochs, cfg.trainer.strategy, cfg.trainer.devices) == (200, "ddp", 2)
    assert cfg.model.weights == "imagenet"  # the paper fine-tunes torchvision's ImageNet files
    assert cfg.callbacks.model_checkpoint.monitor == "val/acc" and cfg.callbacks.early_stopping is None
