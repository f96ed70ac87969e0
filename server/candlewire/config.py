"""The user's config document: defaults for new sessions, stored as one JSON value.

Keys mirror the API's `Config` message (snake_case); enum values are lowercase words
("spot", "futures", "cross", "isolated").
"""

from __future__ import annotations

import copy
from typing import Any

import sqlalchemy as sa

from candlewire.errors import InvalidArgument
from candlewire.storage.db import session_scope
from candlewire.storage.models import SettingsValue

CONFIG_KEY = "config"
EXCHANGE_TYPES = ("spot", "futures")
LEVERAGE_MODES = ("cross", "isolated")
LOGGING_SWITCHES = (
    "order_submission",
    "order_cancellation",
    "order_execution",
    "position_opened",
    "position_increased",
    "position_reduced",
    "position_closed",
    "shorter_period_candles",
    "trading_candles",
    "balance_update",
)
_QUIET_BY_DEFAULT = {"shorter_period_candles", "trading_candles", "balance_update"}


def _default_exchanges() -> list[dict[str, Any]]:
    return [
        {
            "exchange": "binance-perpetual-futures",
            "starting_balance": 10_000.0,
            "fee": 0.0004,
            "type": "futures",
            "futures_leverage": 1,
            "futures_leverage_mode": "cross",
            "balance_currency": "USDT",
        },
        {
            "exchange": "binance-spot",
            "starting_balance": 10_000.0,
            "fee": 0.001,
            "type": "spot",
            "futures_leverage": 1,
            "futures_leverage_mode": "cross",
            "balance_currency": "USDT",
        },
    ]


def default_config(max_concurrent_jobs: int) -> dict[str, Any]:
    logging = {switch: switch not in _QUIET_BY_DEFAULT for switch in LOGGING_SWITCHES}
    section = lambda: {"exchanges": _default_exchanges(), "warm_up_candles": 240, "logging": dict(logging)}  # noqa: E731
    return {"backtest": section(), "live": section(), "jobs": {"max_concurrent_jobs": max_concurrent_jobs}}


def validate(config: dict[str, Any], known_exchanges: set[str]) -> None:
    violations: dict[str, str] = {}
    for section in ("backtest", "live"):
        values = config[section]
        if not 0 <= values["warm_up_candles"] <= 100_000:
            violations[f"{section}.warm_up_candles"] = "must be between 0 and 100000"
        seen: set[str] = set()
        for i, exchange in enumerate(values["exchanges"]):
            where = f"{section}.exchanges[{i}]"
            if exchange["exchange"] not in known_exchanges:
                violations[f"{where}.exchange"] = f"unknown exchange {exchange['exchange']!r}"
            elif exchange["exchange"] in seen:
                violations[f"{where}.exchange"] = "listed twice"
            seen.add(exchange["exchange"])
            if not exchange["starting_balance"] > 0:
                violations[f"{where}.starting_balance"] = "must be positive"
            if not 0 <= exchange["fee"] < 0.1:
                violations[f"{where}.fee"] = "must be at least 0 and below 0.1"
            if exchange["type"] not in EXCHANGE_TYPES:
                violations[f"{where}.type"] = "must be spot or futures"
            if not 1 <= exchange["futures_leverage"] <= 125:
                violations[f"{where}.futures_leverage"] = "must be between 1 and 125"
            if exchange["futures_leverage_mode"] not in LEVERAGE_MODES:
                violations[f"{where}.futures_leverage_mode"] = "must be cross or isolated"
            if not exchange["balance_currency"]:
                violations[f"{where}.balance_currency"] = "must not be empty"
    if not 1 <= config["jobs"]["max_concurrent_jobs"] <= 256:
        violations["jobs.max_concurrent_jobs"] = "must be between 1 and 256"
    if violations:
        raise InvalidArgument("invalid config", violations)


class ConfigStore:
    def __init__(self, engine: sa.Engine, max_concurrent_jobs: int):
        self._engine = engine
        self._defaults = default_config(max_concurrent_jobs)

    def get(self) -> dict[str, Any]:
        """The stored config; the defaults are stored on first read."""
        with session_scope(self._engine) as db:
            row = db.get(SettingsValue, CONFIG_KEY)
            if row is None:
                db.add(SettingsValue(key=CONFIG_KEY, value=self._defaults))
                return copy.deepcopy(self._defaults)
            return copy.deepcopy(row.value)

    def replace(self, config: dict[str, Any], known_exchanges: set[str]) -> dict[str, Any]:
        validate(config, known_exchanges)
        with session_scope(self._engine) as db:
            db.merge(SettingsValue(key=CONFIG_KEY, value=config))
        return copy.deepcopy(config)
