"""Backtests as sessions: resolving and validating a request against the stored config, candles
and strategies (`request`), the `backtest` job run in a worker (`job`), loading strategies from
the source recorded with the session (`loader`), and reading a finished backtest (`reads`).

Plain Python only; the API layer maps these dicts to and from protobuf.
"""
