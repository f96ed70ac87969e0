"""The research API's Monte Carlo and significance test on the golden backtest (in process)."""

from __future__ import annotations

import numpy as np
import pytest

import golden
from candlewire import research
from candlewire.montecarlo.scenarios import CANDLE_METRICS, CandleScenarios, run_scenarios
from candlewire.montecarlo.trades import TRADE_METRICS
from candlewire.strategies.workspace import StrategySnapshot

PIPELINE = [{"gaussian_noise": {"close_sigma": 0.001, "wick_sigma": 0.001}}, {"moving_block_bootstrap": {"block_length": 60}}]


@pytest.fixture(scope="module")
def inputs():
    candles, warm_up = golden.engine_inputs(golden.candles())
    routes = [{"exchange": golden.EXCHANGE, "symbol": golden.SYMBOL, "timeframe": golden.TIMEFRAME, "strategy": golden.strategy_class()}]
    return golden.research_config(), routes, candles, warm_up


@pytest.fixture(scope="module")
def original(inputs):
    config, routes, candles, warm_up = inputs
    return research.backtest(config, routes, [], candles, warm_up)


def test_trades_mode_is_reproducible_and_keeps_the_total_return(original):
    result = research.monte_carlo_trades(original, scenarios=200, seed=42)

    assert result == research.monte_carlo_trades(original, scenarios=200, seed=42)
    assert result["scenarios_completed"] == 200 and len(result["scenario_curves"]) == 200
    assert [entry["name"] for entry in result["metrics"]] == list(TRADE_METRICS)
    total = result["metrics"][0]
    assert total["p_value"] == 1.0 and "does not apply" in total["verdict"]
    assert total["original"] == pytest.approx(sum(t["PNL"] for t in original["trades"]) / 10_000 * 100)
    assert all(len(curve) == len(result["curve_timestamps_ms"]) <= 500 for curve in result["scenario_curves"])


def test_candles_mode_reruns_the_backtest_per_seeded_scenario(inputs, original):
    config, routes, candles, warm_up = inputs
    run = lambda: research.monte_carlo_candles(config, routes, [], candles, warm_up, pipeline=PIPELINE, batch_length=1440, scenarios=3, seed=5)  # noqa: E731
    result = run()

    assert result == run()
    assert [entry["name"] for entry in result["metrics"]] == list(CANDLE_METRICS)
    by_name = {entry["name"]: entry for entry in result["metrics"]}
    assert by_name["total"]["original"] == len(original["trades"])
    assert by_name["net_profit_percentage"]["original"] == pytest.approx(original["metrics"]["net_profit_percentage"])
    curves = np.array(result["scenario_curves"])
    assert curves.shape == (3, len(result["curve_timestamps_ms"])) and not np.allclose(curves[0], curves[1])


def test_significance_test_of_the_golden_route(inputs):
    config, routes, candles, warm_up = inputs
    result = research.significance_test(config, routes[0], [], candles, warm_up, resamples=500, seed=1)

    assert result == research.significance_test(config, routes[0], [], candles, warm_up, resamples=500, seed=1)
    assert 0 < result["p_value"] <= 1 and result["observations"] > 0
    assert sum(result["histogram"]["counts"]) == 500


def test_pool_of_worker_processes_gives_the_same_scenarios_as_one_process(inputs, tmp_path):
    config, routes, candles, warm_up = inputs
    setup = CandleScenarios(
        config, [{**routes[0], "strategy": golden.STRATEGY}], [], candles, warm_up, None, PIPELINE, 1440, seed=9,
        strategy_sources={golden.STRATEGY: StrategySnapshot(golden.STRATEGY_SOURCE)}, strategies_root=str(tmp_path),
    )
    in_process = sorted(run_scenarios(setup, [0, 1, 2], cpu_cores=1), key=lambda summary: summary["index"])
    pooled = sorted(run_scenarios(setup, [0, 1, 2], cpu_cores=2), key=lambda summary: summary["index"])
    assert pooled == in_process
    # Scenario 2 alone is scenario 2 of the whole run.
    assert list(run_scenarios(setup, [2], cpu_cores=1)) == [in_process[2]]
