"""Every boolean option of every CLI takes true/false only (issue 21, item 2).

The composed configs are walked for boolean keys, so a new boolean option is covered by these
tests (and by the check) without anyone listing it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CONFIG_DIR, compose_config, run_cli_in_process
from omegaconf import OmegaConf, open_dict

from infocam.errors import ConfigError
from infocam.runtime.booleans import boolean_keys, check_booleans

EXPERIMENTS = sorted(p.stem for p in (Path(CONFIG_DIR) / "experiment").glob("*.yaml"))
COMPOSED = [
    *[("train", [f"experiment={name}"]) for name in EXPERIMENTS],
    ("train", ["logger=many", "debug=fdr"]),
    ("train", ["logger=wandb"]),
    *[("eval", ["ckpt_path=x", "data=synthetic_loc", f"cam={cam}"]) for cam in ("cam", "infocam", "infocam_plus", "gradcam")],
    ("eval_maps", ["metadata_root=x", "scoremap_root=y"]),
    ("report", ["sweep_dir=x"]),
]


def boolean_leaves(node, prefix=""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from boolean_leaves(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(node, bool):
        yield prefix


@pytest.fixture(scope="module")
def composed(tmp_path_factory):
    out = tmp_path_factory.mktemp("cfg")
    return [(name, overrides, compose_config(name, overrides, out)) for name, overrides in COMPOSED]


def test_every_boolean_of_every_composed_config_is_known_and_refuses_a_word(composed):
    known, _ = boolean_keys()
    seen = set()
    for name, overrides, cfg in composed:
        keys = set(boolean_leaves(OmegaConf.to_container(cfg, resolve=False)))
        assert keys <= known, (name, overrides, keys - known)
        check_booleans(cfg)  # the shipped values pass
        for key in sorted(keys - seen):  # each key once, in the first config that has it
            good = OmegaConf.select(cfg, key)
            for word in ("no", "off"):
                OmegaConf.update(cfg, key, word)
                with pytest.raises(ConfigError, match=rf"^{key}='{word}' must be true or false( or \w.*)?$"):
                    check_booleans(cfg)
            OmegaConf.update(cfg, key, good)
        seen |= keys
    # the options the issue names are among those found
    assert {"multi_contour_eval", "cam.subtract", "run.overwrite", "localization.save_scoremaps"} <= seen


def test_numbers_and_nulls_are_refused_where_the_option_takes_neither(composed):
    cfg = next(c for name, _, c in composed if name == "eval_maps")
    for value in (1, 0.0, None):
        bad = cfg.copy()
        bad.multi_contour_eval = value
        with pytest.raises(ConfigError, match="multi_contour_eval=.* must be true or false"):
            check_booleans(bad)
    train = next(c for name, _, c in composed if name == "train").copy()
    with open_dict(train):
        train.trainer.fast_dev_run = 3  # Lightning's options that also take a number or a word keep them
        train.trainer.deterministic = "warn"
        train.trainer.benchmark = None
    check_booleans(train)
    with open_dict(train):
        train.trainer.enable_model_summary = "no"  # a Trainer argument no YAML file sets is checked too
    with pytest.raises(ConfigError, match="trainer.enable_model_summary='no'"):  # noqa: E501
        check_booleans(train)


def test_eval_maps_refuses_a_word_for_a_boolean_in_one_line(tmp_path):
    proc = run_cli_in_process("eval-maps", ["metadata_root=m", "scoremap_root=s", "multi_contour_eval=no",
                                            f"hydra.run.dir={tmp_path / 'r'}"], cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == ["infocam: error: multi_contour_eval='no' must be true or false"]
    assert not (tmp_path / "r" / "metrics.json").exists()
