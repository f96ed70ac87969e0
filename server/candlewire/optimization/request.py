"""Turning an optimization request into the params its session records, or one InvalidArgument naming
every bad field (paths inside the request), with nothing stored.

The markets, exchange settings, strategies and candle coverage are checked by the backtest
resolution (`candlewire.backtests.request`), once per period; its `start_date`/`finish_date`
become `training_…`/`testing_…` here. Recorded params:

    routes, data_routes, exchange, warm_up_candles, strategy_sources   as a backtest records them
    training, testing            {start_ms, finish_ms}
    search_space                 routes[0]'s strategy's declared hyperparameters
    trials, objective, objective_weights {name: weight}, optimal_total_trades, seed,
    cpu_cores (0 resolved to this machine's cores: it is also the ask/tell batch size),
    sampler, multi_objective
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from candlewire.backtests.request import resolve_backtest
from candlewire.errors import InvalidArgument, require
from candlewire.optimization.scoring import OBJECTIVE_METRICS, OBJECTIVES, WEIGHTED
from candlewire.optimization.study import SAMPLERS
from candlewire.strategies.diagnostics import declared_hyperparameters
from candlewire.strategies.workspace import StrategyWorkspace

PERIODS = ("training", "testing")
MAX_TRIALS = 100_000
DEFAULT_OBJECTIVE = "sharpe"
DEFAULT_SAMPLER = "tpe"


def resolve_optimization(
    request: dict[str, Any], config: dict[str, Any], workspace: StrategyWorkspace, engine: sa.Engine
) -> dict[str, Any]:
    violations: dict[str, str] = {}
    periods: dict[str, dict[str, Any]] = {}
    for period in PERIODS:
        backtest_request = {
            "routes": request.get("routes") or [],
            "data_routes": request.get("data_routes") or [],
            "start_date": request.get(f"{period}_start_date"),
            "finish_date": request.get(f"{period}_finish_date"),
            "exchanges": request.get("exchanges") or [],
            "warm_up_candles": request.get("warm_up_candles"),
        }
        try:
            periods[period] = resolve_backtest(backtest_request, config, workspace, engine)
        except InvalidArgument as error:
            for field, reason in error.violations.items():
                renamed = f"{period}_{field}" if field in ("start_date", "finish_date") else field
                violations.setdefault(renamed, reason)
    search_space = _search_space(periods.get("training"), violations)
    objective, weights = _objective(request, violations)
    trials = request.get("trials") or 0
    if not 1 <= trials <= MAX_TRIALS:
        violations["trials"] = f"must be between 1 and {MAX_TRIALS}"
    optimal_total_trades = request.get("optimal_total_trades") or 0
    if optimal_total_trades < 0:
        violations["optimal_total_trades"] = "must not be negative"
    cpu_cores = request.get("cpu_cores") or 0
    if cpu_cores < 0:
        violations["cpu_cores"] = "must not be negative (0 uses every core)"
    sampler = request.get("sampler") or DEFAULT_SAMPLER
    multi_objective = bool(request.get("multi_objective"))
    if sampler not in SAMPLERS:
        violations["sampler"] = f"unknown sampler; must be one of {', '.join(SAMPLERS)}"
    elif sampler == "cma_es" and multi_objective:
        violations["sampler"] = "CMA-ES optimizes a single objective; use NSGA-II (or TPE) with multi_objective"
    require(violations, "invalid optimization request")
    training = periods["training"]
    return {
        "routes": training["routes"],
        "data_routes": training["data_routes"],
        "exchange": training["exchange"],
        "warm_up_candles": training["warm_up_candles"],
        "strategy_sources": training["strategy_sources"],
        **{period: {"start_ms": periods[period]["start_ms"], "finish_ms": periods[period]["finish_ms"]} for period in PERIODS},
        "search_space": search_space,
        "trials": trials,
        "objective": objective,
        "objective_weights": weights,
        "optimal_total_trades": optimal_total_trades,
        "seed": int(request.get("seed") or 0),
        "cpu_cores": cpu_cores or os.cpu_count() or 1,
        "sampler": sampler,
        "multi_objective": multi_objective,
    }


def _search_space(training: dict[str, Any] | None, violations: dict[str, str]) -> list[dict[str, Any]]:
    """The declared hyperparameters of routes[0]'s strategy (read from its source, not run)."""
    if training is None:
        return []
    name = training["routes"][0]["strategy"]
    source = next(entry["source"] for entry in training["strategy_sources"] if entry["name"] == name)
    declared = declared_hyperparameters(source, name)
    if not declared:
        violations["routes[0].strategy"] = (
            f"{name} declares no hyperparameters to optimize: hyperparameters() must return a literal list of "
            "{name, type, min, max, default} (or options for a categorical one)"
        )
    return declared


def _objective(request: dict[str, Any], violations: dict[str, str]) -> tuple[str, dict[str, float]]:
    objective = request.get("objective") or DEFAULT_OBJECTIVE
    if objective not in OBJECTIVES:
        violations["objective"] = f"unknown objective; must be one of {', '.join(OBJECTIVES)}"
    weights: dict[str, float] = {}
    for i, entry in enumerate(request.get("objective_weights") or []):
        name = entry.get("objective") or ""
        if name not in OBJECTIVE_METRICS:
            violations[f"objective_weights[{i}].objective"] = f"must be one of {', '.join(OBJECTIVE_METRICS)}"
        elif name in weights:
            violations[f"objective_weights[{i}].objective"] = "listed twice"
        elif not entry.get("weight"):
            violations[f"objective_weights[{i}].weight"] = "must not be zero"
        else:
            weights[name] = float(entry["weight"])
    if objective == WEIGHTED and not request.get("objective_weights"):
        violations["objective_weights"] = "a weighted objective needs at least one weight"
    return objective, weights


def candidate_backtest_request(params: dict[str, Any], candidate: dict[str, Any], testing_period: bool) -> dict[str, Any]:
    """The backtest request (as `resolve_backtest` reads it) of one candidate on the training or testing
    period: the optimization's markets and settings, routes[0] with the candidate's DNA, and its exact
    hyperparameters (DNA rounds them to 80 levels)."""
    period = params["testing" if testing_period else "training"]
    routes = [dict(route) for route in params["routes"]]
    routes[0]["dna"] = candidate["dna"]
    return {
        "routes": routes,
        "data_routes": params["data_routes"],
        "start_date": _day(period["start_ms"]),
        "finish_date": _day(period["finish_ms"]),
        "exchanges": [params["exchange"]],
        "warm_up_candles": params["warm_up_candles"],
        "hyperparameters": candidate["params"],
        "options": {"benchmark": True},
    }


def _day(ms: int) -> tuple[int, int, int]:
    moment = datetime.fromtimestamp(ms / 1000, timezone.utc)
    return moment.year, moment.month, moment.day
