"""Info-masking (paper 2, §4): keep the image patches that carry information about a class.

Each patch is shown to the network alone, everything else blanked to the background, and
scored for the target class t. The paper's score is the logit z_t (``score="logit"``, the
default): by Proposition 1 the optimal DV critic is the point-wise MI up to a constant, and
for a softmax classifier that critic is the logit. ``score="pmi"`` fixes the constant with
Theorem 1 of paper 1, ``z_t - log mean_m exp z_m = log softmax_t + log M``. Patches scoring
above ``threshold`` x the image's best score are kept (Zhou et al.'s 20 % rule, which the
paper follows).

Two choices the paper leaves open, made here and documented in docs/infomask.md:

- *Non-positive maximum.* "20 % of the max" is a lower bar than the max only when the max is
  positive; when it is <= 0 no patch passes it, and the mask is empty (made explicit, so that
  ``threshold=0`` and ties behave the same). Such an image keeps nothing. Where the zero of z_t
  lies is the network's choice (softmax ignores a shift of all logits); with ``score="pmi"``
  it means something: pmi > 0 exactly when p_t > 1/M.
- *Windows and pixels.* A lone 7x7 fragment of a 2-px stroke is out of distribution for a
  classifier trained on whole digits: on the font stand-in's demo model, no 7-px tile of any
  of 250 positive test images, and a 14-px window of only 12 of them, lifted z_t above the
  blank image's. So the windows are digit-sized (28 px, one
  MNIST cell, by default) and overlap (``stride < patch_size``); with ``aggregate="pixel"``
  each pixel takes the mean score of the windows covering it and the 20 % rule is applied to
  that pixel map, which keeps the resolution of the stride rather than of the window.
  ``aggregate="patch"`` keeps the union of the windows above the threshold (the paper's
  literal rule when the patches tile the image).

``gain_over_blank=True`` subtracts the all-blank image's score from every patch's (a patch the
network ignores then scores exactly 0). It is not in the paper and not shift-invariant, so it
changes which patches pass; it is kept as an option for comparison.

All patches of a batch (and the blank image) go through the network in one forward pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from infocam.errors import ConfigError
from infocam.infomask.settings import AGGREGATES, SCORES, infomask_settings


def _starts(length: int, size: int, stride: int) -> list[int]:
    starts = list(range(0, length - size + 1, stride))
    if starts[-1] + size < length:  # a last patch flush with the edge, so every pixel is covered
        starts.append(length - size)
    return starts


def patch_masks(height: int, width: int, patch_size: int, stride: int | None = None) -> Tensor:
    """Boolean ``[P, H, W]`` masks of the patches, row-major; ``stride`` defaults to ``patch_size``
    (a tiling when the sides are multiples of it). Every pixel lies in at least one patch."""
    stride = patch_size if stride is None else stride
    for name, value in (("infomask.patch_size", patch_size), ("infomask.stride", stride)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    if patch_size > min(height, width):
        raise ConfigError(f"infomask.patch_size {patch_size} exceeds the image side ({height}x{width})")
    rows, cols = _starts(height, patch_size, stride), _starts(width, patch_size, stride)
    masks = torch.zeros(len(rows) * len(cols), height, width, dtype=torch.bool)
    for i, (r, c) in enumerate((r, c) for r in rows for c in cols):
        masks[i, r : r + patch_size, c : c + patch_size] = True
    return masks


def class_scores(logits: Tensor, target: Tensor, score: str = "logit") -> Tensor:
    """``[..., M]`` logits -> ``[...]`` score of class ``target`` (broadcast over leading dims)."""
    if score not in SCORES:
        raise ConfigError(f"infomask.score must be one of {', '.join(SCORES)}, got {score!r}")
    logits = logits.float()
    index = target.reshape(target.shape + (1,) * (logits.ndim - 1 - target.ndim)).expand(logits.shape[:-1])
    picked = logits.gather(-1, index[..., None]).squeeze(-1)
    if score == "logit":
        return picked
    return picked - torch.logsumexp(logits, dim=-1) + math.log(logits.shape[-1])


@dataclass
class PatchScores:
    """``scores [B, P]`` (each patch's score, or its gain over the blank image's with
    ``gain_over_blank``), ``masks [P, H, W]`` and ``blank [B]`` (the blank image's own score)."""

    scores: Tensor
    masks: Tensor
    blank: Tensor

    def pixel_map(self) -> Tensor:
        """``[B, H, W]``: each pixel's mean score over the patches covering it."""
        masks = self.masks.to(self.scores)
        coverage = masks.sum(0)
        return torch.einsum("bp,phw->bhw", self.scores, masks) / coverage


@torch.no_grad()
def patch_scores(
    model: nn.Module,
    images: Tensor,
    target: Tensor | int,
    patch_size: int = 7,
    stride: int | None = None,
    fill: float | None = None,
    score: str = "logit",
    gain_over_blank: bool = False,
) -> PatchScores:
    """Score every patch of ``images [B, C, H, W]`` for class ``target`` (``[B]`` or one int).

    ``fill`` is the blank value (``None``: each image's minimum, MNIST's background). The
    model is used as it is (put it in eval mode first); one forward pass of ``B * (P + 1)``
    images.
    """
    if images.ndim != 4:
        raise ConfigError(f"info-masking needs image batches [B, C, H, W], got {tuple(images.shape)}")
    batch, channels, height, width = images.shape
    masks = patch_masks(height, width, patch_size, stride).to(images.device)
    num_patches = masks.shape[0]
    if fill is None:
        background = images.flatten(1).amin(dim=1)[:, None, None, None, None]  # [B, 1, 1, 1, 1]
    else:
        background = images.new_full((batch, 1, 1, 1, 1), float(fill))
    shown = torch.where(masks[None, :, None], images[:, None], background)  # [B, P, C, H, W]
    blank = background.expand(batch, 1, channels, height, width)
    inputs = torch.cat([shown, blank], dim=1).flatten(0, 1)
    logits = model(inputs).reshape(batch, num_patches + 1, -1)
    target = torch.as_tensor(target, device=logits.device).long().expand(batch)
    values = class_scores(logits, target[:, None].expand(batch, num_patches + 1), score)
    shown_scores = values[:, :num_patches] - values[:, num_patches:] if gain_over_blank else values[:, :num_patches]
    return PatchScores(shown_scores, masks, values[:, num_patches])


def keep_above_fraction_of_max(values: Tensor, threshold: float) -> Tensor:
    """``values [B, ...] > threshold * max`` per image. Where the max is <= 0 nothing is kept:
    a fraction of the max is a lower bar than the max only when the max is positive."""
    if not 0.0 <= threshold < 1.0:
        raise ConfigError(f"infomask.threshold must be in [0, 1), got {threshold}")
    top = values.flatten(1).amax(dim=1).reshape((-1,) + (1,) * (values.ndim - 1))
    return (values > threshold * top) & (top > 0)


def pixels_of_patches(keep: Tensor, masks: Tensor) -> Tensor:
    """``keep [B, P]`` patches -> ``[B, H, W]`` boolean pixel mask (union of the kept patches)."""
    return torch.einsum("bp,phw->bhw", keep.float(), masks.float()) > 0


def mask_of_scores(scored: PatchScores, threshold: float = 0.2, aggregate: str = "pixel") -> Tensor:
    """``[B, H, W]`` bool: the pixels whose window-mean score (``aggregate="pixel"``) or whose
    windows (``"patch"``) pass the 20 %-of-max rule."""
    if aggregate not in AGGREGATES:
        raise ConfigError(f"infomask.aggregate must be one of {', '.join(AGGREGATES)}, got {aggregate!r}")
    if aggregate == "pixel":
        return keep_above_fraction_of_max(scored.pixel_map(), threshold)
    return pixels_of_patches(keep_above_fraction_of_max(scored.scores, threshold), scored.masks)


def info_mask(model: nn.Module, images: Tensor, target: Tensor | int, **settings: Any) -> tuple[Tensor, PatchScores]:
    """The info-mask ``[B, H, W]`` (bool) of ``images`` for class ``target``, and the patch scores.

    ``settings`` (``patch_size``, ``stride``, ``aggregate``, ``threshold``, ``score``,
    ``gain_over_blank``, ``fill``) change the defaults of ``conf/infomask/default.yaml``.
    """
    s = infomask_settings(settings)
    scored = patch_scores(
        model, images, target, int(s["patch_size"]), s["stride"], s["fill"], str(s["score"]), bool(s["gain_over_blank"])
    )
    return mask_of_scores(scored, float(s["threshold"]), str(s["aggregate"])), scored


def random_mask_of_area(mask: Tensor) -> Tensor:
    """``[B, H, W]``: chance that a pixel survives a uniformly random mask with as many pixels as
    ``mask [B, H, W]`` -- its area fraction, the same everywhere (the pixel-level baseline)."""
    fraction = mask.float().flatten(1).mean(1)
    return fraction[:, None, None].expand(mask.shape).contiguous()


def random_mask_probability(keep_counts: Tensor, masks: Tensor) -> Tensor:
    """``[B, H, W]``: chance that a pixel survives when ``keep_counts[b]`` of the ``P`` patches are
    kept uniformly at random -- the expected random mask of the info-mask's size, exactly.

    A pixel covered by ``c`` patches is lost only if all ``k`` draws miss them:
    ``1 - C(P - c, k) / C(P, k)``. Scoring the expectation instead of one draw removes the
    baseline's sampling noise.
    """
    num_patches = masks.shape[0]
    k = keep_counts.to(torch.float64)[:, None, None]
    c = masks.sum(0).to(device=k.device, dtype=torch.float64)[None]
    free = num_patches - c
    # log [C(P - c, k) / C(P, k)] = log [(P-c)! (P-k)! / ((P-c-k)! P!)]
    log_ratio = (
        torch.lgamma(free + 1) - torch.lgamma(free - k + 1) + torch.lgamma(num_patches - k + 1) - math.lgamma(num_patches + 1)
    )
    missed = torch.where(free >= k, log_ratio.exp(), torch.zeros_like(log_ratio))
    return (1 - missed).clamp(0, 1).float()  # lgamma rounding can leave -1e-14 at k = 0


def masked_images(images: Tensor, mask: Tensor, fill: float | None = None) -> Tensor:
    """``images [B, C, H, W]`` with the pixels outside ``mask [B, H, W]`` blanked."""
    background = images.flatten(1).amin(dim=1)[:, None, None, None] if fill is None else torch.tensor(float(fill))
    return torch.where(mask[:, None], images, background.to(images))
