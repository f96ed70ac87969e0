"""The `Strategy` base class users subclass (Jesse's API, so strategies port by changing
imports only), and the per-bar method cache `cached`.

The strategy only declares intent (self.buy / sell / stop_loss / take_profit, liquidate());
the simulator (engine/simulator.py) owns orders, fills and accounting and calls back the
lifecycle methods in the spec's order.
"""

from __future__ import annotations

import functools
import inspect
import sys

import numpy as np

from candlewire.engine.errors import InvalidOrder
from candlewire.engine.timeframes import CLOSE, HIGH, LOW, OPEN, VOLUME, timeframe_minutes


def cached(method):
    """Cache a method's result until the strategy's view of the market changes (a new bar
    or a mid-bar fill). Works under @property like the reference's decorator."""
    name = method.__name__

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        key = (name, args, tuple(sorted(kwargs.items()))) if args or kwargs else name
        hit = self._method_cache.get(key)
        epoch = self._cache_epoch
        if hit is not None and hit[0] == epoch:
            return hit[1]
        value = method(self, *args, **kwargs)
        self._method_cache[key] = (epoch, value)
        return value

    return wrapper


def _normalize_orders(kind: str, value) -> tuple[tuple[float, float], ...] | None:
    """(qty, price) or a list of them -> tuple of float pairs; qty 0 / price <= 0 is an error
    raised at the assigning line of the strategy file."""
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (tuple, list)) and len(value) == 2 and not isinstance(value[0], (tuple, list, np.ndarray)):
        value = [value]
    if not isinstance(value, (tuple, list)) or not value:
        _raise_at_caller(f"self.{kind} must be (qty, price) or a list of (qty, price)", "order_format")
    pairs = []
    for item in value:
        if isinstance(item, np.ndarray):
            item = item.tolist()
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            _raise_at_caller(f"self.{kind} must be (qty, price) or a list of (qty, price); got {item!r}", "order_format")
        qty, price = float(item[0]), float(item[1])
        if not qty == qty or qty == 0 or abs(qty) == float("inf"):
            _raise_at_caller(f"self.{kind}: order qty must be a non-zero number, got {item[0]!r}", "order_qty")
        if not price == price or price <= 0 or price == float("inf"):
            _raise_at_caller(f"self.{kind}: order price must be positive, got {item[1]!r}", "order_price")
        pairs.append((abs(qty), price))
    return tuple(pairs)


def _caller_site(depth: int = 2) -> tuple[str, int]:
    frame = sys._getframe(depth)
    return frame.f_code.co_filename, frame.f_lineno


def _raise_at_caller(message: str, rule: str):
    # frames: _raise_at_caller <- _normalize_orders <- property setter <- strategy code
    filename, line = _caller_site(4)
    raise InvalidOrder(message, rule, line, filename)


def _order_property(kind: str):
    attribute = "_intent_" + kind
    site = "_site_" + kind

    def getter(self):
        return getattr(self, attribute)

    def setter(self, value):
        normalized = _normalize_orders(kind, value)
        setattr(self, attribute, value if normalized is None else normalized)
        self._intents_changed = True
        frame = sys._getframe(1)
        setattr(self, site, (frame.f_code.co_filename, frame.f_lineno))

    return property(getter, setter)


def method_site(cls, name: str) -> tuple[str | None, int | None]:
    """File and line where a strategy method is defined (for error messages)."""
    function = getattr(cls, name, None)
    try:
        function = inspect.unwrap(function)
        return inspect.getsourcefile(function), inspect.getsourcelines(function)[1]
    except (TypeError, OSError):
        return None, None


def class_site(cls) -> tuple[str | None, int | None]:
    try:
        return inspect.getsourcefile(cls), inspect.getsourcelines(cls)[1]
    except (TypeError, OSError):
        return None, None


