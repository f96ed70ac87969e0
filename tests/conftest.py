"""Fixtures that start real servers: every end-to-end test runs against SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_exchange import FakeBinance  # noqa: E402
from fake_webhooks import FakeWebhooks  # noqa: E402
from pg import throwaway_postgres_url  # noqa: E402
from server_process import ServerProcess  # noqa: E402

# Candles of the fake exchange start here (2024-01-01 00:00 UTC).
FAKE_EXCHANGE_START_MS = 1_704_067_200_000


@pytest.fixture(scope="session")
def fake_exchange():
    with FakeBinance(first_candle_ms=FAKE_EXCHANGE_START_MS, gaps=[(FAKE_EXCHANGE_START_MS + 600 * 60_000, FAKE_EXCHANGE_START_MS + 610 * 60_000)]) as url:
        yield url


@pytest.fixture(scope="session")
def fake_webhooks():
    with FakeWebhooks() as hooks:
        yield hooks


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'candlewire.db'}"
    else:
        with throwaway_postgres_url() as url:
            yield url


def make_server(tmp_path_factory, database_url, fake_exchange, fake_webhooks, **env) -> ServerProcess:
    return ServerProcess(
        data_dir=tmp_path_factory.mktemp("data"),
        database_url=database_url,
        env={
            "CANDLEWIRE_EXCHANGE_API_URLS": json.dumps(
                {"binance-spot": fake_exchange, "binance-perpetual-futures": fake_exchange}
            ),
            "CANDLEWIRE_TELEGRAM_API_URL": fake_webhooks.base_url,
            "CANDLEWIRE_MAX_JOBS": "2",
            **env,
        },
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory, database_url, fake_exchange, fake_webhooks):
    process = make_server(tmp_path_factory, database_url, fake_exchange, fake_webhooks).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def client(server):
    with server.client() as connected:
        yield connected


@pytest.fixture(scope="module")
def token(server):
    return server.login_token()


@pytest.fixture(scope="module")
def rest(server, token):
    with server.rest(token) as http:
        yield http
