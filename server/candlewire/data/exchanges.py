"""The exchanges candlewire knows, and the one place that builds a ccxt client for them."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from candlewire.errors import FailedPrecondition, InvalidArgument, NotFound

SUPPORTED_TIMEFRAMES = ["1m", "3m", "5m", "15m", "30m", "45m", "1h", "2h", "3h", "4h", "6h", "8h", "12h", "1D", "3D", "1W", "1M"]
EXCHANGE_TYPES = ("spot", "futures")
# JSON object {exchange id: base URL}; points ccxt at a local server (tests, proxies, testnets).
API_URLS_ENV = "CANDLEWIRE_EXCHANGE_API_URLS"
SYMBOL_PATTERN = re.compile(r"^[A-Z0-9]{1,30}-[A-Z0-9]{1,30}$")
_URL_ORIGIN = re.compile(r"^https?://[^/]+")


@dataclass(frozen=True)
class Exchange:
    id: str
    name: str
    type: str
    default_fee: float
    # Timeframes the exchange serves natively (live candles); backtests build every
    # SUPPORTED_TIMEFRAMES entry from stored 1-minute candles on any exchange.
    timeframes: tuple[str, ...]
    supports_live: bool
    supports_import: bool
    ccxt_id: str
    ccxt_options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    # ccxt market filter: unified market type ("spot"/"swap") and, for derivatives, the settle currency.
    market_type: str = "spot"
    settle: str | None = None
    # Most candles one fetch_ohlcv call returns; an empty answer lets the importer skip this many minutes.
    ohlcv_page_limit: int = 1000


_BINANCE_TIMEFRAMES = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1D", "3D", "1W", "1M")
_BYBIT_TIMEFRAMES = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1D", "1W", "1M")
_OKX_TIMEFRAMES = _BYBIT_TIMEFRAMES
_COINBASE_TIMEFRAMES = ("1m", "5m", "15m", "30m", "1h", "2h", "6h", "1D")
_KRAKEN_TIMEFRAMES = ("1m", "5m", "15m", "30m", "1h", "4h", "1D", "1W")


def _options(**values: Any) -> Mapping[str, Any]:
    return MappingProxyType(values)


# Restricting ccxt's `fetchMarkets.types` keeps load_markets to the one endpoint each exchange id needs.
EXCHANGES: tuple[Exchange, ...] = (
    Exchange(
        id="binance-spot",
        name="Binance Spot",
        type="spot",
        default_fee=0.001,
        timeframes=_BINANCE_TIMEFRAMES,
        supports_live=True,
        supports_import=True,
        ccxt_id="binance",
        ccxt_options=_options(defaultType="spot", fetchMarkets={"types": ["spot"]}, fetchMargins=False),
    ),
    Exchange(
        id="binance-perpetual-futures",
        name="Binance Perpetual Futures",
        type="futures",
        default_fee=0.0004,
        timeframes=_BINANCE_TIMEFRAMES,
        supports_live=True,
        supports_import=True,
        ccxt_id="binanceusdm",
        ccxt_options=_options(defaultType="swap", fetchMarkets={"types": ["linear"]}),
        market_type="swap",
        settle="USDT",
    ),
    Exchange(
        id="bybit-usdt-perpetual",
        name="Bybit USDT Perpetual",
        type="futures",
        default_fee=0.00055,
        timeframes=_BYBIT_TIMEFRAMES,
        supports_live=True,
        supports_import=True,
        ccxt_id="bybit",
        ccxt_options=_options(defaultType="swap", fetchMarkets={"types": ["linear"]}),
        market_type="swap",
        settle="USDT",
    ),
    Exchange(
        id="bybit-spot",
        name="Bybit Spot",
        type="spot",
        default_fee=0.001,
        timeframes=_BYBIT_TIMEFRAMES,
        supports_live=True,
        supports_import=True,
        ccxt_id="bybit",
        ccxt_options=_options(defaultType="spot", fetchMarkets={"types": ["spot"]}),
    ),
    Exchange(
        id="okx-spot",
        name="OKX Spot",
        type="spot",
        default_fee=0.001,
        timeframes=_OKX_TIMEFRAMES,
        supports_live=False,
        supports_import=True,
        ccxt_id="okx",
        ccxt_options=_options(defaultType="spot", fetchMarkets={"types": ["spot"]}),
        ohlcv_page_limit=100,
    ),
    Exchange(
        id="coinbase-spot",
        name="Coinbase Spot",
        type="spot",
        default_fee=0.006,
        timeframes=_COINBASE_TIMEFRAMES,
        supports_live=False,
        supports_import=True,
        ccxt_id="coinbase",
        ccxt_options=_options(defaultType="spot"),
        ohlcv_page_limit=300,
    ),
    Exchange(
        id="kraken-spot",
        name="Kraken Spot",
        type="spot",
        default_fee=0.004,
        timeframes=_KRAKEN_TIMEFRAMES,
        supports_live=False,
        # Kraken's OHLC endpoint only serves the latest 720 candles; older minutes come back as gaps.
        supports_import=True,
        ccxt_id="kraken",
        ccxt_options=_options(),
        ohlcv_page_limit=720,
    ),
)

_BY_ID = {exchange.id: exchange for exchange in EXCHANGES}


def list_exchanges() -> list[Exchange]:
    return list(EXCHANGES)


def get_exchange(exchange_id: str) -> Exchange:
    try:
        return _BY_ID[exchange_id]
    except KeyError:
        raise NotFound(f"unknown exchange {exchange_id!r}; known: {', '.join(_BY_ID)}") from None


def validate_symbol(symbol: str, field_name: str = "symbol") -> None:
    if not SYMBOL_PATTERN.match(symbol or ""):
        raise InvalidArgument(
            f"symbol {symbol!r} is not of the form BASE-QUOTE", {field_name: "must look like BTC-USDT (upper case)"}
        )


def market_violations(exchange: str, symbol: str) -> dict[str, str]:
    """What is wrong with an (exchange, symbol) pair, by field name; empty when both are valid."""
    violations: dict[str, str] = {}
    if exchange not in _BY_ID:
        violations["exchange"] = "must not be empty" if not exchange else f"unknown exchange {exchange!r}"
    if not SYMBOL_PATTERN.match(symbol or ""):
        violations["symbol"] = "must not be empty" if not symbol else "must look like BTC-USDT (upper case)"
    return violations


def to_candlewire_symbol(market: Mapping[str, Any]) -> str:
    return f"{market['base']}-{market['quote']}"


def api_url_overrides() -> dict[str, str]:
    raw = os.environ.get(API_URLS_ENV, "").strip()
    if not raw:
        return {}
    try:
        overrides = json.loads(raw)
    except json.JSONDecodeError as error:
        raise FailedPrecondition(f"{API_URLS_ENV} is not valid JSON: {error}") from None
    if not isinstance(overrides, dict) or not all(isinstance(v, str) for v in overrides.values()):
        raise FailedPrecondition(f"{API_URLS_ENV} must be a JSON object of exchange id to base URL")
    return overrides


def _rebase_urls(urls: Any, base_url: str) -> Any:
    """Swap the scheme and host of every API URL for `base_url`, keeping each path (/api/v3, /fapi/v1…)."""
    if isinstance(urls, dict):
        return {name: _rebase_urls(value, base_url) for name, value in urls.items()}
    if isinstance(urls, str):
        return _URL_ORIGIN.sub(base_url.rstrip("/"), urls, count=1)
    return urls


def ccxt_client(exchange_id: str, credentials: Mapping[str, Any] | None = None) -> Any:
    """A configured synchronous ccxt client for a catalogue exchange."""
    import ccxt  # importing ccxt costs about a second, so only code that talks to exchanges pays it

    exchange = get_exchange(exchange_id)
    config: dict[str, Any] = {"enableRateLimit": True, "timeout": 30_000, "options": _plain(exchange.ccxt_options)}
    if credentials:
        config.update({key: value for key, value in credentials.items() if value})
    client = getattr(ccxt, exchange.ccxt_id)(config)
    base_url = api_url_overrides().get(exchange_id)
    if base_url:
        client.urls["api"] = _rebase_urls(client.urls["api"], base_url)
    return client


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _matches(exchange: Exchange, market: Mapping[str, Any]) -> bool:
    if market.get("type") != exchange.market_type:
        return False
    if exchange.settle is not None:
        return bool(market.get("linear")) and market.get("settle") == exchange.settle
    return True


def list_symbols(exchange_id: str) -> list[str]:
    """Active symbols of the exchange's market type, as BASE-QUOTE, sorted."""
    exchange = get_exchange(exchange_id)
    markets = load_markets(exchange_id)
    return sorted(
        {
            to_candlewire_symbol(market)
            for market in markets.values()
            if market.get("active") is not False and _matches(exchange, market)
        }
    )


def load_markets(exchange_id: str, client: Any | None = None) -> dict[str, Any]:
    import ccxt

    client = client or ccxt_client(exchange_id)
    try:
        return client.load_markets()
    except ccxt.BaseError as error:
        raise FailedPrecondition(f"{exchange_id}: could not load markets: {error}") from None


def find_market(exchange_id: str, markets: Mapping[str, Any], symbol: str) -> Mapping[str, Any]:
    """The ccxt market behind a candlewire symbol on this exchange (spot `BTC/USDT`, swap `BTC/USDT:USDT`)."""
    exchange = get_exchange(exchange_id)
    base, quote = symbol.split("-", 1)
    for market in markets.values():
        if market.get("base") == base and market.get("quote") == quote and _matches(exchange, market):
            return market
    raise InvalidArgument(f"{exchange_id} has no market {symbol}", {"symbol": f"not listed on {exchange_id}"})
