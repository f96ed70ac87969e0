"""Candles-mode Monte Carlo on a real Dask cluster (a scheduler and two single-threaded workers, each
its own process on loopback): the same seed gives the same result as on this machine, and a worker
killed mid-job loses no scenario."""

from __future__ import annotations

import time

import pytest
from distributed import get_task_stream

import golden
from candlewire import research
from candlewire.execution import DASK_SCHEDULER_ENV
from candlewire.montecarlo.analysis import candles_monte_carlo
from candlewire.montecarlo.scenarios import CandleScenarios
from candlewire.strategies.workspace import StrategySnapshot
from dask_cluster import cluster  # noqa: F401 - cluster is a fixture
from optimization_helpers import SLOW_SOURCE

PIPELINE = [{"gaussian_noise": {"close_sigma": 0.001, "wick_sigma": 0.001}}, {"moving_block_bootstrap": {"block_length": 60}}]
SCENARIOS = 4


@pytest.fixture(scope="module")
def inputs():
    candles, warm_up = golden.engine_inputs(golden.candles())
    return golden.research_config(), candles, warm_up


def route(strategy) -> list[dict]:
    return [{"exchange": golden.EXCHANGE, "symbol": golden.SYMBOL, "timeframe": golden.TIMEFRAME, "strategy": strategy}]


def scenario_tasks(stream) -> list[dict]:
    return [task for task in stream.data if str(task["key"]).startswith("run_scenario")]


def test_the_research_api_gives_the_same_seeded_result_on_the_cluster_as_here(cluster, inputs, monkeypatch):
    config, candles, warm_up = inputs
    routes = route(golden.strategy_class())

    def run(scheduler=None):
        return research.monte_carlo_candles(
            config, routes, [], candles, warm_up, pipeline=PIPELINE, batch_length=1440, scenarios=SCENARIOS, seed=5,
            scheduler=scheduler,
        )

    monkeypatch.delenv(DASK_SCHEDULER_ENV, raising=False)
    here = run()
    with get_task_stream(client=cluster.client) as stream:
        on_dask = run(cluster.address)

    assert on_dask == here
    assert here["scenarios_completed"] == SCENARIOS and len(here["scenario_curves"]) == SCENARIOS
    # Every scenario ran once, on the cluster's workers.
    workers = set(cluster.client.scheduler_info()["workers"])
    assert len(scenario_tasks(stream)) == SCENARIOS
    assert {task["worker"] for task in scenario_tasks(stream)} <= workers


def test_a_worker_killed_mid_job_loses_no_scenario(cluster, inputs, tmp_path, monkeypatch):
    config, candles, warm_up = inputs
    # The server job's way: strategies travel as sources (~0.6 s a scenario with the slow one).
    setup = CandleScenarios(
        config, route(golden.STRATEGY), [], candles, warm_up, None, PIPELINE, 1440, seed=11,
        strategy_sources={golden.STRATEGY: StrategySnapshot(SLOW_SOURCE)}, strategies_root=str(tmp_path),
    )
    original = research.backtest(config, route(golden.strategy_class(SLOW_SOURCE)), [], candles, warm_up)
    scenarios = 8
    monkeypatch.delenv(DASK_SCHEDULER_ENV, raising=False)
    here = candles_monte_carlo(setup, original, scenarios, cpu_cores=1)

    monkeypatch.setenv(DASK_SCHEDULER_ENV, cluster.address)
    heard: list[int] = []
    tasks_lost = 0

    def on_scenario(index, metrics, timestamps, values):
        nonlocal tasks_lost
        heard.append(index)
        # Two scenarios in, six are left: both workers hold some.
        if len(heard) == 2:
            tasks_lost = cluster.kill_busy_worker()

    started = time.monotonic()
    on_dask = candles_monte_carlo(setup, original, scenarios, cpu_cores=2, on_scenario=on_scenario)

    assert tasks_lost >= 1
    assert sum(worker.poll() is not None for worker in cluster.workers) == 1
    assert sorted(heard) == list(range(scenarios))
    assert on_dask == here
    assert time.monotonic() - started < 120
