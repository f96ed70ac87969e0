"""Hyperparameter optimization of a strategy, in plain Python (protobuf stops at `api/optimizations.py`).

- `request.py`: checks a request against the config, strategies and candles before anything is
  stored, and resolves it into the params a session records;
- `space.py`: the search space (the strategy's declared hyperparameters) and DNA strings;
- `scoring.py`: objectives and the trade-count penalty;
- `trial.py`: one trial on a worker: the training and testing backtests;
- `study.py`: the Optuna study in candlewire's database, samplers, and the summary (ranked
  candidates, objective curve) read back from it;
- `search.py`: the ask/evaluate/tell loop over an executor (`candlewire.execution`);
- `job.py`: the `optimization` job run in a worker process.
"""
