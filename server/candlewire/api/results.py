"""Typed result messages of each job kind, built from the result payloads workers send."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from candlewire.api.convert import hyperparameter_value, timestamp
from candlewire.api.testing.v1 import test_jobs_pb2
from candlewire.api.v1 import (
    backtest_pb2,
    candles_pb2,
    common_pb2,
    monte_carlo_pb2,
    optimization_pb2,
    significance_test_pb2,
)


def test_job_result(payload: dict[str, Any]) -> test_jobs_pb2.TestJobResult:
    return test_jobs_pb2.TestJobResult(steps_done=payload.get("steps_done", 0))


def candle_import_result(payload: dict[str, Any]) -> candles_pb2.CandleImportResult:
    return candles_pb2.CandleImportResult(
        exchange=payload["exchange"],
        symbol=payload["symbol"],
        inserted=payload.get("inserted", 0),
        skipped_existing=payload.get("skipped_existing", 0),
        start_time=timestamp(payload["start_ms"]),
        end_time=timestamp(payload["end_ms"]),
        gaps=[common_pb2.TimeRange(start_time=timestamp(a), end_time=timestamp(b)) for a, b in payload.get("gaps", [])],
    )


def metrics(values: dict[str, Any]) -> common_pb2.Metrics:
    out = common_pb2.Metrics()
    for field in out.DESCRIPTOR.fields:
        if values.get(field.name) is not None:
            number = values[field.name]
            setattr(out, field.name, int(number) if field.type == field.TYPE_INT64 else float(number))
    return out


def equity_curve(name: str, curve: dict[str, Any]) -> common_pb2.EquityCurve:
    return common_pb2.EquityCurve(name=name, timestamps_ms=curve["timestamps_ms"], values=curve["values"])


def backtest_result(payload: dict[str, Any], with_curves: bool = True) -> backtest_pb2.BacktestResult:
    """The summary of a backtest result; trades and orders are counted here and paged by ListBacktestTrades."""
    out = backtest_pb2.BacktestResult(
        metrics=metrics(payload.get("metrics") or {}),
        trades_count=len(payload.get("trades") or ()),
        orders_count=len(payload.get("orders") or ()),
        strategy_sources=[
            backtest_pb2.StrategySource(
                name=entry["name"], source=entry["source"], helper_files=entry.get("helper_files") or {}
            )
            for entry in payload.get("strategy_sources") or ()
        ],
    )
    if with_curves:
        out.equity_curve.CopyFrom(equity_curve("portfolio", payload["equity_curve"]))
        out.benchmarks.extend(equity_curve(curve["name"], curve) for curve in payload.get("benchmark") or ())
    return out


def monte_carlo_scenario(payload: dict[str, Any]) -> monte_carlo_pb2.MonteCarloScenario:
    """A partial result {"scenario": {...}} of a Monte Carlo job."""
    scenario = payload["scenario"]
    return monte_carlo_pb2.MonteCarloScenario(
        index=scenario["index"],
        metrics=metrics(scenario["metrics"]),
        equity_curve=equity_curve(f"scenario {scenario['index']}", scenario["equity_curve"]),
    )


def monte_carlo_result(payload: dict[str, Any]) -> monte_carlo_pb2.MonteCarloResult:
    """The final result of a Monte Carlo job."""
    out = monte_carlo_pb2.MonteCarloResult(
        scenarios_completed=payload.get("scenarios_completed", 0),
        metrics=[monte_carlo_pb2.MetricDistribution(**distribution) for distribution in payload.get("metrics", ())],
    )
    if "original_equity_curve" in payload:
        out.original_equity_curve.CopyFrom(equity_curve("original", payload["original_equity_curve"]))
    timestamps = payload.get("curve_timestamps_ms", ())
    out.scenario_equity_curves.extend(
        common_pb2.EquityCurve(name=f"scenario {index}", timestamps_ms=timestamps, values=values)
        for index, values in enumerate(payload.get("scenario_curves", ()))
    )
    return out


def is_monte_carlo_scenario(payload: dict[str, Any]) -> bool:
    return "scenario" in payload


def significance_test_result(payload: dict[str, Any]) -> significance_test_pb2.SignificanceTestResult:
    return significance_test_pb2.SignificanceTestResult(
        p_value=payload["p_value"],
        observed_mean=payload["observed_mean"],
        annualized_return=payload["annualized_return"],
        observations=payload["observations"],
        warning=payload["warning"],
        histogram=significance_test_pb2.Histogram(
            bin_edges=payload["histogram"]["bin_edges"], counts=payload["histogram"]["counts"]
        ),
    )


def hyperparameter_values(params: dict[str, Any]) -> dict[str, common_pb2.HyperparameterValue]:
    return {name: hyperparameter_value(value) for name, value in params.items()}


TRIAL_STATES = {"complete": optimization_pb2.TRIAL_STATE_COMPLETE, "failed": optimization_pb2.TRIAL_STATE_FAILED}


def is_optimization_trial(payload: dict[str, Any]) -> bool:
    return "trial" in payload


def optimization_trial(report: dict[str, Any], best_score: float | None = None) -> optimization_pb2.OptimizationTrial:
    return optimization_pb2.OptimizationTrial(
        best_score=best_score,
        number=report["number"],
        state=TRIAL_STATES[report["state"]],
        params=hyperparameter_values(report["params"]),
        dna=report["dna"],
        score=report["score"],
        scores=report["scores"],
        training_metrics=metrics(report["training_metrics"]),
    )


def optimization_result(payload: dict[str, Any]) -> optimization_pb2.OptimizationResult:
    """The summary of an optimization."""
    curve = payload.get("objective_curve") or {}
    return optimization_pb2.OptimizationResult(
        trials_completed=payload.get("trials_completed", 0),
        candidates=[
            optimization_pb2.OptimizationCandidate(
                rank=candidate["rank"],
                params=hyperparameter_values(candidate["params"]),
                dna=candidate["dna"],
                score=candidate["score"],
                training_metrics=metrics(candidate["training_metrics"]),
                testing_metrics=metrics(candidate["testing_metrics"]),
            )
            for candidate in payload.get("candidates") or ()
        ],
        objective_curve=optimization_pb2.ObjectiveCurve(
            trial_numbers=curve.get("trial_numbers", ()),
            scores=curve.get("scores", ()),
            best_scores=curve.get("best_scores", ()),
        ),
    )


class TypedResult(NamedTuple):
    service_field: str  # field of the service's XxxEvent oneof
    event_field: str  # field of EventService's Event oneof
    message: Any


# Job kind → its result shapes, tried in order: (test of the payload or None for "any",
# field in the service's event, field in Event, builder). Partial results (a finished trial,
# a scenario) and the final result of one job fill different fields.
_SHAPES: dict[str, list[tuple[Callable[[dict], bool] | None, str, str, Callable[[dict], Any]]]] = {
    "test_job": [(None, "result", "test_job_result", test_job_result)],
    "candle_import": [(None, "result", "candle_import_result", candle_import_result)],
    "backtest": [(None, "result", "backtest_result", backtest_result)],
    "monte_carlo": [
        (is_monte_carlo_scenario, "scenario", "monte_carlo_scenario", monte_carlo_scenario),
        (None, "result", "monte_carlo_result", monte_carlo_result),
    ],
    "significance_test": [(None, "result", "significance_test_result", significance_test_result)],
    "optimization": [
        (is_optimization_trial, "trial", "optimization_trial", lambda payload: optimization_trial(payload["trial"], payload.get("best_score"))),
        (None, "result", "optimization_result", optimization_result),
    ],
}


def typed_result(kind: str, payload: dict[str, Any]) -> TypedResult:
    """The typed message a job kind's result payload becomes, and where it goes."""
    for matches, service_field, event_field, build in _SHAPES[kind]:
        if matches is None or matches(payload):
            return TypedResult(service_field, event_field, build(payload))
    raise KeyError(kind)
