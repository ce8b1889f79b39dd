"""A checkpoint's task record (``infocam_task``) is matched against the project's task classes
before anything is imported (issue 21, item 1)."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import pytest

import infocam.tasks
from infocam.errors import ConfigError
from infocam.run import checkpoint_task_class
from infocam.runtime.checkpoints import TASK_CLASSES
from infocam.tasks.base import RegistryTask


def test_a_record_naming_another_module_is_refused_before_that_module_is_imported(tmp_path, monkeypatch):
    marker = tmp_path / "imported.txt"
    (tmp_path / "sidefx_h21.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\nclass Task: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("sidefx_h21.Task", "sidefx_h21", "infocam.tasks.wsol.WSOLModule.sidefx_h21"):
        with pytest.raises(ConfigError, match="which is not an infocam task"):
            checkpoint_task_class({"infocam_task": name}, tmp_path / "x.ckpt")
    assert not marker.exists() and "sidefx_h21" not in sys.modules


def test_a_record_of_another_type_is_refused_in_one_line(tmp_path):
    with pytest.raises(ConfigError, match=r"x.ckpt: records task .*not an infocam task \(one of: "):
        checkpoint_task_class({"infocam_task": ["infocam.tasks.wsol.WSOLModule"]}, tmp_path / "x.ckpt")


def test_every_project_task_class_is_on_the_list_and_resolves():
    found = set()
    for info in pkgutil.iter_modules(infocam.tasks.__path__, "infocam.tasks."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, RegistryTask) and value is not RegistryTask \
                    and value.__module__ == module.__name__:
                found.add(f"{value.__module__}.{value.__qualname__}")
    assert found == set(TASK_CLASSES)  # a new task class must be added to the list
    for name in TASK_CLASSES:
        assert checkpoint_task_class({"infocam_task": name}, "x.ckpt").__name__ == name.rsplit(".", 1)[1]
