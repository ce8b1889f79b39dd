"""Name -> factory registries for the science plug-ins (losses, models, CAM methods, ...).

Wiring (DataModules, trainers, loggers) goes through Hydra's ``_target_``; the things a
researcher swaps on the command line by a short name (``loss=pc_softmax``) go through a
``Registry`` so that an unknown name fails with the list of what exists.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import inspect
from importlib.metadata import entry_points
from typing import Any, Callable, Generic, Iterator, Mapping, TypeVar

from omegaconf import OmegaConf

from infocam.errors import ConfigError

T = TypeVar("T")

PLUGIN_ENTRY_POINT_GROUP = "infocam.plugins"


class Registry(Generic[T]):
    """A typed mapping from a stable snake_case name to a factory returning ``T``."""

    def __init__(self, kind: str, builtin_module: str | None = None, group: str | None = None) -> None:
        self.kind = kind
        # the config group whose ``name`` picks an entry (``model.name=mlp``), for error messages
        self.group = group or kind
        # the package whose import registers the built-in entries (imported on first lookup)
        self._builtin_module = builtin_module
        self._factories: dict[str, Callable[..., T]] = {}
        self._aliases: dict[str, str] = {}

    def register(self, name: str | None = None, *, aliases: tuple[str, ...] = ()) -> Callable:
        """Decorator: ``@LOSSES.register("pc_softmax")`` (defaults to the object's name)."""

        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            key = name or factory.__name__
            if key in self._factories or key in self._aliases:
                raise ValueError(f"{self.kind} {key!r} is already registered")
            self._factories[key] = factory
            for alias in aliases:
                self._aliases[alias] = key
            return factory

        return decorator

    def get(self, name: str) -> Callable[..., T]:
        """The factory registered under ``name``; unknown names raise a ``ConfigError``."""
        self._load()
        key = self._aliases.get(name, name)
        if key not in self._factories:
            close = difflib.get_close_matches(name, self.available(), n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(
                f"unknown {self.kind} {name!r}. Registered: {', '.join(self.available())}.{hint}"
            )
        return self._factories[key]

    def create(self, name: str, **kwargs: Any) -> T:
        """Build the entry ``name``; ``None`` kwargs are dropped so config defaults apply."""
        factory = self.get(name)
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        check_options(self.group, name, factory, kwargs)
        return factory(**kwargs)

    def from_spec(self, spec: Mapping[str, Any] | None, **kwargs: Any) -> T:
        """Build the entry a config spec names: ``{"name": NAME, **options}`` (a dict or a
        DictConfig), with ``kwargs`` (e.g. ``num_classes``) added to the spec's options.

        A missing name or an option the entry does not take is one ``ConfigError`` line.
        """
        options = dict(OmegaConf.to_container(spec, resolve=True) if OmegaConf.is_config(spec) else (spec or {}))
        name = options.pop("name", None)
        if not name:
            raise ConfigError(f"{self.group}.name is required (registered: {', '.join(self.available())})")
        return self.create(name, **options, **kwargs)

    def available(self, pattern: str = "*") -> list[str]:
        """Sorted registered names matching a shell-style ``pattern``."""
        self._load()
        return sorted(n for n in self._factories if fnmatch.fnmatch(n, pattern))

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._factories or name in self._aliases

    def __iter__(self) -> Iterator[str]:
        return iter(self.available())

    def _load(self) -> None:
        if self._builtin_module is not None:
            module, self._builtin_module = self._builtin_module, None
            importlib.import_module(module)
        _load_plugins()

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.available()})"


_plugins_loaded = False


def _load_plugins() -> None:
    """Import third-party modules advertised under the ``infocam.plugins`` entry point.

    Importing them runs their ``@REGISTRY.register`` decorators, so ``loss=their_loss``
    works from the CLI without touching this package.
    """
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for entry_point in entry_points(group=PLUGIN_ENTRY_POINT_GROUP):
        entry_point.load()


def check_options(group: str, name: str, factory: Callable, kwargs: dict[str, Any]) -> None:
    """Options ``factory`` does not take, as one line (e.g. ``experiment=wsol_synthetic
    model=vgg16_gap``: the experiment's ``model.channels`` is gap_cnn's), instead of Python's
    "unexpected keyword argument" inside Hydra's traceback."""
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: let the call decide
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return
    takes = [p.name for p in parameters if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
    unknown = sorted(set(kwargs) - set(takes))
    if unknown:
        raise ConfigError(
            f"{group}={name} does not take the option(s) {', '.join(unknown)} (set by the config or an experiment "
            f"for another {group}); {name} takes: {', '.join(takes) or 'no options'}"
        )
    required = [p.name for p in parameters if p.default is inspect.Parameter.empty
                and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
    missing = [key for key in required if key not in kwargs]
    if missing:
        raise ConfigError(f"{group}={name} needs the option(s) {', '.join(missing)}")


LOSSES: Registry = Registry("loss", "infocam.losses")
MODELS: Registry = Registry("model", "infocam.models")
CAMS: Registry = Registry("cam method", "infocam.cams", group="cam")
INDEX_TRANSFORMS: Registry = Registry("index transform", "infocam.data.imbalance", group="data.balance_options.<balance>")
