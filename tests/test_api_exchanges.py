"""ExchangeService end to end: the exchange catalogue, symbols from the (fake) exchange, and the API-key vault."""

from __future__ import annotations

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf import json_format

from candlewire_client.v1 import common_pb2, exchange_pb2
from conftest import make_server
from e2e_data_helpers import fresh_database_url, rest_violations, rpc_fails
from server_process import PASSWORD

SECRET = "s3cr3t-Abcdefghijklmnopqrstuvwxyz-0123456789"
KEY = "AKIAkeyMaterial-1234567890"
PASSPHRASE = "pass-phrase-98765"


def api_key(name: str, exchange: str = "binance-spot", key: str = KEY, secret: str = SECRET, **fields) -> exchange_pb2.ApiKey:
    return exchange_pb2.ApiKey(name=name, exchange=exchange, api_key=key, api_secret=secret, **fields)


def create(client, message: exchange_pb2.ApiKey) -> exchange_pb2.ApiKey:
    return client.exchanges.CreateApiKey(exchange_pb2.CreateApiKeyRequest(api_key=message))


def stored_names(client) -> set[str]:
    return {key.name for key in client.exchanges.ListApiKeys(exchange_pb2.ListApiKeysRequest()).api_keys}


# --- catalogue -----------------------------------------------------------------------------------


def test_list_exchanges_over_grpc_and_rest_agree(client, rest):
    over_grpc = client.exchanges.ListExchanges(exchange_pb2.ListExchangesRequest())
    response = rest.get("/v1/exchanges")

    assert response.status_code == 200
    over_rest = json_format.ParseDict(response.json(), exchange_pb2.ListExchangesResponse())
    assert over_rest == over_grpc
    by_id = {exchange.id: exchange for exchange in over_grpc.exchanges}
    assert {"binance-spot", "binance-perpetual-futures"} <= set(by_id)
    spot = by_id["binance-spot"]
    assert spot.name == "Binance Spot"
    assert spot.type == common_pb2.EXCHANGE_TYPE_SPOT
    assert spot.supports_import and "1m" in spot.timeframes
    assert by_id["binance-perpetual-futures"].type == common_pb2.EXCHANGE_TYPE_FUTURES


def test_list_symbols_lists_the_exchanges_active_markets_as_base_dash_quote(client, rest):
    symbols = client.exchanges.ListSymbols(exchange_pb2.ListSymbolsRequest(exchange="binance-spot")).symbols

    # The fake lists BTC/USDT, ETH/USDT, ETH/BTC and LUNA/USDT, the last one not trading.
    assert list(symbols) == ["BTC-USDT", "ETH-BTC", "ETH-USDT"]
    assert rest.get("/v1/exchanges/binance-spot/symbols").json() == {"symbols": list(symbols)}


def test_list_symbols_of_unknown_exchange_is_not_found(client, rest):
    with rpc_fails(grpc.StatusCode.NOT_FOUND) as failure:
        client.exchanges.ListSymbols(exchange_pb2.ListSymbolsRequest(exchange="nope-spot"))
    assert "nope-spot" in failure["details"]

    response = rest.get("/v1/exchanges/nope-spot/symbols")
    assert response.status_code == 404
    assert response.json()["code"] == grpc.StatusCode.NOT_FOUND.value[0]


# --- API keys ------------------------------------------------------------------------------------


def test_create_api_key_returns_it_masked(client):
    created = create(client, api_key("create_masked", passphrase=PASSPHRASE, extra={"sub_account": "bot1"}))

    assert len(created.id) == 32
    assert created.name == "create_masked" and created.exchange == "binance-spot"
    assert created.create_time.seconds > 0
    assert created.extra == {"sub_account": "bot1"}
    for plaintext, masked in ((KEY, created.api_key), (SECRET, created.api_secret), (PASSPHRASE, created.passphrase)):
        assert masked and masked != plaintext
        assert plaintext not in masked
        # Enough to recognise the key: its first and last four characters.
        assert masked.startswith(plaintext[:4]) and masked.endswith(plaintext[-4:])


