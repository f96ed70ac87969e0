"""Source templates a new strategy starts from.

Each template is a complete, working strategy in Jesse's style whose class is named
`TEMPLATE_CLASS`; `render` renames it, because a strategy's class must carry the strategy's
name (the directory name) to be found, as in Jesse.
"""

from __future__ import annotations

import re

from candlewire.errors import InvalidArgument

TEMPLATE_CLASS = "TemplateStrategy"
DEFAULT_TEMPLATE = "sma_crossover"

_SMA_CROSSOVER = '''\
from candlewire import Strategy
from candlewire import indicators as ta


class TemplateStrategy(Strategy):
    """Trend following: long when the fast SMA crosses above the slow SMA, short (futures only)
    when it crosses below; ATR-based stop-loss, take-profit at a multiple of the risk, and an
    exit on the opposite crossover."""

    def hyperparameters(self):
        return [
            {"name": "fast_period", "type": int, "min": 5, "max": 50, "default": 20},
            {"name": "slow_period", "type": int, "min": 20, "max": 200, "default": 50},
            {"name": "stop_atr_multiple", "type": float, "min": 1.0, "max": 4.0, "step": 0.5, "default": 2.0},
            {"name": "reward_risk_ratio", "type": float, "min": 1.0, "max": 5.0, "step": 0.5, "default": 2.0},
            {"name": "risk_fraction", "type": float, "min": 0.01, "max": 0.5, "default": 0.1},
        ]

    @property
    def fast_sma(self):
        return ta.sma(self.candles, period=self.hp["fast_period"], sequential=True)

    @property
    def slow_sma(self):
        return ta.sma(self.candles, period=self.hp["slow_period"], sequential=True)

    @property
    def crossed_above(self):
        fast, slow = self.fast_sma, self.slow_sma
        return fast[-2] <= slow[-2] and fast[-1] > slow[-1]

    @property
    def crossed_below(self):
        fast, slow = self.fast_sma, self.slow_sma
        return fast[-2] >= slow[-2] and fast[-1] < slow[-1]

    @property
    def stop_distance(self):
        return ta.atr(self.candles, period=14) * self.hp["stop_atr_multiple"]

    @property
    def entry_qty(self):
        return self.balance * self.hp["risk_fraction"] / self.price

    def should_long(self):
        return self.crossed_above

    def go_long(self):
        qty = self.entry_qty
        self.buy = qty, self.price
        self.stop_loss = qty, self.price - self.stop_distance
        self.take_profit = qty, self.price + self.stop_distance * self.hp["reward_risk_ratio"]

    def should_short(self):
        # Spot markets cannot be shorted.
        return self.is_futures_trading and self.crossed_below

    def go_short(self):
        qty = self.entry_qty
        self.sell = qty, self.price
        self.stop_loss = qty, self.price + self.stop_distance
        self.take_profit = qty, self.price - self.stop_distance * self.hp["reward_risk_ratio"]

    def should_cancel_entry(self):
        return True

    def update_position(self):
        if (self.is_long and self.crossed_below) or (self.is_short and self.crossed_above):
            self.liquidate()
'''

TEMPLATES = {DEFAULT_TEMPLATE: _SMA_CROSSOVER}


def render(template: str, name: str) -> str:
    """The template's source with its class renamed to `name`; "" selects the default template."""
    source = TEMPLATES.get(template or DEFAULT_TEMPLATE)
    if source is None:
        raise InvalidArgument(
            f"unknown template {template!r}", {"template": f"must be one of {', '.join(TEMPLATES)} (or empty)"}
        )
    return re.sub(rf"\b{TEMPLATE_CLASS}\b", name, source)
