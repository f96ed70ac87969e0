"""Turning a significance-test request into the params its session records, or an
InvalidArgument naming every bad field (nothing is stored then).

The request mirrors SignificanceTestParams: one `route`, `data_routes`, the period, exchange
overrides, `warm_up_candles` and `hyperparameters` are checked exactly as a backtest's (the
route is a backtest's only route), plus `resamples` (0: DEFAULT_RESAMPLES) and `seed`. Params:
{"backtest": resolved backtest params, "resamples", "seed"}.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from candlewire.backtests.request import resolve_backtest
from candlewire.errors import InvalidArgument, require
from candlewire.significance.bootstrap import DEFAULT_RESAMPLES
from candlewire.strategies.workspace import StrategyWorkspace

MAX_RESAMPLES = 100_000
_ROUTE_FIELDS = ("exchange", "symbol", "timeframe", "strategy", "dna")


def resolve_significance_test(
    request: dict[str, Any], config: dict[str, Any], workspace: StrategyWorkspace, engine: sa.Engine
) -> dict[str, Any]:
    violations: dict[str, str] = {}
    resamples = int(request.get("resamples") or 0) or DEFAULT_RESAMPLES
    if not 1 <= resamples <= MAX_RESAMPLES:
        violations["resamples"] = f"must be between 0 (meaning {DEFAULT_RESAMPLES}) and {MAX_RESAMPLES}"
    if int(request.get("seed") or 0) < 0:
        violations["seed"] = "must not be negative"
    route = request.get("route")
    backtest = None
    if not route or not any(route.get(field) for field in _ROUTE_FIELDS):
        violations["route"] = "is required: the exchange, symbol, timeframe and strategy whose signal is tested"
    else:
        backtest_request = {
            "routes": [route],
            **{key: request.get(key) for key in ("data_routes", "start_date", "finish_date", "exchanges", "warm_up_candles", "hyperparameters")},
        }
        try:
            backtest = resolve_backtest(backtest_request, config, workspace, engine)
        except InvalidArgument as error:
            violations.update({_route_field(field): reason for field, reason in error.violations.items()})
    require(violations, "invalid significance test request")
    return {"backtest": backtest, "resamples": resamples, "seed": int(request.get("seed") or 0)}


def _route_field(field: str) -> str:
    """The backtest's `routes[0]…` is this request's `route…`."""
    if field.startswith("routes[0]"):
        return "route" + field.removeprefix("routes[0]")
    return "route" if field == "routes" else field
