"""Loading strategy classes from the source snapshot recorded with a backtest session.

The snapshot, not the file on disk, is what runs: results stay explainable after the strategy
is edited. The module is still given the strategy's folder as its package path, so relative
imports of helper files next to `__init__.py` keep working (those helpers are read from disk).
"""

from __future__ import annotations

import linecache
import sys
import types
from collections.abc import Callable, Mapping
from pathlib import Path

from candlewire.strategies.workspace import SOURCE_FILE

# Jesse's package name for user strategies; their relative imports resolve beneath it.
MODULE_PREFIX = "strategies"


def load_strategy(name: str, source: str, directory: Path) -> type:
    """Execute `source` as a fresh package module `strategies.<name>` and return its class `name`."""
    module_name = f"{MODULE_PREFIX}.{name}"
    for loaded in [key for key in sys.modules if key == module_name or key.startswith(module_name + ".")]:
        del sys.modules[loaded]
    filename = str(directory / SOURCE_FILE)
    # Tracebacks and the engine's "line N" locations read lines through linecache: point them at
    # the snapshot. An entry without an mtime is never reloaded from disk.
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    module = types.ModuleType(module_name)
    module.__file__ = filename
    module.__path__ = [str(directory)]
    module.__package__ = module_name
    sys.modules[module_name] = module
    exec(compile(source, filename, "exec", dont_inherit=True), module.__dict__)  # noqa: S102 - running the user's strategy is the point
    return getattr(module, name)


def snapshot_loader(sources: Mapping[str, str], strategies_root: Path) -> Callable[[str], type]:
    """The engine's `strategy_loader`: each name loads once from `sources` (name → snapshot source)."""
    classes: dict[str, type] = {}

    def load(name: str) -> type:
        if name not in classes:
            classes[name] = load_strategy(name, sources[name], strategies_root / name)
        return classes[name]

    return load
