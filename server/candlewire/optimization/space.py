"""The search space of an optimization: the optimized strategy's declared hyperparameters.

A spec is what `hyperparameters()` declares, normalized: {name, type "int"|"float"|"categorical",
min, max, step?, options?, default}.

DNA strings follow the encoding the engine decodes (`engine.backtest._decode_gene`): one character
per hyperparameter in declaration order, code 40..119 mapped linearly onto min..max, or onto the
option index for a categorical one. DNA is lossy (80 levels per gene); candidates keep exact params.
"""

from __future__ import annotations

from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

FIRST_GENE = 40
LAST_GENE = 119


TYPE_NAMES = {int: "int", float: "float", str: "categorical"}


def normalized(declared: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`hyperparameters()` as a strategy returns it (Jesse writes {"type": int}) with string type names."""
    return [{**spec, "type": TYPE_NAMES.get(spec["type"], spec["type"])} for spec in declared]


def distributions(space: list[dict[str, Any]]) -> dict[str, BaseDistribution]:
    out: dict[str, BaseDistribution] = {}
    for spec in space:
        if spec["type"] == "categorical":
            out[spec["name"]] = CategoricalDistribution(list(spec["options"]))
        elif spec["type"] == "int":
            out[spec["name"]] = IntDistribution(int(spec["min"]), int(spec["max"]), step=int(spec.get("step") or 1))
        else:
            out[spec["name"]] = FloatDistribution(float(spec["min"]), float(spec["max"]), step=spec.get("step") or None)
    return out


def dna(params: dict[str, Any], space: list[dict[str, Any]]) -> str:
    genes = []
    for spec in space:
        value = params[spec["name"]]
        if spec["type"] == "categorical":
            options = list(spec["options"])
            fraction = options.index(value) / (len(options) - 1) if len(options) > 1 else 0.0
        else:
            low, high = spec["min"], spec["max"]
            fraction = (value - low) / (high - low) if high != low else 0.0
        genes.append(chr(FIRST_GENE + round(fraction * (LAST_GENE - FIRST_GENE))))
    return "".join(genes)
