"""Turning a backtest's metrics into the score an optimization maximizes.

The objective is one metric, or a weighted sum of several. The trade-count penalty is Jesse's:
with `optimal_total_trades` = N > 1 and n closed trades, the factor is min(1, log10(n) / log10(N)),
so a run needs about N trades to keep its full score. A non-negative value is multiplied by the
factor; a negative one is multiplied by (2 - factor), so fewer trades never make a loss look better.

A run that cannot be scored (no closed trades, or a non-finite objective) is degenerate: `score`
returns None and the search records FAILED_SCORE for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

OBJECTIVE_METRICS = {
    "sharpe": "sharpe_ratio",
    "calmar": "calmar_ratio",
    "sortino": "sortino_ratio",
    "omega": "omega_ratio",
    "serenity": "serenity_index",
    "smart_sharpe": "smart_sharpe",
    "smart_sortino": "smart_sortino",
    # The percentage, so net profit weighs comparably with ratios in a weighted objective.
    "net_profit": "net_profit_percentage",
}
WEIGHTED = "weighted"
OBJECTIVES = (*OBJECTIVE_METRICS, WEIGHTED)
# What a failed or degenerate trial scores: far below any real score, still a finite number for samplers.
FAILED_SCORE = -1e9


@dataclass(frozen=True)
class Scoring:
    objective: str
    # objective name → weight; used when objective is "weighted".
    weights: dict[str, float] = field(default_factory=dict)
    optimal_total_trades: int = 0

    def score(self, metrics: dict[str, Any]) -> float | None:
        trades = int(metrics.get("total") or 0)
        if trades == 0:
            return None
        parts = self.weights if self.objective == WEIGHTED else {self.objective: 1.0}
        value = sum(weight * _metric(metrics, OBJECTIVE_METRICS[name]) for name, weight in parts.items())
        if not math.isfinite(value):
            return None
        factor = self.trade_count_factor(trades)
        return value * factor if value >= 0 else value * (2 - factor)

    def trade_count_factor(self, trades: int) -> float:
        if self.optimal_total_trades <= 1:
            return 1.0
        return min(1.0, math.log10(trades) / math.log10(self.optimal_total_trades))


def _metric(metrics: dict[str, Any], name: str) -> float:
    value = metrics.get(name)
    return float("nan") if value is None else float(value)
