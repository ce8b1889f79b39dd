"""mkdocs hook: pages that write ``<!-- registry: LOSSES -->`` get that registry's entries, as they
are at build time (``Registry.available()``), so the plug-in lists cannot go stale."""

from __future__ import annotations

import inspect
import re
import sys

MARKER = re.compile(r"<!-- registry: (\w+) -->")
NAMES_MARKER = "<!-- registry-names -->"
REGISTRIES = ("LOSSES", "MODELS", "CAMS", "INDEX_TRANSFORMS")


def _first_line(factory: object) -> str:
    """The factory's docstring's first paragraph, else its module's (a class without its own)."""
    doc = inspect.getdoc(factory) or inspect.getdoc(sys.modules[factory.__module__]) or ""
    return doc.split("\n\n")[0].replace("\n", " ").replace("|", "\\|").strip()


def _options(factory: object) -> str:
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return ""
    return ", ".join(f"`{p.name}`" for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def registry_table(name: str) -> str:
    """A markdown table of one registry: name, module, options (its keyword arguments), docstring."""
    from infocam import registry

    entries = getattr(registry, name)
    rows = ["| name | defined in | options | what it is |", "| --- | --- | --- | --- |"]
    for key in entries.available():
        factory = entries.get(key)
        rows.append(f"| `{key}` | `{factory.__module__}` | {_options(factory)} | {_first_line(factory)} |")
    return "\n".join(rows)


def registry_names() -> str:
    """One line per registry: its name and ``available()``, for the API page."""
    from infocam import registry

    return "\n".join(f"- `{name}`: " + ", ".join(f"`{key}`" for key in getattr(registry, name).available())
                     for name in REGISTRIES)


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ANN001 (mkdocs' hook signature)
    markdown = markdown.replace(NAMES_MARKER, registry_names())
    return MARKER.sub(lambda m: registry_table(m.group(1)), markdown)
