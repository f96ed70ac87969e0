"""Decimal-exact quantity arithmetic and the price-nearness rule (spec "Exact arithmetic")."""

from __future__ import annotations

from decimal import Decimal

# An order price within this fraction of the current price is treated as "at the market".
NEAR_PRICE_FRACTION = 0.00015


def qty_add(a: float, b: float) -> float:
    """a + b without float dust, so a position reduced by exactly its size reaches exactly 0.

    Strategies often size with numpy scalars; float() first keeps repr() a plain number."""
    return float(Decimal(repr(float(a))) + Decimal(repr(float(b))))


def is_price_near(price: float, reference: float) -> bool:
    return abs(1.0 - price / reference) <= NEAR_PRICE_FRACTION
