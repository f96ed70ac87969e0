"""The backtest domain in-process on SQLite: request resolution and validation, then the `backtest` job's
run() with a recording context, checked against `research.backtest` on the same candles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import golden
import pytest
from candlewire import research
from candlewire.backtests.job import run
from candlewire.backtests.request import resolve_backtest
from candlewire.config import default_config
from candlewire.engine.errors import ConflictingRules
from candlewire.errors import InvalidArgument
from candlewire.storage.candles import insert_candles
from candlewire.storage.db import create_engine, migrate
from candlewire.strategies.workspace import StrategyWorkspace
from recording_context import RecordingContext


@pytest.fixture(scope="module")
def rows():
    return golden.candles()


@pytest.fixture
def setup(tmp_path: Path, rows):
    url = f"sqlite:///{tmp_path / 'candlewire.db'}"
    engine = create_engine(url)
    migrate(engine)
    insert_candles(engine, golden.EXCHANGE, golden.SYMBOL, rows)
    workspace = StrategyWorkspace(tmp_path)
    workspace.create(golden.STRATEGY)
    workspace.save(golden.STRATEGY, golden.STRATEGY_SOURCE)
    yield engine, workspace, RecordingContext(url, tmp_path)
    engine.dispose()


def request(**changes) -> dict[str, Any]:
    values = {
        "routes": [{"exchange": golden.EXCHANGE, "symbol": golden.SYMBOL, "timeframe": golden.TIMEFRAME, "strategy": golden.STRATEGY}],
        "data_routes": [],
        "start_date": (golden.START.year, golden.START.month, golden.START.day),
        "finish_date": (golden.FINISH.year, golden.FINISH.month, golden.FINISH.day),
        "warm_up_candles": golden.WARM_UP_CANDLES,
        "options": {"export_charts": True, "benchmark": True},
    }
    values.update(changes)
    return values


def resolve(setup, **changes) -> dict[str, Any]:
    engine, workspace, _ = setup
    return resolve_backtest(request(**changes), default_config(2), workspace, engine)


def violations(setup, **changes) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as raised:
        resolve(setup, **changes)
    return raised.value.violations


def test_job_result_matches_research_backtest(setup, rows):
    params = resolve(setup)
    ctx = setup[2]
    # Edits after the start do not change what runs: the session recorded the source.
    setup[1].save(golden.STRATEGY, golden.STRATEGY_SOURCE.replace("0.5", "0.9"))
    result = run(params, ctx)

    candles, warm_up = golden.engine_inputs(rows)
    routes = [{"exchange": golden.EXCHANGE, "symbol": golden.SYMBOL, "timeframe": golden.TIMEFRAME, "strategy": golden.strategy_class()}]
    expected = research.backtest(golden.research_config(), routes, [], candles, warm_up, generate_charts=True)
    assert len(result["trades"]) >= 10
    assert result["trades"] == expected["trades"]
    assert result["orders"] == expected["orders"]
    assert result["metrics"] == expected["metrics"]
    assert result["equity_curve"] == expected["equity_curve"]
    assert result["strategy_sources"] == [{"name": golden.STRATEGY, "source": golden.STRATEGY_SOURCE, "helper_files": {}}]
    assert [curve["name"] for curve in result["benchmark"]] == [f"{golden.SYMBOL} buy and hold"]
    assert "logs" not in result

    progress = [payload for kind, payload in ctx.events if kind == "progress"]
    assert progress[-1][:2] == (expected["total_bars"], expected["total_bars"])
    assert progress[-1][2] == golden.day_ms(golden.FINISH)
    logs = [payload for kind, payload in ctx.events if kind == "log"]
    strategy_logs = [text for _, text in logs if "going long at" in text]
    assert strategy_logs and strategy_logs[0].startswith("[2024-03-0")


def test_charts_drop_nan_points_of_indicator_warm_up(setup):
    result = run(resolve(setup, warm_up_candles=0), setup[2])
    for line in result["charts"][0]["lines"]:
        assert line["values"] and all(value == value for value in line["values"])


def test_hyperparameter_overrides_merge_with_the_declared_defaults(setup, rows):
    result = run(resolve(setup, hyperparameters={"fast": 3}), setup[2])
    candles, warm_up = golden.engine_inputs(rows)
    routes = [{"exchange": golden.EXCHANGE, "symbol": golden.SYMBOL, "timeframe": golden.TIMEFRAME, "strategy": golden.strategy_class()}]
    expected = research.backtest(golden.research_config(), routes, [], candles, warm_up, {"fast": 3, "slow": 13})
    assert result["trades"] == expected["trades"]


def test_relative_imports_of_helper_files_work(setup):
    engine, workspace, ctx = setup
    (workspace.root / golden.STRATEGY / "sizing.py").write_text("def fraction():\n    return 0.25\n")
    workspace.save(golden.STRATEGY, golden.STRATEGY_SOURCE.replace(
        "from candlewire import Strategy\n", "from candlewire import Strategy\nfrom .sizing import fraction\n"
    ).replace("self.balance * 0.5", "self.balance * fraction()"))
    result = run(resolve(setup), ctx)
    assert result["trades"] and result["trades"][0]["qty"] == pytest.approx(10_000 * 0.25 / result["trades"][0]["entry_price"], abs=0.001)


def test_helper_files_run_as_snapshotted_when_the_session_started(setup):
    engine, workspace, ctx = setup
    helpers = workspace.root / golden.STRATEGY / "lib"
    helpers.mkdir()
    (helpers / "__init__.py").write_text("")
    (helpers / "sizing.py").write_text("def fraction():\n    return 0.25\n")
    workspace.save(golden.STRATEGY, golden.STRATEGY_SOURCE.replace(
        "from candlewire import Strategy\n", "from candlewire import Strategy\nfrom .lib.sizing import fraction\n"
    ).replace("self.balance * 0.5", "self.balance * fraction()"))
    params = resolve(setup)

    (helpers / "sizing.py").write_text("def fraction():\n    return 0.75\n")
    result = run(params, ctx)

    assert params["strategy_sources"][0]["helper_files"]["lib/sizing.py"] == "def fraction():\n    return 0.25\n"
    assert result["trades"][0]["qty"] == pytest.approx(10_000 * 0.25 / result["trades"][0]["entry_price"], abs=0.001)


def test_strategy_rule_broken_at_run_time_names_rule_and_line(setup):
    engine, workspace, ctx = setup
    workspace.create("BothSides")
    workspace.save("BothSides", golden.BOTH_SIDES_SOURCE)
    params = resolve(setup, routes=[{**request()["routes"][0], "strategy": "BothSides"}])
    with pytest.raises(ConflictingRules) as raised:
        run(params, ctx)
    long_line = golden.BOTH_SIDES_SOURCE.splitlines().index("    def should_long(self):") + 1
    assert "should_long() and should_short() are both True" in raised.value.message
    assert f"line {long_line}" in raised.value.message


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"routes": []}, "routes", "at least one route"),
        ({"routes": [{"exchange": "nope", "symbol": "BTC-USDT", "timeframe": "15m", "strategy": golden.STRATEGY}]}, "routes[0].exchange", "unknown exchange"),
        ({"routes": [{"exchange": golden.EXCHANGE, "symbol": "btcusdt", "timeframe": "15m", "strategy": golden.STRATEGY}]}, "routes[0].symbol", "BTC-USDT"),
        ({"routes": [{"exchange": golden.EXCHANGE, "symbol": golden.SYMBOL, "timeframe": "7m", "strategy": golden.STRATEGY}]}, "routes[0].timeframe", "unknown timeframe"),
        ({"routes": [{"exchange": golden.EXCHANGE, "symbol": golden.SYMBOL, "timeframe": "15m", "strategy": "Missing"}]}, "routes[0].strategy", "no strategy named"),
        ({"routes": [{"exchange": golden.EXCHANGE, "symbol": "ETH-USDT", "timeframe": "15m", "strategy": golden.STRATEGY}]}, "routes[0].symbol", "no candles stored"),
        ({"start_date": (2024, 2, 30)}, "start_date", "valid calendar date"),
        ({"start_date": None}, "start_date", "required"),
        ({"finish_date": (2024, 3, 1)}, "finish_date", "after start_date"),
        ({"start_date": (2024, 3, 1)}, "start_date", "start on or after 2024-03-02"),
        ({"finish_date": (2024, 3, 9)}, "finish_date", "finish on or before 2024-03-05"),
        ({"warm_up_candles": 200}, "start_date", "warm-up"),
        ({"hyperparameters": {"nope": 1}}, "hyperparameters.nope", "declared: fast, slow"),
        ({"hyperparameters": {"fast": 2.5}}, "hyperparameters.fast", "integer"),
        ({"hyperparameters": {"fast": 500}}, "hyperparameters.fast", "between 2 and 50"),
        ({"exchanges": [{"exchange": golden.EXCHANGE, "fee": 0.5}]}, "exchanges[0].fee", "below 0.1"),
        ({"warm_up_candles": -1}, "warm_up_candles", "between 0 and 100000"),
    ],
)
def test_bad_requests_name_their_fields(setup, changes, field, words):
    found = violations(setup, **changes)
    assert field in found, found
    assert words in found[field]


def test_broken_source_reports_its_line(setup):
    setup[1].save(golden.STRATEGY, golden.STRATEGY_SOURCE.replace("def should_long(self):", "def should_long(self)"))
    line = golden.STRATEGY_SOURCE.splitlines().index("    def should_long(self):") + 1
    assert f"line {line}: syntax error" in violations(setup)["routes[0].strategy"]


def test_exchange_overrides_and_options_are_recorded(setup):
    params = resolve(setup, exchanges=[{"exchange": golden.EXCHANGE, "starting_balance": 5000.0, "fee": 0, "type": ""}],
                     options={"debug_mode": True})
    assert params["exchange"]["starting_balance"] == 5000.0
    # Unset (zero) fields keep the configured values.
    assert params["exchange"]["fee"] == 0.0004 and params["exchange"]["type"] == "futures"
    assert all(params["logging"].values())
    assert params["options"] == {"debug_mode": True, "export_charts": False, "fast_mode": False, "benchmark": False}
    assert params["strategy_sources"][0]["source"] == golden.STRATEGY_SOURCE
