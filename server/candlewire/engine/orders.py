"""Orders as the strategy sees them (Jesse's attribute names) and as the result reports them."""

from __future__ import annotations

MARKET, LIMIT, STOP = "market", "limit", "stop"
ACTIVE, EXECUTED, CANCELED = "active", "executed", "canceled"
ENTRY, STOP_LOSS, TAKE_PROFIT, LIQUIDATION, CLOSE = "entry", "stop_loss", "take_profit", "liquidation", "close"


class Order:
    """`qty` is signed (negative sells), as in the reference. After a fill, `qty` and `price`
    are what was filled (a reduce-only order larger than the position fills only its size;
    a gap fill happens at the open); `requested_qty`/`requested_price` keep what was asked."""

    __slots__ = (
        "id", "route", "exchange", "symbol", "side", "type", "qty", "price", "requested_qty", "requested_price",
        "role", "reduce_only", "status", "created_at", "executed_at", "canceled_at", "minute",
    )

    def __init__(self, id, route, exchange, symbol, qty, price, type, role, reduce_only, created_at, minute):
        self.id = id
        self.route = route
        self.exchange = exchange
        self.symbol = symbol
        self.side = "buy" if qty > 0 else "sell"
        self.type = type
        self.qty = qty
        self.price = price
        self.requested_qty = qty
        self.requested_price = price
        self.role = role
        self.reduce_only = reduce_only
        self.status = ACTIVE
        self.created_at = created_at
        self.executed_at = None
        self.canceled_at = None
        # Minute index at whose close the order was submitted: only orders submitted before a
        # minute started can be crossed by that minute's opening gap.
        self.minute = minute

    @property
    def is_active(self) -> bool:
        return self.status == ACTIVE

    @property
    def is_executed(self) -> bool:
        return self.status == EXECUTED

    @property
    def is_canceled(self) -> bool:
        return self.status == CANCELED

    @property
    def is_buy(self) -> bool:
        return self.side == "buy"

    @property
    def is_sell(self) -> bool:
        return self.side == "sell"

    @property
    def is_stop_loss(self) -> bool:
        return self.role == STOP_LOSS

    @property
    def is_take_profit(self) -> bool:
        return self.role == TAKE_PROFIT

    @property
    def submitted_via(self) -> str | None:
        return {STOP_LOSS: "stop-loss", TAKE_PROFIT: "take-profit"}.get(self.role)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "route": self.route,
            "side": self.side,
            "type": self.type,
            "qty": abs(self.qty),
            "price": self.price,
            "status": self.status,
            "role": self.role,
            "reduce_only": self.reduce_only,
            "created_at": self.created_at,
            "executed_at": self.executed_at,
            "canceled_at": self.canceled_at,
        }

    def __repr__(self) -> str:
        return f"Order({self.id} {self.role} {self.type} {self.side} {self.qty}@{self.price} {self.status})"
