"""Rule significance test: the bootstrap against numpy, and signals recorded through the engine."""

from __future__ import annotations

import numpy as np
import pytest

from candlewire.engine.strategy import Strategy
from candlewire.significance.bootstrap import bootstrap_null_means, rule_returns, significance_test
from candlewire.significance.signals import record_signals
from test_engine_support import EXCHANGE, SYMBOL, candles, config


def _prices(returns: np.ndarray) -> np.ndarray:
    return 100 * np.exp(np.concatenate([[0.0], np.cumsum(returns)]))


def test_rule_returns_are_signal_times_detrended_next_bar_log_returns():
    closes = np.array([100.0, 110.0, 99.0, 120.0, 120.0])
    signals = np.array([1, 0, -1, 1, 1])
    log_returns = np.diff(np.log(closes))
    detrended = log_returns - log_returns.mean()
    assert rule_returns(signals, closes) == pytest.approx([detrended[0], -detrended[2], detrended[3]])


def test_null_means_are_bootstrap_means_of_the_centred_returns():
    returns = np.array([0.01, -0.02, 0.03, 0.005])
    means = bootstrap_null_means(returns, 5, seed=4)
    indices = np.random.default_rng(4).integers(0, 4, size=(5, 4))
    assert means == pytest.approx((returns - returns.mean())[indices].mean(axis=1))


def test_p_value_on_a_constructed_case():
    # Random returns and random ±1 signals: the p-value must equal the share computed here.
    rng = np.random.default_rng(0)
    returns = rng.normal(0, 0.01, 400)
    closes = _prices(returns)
    signals = np.sign(rng.normal(size=401))
    result = significance_test(signals, closes, bars_per_year=365, resamples=500, seed=9)
    x = rule_returns(signals, closes)
    null = bootstrap_null_means(x, 500, 9)
    assert result["p_value"] == pytest.approx((1 + np.count_nonzero(null >= x.mean())) / 501)
    assert result["observed_mean"] == pytest.approx(x.mean())
    assert result["observations"] == x.size
    assert result["annualized_return"] == pytest.approx(np.expm1(x.mean() * 365))
    assert sum(result["histogram"]["counts"]) == 500
    assert len(result["histogram"]["bin_edges"]) == len(result["histogram"]["counts"]) + 1


def test_a_predictive_signal_is_significant_and_a_random_one_is_not():
    rng = np.random.default_rng(1)
    returns = rng.normal(0.0002, 0.01, 1_000)
    closes = _prices(returns)
    # Right 60 % of the time about the next bar's direction.
    predictive = np.where(rng.random(1_000) < 0.6, np.sign(returns), -np.sign(returns))
    random_signal = rng.choice([-1.0, 0.0, 1.0], size=1_000)

    good = significance_test(np.append(predictive, 0), closes, 365, seed=3)
    luck = significance_test(np.append(random_signal, 0), closes, 365, seed=3)

    assert good["p_value"] < 0.01 and good["observed_mean"] > 0 and good["warning"] == ""
    assert luck["p_value"] > 0.1


def test_same_seed_same_result_and_a_warning_under_30_observations():
    closes = _prices(np.random.default_rng(2).normal(0, 0.01, 20))
    signals = np.ones(21)
    first = significance_test(signals, closes, 365, resamples=300, seed=5)
    assert first == significance_test(signals, closes, 365, resamples=300, seed=5)
    assert first["observations"] == 20 and "fewer than 30" in first["warning"]


def test_a_signal_that_is_never_set_has_nothing_to_test():
    result = significance_test(np.zeros(50), _prices(np.zeros(49)), 365)
    assert result["observations"] == 0 and result["p_value"] == 1.0 and result["warning"]


# ------------------------------------------------------------------------------ engine signals


class Momentum(Strategy):
    """Long after an up bar, short after a down bar."""

    def should_long(self):
        return self.close > self.candles[-2, 2] if len(self.candles) > 1 else False

    def should_short(self):
        return self.close < self.candles[-2, 2] if len(self.candles) > 1 else False

    def go_long(self):
        self.buy = 1, self.price

    def go_short(self):
        self.sell = 1, self.price


def _trending_candles(n_bars: int, minutes: int, phi: float, seed: int):
    """Bars whose returns follow an AR(1) with coefficient phi, each bar `minutes` flat minutes."""
    rng = np.random.default_rng(seed)
    shocks = rng.normal(0, 0.004, n_bars)
    returns = np.empty(n_bars)
    returns[0] = shocks[0]
    for i in range(1, n_bars):  # AR(1) recursion: each value needs the previous one
        returns[i] = phi * returns[i - 1] + shocks[i]
    closes = 100 * np.exp(np.cumsum(returns))
    rows = [(c, c, c, c) for c in np.repeat(closes, minutes)]
    return candles(rows)


def _signals(array, timeframe="5m"):
    route = {"exchange": EXCHANGE, "symbol": SYMBOL, "timeframe": timeframe, "strategy": Momentum}
    data = {f"{EXCHANGE}-{SYMBOL}": array}
    return record_signals(config(), route, [], data)


def test_engine_records_one_signal_per_bar_without_trading():
    array = _trending_candles(200, 5, phi=0.5, seed=1)
    recorded = _signals(array)
    closes = recorded["closes"]
    expected = np.sign(np.diff(closes))
    assert len(recorded["signals"]) == 200 and recorded["bars_per_year"] == 365 * 1440 / 5
    assert recorded["signals"][0] == 0
    assert np.array_equal(recorded["signals"][1:], expected)


def test_momentum_on_autocorrelated_bars_is_significant_and_on_a_random_walk_is_not():
    trending = _signals(_trending_candles(600, 5, phi=0.5, seed=2))
    walk = _signals(_trending_candles(600, 5, phi=0.0, seed=2))

    significant = significance_test(trending["signals"], trending["closes"], trending["bars_per_year"], seed=1)
    random = significance_test(walk["signals"], walk["closes"], walk["bars_per_year"], seed=1)

    assert significant["p_value"] < 0.01
    assert random["p_value"] > 0.05
