"""Typed result messages of each job kind, built from the result payloads workers send."""

from __future__ import annotations

from typing import Any

from candlewire.api.convert import timestamp
from candlewire.api.testing.v1 import test_jobs_pb2
from candlewire.api.v1 import backtest_pb2, candles_pb2, common_pb2


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
            backtest_pb2.StrategySource(name=entry["name"], source=entry["source"])
            for entry in payload.get("strategy_sources") or ()
        ],
    )
    if with_curves:
        out.equity_curve.CopyFrom(equity_curve("portfolio", payload["equity_curve"]))
        out.benchmarks.extend(equity_curve(curve["name"], curve) for curve in payload.get("benchmark") or ())
    return out


# Job kind → (field of Event.payload, builder of the typed result).
BY_KIND = {
    "test_job": ("test_job_result", test_job_result),
    "candle_import": ("candle_import_result", candle_import_result),
    "backtest": ("backtest_result", backtest_result),
}