def test_masked_api_key_uses_the_form_documented_in_the_proto(client):
    created = create(client, api_key("documented_mask", key="abcdefghijklmnopwxyz", secret="shortsec"))

    assert created.api_key == "abcd…wxyz"
    assert created.api_secret == "………"


def test_list_api_keys_never_shows_a_plaintext_secret(client, rest):
    create(client, api_key("list_masked", passphrase=PASSPHRASE))

    listed = client.exchanges.ListApiKeys(exchange_pb2.ListApiKeysRequest())
    raw_rest = rest.get("/v1/apiKeys").text

    assert "list_masked" in {key.name for key in listed.api_keys}
    for plaintext in (SECRET, KEY, PASSPHRASE):
        assert plaintext not in str(listed)
        assert plaintext not in listed.SerializeToString().decode("utf-8", "replace")
        assert plaintext not in raw_rest


def test_api_key_secrets_are_encrypted_at_rest(client, server):
    created = create(client, api_key("at_rest", passphrase=PASSPHRASE))

    engine = sa.create_engine(server.database_url)
    try:
        with engine.connect() as connection:
            row = connection.execute(sa.text("SELECT * FROM api_keys WHERE id = :id"), {"id": created.id}).mappings().one()
    finally:
        engine.dispose()
    raw = b"".join(value if isinstance(value, (bytes, memoryview)) else str(value).encode() for value in row.values())
    assert row["name"] == "at_rest"
    for plaintext in (SECRET, KEY, PASSPHRASE):
        assert plaintext.encode() not in raw


def test_export_api_keys_with_the_password_returns_plaintext(client, rest):
    create(client, api_key("export_me", passphrase=PASSPHRASE, extra={"sub_account": "bot1"}))

    exported = client.exchanges.ExportApiKeys(exchange_pb2.ExportApiKeysRequest(password=PASSWORD))
    over_rest = rest.post("/v1/apiKeys:export", json={"password": PASSWORD})

    key = next(key for key in exported.api_keys if key.name == "export_me")
    assert (key.api_key, key.api_secret, key.passphrase) == (KEY, SECRET, PASSPHRASE)
    assert key.extra == {"sub_account": "bot1"}
    assert over_rest.status_code == 200
    assert SECRET in over_rest.text


def test_export_api_keys_with_a_wrong_password_is_permission_denied(client, rest):
    create(client, api_key("export_guarded"))

    with rpc_fails(grpc.StatusCode.PERMISSION_DENIED):
        client.exchanges.ExportApiKeys(exchange_pb2.ExportApiKeysRequest(password="not the password"))
    response = rest.post("/v1/apiKeys:export", json={"password": "not the password"})

    assert response.status_code == 403
    assert SECRET not in response.text


def test_import_api_keys_roundtrips_an_export_into_a_fresh_server(client, server, tmp_path_factory, fake_exchange, fake_webhooks):
    create(client, api_key("roundtrip_a", passphrase=PASSPHRASE))
    create(client, api_key("roundtrip_b", exchange="binance-perpetual-futures", key="other-key-0000000", secret="other-secret-111111"))
    exported = client.exchanges.ExportApiKeys(exchange_pb2.ExportApiKeysRequest(password=PASSWORD)).api_keys
    wanted = [key for key in exported if key.name.startswith("roundtrip_")]

    with fresh_database_url(server.database_url, tmp_path_factory) as url:
        other = make_server(tmp_path_factory, url, fake_exchange, fake_webhooks).start()
        try:
            with other.client() as fresh:
                imported = fresh.exchanges.ImportApiKeys(exchange_pb2.ImportApiKeysRequest(password=PASSWORD, api_keys=wanted))
                again = fresh.exchanges.ExportApiKeys(exchange_pb2.ExportApiKeysRequest(password=PASSWORD)).api_keys
        finally:
            other.stop()

    assert imported.imported_count == 2
    plain = lambda keys: {(k.name, k.exchange, k.api_key, k.api_secret, k.passphrase) for k in keys}  # noqa: E731
    assert plain(again) == plain(wanted)
    assert {k.id for k in again}.isdisjoint({k.id for k in wanted})


