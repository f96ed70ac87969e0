"""Job kind → dotted path ("module:function") of `run(params: dict, ctx: JobContext) -> dict`.

Paths rather than callables: the worker process imports only the job it runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from candlewire.errors import InvalidArgument

_targets: dict[str, str] = {
    "test_job": "candlewire.jobs.test_job:run",
    "backtest": "candlewire.backtests.job:run",
    "monte_carlo": "candlewire.montecarlo.job:run",
    "significance_test": "candlewire.significance.job:run",
    "optimization": "candlewire.optimization.job:run",
}


def register(kind: str, target: str) -> None:
    module, _, function = target.partition(":")
    if not module or not function:
        raise InvalidArgument(f"job target {target!r} is not 'module:function'", {"target": "expected module:function"})
    _targets[kind] = target


def target_of(kind: str) -> str:
    try:
        return _targets[kind]
    except KeyError:
        raise InvalidArgument(f"no job registered for kind {kind!r}", {"kind": "no job registered for this kind"}) from None


def registered_kinds() -> list[str]:
    return sorted(_targets)


def load(target: str) -> Callable[..., Any]:
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)
