"""Imports run downhill only (issue 26): every module of ``infocam/`` is read with ``ast`` (imports
inside functions too, relative imports resolved) and mapped to a layer; an import of a higher
layer, an import loop between modules or between two folders, or a private ``_name`` imported
from another module fails, naming both files.

Layers, top to bottom (STYLE.md "Layout and layers"):

0 entry    ``infocam/cli.py``, ``infocam/run.py``, every other module directly under ``infocam/``
           (their helpers) except the two named below, and ``infocam/entry*/``, ``infocam/launch*/``
1 surfaces ``api/``, ``callbacks/``, ``tasks/``, ``reporting/``
2 science  ``cams/``, ``losses/``, ``metrics/``, ``models/``, ``data/``, ``localization/`` (both box
           protocols, wsolevaluation's in ``localization/wsoleval/``), ``infomask/``, ``mi_estimators/``
3 bottom   ``runtime/``, ``plotting/``, ``registry.py``, ``errors.py``

Within a layer imports may go either way between folders, but not both ways: two folders that
import each other are a loop, as are two modules.

``infocam/__init__.py`` is exempt: it is the package facade, whose lazy ``__getattr__`` hands out
names from ``api/`` and ``localization/`` (and imports nothing at import time).
Two imports by name (``importlib``) are strings, not import statements, and so outside this check:
``Registry._load`` imports the science packages that register the built-in entries (timm's plug-in
pattern), and ``runtime.checkpoints.recorded_task_class`` imports the one task class of its fixed
``TASK_CLASSES`` list that a checkpoint records.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parent.parent / "infocam"

#: layer of each top-level folder (index: 0 is the top)
FOLDER_LAYERS: dict[str, int] = {
    **dict.fromkeys(["api", "callbacks", "tasks", "reporting"], 1),
    **dict.fromkeys(["cams", "losses", "metrics", "models", "data", "localization", "infomask", "mi_estimators"], 2),
    **dict.fromkeys(["runtime", "plotting"], 3),
}
#: modules directly under infocam/ that sit at the bottom; every other one is an entry point (layer 0)
BOTTOM_MODULES = {"registry", "errors"}
#: folders of entry-point helpers (layer 0)
ENTRY_FOLDER_PREFIXES = ("entry", "launch")
LAYER_NAMES = ["entry", "surfaces", "science", "bottom"]
#: the package facade (see the module docstring)
EXEMPT = {"infocam"}

#: Imports other helpers are removing on their branches (issue 26); the lead empties this list after
#: merging them. Each entry is (importer, imported) as module names. An entry whose import is gone, or
#: no longer breaks a rule, fails test_known_until_merge_edges_are_still_problems: the list only shrinks.
KNOWN_UNTIL_MERGE: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Edge:
    """``importer`` imports ``imported`` (module names) at ``path:line``."""

    importer: str
    imported: str
    path: Path
    line: int
    names: tuple[str, ...] = ()  # the names a ``from X import a, b`` takes


def module_files(package_dir: Path) -> dict[str, Path]:
    """Module name -> file, for every ``.py`` file under ``package_dir`` (a package root)."""
    root = package_dir.parent
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _resolve(importer: str, is_package: bool, module: str | None, level: int) -> str:
    """The absolute module a (possibly relative) ``from`` import names."""
    if level == 0:
        return module or ""
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def import_edges(package_dir: Path) -> list[Edge]:
    """Every import of a module of the package, by a module of the package (function-level too)."""
    modules = module_files(package_dir)
    top = package_dir.name
    edges = []
    for importer, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == top:
                        edges.append(Edge(importer, _known(alias.name, modules), path, node.lineno))
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(importer, is_package, node.module, node.level)
                if base.split(".")[0] != top:
                    continue
                for alias in node.names:  # `from pkg import submodule` imports the submodule
                    sub = f"{base}.{alias.name}"
                    target, names = (sub, ()) if sub in modules else (_known(base, modules), (alias.name,))
                    edges.append(Edge(importer, target, path, node.lineno, names))
    return [e for e in edges if e.imported != e.importer]


def _known(name: str, modules: dict[str, Path]) -> str:
    """The longest prefix of ``name`` that is a module of the package."""
    parts = name.split(".")
    while parts and ".".join(parts) not in modules:
        parts.pop()
    return ".".join(parts) or name


def layer_of(module: str) -> int | None:
    """The layer index of a module name (``None`` for the exempt facade)."""
    if module in EXEMPT:
        return None
    parts = module.split(".")
    if len(parts) == 2 and parts[1] in BOTTOM_MODULES:
        return 3
    if len(parts) == 2 and parts[1] not in FOLDER_LAYERS or parts[1].startswith(ENTRY_FOLDER_PREFIXES):
        return 0  # a module directly under the package, or an entry helpers' folder
    if parts[1] not in FOLDER_LAYERS:
        raise AssertionError(f"folder infocam/{parts[1]}/ has no layer: add it to FOLDER_LAYERS in {__file__}")
    return FOLDER_LAYERS[parts[1]]


def folder_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


def _where(edge: Edge, root: Path) -> str:
    return f"{edge.path.relative_to(root)}:{edge.line}"


def upward_imports(edges: list[Edge], root: Path) -> list[str]:
    """One line per import of a module in a higher layer than its importer."""
    problems = []
    for e in edges:
        low, high = layer_of(e.importer), layer_of(e.imported)
        if low is None or high is None or high >= low:
            continue
        problems.append(f"{_where(e, root)} ({LAYER_NAMES[low]}) imports {e.imported} ({LAYER_NAMES[high]}): "
                        f"upward import")
    return problems


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:  # recursion depth is bounded by the module count (~150)
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def import_loops(edges: list[Edge], root: Path, by_folder: bool = False) -> list[str]:
    """One line per import loop between modules (or, with ``by_folder``, between top-level folders):
    the shortest cycle through each group of mutually importing ones, with the import that makes each
    step. A package's ``__init__`` importing its own submodules is no loop by itself; a submodule that
    imports names back from its package ``__init__`` closes one."""
    key = folder_of if by_folder else (lambda m: m)
    step: dict[tuple[str, str], Edge] = {}
    for e in sorted(edges, key=lambda e: (str(e.path), e.line)):
        a, b = key(e.importer), key(e.imported)
        if a != b and layer_of(e.importer) is not None and layer_of(e.imported) is not None:
            step.setdefault((a, b), e)
    graph: dict[str, set[str]] = {}
    for a, b in step:
        graph.setdefault(a, set()).add(b)
    problems = []
    for component in _cycles(graph):
        cycle = _shortest_cycle(component[0], graph, set(component))
        hops = "; ".join(f"{_where(step[a, b], root)} imports {step[a, b].imported}"
                         for a, b in zip(cycle, cycle[1:] + cycle[:1]))
        kind = "folders" if by_folder else "modules"
        problems.append(f"import loop between {kind} {' -> '.join(cycle + cycle[:1])}: {hops}")
    return problems


def _shortest_cycle(start: str, graph: dict[str, set[str]], members: set[str]) -> list[str]:
    """The shortest path ``start -> ... -> start`` inside one strongly connected component (BFS)."""
    parent: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for child in sorted(graph.get(node, set()) & members):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return path[::-1]
                if child not in parent:
                    parent[child] = node
                    nxt.append(child)
        frontier = nxt
    raise AssertionError(f"{start} is in no cycle")  # unreachable for a component of two or more


def private_imports(edges: list[Edge], root: Path) -> list[str]:
    """One line per ``from X import _name`` where ``X`` is another module of the package."""
    return [f"{_where(e, root)} imports the private name {name} from {e.imported}: make it public where it is shared"
            for e in edges for name in e.names if name.startswith("_") and not name.startswith("__")]


def check(package_dir: Path, allowed: set[tuple[str, str]] = frozenset()) -> list[str]:
    """Every layering problem of the package, as lines naming both files."""
    root = package_dir.parent
    for module in module_files(package_dir):
        layer_of(module)  # a folder missing from FOLDER_LAYERS is asked for, not skipped
    edges = [e for e in import_edges(package_dir) if (e.importer, e.imported) not in allowed]
    return [*upward_imports(edges, root), *import_loops(edges, root), *import_loops(edges, root, by_folder=True),
            *private_imports(edges, root)]


# -- the package itself ------------------------------------------------------------------------
def test_infocam_imports_run_downhill_without_loops_or_private_names():
    problems = check(PACKAGE_DIR, KNOWN_UNTIL_MERGE)
    assert not problems, "\n".join(problems)


def test_known_until_merge_edges_are_still_problems():
    """Each allow-list entry still occurs and, allowed alone no more, breaks a rule."""
    present = {(e.importer, e.imported) for e in import_edges(PACKAGE_DIR)}
    stale = sorted(KNOWN_UNTIL_MERGE - present)
    assert not stale, f"remove these from KNOWN_UNTIL_MERGE (the import is gone): {stale}"
    allowed = len(check(PACKAGE_DIR, KNOWN_UNTIL_MERGE))
    harmless = sorted(edge for edge in KNOWN_UNTIL_MERGE if len(check(PACKAGE_DIR, KNOWN_UNTIL_MERGE - {edge})) == allowed)
    assert not harmless, f"remove these from KNOWN_UNTIL_MERGE (they break no rule): {harmless}"


def test_every_folder_has_a_layer():
    for module in module_files(PACKAGE_DIR):
        layer_of(module)  # raises for a folder missing from FOLDER_LAYERS


# -- the checker, on planted packages ----------------------------------------------------------
def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    pkg = tmp_path / "infocam"
    for rel, text in {"__init__.py": "", **files}.items():
        path = pkg / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return pkg


def test_planted_upward_import_inside_a_function_fails_naming_both_files(tmp_path):
    pkg = _package(tmp_path, {
        "runtime/__init__.py": "",
        "runtime/io.py": "def f():\n    from ..tasks.wsol import WSOLModule\n    return WSOLModule\n",
        "tasks/__init__.py": "",
        "tasks/wsol.py": "WSOLModule = 1\n",
    })
    problems = check(pkg)
    assert problems == ["infocam/runtime/io.py:2 (bottom) imports infocam.tasks.wsol (surfaces): upward import"]


def test_planted_entry_import_from_science_fails(tmp_path):
    pkg = _package(tmp_path, {"cli.py": "X = 1\n", "cams/__init__.py": "import infocam.cli\n"})
    assert check(pkg) == ["infocam/cams/__init__.py:1 (science) imports infocam.cli (entry): upward import"]


def test_entry_helper_folders_are_entry_points(tmp_path):
    pkg = _package(tmp_path, {"entry/__init__.py": "", "entry/preflight.py": "from infocam import errors\n",
                              "errors.py": "def f():\n    import infocam.entry.preflight\n"})
    assert check(pkg) == ["infocam/errors.py:2 (bottom) imports infocam.entry.preflight (entry): upward import",
                          "import loop between modules infocam.entry.preflight -> infocam.errors -> "
                          "infocam.entry.preflight: infocam/entry/preflight.py:1 imports infocam.errors; "
                          "infocam/errors.py:2 imports infocam.entry.preflight",
                          "import loop between folders infocam.entry -> infocam.errors -> infocam.entry: "
                          "infocam/entry/preflight.py:1 imports infocam.errors; "
                          "infocam/errors.py:2 imports infocam.entry.preflight"]


def test_planted_loops_between_modules_and_between_folders_fail(tmp_path):
    pkg = _package(tmp_path, {
        "infomask/__init__.py": "",
        "infomask/masking.py": "from infocam.infomask.settings import SCORES\n",
        "infomask/settings.py": "def f():\n    from .masking import mask\n",
        "data/__init__.py": "",
        "data/boxed.py": "import infocam.localization.boxes\n",
        "localization/__init__.py": "",
        "localization/boxes.py": "from infocam.data import boxed\n",
    })
    problems = check(pkg)
    assert any(p.startswith("import loop between modules infocam.infomask.masking -> infocam.infomask.settings"
                            " -> infocam.infomask.masking")
               and "infocam/infomask/settings.py:2 imports infocam.infomask.masking" in p for p in problems), problems
    assert any(p.startswith("import loop between folders infocam.data -> infocam.localization -> infocam.data")
               and "infocam/localization/boxes.py:1 imports infocam.data.boxed" in p for p in problems), problems


def test_planted_private_name_import_fails(tmp_path):
    pkg = _package(tmp_path, {"metrics/__init__.py": "", "metrics/a.py": "_mean_std = 1\n",
                              "metrics/b.py": "from .a import _mean_std, __doc__\n"})
    assert check(pkg) == ["infocam/metrics/b.py:1 imports the private name _mean_std from infocam.metrics.a: "
                          "make it public where it is shared"]


def test_downhill_imports_and_the_facade_pass(tmp_path):
    pkg = _package(tmp_path, {
        "__init__.py": "def __getattr__(n):\n    from infocam.api import mi\n",
        "cli.py": "from infocam import run\nfrom infocam.api import mi\n",
        "run.py": "from infocam.errors import ConfigError\n",
        "errors.py": "class ConfigError(Exception): ...\n",
        "api/__init__.py": "", "api/mi.py": "from ..losses import softmax\n",
        "losses/__init__.py": "from . import softmax\n", "losses/softmax.py": "from infocam.registry import X\n",
        "registry.py": "from infocam.errors import ConfigError\n",
    })
    assert check(pkg) == []


def test_unknown_folder_is_asked_for_a_layer(tmp_path):
    pkg = _package(tmp_path, {"gadgets/__init__.py": "", "gadgets/x.py": ""})
    with pytest.raises(AssertionError, match="infocam/gadgets/ has no layer"):
        check(pkg)
