"""The backtest engine. Submodules are imported where used (`engine.backtest.run_backtest`,
`engine.strategy.Strategy`, `engine.timeframes`) so importing one does not load the rest."""
