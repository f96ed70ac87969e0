"""candlewire: algorithmic-trading research and trading engine.

Strategy code imports from here as Jesse code imports from `jesse`:
`from candlewire import Strategy, cached` and `from candlewire import indicators, utils,
research`. Those names load on first use, so a server process importing `candlewire`
does not pay for numpy.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_ATTRIBUTES = {
    "Strategy": ("candlewire.engine.strategy", "Strategy"),
    "cached": ("candlewire.engine.strategy", "cached"),
}
_SUBMODULES = ("indicators", "utils", "research")

__all__ = ["__version__", "Strategy", "cached", *_SUBMODULES]


def __getattr__(name: str):
    if name in _ATTRIBUTES:
        module, attribute = _ATTRIBUTES[name]
        value = getattr(importlib.import_module(module), attribute)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"candlewire.{name}")
    else:
        raise AttributeError(f"module 'candlewire' has no attribute {name!r}")
    globals()[name] = value
    return value
