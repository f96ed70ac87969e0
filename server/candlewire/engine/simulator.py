"""The backtest simulator: orders, fills, accounting and the strategy lifecycle.

Speed comes from never running Python for a quiet minute. Strategies only act at their bar
closes, so the run loop jumps from event minute to event minute: bar closes, daily balance
samples, and the first minute that can fill a resting order or touch an isolated
liquidation price (found with numpy over the minute ranges, gaps included —
`SymbolMarket.first_touch`). Only at such a minute does the exact intra-candle path run.

Rules the spec leaves open, decided here:
- Orders resting on one symbol are walked along the minute's path (gap from the previous
  close, then open→low→high→close for a green candle, open→high→low→close for a red one);
  the order the path touches first fills first, ties in submission order.
- Several orders crossed by the same opening gap all fill at the open, nearest the previous
  close first. Orders placed during the minute (by callbacks) are never filled by its gap.
- Market orders queued by a callback during a mid-minute fill execute as soon as that
  callback returns (at their price), before the rest of the minute is searched.
- Reduce-only orders with nothing to reduce (position closed or same side) are cancelled.
  On spot every sell is treated as reduce-only: there is nothing to short.
- When a position closes, the route's remaining active orders are cancelled (no on_cancel:
  that callback belongs to should_cancel_entry) before on_close_position runs.
- Margin check (futures): available margin = wallet − Σ(position cost − pnl) −
  Σ per route max(Σ buy orders, Σ sell orders)/leverage, over active non-reduce-only
  orders; reduce-only orders are not checked (they cannot add exposure).
- Spot: `balance` is the quote asset held (reservations included); available margin is
  that minus reservations; portfolio value = quote + Σ held base × price.
- Futures portfolio value = (wallet + Σ unrealized PnL) × leverage (the reference's buying
  power figure, kept for sizing parity).
- A sample minute for daily balances is every minute index i > 0 with i % 1440 == 0, taken
  after that minute's strategies and market orders.
- At the end: every route's before_terminate(), then open orders are cancelled and open
  positions closed at the last close with a market order (no user callbacks), then
  terminate().
"""

from __future__ import annotations

import numpy as np

from candlewire.engine.charts import RouteCharts
from candlewire.engine.errors import (
    BacktestCancelled,
    ConflictingRules,
    InsufficientBalance,
    InsufficientMargin,
    MissingMethod,
    ShortOnSpot,
    StrategyError,
)
from candlewire.engine.exact import is_price_near, qty_add
from candlewire.engine.orders import (
    ACTIVE, CANCELED, CLOSE, ENTRY, EXECUTED, LIMIT, LIQUIDATION, MARKET, STOP, STOP_LOSS, TAKE_PROFIT, Order,
)
from candlewire.engine.positions import ClosedTrade, Position
from candlewire.engine.strategy import Strategy, method_site
from candlewire.engine.timeframes import MINUTE_MS

SAMPLE_EVERY_MINUTES = 1440
PROGRESS_UPDATES = 100


class RouteInfo:
    """What `self.routes` / `self.data_routes` show a strategy."""

    __slots__ = ("exchange", "symbol", "timeframe", "strategy_name", "strategy")

    def __init__(self, exchange, symbol, timeframe, strategy_name=None, strategy=None):
        self.exchange = exchange
        self.symbol = symbol
        self.timeframe = timeframe
        self.strategy_name = strategy_name
        self.strategy = strategy

    def __repr__(self) -> str:
        return f"Route({self.exchange}, {self.symbol}, {self.timeframe}, {self.strategy_name})"


class Route:
    __slots__ = (
        "index", "exchange", "symbol", "timeframe", "minutes", "strategy", "market", "position", "active_orders",
        "cycle_orders", "trade", "submitted", "charts", "changes",
    )

    def __init__(self, index, exchange, symbol, timeframe, minutes, strategy, market, position):
        self.index = index
        self.exchange = exchange
        self.symbol = symbol
        self.timeframe = timeframe
        self.minutes = minutes
        self.strategy = strategy
        self.market = market
        self.position = position
        self.active_orders: list[Order] = []
        self.cycle_orders: list[Order] = []  # orders since the route's last reset (close or cancel)
        self.trade: ClosedTrade | None = None
        self.submitted: dict = {}  # intent kind -> the (qty, price) pairs last submitted
        self.charts = RouteCharts()
        # Increases and reductions of the open position (Jesse's increased_count / reduced_count).
        self.changes = {"increased": 0, "reduced": 0}


