"""``infocam-doctor OVERRIDES...``: a pre-flight for a long job, with the job's own overrides.

``infocam-doctor experiment=wsol_cub_resnet50 data.root=DIR trainer.devices=2`` composes the
config ``infocam-train`` would run and checks, one line each, before any time is spent:

- accelerator: the devices asked for against the CUDA devices visible (and their memory);
- ddp: the process-group backend the strategy needs (NCCL for GPUs, gloo for CPUs);
- data: the dataset present and complete under ``data.root`` (its own index, see
  :mod:`infocam.data.fetch.complete`), or ``data.download=true`` and its address reachable;
- weights: ``model.weights`` a readable file, or ``imagenet`` cached or reachable;
- disk: free space where the run directory will be (and under ``data.root`` for a download);
- wandb: its mode, and an API key when it logs online.

Exit status 1 when a check fails. The docker entry point runs it before ``infocam-train``
(``INFOCAM_DOCTOR=0`` skips it).
"""

from __future__ import annotations

import netrc
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf

GIB = 1024**3
#: free space a run directory needs: checkpoints (a VGG16-GAP/ResNet50 one is 0.1-0.3 GB), logs, maps
RUN_DIR_BYTES = 2 * GIB


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    text: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.name:<11} {self.text}"


def compose(overrides: list[str]) -> DictConfig:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from infocam.runtime.shipped_conf import config_dir

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return hydra_compose(config_name="train", overrides=overrides, return_hydra_config=True)


def _get(node: Any, key: str, default: Any = None) -> Any:
    try:
        value = OmegaConf.select(node, key, default=default, throw_on_missing=False)
    except Exception:  # noqa: BLE001  (an interpolation that needs a running Hydra job)
        return default
    return value


def requested_devices(devices: Any, visible: int) -> int:
    """How many devices ``trainer.devices`` asks for (``auto``/-1: every visible one, at least 1)."""
    if devices in (None, "auto", -1, "-1"):
        return max(visible, 1)
    if isinstance(devices, (list, tuple)) or OmegaConf.is_list(devices):
        return len(devices)
    text = str(devices).strip()
    if "," in text:
        return len([d for d in text.split(",") if d.strip()])
    return int(text)


def _uses_gpu(accelerator: str) -> bool:
    import torch

    return accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())


def check_accelerator(cfg: DictConfig) -> Check:
    import torch

    accelerator = str(_get(cfg, "trainer.accelerator", "cpu"))
    devices = _get(cfg, "trainer.devices", 1)
    nodes = int(_get(cfg, "trainer.num_nodes", 1) or 1)
    if not _uses_gpu(accelerator):
        asked = requested_devices(devices, os.cpu_count() or 1)
        return Check("accelerator", True, f"cpu: {asked} process(es) per node, {os.cpu_count()} cores here")
    visible = torch.cuda.device_count()
    asked = requested_devices(devices, visible)
    where = f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '(unset)')}, torch {torch.__version__} CUDA {torch.version.cuda or 'none'}"
    if visible < asked:
        return Check("accelerator", False, f"trainer.accelerator={accelerator} trainer.devices={devices} asks for {asked} GPU(s) "
                     f"per node but {visible} CUDA device(s) are visible ({where}); pass the GPUs to the container "
                     "(--gpus), or set trainer.devices / trainer=cpu")
    cards = [torch.cuda.get_device_properties(i) for i in range(visible)]
    listed = ", ".join(f"{i}: {c.name} {c.total_memory / GIB:.1f} GiB" for i, c in enumerate(cards))
    return Check("accelerator", True, f"gpu: {asked} of {visible} visible per node x {nodes} node(s) ({listed})")


