"""MonteCarloService end to end against a real server (SQLite and PostgreSQL): a trades-mode run from a
finished backtest with its scenario stream, Get, List, the PNG over gRPC and REST, a small candles-mode
run from routes and a period, `candlewire monte-carlo`, and bad input that stores nothing."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import json_format

import golden
from candlewire_client import events as each_event, field_violations
from candlewire_client.v1 import backtest_pb2, candles_pb2, common_pb2, file_pb2, monte_carlo_pb2
from e2e_helpers import rpc_error
from server_process import PASSWORD
from test_api_backtests import params as backtest_params
from test_api_backtests import store_strategy
from test_cli import Cli, succeeded

MC = monte_carlo_pb2
SCENARIOS = 40


@pytest.fixture(scope="module")
def backtest_id(client):
    rows = golden.candles()
    client.candles.ImportCandleFile(
        candles_pb2.ImportCandleFileRequest(exchange=golden.EXCHANGE, symbol=golden.SYMBOL, content=golden.candles_csv(rows))
    )
    store_strategy(client, golden.STRATEGY, golden.STRATEGY_SOURCE)
    request = backtest_pb2.StartBacktestRequest(title="source", params=backtest_params(options={}))
    events = list(each_event(client.backtests.RunBacktest(request, timeout=120)))
    assert events[-1].session.status == common_pb2.SESSION_STATUS_SUCCEEDED
    return events[0].session.id


def start_request(**params) -> MC.StartMonteCarloRequest:
    return MC.StartMonteCarloRequest(title="robustness", params=json_format.ParseDict(params, MC.MonteCarloParams()))


@pytest.fixture(scope="module")
def trades_run(client, backtest_id):
    request = start_request(backtest_id=backtest_id, mode="MONTE_CARLO_MODE_TRADES", scenarios=SCENARIOS, seed=7)
    return list(each_event(client.monte_carlo.RunMonteCarlo(request, timeout=120)))


def monte_carlo_count(client) -> int:
    return len(client.monte_carlo.ListMonteCarlos(MC.ListMonteCarlosRequest(page_size=1000)).monte_carlos)


def test_trades_mode_streams_every_scenario_then_the_statistics(client, trades_run, backtest_id):
    assert trades_run[0].session.kind == common_pb2.SESSION_KIND_MONTE_CARLO
    assert trades_run[-1].session.status == common_pb2.SESSION_STATUS_SUCCEEDED
    scenarios = [event.scenario for event in trades_run if event.HasField("scenario")]
    assert sorted(s.index for s in scenarios) == list(range(SCENARIOS))
    assert all(len(s.equity_curve.values) == len(s.equity_curve.timestamps_ms) > 2 for s in scenarios)
    (result,) = [event.result for event in trades_run if event.HasField("result")]
    assert result.scenarios_completed == SCENARIOS
    names = [m.name for m in result.metrics]
    assert names == ["net_profit_percentage", "max_drawdown", "sharpe_ratio", "calmar_ratio", "volatility"]
    total = result.metrics[0]
    assert total.p_value == 1.0 and "does not apply" in total.verdict
    for metric in result.metrics:
        assert metric.ci95_low <= metric.p5 <= metric.p50 <= metric.p95 <= metric.ci95_high
        assert 0 <= metric.p_value <= 1 and metric.verdict
    progress = [event.progress for event in trades_run if event.HasField("progress")]
    assert progress[-1].done == progress[-1].total == SCENARIOS

    got = client.monte_carlo.GetMonteCarlo(MC.GetMonteCarloRequest(id=trades_run[0].session.id))
    assert got.params.backtest_id == backtest_id and got.params.mode == MC.MONTE_CARLO_MODE_TRADES
    assert got.result.metrics == result.metrics
    assert len(got.result.scenario_equity_curves) == SCENARIOS and len(got.result.original_equity_curve.values) > 2


def test_the_same_seed_gives_the_same_statistics(client, trades_run, backtest_id):
    request = start_request(backtest_id=backtest_id, mode="MONTE_CARLO_MODE_TRADES", scenarios=SCENARIOS, seed=7)
    again = list(each_event(client.monte_carlo.RunMonteCarlo(request, timeout=120)))
    first = [event.result for event in trades_run if event.HasField("result")][0]
    second = [event.result for event in again if event.HasField("result")][0]
    assert first.metrics == second.metrics


def test_png_of_the_equity_curves_over_grpc_and_rest(client, rest, trades_run):
    session_id = trades_run[0].session.id
    chunks = list(client.files.DownloadFile(
        file_pb2.DownloadFileRequest(session_id=session_id, kind=file_pb2.FILE_KIND_CHART_MONTE_CARLO_PNG), timeout=60))
    data = b"".join(chunk.data for chunk in chunks)
    assert chunks[0].content_type == "image/png" and data.startswith(b"\x89PNG")
    response = rest.get(f"/v1/sessions/{session_id}/files/FILE_KIND_CHART_MONTE_CARLO_PNG")
    assert response.status_code == 200 and response.content == data
    # A Monte Carlo has no significance histogram.
    error = rpc_error(lambda: list(client.files.DownloadFile(
        file_pb2.DownloadFileRequest(session_id=session_id, kind=file_pb2.FILE_KIND_CHART_SIGNIFICANCE_PNG))))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_candles_mode_from_routes_and_a_period(client, backtest_id):
    request = start_request(
        backtest=json_format.MessageToDict(backtest_params(options={})),
        mode="MONTE_CARLO_MODE_CANDLES",
        candle_pipeline=[{"gaussian_noise": {"close_sigma": 0.001, "wick_sigma": 0.001}}, {"moving_block_bootstrap": {"block_length": 30}}],
        batch_length=1440, scenarios=2, seed=3, cpu_cores=1,
    )
    events = list(each_event(client.monte_carlo.RunMonteCarlo(request, timeout=120)))
    assert events[-1].session.status == common_pb2.SESSION_STATUS_SUCCEEDED, events[-1].session.error.message
    (result,) = [event.result for event in events if event.HasField("result")]
    assert result.scenarios_completed == 2 and [m.name for m in result.metrics][:3] == ["net_profit_percentage", "max_drawdown", "sharpe_ratio"]
    got = client.monte_carlo.GetMonteCarlo(MC.GetMonteCarloRequest(id=events[0].session.id))
    assert got.params.backtest.routes[0].strategy == golden.STRATEGY
    assert got.params.candle_pipeline[1].moving_block_bootstrap.block_length == 30


@pytest.mark.parametrize(
    "params, field",
    [
        ({"mode": "MONTE_CARLO_MODE_TRADES", "scenarios": 10}, "params.source"),
        ({"backtest_id": "0" * 32, "mode": "MONTE_CARLO_MODE_TRADES", "scenarios": 10}, "params.backtest_id"),
        ({"backtest_id": "SOURCE", "mode": "MONTE_CARLO_MODE_TRADES", "scenarios": 0}, "params.scenarios"),
        ({"backtest_id": "SOURCE", "scenarios": 10}, "params.mode"),
        ({"backtest_id": "SOURCE", "mode": 9, "scenarios": 10}, "params.mode"),
        ({"backtest_id": "SOURCE", "mode": "MONTE_CARLO_MODE_CANDLES", "scenarios": 10}, "params.candle_pipeline"),
        ({"backtest_id": "SOURCE", "mode": "MONTE_CARLO_MODE_CANDLES", "scenarios": 10,
          "candle_pipeline": [{"moving_block_bootstrap": {}}]}, "params.candle_pipeline[0].moving_block_bootstrap.block_length"),
        ({"backtest": {"routes": []}, "mode": "MONTE_CARLO_MODE_TRADES", "scenarios": 10}, "params.backtest.routes"),
    ],
)
def test_bad_requests_are_invalid_argument_and_store_nothing(client, backtest_id, params, field):
    if params.get("backtest_id") == "SOURCE":
        params = {**params, "backtest_id": backtest_id}
    before = monte_carlo_count(client)
    error = rpc_error(lambda: client.monte_carlo.StartMonteCarlo(start_request(**params)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(error), field_violations(error)
    assert monte_carlo_count(client) == before


def test_cli_prints_a_statistics_table(server, backtest_id, tmp_path):
    cli = Cli(server, tmp_path / "xdg")
    succeeded(cli("login", "--password", PASSWORD))
    printed = succeeded(cli("monte-carlo", "--backtest-id", backtest_id, "--scenarios", "20", "--seed", "1")).stdout
    assert "20 scenarios" in printed and "sharpe_ratio" in printed and "does not apply" in printed
