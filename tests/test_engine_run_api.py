"""run_backtest's interface: result schema, progress, logs, cancellation, charts, data
routes, strategy loading by name, and the research module."""

from __future__ import annotations

import numpy as np
import pytest

from candlewire.engine.backtest import run_backtest
from candlewire.engine.errors import BacktestCancelled
from candlewire.engine.strategy import Strategy
from test_engine_support import EXCHANGE, START_MS, SYMBOL, candles, config, flat, run

RESULT_KEYS = {
    "metrics", "trades", "orders", "daily_balances", "equity_curve", "benchmark", "charts", "logs",
    "starting_balance", "finishing_balance", "start_ms", "finish_ms", "total_bars",
}


class Swing(Strategy):
    """Buys on even hours, sells on odd ones; logs and draws."""

    def should_long(self):
        return self.index % 2 == 0

    def go_long(self):
        self.buy = 1, self.price
        self.log(f"entering at {self.price}")

    def update_position(self):
        self.liquidate()

    def after(self):
        self.add_line_to_candle_chart("close", self.close)
        self.add_extra_line_chart("balance", "wallet", self.balance, "blue")
        self.add_horizontal_line_to_candle_chart("level", 100)


def _wave(n: int) -> np.ndarray:
    prices = 100 + 5 * np.sin(np.arange(n) / 50)
    return candles([(p, p, p + 0.1, p - 0.1) for p in prices])


def test_result_schema_progress_logs_and_charts():
    progress, logs = [], []
    array = _wave(3000)
    routes = [{"exchange": EXCHANGE, "symbol": SYMBOL, "timeframe": "1h", "strategy": Swing}]
    data = {f"{EXCHANGE}-{SYMBOL}": {"exchange": EXCHANGE, "symbol": SYMBOL, "candles": array}}
    result = run_backtest(
        config(fee=0.001), routes, [], data,
        on_progress=lambda done, total, at: progress.append((done, total, at)),
        on_log=lambda level, text, at: logs.append((level, text, at)),
        generate_charts=True,
    )
    assert RESULT_KEYS <= set(result)
    assert result["total_bars"] == 3000 and result["start_ms"] == START_MS
    assert result["finish_ms"] == START_MS + 3000 * 60_000
    assert 1 < len(progress) <= 101 and progress[-1][:2] == (3000, 3000)
    assert [p[0] for p in progress] == sorted(p[0] for p in progress)
    assert any("entering at" in text for _, text, _ in logs)
    assert len(result["logs"]) == len(logs)
    trade = result["trades"][0]
    assert {"id", "strategy_name", "type", "entry_price", "exit_price", "qty", "fee", "PNL", "PNL_percentage",
            "leverage", "holding_period", "opened_at", "closed_at", "orders"} <= set(trade)
    assert trade["strategy_name"] == "Swing"
    assert {o["route"] for o in result["orders"]} == {0}
    (chart,) = result["charts"]
    assert chart["lines"][0]["title"] == "close" and len(chart["lines"][0]["values"]) == 50
    assert chart["extra_charts"][0]["chart"] == "balance"
    assert chart["horizontal_lines"][0]["value"] == 100
    metrics = result["metrics"]
    if metrics:  # the metrics module is written alongside the engine
        assert metrics["total"] == len(result["trades"])
        assert metrics["starting_balance"] == 10_000


def test_should_stop_cancels_the_run():
    with pytest.raises(BacktestCancelled):
        run_backtest(
            config(), [{"exchange": EXCHANGE, "symbol": SYMBOL, "timeframe": "1m", "strategy": Swing}], [],
            {f"{EXCHANGE}-{SYMBOL}": {"exchange": EXCHANGE, "symbol": SYMBOL, "candles": _wave(500)}},
            should_stop=lambda: True,
        )


def test_strategy_by_name_and_data_routes():
    seen = {}

    class Reader(Strategy):
        def should_long(self):
            seen["eth"] = self.get_candles(EXCHANGE, "ETH-USDT", "5m")[-1].tolist()
            seen["routes"] = [(r.symbol, r.timeframe) for r in self.data_routes]
            return False

        def go_long(self):
            pass

    eth = candles(flat(10, 50))
    result = run_backtest(
        config(),
        [{"exchange": EXCHANGE, "symbol": SYMBOL, "timeframe": "5m", "strategy": "Reader"}],
        [{"exchange": EXCHANGE, "symbol": "ETH-USDT", "timeframe": "5m"}],
        {
            f"{EXCHANGE}-{SYMBOL}": {"exchange": EXCHANGE, "symbol": SYMBOL, "candles": candles(flat(10))},
            f"{EXCHANGE}-ETH-USDT": {"exchange": EXCHANGE, "symbol": "ETH-USDT", "candles": eth},
        },
        strategy_loader={"Reader": Reader}.__getitem__,
    )
    assert result["trades"] == []
    assert seen["eth"] == [START_MS + 5 * 60_000, 50, 50, 50, 50, 5]
    assert seen["routes"] == [("ETH-USDT", "5m")]


def test_strategy_reads_its_account_and_metrics():
    seen = {}

    class Reader(Strategy):
        def should_long(self):
            return self.index == 0

        def go_long(self):
            self.buy = 2, self.price

        def update_position(self):
            seen.update(
                qty=self.position.qty, pnl=self.position.pnl, value=self.position.value,
                margin=self.available_margin, portfolio=self.portfolio_value, type=self.position.type,
                base=self.base_asset, quote=self.quote_asset, entry_orders=len(self.entry_orders),
                metrics=self.metrics,
            )

    run(Reader, [(100, 100, 100, 100), (100, 110, 110, 100), (110, 110, 110, 110)], futures_leverage=2)
    # long 2 from 100; price 110: pnl 20, value 220; margin = 10000 - (2*100/2 - 20) = 9920
    assert (seen["qty"], seen["pnl"], seen["value"], seen["type"]) == (2, 20, 220, "long")
    assert seen["margin"] == pytest.approx(9920)
    assert seen["portfolio"] == pytest.approx((10000 + 20) * 2)
    assert (seen["base"], seen["quote"]) == ("BTC", "USDT")
    assert seen["entry_orders"] == 1
    assert isinstance(seen["metrics"], dict)


def test_research_stores_and_reads_candles(tmp_path):
    from candlewire import research

    url = f"sqlite:///{tmp_path / 'candles.db'}"
    array = candles([(1, 2, 3, 0.5)] * 10)
    assert research.store_candles(array, EXCHANGE, SYMBOL, database_url=url) == 10
    bars = research.get_candles(EXCHANGE, SYMBOL, "5m", START_MS, START_MS + 10 * 60_000, database_url=url)
    assert bars.tolist() == [[START_MS, 1, 2, 3, 0.5, 5], [START_MS + 300_000, 1, 2, 3, 0.5, 5]]
    result = research.backtest(
        config(), [{"exchange": EXCHANGE, "symbol": SYMBOL, "timeframe": "1m", "strategy": Swing}], [],
        {f"{EXCHANGE}-{SYMBOL}": {"exchange": EXCHANGE, "symbol": SYMBOL, "candles": array}},
    )
    assert RESULT_KEYS <= set(result)
