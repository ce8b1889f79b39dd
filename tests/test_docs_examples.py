"""Every ``python`` code block in the docs pages and the README runs as printed.

A block marked ``<!-- skip: REASON -->`` on the line before it (a GPU, a cluster) is listed as a
skip with that reason. A plug-in example (``@LOSSES.register("name")``) must register its names,
which are removed again afterwards so the other tests see the shipped registries. A block the README's quick-tour already runs
(``tests/test_api_readme.py``) is run once, there.
"""

from __future__ import annotations

import re
import pytest

from tests.fixtures.docs_pages import ROOT, Block, blocks, pages
from tests.test_api_readme import python_blocks as readme_tour_blocks

ALL = [b for page in pages() for b in blocks(page) if b.lang == "python"]
TOUR = {code.strip() for code in readme_tour_blocks()}
RUN_HERE = [b for b in ALL if b.code.strip() not in TOUR]


def test_blocks_are_found_and_every_skip_says_why():
    assert len(ALL) >= 6  # the three quick-tour examples twice, the box example, the plug-in
    for block in (b for page in pages() for b in blocks(page)):
        if block.marker.startswith("skip"):
            assert block.marker.partition(":")[2].strip(), f"{block.name}: a skip marker needs a reason"


def test_the_getting_started_page_carries_the_readme_tour():
    page = [b.code.strip() for b in blocks(ROOT / "docs" / "getting-started.md") if b.lang == "python"]
    assert TOUR <= set(page)


@pytest.mark.slow
@pytest.mark.parametrize("block", RUN_HERE, ids=lambda b: b.name)
def test_python_block_runs(block: Block, tmp_path, capsys):
    if block.marker.startswith("skip"):
        pytest.skip(block.marker)
    registered = re.findall(r"@(\w+)\.register\(\"(\w+)\"", block.code)
    if registered:
        # a plug-in example: it must register its names, and they are taken out again afterwards so
        # the registries the other tests see stay as shipped
        from infocam import registry

        try:
            exec(compile(block.code, block.name, "exec"), {"__name__": "__docs__"})
            for kind, name in registered:
                assert name in getattr(registry, kind).available(), f"{block.name} did not register {name}"
        finally:
            for kind, name in registered:
                getattr(registry, kind)._factories.pop(name, None)
        return
    exec(compile(block.code, block.name, "exec"), {"__name__": "__docs__"})
    assert capsys.readouterr().out.strip(), f"{block.name} prints nothing to check"
