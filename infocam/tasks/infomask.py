"""Info-masking on composites: a classifier whose test step also scores three masks by ink."""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import Tensor

from infocam.errors import ConfigError, DataError
from infocam.infomask.masking import (
    keep_above_fraction_of_max,
    mask_of_scores,
    patch_scores,
    random_mask_of_area,
    random_mask_probability,
)
from infocam.infomask.settings import infomask_settings
from infocam.localization import upsample_maps
from infocam.metrics.ink import InkSurvival
from infocam.registry import CAMS
from infocam.tasks.base import plain
from infocam.tasks.batch import unpack_batch
from infocam.tasks.classify import ClassificationModule

#: mask name -> how it is made; the metric keys are test/{name}_{target,other}_ink
MASKS = ("infomask", "cammask", "randommask")
# the info-masking defaults live in conf/infomask/default.yaml only (infocam.infomask.settings)


def ink_of(batch: Any) -> Tensor:
    """The ownership tensor ``ink [B, 2, H, W]``: third item of a tuple batch or ``batch["ink"]``."""
    ink = batch.get("ink") if isinstance(batch, Mapping) else (batch[2] if len(batch) > 2 else None)
    if ink is None or ink.ndim != 4 or ink.shape[1] != 2:
        raise DataError("info-mask scores need batches with per-owner ink [B, 2, H, W] (data=mnist_composite)")
    return ink


class InfoMaskModule(ClassificationModule):
    """Trains and validates as :class:`ClassificationModule`. The test step adds, for class
    ``infomask.target_class`` of every image: the info-mask (§4), a mask from the ``cam``
    method's map at the same threshold, and a random mask of the info-mask's size (its patch
    count with ``aggregate=patch``, its pixel count with ``aggregate=pixel``; scored in
    expectation). It logs ``test/{infomask,cammask,randommask}_{target,other}_ink``
    and draws ``infomask/infomask_grid.png`` (image, PMI map, info-masked, CAM-masked).
    """

    report_kind = "infomask"

    def __init__(
        self,
        model: Mapping[str, Any],
        loss: Mapping[str, Any],
        optimizer: Mapping[str, Any],
        num_classes: int,
        scheduler: Mapping[str, Any] | None = None,
        top_k: int | None = None,
        confusion_matrix: bool = True,
        mc_samples: int | None = None,
        cam: Mapping[str, Any] | None = None,
        infomask: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            model, loss, optimizer, num_classes, scheduler, top_k=top_k, confusion_matrix=confusion_matrix, mc_samples=mc_samples
        )
        self.settings = infomask_settings()
        # test metrics the classification loops leave alone (see ClassificationModule.own_metrics)
        self.own_metrics.update(MASKS)
        self.metrics["test"].update({name: InkSurvival() for name in MASKS})
        self.configure_evaluation(cam=cam or {"name": "infocam"}, infomask=infomask)
        self._examples: list[dict[str, Tensor]] = []

    def configure_evaluation(
        self, cam: Mapping[str, Any] | None = None, infomask: Mapping[str, Any] | None = None, **settings: Any
    ) -> None:
        """Swap the CAM baseline (``infocam-eval cam=...``) and change info-masking settings over
        the trained ones (``infocam-eval +infomask.patch_size=14``); other tasks' settings are ignored."""
        merged = infomask_settings(self.settings, plain(infomask))
        num_classes = int(self.hparams["num_classes"])
        if not 0 <= int(merged["target_class"]) < num_classes:
            raise ConfigError(f"infomask.target_class must be in [0, {num_classes}), got {merged['target_class']}")
        self.settings = merged
        if cam is not None:
            self.cam_method = CAMS.from_spec(cam)
            self.cam_method.check_model(self.net)

    def on_test_epoch_start(self) -> None:
        super().on_test_epoch_start()
        self._examples = []

    def test_step(self, batch, batch_idx):
        self._eval_step("test", batch)
        read = unpack_batch(batch)
        images, ink = read.images, ink_of(batch)
        s = self.settings
        target = torch.full((images.shape[0],), int(s["target_class"]), device=images.device, dtype=torch.long)
        scored = patch_scores(
            self.net, images, target, int(s["patch_size"]), s["stride"], s["fill"], str(s["score"]), bool(s["gain_over_blank"])
        )
        info = mask_of_scores(scored, float(s["threshold"]), str(s["aggregate"]))
        if s["aggregate"] == "patch":
            random = random_mask_probability(keep_above_fraction_of_max(scored.scores, float(s["threshold"])).sum(1), scored.masks)
        else:
            random = random_mask_of_area(info)
        masks = {"infomask": info, "cammask": self._cam_mask(images, target), "randommask": random}
        for name, mask in masks.items():
            self.metrics["test"][name].update(mask, ink)
        self._keep_examples(images, scored.pixel_map(), masks["infomask"], masks["cammask"], read.labels)

    def _cam_mask(self, images: Tensor, target: Tensor) -> Tensor:
        maps = self.cam_method.compute(self.net, images, [target]).maps[0]
        maps = upsample_maps(maps.float(), tuple(images.shape[-2:]))
        return keep_above_fraction_of_max(maps, float(self.settings["threshold"]))

    def _keep_examples(self, images, pmi, info, cam, labels) -> None:
        """The first test images of each class, half the rows images of class ``target_class``
        (the ones with something to keep), so the grid shows what the mask keeps."""
        if self.global_rank != 0:
            return
        total = int(self.settings["num_examples"])
        target = int(self.settings["target_class"])
        kept = torch.cat([e["labels"] for e in self._examples]) if self._examples else labels.new_zeros(0).cpu()
        room_target = (total + 1) // 2 - int((kept == target).sum())
        room_other = total // 2 - int((kept != target).sum())
        is_target = labels == target
        rows = torch.cat([torch.nonzero(is_target).flatten()[: max(room_target, 0)],
                          torch.nonzero(~is_target).flatten()[: max(room_other, 0)]]).sort().values
        if len(rows) == 0:
            return
        picked = {"images": images, "pmi": pmi, "infomask": info, "cammask": cam, "labels": labels}
        self._examples.append({k: v[rows].detach().cpu() for k, v in picked.items()})

    def on_test_epoch_end(self) -> None:
        super().on_test_epoch_end()
        for name in MASKS:
            for key, value in self.metrics["test"][name].compute().items():  # every rank: compute is a collective
                self.log(f"test/{name}_{key}", value.float())
        self._write_examples()

    def _write_examples(self) -> None:
        if not self._examples or not self.trainer.is_global_zero:
            return
        from infocam.reporting.infomask import infomask_grid_png

        examples = {k: torch.cat([e[k] for e in self._examples]) for k in self._examples[0]}
        s = self.settings
        title = (
            f"class {s['target_class']}, score {s['score']}{' - blank' if s['gain_over_blank'] else ''}, "
            f"window {s['patch_size']} stride {s['stride'] or s['patch_size']} ({s['aggregate']}), "
            f"threshold {s['threshold']}, cam={self.cam_method.name}"
        )
        self.publish_figure("infomask/infomask_grid.png", infomask_grid_png(examples, title, fill=s["fill"]), "test/infomask_grid")
        self._examples = []
