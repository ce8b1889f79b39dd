"""Every ``make`` target, config name and repo path the README and the docs pages cite exists.

A rename that leaves a page behind fails here, not in a reader's shell. Only code (fenced blocks and
inline code spans) is checked, never prose.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.fixtures.docs_pages import ROOT, code_text, expand_braces, pages

CONF = ROOT / "conf"

#: config groups a page may choose from with ``group=option``
GROUPS = ("experiment", "sweep", "hparams_search", "data", "model", "loss", "task", "cam", "trainer", "logger",
          "callbacks", "debug", "localization", "paths", "infomask", "hydra/launcher")
#: options that exist without a file: Hydra's own launcher
BUILTIN_OPTIONS = {("hydra/launcher", "basic")}
#: dotted names that are not modules: the entry-point group plug-in packages advertise themselves under
NOT_MODULES = {"infocam.plugins"}
#: top-level folders and files whose paths must exist (logs/, data/, outputs/, site/ are outputs)
TRACKED = ("infocam/", "conf/", "tests/", "benchmarks/", "docker/", "docs/", "reports/", ".ci/")
ROOT_FILES = {"Makefile", "pyproject.toml", "constraints.txt", "setup.py", "mkdocs.yml", "README.md"}
#: paths a command writes when it runs (not committed): the command is named on the page beside them
GENERATED = {"infocam/conf", "reports/demo", "reports/paper", "reports/bench_gpu.json", "reports/cub_small", "reports/benchmarks.md"}

MAKE = re.compile(r"(?<![\w-])make ([a-z][a-z0-9-]*)")
OPTION = re.compile(r"(?<![\w./+-])(" + "|".join(re.escape(g) for g in GROUPS) + r")=([A-Za-z0-9_,{}|]+)")
PATH = re.compile(r"(?<![\w./-])((?:" + "|".join(re.escape(t) for t in TRACKED) + r")[\w./{},*<>-]*)")
DOTTED = re.compile(r"(?<![\w./-])(infocam(?:\.\w+)+)")
ROOT_FILE = re.compile(r"(?<![\w./-])(" + "|".join(re.escape(f) for f in sorted(ROOT_FILES)) + r")(?![\w.-])")


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    # a rule may name several targets (``paper-table4 paper-table5: paper-wsol``)
    rules = re.findall(r"^([a-z][a-z0-9 -]*?)\s*:(?!=)", text, re.M)
    return {target for rule in rules for target in rule.split()}


def option_exists(group: str, option: str) -> bool:
    return (group, option) in BUILTIN_OPTIONS or (CONF / group / f"{option}.yaml").is_file()


def path_exists(path: str) -> bool:
    path = path.rstrip(".,:;)")
    if any(path == g or path.startswith(g + "/") or path.startswith(g + ".") for g in GENERATED):
        return True
    if "<" in path:  # a placeholder (`<run>/...`): check the part before it
        path = path.split("<", 1)[0].rstrip("/") or "."
    if any(ch in path for ch in "*?"):
        return any(ROOT.glob(path))
    return (ROOT / path).exists()


def dotted_exists(name: str) -> bool:
    """``infocam.a.b.attr``: the longest prefix that is a module file, then each attribute in its source."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:end])
        module = base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
        if module.is_file():
            rest = parts[end:]
            if not rest:
                return True
            source = module.read_text(encoding="utf-8")
            if (base / "__init__.py").is_file() and not base.with_suffix(".py").is_file():
                # a package: the attribute may be one of its submodules
                if (base / f"{rest[0]}.py").is_file() or (base / rest[0]).is_dir():
                    return True
            word = re.escape(rest[0])
            # defined, assigned, imported or named in a lazy-import table
            return bool(re.search(rf"(?:def|class)\s+{word}\b|^\s*{word}\s*[:=]|^\s*(?:from\s+\S+\s+)?import\b.*\b{word}\b|"
                                  rf"[\"']{word}[\"']", source, re.M))
    return False


