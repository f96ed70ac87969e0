"""Exchange catalogue and market listing through the real ccxt client against a local Binance stand-in."""

from __future__ import annotations

import json

import ccxt
import pytest

from candlewire.data.exchanges import (
    API_URLS_ENV,
    SUPPORTED_TIMEFRAMES,
    ccxt_client,
    get_exchange,
    list_exchanges,
    list_symbols,
)
from candlewire.errors import FailedPrecondition, NotFound
from fake_exchange import FakeBinance


@pytest.fixture
def fake_binance(monkeypatch: pytest.MonkeyPatch):
    fake = FakeBinance()
    with fake as base_url:
        monkeypatch.setenv(API_URLS_ENV, json.dumps({"binance-spot": base_url, "binance-perpetual-futures": base_url}))
        yield fake


def test_catalogue_entries_are_consistent_with_ccxt():
    ids = [exchange.id for exchange in list_exchanges()]
    assert len(ids) == len(set(ids))
    assert {"binance-spot", "binance-perpetual-futures", "bybit-usdt-perpetual", "bybit-spot", "coinbase-spot",
            "kraken-spot"} <= set(ids)
    for exchange in list_exchanges():
        assert exchange.type in ("spot", "futures")
        assert 0 < exchange.default_fee < 0.01
        assert set(exchange.timeframes) <= set(SUPPORTED_TIMEFRAMES)
        client = getattr(ccxt, exchange.ccxt_id)()
        native = {tf if tf[-1] in "mhM" else tf.upper() for tf in client.timeframes}
        assert set(exchange.timeframes) <= native, exchange.id
        assert client.has["fetchOHLCV"] and "1m" in client.timeframes
    assert get_exchange("binance-spot").default_fee == 0.001
    assert get_exchange("binance-perpetual-futures").default_fee == 0.0004
    assert get_exchange("binance-perpetual-futures").ccxt_id == "binanceusdm"


def test_unknown_exchange_is_not_found():
    with pytest.raises(NotFound):
        get_exchange("mtgox-spot")


def test_list_spot_symbols_returns_active_spot_markets(fake_binance):
    assert list_symbols("binance-spot") == ["BTC-USDT", "ETH-BTC", "ETH-USDT"]
    assert any(path.startswith("/api/v3/exchangeInfo") for path in fake_binance.requests)
    assert not any(path.startswith("/fapi/") for path in fake_binance.requests)


def test_list_futures_symbols_returns_active_perpetuals(fake_binance):
    assert list_symbols("binance-perpetual-futures") == ["BTC-USDT", "SOL-USDT"]
    assert not any(path.startswith("/api/v3/") for path in fake_binance.requests)


def test_url_override_keeps_api_paths(monkeypatch):
    monkeypatch.setenv(API_URLS_ENV, json.dumps({"binance-spot": "http://127.0.0.1:1/"}))
    client = ccxt_client("binance-spot")
    assert client.urls["api"]["public"] == "http://127.0.0.1:1/api/v3"
    assert client.urls["api"]["fapiPublic"] == "http://127.0.0.1:1/fapi/v1"
    assert ccxt_client("bybit-spot").urls["api"]["public"].startswith("https://api.")


def test_unreachable_exchange_fails_cleanly(monkeypatch):
    monkeypatch.setenv(API_URLS_ENV, json.dumps({"binance-spot": "http://127.0.0.1:1"}))
    with pytest.raises(FailedPrecondition, match="could not load markets"):
        list_symbols("binance-spot")


def test_malformed_override_is_reported(monkeypatch):
    monkeypatch.setenv(API_URLS_ENV, "{not json")
    with pytest.raises(FailedPrecondition, match=API_URLS_ENV):
        ccxt_client("binance-spot")
