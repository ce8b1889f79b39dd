"""``import infocam`` stays light (names load on first use) and offers the public API."""

from __future__ import annotations

import subprocess
import sys

import pytest

import infocam

PUBLIC = ("estimate_mi", "MIResult", "CAM", "InfoCAM", "InfoCAMPlus", "GradCAM", "cams_to_boxes", "evaluate_scoremaps", "overlay")


def test_import_loads_neither_torch_nor_lightning():
    code = "import sys, infocam; print(sorted(m for m in ('torch', 'lightning', 'numpy', 'hydra') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_public_names_resolve_and_unknown_names_raise():
    from infocam.api.cams import InfoCAM
    from infocam.localization.boxes import cams_to_boxes

    assert infocam.InfoCAM is InfoCAM and infocam.cams_to_boxes is cams_to_boxes
    assert set(PUBLIC) <= set(infocam.__all__) and set(PUBLIC) <= set(dir(infocam))
    for name in PUBLIC:
        assert callable(getattr(infocam, name))
    with pytest.raises(AttributeError, match="no attribute 'estimate_MI'"):
        infocam.estimate_MI  # noqa: B018
