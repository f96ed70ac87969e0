"""Loading strategy classes from the source snapshot recorded with a backtest session.

The snapshot, not the folder on disk, is what runs: results stay explainable after the strategy
is edited. A strategy is executed as the package `strategies.<name>` (Jesse's layout), so its
relative imports of helper modules resolve beneath it; those are served from the snapshot too.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import linecache
import sys
import types
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from candlewire.strategies.workspace import SOURCE_FILE, StrategySnapshot

# Jesse's package name for user strategies; their relative imports resolve beneath it.
MODULE_PREFIX = "strategies"


def recorded_snapshots(entries: Iterable[Mapping[str, Any]]) -> dict[str, StrategySnapshot]:
    """name → snapshot, from the `strategy_sources` a session records ([{name, source, helper_files}])."""
    return {entry["name"]: StrategySnapshot(entry["source"], dict(entry.get("helper_files") or {})) for entry in entries}


def recorded_entries(snapshots: Mapping[str, StrategySnapshot]) -> list[dict[str, Any]]:
    return [
        {"name": name, "source": snapshot.source, "helper_files": snapshot.helper_files}
        for name, snapshot in snapshots.items()
    ]


def load_strategy(name: str, snapshot: StrategySnapshot, directory: Path) -> type:
    """Execute the snapshot as a fresh package `strategies.<name>` and return its class `name`."""
    package = f"{MODULE_PREFIX}.{name}"
    for loaded in [key for key in sys.modules if key == package or key.startswith(package + ".")]:
        del sys.modules[loaded]
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    # Importing a nested helper (`from .lib.sizing import …`) looks up the top-level package too.
    if MODULE_PREFIX not in sys.modules:
        root = types.ModuleType(MODULE_PREFIX)
        root.__path__ = [str(directory.parent)]
        sys.modules[MODULE_PREFIX] = root
    _FINDER.packages[package] = (directory, snapshot.helper_files)
    filename = str(directory / SOURCE_FILE)
    module = types.ModuleType(package)
    module.__file__ = filename
    module.__path__ = [str(directory)]
    module.__package__ = package
    sys.modules[package] = module
    _execute(snapshot.source, filename, module)
    return getattr(module, name)


def snapshot_loader(snapshots: Mapping[str, StrategySnapshot], strategies_root: Path) -> Callable[[str], type]:
    """The engine's `strategy_loader`: each name loads once from its snapshot."""
    classes: dict[str, type] = {}

    def load(name: str) -> type:
        if name not in classes:
            classes[name] = load_strategy(name, snapshots[name], strategies_root / name)
        return classes[name]

    return load


def _execute(source: str, filename: str, module: types.ModuleType) -> None:
    # Tracebacks and the engine's "line N" locations read lines through linecache: point them at
    # the snapshot. An entry without an mtime is never reloaded from disk.
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    exec(compile(source, filename, "exec", dont_inherit=True), module.__dict__)  # noqa: S102 - running the user's strategy is the point


class _SnapshotFinder(importlib.abc.MetaPathFinder):
    """Finds `strategies.<name>.<module>` in the snapshot of `<name>`'s helper files, before the
    filesystem is searched."""

    def __init__(self) -> None:
        # package → (strategy folder, helper files by relative path)
        self.packages: dict[str, tuple[Path, dict[str, str]]] = {}

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(MODULE_PREFIX + "."):
            return None
        package = fullname.rpartition(".")[0]
        while package and package not in self.packages:
            package, _, _ = package.rpartition(".")
        if not package:
            return None
        directory, files = self.packages[package]
        relative = fullname[len(package) + 1 :].replace(".", "/")
        for candidate, is_package in ((f"{relative}/{SOURCE_FILE}", True), (f"{relative}.py", False)):
            if candidate in files:
                loader = _SnapshotModule(files[candidate], str(directory / candidate))
                spec = importlib.util.spec_from_loader(fullname, loader, origin=loader.filename, is_package=is_package)
                spec.has_location = True
                if is_package:
                    spec.submodule_search_locations = [str(directory / relative)]
                return spec
        return None


class _SnapshotModule(importlib.abc.Loader):
    def __init__(self, source: str, filename: str):
        self.source = source
        self.filename = filename

    def create_module(self, spec):
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        _execute(self.source, self.filename, module)


_FINDER = _SnapshotFinder()
