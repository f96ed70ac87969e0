"""The candle_import job's run() in-process, through the real ccxt client, against a local Binance stand-in."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from candlewire.data.candle_import import MINUTE_MS, run, validate_import_request
from candlewire.data.exchanges import API_URLS_ENV
from candlewire.errors import InvalidArgument
from candlewire.storage.candles import load_candles
from candlewire.storage.db import create_engine, migrate
from fake_exchange import FakeBinance, synthetic_candle
from recording_context import RecordingContext

PAGE = 1000




def _minute(offset: int = 0) -> int:
    return (int(time.time() * 1000) // MINUTE_MS + offset) * MINUTE_MS


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'candlewire.db'}"
    engine = create_engine(url)
    migrate(engine)
    engine.dispose()
    return url


@pytest.fixture
def context(database_url: str, tmp_path: Path) -> RecordingContext:
    return RecordingContext(database_url=database_url, data_dir=tmp_path)


@pytest.fixture
def window() -> tuple[int, int, tuple[int, int]]:
    """2.5 pages of minutes ending an hour ago, with a 30-minute hole spanning a page boundary."""
    end = _minute(-60)
    start = end - 2500 * MINUTE_MS
    gap = (start + (PAGE - 10) * MINUTE_MS, start + (PAGE + 20) * MINUTE_MS)
    return start, end, gap


@pytest.fixture
def fake_binance(monkeypatch: pytest.MonkeyPatch, window):
    start, _end, gap = window
    fake = FakeBinance(first_candle_ms=start - 500 * MINUTE_MS, gaps=[gap])
    with fake as base_url:
        monkeypatch.setenv(API_URLS_ENV, json.dumps({"binance-spot": base_url, "binance-perpetual-futures": base_url}))
        yield fake


def _params(start: int, end: int, exchange: str = "binance-spot", symbol: str = "BTC-USDT") -> dict[str, Any]:
    return {"exchange": exchange, "symbol": symbol, "start_ms": start, "end_ms": end}


def test_import_stores_candles_in_candlewire_layout_and_reports_gap(fake_binance, context, window):
    start, end, gap = window
    result = run(_params(start, end), context)

    expected_count = 2500 - 30
    assert result == {
        "exchange": "binance-spot",
        "symbol": "BTC-USDT",
        "inserted": expected_count,
        "skipped_existing": 0,
        "start_ms": start,
        "end_ms": end,
        "gaps": [list(gap)],
    }
    stored = load_candles(create_engine(context.database_url), "binance-spot", "BTC-USDT", start, end)
    assert len(stored) == expected_count
    assert stored[0, 0] == start and stored[-1, 0] == end - MINUTE_MS
    assert not ((stored[:, 0] >= gap[0]) & (stored[:, 0] < gap[1])).any()
    open_, high, low, close, volume = synthetic_candle(start)
    np.testing.assert_allclose(stored[0], [start, open_, close, high, low, volume])

    klines = [path for path in fake_binance.requests if path.startswith("/api/v3/klines")]
    assert len(klines) == 3
    progress = [payload for kind, payload in context.events if kind == "progress"]
    assert progress[-1] == (2500, 2500, end)
    assert [done for done, _, _ in progress] == sorted(done for done, _, _ in progress)
    assert any(kind == "log" for kind, _ in context.events)


def test_reimport_is_idempotent(fake_binance, context, window):
    start, end, _gap = window
    run(_params(start, end), context)
    again = run(_params(start, end), context)
    assert again["inserted"] == 0
    assert again["skipped_existing"] == 2500 - 30
    engine = create_engine(context.database_url)
    assert len(load_candles(engine, "binance-spot", "BTC-USDT", start, end)) == 2500 - 30


def test_minutes_before_listing_are_a_leading_gap(fake_binance, context, window):
    _start, end, _gap = window
    listing = fake_binance.first_candle_ms
    early = listing - 2 * PAGE * MINUTE_MS - 7 * MINUTE_MS
    result = run(_params(early, listing + 100 * MINUTE_MS), context)
    assert result["inserted"] == 100
    assert result["gaps"] == [[early, listing]]


def test_futures_import_uses_futures_endpoints(fake_binance, context, window):
    start, _end, _gap = window
    result = run(_params(start, start + 50 * MINUTE_MS, exchange="binance-perpetual-futures"), context)
    assert result["inserted"] == 50
    assert any(path.startswith("/fapi/v1/klines") for path in fake_binance.requests)
    assert not any(path.startswith("/api/v3/klines") for path in fake_binance.requests)


def test_symbol_not_listed_fails_with_symbol_violation(fake_binance, context, window):
    start, end, _gap = window
    with pytest.raises(InvalidArgument) as caught:
        run(_params(start, end, symbol="DOGE-USDT"), context)
    assert "symbol" in caught.value.violations


def test_validation_names_every_bad_field():
    now = _minute()
    with pytest.raises(InvalidArgument) as caught:
        validate_import_request("mtgox-spot", "btc/usdt", now, now - MINUTE_MS)
    assert set(caught.value.violations) == {"exchange", "symbol", "end_ms"}

    with pytest.raises(InvalidArgument) as caught:
        validate_import_request("binance-spot", "BTC-USDT", now - MINUTE_MS, now + 3_600_000)
    assert caught.value.violations == {"end_ms": "must not be in the future"}

    with pytest.raises(InvalidArgument) as caught:
        validate_import_request(
            "binance-spot", "BTC-USDT", -5, now, field_names={"start_ms": "params.start_date"}
        )
    assert set(caught.value.violations) == {"params.start_date"}

    validate_import_request("binance-spot", "1000PEPE-USDT", now - MINUTE_MS, now)


def test_importing_the_data_package_registers_the_job_kind():
    import candlewire.data  # noqa: F401  (registration is the import's side effect)
    from candlewire.jobs.registry import load, target_of

    assert load(target_of("candle_import")) is run
