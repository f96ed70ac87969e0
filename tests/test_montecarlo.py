"""Monte Carlo domain: statistics against numpy, trade shuffles, candle pipeline transforms."""

from __future__ import annotations

import numpy as np
import pytest

from candlewire.engine.timeframes import CLOSE, HIGH, LOW, OPEN, TIMESTAMP, VOLUME
from candlewire.montecarlo.candles import scenario_rng, transform_candles
from candlewire.montecarlo.statistics import downsample_indices, metric_distributions
from candlewire.montecarlo.trades import TRADE_METRICS, TradeShuffle, path_metrics

START_MS = 1_704_067_200_000
DAY_MS = 86_400_000


# ------------------------------------------------------------------------------ statistics


def test_percentiles_and_intervals_match_numpy_on_a_hand_made_matrix():
    samples = np.column_stack([np.arange(1.0, 101.0), np.linspace(-50.0, 0.0, 100)])
    (sharpe, drawdown) = metric_distributions(["sharpe_ratio", "max_drawdown"], np.array([50.0, -10.0]), samples, "luck")

    for column, row in ((0, sharpe), (1, drawdown)):
        values = samples[:, column]
        expected = np.percentile(values, [2.5, 5, 25, 50, 75, 95, 97.5])
        assert [row["ci95_low"], row["p5"], row["p25"], row["p50"], row["p75"], row["p95"], row["ci95_high"]] == pytest.approx(expected)
        assert (row["ci90_low"], row["ci90_high"]) == pytest.approx((expected[1], expected[5]))
    assert sharpe["original"] == 50.0 and sharpe["name"] == "sharpe_ratio"


def test_p_value_is_the_share_at_least_as_good_in_the_metric_direction():
    samples = np.array([[1.0, 1.0, 10.0], [2.0, 2.0, 20.0], [3.0, 3.0, 30.0], [4.0, 4.0, 40.0]])
    sharpe, volatility, trades = metric_distributions(["sharpe_ratio", "volatility", "total"], np.array([3.0, 3.0, 40.0]), samples, "luck")

    assert sharpe["p_value"] == pytest.approx(0.5)  # 3 and 4 are >= 3
    assert volatility["p_value"] == pytest.approx(0.75)  # lower is better: 1, 2, 3 are <= 3
    assert trades["p_value"] == pytest.approx(0.5)  # two-sided: 2 × min(1/4, 4/4)


def test_verdicts_flag_a_lucky_original_and_a_constant_metric():
    samples = np.column_stack([np.linspace(0.0, 1.0, 100), np.full(100, 12.5)])
    sharpe, total = metric_distributions(["sharpe_ratio", "net_profit_percentage"], np.array([5.0, 12.5]), samples, "the order of trades")

    assert sharpe["p_value"] == 0.0 and "owes much to the order of trades" in sharpe["verdict"]
    assert total["p_value"] == 1.0 and "does not apply" in total["verdict"]


def test_downsample_keeps_the_ends_and_the_limit():
    indices = downsample_indices(10_000, 500)
    assert len(indices) <= 500 and indices[0] == 0 and indices[-1] == 9_999
    assert downsample_indices(7, 500).tolist() == list(range(7))


# ------------------------------------------------------------------------------ trades mode