class Strategy:
    """Subclass and implement at least `should_long` and `go_long`."""

    buy = _order_property("buy")
    sell = _order_property("sell")
    stop_loss = _order_property("stop_loss")
    take_profit = _order_property("take_profit")

    def __init__(self):
        self.name = type(self).__name__
        self.vars: dict = {}
        self.index = 0
        self.hp: dict = {}
        self._intent_buy = self._intent_sell = self._intent_stop_loss = self._intent_take_profit = None
        self._site_buy = self._site_sell = self._site_stop_loss = self._site_take_profit = (None, None)
        self._intents_changed = False  # an order intent was assigned since the engine last looked
        self._method_cache: dict = {}
        self._cache_epoch = 0
        self._sim = None
        self._route = None

    # ------------------------------------------------------------- methods users implement

    def should_long(self) -> bool:
        raise NotImplementedError

    def go_long(self) -> None:
        raise NotImplementedError

    def should_short(self) -> bool:
        return False

    def go_short(self) -> None:
        raise NotImplementedError

    def should_cancel_entry(self) -> bool:
        return True

    def update_position(self) -> None:
        pass

    def before(self) -> None:
        pass

    def after(self) -> None:
        pass

    def filters(self) -> list:
        return []

    def hyperparameters(self) -> list:
        return []

    def dna(self) -> str | None:
        return None

    def watch_list(self) -> list:
        return []

    def on_open_position(self, order) -> None:
        pass

    def on_close_position(self, order, closed_trade) -> None:
        pass

    def on_increased_position(self, order) -> None:
        pass

    def on_reduced_position(self, order) -> None:
        pass

    def on_cancel(self) -> None:
        pass

    def on_route_open_position(self, strategy) -> None:
        pass

    def on_route_close_position(self, strategy) -> None:
        pass

    def on_route_increased_position(self, strategy) -> None:
        pass

    def on_route_reduced_position(self, strategy) -> None:
        pass

    def on_route_canceled(self, strategy) -> None:
        pass

    def before_terminate(self) -> None:
        pass

    def terminate(self) -> None:
        pass

    # ---------------------------------------------------------------------------- actions

    def liquidate(self) -> None:
        """Exit the open position at the current price: through the take-profit when PnL > 0,
        else through the stop-loss (spec)."""
        if self.position.is_close:
            return
        price = self.price
        qty = abs(self.position.qty)
        if self.position.pnl > 0:
            self.take_profit = qty, price
        else:
            self.stop_loss = qty, price
        self._sim.apply_intent_changes(self._route)

    def log(self, msg, log_type: str = "info") -> None:
        self._sim.log(log_type, str(msg))

    def add_line_to_candle_chart(self, title: str, value: float, color: str | None = None) -> None:
        if self._sim.charts_enabled:
            self._route.charts.add_line(title, self.time, value, color)

    def add_extra_line_chart(self, chart_name: str, title: str, value: float, color: str | None = None) -> None:
        if self._sim.charts_enabled:
            self._route.charts.add_extra_line(chart_name, title, self.time, value, color)

    def add_horizontal_line_to_candle_chart(
        self, title: str, value: float, color: str | None = None, line_width: float = 1.0, line_style: str = "solid"
    ) -> None:
        if self._sim.charts_enabled:
            self._route.charts.add_horizontal_line(None, title, value, color, line_width, line_style)

    def add_horizontal_line_to_extra_chart(
        self, chart_name: str, title: str, value: float, color: str | None = None, line_width: float = 1.0,
        line_style: str = "solid",
    ) -> None:
        if self._sim.charts_enabled:
            self._route.charts.add_horizontal_line(chart_name, title, value, color, line_width, line_style)

    # ------------------------------------------------------------------------ market data

    @property
    def candles(self) -> np.ndarray:
        route = self._route
        return route.market.candles_for(route.minutes)

    def get_candles(self, exchange: str, symbol: str, timeframe: str) -> np.ndarray:
        return self._sim.market(exchange, symbol).candles_for(timeframe_minutes(timeframe))

    @property
    def current_candle(self) -> np.ndarray:
        return self.candles[-1]

    # Prices and amounts are numpy float64, as in Jesse: a strategy's own rounding (numpy rounds
    # halves to even, Python's round() works on the binary value) must give the same orders.
    @property
    def price(self) -> np.float64:
        return np.float64(self._route.market.price)

    @property
    def open(self) -> np.float64:
        return self.candles[-1, OPEN]

    @property
    def close(self) -> np.float64:
        return self.candles[-1, CLOSE]

    @property
    def high(self) -> np.float64:
        return self.candles[-1, HIGH]

    @property
    def low(self) -> np.float64:
        return self.candles[-1, LOW]

    @property
    def volume(self) -> np.float64:
        return self.candles[-1, VOLUME]

    @property
    def time(self) -> int:
        return self._sim.time

    @property
    def exchange(self) -> str:
        return self._route.exchange

    @property
    def symbol(self) -> str:
        return self._route.symbol

    @property
    def timeframe(self) -> str:
        return self._route.timeframe

    # -------------------------------------------------------------------- position & account

    @property
    def position(self):
        return self._route.position

    @property
    def is_long(self) -> bool:
        return self._route.position.qty > 0

    @property
    def is_short(self) -> bool:
        return self._route.position.qty < 0

    @property
    def is_open(self) -> bool:
        return self._route.position.qty != 0

    @property
    def is_close(self) -> bool:
        return self._route.position.qty == 0

    @property
    def shared_vars(self) -> dict:
        return self._sim.shared_vars

    @property
    def balance(self) -> np.float64:
        return np.float64(self._sim.wallet.balance)

    @property
    def capital(self) -> float:
        return self._sim.wallet.balance

    @property
    def available_margin(self) -> np.float64:
        return np.float64(self._sim.available_margin())

    @property
    def portfolio_value(self) -> np.float64:
        return np.float64(self._sim.portfolio_value())

    @property
    def fee_rate(self) -> float:
        return self._sim.fee_rate

    @property
    def leverage(self) -> float:
        return self._sim.leverage

    @property
    def daily_balances(self) -> list:
        return self._sim.daily_balances

    @property
    def metrics(self) -> dict:
        return self._sim.current_metrics()

    @property
    def trades(self) -> list:
        return self._sim.closed_trades

    @property
    def orders(self) -> list:
        return self._route.cycle_orders

    @property
    def entry_orders(self) -> list:
        """Position closed: the active entry orders. Open: this cycle's non-cancelled orders
        on the position's side."""
        route = self._route
        qty = route.position.qty
        if qty == 0:
            return [o for o in route.cycle_orders if o.status == "active" and not o.reduce_only]
        side = "buy" if qty > 0 else "sell"
        return [o for o in route.cycle_orders if o.side == side and o.status != "canceled"]

    @property
    def exit_orders(self) -> list:
        route = self._route
        qty = route.position.qty
        if qty == 0:
            return []
        side = "sell" if qty > 0 else "buy"
        return [o for o in route.cycle_orders if o.side == side and o.status != "canceled"]

    @staticmethod
    def _average_price(pairs) -> float | None:
        if not pairs or isinstance(pairs, (str, bytes)):
            return None
        pairs = _normalize_orders("orders", pairs) if not isinstance(pairs[0], tuple) else pairs
        total = sum(q for q, _ in pairs)
        return sum(q * p for q, p in pairs) / total

    @property
    def average_entry_price(self) -> float | None:
        if self.is_long or (self.is_close and self._intent_buy is not None):
            return self._average_price(self._intent_buy)
        if self.is_short or self._intent_sell is not None:
            return self._average_price(self._intent_sell)
        return None

    @property
    def average_stop_loss(self) -> float | None:
        return self._average_price(self._intent_stop_loss)

    @property
    def average_take_profit(self) -> float | None:
        return self._average_price(self._intent_take_profit)

    # ------------------------------------------------------------------------ environment

    @property
    def exchange_type(self) -> str:
        return self._sim.exchange_type

    @property
    def is_spot_trading(self) -> bool:
        return self._sim.exchange_type == "spot"

    @property
    def is_futures_trading(self) -> bool:
        return self._sim.exchange_type == "futures"

    @property
    def is_backtesting(self) -> bool:
        return True

    @property
    def is_livetrading(self) -> bool:
        return False

    @property
    def is_papertrading(self) -> bool:
        return False

    @property
    def is_live(self) -> bool:
        return self.is_livetrading or self.is_papertrading

    @property
    def increased_count(self) -> int:
        """How many times the open position was increased (scale-ins) since it opened."""
        return self._route.changes["increased"]

    @property
    def reduced_count(self) -> int:
        """How many times the open position was reduced (partial exits) since it opened."""
        return self._route.changes["reduced"]

    @property
    def liquidation_price(self) -> float:
        return self.position.liquidation_price

    @property
    def mark_price(self) -> float:
        # Backtests have no separate mark price: positions are valued at the last trade price.
        return self.price

    @property
    def funding_rate(self) -> float:
        # The engine charges no funding (spec), so strategies see a zero rate.
        return 0.0

    @property
    def next_funding_timestamp(self) -> None:
        return None

    @property
    def has_long_entry_orders(self) -> bool:
        return any(o.side == "buy" and o.status == "active" and not o.reduce_only for o in self._route.active_orders)

    @property
    def has_short_entry_orders(self) -> bool:
        return any(o.side == "sell" and o.status == "active" and not o.reduce_only for o in self._route.active_orders)

    @property
    def all_positions(self) -> dict:
        """Every route's position by symbol."""
        return {route.symbol: route.position for route in self._sim.routes}

    @property
    def routes(self) -> list:
        return self._sim.route_infos

    @property
    def data_routes(self) -> list:
        return self._sim.data_route_infos

    @property
    def base_asset(self) -> str:
        return self._route.symbol.split("-")[0]

    @property
    def quote_asset(self) -> str:
        parts = self._route.symbol.split("-")
        return parts[1] if len(parts) > 1 else ""
