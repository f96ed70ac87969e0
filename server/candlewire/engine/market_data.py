"""One symbol's candles for a run: bar views for the strategy, the forming candle, and the
vectorized search for the next minute that touches a price.

The engine keeps one "seen" minute per symbol (the last 1m candle the strategy may know)
and, during a mid-minute fill, the part of that minute walked so far (`partial`).
"""

from __future__ import annotations

import numpy as np

from candlewire.engine.timeframes import CLOSE, HIGH, LOW, OPEN, TIMESTAMP, VOLUME, aggregate

# First chunk of the forward search for a touched price; later chunks grow geometrically,
# so a stop resting all year costs a handful of numpy calls, not one per bar.
_FIRST_SEARCH_CHUNK = 512
_SEARCH_GROWTH = 8
_TOUCH_CACHE_LIMIT = 4096


class SymbolMarket:
    def __init__(self, exchange: str, symbol: str, candles: np.ndarray, warmup: np.ndarray):
        self.exchange = exchange
        self.symbol = symbol
        self.key = f"{exchange}-{symbol}"
        self.candles = candles
        self.warmup = warmup
        self.n = len(candles)
        self.timestamps = candles[:, TIMESTAMP]
        self.opens = candles[:, OPEN]
        self.closes = candles[:, CLOSE]
        self.highs = candles[:, HIGH]
        self.lows = candles[:, LOW]
        self.seen = -1
        self.price = float(candles[0, OPEN])
        self.partial: tuple[float, float, float] | None = None  # (high, low, close) walked so far
        self.resting: list = []
        self.route = None  # the route trading this symbol; None for data-only symbols  # active limit/stop orders, in submission order
        self._bars: dict[int, tuple[np.ndarray, int]] = {}
        self._scratch: dict[int, np.ndarray] = {}
        self._scratch_forming_index: dict[int, int] = {}
        self._reach_low: np.ndarray | None = None
        self._reach_high: np.ndarray | None = None
        self._touch_cache: dict[float, tuple[int, int]] = {}

    def see(self, minute: int) -> None:
        self.seen = minute
        self.price = self.closes.item(minute) if minute >= 0 else float(self.opens.item(0))

    # ----------------------------------------------------------------- bars for the strategy

    def bars_of(self, minutes: int) -> tuple[np.ndarray, int]:
        """All complete bars of the timeframe (warm-up first) and the number of warm-up bars.
        Aggregated once per run; warm-up bars are counted back from the run's start so that
        their buckets line up with the run's."""
        cached = self._bars.get(minutes)
        if cached is None:
            warm = self.warmup[len(self.warmup) % minutes :] if minutes > 1 else self.warmup
            run_bars = aggregate(self.candles, minutes)
            warm_bars = aggregate(warm, minutes) if len(warm) else np.empty((0, 6))
            cached = (np.concatenate([warm_bars, run_bars]) if len(warm_bars) else run_bars, len(warm_bars))
            self._bars[minutes] = cached
        return cached

    def candles_for(self, minutes: int) -> np.ndarray:
        """Bars up to the seen minute: a view of the aggregated array when the last bar is
        complete; otherwise the complete bars plus the forming candle (spec "Data"), written
        into a per-timeframe scratch copy so no per-call concatenation is needed."""
        bars, warm = self.bars_of(minutes)
        k = self.seen
        partial = self.partial
        if partial is None and (k + 1) % minutes == 0:
            return bars[: warm + (k + 1) // minutes]
        bucket = k // minutes
        start = bucket * minutes
        row = self._forming_row(start, k, partial)
        scratch = self._scratch.get(minutes)
        if scratch is None:
            scratch = np.empty((len(bars) + 1, 6))
            scratch[: len(bars)] = bars
            self._scratch[minutes] = scratch
        end = warm + bucket
        previous = self._scratch_forming_index.get(minutes)
        if previous is not None and previous != end and previous < len(bars):
            scratch[previous] = bars[previous]  # that bucket has completed since
        scratch[end] = row
        self._scratch_forming_index[minutes] = end
        return scratch[: end + 1]

    def _forming_row(self, start: int, k: int, partial) -> np.ndarray:
        c = self.candles
        if partial is None:
            block = c[start : k + 1]
            return np.array([block[0, 0], block[0, 1], block[-1, 2], block[:, 3].max(), block[:, 4].min(), block[:, 5].sum()])
        high, low, close = partial
        row = np.array([c[k, TIMESTAMP], c[k, OPEN], close, high, low, c[k, VOLUME]])
        if start < k:
            block = c[start:k]
            row[0] = block[0, 0]
            row[1] = block[0, 1]
            row[3] = max(high, block[:, 3].max())
            row[4] = min(low, block[:, 4].min())
            row[5] += block[:, 5].sum()
        return row

    # ------------------------------------------------------------ search for touched prices

    def _reach(self) -> tuple[np.ndarray, np.ndarray]:
        """Each minute's price range widened by the gap from the previous close: every price the
        path prev-close → open → low/high → close crosses."""
        if self._reach_low is None:
            previous_close = np.empty(self.n)
            previous_close[0] = self.opens[0]
            previous_close[1:] = self.closes[:-1]
            self._reach_low = np.minimum(self.lows, previous_close)
            self._reach_high = np.maximum(self.highs, previous_close)
        return self._reach_low, self._reach_high

    def first_touch(self, price: float, start: int) -> int:
        """First minute >= start whose reach contains price, or n. Results are cached per price:
        a hit found from an earlier start stays valid while it is still ahead."""
        cached = self._touch_cache.get(price)
        if cached is not None and cached[0] <= start <= cached[1]:
            return cached[1]
        low, high = self._reach()
        n = self.n
        lo = start
        size = _FIRST_SEARCH_CHUNK
        hit = n
        while lo < n:
            hi = min(n, lo + size)
            mask = (low[lo:hi] <= price) & (high[lo:hi] >= price)
            i = int(mask.argmax())
            if mask[i]:
                hit = lo + i
                break
            lo = hi
            size *= _SEARCH_GROWTH
        if len(self._touch_cache) > _TOUCH_CACHE_LIMIT:
            self._touch_cache.clear()
        self._touch_cache[price] = (start, hit)
        return hit

    def reach_contains(self, minute: int, price: float) -> bool:
        low, high = self._reach()
        return low.item(minute) <= price <= high.item(minute)
