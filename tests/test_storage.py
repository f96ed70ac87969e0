"""Storage against real SQLite and real PostgreSQL: migrations, sessions, events, candles."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import psycopg
import pytest
import sqlalchemy as sa

from candlewire.errors import InvalidArgument, NotFound
from candlewire.storage import candles, events, sessions
from candlewire.storage.db import create_engine, migrate
from candlewire.storage.models import Base, Event


@pytest.fixture
def engine(database_url):
    engine = create_engine(database_url)
    migrate(engine)
    yield engine
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    engine.dispose()


def candle_rows(start_ms: int, count: int) -> np.ndarray:
    timestamps = start_ms + np.arange(count) * 60_000
    prices = np.arange(count, dtype=np.float64)
    return np.column_stack([timestamps, prices + 1, prices + 2, prices + 3, prices + 0.5, prices * 10])


def test_migration_creates_every_table(engine):
    tables = set(sa.inspect(engine).get_table_names())
    assert {table.name for table in Base.metadata.sorted_tables} <= tables


def test_migration_is_idempotent(engine):
    migrate(engine)
    assert "sessions" in sa.inspect(engine).get_table_names()


def test_created_session_reads_back_with_utc_times(engine):
    created = sessions.create_session(engine, "backtest", {"symbol": "BTC-USDT"}, title="first")
    loaded = sessions.get_session(engine, created.id)
    assert loaded == created
    assert loaded.created_at.tzinfo is not None and loaded.created_at.utcoffset() == timedelta(0)


def test_get_unknown_session_raises_not_found(engine):
    with pytest.raises(NotFound):
        sessions.get_session(engine, "missing")


def test_update_session_changes_fields(engine):
    created = sessions.create_session(engine, "backtest", {})
    updated = sessions.update_session(engine, created.id, status="running", progress={"done": 1, "total": 4})
    assert (updated.status, updated.progress) == ("running", {"done": 1, "total": 4})
    assert sessions.get_session(engine, created.id).status == "running"


def test_update_rejects_unknown_field(engine):
    created = sessions.create_session(engine, "backtest", {})
    with pytest.raises(InvalidArgument) as error:
        sessions.update_session(engine, created.id, kind="live")
    assert "kind" in error.value.violations


def test_delete_session_removes_its_events(engine):
    created = sessions.create_session(engine, "backtest", {})
    events.append_events(engine, [(created.id, "log", datetime.now(timezone.utc), {"text": "x"})])
    sessions.delete_session(engine, created.id)
    assert events.events_after(engine, created.id) == []
    with pytest.raises(NotFound):
        sessions.get_session(engine, created.id)


def test_list_sessions_pages_newest_first_without_overlap(engine):
    created = [sessions.create_session(engine, "backtest", {}, title=f"run {i}") for i in range(7)]
    seen, token = [], ""
    while True:
        page, token = sessions.list_sessions(engine, kind="backtest", page_size=3, page_token=token)
        seen += page
        if not token:
            break
    assert [record.id for record in seen] == [record.id for record in reversed(created)]


def test_list_sessions_filters_by_title_status_and_kind(engine):
    sessions.create_session(engine, "backtest", {}, title="Alpha strategy")
    wanted = sessions.create_session(engine, "backtest", {}, title="alpha 100%", status="draft")
    sessions.create_session(engine, "optimization", {}, title="alpha", status="draft")
    page, token = sessions.list_sessions(engine, kind="backtest", title_contains="ALPHA 100%", statuses=["draft"])
    assert [record.id for record in page] == [wanted.id] and token == ""


def test_list_sessions_filters_by_creation_window(engine):
    before = datetime.now(timezone.utc)
    created = sessions.create_session(engine, "backtest", {})
    page, _ = sessions.list_sessions(engine, created_after=before, created_before=before + timedelta(minutes=1))
    assert [record.id for record in page] == [created.id]
    page, _ = sessions.list_sessions(engine, created_before=before)
    assert page == []


@pytest.mark.parametrize("token", ["not base64 !!", "bm90IGpzb24", "WyJ4IiwgMV0"])
def test_bad_page_token_is_invalid_argument(engine, token):
    with pytest.raises(InvalidArgument) as error:
        sessions.list_sessions(engine, page_token=token)
    assert "page_token" in error.value.violations


def test_purge_sessions_keeps_active_and_recent_ones(engine):
    old_done = sessions.create_session(engine, "backtest", {}, status="succeeded")
    running = sessions.create_session(engine, "backtest", {}, status="running")
    purged = sessions.purge_sessions(engine, "backtest", datetime.now(timezone.utc) + timedelta(seconds=1))
    assert purged == 1
    with pytest.raises(NotFound):
        sessions.get_session(engine, old_done.id)
    assert sessions.get_session(engine, running.id).status == "running"


def test_counts_by_kind(engine):
    sessions.create_session(engine, "backtest", {})
    sessions.create_session(engine, "backtest", {})
    sessions.create_session(engine, "live", {})
    assert sessions.counts_by_kind(engine) == {"backtest": 2, "live": 1}
    assert sessions.counts_by_kind(engine, since=datetime.now(timezone.utc) + timedelta(hours=1)) == {}


def test_mark_interrupted_fails_queued_and_running_sessions(engine):
    queued = sessions.create_session(engine, "backtest", {}, status="queued")
    running = sessions.create_session(engine, "backtest", {}, status="running")
    done = sessions.create_session(engine, "backtest", {}, status="succeeded")
    assert sorted(sessions.mark_interrupted(engine, "server restarted")) == sorted([queued.id, running.id])
    assert sessions.get_session(engine, running.id).error == "server restarted"
    assert sessions.get_session(engine, running.id).status == "failed"
    assert sessions.get_session(engine, done.id).status == "succeeded"


def test_append_events_numbers_each_session_continuing_after_stored_ones(engine):
    first = sessions.create_session(engine, "backtest", {})
    second = sessions.create_session(engine, "backtest", {})
    now = datetime.now(timezone.utc)
    events.append_events(engine, [(first.id, "log", now, {"n": 1})])
    stored = events.append_events(
        engine, [(first.id, "log", now, {"n": 2}), (second.id, "log", now, {"n": 1}), (first.id, "log", now, {"n": 3})]
    )
    assert [(e.session_id, e.session_sequence) for e in stored] == [(first.id, 2), (second.id, 1), (first.id, 3)]
    assert [e.sequence for e in stored] == sorted(e.sequence for e in stored)


def test_append_events_applies_session_updates_in_same_batch(engine):
    created = sessions.create_session(engine, "backtest", {})
    now = datetime.now(timezone.utc)
    events.append_events(engine, [(created.id, "progress", now, {"done": 1})], {created.id: {"progress": {"done": 1}}})
    assert sessions.get_session(engine, created.id).progress == {"done": 1}


def test_append_events_returns_exactly_what_is_stored_in_order_across_batches(engine):
    first = sessions.create_session(engine, "backtest", {})
    second = sessions.create_session(engine, "live", {})
    now = datetime.now(timezone.utc)
    appended = []
    for size in (1, 700, 3, 1500):
        batch = [
            (second.id if n % 3 == 0 else first.id, "log", now + timedelta(microseconds=n), {"n": n}) for n in range(size)
        ]
        stored = events.append_events(engine, batch)
        assert [(e.session_id, e.time, e.payload) for e in stored] == [(s, t, p) for s, _, t, p in batch]
        appended += stored
    assert events.events_after_global(engine, 0, limit=10_000) == appended
    sequences = [e.sequence for e in appended]
    assert sequences == sorted(set(sequences))
    for session in (first, second):
        numbers = [e.session_sequence for e in appended if e.session_id == session.id]
        assert numbers == list(range(1, len(numbers) + 1))


def test_append_events_and_plain_inserts_draw_from_one_sequence(engine):
    created = sessions.create_session(engine, "backtest", {})
    now = datetime.now(timezone.utc)
    before = events.append_events(engine, [(created.id, "log", now, {"n": n}) for n in range(3)])
    with engine.begin() as connection:
        plain = connection.scalar(
            sa.insert(Event)
            .values(session_id=created.id, session_sequence=4, kind="log", time=now, payload={})
            .returning(Event.sequence)
        )
    after = events.append_events(engine, [(created.id, "log", now, {"n": 5})])
    assert before[-1].sequence < plain < after[0].sequence
    assert after[0].session_sequence == 5


def test_failed_append_stores_nothing_and_the_next_batch_numbers_on(engine):
    created = sessions.create_session(engine, "backtest", {})
    now = datetime.now(timezone.utc)
    events.append_events(engine, [(created.id, "log", now, {"n": 1})])
    with pytest.raises((sa.exc.IntegrityError, psycopg.errors.IntegrityError)):
        events.append_events(engine, [(created.id, "log", now, {"n": 2}), ("missing", "log", now, {})])
    stored = events.append_events(engine, [(created.id, "log", now, {"n": 2})])
    assert [e.session_sequence for e in events.events_after(engine, created.id)] == [1, 2]
    assert events.latest_sequence(engine) == stored[0].sequence


def test_events_after_cursor_and_global_filters(engine):
    backtest = sessions.create_session(engine, "backtest", {})
    live = sessions.create_session(engine, "live", {})
    now = datetime.now(timezone.utc)
    stored = events.append_events(
        engine, [(backtest.id, "log", now, {}), (live.id, "progress", now, {}), (backtest.id, "status", now, {})]
    )
    assert [e.session_sequence for e in events.events_after(engine, backtest.id, 1)] == [2]
    assert [e.sequence for e in events.events_after_global(engine, stored[0].sequence)] == [
        stored[1].sequence,
        stored[2].sequence,
    ]
    assert [e.session_id for e in events.events_after_global(engine, 0, kinds=["live"])] == [live.id]
    assert [e.kind for e in events.events_after_global(engine, 0, types=["status"])] == ["status"]
    assert events.latest_sequence(engine) == stored[-1].sequence


def test_insert_candles_ignores_existing_timestamps(engine):
    assert candles.insert_candles(engine, "binance", "BTC-USDT", candle_rows(0, 10)) == 10
    assert candles.insert_candles(engine, "binance", "BTC-USDT", candle_rows(5 * 60_000, 10)) == 5


def test_load_candles_returns_inclusive_range_in_order(engine):
    rows = candle_rows(1_600_000_000_000, 100)
    candles.insert_candles(engine, "binance", "BTC-USDT", rows[::-1])
    loaded = candles.load_candles(engine, "binance", "BTC-USDT", int(rows[10, 0]), int(rows[19, 0]))
    assert loaded.dtype == np.float64
    np.testing.assert_array_equal(loaded, rows[10:20])


def test_load_candles_of_unknown_symbol_is_empty(engine):
    assert candles.load_candles(engine, "binance", "NOPE", 0, 10**15).shape == (0, 6)


def test_insert_candles_rejects_wrong_shape(engine):
    with pytest.raises(InvalidArgument):
        candles.insert_candles(engine, "binance", "BTC-USDT", np.zeros((3, 5)))


def test_candle_ranges_report_first_last_and_count(engine):
    candles.insert_candles(engine, "binance", "BTC-USDT", candle_rows(0, 10))
    candles.insert_candles(engine, "bybit", "ETH-USDT", candle_rows(60_000, 3))
    assert candles.candle_ranges(engine) == [
        ("binance", "BTC-USDT", 0, 9 * 60_000, 10),
        ("bybit", "ETH-USDT", 60_000, 3 * 60_000, 3),
    ]


def test_delete_candles_within_range(engine):
    candles.insert_candles(engine, "binance", "BTC-USDT", candle_rows(0, 10))
    assert candles.delete_candles(engine, "binance", "BTC-USDT", 2 * 60_000, 4 * 60_000) == 3
    assert candles.delete_candles(engine, "binance", "BTC-USDT") == 7


def test_purge_candles_by_exchange(engine):
    candles.insert_candles(engine, "binance", "BTC-USDT", candle_rows(0, 4))
    candles.insert_candles(engine, "bybit", "BTC-USDT", candle_rows(0, 2))
    assert candles.purge_candles(engine, "bybit") == 2
    assert candles.purge_candles(engine) == 4


def rows_in_table(engine, exchange, symbol):
    """The 1-minute rows themselves, read the slow way: what the day blocks must always mirror."""
    with engine.connect() as connection:
        stored = connection.exec_driver_sql(
            "SELECT timestamp, open, close, high, low, volume FROM candles "
            f"WHERE exchange = '{exchange}' AND symbol = '{symbol}' ORDER BY timestamp"
        ).all()
    return np.array(stored, dtype=np.float64).reshape(-1, 6)


def test_loaded_candles_keep_stored_values_when_a_reimport_overlaps_across_days(engine):
    day = 86_400_000
    first = candle_rows(day - 5 * 60_000, 10)
    changed = candle_rows(day - 2 * 60_000, 10)
    changed[:, 1:] += 1000
    candles.insert_candles(engine, "binance", "BTC-USDT", first)
    assert candles.insert_candles(engine, "binance", "BTC-USDT", changed) == 3
    loaded = candles.load_candles(engine, "binance", "BTC-USDT", 0, 10 * day)
    np.testing.assert_array_equal(loaded, rows_in_table(engine, "binance", "BTC-USDT"))
    np.testing.assert_array_equal(loaded[:10], first)


def test_loaded_candles_follow_deletes_and_purges_across_days(engine):
    day = 86_400_000
    candles.insert_candles(engine, "binance", "BTC-USDT", candle_rows(day - 60 * 60_000, 180))
    candles.delete_candles(engine, "binance", "BTC-USDT", day - 10 * 60_000, day + 10 * 60_000)
    loaded = candles.load_candles(engine, "binance", "BTC-USDT", 0, 10 * day)
    assert len(loaded) == 180 - 21
    np.testing.assert_array_equal(loaded, rows_in_table(engine, "binance", "BTC-USDT"))
    candles.purge_candles(engine, "binance")
    assert candles.load_candles(engine, "binance", "BTC-USDT", 0, 10 * day).shape == (0, 6)


def test_loaded_candles_mirror_the_rows_after_random_writes(engine):
    random = np.random.default_rng(7)
    for _ in range(20):
        start = int(random.integers(0, 4 * 1440)) * 60_000
        if random.random() < 0.7:
            candles.insert_candles(engine, "binance", "ETH-USDT", candle_rows(start, int(random.integers(1, 2000)))[::-1])
        else:
            candles.delete_candles(engine, "binance", "ETH-USDT", start, start + int(random.integers(0, 3000)) * 60_000)
        loaded = candles.load_candles(engine, "binance", "ETH-USDT", 0, 10 * 86_400_000)
        np.testing.assert_array_equal(loaded, rows_in_table(engine, "binance", "ETH-USDT"))