class Simulator:
    def __init__(
        self, *, exchange_type, fee_rate, leverage, leverage_mode, starting_balance, routes, markets,
        data_route_infos, logging, on_log=None, charts_enabled=False,
    ):
        self.exchange_type = exchange_type
        self.is_spot = exchange_type == "spot"
        self.fee_rate = fee_rate
        self.leverage = leverage if not self.is_spot else 1
        self.leverage_mode = leverage_mode
        self.starting_balance = starting_balance
        self.balance = starting_balance
        self.markets = markets  # key -> SymbolMarket, route symbols first in route order
        self.routes: list[Route] = []
        self.route_infos: list[RouteInfo] = []
        self.data_route_infos = data_route_infos
        self.shared_vars: dict = {}
        self.logging = logging
        self.on_log = on_log
        self.charts_enabled = charts_enabled
        self.logs: list[dict] = []
        self.orders: list[Order] = []
        self.pending_markets: list[Order] = []
        self.closed_trades: list[ClosedTrade] = []
        self.daily_balances: list[float] = [starting_balance]
        self.sample_times: list[int] = []
        # Positions still open when the run ended, taken just before the engine closes them
        # (the metrics' total_open_trades / open_pl, as the reference counts them).
        self.open_at_end: list[dict] = []
        self.time = 0
        self.minute = -1
        self.epoch = 0
        self.terminating = False
        self.wallet = self  # strategies read `balance` from the wallet; the simulator is it
        for index, (exchange, symbol, timeframe, minutes, strategy) in enumerate(routes):
            market = markets[f"{exchange}-{symbol}"]
            position = Position(exchange, symbol, market, self.leverage, None if self.is_spot else leverage_mode, exchange_type)
            route = Route(index, exchange, symbol, timeframe, minutes, strategy, market, position)
            market.route = route
            self.routes.append(route)
            self.route_infos.append(RouteInfo(exchange, symbol, timeframe, strategy.name, strategy))
        self._traded_markets = [route.market for route in self.routes]

    # ============================================================================ run loop

    def run(self, on_progress=None, should_stop=None) -> None:
        first = self._traded_markets[0]
        n = first.n
        timestamps = first.timestamps
        close_minutes = [np.arange(route.minutes - 1, n, route.minutes) for route in self.routes]
        samples = np.arange(SAMPLE_EVERY_MINUTES, n, SAMPLE_EVERY_MINUTES)
        events = np.union1d(np.concatenate(close_minutes), samples).tolist()
        route_minutes = [(route, route.minutes) for route in self.routes]
        markets = list(self.markets.values())
        progress_step = max(1, n // PROGRESS_UPDATES)
        next_progress = progress_step - 1
        event_index = 0
        start = 0
        while True:
            target = events[event_index] if event_index < len(events) else n
            if self._watching():
                candidate = self._first_fill_candidate(start, target)
                if candidate < target:
                    target = candidate
            if target >= n:
                break
            if event_index < len(events) and events[event_index] == target:
                event_index += 1
            self.minute = target
            self.time = int(timestamps.item(target)) + MINUTE_MS
            self._walk_markets(markets, target)
            for route, minutes in route_minutes:
                if (target + 1) % minutes == 0:
                    self._execute_route(route)
            if self.pending_markets:
                self.execute_pending_markets()
            if target and target % SAMPLE_EVERY_MINUTES == 0:
                self.daily_balances.append(self._equity())
                self.sample_times.append(self.time)
            if target >= next_progress:
                if should_stop is not None and should_stop():
                    raise BacktestCancelled("backtest stopped on request")
                if on_progress is not None:
                    on_progress(target + 1, n, self.time)
                next_progress = ((target + 1) // progress_step + 1) * progress_step - 1
            start = target + 1
        self.minute = n - 1
        self.time = int(timestamps.item(n - 1)) + MINUTE_MS
        for market in markets:
            market.see(n - 1)
        self._terminate()
        if self.sample_times and self.sample_times[-1] == self.time:
            # The last minute was itself a sample minute (n = k * 1440 + 1): the final balance
            # replaces that sample instead of adding a second balance at the same instant
            # (as the reference does), so no zero-length "day" enters the returns.
            self.sample_times.pop()
            self.daily_balances[-1] = self._equity()
        else:
            self.daily_balances.append(self._equity())
        if on_progress is not None:
            on_progress(n, n, self.time)

    def _watching(self) -> bool:
        for market in self._traded_markets:
            if market.resting:
                return True
        if self.leverage_mode == "isolated" and not self.is_spot:
            for route in self.routes:
                if route.position.qty != 0:
                    return True
        return False

    def _first_fill_candidate(self, start: int, limit: int) -> int:
        best = limit
        isolated = self.leverage_mode == "isolated" and not self.is_spot
        for market in self._traded_markets:
            for order in market.resting:
                hit = market.first_touch(order.price, start)
                if hit < best:
                    best = hit
            if isolated and market.route.position.qty != 0:
                hit = market.first_touch(market.route.position.liquidation_price, start)
                if hit < best:
                    best = hit
        return best

    def _walk_markets(self, markets, k: int) -> None:
        """Bring every symbol to minute k, in order; fills on one symbol happen while later
        symbols still show minute k − 1 (as each symbol's candle arrives in turn)."""
        if not self._watching():
            for market in markets:
                market.see(k)
            return
        for market in markets:
            market.see(k - 1)
        isolated = self.leverage_mode == "isolated" and not self.is_spot
        for market in markets:
            market.see(k)
            if market.resting:
                self._walk_minute(market, k)
            route = market.route
            if isolated and route is not None and route.position.qty != 0:
                self._check_liquidation(route, k)

    # ======================================================================= intra-minute

    def _walk_minute(self, market, k: int) -> None:
        o = market.opens.item(k)
        c = market.closes.item(k)
        h = market.highs.item(k)
        low = market.lows.item(k)
        previous_close = market.closes.item(k - 1) if k > 0 else o
        gap = previous_close != o
        points = [previous_close, o] if gap else [o]
        points += [low, h, c] if c >= o else [h, low, c]
        first_real = 1 if gap else 0  # index of the open in `points`
        last = len(points) - 1
        segment, position = 0, points[0]
        while market.resting:
            best = None
            for order in market.resting:
                price = order.price
                s, cursor = segment, position
                if s < first_real and order.minute >= k:
                    s, cursor = first_real, o  # placed during this minute: the gap is behind it
                while s < last:
                    nxt = points[s + 1]
                    if cursor <= price <= nxt or nxt <= price <= cursor:
                        distance = abs(price - cursor)
                        if best is None or (s, distance) < (best[0], best[1]):
                            best = (s, distance, order)
                        break
                    s += 1
                    cursor = points[s]
            if best is None:
                break
            segment, _, order = best
            position = order.price
            fill_price = o if segment < first_real else order.price
            walked = points[first_real : segment + 1] + [fill_price] if segment >= first_real else [o]
            market.partial = (max(walked), min(walked), fill_price)
            market.price = fill_price
            self._touch_epoch()
            self.fill(order, fill_price)
            if self.pending_markets:
                self.execute_pending_markets()
        market.partial = None
        market.price = c

    def _check_liquidation(self, route: Route, k: int) -> None:
        position = route.position
        if not route.market.reach_contains(k, position.liquidation_price):
            return
        self.log("info", f"{route.symbol} liquidated at {position.liquidation_price}", "position_closed")
        order = self._new_order(route, -position.qty, position.bankruptcy_price, MARKET, LIQUIDATION, True)
        self.fill(order, position.bankruptcy_price)

    # ================================================================== strategy lifecycle

    def _touch_epoch(self) -> None:
        self.epoch += 1
        for route in self.routes:
            route.strategy._cache_epoch = self.epoch

    def _execute_route(self, route: Route) -> None:
        strategy = route.strategy
        self.epoch += 1
        strategy._cache_epoch = self.epoch
        strategy.before()
        position = route.position
        if position.qty == 0 and self._has_active_entries(route) and strategy.should_cancel_entry():
            self._cancel_route_orders(route)
            self._reset_route(route)
            self._broadcast(route, "on_route_canceled")
            strategy.on_cancel()
        if position.qty != 0:
            strategy.update_position()
            self.apply_intent_changes(route)
        if self.pending_markets:
            self.execute_pending_markets()
        if position.qty == 0 and not self._has_active_entries(route):
            self._reset_route(route)
            should_short = strategy.should_short()
            if should_short and self.is_spot:
                filename, line = method_site(type(strategy), "should_short")
                raise ShortOnSpot("should_short() returned True on spot: spot cannot short", "short_on_spot", line, filename)
            should_long = strategy.should_long()
            if should_short and should_long:
                filename, line = method_site(type(strategy), "should_long")
                _, short_line = method_site(type(strategy), "should_short")
                raise ConflictingRules(
                    f"should_long() and should_short() are both True at the same time "
                    f"(should_short at line {short_line})",
                    "conflicting_rules", line, filename,
                )
            if should_long:
                self._enter(route, 1)
            elif should_short:
                self._enter(route, -1)
        strategy.after()
        strategy.index += 1

    @staticmethod
    def _has_active_entries(route: Route) -> bool:
        for order in route.active_orders:
            if not order.reduce_only:
                return True
        return False

    def _enter(self, route: Route, direction: int) -> None:
        strategy = route.strategy
        kind, method = ("buy", "go_long") if direction > 0 else ("sell", "go_short")
        if direction < 0 and type(strategy).go_short is Strategy.go_short:
            filename, line = method_site(type(strategy), "should_short")
            raise MissingMethod("should_short() returned True but go_short() is not defined", "missing_method", line, filename)
        getattr(strategy, method)()
        pairs = getattr(strategy, "_intent_" + kind)
        if pairs is None:
            filename, line = method_site(type(strategy), method)
            raise StrategyError(f"{method}() must set self.{kind} = (qty, price)", "missing_entry_order", line, filename)
        for check in strategy.filters():
            if not check():
                self._reset_route(route)
                return
        self._submit_entries(route, kind, pairs, direction)
        route.submitted = {kind: pairs}

    def _submit_entries(self, route: Route, kind: str, pairs, direction: int) -> None:
        current = route.market.price
        site = getattr(route.strategy, "_site_" + kind)
        for qty, price in pairs:
            if is_price_near(price, current):
                order_type, price = MARKET, current
            elif (price > current) == (direction > 0):
                order_type = STOP
            else:
                order_type = LIMIT
            self.submit(route, qty * direction, price, order_type, ENTRY, False, site)

    def _submit_exit(self, route: Route, role: str, qty: float, price: float, site) -> None:
        """The reference's reduce_position_at: near the price → market at the requested
        price; closing a long: above → limit, below → stop (mirrored for shorts)."""
        current = route.market.price
        closing = -1 if route.position.qty > 0 else 1
        if is_price_near(price, current):
            order_type = MARKET
        elif closing < 0:
            order_type = LIMIT if price > current else STOP
        else:
            order_type = LIMIT if price < current else STOP
        self.submit(route, qty * closing, price, order_type, role, True, site)

    def _on_opened(self, route: Route, order: Order) -> None:
        """Submit the stop-loss / take-profit set in go_long/go_short. One on the wrong side of
        the entry price becomes a market order that is not reduce-only (spec)."""
        route.changes = {"increased": 0, "reduced": 0}
        strategy = route.strategy
        position = route.position
        long = position.qty > 0
        closing = -1 if long else 1
        entry = position.entry_price
        for kind, role in (("take_profit", TAKE_PROFIT), ("stop_loss", STOP_LOSS)):
            pairs = getattr(strategy, "_intent_" + kind)
            if pairs is None:
                continue
            site = getattr(strategy, "_site_" + kind)
            for qty, price in pairs:
                wrong_side = (
                    (price <= entry if long else price >= entry) if role == TAKE_PROFIT
                    else (price >= entry if long else price <= entry)
                )
                if wrong_side:
                    self.submit(route, qty * closing, route.market.price, MARKET, role, False, site)
                else:
                    self._submit_exit(route, role, qty, price, site)
            route.submitted[kind] = pairs
        self._broadcast(route, "on_route_open_position")
        strategy.on_open_position(order)
        self.apply_intent_changes(route)

    def apply_intent_changes(self, route: Route) -> None:
        """Re-assigning buy/sell (same side as the position), stop_loss or take_profit while a
        position is open cancels that kind's active orders and submits the new set."""
        position = route.position
        strategy = route.strategy
        if position.qty == 0 or not strategy._intents_changed:
            return
        strategy._intents_changed = False
        entry_kind = "buy" if position.qty > 0 else "sell"
        for kind in (entry_kind, "stop_loss", "take_profit"):
            pairs = getattr(strategy, "_intent_" + kind)
            if pairs is None or pairs == route.submitted.get(kind):
                continue
            role = ENTRY if kind == entry_kind else STOP_LOSS if kind == "stop_loss" else TAKE_PROFIT
            for order in [o for o in route.active_orders if o.role == role]:
                self.cancel(order)
            route.submitted[kind] = pairs
            if role == ENTRY:
                self._submit_entries(route, kind, pairs, 1 if position.qty > 0 else -1)
            else:
                site = getattr(strategy, "_site_" + kind)
                for qty, price in pairs:
                    self._submit_exit(route, role, qty, price, site)
            if position.qty == 0:
                return

    def _reset_route(self, route: Route) -> None:
        strategy = route.strategy
        strategy._intent_buy = strategy._intent_sell = None
        strategy._intent_stop_loss = strategy._intent_take_profit = None
        strategy._intents_changed = False
        route.submitted = {}
        route.cycle_orders = [o for o in route.active_orders]

    def _broadcast(self, source: Route, method: str) -> None:
        if self.terminating:
            return
        for route in self.routes:
            if route is not source:
                getattr(route.strategy, method)(source.strategy)

    # ============================================================================== orders

    def _new_order(self, route, qty, price, order_type, role, reduce_only) -> Order:
        order = Order(
            len(self.orders) + 1, route.index, route.exchange, route.symbol, qty, price, order_type, role,
            reduce_only, self.time, self.minute,
        )
        self.orders.append(order)
        route.cycle_orders.append(order)
        return order

    def submit(self, route, qty, price, order_type, role, reduce_only, site=(None, None)) -> Order:
        if not reduce_only:
            self._check_funds(route, qty, price, site)
        order = self._new_order(route, qty, price, order_type, role, reduce_only)
        route.active_orders.append(order)
        if order_type == MARKET:
            self.pending_markets.append(order)
        else:
            route.market.resting.append(order)
        if self.logging.get("order_submission"):
            self.log("info", f"submitted {order_type} {order.side} order {abs(qty)} {route.symbol} @ {price} ({role})")
        return order

    def _check_funds(self, route, qty, price, site) -> None:
        filename, line = site
        if self.is_spot:
            if qty > 0 and qty * price > self.available_margin():
                raise InsufficientBalance(
                    f"not enough {route.symbol.split('-')[-1]} to buy {qty} {route.symbol} at {price}: "
                    f"cost {qty * price}, available {self.available_margin()}",
                    "insufficient_balance", line, filename,
                )
            return
        # Only the part of an order beyond the position it closes adds exposure (a market exit
        # that is not reduce-only, e.g. a stop-loss set on the wrong side, needs no margin).
        held = route.position.qty
        if held != 0 and (held > 0) != (qty > 0):
            qty = max(0.0, abs(qty) - abs(held))
        cost = abs(qty * price) / self.leverage
        if cost == 0:
            return
        available = self.available_margin()
        if cost > available:
            raise InsufficientMargin(
                f"not enough margin for {abs(qty)} {route.symbol} at {price}: needs {cost}, available {available}",
                "insufficient_margin", line, filename,
            )

    def cancel(self, order: Order) -> None:
        if order.status != ACTIVE:
            return
        self._deactivate(order)
        order.status = CANCELED
        order.canceled_at = self.time
        if self.logging.get("order_cancellation"):
            self.log("info", f"cancelled {order.type} {order.side} order {abs(order.qty)} {order.symbol} @ {order.price}")

    def _deactivate(self, order: Order) -> None:
        route = self.routes[order.route]
        if order in route.active_orders:
            route.active_orders.remove(order)
        if order.type == MARKET:
            if order in self.pending_markets:
                self.pending_markets.remove(order)
        elif order in route.market.resting:
            route.market.resting.remove(order)

    def _cancel_route_orders(self, route: Route) -> None:
        for order in list(route.active_orders):
            self.cancel(order)

    def execute_pending_markets(self) -> None:
        while self.pending_markets:
            order = self.pending_markets[0]
            self.fill(order, order.price)

    # =============================================================================== fills

    def fill(self, order: Order, price: float) -> None:
        route = self.routes[order.route]
        position = route.position
        qty = order.qty
        if order.reduce_only or (self.is_spot and qty < 0):
            if position.qty == 0 or (position.qty > 0) == (qty > 0):
                self.cancel(order)
                return
            if abs(qty) > abs(position.qty):
                qty = -position.qty  # never more than the position (fee on what fills)
        self._deactivate(order)
        order.status = EXECUTED
        order.executed_at = self.time
        order.qty = qty
        order.price = price
        fee = self.fee_rate * abs(qty) * price
        if self.logging.get("order_execution"):
            self.log("info", f"executed {order.type} {order.side} order {abs(qty)} {route.symbol} @ {price}")
        if self.is_spot:
            self._fill_spot(route, order, qty, price, fee)
        else:
            self._fill_futures(route, order, qty, price, fee)

    def _fill_futures(self, route, order, qty, price, fee) -> None:
        position = route.position
        self.balance -= fee
        held = position.qty
        if held == 0:
            self._open(route, order, qty, qty, price)
            return
        if (held > 0) == (qty > 0):
            position.entry_price = (abs(held) * position.entry_price + abs(qty) * price) / (abs(held) + abs(qty))
            position.qty = qty_add(held, qty)
            route.trade.add_entry(qty, price, order)
            self._after_change(route, order, "increased")
            return
        remaining = qty_add(held, qty)
        closing = qty if remaining == 0 or (remaining > 0) == (held > 0) else -held
        realized = abs(closing) * (price - position.entry_price)
        self.balance += realized if held > 0 else -realized
        route.trade.add_exit(closing, price, order)
        if remaining != 0 and (remaining > 0) == (held > 0):
            position.qty = remaining
            self._after_change(route, order, "reduced")
            return
        position.qty = 0.0
        self._close(route, order)
        if remaining != 0:  # the order was larger than the position: flip
            self._open(route, order, remaining, remaining, price)

    def _fill_spot(self, route, order, qty, price, fee) -> None:
        position = route.position
        if qty > 0:
            self.balance -= qty * price
            held_increase = qty * (1 - self.fee_rate)  # the fee is paid in the base asset
            if position.qty == 0:
                self._open(route, order, qty, held_increase, price)
                return
            trade = route.trade
            position.entry_price = (trade.entry_notional + qty * price) / qty_add(trade.entry_qty, qty)
            position.qty = qty_add(position.qty, held_increase)
            trade.add_entry(qty, price, order)
            self._after_change(route, order, "increased")
            return
        self.balance += -qty * price * (1 - self.fee_rate)
        route.trade.add_exit(qty, price, order)
        remaining = qty_add(position.qty, qty)
        if remaining != 0:
            position.qty = remaining
            self._after_change(route, order, "reduced")
            return
        position.qty = 0.0
        self._close(route, order)

    def _open(self, route, order, trade_qty, position_qty, price) -> None:
        position = route.position
        position.qty = position_qty
        position.entry_price = price
        position.opened_at = self.time
        trade = ClosedTrade(
            len(self.closed_trades) + 1, route.strategy.name, route.exchange, route.symbol,
            "long" if trade_qty > 0 else "short", self.leverage, self.fee_rate, self.time,
        )
        trade.add_entry(trade_qty, price, order)
        route.trade = trade
        if self.logging.get("position_opened"):
            self.log("info", f"opened {trade.type} position: {abs(trade_qty)} {route.symbol} @ {price}")
        if not self.terminating:
            self._on_opened(route, order)

    def _close(self, route, order) -> None:
        trade = route.trade
        trade.closed_at = self.time
        route.trade = None
        route.position.entry_price = None
        route.position.opened_at = None
        self.closed_trades.append(trade)
        if self.logging.get("position_closed"):
            self.log("info", f"closed {trade.type} position {route.symbol} @ {trade.exit_price}: PNL {trade.pnl:.2f}")
        self._cancel_route_orders(route)
        self._reset_route(route)
        if self.terminating:
            return
        self._broadcast(route, "on_route_close_position")
        route.strategy.on_close_position(order, trade)

    def _after_change(self, route, order, change: str) -> None:
        route.changes[change] += 1
        if self.logging.get(f"position_{change}"):
            self.log("info", f"{change} {route.position.type} position {route.symbol}: qty {route.position.qty}")
        if self.terminating:
            return
        self._broadcast(route, f"on_route_{change}_position")
        getattr(route.strategy, f"on_{change}_position")(order)
        self.apply_intent_changes(route)

    # ========================================================================== accounting

    def available_margin(self) -> float:
        if self.is_spot:
            reserved = 0.0
            for route in self.routes:
                for order in route.active_orders:
                    if order.qty > 0:
                        reserved += order.qty * order.price
            return self.balance - reserved
        margin = self.balance
        for route in self.routes:
            position = route.position
            if position.qty != 0:
                margin -= position.total_cost - position.pnl
            buys = sells = 0.0
            for order in route.active_orders:
                if order.reduce_only:
                    continue
                if order.qty > 0:
                    buys += order.qty * order.price
                else:
                    sells -= order.qty * order.price
            margin -= max(buys, sells) / self.leverage
        return margin

    def portfolio_value(self) -> float:
        if self.is_spot:
            return self._equity()
        return (self.balance + sum(route.position.pnl for route in self.routes)) * self.leverage

    def _equity(self) -> float:
        """Daily-balance value: futures wallet + unrealized PnL (route order); spot quote +
        held base at the current price."""
        total = self.balance
        for route in self.routes:
            position = route.position
            if position.qty != 0:
                total += position.value if self.is_spot else position.pnl
        return total

    # ============================================================================= the end

    def _terminate(self) -> None:
        for route in self.routes:
            route.strategy.before_terminate()
        # Market orders queued by before_terminate() (e.g. liquidate()) fill first, as in the
        # reference; only positions still open after them are "open at the end".
        if self.pending_markets:
            self.execute_pending_markets()
        self.terminating = True
        for route in self.routes:
            self._cancel_route_orders(route)
            if route.position.qty != 0:
                self.open_at_end.append({"route": route.index, "PNL": route.position.pnl})
                order = self._new_order(route, -route.position.qty, route.market.price, MARKET, CLOSE, True)
                self.fill(order, route.market.price)
        self.terminating = False
        for route in self.routes:
            route.strategy.terminate()

    # ================================================================================ misc

    def market(self, exchange: str, symbol: str):
        try:
            return self.markets[f"{exchange}-{symbol}"]
        except KeyError:
            raise StrategyError(
                f"no candles for {exchange} {symbol}: add it as a route or a data route", "unknown_candles"
            ) from None

    def log(self, level: str, text: str, switch: str | None = None) -> None:
        if switch is not None and not self.logging.get(switch):
            return
        self.logs.append({"time_ms": self.time, "level": level, "text": text})
        if self.on_log is not None:
            self.on_log(level, text, self.time)

    def current_metrics(self) -> dict:
        from candlewire.engine.backtest import compute_run_metrics

        return compute_run_metrics(self)