def stale_references(text: str) -> list[str]:
    """What a page's code cites that does not exist, one string per problem."""
    problems = []
    targets = make_targets()
    for code in code_text(text):
        for target in MAKE.findall(code):
            if target not in targets:
                problems.append(f"make {target}: no such Makefile target")
        for group, value in OPTION.findall(code):
            for option in (o for token in expand_braces(value) for o in re.split(r"[,|]", token)):
                if option and not option.isupper() and option != "null" and not option_exists(group, option):
                    problems.append(f"{group}={option}: no conf/{group}/{option}.yaml")
        for raw in PATH.findall(code):
            for path in expand_braces(raw):
                if not path_exists(path):
                    problems.append(f"{path}: no such file or folder")
        for name in DOTTED.findall(code):
            if name not in NOT_MODULES and not dotted_exists(name):
                problems.append(f"{name}: no such module or name")
    return problems


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_reference_on_the_page_exists(page: Path):
    assert stale_references(page.read_text(encoding="utf-8")) == []


def test_the_readmes_links_reach_files():
    """The README is read outside the site (GitHub, PyPI), so mkdocs does not check its links: this does."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = [t for t in re.findall(r"\]\(([^)\s#]+)", text) if not re.match(r"[a-z]+:", t)]
    assert targets, "the README links to its docs pages"
    assert [t for t in targets if not (ROOT / t).exists()] == []


def test_the_config_group_table_lists_every_option():
    """The configuration page's group table names every option file of each group, and only those."""
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([\w/]+)/` \| (.*?) \|", text, re.M)
    assert len(rows) >= 10
    for group, cell in rows:
        listed = {o for token in re.findall(r"`([\w{},]+)`", cell) for o in expand_braces(token)}
        on_disk = {p.stem for p in (CONF / group).glob("*.yaml")} if group != "local" else set()
        assert on_disk <= listed, f"conf/{group}/ has options the table leaves out: {sorted(on_disk - listed)}"
        named = {o for o in listed if (group, o) not in BUILTIN_OPTIONS and re.fullmatch(r"[a-z0-9_]+", o)}
        unknown = {o for o in named - on_disk if not (CONF / group / o).exists()}
        assert not unknown or group == "local", f"the table names options conf/{group}/ lacks: {sorted(unknown)}"


def test_a_planted_bad_reference_is_caught():
    planted = """
Run `make no-such-target`, then `infocam-train experiment=mi_gmm,no_such_recipe sweep=mi_table2`,
read `infocam/no_such_module.py` and `conf/sweep/gone.yaml`, and call `infocam.metrics.no_such_name`.

```bash
make demo
infocam-eval cam=infocam_pluss data=synthetic_loc hydra/launcher=basic
```
"""
    assert sorted(stale_references(planted)) == sorted([
        "make no-such-target: no such Makefile target",
        "experiment=no_such_recipe: no conf/experiment/no_such_recipe.yaml",
        "infocam/no_such_module.py: no such file or folder",
        "conf/sweep/gone.yaml: no such file or folder",
        "infocam.metrics.no_such_name: no such module or name",
        "cam=infocam_pluss: no conf/cam/infocam_pluss.yaml",
    ])


def test_the_good_references_in_the_planted_page_pass():
    assert stale_references("`make demo`, `experiment=wsol_{cub,tiny}_{vgg16,resnet50}`, `infocam/registry.py`, "
                            "`infocam.registry.LOSSES`, `hydra/launcher=basic`, `loss=softmax|pc_softmax`") == []


def test_code_and_config_comments_point_at_pages_that_exist():
    """Comments in the code, configs and Makefile that send a reader to a docs page name a real page."""
    sources = [*ROOT.glob("infocam/**/*.py"), *ROOT.glob("conf/**/*.yaml"), *ROOT.glob("benchmarks/*.py"),
               ROOT / "Makefile", ROOT / "pyproject.toml"]
    cited = {(src.relative_to(ROOT), page) for src in sources
             for page in re.findall(r"docs/[\w-]+\.md", src.read_text(encoding="utf-8"))}
    assert cited, "the code points at its docs pages"
    assert sorted((str(src), page) for src, page in cited if not (ROOT / page).is_file()) == []