def test_import_api_keys_with_a_wrong_password_is_permission_denied_and_stores_nothing(client):
    with rpc_fails(grpc.StatusCode.PERMISSION_DENIED):
        client.exchanges.ImportApiKeys(
            exchange_pb2.ImportApiKeysRequest(password="not the password", api_keys=[api_key("import_guarded")])
        )
    assert "import_guarded" not in stored_names(client)


@pytest.mark.parametrize(
    ("fields", "violated"),
    [
        ({"name": ""}, "api_key.name"),
        ({"name": "../x"}, "api_key.name"),
        ({"name": "bad_exchange", "exchange": "nope-spot"}, "api_key.exchange"),
        ({"name": "empty_secret", "secret": ""}, "api_key.api_secret"),
        ({"name": "empty_key", "key": "  "}, "api_key.api_key"),
    ],
)
def test_create_api_key_with_bad_input_is_invalid_argument_and_stores_nothing(client, fields, violated):
    before = stored_names(client)

    with rpc_fails(grpc.StatusCode.INVALID_ARGUMENT) as failure:
        create(client, api_key(**fields))

    assert violated in failure["violations"]
    assert stored_names(client) == before


def test_create_api_key_with_bad_input_over_rest_is_400_with_field_violations(rest):
    response = rest.post("/v1/apiKeys", json={"name": "../x", "exchange": "binance-spot", "apiKey": KEY, "apiSecret": ""})

    assert response.status_code == 400
    assert set(rest_violations(response)) == {"api_key.name", "api_key.api_secret"}


def test_create_api_key_with_a_taken_name_is_already_exists(client, rest):
    create(client, api_key("taken"))

    with rpc_fails(grpc.StatusCode.ALREADY_EXISTS):
        create(client, api_key("taken", key="different-key-000000"))
    response = rest.post("/v1/apiKeys", json={"name": "taken", "exchange": "binance-spot", "apiKey": KEY, "apiSecret": SECRET})

    assert response.status_code == 409
    assert sum(1 for key in client.exchanges.ListApiKeys(exchange_pb2.ListApiKeysRequest()).api_keys if key.name == "taken") == 1


def test_delete_api_key_removes_it(client, rest):
    first = create(client, api_key("delete_grpc"))
    second = create(client, api_key("delete_rest"))

    client.exchanges.DeleteApiKey(exchange_pb2.DeleteApiKeyRequest(id=first.id))
    response = rest.delete(f"/v1/apiKeys/{second.id}")

    assert response.status_code == 200
    assert not {"delete_grpc", "delete_rest"} & stored_names(client)


def test_delete_unknown_api_key_is_not_found(client, rest):
    with rpc_fails(grpc.StatusCode.NOT_FOUND):
        client.exchanges.DeleteApiKey(exchange_pb2.DeleteApiKeyRequest(id="0" * 32))
    assert rest.delete(f"/v1/apiKeys/{'0' * 32}").status_code == 404


def test_list_symbols_of_a_futures_exchange_lists_its_trading_perpetuals(client):
    symbols = client.exchanges.ListSymbols(exchange_pb2.ListSymbolsRequest(exchange="binance-perpetual-futures")).symbols

    # The fake's futures markets: BTC/USDT and SOL/USDT trading, XRP/USDT settling.
    assert list(symbols) == ["BTC-USDT", "SOL-USDT"]


def test_import_api_keys_with_bad_records_names_the_record_and_stores_nothing(client):
    with rpc_fails(grpc.StatusCode.INVALID_ARGUMENT) as failure:
        client.exchanges.ImportApiKeys(
            exchange_pb2.ImportApiKeysRequest(password=PASSWORD, api_keys=[api_key("import_fine"), api_key("../bad")])
        )

    assert "api_keys[1].name" in failure["violations"]
    assert "import_fine" not in stored_names(client)


def test_import_api_keys_skips_names_that_already_exist(client):
    create(client, api_key("import_existing"))

    imported = client.exchanges.ImportApiKeys(
        exchange_pb2.ImportApiKeysRequest(password=PASSWORD, api_keys=[api_key("import_existing"), api_key("import_new")])
    )

    assert imported.imported_count == 1
    assert {"import_existing", "import_new"} <= stored_names(client)