def check_ddp(cfg: DictConfig) -> Check:
    import torch.distributed as dist

    strategy = str(_get(cfg, "trainer.strategy", "auto"))
    accelerator = str(_get(cfg, "trainer.accelerator", "cpu"))
    try:
        processes = requested_devices(_get(cfg, "trainer.devices", 1), 1) * int(_get(cfg, "trainer.num_nodes", 1) or 1)
    except ValueError:
        processes = 1
    if "ddp" not in strategy and processes <= 1:
        return Check("ddp", True, f"not used (trainer.strategy={strategy}, one process)")
    backend = "nccl" if _uses_gpu(accelerator) else "gloo"
    available = dist.is_available() and (dist.is_nccl_available() if backend == "nccl" else dist.is_gloo_available())
    if not available:
        return Check("ddp", False, f"trainer.strategy={strategy} needs the {backend.upper()} backend, which this torch build lacks")
    return Check("ddp", True, f"trainer.strategy={strategy}: {backend.upper()} available for {processes} process(es)")


def check_data(cfg: DictConfig) -> Check:
    from hydra.utils import get_class

    target = _get(cfg, "data._target_")
    try:
        fetch_name = getattr(get_class(str(target)), "fetch_name", None) if target else None
    except Exception:  # noqa: BLE001  (an unknown class is the job's own error)
        return Check("data", False, f"data._target_={target} cannot be imported")
    if fetch_name is None:
        return Check("data", True, f"{str(target).rsplit('.', 1)[-1]}: generated or read in setup, nothing to fetch")
    from infocam.data.fetch import dataset_status, source_for
    from infocam.runtime.network import reachable

    root = Path(str(_get(cfg, "data.root", "."))).expanduser()
    status = dataset_status(fetch_name, root)
    if status.complete:
        return Check("data", True, f"{status.folder}: {status.detail}")
    if not _get(cfg, "data.download", False) or status.present:
        hint = (f"move it away or complete it" if status.present
                else f"stage it with infocam-data dataset={fetch_name} root={root}, or set data.download=true")
        return Check("data", False, f"{status.detail}; {hint}")
    source = source_for(fetch_name, _get(cfg, "data.download_url"), _get(cfg, "data.download_md5"))
    url = source.urls(source.files[0][0])[0]
    problem = reachable(url)
    if problem:
        return Check("data", False, f"{status.detail} and data.download=true cannot reach {url} ({problem}); "
                     f"stage it with infocam-data dataset={fetch_name} root={root} where there is internet")
    return Check("data", True, f"{status.folder} absent: data.download=true will fetch {url} (reachable)")


def check_weights(cfg: DictConfig) -> Check:
    from infocam.models.weights import IMAGENET, TORCHVISION_IMAGENET, imagenet_file
    from infocam.runtime.network import reachable

    weights = _get(cfg, "model.weights")
    name = str(_get(cfg, "model.name", "?"))
    if weights in (None, ""):
        return Check("weights", True, f"{name}: random initialisation (model.weights=null)")
    if str(weights) != IMAGENET:
        path = Path(str(weights)).expanduser()
        if not path.is_file() or path.stat().st_size == 0:
            return Check("weights", False, f"model.weights={weights}: no such file (or empty)")
        return Check("weights", True, f"model.weights={path} ({path.stat().st_size / 1e6:.0f} MB)")
    if name in TORCHVISION_IMAGENET:
        url, cache = imagenet_file(name)
        if cache.is_file():
            return Check("weights", True, f"{name}: torchvision's ImageNet file cached at {cache}")
        problem = reachable(url)
        if problem:
            return Check("weights", False, f"{name}: {cache.name} is not in {cache.parent} and {url} cannot be reached "
                         f"({problem}); place the file there, or give model.weights=PATH")
        return Check("weights", True, f"{name}: {cache.name} will be downloaded from {url} into {cache.parent}")
    from infocam.models.timm_backbones import timm_weights_file

    arch = str(_get(cfg, "model.arch", name))
    repo, filename, cached = timm_weights_file(arch)
    if cached:
        return Check("weights", True, f"{arch}: timm's pretrained {repo} cached at {cached}")
    problem = reachable(f"https://huggingface.co/{repo}/resolve/main/{filename}")
    if problem:
        from huggingface_hub import constants

        return Check("weights", False, f"{arch}: timm's {repo} ({filename}) is not in {constants.HF_HUB_CACHE} and the hub "
                     f"cannot be reached ({problem}); run once where there is internet, or give model.weights=PATH")
    return Check("weights", True, f"{arch}: timm's {repo} will be downloaded from the Hugging Face hub")


