"""Positions and closed trades.

A position's price comes from its market (the current 1m close, or the fill price during a
mid-minute fill), so it never goes stale while the engine jumps over quiet minutes.
"""

from __future__ import annotations

import math

from candlewire.engine.exact import qty_add

# Isolated-margin maintenance rate used for the liquidation price (spec "Accounting").
MAINTENANCE_MARGIN_RATE = 0.004


class Position:
    __slots__ = ("exchange_name", "symbol", "market", "qty", "entry_price", "opened_at", "leverage", "mode", "exchange_type")

    def __init__(self, exchange_name, symbol, market, leverage, mode, exchange_type):
        self.exchange_name = exchange_name
        self.symbol = symbol
        self.market = market
        self.qty = 0.0
        self.entry_price = None
        self.opened_at = None
        self.leverage = leverage
        self.mode = mode
        self.exchange_type = exchange_type

    @property
    def current_price(self) -> float:
        return self.market.price

    @property
    def type(self) -> str:
        return "long" if self.qty > 0 else "short" if self.qty < 0 else "close"

    @property
    def is_open(self) -> bool:
        return self.qty != 0

    @property
    def is_close(self) -> bool:
        return self.qty == 0

    @property
    def is_long(self) -> bool:
        return self.qty > 0

    @property
    def is_short(self) -> bool:
        return self.qty < 0

    @property
    def value(self) -> float:
        return abs(self.qty) * self.market.price

    @property
    def total_cost(self) -> float:
        if self.qty == 0:
            return 0.0
        return self.entry_price * abs(self.qty) / self.leverage

    @property
    def pnl(self) -> float:
        """Unrealized PnL = |price·qty| − |entry·qty|, negated for shorts (spec)."""
        if self.qty == 0:
            return 0.0
        diff = abs(self.market.price * self.qty) - abs(self.entry_price * self.qty)
        return -diff if self.qty < 0 else diff

    @property
    def roi(self) -> float:
        cost = self.total_cost
        return self.pnl / cost * 100 if cost else 0.0

    @property
    def bankruptcy_price(self) -> float:
        if self.qty > 0:
            return self.entry_price * (1 - 1 / self.leverage)
        if self.qty < 0:
            return self.entry_price * (1 + 1 / self.leverage)
        return math.nan

    @property
    def liquidation_price(self) -> float:
        """Isolated futures only; cross margin and spot are never liquidated (nan)."""
        if self.mode != "isolated" or self.qty == 0:
            return math.nan
        if self.qty > 0:
            return self.entry_price * (1 - 1 / self.leverage + MAINTENANCE_MARGIN_RATE)
        return self.entry_price * (1 + 1 / self.leverage - MAINTENANCE_MARGIN_RATE)

    def __repr__(self) -> str:
        return f"Position({self.symbol} {self.type} qty={self.qty} entry={self.entry_price})"


class ClosedTrade:
    """One round trip, built fill by fill. Prices are Σq·p / Σq even for a single fill; fees
    and PNL follow the reference formulas: fee = rate·qty·(entry + exit),
    PNL = qty·(exit − entry)·(±1) − fee, PNL% = PNL / (entry·qty / leverage) · 100."""

    __slots__ = (
        "id", "strategy_name", "exchange", "symbol", "type", "leverage", "fee_rate", "opened_at", "closed_at",
        "entry_qty", "entry_notional", "exit_qty", "exit_notional", "orders",
    )

    def __init__(self, id, strategy_name, exchange, symbol, type, leverage, fee_rate, opened_at):
        self.id = id
        self.strategy_name = strategy_name
        self.exchange = exchange
        self.symbol = symbol
        self.type = type
        self.leverage = leverage
        self.fee_rate = fee_rate
        self.opened_at = opened_at
        self.closed_at = None
        self.entry_qty = 0.0
        self.entry_notional = 0.0
        self.exit_qty = 0.0
        self.exit_notional = 0.0
        self.orders = []

    def add_entry(self, qty: float, price: float, order) -> None:
        self.entry_qty = qty_add(self.entry_qty, abs(qty))
        self.entry_notional += abs(qty) * price
        self._add_order(order)

    def add_exit(self, qty: float, price: float, order) -> None:
        self.exit_qty = qty_add(self.exit_qty, abs(qty))
        self.exit_notional += abs(qty) * price
        self._add_order(order)

    def _add_order(self, order) -> None:
        if not self.orders or self.orders[-1] is not order:
            self.orders.append(order)

    @property
    def qty(self) -> float:
        return self.entry_qty

    @property
    def entry_price(self) -> float:
        return self.entry_notional / self.entry_qty

    @property
    def exit_price(self) -> float:
        return self.exit_notional / self.exit_qty if self.exit_qty else math.nan

    @property
    def is_long(self) -> bool:
        return self.type == "long"

    @property
    def is_short(self) -> bool:
        return self.type == "short"

    @property
    def fee(self) -> float:
        return self.fee_rate * self.qty * (self.entry_price + self.exit_price)

    @property
    def pnl(self) -> float:
        profit = self.qty * (self.exit_price - self.entry_price)
        if self.type == "short":
            profit = -profit
        return profit - self.fee

    @property
    def pnl_percentage(self) -> float:
        return self.pnl / (self.entry_price * self.qty / self.leverage) * 100

    roi = pnl_percentage

    @property
    def holding_period(self) -> float:
        return (self.closed_at - self.opened_at) / 1000

    @property
    def size(self) -> float:
        return self.qty * self.entry_price

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "strategy_name": self.strategy_name,
            "exchange": self.exchange,
            "symbol": self.symbol,
            "type": self.type,
            "entry_price": self.entry_price,
            "exit_price": self.exit_price,
            "qty": self.qty,
            "fee": self.fee,
            "PNL": self.pnl,
            "PNL_percentage": self.pnl_percentage,
            "leverage": self.leverage,
            "holding_period": self.holding_period,
            "opened_at": self.opened_at,
            "closed_at": self.closed_at,
            "orders": [order.to_dict() for order in self.orders],
        }
