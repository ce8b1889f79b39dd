"""The WSOL eval sweeps (the demo's wsol_cams and the Tables 4-6 grids) evaluate both region-sum
alignments, at the R the paper and the authors' code used."""

from __future__ import annotations

import pytest
from conftest import CONFIG_DIR
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from infocam.reporting.wsol_paper import PAPER_R

#: sweep file -> the region sizes it must cover (1 = CAM / no region sum)
SWEEPS = {
    "wsol_cams": {1, 3, 5},
    "wsol_tables_cub_vgg16": {1, PAPER_R[("cub", "vgg")], 4},  # the paper's text says 5, the released code 4
    "wsol_tables_cub_resnet50": {1, PAPER_R[("cub", "resnet")]},
    "wsol_tables_tiny": {1, PAPER_R[("tiny_imagenet", "vgg")], PAPER_R[("tiny_imagenet", "resnet")]},
}


def sweep_params(name: str) -> dict[str, set[str]]:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="eval", overrides=[f"sweep={name}", "ckpt_path=x.ckpt"], return_hydra_config=True)
    assert cfg.hydra.mode.name == "MULTIRUN" and cfg.cam.name == "cam"
    return {key: set(str(value).split(",")) for key, value in cfg.hydra.sweeper.params.items()}


@pytest.mark.parametrize("name", sorted(SWEEPS))
def test_wsol_sweeps_cover_both_alignments_and_the_paper_r(name):
    params = sweep_params(name)
    assert params["cam.alignment"] == {"same", "full"}
    assert params["cam"] == {"cam", "infocam", "infocam_plus"}
    assert {int(r) for r in params["cam.region_size"]} == SWEEPS[name]