def _trades(pnls):
    return [{"PNL": pnl, "closed_at": START_MS + (i + 1) * DAY_MS // 2} for i, pnl in enumerate(pnls)]


def _shuffle(pnls, days=30):
    samples = START_MS + DAY_MS * np.arange(1, days)
    return TradeShuffle(_trades(pnls), 1_000.0, START_MS, START_MS + days * DAY_MS,
                        np.concatenate([[START_MS], samples, [START_MS + days * DAY_MS]]))


def test_path_metrics_against_direct_formulas():
    balances = np.array([[100.0, 110.0, 99.0, 120.0]])
    (total, drawdown, sharpe, calmar, volatility), = path_metrics(balances, days=3)
    returns = np.array([0.1, -0.1, 120 / 99 - 1])
    assert total == pytest.approx(20.0)
    assert drawdown == pytest.approx(-10.0)
    assert sharpe == pytest.approx(returns.mean() / returns.std(ddof=1) * np.sqrt(365))
    assert volatility == pytest.approx(returns.std(ddof=1) * np.sqrt(365) * 100)
    assert calmar == pytest.approx((1.2 ** (365 / 3) - 1) / 0.1)


def test_shuffles_are_seeded_keep_the_total_return_and_vary_the_drawdown():
    pnls = [50.0, -30.0, 80.0, -60.0, 20.0, -10.0, 40.0, -70.0, 90.0, -20.0]
    shuffle = _shuffle(pnls)
    first = list(shuffle.scenarios(300, seed=7, chunk=128))
    again = list(shuffle.scenarios(300, seed=7, chunk=128))
    other = list(shuffle.scenarios(300, seed=8, chunk=128))

    metrics = np.concatenate([chunk.metrics for chunk in first])
    assert metrics.shape == (300, len(TRADE_METRICS))
    assert [chunk.first_index for chunk in first] == [0, 128, 256]
    assert np.array_equal(metrics, np.concatenate([chunk.metrics for chunk in again]))
    assert not np.array_equal(metrics, np.concatenate([chunk.metrics for chunk in other]))
    assert np.allclose(metrics[:, 0], sum(pnls) / 1_000 * 100)
    assert metrics[:, 1].std() > 0
    curves = np.concatenate([chunk.curves for chunk in first])
    assert curves.shape == (300, len(shuffle.curve_timestamps_ms))
    assert np.allclose(curves[:, 0], 1_000.0) and np.allclose(curves[:, -1], 1_000.0 + sum(pnls))


def test_original_is_the_identity_permutation():
    pnls = [10.0, -5.0, 20.0]
    metrics, curve = _shuffle(pnls).original()
    assert curve.tolist() == [1_000.0, 1_010.0, 1_005.0, 1_025.0, 1_025.0]
    assert metrics[0] == pytest.approx(2.5)


# ------------------------------------------------------------------------------ candles mode


def _random_walk(n=2_000, seed=3):
    rng = np.random.default_rng(seed)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    opens = np.concatenate([[100.0], closes[:-1]])
    highs = np.maximum(opens, closes) * (1 + rng.uniform(0, 0.002, n))
    lows = np.minimum(opens, closes) * (1 - rng.uniform(0, 0.002, n))
    out = np.column_stack([START_MS + 60_000 * np.arange(n), opens, closes, highs, lows, rng.uniform(1, 5, n)])
    return out


PIPELINES = {
    "noise": [{"gaussian_noise": {"close_sigma": 0.002, "wick_sigma": 0.003}}],
    "resampling": [{"returns_resampling": {}}],
    "bootstrap": [{"moving_block_bootstrap": {"block_length": 30}}],
    "all": [{"gaussian_noise": {"close_sigma": 0.01, "wick_sigma": 0.01}}, {"returns_resampling": {}},
            {"moving_block_bootstrap": {"block_length": 7}}],
}


@pytest.mark.parametrize("name", sorted(PIPELINES))
@pytest.mark.parametrize("batch_length", [0, 500, 333])
def test_transforms_keep_ohlc_valid_timestamps_and_are_reproducible_per_scenario(name, batch_length):
    candles = _random_walk()
    out = transform_candles(candles, PIPELINES[name], batch_length, scenario_rng(11, 4))

    assert out.shape == candles.shape
    assert np.array_equal(out[:, TIMESTAMP], candles[:, TIMESTAMP])
    assert np.all(out[:, HIGH] >= np.maximum(out[:, OPEN], out[:, CLOSE]))
    assert np.all(out[:, LOW] <= np.minimum(out[:, OPEN], out[:, CLOSE]))
    assert np.all(out[:, LOW] > 0)
    assert not np.allclose(out[:, CLOSE], candles[:, CLOSE])
    # Scenario 4 of seed 11 again, alone: the same candles; scenario 5 differs.
    assert np.array_equal(out, transform_candles(candles, PIPELINES[name], batch_length, scenario_rng(11, 4)))
    assert not np.array_equal(out, transform_candles(candles, PIPELINES[name], batch_length, scenario_rng(11, 5)))


def test_an_empty_pipeline_rebuilds_the_original_candles():
    candles = _random_walk()
    assert np.allclose(transform_candles(candles, [], 0, scenario_rng(0, 0)), candles)


def test_bootstrap_moves_whole_candles_within_their_batch():
    candles = _random_walk(n=1_000)
    out = transform_candles(candles, PIPELINES["bootstrap"], 250, scenario_rng(2, 0))
    # Volume travels with its candle: each batch's volumes come from the same batch.
    for batch in range(4):
        span = slice(batch * 250, (batch + 1) * 250)
        assert set(out[span, VOLUME]) <= set(candles[span, VOLUME])


def test_returns_resampling_follows_each_batch_mean_and_spread():
    candles = _random_walk(n=20_000)
    candles_moves = np.diff(np.log(candles[:, CLOSE]))
    out = transform_candles(candles, PIPELINES["resampling"], 0, scenario_rng(5, 0))
    moves = np.diff(np.log(out[:, CLOSE]))
    assert moves.std() == pytest.approx(candles_moves.std(), rel=0.05)
