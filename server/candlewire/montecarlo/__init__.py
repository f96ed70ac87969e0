"""Monte Carlo robustness checks of a backtest.

Two modes, both plain Python + numpy (protobuf stops at `api/monte_carlo.py`):

- `trades`: the original run's closed trades in N shuffled orders (`trades.py`);
- `candles`: the whole backtest rerun on candles rewritten by a seeded pipeline of noise,
  Gaussian return resampling and moving-block bootstrap (`candles.py`, `scenarios.py`).

`statistics.py` turns the scenario values of each metric into percentiles, confidence
intervals, a p-value and a verdict; `analysis.py` runs either mode end to end (also behind
`research.monte_carlo_*`); `job.py` is the `monte_carlo` job run in a worker;
`request.py` validates a request before anything is stored; `charts.py` draws the curves.
"""
