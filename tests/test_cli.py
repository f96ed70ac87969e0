"""The `candlewire` command end to end: `python -m candlewire ...` subprocesses against a real server."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from google.protobuf import json_format

from candlewire_client import Client
from candlewire_client.v1 import candles_pb2, config_pb2, system_pb2
from e2e_data_helpers import FAKE_GAP_MINUTES, rpc_fails
from server_process import PASSWORD, REPO


class Cli:
    """Runs the command with its own config directory (where `login` keeps tokens)."""

    def __init__(self, server, config_home: Path):
        self.server = server
        self.config_home = config_home

    @property
    def token_file(self) -> Path:
        return self.config_home / "candlewire" / "tokens.json"

    def __call__(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        env = {key: value for key, value in os.environ.items() if not key.startswith("CANDLEWIRE_")}
        env.update(
            PYTHONPATH=os.pathsep.join([str(REPO / "server"), str(REPO / "clients" / "python")]),
            XDG_CONFIG_HOME=str(self.config_home),
            CANDLEWIRE_SERVER=self.server.grpc_target,
            # Wide enough that rich never wraps a line.
            COLUMNS="300",
        )
        return subprocess.run(
            [sys.executable, "-m", "candlewire", *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout
        )

    def stored_token(self) -> str | None:
        if not self.token_file.exists():
            return None
        return json.loads(self.token_file.read_text()).get(self.server.grpc_target)


def succeeded(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def logged_in(server, tmp_path_factory) -> Cli:
    """A CLI that ran `login` once for the whole module."""
    cli = Cli(server, tmp_path_factory.mktemp("xdg"))
    succeeded(cli("login", "--password", PASSWORD))
    return cli


@pytest.fixture
def fresh_cli(server, tmp_path) -> Cli:
    return Cli(server, tmp_path / "xdg")


def test_login_stores_a_private_token_that_the_server_accepts(fresh_cli, server):
    result = succeeded(fresh_cli("login", "--password", PASSWORD))

    assert server.grpc_target in result.stdout
    token = fresh_cli.stored_token()
    assert token
    assert stat.S_IMODE(fresh_cli.token_file.stat().st_mode) == 0o600
    with Client(server.grpc_target, token=token) as client:
        assert client.system.GetInfo(system_pb2.GetInfoRequest()).version


def test_login_with_a_wrong_password_fails_and_stores_nothing(fresh_cli):
    result = fresh_cli("login", "--password", "not the password")

    assert result.returncode != 0
    assert "UNAUTHENTICATED" in result.stderr
    assert fresh_cli.stored_token() is None


def test_info_prints_the_server_version(logged_in, client):
    info = client.system.GetInfo(system_pb2.GetInfoRequest())

    result = succeeded(logged_in("info"))

    assert "version" in result.stdout and info.version in result.stdout
    assert "binance-spot" in result.stdout


def test_config_get_prints_the_config_as_json(logged_in, client):
    result = succeeded(logged_in("config", "get"))

    printed = json.loads(result.stdout)
    current = json_format.MessageToDict(client.config.GetConfig(config_pb2.GetConfigRequest()), preserving_proto_field_name=True)
    assert printed == current
    assert "warm_up_candles" in printed["backtest"]


def test_config_set_changes_the_field_on_the_server(logged_in, client):
    result = succeeded(logged_in("config", "set", "backtest.warm_up_candles", "300"))

    assert client.config.GetConfig(config_pb2.GetConfigRequest()).backtest.warm_up_candles == 300
    assert json.loads(result.stdout)["backtest"]["warm_up_candles"] == 300


def test_config_set_with_a_bad_value_exits_non_zero_naming_the_field(logged_in, client):
    before = client.config.GetConfig(config_pb2.GetConfigRequest()).backtest.warm_up_candles

    result = logged_in("config", "set", "backtest.warm_up_candles", "-5")

    assert result.returncode != 0
    assert "INVALID_ARGUMENT" in result.stderr
    assert "config.backtest.warm_up_candles" in result.stderr  # the path in UpdateConfigRequest
    assert client.config.GetConfig(config_pb2.GetConfigRequest()).backtest.warm_up_candles == before


def test_candles_import_stores_the_candles(logged_in, client):
    result = succeeded(
        logged_in("candles", "import", "--exchange", "binance-spot", "--symbol", "ETH-USDT",
                  "--start", "2024-01-01", "--end", "2024-01-02")
    )

    (stored,) = client.candles.ListCandleRanges(candles_pb2.ListCandleRangesRequest(exchange="binance-spot", symbol="ETH-USDT")).ranges
    assert stored.count == 24 * 60 - FAKE_GAP_MINUTES
    assert "ETH-USDT" in result.stdout


def test_candles_import_with_a_bad_symbol_exits_non_zero_naming_the_field(logged_in):
    result = logged_in("candles", "import", "--exchange", "binance-spot", "--symbol", "eth-usdt",
                       "--start", "2024-01-01", "--end", "2024-01-02")

    assert result.returncode != 0
    assert "params.symbol" in result.stderr


def test_logout_revokes_the_token_and_forgets_it(fresh_cli, server):
    succeeded(fresh_cli("login", "--password", PASSWORD))
    token = fresh_cli.stored_token()

    result = succeeded(fresh_cli("logout"))

    assert server.grpc_target in result.stdout
    assert fresh_cli.stored_token() is None
    with Client(server.grpc_target, token=token) as revoked, rpc_fails(grpc.StatusCode.UNAUTHENTICATED):
        revoked.system.GetInfo(system_pb2.GetInfoRequest())


def test_info_without_login_fails_with_a_clear_message(fresh_cli, server):
    result = fresh_cli("info")

    assert result.returncode != 0
    assert "not logged in" in result.stderr and "candlewire login" in result.stderr
    assert server.grpc_target in result.stderr
