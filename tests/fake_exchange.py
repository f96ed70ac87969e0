"""A local stand-in for Binance's public REST API (spot /api/v3 and USDⓈ-M futures /fapi/v1).

It serves deterministic synthetic 1-minute candles so the real ccxt client can be pointed at it:

    with FakeBinance(first_candle_ms=..., gaps=[(start_ms, end_ms)]) as base_url:
        os.environ["CANDLEWIRE_EXCHANGE_API_URLS"] = json.dumps({"binance-spot": base_url})
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MINUTE_MS = 60_000
MAX_KLINES_LIMIT = 1000
PERPETUAL_DELIVERY_MS = 4133404800000  # Binance's placeholder delivery date for perpetual contracts
INTERVAL_MS = {"1m": MINUTE_MS, "5m": 5 * MINUTE_MS, "1h": 60 * MINUTE_MS}


def synthetic_candle(timestamp_ms: int) -> tuple[float, float, float, float, float]:
    """(open, high, low, close, volume) of the candle opening at `timestamp_ms`; the same on every call."""
    minute = timestamp_ms // MINUTE_MS
    open_ = 100.0 + (minute % 997) * 0.25
    close = open_ + ((minute % 7) - 3) * 0.1
    high = max(open_, close) + 0.5
    low = min(open_, close) - 0.5
    volume = 1.0 + (minute % 13)
    return open_, high, low, close, volume


@dataclass
class Market:
    base: str
    quote: str
    status: str = "TRADING"

    @property
    def id(self) -> str:
        return self.base + self.quote


DEFAULT_SPOT_MARKETS = (Market("BTC", "USDT"), Market("ETH", "USDT"), Market("ETH", "BTC"), Market("LUNA", "USDT", "BREAK"))
DEFAULT_FUTURES_MARKETS = (Market("BTC", "USDT"), Market("SOL", "USDT"), Market("XRP", "USDT", "SETTLING"))


@dataclass
class FakeBinance:
    """Candles exist for every minute in [first_candle_ms, now) except inside `gaps` ([start, end) pairs)."""

    first_candle_ms: int = 0
    gaps: list[tuple[int, int]] = field(default_factory=list)
    spot_markets: tuple[Market, ...] = DEFAULT_SPOT_MARKETS
    futures_markets: tuple[Market, ...] = DEFAULT_FUTURES_MARKETS
    requests: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> str:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def record(self, path_and_query: str) -> None:
        with self._lock:
            self.requests.append(path_and_query)

    def has_candle(self, timestamp_ms: int) -> bool:
        if timestamp_ms < self.first_candle_ms or timestamp_ms + MINUTE_MS > _now_ms():
            return False
        return not any(start <= timestamp_ms < end for start, end in self.gaps)

    def klines(self, query: dict[str, str]) -> list[list[object]]:
        """Binance semantics: open times in [startTime, endTime], at most `limit`, oldest first."""
        interval_ms = INTERVAL_MS[query.get("interval", "1m")]
        limit = min(int(query.get("limit", 500)), MAX_KLINES_LIMIT)
        end = int(query.get("endTime", _now_ms()))
        if "startTime" in query:
            start = int(query["startTime"])
        else:
            start = end - limit * interval_ms
        start = max(-(-start // interval_ms) * interval_ms, -(-self.first_candle_ms // interval_ms) * interval_ms)
        rows: list[list[object]] = []
        timestamp = start
        while timestamp <= end and len(rows) < limit:
            if self.has_candle(timestamp):
                open_, high, low, close, volume = synthetic_candle(timestamp)
                rows.append(
                    [timestamp, f"{open_:.8f}", f"{high:.8f}", f"{low:.8f}", f"{close:.8f}", f"{volume:.8f}",
                     timestamp + interval_ms - 1, f"{volume * close:.8f}", 10, "0", "0", "0"]
                )
            timestamp += interval_ms
        return rows


def _now_ms() -> int:
    return int(time.time() * 1000)


def _filters() -> list[dict[str, str]]:
    return [
        {"filterType": "PRICE_FILTER", "minPrice": "0.01", "maxPrice": "1000000", "tickSize": "0.01"},
        {"filterType": "LOT_SIZE", "minQty": "0.00001", "maxQty": "9000", "stepSize": "0.00001"},
    ]


def _spot_symbol(market: Market) -> dict[str, object]:
    return {
        "symbol": market.id,
        "status": market.status,
        "baseAsset": market.base,
        "baseAssetPrecision": 8,
        "quoteAsset": market.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "orderTypes": ["LIMIT", "MARKET"],
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "permissions": ["SPOT"],
        "filters": _filters(),
    }


def _futures_symbol(market: Market) -> dict[str, object]:
    return {
        "symbol": market.id,
        "pair": market.id,
        "contractType": "PERPETUAL",
        "deliveryDate": PERPETUAL_DELIVERY_MS,
        "onboardDate": 1569398400000,
        "status": market.status,
        "baseAsset": market.base,
        "quoteAsset": market.quote,
        "marginAsset": market.quote,
        "pricePrecision": 2,
        "quantityPrecision": 3,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "orderTypes": ["LIMIT", "MARKET"],
        "filters": _filters(),
    }


def _handler_for(fake: FakeBinance) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server naming)
            fake.record(self.path)
            url = urlsplit(self.path)
            query = {key: values[-1] for key, values in parse_qs(url.query).items()}
            prefix, _, endpoint = url.path.rpartition("/")
            if prefix not in ("/api/v3", "/fapi/v1"):
                return self._send(404, {"code": -1, "msg": f"unknown path {url.path}"})
            markets = fake.spot_markets if prefix == "/api/v3" else fake.futures_markets
            if endpoint == "ping":
                return self._send(200, {})
            if endpoint == "time":
                return self._send(200, {"serverTime": _now_ms()})
            if endpoint == "exchangeInfo":
                describe = _spot_symbol if prefix == "/api/v3" else _futures_symbol
                return self._send(
                    200,
                    {"timezone": "UTC", "serverTime": _now_ms(), "rateLimits": [],
                     "symbols": [describe(market) for market in markets]},
                )
            if endpoint == "klines":
                if query.get("symbol") not in {market.id for market in markets}:
                    return self._send(400, {"code": -1121, "msg": "Invalid symbol."})
                return self._send(200, fake.klines(query))
            return self._send(404, {"code": -1, "msg": f"unknown path {url.path}"})

        def _send(self, status: int, payload: object) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler
