"""Shared by the optimization tests: the golden candles and strategy in a fresh database, a recording
job context, and a small optimization request over them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import golden
from candlewire.storage.candles import insert_candles
from candlewire.storage.db import create_engine, migrate
from candlewire.strategies.workspace import StrategyWorkspace

# Raises on one corner of the search space: such trials must fail without ending the search.
FRAGILE_SOURCE = golden.STRATEGY_SOURCE.replace(
    "    def should_long(self):\n",
    "    def should_long(self):\n        if self.hp['fast'] > 30:\n            raise ValueError('fast too large')\n",
)

# Takes ~0.6 s a trial, so a test can kill a worker while trials are on it.
SLOW_SOURCE = "import time\n" + golden.STRATEGY_SOURCE.replace(
    "    def should_long(self):\n", "    def before(self):\n        time.sleep(0.002)\n\n    def should_long(self):\n"
)




def prepare(directory: Path, database_url: str | None = None, source: str = golden.STRATEGY_SOURCE):
    """(engine, workspace) with the golden candles and strategy stored."""
    engine = create_engine(database_url or f"sqlite:///{directory / 'candlewire.db'}")
    migrate(engine)
    insert_candles(engine, golden.EXCHANGE, golden.SYMBOL, golden.candles())
    workspace = StrategyWorkspace(directory)
    workspace.create(golden.STRATEGY)
    workspace.save(golden.STRATEGY, source)
    return engine, workspace


def request(**changes) -> dict[str, Any]:
    values = {
        "routes": [{"exchange": golden.EXCHANGE, "symbol": golden.SYMBOL, "timeframe": golden.TIMEFRAME, "strategy": golden.STRATEGY}],
        "data_routes": [],
        "training_start_date": (2024, 3, 2),
        "training_finish_date": (2024, 3, 4),
        "testing_start_date": (2024, 3, 4),
        "testing_finish_date": (2024, 3, 5),
        "warm_up_candles": golden.WARM_UP_CANDLES,
        "trials": 8,
        "seed": 7,
        "cpu_cores": 1,
        "optimal_total_trades": 10,
    }
    values.update(changes)
    return values