def _existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_disk(cfg: DictConfig) -> Check:
    run_dir = _get(cfg, "hydra.run.dir") or _get(cfg, "paths.log_dir", ".")
    place = _existing(Path(str(run_dir)))
    free = shutil.disk_usage(place).free
    need = {place: RUN_DIR_BYTES}
    notes = [f"{free / GIB:.1f} GiB free at {place} (run directory {run_dir})"]
    if _get(cfg, "data.download", False):
        from hydra.utils import get_class

        fetch_name = getattr(get_class(str(_get(cfg, "data._target_"))), "fetch_name", None)
        if fetch_name:
            from infocam.data.fetch import SOURCES, dataset_status

            root = Path(str(_get(cfg, "data.root", ".")))
            if not dataset_status(fetch_name, root).complete:
                source = SOURCES[fetch_name]
                data_place = _existing(root)
                need[data_place] = need.get(data_place, 0) + source.download_bytes + source.unpacked_bytes
                notes.append(f"the {source.title} download needs {(source.download_bytes + source.unpacked_bytes) / GIB:.1f} GiB at {data_place}")
    short = [(p, n) for p, n in need.items() if shutil.disk_usage(p).free < n]
    if short:
        where, needed = short[0]
        return Check("disk", False, f"{shutil.disk_usage(where).free / GIB:.1f} GiB free at {where}, "
                     f"{needed / GIB:.1f} GiB needed ({'; '.join(notes[1:]) or 'checkpoints and logs'})")
    return Check("disk", True, "; ".join(notes))


def _wandb_key() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        hosts = netrc.netrc().hosts
    except (OSError, netrc.NetrcParseError):
        return False
    return any("wandb" in host for host in hosts)


def check_wandb(cfg: DictConfig) -> Check:
    loggers = _get(cfg, "logger") or {}
    wandb = [k for k, v in loggers.items() if v is not None and "wandb" in str(v.get("_target_", "")).lower()]
    if not wandb:
        return Check("wandb", True, "not used (no wandb logger)")
    node = loggers[wandb[0]]
    env_mode = os.environ.get("WANDB_MODE", "")
    mode = env_mode or ("offline" if node.get("offline") else "online")
    if mode in ("offline", "disabled", "dryrun"):
        return Check("wandb", True, f"{mode} (WANDB_MODE={env_mode or 'unset'}, logger.{wandb[0]}.offline={node.get('offline')}): "
                     "upload later with wandb sync")
    if not _wandb_key():
        return Check("wandb", False, "online logging but no API key (WANDB_API_KEY unset, no wandb entry in ~/.netrc); "
                     "run wandb login, or log offline (WANDB_MODE=offline)")
    return Check("wandb", True, "online, an API key is set")


CHECKS: tuple[Callable[[DictConfig], Check], ...] = (check_accelerator, check_ddp, check_data, check_weights, check_disk, check_wandb)


def run_checks(cfg: DictConfig) -> list[Check]:
    from infocam.errors import InfocamError

    results = []
    for check in CHECKS:
        name = check.__name__.removeprefix("check_")
        try:
            results.append(check(cfg))
        except InfocamError as err:
            results.append(Check(name, False, str(err)))
        except Exception as err:  # noqa: BLE001  (a check that cannot run is a failed check, not a traceback)
            results.append(Check(name, False, f"cannot check: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"))
    return results


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__.strip())
        return 0
    overrides = [a for a in argv if not a.startswith("-")]  # the job's Hydra flags (--multirun, ...) do not change the checks
    try:
        cfg = compose(overrides)
    except Exception as err:  # noqa: BLE001  (Hydra's override and missing-config errors)
        print(f"infocam: error: {str(err).splitlines()[0] if str(err) else type(err).__name__}", file=sys.stderr)
        return 1
    results = run_checks(cfg)
    for result in results:
        print(result.line(), flush=True)
    failed = [r.name for r in results if not r.ok]
    print(f"infocam-doctor: {len(failed)} of {len(results)} checks failed ({', '.join(failed)})" if failed
          else f"infocam-doctor: all {len(results)} checks passed")
    return 1 if failed else 0


def doctor_main() -> None:
    sys.exit(main())
